"""Reporting a cascade: the readable text report, and a scenario run written to a folder
(the summary as JSON, the tape and paths as ``.npz``, the report as text, the plots as PNG).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["format_report", "write_report", "write_json", "read_summary"]


def write_json(data, path):
    """Write JSON-able `data` to `path` (indented, keys in insertion order), atomically.

    Parameters
    ----------
    data : dict
    path : str or os.PathLike

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_summary(out):
    """The ``summary.json`` of a run folder.

    Parameters
    ----------
    out : str or os.PathLike
        A folder written by :func:`write_report`.

    Returns
    -------
    dict
    """
    return json.loads((Path(out) / "summary.json").read_text(encoding="utf-8"))


def write_report(scenario_result, out, plots=True):
    """Write a scenario run into folder `out` (created if missing).

    Files:

    - ``summary.json``: the measurements (``ScenarioResult.summary``) and the
      scenario, with a ``files`` entry listing everything written;
    - ``tape.npz``: ``tape`` (every fill, TAPE_DTYPE), ``tape_event`` (event of each
      fill), ``orders`` (every forced order, FORCED_DTYPE);
    - ``paths.npz``: ``path`` (best bid, best ask and mark per event, PATH_DTYPE),
      ``waves`` (per-wave table), ``initial_bid_prices`` / ``initial_bid_qtys`` (the
      pre-shock depth), ``final_bid_prices`` / ``final_bid_qtys``, ``session_close``;
    - ``report.txt``: the readable report;
    - with `plots`: ``price_path.png``, ``depth_exhaustion.png``, ``waves.png``,
      ``bid_depth_heatmap.png``.

    Parameters
    ----------
    scenario_result : engine.scenario.ScenarioResult
    out : str or os.PathLike
    plots : bool
        Draw the PNGs (needs matplotlib).

    Returns
    -------
    dict
        File kind -> path.
    """
    from engine._records import BUY
    from engine.plots import tape_events

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    r = scenario_result.cascade
    files = {}
    files["tape"] = out / "tape.npz"
    np.savez_compressed(files["tape"], tape=r.tape, tape_event=tape_events(r.tape),
                        orders=r.orders)
    final_prices, final_qtys = r.book.depth(BUY, len(r.book))
    files["paths"] = out / "paths.npz"
    np.savez_compressed(files["paths"], path=r.path, waves=r.waves,
                        initial_bid_prices=np.asarray(r.initial_depth[0], np.int64),
                        initial_bid_qtys=np.asarray(r.initial_depth[1], np.int64),
                        final_bid_prices=np.asarray(final_prices, np.int64),
                        final_bid_qtys=np.asarray(final_qtys, np.int64),
                        session_close=np.array([s["close"] for s in r.sessions], np.int64))
    files["report"] = out / "report.txt"
    files["report"].write_text(scenario_result.text() + "\n", encoding="utf-8")
    if plots:
        from engine.plots import plot_run

        files.update(plot_run(scenario_result, out))
    files["summary"] = out / "summary.json"
    summary = dict(scenario_result.summary)
    summary["scenario_spec"] = scenario_result.scenario
    summary["files"] = {k: Path(v).name for k, v in files.items()}
    write_json(summary, files["summary"])
    return files


