"""Plots of a scenario run and of a sweep, drawn with matplotlib without a display.

matplotlib is an optional extra: it is imported when a plot is drawn, with the Agg
backend, so nothing here needs a screen and ``import engine.plots`` costs nothing.

The time axis of a run is the cascade's event number, as in the best-price path: 0 is
the pre-shock book, 1 the shock, then one event per forced order sent (see
``engine.cascade``).  Prices are shown in
currency (ticks x the scenario's tick value).
"""
from __future__ import annotations

import numpy as np

__all__ = ["tape_events", "exhaustion_curve", "depth_over_time", "plot_price_path",
           "plot_depth_exhaustion", "plot_waves", "plot_bid_depth_heatmap", "plot_run",
           "plot_sweep", "plot_sweep_heatmap", "pyplot"]

_MAX_POINTS = 20_000


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed).

    Raises
    ------
    ImportError
        If matplotlib is not installed, saying which extra to install.
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'firesale[plot]' "
                          "(or pip install matplotlib)") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def tape_events(tape):
    """The event number of every tape row.

    The engine numbers events from 0 (the pre-shock state): the shock is event 1 and
    the forced order with id ``FORCED_ID_BASE + k`` (row k of ``result.orders``) is
    event k + 2, as in ``result.path["event"]``; rows taken by anyone else (a market
    maker crossing resting forced sells) belong to the event before them.  Chunk
    cooldowns make the engine skip event numbers, which the tape does not record, so
    with cooldowns this numbering runs behind the path's.

    Parameters
    ----------
    tape : numpy.ndarray of TAPE_DTYPE

    Returns
    -------
    numpy.ndarray of int64
    """
    from engine.cascade import FORCED_ID_BASE, LP_ID_BASE, SHOCK_ID

    taker = tape["taker_id"].astype(np.int64)
    events = np.full(len(tape), -1, np.int64)
    events[taker == SHOCK_ID] = 1
    forced = (taker >= FORCED_ID_BASE) & (taker < LP_ID_BASE) & (taker != SHOCK_ID)
    events[forced] = taker[forced] - FORCED_ID_BASE + 2
    # forward fill the rest from the previous row
    known = np.where(events >= 0, np.arange(len(tape)), 0)
    np.maximum.accumulate(known, out=known)
    events = np.where(events >= 0, events, events[known])
    return np.maximum(events, 0)


def exhaustion_curve(cascade_result, distance=None, points=100):
    """Cumulative forced volume against the share of the pre-shock bid depth consumed.

    Uses ``engine.metrics.depth_exhaustion`` at `points` evenly spaced fractions.

    Parameters
    ----------
    cascade_result : engine.cascade.CascadeResult
    distance : int, optional
        Only the depth within this many ticks of the start price (None: all of it).
    points : int

    Returns
    -------
    (volume, fraction) : numpy.ndarray, numpy.ndarray
        Forced volume (lots) at which each fraction of the depth was gone; fractions
        never reached are left out.
    """
    from engine import metrics
    from engine.cascade import _cascade

    r = cascade_result
    prices, qtys = r.initial_depth
    fractions = tuple(np.round(np.linspace(1.0 / points, 1.0, points), 6))
    result = metrics.depth_exhaustion(r.tape, prices, qtys, r.start_price, distances=(distance,),
                                      fractions=fractions,
                                      count=r.tape["seller"] == _cascade.FORCED_SELLER)
    at = result["by_distance"][distance]["volume_at"]
    reached = [(v, f) for f, v in at.items() if v is not None]
    if not reached:
        return np.zeros(0, np.int64), np.zeros(0)
    volume, fraction = zip(*reached)
    return np.asarray(volume, np.int64), np.asarray(fraction, np.float64)


