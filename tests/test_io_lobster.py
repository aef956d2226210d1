"""LOBSTER loader, writer and replay, on files recorded from engine runs."""
import numpy as np
import pytest

import engine
from engine import BUY, SELL, LIMIT, CANCEL, REDUCE, MARKET, ORDER_DTYPE
from engine.io import lobster
from engine.io.decimals import FormatError
from engine.io.lobster import LobsterWriter


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lobster")
    message_csv = folder / "TEST_2012-06-21_34200000_57600000_message_10.csv"
    orderbook_csv = folder / "TEST_2012-06-21_34200000_57600000_orderbook_10.csv"
    final_book = lobster.generate(message_csv, orderbook_csv, messages=3_000, seed=7)
    return message_csv, orderbook_csv, final_book


def _order(**fields):
    row = np.zeros(1, ORDER_DTYPE)[0]
    row["owner"] = -1
    for name, value in fields.items():
        row[name] = value
    return row


def test_generated_files_cover_every_message_type(generated):
    message_csv, _, _ = generated
    messages = lobster.read_messages(message_csv)
    assert set(np.unique(messages["type"]).tolist()) == {1, 2, 3, 4, 5, 6, 7}


def test_replay_agrees_with_every_row(generated):
    message_csv, orderbook_csv, final_book = generated
    report = lobster.replay(message_csv, orderbook_csv)
    assert report.rows_compared == report.messages == len(lobster.read_messages(message_csv)["type"])
    assert report.rows_differing == 0 and report.first_differing_row is None
    assert report.pre_existing_messages > 0          # orders resting before the file began
    assert report.rejected == 0 and report.short_reductions == 0 and report.engine_trades == 0
    assert report.hidden_executions > 0 and report.cross_trades > 0 and report.halts == 3
    # Visible executions trade through the book: every lot the file reports executed.
    assert len(report.executions) > 0
    assert report.executed_volume == int(report.executions["qty"].sum())
    assert report.tick == 100
    # The replayed book holds the same levels as the book that wrote the files.
    for side in (BUY, SELL):
        ours, theirs = report.book.depth(side, 10), final_book.depth(side, 10)
        assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])
    report.book.check_invariants()


def test_fewer_levels_and_stop_at(generated):
    message_csv, orderbook_csv, _ = generated
    report = lobster.replay(message_csv, orderbook_csv, levels=3, stop_at=500)
    assert report.rows_compared == 500 and report.rows_differing == 0 and report.levels == 3
    rows = lobster.read_orderbook(orderbook_csv)
    ask_p, ask_q = report.book.depth(SELL, 1)
    bid_p, bid_q = report.book.depth(BUY, 1)
    assert rows[499, :4].tolist() == [ask_p[0] * 100, ask_q[0], bid_p[0] * 100, bid_q[0]]
    with pytest.raises(ValueError, match="levels"):
        lobster.replay(message_csv, orderbook_csv, levels=11)


def test_executions_are_recorded(generated):
    message_csv, orderbook_csv, _ = generated
    report = lobster.replay(message_csv, orderbook_csv, check=False)
    messages = lobster.read_messages(message_csv)
    executed = messages["type"] == 4
    assert len(report.executions) == executed.sum()
    assert report.executions["qty"].sum() == messages["size"][executed].sum()
    assert np.array_equal(report.executions["maker_id"], messages["id"][executed])


def test_a_wrong_row_is_found(generated, tmp_path):
    message_csv, orderbook_csv, _ = generated
    lines = orderbook_csv.read_text().splitlines()
    cells = lines[99].split(",")
    cells[1] = str(int(cells[1]) + 100)          # AskSize1 of row 100
    lines[99] = ",".join(cells)
    broken = tmp_path / "orderbook.csv"
    broken.write_text("\n".join(lines) + "\n")
    report = lobster.replay(message_csv, broken)
    assert report.rows_differing == 1 and report.first_differing_row == 100
    assert "AskSize1" in report.first_difference


