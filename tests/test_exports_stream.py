"""A JSON log export read as a stream (`exports_stream`) gives the records the whole read
gives, wherever the pieces are cut and however little of the document is kept; an export
damaged after its first event (cut short, a broken event) gives the events before the damage
and says where it stopped; one damaged before is refused as the whole read refuses it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC

import msgspec
import pytest

from qbtrace.errors import InputError
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources.logs import _mentions, exports_stream, read_log, read_log_pieces
from qbtrace.sources.logs.driver import Tally
from qbtrace.sources.logs.exports import records
from tests import logsamples as s

MESSAGES = [
    "START RequestId: 1 Version: $LATEST",
    s.INTUITLIB_TRACEBACK,
    'a message with "quotes", braces }, {" and ], [ inside',
    s.PINO.strip(),
    s.NODE_WINSTON.strip(),
    "caf\u00e9 \u2014 nothing here",
    s.DOTNET,
    s.UNKNOWN,
]


def cloudwatch() -> bytes:
    """`aws logs filter-log-events` as the AWS CLI prints it (4-space indent)."""
    events = [
        {
            "logStreamName": f"2025/11/28/[$LATEST]{n:04x}",
            "timestamp": 1764344300000 + n,
            "message": message,
            "ingestionTime": 1764344300100 + n,
            "eventId": str(n),
        }
        for n, message in enumerate(MESSAGES * 3)
    ]
    doc = {"events": events, "searchedLogStreams": [{"logStreamName": "x"}], "nextToken": "t"}
    return json.dumps(doc, indent=4).encode()


def gcp() -> bytes:
    """`gcloud logging read --format=json`: an array of LogEntry, 2-space indent; the last
    entry spells its needle with a `\\u` escape."""
    entries = [
        {
            "insertId": f"id{n}",
            "severity": "ERROR",
            "timestamp": "2025-11-28T15:38:36Z",
            "textPayload": message,
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}},
        }
        for n, message in enumerate(MESSAGES)
    ]
    head, _, tail = json.dumps(entries, indent=2).rpartition("invalid_grant")
    return f"{head}invalid\\u005fgrant{tail}".encode()  # in the last entry, its only needle


def datadog() -> bytes:
    """Datadog's logs API answer, compact on one line."""
    data = [
        {
            "id": f"AQ{n}",
            "type": "log",
            "attributes": {"date": "2025-11-28T15:38:36Z", "service": "api", "message": m},
        }
        for n, m in enumerate(MESSAGES)
    ]
    return json.dumps({"data": data, "meta": {"page": {"after": "x"}}, "links": {}}).encode()


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[n : n + size] for n in range(0, len(data), size))


def whole(data: bytes) -> list[tuple[int, str]]:
    return [(r.index, r.text) for r in records(data, "x.json", UTC) if _mentions(r.text)]


def streamed(data: bytes, size: int) -> tuple[list[tuple[int, str]], int]:
    tally = Tally()
    got = exports_stream.stream_records(pieces(data, size), "x.json", UTC, tally)
    return [(r.index, r.text) for r in got if _mentions(r.text)], tally.lines


