"""Built-in scenarios: the canonical scenarios of ``DOMAIN.md`` that the engine supports.

The numbers are presets in the spirit of the source material, not facts to assert.
Not available: cross-asset deleveraging (the engine runs one book per cascade, and an
account holds one asset), and the perpetual loss waterfall after the book (insurance
fund, auto-deleveraging, socialised loss): a crypto run reports what the book could not
absorb as cut volume and bad debt instead.
"""
from __future__ import annotations

from engine.scenario.schema import ScenarioError, validate

__all__ = ["PRESETS", "DEFAULT_PRESET", "UNSUPPORTED", "preset", "preset_names", "describe"]

DEFAULT_PRESET = "margin-crash"

_MARGIN_CRASH = {
    "name": "margin-crash",
    "description": ("Margin-trading crash, 2015 style: 300,000 A-share margin accounts with "
                    "collateral ratios around a median of 280% (call 130%, force 110%, restore "
                    "145%, forced sells queue at limit-down), +-10% limits over 8 sessions, a "
                    "block sale the size of the bids within 3%, and a market maker who pulls "
                    "quotes when the price gaps."),
    "seed": 2015,
    "scale": 1.0,
    "book": {"kind": "humped", "price": 10_000, "bid_levels": 6_000, "ask_levels": 600,
             "depth_per_tick": 60.0, "tick_value": 0.01, "lot_size": 1.0},
    "accounts": [{"kind": "margin", "label": "retail margin", "count": 300_000,
                  "median_ratio": 2.8, "ratio_sigma": 0.40, "min_ratio": 1.15,
                  "position_lots": 40.0, "rule": {"preset": "a_share"}}],
    "providers": [{"size": 40, "levels": 8, "spacing": 3, "every": 25, "gap_ticks": 15,
                   "drop_fraction": 0.02, "window": 400, "pause": 3000, "decay": 0.15}],
    "session": {"mark": "last", "limit": 0.10, "sessions": 8, "queued": "resubmit"},
    "shock": {"kind": "sell", "depth_fraction": 1.0, "within": 0.03},
    "report": {"distances": [100, 500, 1000]},
}

_QUANT_SNOWBALL = {
    "name": "quant-snowball",
    "description": ("Quant/DMA and snowball crash, early 2024 style: swap-financed funds at 4-5x "
                    "whose broker closes 90% at a stop line, dealer hedges of snowball notes "
                    "dumped at knock-in barriers clustered 8-24% below the market, retail "
                    "margin accounts, a thin micro-cap book, +-10% limits over 5 sessions."),
    "seed": 2024,
    "scale": 1.0,
    "book": {"kind": "humped", "price": 10_000, "bid_levels": 8_000, "ask_levels": 600,
             "depth_per_tick": 12.0, "tick_value": 0.01, "lot_size": 1.0},
    "accounts": [
        {"kind": "swap", "label": "DMA / swap funds", "count": 3_000,
         "shares": {"dist": "lognormal", "median": 20.0, "sigma": 0.8, "min": 1.0},
         "leverage": {"dist": "uniform", "low": 4.0, "high": 5.0},
         "entry": {"dist": "uniform", "low": -0.03, "high": 0.06},
         "rule": {"stop": 0.60, "close": 0.90, "style": "floor", "ioc_offset": 0}},
        {"kind": "knock_in", "label": "snowball hedges", "count": 400,
         "hedge": {"dist": "lognormal", "median": 150.0, "sigma": 0.6, "min": 1.0},
         "reference": {"dist": "uniform", "low": -0.05, "high": 0.15},
         "barrier": 0.80, "dump": 1.0,
         "rule": {"style": "floor", "ioc_offset": 0}},
        {"kind": "margin", "label": "retail margin", "count": 20_000,
         "median_ratio": 2.5, "ratio_sigma": 0.35, "min_ratio": 1.2, "position_lots": 20.0,
         "rule": {"preset": "a_share"}},
    ],
    "providers": [{"size": 20, "levels": 6, "spacing": 2, "every": 30, "gap_ticks": 6,
                   "drop_fraction": 0.02, "window": 300, "pause": 4000, "decay": 0.2}],
    "session": {"mark": "last", "limit": 0.10, "sessions": 5, "queued": "resubmit"},
    "shock": {"kind": "sell", "depth_fraction": 0.3, "within": 0.03},
    "report": {"distances": [100, 500, 1000]},
}

_CRYPTO = {
    "name": "crypto-perp",
    "description": ("Crypto liquidation cascade, October 2025 style: 100,000 long BTCUSDT perpetual "
                    "positions at 20-125x with Binance-like tiered maintenance margin, liquidated "
                    "by IOC orders at their bankruptcy price into the recorded Binance USD-M book "
                    "of 2024-08-08 (1000 levels a side), no price limits, one market maker. The "
                    "insurance fund and ADL are not modelled: what the book cannot absorb shows "
                    "as cut volume and bad debt."),
    "seed": 1010,
    "scale": 1.0,
    "book": {"kind": "recorded", "name": "binance_btcusdt_2024-08-08", "band_fraction": 0.5},
    "accounts": [{"kind": "perp", "label": "BTCUSDT longs", "count": 100_000,
                  "size": {"dist": "lognormal", "median": 20.0, "sigma": 1.2, "min": 1.0},
                  "leverage": {"dist": "choice", "values": [20.0, 50.0, 75.0, 100.0, 125.0],
                               "weights": [0.20, 0.25, 0.20, 0.20, 0.15]},
                  "entry": {"dist": "uniform", "low": -0.002, "high": 0.0035},
                  "rule": {"tiers": "binance", "policy": "all", "restore": 0.0, "style": "ioc",
                           "chunk": 0, "cooldown": 0}}],
    "providers": [{"size": 100, "levels": 10, "spacing": 20, "every": 20, "gap_ticks": 300,
                   "drop_fraction": 0.004, "window": 200, "pause": 2_000, "decay": 0.1}],
    "session": {"mark": "last", "limit": "none", "sessions": 1, "queued": "resubmit"},
    "shock": {"kind": "sell", "depth_fraction": 0.9, "within": 0.003},
    "report": {"distances": [100, 500, 1000]},
}

PRESETS = {
    "margin-crash": ("margin-trading crash, 2015 style: A-share margin lines, +-10% limits, "
                     "8 sessions (the default)", _MARGIN_CRASH),
    "quant-snowball": ("quant/DMA swap funds and snowball knock-ins on a thin micro-cap book, "
                       "early 2024 style", _QUANT_SNOWBALL),
    "crypto-perp": ("perpetual longs at 20-125x on the recorded Binance BTCUSDT book, "
                    "October 2025 style", _CRYPTO),
}

UNSUPPORTED = {
    "cross-asset": "cross-asset deleveraging needs accounts holding several assets and one book "
                   "per asset; the engine runs one book per cascade",
}


def preset_names():
    """Names of the built-in scenarios, the default first.

    Returns
    -------
    list of str
    """
    return list(PRESETS)


def describe(name):
    """The one-line description of a preset.

    Parameters
    ----------
    name : str

    Returns
    -------
    str
    """
    return PRESETS[name][0]


def preset(name):
    """A built-in scenario, validated and normalised.

    Parameters
    ----------
    name : str
        One of :func:`preset_names`.

    Returns
    -------
    dict

    Raises
    ------
    ScenarioError
        For an unknown name (listing the known ones).
    """
    if name not in PRESETS:
        raise ScenarioError("<presets>", "name", "one of " + ", ".join(PRESETS), name)
    return validate(PRESETS[name][1], f"<preset {name}>")
