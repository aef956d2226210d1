"""Exact decimal parsing: engine.io.decimals."""
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, strategies as st

from engine.io.decimals import FormatError, parse_fixed, parse_fixed_one, to_units


def test_parses_exactly_where_floats_do_not():
    # 0.1 + 0.2 != 0.3 in binary floating point; in lots it must be exact.
    tenths = parse_fixed(["0.1", "0.2", "0.3"], 1)
    assert tenths[0] + tenths[1] == tenths[2]
    assert parse_fixed([b"61800.20", b"0.014", b"-3", b"7", b"0.000", b"12."], 3).tolist() == [
        61800200, 14, -3000, 7000, 0, 12000]
    # 2**53 + 1 is not a double; as text it stays exact.
    assert parse_fixed_one("9007199254740993", 0) == 9007199254740993


@given(st.integers(-10 ** 15, 10 ** 15), st.integers(0, 3), st.integers(0, 3))
def test_round_trip(value, scale, padding):
    text = to_units([value], scale)[0]
    assert int(parse_fixed([text], scale)[0]) == value
    assert Decimal(text) * 10 ** scale == value
    if scale:   # trailing zeros beyond the unit are exact too
        assert int(parse_fixed([text + "0" * padding], scale)[0]) == value


@pytest.mark.parametrize("text, problem", [
    ("1.2.3", "not a decimal number"),
    ("abc", "not a decimal number"),
    ("", "not a decimal number"),
    ("-", "not a decimal number"),
    (".", "not a decimal number"),
    ("1e5", "not a decimal number"),
    (" 1", "not a decimal number"),
    ("1.0001", "finer than the unit"),
    ("99999999999999999", "overflows int64"),
])
def test_malformed_text_names_file_line_and_field(text, problem):
    with pytest.raises(FormatError) as raised:
        parse_fixed(["1", "2", text], 3, path="prices.csv", lines=[7, 8, 9], field="price")
    error = raised.value
    assert (error.path, error.line, error.field) == ("prices.csv", 9, "price")
    assert problem in str(error) and str(error).startswith("prices.csv:9: field 'price'")


def test_rounding_mode_for_float_printed_files():
    values = parse_fixed(["1.7885566900000001", "0.000000015", "0.000000025", "2.5"], 8, rounding=True)
    assert values.tolist() == [178855669, 2, 2, 250000000]
    assert parse_fixed(["2.5", "3.5", "-2.5"], 0, rounding=True).tolist() == [2, 4, -2]


def test_large_batches_parse_in_chunks():
    values = np.arange(300_000, dtype=np.int64) * 7 - 1_000_000
    text = np.array(to_units(values, 2))
    assert np.array_equal(parse_fixed(text, 2), values)


def test_leading_zeros_do_not_count_towards_overflow():
    assert parse_fixed(["0000000000000000001", "00000000000000001.00"], 2).tolist() == [100, 100]
    with pytest.raises(FormatError, match="overflows"):
        parse_fixed(["100000000000000000.00"], 2)                 # 10**19 > INT64_MAX
