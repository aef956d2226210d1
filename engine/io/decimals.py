"""Exact decimal text -> integer ticks and lots, and the error every loader raises.

Prices and sizes in market data files are decimal text ("61800.20", "0.014").  Going
through a binary float loses exactness (0.1 + 0.2 != 0.3), so the parsers here read the
digits themselves: a column of byte strings becomes an ``int64`` column of the value
times ``10**scale``, computed with integer arithmetic only, one numpy pass per batch
(no Python object per value).
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
from pathlib import Path

import numpy as np

__all__ = ["FormatError", "parse_fixed", "parse_fixed_one", "to_units", "open_text", "MAX_DIGITS"]

# An int64 holds any 18-digit decimal integer.
MAX_DIGITS = 18
_POW10 = np.array([10 ** k for k in range(MAX_DIGITS + 1)], dtype=np.int64)
# Rows parsed per numpy pass: bounds the (rows x width) scratch matrices.
_CHUNK = 1 << 15


class FormatError(ValueError):
    """A malformed line in a market data file.

    Attributes
    ----------
    path : str
        The file.
    line : int or None
        1-based line number in the file.
    field : str or None
        The field at fault.
    """

    def __init__(self, path, line, field, problem):
        self.path = str(path)
        self.line = line
        self.field = field
        self.problem = problem
        where = self.path if line is None else f"{self.path}:{line}"
        what = f"field {field!r}: " if field else ""
        super().__init__(f"{where}: {what}{problem}")


def open_text(path):
    """Open `path` for reading bytes line by line, decompressing ``.gz``, ``.xz`` or ``.bz2``.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    io.BufferedIOBase
        A binary file object (iterate it for lines).
    """
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix == ".xz":
        return lzma.open(path, "rb")
    if path.suffix == ".bz2":
        return bz2.open(path, "rb")
    return io.BufferedReader(io.FileIO(path, "rb"), buffer_size=1 << 20)


def _as_bytes_array(texts):
    array = np.asarray(texts)
    if array.dtype.kind == "U":
        try:
            array = array.astype(f"S{max(array.dtype.itemsize // 4, 1)}")
        except UnicodeEncodeError:
            # Keep the rows aligned: non-ASCII text is malformed, mark it so it fails.
            array = np.array([t.encode("ascii", "replace") for t in array.tolist()])
    if array.dtype.kind != "S":
        raise TypeError(f"expected byte or str text, got dtype {array.dtype}")
    if array.ndim != 1:
        array = array.reshape(-1)
    if array.dtype.itemsize == 0:
        array = array.astype("S1")
    return np.ascontiguousarray(array)


def _parse_block(block, scale, rounding):
    """Parse one block; return (values, bad_row_mask, reason_per_bad_row as codes)."""
    rows = block.shape[0]
    width = block.dtype.itemsize
    b = block.view(np.uint8).reshape(rows, width)
    inside = np.arange(width) < (b != 0).sum(1, keepdims=True)   # numpy 'S' pads with NUL
    length = inside.sum(1)
    negative = b[:, 0] == 45                                      # '-'
    digit = (b >= 48) & (b <= 57) & inside
    dot = (b == 46) & inside
    dots = dot.sum(1)
    positions = np.arange(width)
    sign_position = (positions == 0) & negative[:, None]
    allowed = digit | dot | sign_position | ~inside
    dot_at = np.where(dots == 1, dot.argmax(1), length)
    bad = ~allowed.all(1) | (dots > 1) | ~digit.any(1)
    # Power of ten each digit carries in the scaled integer.
    power = np.where(positions < dot_at[:, None], dot_at[:, None] - 1 - positions + scale,
                     scale - (positions - dot_at[:, None]))
    # Digits from the first significant one (leading zeros do not count towards overflow).
    significant = digit & (b != 48) & (positions < dot_at[:, None])
    integer_digits = dot_at - np.where(significant.any(1), significant.argmax(1), dot_at)
    bad |= integer_digits + scale > MAX_DIGITS
    values_digits = np.where(digit, b.astype(np.int64) - 48, 0)
    kept = digit & (power >= 0)
    values = (values_digits * _POW10[np.clip(power, 0, MAX_DIGITS)] * kept).sum(1)
    finer = digit & (power < 0)
    remainder_nonzero = (values_digits * finer).any(1)
    if rounding:
        # Round half to even on the first dropped digit and whether any later one is nonzero.
        first_dropped = np.where(finer & (power == -1), values_digits, 0).sum(1)
        later = (values_digits * (finer & (power < -1))).any(1)
        up = (first_dropped > 5) | ((first_dropped == 5) & (later | (values % 2 == 1)))
        values = values + up
    else:
        bad |= remainder_nonzero
    values = np.where(negative, -values, values)
    values[bad] = 0
    return values, bad


def parse_fixed(texts, scale, *, path="<text>", lines=None, field="value", rounding=False):
    """Parse decimal text to integers scaled by ``10**scale``, exactly.

    Parameters
    ----------
    texts : array_like of bytes or str
        Decimal numbers such as ``b"61800.20"``, ``"-3"``, ``"0.014"`` (no exponent,
        no spaces, optional leading ``-``).
    scale : int
        Decimal places of the unit: 2 for cents, 3 for 0.001 BTC lots, 8 for satoshis.
    path : str, optional
        File named in errors.
    lines : array_like of int, optional
        1-based line number of each text, named in errors (default: the index + 1).
    field : str, optional
        Field name used in errors.
    rounding : bool, optional
        When true, digits finer than the unit are rounded half to even (for files that
        printed binary floats, like Bitstamp's trade amounts); when false (default) they
        must be zeros.

    Returns
    -------
    numpy.ndarray of int64
        ``value * 10**scale`` for each text.

    Raises
    ------
    FormatError
        On the first text that is not a decimal number, is finer than the unit, or
        overflows int64; the message names the file, line and field.
    """
    if not 0 <= scale <= MAX_DIGITS:
        raise ValueError(f"scale must be in 0..{MAX_DIGITS}, got {scale}")
    array = _as_bytes_array(texts)
    out = np.empty(array.shape[0], dtype=np.int64)
    for begin in range(0, array.shape[0], _CHUNK):
        block = array[begin:begin + _CHUNK]
        values, bad = _parse_block(block, scale, rounding)
        if bad.any():
            row = begin + int(np.flatnonzero(bad)[0])
            line = int(lines[row]) if lines is not None else row + 1
            text = array[row].decode("ascii", "replace")
            raise FormatError(path, line, field, _explain(text, scale))
        out[begin:begin + block.shape[0]] = values
    return out


def _explain(text, scale):
    body = text[1:] if text.startswith("-") else text
    if not body or body.count(".") > 1 or not body.replace(".", "").isdigit():
        return f"{text!r} is not a decimal number"
    integer, _, fraction = body.partition(".")
    if len(integer) + scale > MAX_DIGITS:
        return f"{text!r} overflows int64 at {scale} decimal places"
    return f"{text!r} has more than {scale} decimal places (finer than the unit)"


def parse_fixed_one(text, scale, *, path="<text>", line=None, field="value"):
    """Parse one decimal text exactly; see `parse_fixed`.

    Returns
    -------
    int
    """
    return int(parse_fixed([text], scale, path=path,
                           lines=None if line is None else [line], field=field)[0])


def to_units(values, scale):
    """Integers scaled by ``10**scale`` back to decimal strings (for reports).

    Parameters
    ----------
    values : iterable of int
    scale : int

    Returns
    -------
    list of str
    """
    out = []
    for v in values:
        v = int(v)
        sign = "-" if v < 0 else ""
        whole, part = divmod(abs(v), 10 ** scale)
        out.append(f"{sign}{whole}.{part:0{scale}d}" if scale else f"{sign}{whole}")
    return out
