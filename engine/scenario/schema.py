"""Scenario files: reading TOML, validating every field, and writing TOML back.

A scenario is a plain nested dict (what ``tomllib`` gives).  :func:`validate` checks
every field once and returns a *normalised* copy with every default filled in, so a
validated scenario is complete, JSON-able and can be printed back as TOML
(:func:`to_toml`) to start a new file from.  Errors are :class:`ScenarioError`
naming the file, the field (``accounts[1].leverage.high``) and what was expected.

Layout (see ``firesale scenarios show margin-crash`` for a full example)::

    name = "..."            description = "..."      seed = 2015     scale = 1.0
    [book]        kind = "humped" (price, bid_levels, ask_levels, depth_per_tick)
                  or "recorded" (name, band_fraction)
    [[accounts]]  kind = "margin" | "perp" | "swap" | "knock_in", count, ... and a [accounts.rule]
    [[providers]] background market makers (engine.LiquidityProvider fields)
    [session]     mark ("last" | "bid" | "mid"), limit (a fraction such as 0.10, or "none"),
                  sessions, queued ("resubmit" | "keep")
    [shock]       kind = "sell" (qty or depth_fraction + within) or "gap" (price or drop)
    [report]      distances (ticks below the start price for depth exhaustion)

Distributions are inline tables: ``{dist = "fixed", value = 5}``,
``{dist = "uniform", low = 4, high = 5}``, ``{dist = "lognormal", median = 50, sigma = 1}``,
``{dist = "choice", values = [5, 10, 20], weights = [0.5, 0.3, 0.2]}``, each with optional
``min`` / ``max`` clips.
"""
from __future__ import annotations

import copy
import json
import math
import tomllib
from pathlib import Path

__all__ = ["ScenarioError", "load", "loads", "validate", "to_toml", "set_field", "parse_value",
           "DISTRIBUTIONS", "ACCOUNT_KINDS"]

DISTRIBUTIONS = ("fixed", "uniform", "lognormal", "choice")
ACCOUNT_KINDS = ("margin", "perp", "swap", "knock_in")
BOOK_KINDS = ("humped", "recorded")


class ScenarioError(ValueError):
    """A scenario field is missing, of the wrong type or out of range.

    Attributes
    ----------
    source : str
        The file (or ``<preset NAME>``, ``<dict>``) the scenario came from.
    field : str
        Dotted path of the field, for example ``accounts[0].leverage.high``.
    expected : str
        What the field must be.
    """

    def __init__(self, source, field, expected, got=None, has_value=True):
        self.source, self.field, self.expected = source, field, expected
        message = f"{source}: {field}: expected {expected}"
        if has_value:
            message += f", got {got!r}"
        super().__init__(message)


_MISSING = object()