def format_report(result, distances=(100, 500, 1000, None), tick_value=0.01, lot_size=1.0):
    """The measurements of a cascade as readable text.

    Parameters
    ----------
    result : CascadeResult
    distances : sequence of int or None
        Tick distances below the start price at which depth exhaustion is reported.
    tick_value : float
        Currency per tick (0.01 for a stock quoted in cents, 0.10 for Binance BTCUSDT).
    lot_size : float
        Units per lot, so that tick-lots x tick_value x lot_size is currency.

    Returns
    -------
    str
    """
    def _money(tick_lots):
        return f"{tick_lots * tick_value * lot_size:,.2f}"

    def _price(ticks):
        return "-" if ticks is None else f"{ticks * tick_value:,.2f}"

    if not result.record_tape:
        raise ValueError("format_report needs the fill tape: run the cascade with record_tape=True")
    s = result.summary(distances=distances)
    accounts = result.accounts
    start, end = s["start_price"], s["end_price"]
    lines = []
    scenario = getattr(result, "scenario", None)
    if scenario:
        lines.append(f"Scenario: {scenario['name']} (seed {scenario['seed']})")
        lines.append(f"  {scenario['accounts']:,} margin accounts, median collateral ratio "
                     f"{scenario['median_ratio']:.0%}; {scenario['rule']}")
        lines.append(f"  +-{scenario['limit']:.0%} daily limit, up to {scenario['sessions']} "
                     f"sessions, {scenario['providers']} background market maker(s)")
    lines.append("")
    lines.append(f"Price: {_price(start)} -> {_price(end)} "
                 f"({(end - start) / start:+.1%}) over {s['sessions']} session(s)")
    shock = result.shock
    if shock.kind == "sell":
        lines.append(f"Shock: market sell of {shock.qty:,} lots ({s['shock_volume']:,} filled); "
                     f"the shock alone took the bid to {_price(result.bid_after_shock)}")
    else:
        lines.append(f"Shock: every bid above {_price(shock.price)} withdrawn "
                     f"({result.withdrawn:,} lots)")
    lines.append("")
    lines.append("Session  band (lo - hi)          close    forced lots  queued at close")
    tape = result.tape
    forced_rows = tape["seller"] == 2
    for row in result.sessions:
        lo, hi = row["band"]
        volume = int(tape["qty"][forced_rows & (tape["session"] == row["session"])].sum())
        lines.append(f"{row['session'] + 1:>7}  {_price(lo):>9} - {_price(hi):<9}  "
                     f"{_price(row['close']):>9}  {volume:>11,}  {row['queued_at_close']:>15,}")
    if s["stopped"]:
        lines.append(f"Stopped early: {s['stopped']}")
    lines.append("")
    lines.append("Cascade")
    lines.append(f"  forced orders            {s['forced_orders']:,}")
    lines.append(f"  forced volume            {s['forced_volume']:,} lots")
    lines.append(f"  accounts liquidated      {s['accounts_liquidated']:,} of {len(accounts):,}")
    lines.append(f"  waves                    {s['waves']:,}")
    amp = s["amplification"]
    lines.append(f"  amplification            {amp:.2f}x (total sell volume / shock volume)"
                 if amp is not None else "  amplification            n/a (gap shock)")
    if s["price_amplification"] is not None:
        lines.append(f"  price amplification      {s['price_amplification']:.2f}x "
                     "(final fall / the fall the shock alone caused)")
    lines.append("")
    lines.append("Depth exhaustion (pre-shock bids; 'gone at' counts forced lots, not the shock)")
    lines.append(f"  depth consumed           {s['depth_consumed']:.1%} of all resting bids")
    lines.append(f"  levels emptied           {s['levels_emptied']:,}")
    for d, at in s["volume_at"].items():
        label = "all depth" if d is None else f"within {d} ticks"
        marks = ", ".join(f"{int(f * 100)}% gone at {v:,} forced lots" if v is not None
                          else f"{int(f * 100)}% never" for f, v in at.items())
        lines.append(f"  {label:<24} {marks}")
    lines.append("")
    lines.append("Price gaps")
    lines.append(f"  largest gap between trades   {s['max_gap_ticks']:,} ticks")
    lines.append(f"  largest best-bid drop in one event {s['max_bid_gap_ticks']:,} ticks")
    lines.append(f"  most empty levels in a sweep {s['max_sweep_empty_levels']:,}")
    if s["max_spread_ticks"] is not None:
        lines.append(f"  widest spread                {s['max_spread_ticks']:,} ticks")
    lines.append("")
    lines.append("Losses")
    slip = s["vwap_slippage_ticks"]
    lines.append(f"  VWAP slippage of sells       {slip:,.1f} ticks below the start price"
                 if slip is not None else "  VWAP slippage of sells       n/a")
    lines.append(f"  bad debt                     {_money(s['bad_debt'])} "
                 f"({int(np.count_nonzero(accounts.bad_debt))} accounts)")
    lines.append(f"  unfilled at limit-down       {s['unfilled_at_limit']:,} lots")
    lines.append(f"  cut by band or limit         {s['cut_volume']:,} lots")
    waves = result.waves
    if len(waves) > 1:
        lines.append("")
        lines.append("Largest waves   orders  lots sent  lots sold  accounts  branching")
        top = np.argsort(-waves["submitted_volume"][1:], kind="stable")[:8] + 1
        for w in sorted(top):
            row = waves[w]
            lines.append(f"  wave {int(row['wave']):>4}  {int(row['forced_orders']):>7,} "
                         f"{int(row['submitted_volume']):>10,} {int(row['forced_volume']):>10,} "
                         f"{int(row['accounts_liquidated']):>9,}  {row['branching_ratio']:>9.2f}")
    lines.append("")
    lines.append(f"{s['events']:,} events in {s['seconds']:.2f} s")
    return "\n".join(lines)