@pytest.mark.parametrize("make", [cloudwatch, gcp, datadog])
@pytest.mark.parametrize("size", [1, 7, 64, 1000, 1 << 20])
def test_the_stream_reads_the_records_the_whole_read_does(
    make: object, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert callable(make)
    data: bytes = make()
    monkeypatch.setattr(exports_stream, "KEEP", 16)  # cut the buffer as often as it can be
    expected = whole(data)
    assert len(expected) >= 4
    got, lines = streamed(data, size)
    assert got == expected
    assert lines == data.count(b"\n") + (not data.endswith(b"\n"))


def test_a_big_export_is_read_through_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    data = cloudwatch()
    calls: list[int] = []
    real = exports_stream.stream_records

    def counted(*args: object, **kwargs: object) -> Iterator[object]:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(exports_stream, "stream_records", counted)
    item = read_log_pieces(pieces(data, 100), "cw.json", Profile(), Redactor(b"k"), UTC)
    assert calls and item == read_log(data, "cw.json", Profile(), Redactor(b"k"), UTC)
    assert item.format is not None and "cloudwatch" in item.format


def _streamed_tally(data: bytes, size: int) -> tuple[list[tuple[int, str]], Tally]:
    tally = Tally()
    got = exports_stream.stream_records(pieces(data, size), "x.json", UTC, tally)
    return [(r.index, r.text) for r in got if _mentions(r.text)], tally


@pytest.mark.parametrize("make", [cloudwatch, gcp, datadog])
@pytest.mark.parametrize("size", [7, 64, 1 << 20])
def test_an_export_cut_short_yields_the_events_before_the_cut(make: object, size: int) -> None:
    """A download that stopped: the whole read refuses it; the stream gives every event
    that ended before the cut (the intact document's first records), and says where and
    why it stopped."""
    assert callable(make)
    data: bytes = make()
    cut = data[: len(data) * 2 // 3]
    with pytest.raises(InputError):
        whole(cut)
    got, tally = _streamed_tally(cut, size)
    intact, _ = streamed(data, size)
    assert got and got == intact[: len(got)] and len(got) < len(intact)
    assert tally.stopped is not None and "does not end" in tally.stopped
    assert tally.stopped.endswith("the events before it were read")
    assert tally.lines == cut.count(b"\n") + 1


def test_a_broken_event_stops_the_read_there_with_the_events_before_it() -> None:
    data = cloudwatch()
    at = data.index(b'"eventId"', len(data) // 2)
    broken = data[:at] + b'"eventId" "' + data[at + len(b'"eventId"') :]
    got, tally = _streamed_tally(broken, 64)
    intact, _ = streamed(data, 64)
    assert got and got == intact[: len(got)] and len(got) < len(intact)
    assert tally.stopped is not None and "not valid JSON" in tally.stopped
    assert tally.lines == broken.count(b"\n") + 1


@pytest.mark.parametrize("make", [cloudwatch, gcp, datadog])
def test_an_export_damaged_in_its_first_event_is_refused(make: object) -> None:
    assert callable(make)
    data: bytes = make()
    opening = exports_stream.OPENING.match(data)
    assert opening is not None
    cut = data[: opening.end() + 40]  # inside the first event
    with pytest.raises(InputError, match="not a JSON log export"):
        streamed(cut, 64)


def test_the_log_of_a_cut_export_warns_and_keeps_what_it_read() -> None:
    data = cloudwatch()
    cut = data[: len(data) * 2 // 3]
    item = read_log_pieces(pieces(cut, 4096), "cw.json", Profile(), Redactor(b"k"), UTC)
    full = read_log_pieces(pieces(data, 4096), "cw.json", Profile(), Redactor(b"k"), UTC)
    assert item.exchanges and item.exchanges == full.exchanges[: len(item.exchanges)]
    assert any("the events before it were read" in w for w in item.warnings)
    assert not any("the events before it were read" in w for w in full.warnings)


def test_an_export_whose_list_is_not_first_is_read_whole() -> None:
    doc = {"nextToken": "t", "events": [{"timestamp": 1, "message": s.INTUITLIB_TRACEBACK}]}
    data = json.dumps(doc, indent=4).encode()
    assert exports_stream.opening(data) is None
    item = read_log(data, "cw.json", Profile(), Redactor(b"k"), UTC)
    assert len(item.exchanges) == 1


def test_a_big_export_whose_list_is_not_first_is_refused_in_bounded_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # decoded whole it would take several times its size: past the cap, one clear error
    import qbtrace.sources.logs as logs

    events = [{"timestamp": n, "message": s.INTUITLIB_TRACEBACK} for n in range(200)]
    data = json.dumps({"nextToken": "t", "events": events}, indent=4).encode()
    pieces = [data[at : at + 4096] for at in range(0, len(data), 4096)]
    monkeypatch.setattr(logs, "WHOLE_EXPORT", len(data) - 1)
    with pytest.raises(InputError, match="list of events is not its first member") as raised:
        read_log_pieces(iter(pieces), "cw.json", Profile(), Redactor(b"k"))
    assert str(raised.value).startswith("cw.json: a JSON log export larger than ")
    monkeypatch.setattr(logs, "WHOLE_EXPORT", len(data))
    item = read_log_pieces(iter(pieces), "cw.json", Profile(), Redactor(b"k"))
    assert len(item.exchanges) == 200


def test_values_that_are_not_events_are_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """An array with strings, numbers and arrays among its events (no `},` to split on for
    a long stretch): the events' records, read one by one there."""
    monkeypatch.setattr(exports_stream, "SMALL_TAIL", 8)
    events = [{"timestamp": 1, "message": m} for m in MESSAGES]
    data = json.dumps([*(["invalid_grant", 7, [1, {"a": 2}]] * 400), *events]).encode()
    expected = [text for _, text in whole(data)]
    got, lines = streamed(data, 4096)
    assert [text for _, text in got] == expected and len(expected) >= 4
    assert lines == 1


def test_an_event_full_of_closing_braces_is_decoded_a_few_times_not_once_a_brace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last event's message holds 2,000 `},` (no run splits there, so the events are
    read one by one): its end is found by a few decodes from its start, not by trying each
    `},` as its end (that was quadratic: a 512 KB message took 23 s)."""
    decodes: list[int] = []

    class Counted:
        def decode(self, data: memoryview) -> object:
            decodes.append(len(data))
            return msgspec.json.Decoder(msgspec.Raw).decode(data)

    monkeypatch.setattr(exports_stream, "RAW", Counted())
    events = [{"timestamp": n, "message": m} for n, m in enumerate(MESSAGES)]
    events.append({"timestamp": 99, "message": "invalid_grant " + "},," * 2000})
    data = json.dumps({"events": events}).encode()
    got, _ = streamed(data, 4096)
    assert got == whole(data) and any("},," in text for _, text in got)
    assert 0 < len(decodes) < 4 * len(events)
