"""The pre-filter and record assembly: records found whole, once, with their first line's
index, wherever the scan windows cut the file."""

from __future__ import annotations

import pytest

from qbtrace.sources.logs import driver
from tests import logsamples as s


def found(text: str) -> list[tuple[int, str]]:
    return [(span.index, span.data.decode()) for span in driver.spans(text.encode())]


def test_traceback_is_assembled_up_to_its_logging_line() -> None:
    [(index, record)] = found(s.NOISE + s.INTUITLIB_TRACEBACK + s.NOISE)
    assert index == 2
    assert record.startswith("2025-11-28 15:38:36,812 ERROR tokens:")
    assert record.endswith("at time Fri, 28 Nov 2025 15:38:36 GMT")


def test_node_console_error_object_continues_below_its_first_line() -> None:
    text = (
        "Error: invalid_grant\n"
        "    at OAuthClient.refreshUsingToken (OAuthClient.js:310:11) {\n"
        "  error: 'invalid_grant',\n"
        f"  intuit_tid: '{s.TID_1}',\n"
        "  originalMessage: 'Request failed with status code 400'\n"
        "}\n"
        "next line\n"
    )
    [(index, record)] = found(text)
    assert index == 0 and record.endswith("}")


def test_dotnet_request_lines_join_up_to_the_response() -> None:
    [(index, record)] = found(s.NOISE + s.DOTNET)
    assert index == 2 and record.count("\n") == 4


def test_json_lines_are_one_record_each() -> None:
    assert [i for i, _ in found(s.PINO + s.NOISE + s.PINO)] == [0, 3]


def test_records_across_window_edges_are_found_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver, "WINDOW", 97)
    monkeypatch.setattr(driver, "CONTEXT", 4096)
    text = (s.NOISE * 3 + s.INTUITLIB_TRACEBACK) * 5 + s.NOISE
    tally = driver.Tally()
    spans = list(driver.spans(text.encode(), tally))
    per_block = 6 + s.INTUITLIB_TRACEBACK.count("\n")
    assert [span.index for span in spans] == [6 + n * per_block for n in range(5)]
    assert all(span.data.decode() == s.INTUITLIB_TRACEBACK.rstrip("\n") for span in spans)
    assert tally.lines == text.count("\n")


def test_last_line_without_newline_counts() -> None:
    tally = driver.Tally()
    list(driver.spans(b"a\nb\nc", tally))
    assert tally.lines == 3


def test_fallback_finder_agrees_with_aho_corasick() -> None:
    text = (s.NODE_WINSTON + s.DOTNET + s.PINO + s.NOISE).encode()
    plain = driver._Finder()
    plain._ac = None
    assert plain.hits(text, 0, len(text)) == driver.FINDER.hits(text, 0, len(text))


@pytest.mark.parametrize("block", [2048, 2500, 4099, 7777])
def test_pieces_cut_anywhere_give_the_same_records(
    monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """A file is read in fixed blocks (at least CONTEXT long, but the last): needles and
    records across every cut are found once."""
    monkeypatch.setattr(driver, "CONTEXT", 2048)
    text = (s.NOISE + s.INTUITLIB_TRACEBACK + s.PINO + s.DOTNET + s.NODE_WINSTON) * 6
    data = text.encode()
    whole = [(x.index, x.data) for x in driver.spans(data)]
    pieces = [data[i : i + block] for i in range(0, len(data), block)]
    tally = driver.Tally()
    assert [(x.index, x.data) for x in driver.spans_of(pieces, tally)] == whole
    assert tally.lines == text.count("\n") and len(whole) == 6 * 6


def test_a_cut_inside_any_needle_finds_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pieces cut at every byte around every needle of the text: the same records."""
    monkeypatch.setattr(driver, "CONTEXT", 2048)
    data = (s.NOISE * 30 + s.INTUITLIB_TRACEBACK + s.PINO + s.DOTNET + s.NODE_WINSTON).encode()
    whole = [(x.index, x.data) for x in driver.spans(data)]
    starts = driver.FINDER.hits(data, 2048 + driver.LONGEST, len(data))
    assert len(starts) > 5
    for at in starts:
        for cut in range(at - 1, at + driver.LONGEST + 1):
            pieces = [data[:cut], data[cut:]]
            assert [(x.index, x.data) for x in driver.spans_of(pieces)] == whole, cut