def test_hand_written_file_with_every_type_and_a_pre_existing_order(tmp_path):
    # Before the file: order 7 rests as a bid of 500 at 100.00; the book is 1 level deep.
    messages = [
        "34200.000000001,1,11,300,1001000,-1",   # new ask 300 @ 100.10
        "34200.000000002,1,12,200,1000000,1",    # new bid 200 @ 100.00, behind order 7
        "34200.000000003,2,7,100,1000000,1",     # partial cancel of pre-existing order 7
        "34200.000000004,4,7,150,1000000,1",     # execution of pre-existing order 7
        "34200.000000005,5,0,50,1000500,1",      # hidden execution: nothing visible changes
        "34200.000000006,4,11,300,1001000,-1",   # order 11 executed in full
        "34200.000000007,6,99,1000,1000500,-1",  # cross trade
        "34200.000000008,7,0,0,-1,-1",           # halt
        "34200.000000009,7,0,0,1,-1",            # resume
        "34200.000000010,3,7,250,1000000,1",     # deletion of the rest of order 7
        "34200.000000011,3,12,200,1000000,1",    # deletion of order 12
    ]
    books = [
        "1001000,300,1000000,500",
        "1001000,300,1000000,700",
        "1001000,300,1000000,600",
        "1001000,300,1000000,450",
        "1001000,300,1000000,450",
        "9999999999,0,1000000,450",
        "9999999999,0,1000000,450",
        "9999999999,0,1000000,450",
        "9999999999,0,1000000,450",
        "9999999999,0,1000000,200",
        "9999999999,0,-9999999999,0",
    ]
    (tmp_path / "m.csv").write_text("\n".join(messages) + "\n")
    (tmp_path / "o.csv").write_text("\r\n".join(books) + "\r\n")   # CRLF is fine too
    report = lobster.replay(tmp_path / "m.csv", tmp_path / "o.csv")
    assert report.rows_differing == 0, report.first_difference
    assert report.pre_existing_messages == 3
    assert (report.hidden_executions, report.cross_trades, report.halts) == (1, 1, 2)
    assert report.executions["qty"].tolist() == [150, 300]
    assert report.executions["taker_side"].tolist() == [SELL, BUY]
    assert len(report.book) == 0
    # The book after four messages: order 7's 250 left (as seeded volume) ahead of order 12.
    early = lobster.replay(tmp_path / "m.csv", tmp_path / "o.csv", stop_at=4)
    ids, qtys, _ = early.book.queue(1_000_000 // early.tick)
    assert qtys.tolist() == [250, 200] and ids[1] == 12


def test_writer_records_sweeps_as_executions(tmp_path):
    book = engine.Book(1, 10_000)
    book.limit(1, SELL, 101, 5)
    book.limit(2, SELL, 102, 5)
    book.limit(3, BUY, 99, 5)
    with LobsterWriter(book, tmp_path / "m.csv", tmp_path / "o.csv", levels=2, tick=100) as writer:
        writer.send(_order(id=10, side=BUY, kind=LIMIT, price=102, qty=8), 34_200 * 10 ** 9)
        writer.send(_order(id=11, side=SELL, kind=MARKET, qty=1), 34_201 * 10 ** 9)
        writer.send(_order(id=3, kind=REDUCE, qty=2), 34_202 * 10 ** 9)
        writer.send(_order(id=2, kind=CANCEL), 34_203 * 10 ** 9)
    lines = (tmp_path / "m.csv").read_text().splitlines()
    assert [line.split(",")[1] for line in lines] == ["4", "4", "4", "2", "3"]
    assert lines[0] == "34200.000000000,4,1,5,10100,-1"
    assert lines[2] == "34201.000000000,4,3,1,9900,1"
    rows = (tmp_path / "o.csv").read_text().splitlines()
    assert rows[0] == "10200,5,9900,5,9999999999,0,-9999999999,0"
    assert rows[1] == "10200,2,9900,5,9999999999,0,-9999999999,0"
    report = lobster.replay(tmp_path / "m.csv", tmp_path / "o.csv")
    assert report.rows_differing == 0, report.first_difference


@pytest.mark.parametrize("line, field, problem", [
    ("34200.1,1,5,100,1000000", None, "expected 6 comma-separated fields, found 5"),
    ("34200.1,1,5,100,1000000,1,9", None, "found 7"),
    ("", None, "empty line"),
    ("34200.1,8,5,100,1000000,1", "type", "type must be 1..7"),
    ("34200.1,1,5,100,1000000,0", "direction", "direction must be 1 or -1"),
    ("34200.1,1,5,0,1000000,1", "size", "size must be > 0"),
    ("34200.1,1,5,100,abc,1", "price", "not a decimal number"),
    ("34200.1,1,5,1.5,1000000,1", "size", "finer than the unit"),
    ("3420x,1,5,100,1000000,1", "time_ns", "not a decimal number"),
])
def test_malformed_message_lines(tmp_path, line, field, problem):
    good = "34200.0,1,4,100,1000000,1"
    path = tmp_path / "message.csv"
    path.write_text(f"{good}\n{good}\n{line}\n{good}\n")
    with pytest.raises(FormatError) as raised:
        lobster.read_messages(path)
    assert raised.value.line == 3 and raised.value.field == field
    assert problem in str(raised.value) and str(path) in str(raised.value)


def test_malformed_orderbook_lines(tmp_path):
    path = tmp_path / "orderbook.csv"
    path.write_text("1001000,300,1000000,500\n1001000,-3,1000000,500\n")
    with pytest.raises(FormatError, match=r"orderbook.csv:2: field 'AskSize1'"):
        lobster.read_orderbook(path)
    path.write_text("1001000,300,1000000\n")
    with pytest.raises(FormatError, match="4 columns per level"):
        lobster.read_orderbook(path)
    path.write_text("1001000,300,1000000,500\n1001000,300,1000000,x\n")
    with pytest.raises(FormatError, match=r":2: field 'BidSize1'"):
        lobster.read_orderbook(path)


def test_row_count_mismatch(tmp_path):
    (tmp_path / "m.csv").write_text("34200.0,1,4,100,1000000,1\n34200.0,1,5,100,1000000,1\n")
    (tmp_path / "o.csv").write_text("9999999999,0,1000000,100\n")
    with pytest.raises(FormatError, match="1 rows, but the message file has 2"):
        lobster.replay(tmp_path / "m.csv", tmp_path / "o.csv")


def test_seed_book_from_an_orderbook_row(generated):
    _, orderbook_csv, _ = generated
    book = lobster.book_from_orderbook(orderbook_csv, row=10)
    row = lobster.read_orderbook(orderbook_csv)[10]
    assert book.best_ask() * 100 == row[0] and book.best_bid() * 100 == row[2]
    assert book.depth(SELL, 1)[1][0] == row[1]


def test_pre_existing_orders_deeper_than_the_first_row_are_discovered(tmp_path):
    message_csv, orderbook_csv = tmp_path / "m.csv", tmp_path / "o.csv"
    lobster.generate(message_csv, orderbook_csv, messages=2_000, seed=2, resting=400, resting_depth=40)
    report = lobster.replay(message_csv, orderbook_csv)
    assert report.rows_differing == 0, report.first_difference
    assert report.discovered_levels > 0 and report.discovered_volume > 0
    assert report.unseen_pre_existing > 0 and report.rejected == 0


def test_every_rejected_message_is_counted(tmp_path):
    # Order 11 is deleted twice: the second CANCEL is rejected (UNKNOWN_ID, an even code).
    messages = tmp_path / "m.csv"
    messages.write_text("34200.0,1,11,100,5850000,1\n34200.1,3,11,100,5850000,1\n"
                        "34200.2,3,11,100,5850000,1\n")
    row = lambda bid_qty: f"5860000,100,{'5850000' if bid_qty else '-9999999999'},{bid_qty}"
    book = tmp_path / "o.csv"
    book.write_text("\n".join([row(100), row(0), row(0)]) + "\n")
    report = lobster.replay(messages, book)
    assert report.rejected == 1 and report.unseen_pre_existing == 0


def test_seeding_refuses_a_price_the_tick_does_not_divide(tmp_path):
    book = tmp_path / "o.csv"
    book.write_text("5850050,100,5840000,200\n")
    with pytest.raises(ValueError, match="5850050"):
        lobster.book_from_orderbook(book, tick=100)
    assert lobster.book_from_orderbook(book, tick=50).best_ask() == 117001
