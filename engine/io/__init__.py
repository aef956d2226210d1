"""Real order-book data: exact loaders, self-checking replays and seeded books.

- `engine.io.lobster`: LOBSTER message/orderbook files (NASDAQ): `read_messages`,
  `read_orderbook`, `replay`, and `LobsterWriter` / `generate` to record engine runs.
- `engine.io.binance`: Binance USD-M depth stream: `load`, `replay` (sequence-checked,
  compared with bookTicker), `snapshot_book`.
- `engine.io.bitstamp`: Bitstamp order-level log: `load`, `replay` (compared with the
  exchange's top-20 snapshots), `snapshot_book`.
- `engine.io.seed`: books seeded from recorded snapshots (`recorded_book`).
- `engine.io.decimals`: exact decimal text -> integer ticks/lots, and `FormatError`,
  raised on a malformed line with file, line and field.
"""
from engine.io.decimals import FormatError, parse_fixed
from engine.io._common import level_id, band_around
from engine.io.seed import RECORDED_BOOKS, recorded_book, binance_book, bitstamp_book, lobster_book

__all__ = ["FormatError", "parse_fixed", "level_id", "band_around", "RECORDED_BOOKS", "recorded_book",
           "binance_book", "bitstamp_book", "lobster_book"]