class _Checker:
    """Field readers that raise ScenarioError naming the source and path."""

    def __init__(self, source):
        self.source = source

    def fail(self, path, expected, got=_MISSING):
        raise ScenarioError(self.source, path, expected, None if got is _MISSING else got,
                            has_value=got is not _MISSING)

    def table(self, value, path):
        if not isinstance(value, dict):
            self.fail(path, "a table", value)
        return value

    def known(self, table, path, allowed):
        for key in table:
            if key not in allowed:
                self.fail(f"{path}.{key}" if path else key,
                          f"no such field (known here: {', '.join(sorted(allowed))})", table[key])

    def get(self, table, key, path, default=_MISSING):
        full = f"{path}.{key}" if path else key
        if key not in table:
            if default is _MISSING:
                self.fail(full, "a value (the field is required)")
            return full, default
        return full, table[key]

    def integer(self, table, key, path, default=_MISSING, minimum=None, maximum=None):
        full, value = self.get(table, key, path, default)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(full, "an integer" + _range(minimum, maximum), value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.fail(full, "an integer" + _range(minimum, maximum), value)
        return value

    def number(self, table, key, path, default=_MISSING, minimum=None, maximum=None,
               above=None, below=None):
        full, value = self.get(table, key, path, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(full, "a finite number" + _range(minimum, maximum, above, below), value)
        if ((minimum is not None and value < minimum) or (maximum is not None and value > maximum)
                or (above is not None and value <= above) or (below is not None and value >= below)):
            self.fail(full, "a number" + _range(minimum, maximum, above, below), value)
        return float(value)

    def choice(self, table, key, path, choices, default=_MISSING):
        full, value = self.get(table, key, path, default)
        if value not in choices:
            self.fail(full, "one of " + ", ".join(repr(c) for c in choices), value)
        return value

    def string(self, table, key, path, default=_MISSING):
        full, value = self.get(table, key, path, default)
        if not isinstance(value, str):
            self.fail(full, "a string", value)
        return value


def _range(minimum=None, maximum=None, above=None, below=None):
    parts = []
    if minimum is not None:
        parts.append(f">= {minimum}")
    if above is not None:
        parts.append(f"> {above}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    if below is not None:
        parts.append(f"< {below}")
    return (" " + " and ".join(parts)) if parts else ""


# ---------------------------------------------------------------- distributions

def _distribution(c, value, path, positive=False, minimum=None):
    """A validated distribution table (normalised)."""
    table = c.table(value, path)
    dist = c.choice(table, "dist", path, DISTRIBUTIONS)
    lower = 0.0 if positive else minimum
    out = {"dist": dist}
    if dist == "fixed":
        c.known(table, path, {"dist", "value"})
        out["value"] = c.number(table, "value", path, minimum=lower, above=0 if positive else None)
        return out
    if dist == "uniform":
        c.known(table, path, {"dist", "low", "high", "min", "max"})
        out["low"] = c.number(table, "low", path, minimum=lower)
        out["high"] = c.number(table, "high", path, minimum=out["low"])
    elif dist == "lognormal":
        c.known(table, path, {"dist", "median", "sigma", "min", "max"})
        out["median"] = c.number(table, "median", path, above=0)
        out["sigma"] = c.number(table, "sigma", path, minimum=0)
    else:
        c.known(table, path, {"dist", "values", "weights", "min", "max"})
        _, values = c.get(table, "values", path)
        if not isinstance(values, list) or not values or any(
                isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                or (lower is not None and v < lower) for v in values):
            c.fail(f"{path}.values", "a non-empty list of finite numbers"
                   + (f" >= {lower}" if lower is not None else ""), values)
        out["values"] = [float(v) for v in values]
        _, weights = c.get(table, "weights", path, None)
        if weights is not None:
            if (not isinstance(weights, list) or len(weights) != len(values)
                    or any(isinstance(w, bool) or not isinstance(w, (int, float))
                           or not math.isfinite(w) or w < 0 for w in weights)
                    or sum(weights) <= 0):
                c.fail(f"{path}.weights", f"a list of {len(values)} non-negative numbers with a "
                       "positive sum", weights)
            out["weights"] = [float(w) for w in weights]
    for bound in ("min", "max"):
        if bound in table:
            out[bound] = c.number(table, bound, path, minimum=lower)
    if "min" in out and "max" in out and out["max"] < out["min"]:
        c.fail(f"{path}.max", f"a number >= min ({out['min']})", out["max"])
    return out


# ---------------------------------------------------------------- sections

def _book(c, raw):
    path = "book"
    table = c.table(raw, path)
    kind = c.choice(table, "kind", path, BOOK_KINDS, "humped")
    if kind == "humped":
        c.known(table, path, {"kind", "price", "bid_levels", "ask_levels", "depth_per_tick",
                              "tick_value", "lot_size"})
        return {
            "kind": kind,
            "price": c.integer(table, "price", path, 10_000, minimum=10, maximum=10**12),
            "bid_levels": c.integer(table, "bid_levels", path, 6_000, minimum=1, maximum=10**6),
            "ask_levels": c.integer(table, "ask_levels", path, 600, minimum=1, maximum=10**6),
            "depth_per_tick": c.number(table, "depth_per_tick", path, 60.0, above=0),
            "tick_value": c.number(table, "tick_value", path, 0.01, above=0),
            "lot_size": c.number(table, "lot_size", path, 1.0, above=0),
        }
    c.known(table, path, {"kind", "name", "band_fraction"})
    from engine.io.seed import RECORDED_BOOKS

    out = {"kind": kind,
           "name": c.choice(table, "name", path, tuple(RECORDED_BOOKS)),
           "band_fraction": c.number(table, "band_fraction", path, 0.5, above=0, below=1)}
    if out["band_fraction"] >= 1:
        c.fail(f"{path}.band_fraction", "a fraction in (0, 1)", out["band_fraction"])
    return out


_MARGIN_RULE_FIELDS = {"preset", "force", "call", "restore", "warning", "withdraw", "grace",
                       "policy", "style", "ioc_offset", "chunk", "cooldown", "maintenance", "house"}


def _margin_rule(c, raw, path):
    table = c.table(raw, path)
    c.known(table, path, _MARGIN_RULE_FIELDS)
    preset = c.choice(table, "preset", path, ("a_share", "reg_t", "custom"), "a_share")
    out = {"preset": preset}
    if preset == "reg_t":
        out["maintenance"] = c.number(table, "maintenance", path, 0.25, minimum=0, below=1)
        out["house"] = c.number(table, "house", path, 0.30, above=out["maintenance"], below=1)
    elif "maintenance" in table or "house" in table:
        c.fail(f"{path}.maintenance", "no maintenance/house (only for preset = 'reg_t')",
               table.get("maintenance", table.get("house")))
    for name in ("force", "call", "restore", "warning", "withdraw"):
        if name in table:
            if table[name] == "none" and name in ("call", "warning", "withdraw"):
                out[name] = "none"
            else:
                out[name] = c.number(table, name, path, above=0)
    for name in ("grace", "ioc_offset", "chunk", "cooldown"):
        if name in table:
            out[name] = c.integer(table, name, path, minimum=0)
    if "policy" in table:
        out["policy"] = c.choice(table, "policy", path, ("restore", "all"))
    if "style" in table:
        out["style"] = c.choice(table, "style", path, ("market", "ioc", "floor"))
    if preset == "custom" and "force" not in table:
        c.fail(f"{path}.force", "a force line (preset = 'custom' has no defaults)")
    try:
        margin_rule(out)
    except (TypeError, ValueError) as error:
        raise ScenarioError(c.source, path, f"a valid margin rule ({error})", table) from None
    return out


def margin_rule(rule):
    """The ``engine.MarginRule`` of a validated ``[accounts.rule]`` table.

    Parameters
    ----------
    rule : dict
        ``preset`` (``a_share``, ``reg_t`` or ``custom``) and overrides of its lines
        (under ``reg_t`` the lines are fractions of market value, on the equity basis:
        ``force`` is the maintenance requirement, ``restore`` the house requirement).

    Returns
    -------
    engine.accounts.MarginRule
    """
    from engine.accounts import MarginRule

    overrides = {k: (None if v == "none" else v) for k, v in rule.items()
                 if k not in ("preset", "maintenance", "house")}
    if rule["preset"] == "a_share":
        return MarginRule.a_share(**overrides)
    if rule["preset"] == "reg_t":
        return MarginRule.reg_t(maintenance=rule["maintenance"], house=rule["house"], **overrides)
    return MarginRule(**overrides)


def _perp_rule(c, raw, path):
    table = c.table(raw, path)
    c.known(table, path, {"tiers", "policy", "restore", "style", "chunk", "cooldown"})
    _, tiers = c.get(table, "tiers", path, "binance")
    if tiers != "binance":
        ok = isinstance(tiers, list) and tiers and all(
            isinstance(t, list) and len(t) == 2
            and all(not isinstance(x, bool) and isinstance(x, (int, float)) for x in t)
            and not math.isnan(t[0]) and 0 <= t[1] < 1 for t in tiers)
        if not ok or any(b[0] <= a[0] for a, b in zip(tiers, tiers[1:])):
            c.fail(f"{path}.tiers", "'binance' or a list of [notional cap in quote currency, "
                   "maintenance rate in [0, 1)] with caps increasing (the last may be inf)", tiers)
        tiers = [[float(cap), float(rate)] for cap, rate in tiers]
    out = {"tiers": tiers,
           "policy": c.choice(table, "policy", path, ("all", "restore"), "all"),
           "restore": c.number(table, "restore", path, 0.0, minimum=0, below=1),
           "style": c.choice(table, "style", path, ("ioc", "market", "floor"), "ioc"),
           "chunk": c.integer(table, "chunk", path, 0, minimum=0),
           "cooldown": c.integer(table, "cooldown", path, 0, minimum=0)}
    try:
        perp_rule(out, currency_per_tick_lot=1.0)
    except (TypeError, ValueError) as error:
        raise ScenarioError(c.source, path, f"a valid perpetual rule ({error})", table) from None
    return out


def perp_rule(rule, currency_per_tick_lot):
    """The ``engine.PerpRule`` of a validated perp rule table.

    Parameters
    ----------
    rule : dict
        ``tiers`` (``"binance"`` or ``[[cap, rate], ...]`` with caps in quote currency),
        ``policy``, ``restore``, ``style``, ``chunk``, ``cooldown``.
    currency_per_tick_lot : float
        Tick value x lot size: converts the caps to the ledger's tick-lots.

    Returns
    -------
    engine.accounts.PerpRule
    """
    from engine.accounts import BINANCE_LIKE_TIERS, PerpRule

    tiers = BINANCE_LIKE_TIERS if rule["tiers"] == "binance" else rule["tiers"]
    tiers = tuple((cap / currency_per_tick_lot, rate) for cap, rate in tiers)
    return PerpRule(tiers=tiers, policy=rule["policy"], restore=rule["restore"],
                    style=rule["style"], chunk=rule["chunk"], cooldown=rule["cooldown"])


def _swap_rule(c, raw, path, knock_in=False):
    table = c.table(raw, path)
    c.known(table, path, {"style", "ioc_offset"} if knock_in
            else {"stop", "close", "style", "ioc_offset"})
    out = {}
    if not knock_in:
        out["stop"] = c.number(table, "stop", path, 0.80, minimum=0, below=1)
        out["close"] = c.number(table, "close", path, 1.0, above=0, maximum=1)
    out["style"] = c.choice(table, "style", path, ("market", "ioc", "floor"), "market")
    out["ioc_offset"] = c.integer(table, "ioc_offset", path, 0, minimum=0)
    return out


_GROUP_FIELDS = {
    "margin": {"kind", "label", "count", "median_ratio", "ratio_sigma", "min_ratio",
               "position_lots", "rule"},
    "perp": {"kind", "label", "count", "size", "leverage", "entry", "rule"},
    "swap": {"kind", "label", "count", "shares", "leverage", "entry", "rule"},
    "knock_in": {"kind", "label", "count", "hedge", "reference", "barrier", "dump", "rule"},
}


def _group(c, raw, path):
    table = c.table(raw, path)
    kind = c.choice(table, "kind", path, ACCOUNT_KINDS)
    c.known(table, path, _GROUP_FIELDS[kind])
    out = {"kind": kind, "label": c.string(table, "label", path, kind),
           "count": c.integer(table, "count", path, minimum=0, maximum=50_000_000)}
    rule_path = f"{path}.rule"
    if kind == "margin":
        out["median_ratio"] = c.number(table, "median_ratio", path, 2.8, above=1)
        out["ratio_sigma"] = c.number(table, "ratio_sigma", path, 0.40, minimum=0)
        out["min_ratio"] = c.number(table, "min_ratio", path, 1.15, above=1)
        out["position_lots"] = c.number(table, "position_lots", path, 40.0, above=0)
        out["rule"] = _margin_rule(c, table.get("rule", {}), rule_path)
    elif kind in ("perp", "swap"):
        # Perps are sized in contracts, swaps in shares; both carry leverage and an entry.
        size = "size" if kind == "perp" else "shares"
        out[size] = _distribution(c, _req(c, table, size, path), f"{path}.{size}", positive=True)
        out["leverage"] = _distribution(c, _req(c, table, "leverage", path), f"{path}.leverage",
                                        positive=True)
        _check_floor(c, out["leverage"], f"{path}.leverage", 1.0)
        out["entry"] = _distribution(c, table.get("entry", {"dist": "fixed", "value": 0.0}),
                                     f"{path}.entry", minimum=-0.99)
        rule = _perp_rule if kind == "perp" else _swap_rule
        out["rule"] = rule(c, table.get("rule", {}), rule_path)
    else:
        out["hedge"] = _distribution(c, _req(c, table, "hedge", path), f"{path}.hedge",
                                     positive=True)
        out["reference"] = _distribution(c, table.get("reference", {"dist": "fixed", "value": 0.0}),
                                         f"{path}.reference", minimum=-0.99)
        out["barrier"] = c.number(table, "barrier", path, 0.80, above=0, below=1)
        out["dump"] = c.number(table, "dump", path, 1.0, above=0, maximum=1)
        out["rule"] = _swap_rule(c, table.get("rule", {}), rule_path, knock_in=True)
    return out


def _req(c, table, key, path):
    return c.get(table, key, path)[1]


def _check_floor(c, dist, path, floor):
    """Leverage below 1 is not leverage: check the distribution's smallest possible value."""
    if dist["dist"] == "fixed":
        low, where = dist["value"], "value"
    elif dist["dist"] == "uniform":
        low, where = dist.get("min", dist["low"]), "low"
        low = max(low, dist["low"])
    elif dist["dist"] == "choice":
        low, where = min(dist["values"]), "values"
        low = max(low, dist.get("min", low))
    else:
        low, where = dist.get("min"), "min"
        if low is None:
            c.fail(f"{path}.min", f"a lower clip >= {floor} (a lognormal can fall below it)")
    if dist.get("max") is not None and dist["max"] < low:      # an upper clip below the rest
        low, where = dist["max"], "max"
    if low < floor:
        c.fail(f"{path}.{where}", f"values >= {floor}", dist.get(where))


_PROVIDER_INT = ("size", "levels", "spacing", "every", "gap_ticks", "drop_ticks", "window", "pause")


def _provider(c, raw, path):
    table = c.table(raw, path)
    c.known(table, path, set(_PROVIDER_INT) | {"decay", "drop_fraction"})
    out = {"size": c.integer(table, "size", path, minimum=1)}
    defaults = {"levels": 5, "spacing": 1, "every": 10, "gap_ticks": 0, "drop_ticks": 0,
                "window": 50, "pause": 100}
    if "drop_fraction" in table:
        if "drop_ticks" in table:
            c.fail(f"{path}.drop_fraction", "either drop_ticks or drop_fraction, not both",
                   table["drop_fraction"])
        del defaults["drop_ticks"]
    for name, default in defaults.items():
        out[name] = c.integer(table, name, path, default,
                              minimum=1 if name in ("levels", "spacing", "every") else 0)
    if "drop_fraction" in table:
        out["drop_fraction"] = c.number(table, "drop_fraction", path, above=0, below=1)
    out["decay"] = c.number(table, "decay", path, 0.0, minimum=0, below=1)
    return out


def _session(c, raw):
    path = "session"
    table = c.table(raw, path)
    c.known(table, path, {"mark", "limit", "sessions", "queued"})
    limit = table.get("limit", "none")
    if limit != "none":
        limit = c.number(table, "limit", path, above=0, below=1)
    return {"mark": c.choice(table, "mark", path, ("last", "bid", "mid"), "last"),
            "limit": limit,
            "sessions": c.integer(table, "sessions", path, 1, minimum=1, maximum=10_000),
            "queued": c.choice(table, "queued", path, ("resubmit", "keep"), "resubmit")}


def _shock(c, raw):
    path = "shock"
    table = c.table(raw, path)
    kind = c.choice(table, "kind", path, ("sell", "gap"))
    if kind == "sell":
        c.known(table, path, {"kind", "qty", "depth_fraction", "within"})
        if ("qty" in table) == ("depth_fraction" in table):
            c.fail(f"{path}.qty", "exactly one of qty (lots) or depth_fraction",
                   table.get("qty", table.get("depth_fraction")))
        if "qty" in table:
            if "within" in table:
                c.fail(f"{path}.within", "only with depth_fraction (a qty is a number of lots)",
                       table["within"])
            return {"kind": kind, "qty": c.integer(table, "qty", path, minimum=1)}
        return {"kind": kind,
                "depth_fraction": c.number(table, "depth_fraction", path, above=0),
                "within": c.number(table, "within", path, 0.03, above=0, below=1)}
    c.known(table, path, {"kind", "price", "drop"})
    if ("price" in table) == ("drop" in table):
        c.fail(f"{path}.drop", "exactly one of price (ticks) or drop (fraction below the best bid)",
               table.get("price", table.get("drop")))
    if "price" in table:
        return {"kind": kind, "price": c.integer(table, "price", path, minimum=0)}
    return {"kind": kind, "drop": c.number(table, "drop", path, above=0, below=1)}


def _report(c, raw):
    path = "report"
    table = c.table(raw, path)
    c.known(table, path, {"distances"})
    distances = table.get("distances", [100, 500, 1000])
    if not isinstance(distances, list) or any(
            isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in distances):
        c.fail(f"{path}.distances", "a list of positive integers (ticks)", distances)
    return {"distances": list(distances)}


_MARGIN_SETUP_LEVELS = 6_000

_TOP = {"name", "description", "seed", "scale", "book", "accounts", "providers", "session",
        "shock", "report"}


def validate(raw, source="<dict>"):
    """Check every field of a scenario and return a normalised copy with defaults filled in.

    Parameters
    ----------
    raw : dict
        A scenario as ``tomllib`` reads it.
    source : str
        Where it came from, for error messages (a file name or ``<preset NAME>``).

    Returns
    -------
    dict
        The scenario with every field present.

    Raises
    ------
    ScenarioError
        Naming `source`, the field and what was expected.
    """
    c = _Checker(source)
    c.table(raw, "scenario")
    c.known(raw, "", _TOP)
    out = {
        "name": c.string(raw, "name", "", Path(source).stem if source[:1] != "<" else "scenario"),
        "description": c.string(raw, "description", "", ""),
        "seed": c.integer(raw, "seed", "", 0, minimum=0, maximum=2**63 - 1),
        "scale": c.number(raw, "scale", "", 1.0, above=0, maximum=1000),
        "book": _book(c, raw.get("book", {})),
    }
    groups = raw.get("accounts", _MISSING)
    if groups is _MISSING:
        c.fail("accounts", "at least one [[accounts]] group")
    if not isinstance(groups, list) or not groups:
        c.fail("accounts", "a non-empty array of [[accounts]] tables", groups)
    out["accounts"] = [_group(c, g, f"accounts[{i}]") for i, g in enumerate(groups)]
    if len(out["accounts"]) > 64:
        c.fail("accounts", "at most 64 groups", len(out["accounts"]))
    if (out["book"]["kind"] == "humped" and out["book"]["price"] <= _MARGIN_SETUP_LEVELS
            and any(g["kind"] == "margin" for g in out["accounts"])):
        # engine.scenario.margin_crash.margin_crash_setup, which draws margin populations, also seeds a
        # book of 6,000 bid levels below the price it is given.
        c.fail("book.price", f"a price above {_MARGIN_SETUP_LEVELS} ticks when the scenario has "
               "margin accounts (use a smaller tick_value to keep the currency price)",
               out["book"]["price"])
    book = out["book"]
    if book["kind"] == "humped":
        # One level a tick on each side of `price`, inside the book's band [1, 2 x price].
        if book["bid_levels"] >= book["price"]:
            c.fail("book.bid_levels", f"fewer than price ({book['price']}): bids one a tick "
                   "below it must stay above 0", book["bid_levels"])
        if book["ask_levels"] > book["price"]:
            c.fail("book.ask_levels", f"at most price ({book['price']}): asks one a tick above "
                   "it must stay within 2 x price", book["ask_levels"])
    providers = raw.get("providers", [])
    if not isinstance(providers, list):
        c.fail("providers", "an array of [[providers]] tables", providers)
    out["providers"] = [_provider(c, p, f"providers[{i}]") for i, p in enumerate(providers)]
    out["session"] = _session(c, raw.get("session", {}))
    if "shock" not in raw:
        c.fail("shock", "a [shock] table")
    out["shock"] = _shock(c, raw["shock"])
    out["report"] = _report(c, raw.get("report", {}))
    return out


def loads(text, source="<string>"):
    """Validate a scenario given as TOML text.

    Parameters
    ----------
    text : str
    source : str
        Named in error messages.

    Returns
    -------
    dict
        The normalised scenario (see :func:`validate`).

    Raises
    ------
    ScenarioError
        On invalid TOML or a bad field.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(source, "(file)", f"valid TOML ({error})", has_value=False) from None
    return validate(raw, source)


def load(path):
    """Read and validate a scenario file.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.toml`` file.

    Returns
    -------
    dict
        The normalised scenario.

    Raises
    ------
    ScenarioError
        If the file is missing, not TOML, or a field is wrong (naming file and field).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(str(path), "(file)", f"a readable TOML file ({error.strerror})",
                            has_value=False) from None
    except UnicodeDecodeError:
        raise ScenarioError(str(path), "(file)", "UTF-8 text", has_value=False) from None
    return loads(text, str(path))


# ---------------------------------------------------------------- overrides

def _split(key):
    parts = []
    for piece in key.split("."):
        if not piece:
            raise ValueError(f"bad field path {key!r}")
        parts.append(int(piece) if piece.isdigit() else piece)
    return parts


def set_field(scenario, key, value):
    """A copy of `scenario` with the field at dotted path `key` set to `value`.

    ``accounts.0.count``, ``accounts.1.leverage.high``, ``shock.depth_fraction``,
    ``session.limit``, ``scale``.  The result is not validated: pass it through
    :func:`validate`.

    Raises
    ------
    ScenarioError
        If the path does not lead to a table field.
    """
    out = copy.deepcopy(scenario)
    parts = _split(key)
    node = out
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(str(p) for p in parts[:depth + 1])
        if isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                raise ScenarioError("<override>", key, f"an index below {len(node)} at {where}",
                                    part)
            node = node[part]
        elif isinstance(node, dict):
            if part not in node:
                node[part] = {}
            node = node[part]
        else:
            raise ScenarioError("<override>", key, f"a table at {where}", node)
    last = parts[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or last >= len(node):
            raise ScenarioError("<override>", key, f"an index below {len(node)}", last)
    elif not isinstance(node, dict):
        raise ScenarioError("<override>", key, "a table field", node)
    node[last] = value
    return out


def parse_value(text):
    """A command-line value as TOML would read it.

    Parameters
    ----------
    text : str
        ``5``, ``0.3``, ``"x"``, ``[1, 2]``, ``{dist = "fixed", value = 3}``...

    Returns
    -------
    object
        The TOML value, or `text` itself when it is not one (a bare word).
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


# ---------------------------------------------------------------- TOML out

def _value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _table(lines, header, table, subtables=()):
    lines.append("")
    lines.append(header)
    for key, value in table.items():
        if key in subtables:
            continue
        lines.append(f"{key} = {_value(value)}")
    for key in subtables:
        if key in table:
            prefix = header.strip("[]")
            lines.append("")
            lines.append(f"[{prefix}.{key}]")
            for k, v in table[key].items():
                lines.append(f"{k} = {_value(v)}")


def to_toml(scenario):
    """A validated scenario as TOML text that :func:`loads` reads back to the same dict.

    Parameters
    ----------
    scenario : dict
        A normalised scenario (from :func:`validate`).

    Returns
    -------
    str
    """
    lines = []
    for key in ("name", "description", "seed", "scale"):
        lines.append(f"{key} = {_value(scenario[key])}")
    _table(lines, "[book]", scenario["book"])
    for group in scenario["accounts"]:
        _table(lines, "[[accounts]]", group, subtables=("rule",))
    for provider in scenario["providers"]:
        _table(lines, "[[providers]]", provider)
    _table(lines, "[session]", scenario["session"])
    _table(lines, "[shock]", scenario["shock"])
    _table(lines, "[report]", scenario["report"])
    return "\n".join(lines) + "\n"
