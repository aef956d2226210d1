"""Books seeded from recorded snapshots, so cascades can start from real depth.

A scenario names a recorded book (``recorded_book("binance_btcusdt_2024-08-08")``) or
seeds from any file of the supported formats.  Every level of a snapshot becomes one
synthetic resting order (id ``engine.io.level_id(price, side)``, negative, so the
caller's own order ids never collide with it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from engine.io import binance, bitstamp, lobster

__all__ = ["RecordedBook", "RECORDED_BOOKS", "recorded_book", "binance_book", "bitstamp_book",
           "lobster_book", "data_dir"]


def data_dir():
    """The shared data folder, or None.

    ``$FIRESALE_DATA`` when set; otherwise the first ``shared/data`` found beside a folder
    above this package (``../shared/data`` beside the repository, for the source tree and
    for the debug build under ``build/debug`` alike).
    """
    override = os.environ.get("FIRESALE_DATA")
    if override:
        return Path(override) if Path(override).is_dir() else None
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


@dataclass(frozen=True)
class RecordedBook:
    """A recorded snapshot that can seed a Book.

    Attributes
    ----------
    name : str
    relative_path : str
        Path inside the shared data folder.
    format : str
        ``binance`` or ``bitstamp``.
    tick, lot : decimal.Decimal
        What one engine tick and one lot are worth (USDT or USD; BTC).
    """

    name: str
    relative_path: str
    format: str
    tick: Decimal
    lot: Decimal


RECORDED_BOOKS = {
    "binance_btcusdt_2024-08-08": RecordedBook(
        "binance_btcusdt_2024-08-08", "binance_btcusdt_2024-08-08/usdm_btcusdt_20240808.gz", "binance",
        Decimal("0.1"), Decimal("0.001")),
    "bitstamp_btcusd_2015-05-01": RecordedBook(
        "bitstamp_btcusd_2015-05-01", "bitstamp_btcusd_2015-05-01/2015-05-01.log.xz", "bitstamp",
        Decimal("0.01"), Decimal("0.00000001")),
}


def binance_book(path, band_fraction=0.5):
    """A Book holding the Binance recording's REST snapshot (1000 levels a side).

    Parameters
    ----------
    path : str or os.PathLike
        A Binance USD-M recording (see `engine.io.binance`).
    band_fraction : float, optional
        Band either side of the mid price, as a fraction of it (crypto has no limits).

    Returns
    -------
    engine.Book
        Ticks of 0.10 USDT, lots of 0.001 BTC.
    """
    return binance.snapshot_book(path, band_fraction)


def bitstamp_book(path, index=0, band_fraction=0.5):
    """A Book holding one of a Bitstamp log's top-20 snapshots.

    Parameters
    ----------
    path : str or os.PathLike
    index : int, optional
        Which snapshot (0: the first).
    band_fraction : float, optional

    Returns
    -------
    engine.Book
        Ticks of 0.01 USD, lots of 1e-8 BTC.
    """
    return bitstamp.snapshot_book(path, index, band_fraction)


def lobster_book(orderbook_csv, row=0, tick=None, band_fraction=0.5):
    """A Book holding one row of a LOBSTER orderbook file.

    Parameters
    ----------
    orderbook_csv : str or os.PathLike
    row : int, optional
        0-based row.
    tick : int, optional
        LOBSTER price units (dollars x 10000) per tick; default: the gcd of the row's prices.
    band_fraction : float, optional

    Returns
    -------
    engine.Book
    """
    return lobster.book_from_orderbook(orderbook_csv, row, tick, band_fraction)


def recorded_book(name, band_fraction=0.5, data=None):
    """A Book seeded from a named recording in the shared data folder.

    Parameters
    ----------
    name : str
        A key of `RECORDED_BOOKS`.
    band_fraction : float, optional
    data : str or os.PathLike, optional
        The data folder (default: `data_dir()`).

    Returns
    -------
    engine.Book

    Raises
    ------
    KeyError
        For an unknown name.
    FileNotFoundError
        When the data folder or the file is missing.
    """
    if name not in RECORDED_BOOKS:
        raise KeyError(f"unknown recorded book {name!r}; known: {', '.join(RECORDED_BOOKS)}")
    entry = RECORDED_BOOKS[name]
    folder = Path(data) if data is not None else data_dir()
    if folder is None or not (folder / entry.relative_path).is_file():
        raise FileNotFoundError(f"recorded book {name!r} needs {entry.relative_path} under the shared "
                                f"data folder ({folder or '../shared/data'})")
    path = folder / entry.relative_path
    if entry.format == "binance":
        return binance_book(path, band_fraction)
    return bitstamp_book(path, 0, band_fraction)