def depth_over_time(cascade_result, time_bins=200, price_bins=200, low=None):
    """Resting pre-shock bid depth left in each price bin after each span of events.

    Depth is the book's bids before the shock, less what the tape took from them
    (and, for a gap shock, less the withdrawn bids at event 0).  Quotes added later
    by market makers are not in it: the engine logs their fills, not their quotes.

    Parameters
    ----------
    cascade_result : engine.cascade.CascadeResult
    time_bins, price_bins : int
    low : int, optional
        Lowest price in ticks (default: a little below the lowest trade).

    Returns
    -------
    (depth, event_edges, price_edges)
        ``depth[price_bin, time_bin]`` in lots, with bin edges in events and ticks.
    """
    from engine.cascade import LP_OWNER

    r = cascade_result
    prices, qtys = (np.asarray(a, np.int64) for a in r.initial_depth)
    tape = r.tape
    start = r.start_price
    if low is None:
        lowest = int(tape["price"].min()) if len(tape) else start
        low = max(1, lowest - max(10, (start - lowest) // 20))
    high = start + 1
    price_edges = np.linspace(low, high, price_bins + 1)
    last_event = max(1, r.events)
    event_edges = np.linspace(0, last_event, time_bins + 1)
    initial, _ = np.histogram(prices, bins=price_edges, weights=qtys)
    hit = (tape["taker_side"] < 0) & (tape["maker_owner"] != LP_OWNER)
    events = tape_events(tape)[hit]
    taken, _, _ = np.histogram2d(tape["price"][hit], events, bins=(price_edges, event_edges),
                                 weights=tape["qty"][hit])
    removed = np.cumsum(taken, axis=1)
    if r.shock.kind == "gap":
        above = prices > r.shock.price
        withdrawn, _ = np.histogram(prices[above], bins=price_edges, weights=qtys[above])
        removed += withdrawn[:, None]
    depth = np.maximum(initial[:, None] - removed, 0.0)
    return depth, event_edges, price_edges


def _subsample(n, limit=_MAX_POINTS):
    return np.arange(n) if n <= limit else np.linspace(0, n - 1, limit).astype(np.int64)


def _session_starts(cascade_result):
    tape = cascade_result.tape
    if not len(tape):
        return []
    sessions = tape["session"]
    first = np.flatnonzero(np.concatenate([[False], sessions[1:] != sessions[:-1]]))
    return [int(e) for e in tape_events(tape)[first]]


def _extend(path, last_event):
    """The path's columns with a last row at `last_event`, so steps run to the end."""
    events = np.append(path["event"], max(int(last_event), int(path["event"][-1])))
    return events, np.append(path["bid"], path["bid"][-1]), np.append(path["ask"], path["ask"][-1])


def plot_price_path(cascade_result, path, tick_value=1.0, title=None):
    """Best bid, best ask and trades against events, saved as a PNG.

    Parameters
    ----------
    cascade_result : engine.cascade.CascadeResult
    path : str or pathlib.Path
    tick_value : float
        Currency per tick, for the price axis.
    title : str, optional

    Returns
    -------
    path
    """
    plt = pyplot()
    r = cascade_result
    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=100)
    events, bids, asks = _extend(r.path, r.events)
    bid = np.where(bids >= 0, bids * tick_value, np.nan)
    ask = np.where(asks >= 0, asks * tick_value, np.nan)
    keep = _subsample(len(events))
    ax.step(events[keep], ask[keep], where="post", color="tab:red", lw=1, label="best ask")
    ax.step(events[keep], bid[keep], where="post", color="tab:blue", lw=1, label="best bid")
    tape = r.tape
    if len(tape):
        events = tape_events(tape)
        rows = _subsample(len(tape))
        ax.scatter(events[rows], tape["price"][rows] * tick_value, s=2, color="black", alpha=0.4,
                   label="trades", zorder=3)
    for k, event in enumerate(_session_starts(r)):
        ax.axvline(event, color="grey", ls=":", lw=0.8, label="session open" if k == 0 else None)
    ax.set_xlabel("event (1 = shock, then one per forced order)")
    ax.set_ylabel("price")
    ax.set_title(title or "Price path")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_depth_exhaustion(cascade_result, path, distances=(None,), title=None):
    """The depth-exhaustion curve: cumulative forced volume against the share of the
    pre-shock bid depth consumed, one line per distance; saved as a PNG.

    Parameters
    ----------
    cascade_result : engine.cascade.CascadeResult
    path : str or pathlib.Path
    distances : sequence of int or None
        Depth within this many ticks of the start price (None: all of it).
    title : str, optional

    Returns
    -------
    path
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    drawn = 0
    for d in distances:
        volume, fraction = exhaustion_curve(cascade_result, d)
        if len(volume):
            ax.step(volume, fraction * 100, where="post",
                    label="all depth" if d is None else f"within {d} ticks")
            drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no depth consumed", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("cumulative forced volume (lots; the shock's fills come first at 0)")
    ax.set_ylabel("pre-shock bid depth consumed (%)")
    ax.set_ylim(0, 102)
    ax.set_title(title or "Depth exhaustion")
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_waves(cascade_result, path, title=None):
    """Forced volume and accounts liquidated per wave (wave 0: the shock's volume),
    saved as a PNG.

    Parameters
    ----------
    cascade_result : engine.cascade.CascadeResult
    path : str or pathlib.Path
    title : str, optional

    Returns
    -------
    path
    """
    plt = pyplot()
    waves = cascade_result.waves
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), dpi=100, sharex=True)
    volume = waves["forced_volume"].astype(np.float64)
    if len(volume):
        volume[0] = cascade_result.shock_filled
    colors = ["tab:grey"] + ["tab:red"] * (len(waves) - 1)
    top.bar(waves["wave"], volume, color=colors, width=0.8)
    top.set_ylabel("volume sold (lots)")
    top.set_title(title or "Forced volume and accounts liquidated per wave (wave 0: shock)")
    top.grid(alpha=0.3, axis="y")
    bottom.bar(waves["wave"], waves["accounts_liquidated"], color="tab:purple", width=0.8)
    bottom.set_ylabel("accounts liquidated\n(first time)")
    bottom.set_xlabel("wave")
    bottom.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_bid_depth_heatmap(cascade_result, path, tick_value=1.0, title=None):
    """Heatmap of the resting pre-shock bid depth over time (see :func:`depth_over_time`),
    with the best bid drawn over it; saved as a PNG.

    Parameters
    ----------
    cascade_result : engine.cascade.CascadeResult
    path : str or pathlib.Path
    tick_value : float
        Currency per tick, for the price axis.
    title : str, optional

    Returns
    -------
    path
    """
    plt = pyplot()
    from matplotlib.colors import LogNorm

    depth, event_edges, price_edges = depth_over_time(cascade_result)
    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=100)
    positive = depth[depth > 0]
    norm = LogNorm(vmin=max(1.0, positive.min()), vmax=max(2.0, positive.max())) \
        if positive.size else None
    shown = np.where(depth > 0, depth, np.nan)
    mesh = ax.pcolormesh(event_edges, price_edges * tick_value, shown, shading="flat",
                         cmap="viridis", norm=norm)
    fig.colorbar(mesh, ax=ax, label="lots resting per price bin")
    events, bids, _ = _extend(cascade_result.path, cascade_result.events)
    bid = np.where(bids >= 0, bids * tick_value, np.nan)
    keep = _subsample(len(events))
    ax.step(events[keep], bid[keep], where="post", color="white", lw=0.8, label="best bid")
    ax.set_ylim(price_edges[0] * tick_value, price_edges[-1] * tick_value)
    ax.set_xlabel("event (1 = shock, then one per forced order)")
    ax.set_ylabel("price")
    ax.set_title(title or "Bid depth over time (pre-shock orders; market-maker quotes not shown)")
    ax.set_facecolor("#202020")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_run(scenario_result, out):
    """All four plots of a scenario run into folder `out`.

    Parameters
    ----------
    scenario_result : engine.scenario.ScenarioResult
    out : pathlib.Path

    Returns
    -------
    dict
        Plot name -> file path.
    """
    r = scenario_result.cascade
    tick = scenario_result.setup.tick_value
    name = scenario_result.scenario["name"]
    distances = scenario_result.distances
    return {
        "price_path": plot_price_path(r, out / "price_path.png", tick,
                                      f"{name}: price path (seed {scenario_result.seed})"),
        "depth_exhaustion": plot_depth_exhaustion(r, out / "depth_exhaustion.png", distances,
                                                  f"{name}: depth exhaustion"),
        "waves": plot_waves(r, out / "waves.png"),
        "bid_depth_heatmap": plot_bid_depth_heatmap(r, out / "bid_depth_heatmap.png", tick),
    }


def plot_sweep(rows, keys, metric, path, title=None):
    """A metric over a sweep's grid: the mean over seeds (with min-max band) against the
    first grid key, one line per value of the second key; saved as a PNG.

    Parameters
    ----------
    rows : list of dict
        Sweep rows (``engine.sweep``), failed ones included (they are skipped).
    keys : sequence of str
        Grid keys; the first is the x axis, the second (if any) the line colour, the
        rest are averaged over.
    metric : str
    path : str or pathlib.Path

    Returns
    -------
    path, or None when no successful row has the metric.
    """
    plt = pyplot()
    good = [r for r in rows if r.get("status") == "ok" and _number(r.get(metric)) is not None]
    if not good or not keys:
        return None
    x_key = keys[0]
    line_key = keys[1] if len(keys) > 1 else None
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    line_values = sorted({_key(r[line_key]) for r in good}, key=_order) if line_key else [None]
    for lv in line_values:
        subset = [r for r in good if line_key is None or _key(r[line_key]) == lv]
        xs = sorted({_key(r[x_key]) for r in subset}, key=_order)    # numbers, then words
        mean, lo, hi = [], [], []
        for x in xs:
            values = [_number(r[metric]) for r in subset if _key(r[x_key]) == x]
            mean.append(np.mean(values))
            lo.append(np.min(values))
            hi.append(np.max(values))
        positions = xs if all(isinstance(x, (int, float)) for x in xs) else list(range(len(xs)))
        label = None if line_key is None else f"{line_key} = {lv}"
        ax.plot(positions, mean, marker="o", label=label)
        ax.fill_between(positions, lo, hi, alpha=0.15)
        if positions is not xs:
            ax.set_xticks(positions, [str(x) for x in xs])
    ax.set_xlabel(x_key)
    ax.set_ylabel(metric + " (mean over seeds, band: min-max)")
    ax.set_title(title or f"{metric} over the grid")
    ax.grid(alpha=0.3)
    if line_key is not None:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_sweep_heatmap(rows, keys, metric, path, title=None):
    """A metric over the first two grid keys as a heatmap of the mean over seeds (and
    over any further keys), with the values written in the cells; saved as a PNG.

    Parameters
    ----------
    rows : list of dict
        Sweep rows (failed ones are skipped).
    keys : sequence of str
        Grid keys: the first is the x axis, the second the y axis.
    metric : str
    path : str or pathlib.Path
    title : str, optional

    Returns
    -------
    path, or None when there are fewer than two keys or no successful row.
    """
    good = [r for r in rows if r.get("status") == "ok" and _number(r.get(metric)) is not None]
    if len(keys) < 2 or not good:
        return None
    plt = pyplot()
    x_key, y_key = keys[0], keys[1]
    xs = sorted({_key(r[x_key]) for r in good}, key=_order)
    ys = sorted({_key(r[y_key]) for r in good}, key=_order)
    grid = np.full((len(ys), len(xs)), np.nan)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            values = [_number(r[metric]) for r in good
                      if _key(r[x_key]) == x and _key(r[y_key]) == y]
            if values:
                grid[i, j] = np.mean(values)
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="magma")
    fig.colorbar(image, ax=ax, label=f"{metric} (mean over seeds)")
    ax.set_xticks(range(len(xs)), [f"{x:g}" if isinstance(x, float) else str(x) for x in xs])
    ax.set_yticks(range(len(ys)), [f"{y:g}" if isinstance(y, float) else str(y) for y in ys])
    finite = grid[np.isfinite(grid)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.3g}", ha="center", va="center", fontsize=8,
                        color="black" if grid[i, j] > middle else "white")
    ax.set_xlabel(x_key)
    ax.set_ylabel(y_key)
    ax.set_title(title or f"{metric} over {x_key} and {y_key}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _order(value):
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def _key(value):
    if isinstance(value, float) and value.is_integer():
        return value
    return value if isinstance(value, (int, float)) else str(value)


def _number(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if np.isfinite(value) else None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None
