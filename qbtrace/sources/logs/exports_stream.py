"""A JSON log export read event by event, in memory bounded by a few pieces, not by the file.

`exports.records` decodes a document whole: a 1 GB `aws logs filter-log-events` output (or a
GCP array, a Datadog API dump) would take several times its size in Python objects. Here
the document is read as a stream of pieces: the list of events is found at its start (a
top-level array, or an object whose first member is one of `exports.LIST_KEYS`; anything
else is left to the whole read). The events in the bytes read are split and checked by one
msgspec decode of the run up to the last `},` (`list[msgspec.Raw]`: each event's exact
bytes, no objects built) and walked by their lengths; the event a piece cuts (or a run
that does not decode: its `},` was inside a string) is read alone, its end where msgspec,
decoding a value from its start, finds other bytes after it (`_Buffer.item_end`).
Only the events whose bytes hold a needle of `driver.NEEDLES` (or a `\\u` escape, which
may spell one) are decoded. What follows the list is decoded whole, as the rest of the
document. A document damaged after its first event (a download cut short, a broken event)
yields the events before the damage, and `Tally.stopped` says where it stopped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import tzinfo
from typing import Any

import ahocorasick_rs
import msgspec

from qbtrace.errors import InputError
from qbtrace.sources.logs.driver import NEEDLES, Tally
from qbtrace.sources.logs.exports import LIST_KEYS
from qbtrace.sources.logs.hits import Record
from qbtrace.sources.logs.wrappers import from_object

OPENING = re.compile(
    rb'\s*(?:\[|\{\s*"(' + b"|".join(k.encode() for k in LIST_KEYS) + rb')"\s*:\s*\[)'
)
TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")
TRUNCATED = "Input data was truncated"
"""How msgspec says where a value ends before other bytes, and that it has not ended."""
SPACE = re.compile(rb"\s*")
SEPARATOR = re.compile(rb"\s*+([,\]])\s*+")
MARKS = ahocorasick_rs.BytesAhoCorasick([*NEEDLES, b"\\u"])
KEEP = 1 << 20
"""Consumed bytes kept before the buffer is cut (a cut copies what is left)."""
RAW = msgspec.json.Decoder(msgspec.Raw)
RAWS = msgspec.json.Decoder(list[msgspec.Raw])
BULK_PAUSE = 1000
"""Events read one by one after a run that could not be split, before trying again."""
SMALL_TAIL = 1 << 16


def opening(head: bytes) -> str | None:
    """The list's key (`""` for a top-level array) when the head opens a list of events the
    stream can read, else None (read the document whole)."""
    found = OPENING.match(head)
    if found is None:
        return None
    return found.group(1).decode() if found.group(1) else ""


def stream_records(
    pieces: Iterable[bytes], source: str, zone: tzinfo, tally: Tally
) -> Iterator[Record]:
    """The events of the export that may mention a token request, as records (the line of
    each event's `{` its index); `tally` gets the document's lines once it is read."""
    buf = _Buffer(iter(pieces), source)
    buf.fill(1 << 16)
    found = OPENING.match(buf.data)
    if found is None:
        raise InputError("not a JSON log export this reader streams", source=source)
    key = found.group(1).decode() if found.group(1) else ""
    pos = first = buf.skip_space(found.end())
    try:
        yield from _events(buf, pos, key, zone)
    except _Damaged as damaged:
        if damaged.pos <= first:  # not one event read: not an export this reader reads
            raise
        tally.stopped = f"{damaged.what} at byte {damaged.pos}: the events before it were read"
        tally.lines = buf.count_to_end()
        return
    tally.lines = buf.lines_to_end()


def _events(buf: _Buffer, pos: int, key: str, zone: tzinfo) -> Iterator[Record]:
    """The records of the list's events from `pos`, then the document's rest checked."""
    empty = buf.at(pos) == b"]"
    calm = 0  # events to read one by one after a run that did not decode
    while not empty:
        if calm <= 0:
            pos, records, ran = _run(buf, pos, zone)
            yield from records
            calm = 0 if ran else BULK_PAUSE
        calm -= 1
        end = buf.item_end(pos)
        if buf.marked(pos, end):
            record = _record(buf, pos, end, zone)
            if record is not None:
                yield record
        got = SEPARATOR.match(buf.data, end - buf.base)
        if got is not None and got.end() < len(buf.data):  # the common case, in one match
            pos = got.end() + buf.base
            if got.group(1) == b"]":
                break
            continue
        pos = buf.skip_space(end)
        sep = buf.at(pos)
        if sep == b"]":
            pos += 1
            break
        if sep != b",":
            raise buf.damaged(pos, "an event is not followed by `,` or `]`")
        pos = buf.skip_space(pos + 1)
    _rest(buf, pos + 1 if empty else pos, key)


def _run(buf: _Buffer, pos: int, zone: tzinfo) -> tuple[int, list[Record], bool]:
    """The whole events from `pos` to the last `},` of the bytes read, split and checked by
    one msgspec decode (`list[Raw]`: each event's exact bytes, nothing built), then walked
    by their lengths: where the next event starts is one match of the separator. Returns
    where the run stopped, its marked events' records, and whether a run was read."""
    data, base = buf.data, buf.base
    end = data.rfind(b"},", pos - base)
    raws: list[msgspec.Raw] | None = None
    for _ in range(3):  # a `},` inside a string or a nested object: try an earlier one
        if end < 0:  # no `},` left: at the end of the bytes read, the next piece has one;
            # in many bytes, the events are not objects: one by one for a while
            return pos, [], len(data) - (pos - base) < SMALL_TAIL
        try:
            raws = RAWS.decode(b"[" + data[pos - base : end + 1] + b"]")
            break
        except msgspec.DecodeError:
            end = data.rfind(b"},", pos - base, end)
    if raws is None:
        return pos, [], False
    records: list[Record] = []
    at = pos - base
    view = buf.view(pos, end + 1 + base)
    marks = [m + at for _, m, _ in MARKS.find_matches_as_indexes(view)]  # relative to data
    view.release()
    marks.append(len(data))
    k = 0
    for raw in raws:
        stop = at + len(raw)
        if marks[k] < stop:  # a needle in this event (none lie between events)
            item: Any = msgspec.json.decode(raw)
            record = _from_item(buf, at + base, item, zone)
            if record is not None:
                records.append(record)
            while marks[k] < stop:
                k += 1
        got = SEPARATOR.match(data, stop)
        assert got is not None and got.group(1) == b","  # what the decode checked
        at = got.end()
    return at + base, records, True


def _record(buf: _Buffer, start: int, end: int, zone: tzinfo) -> Record | None:
    item: Any = msgspec.json.decode(buf.view(start, end))
    return _from_item(buf, start, item, zone)


def _from_item(buf: _Buffer, start: int, item: Any, zone: tzinfo) -> Record | None:
    if not isinstance(item, Mapping):
        return None
    if isinstance(item.get("attributes"), Mapping) and "message" not in item:
        item = item["attributes"]
    return from_object(buf.line_of(start), item, zone)


def _rest(buf: _Buffer, pos: int, key: str) -> None:
    """What follows the list: nothing for an array; for an object its other members, which
    must make valid JSON and hold no list of events that the whole read would prefer."""
    rest = buf.rest(pos)
    if not key:
        if rest.strip():
            raise buf.damaged(pos, "bytes after the array of events")
        return
    try:
        doc = msgspec.json.decode(b'{"":0' + rest)
    except msgspec.DecodeError:
        raise buf.damaged(pos, "what follows the list of events is not valid JSON") from None
    preferred = LIST_KEYS[: LIST_KEYS.index(key)]
    if isinstance(doc, dict) and any(isinstance(doc.get(k), list) for k in preferred):
        raise InputError("a JSON export with more than one list of log events", source=buf.source)


class _Damaged(InputError):
    def __init__(self, what: str, pos: int, source: str) -> None:
        super().__init__(f"not a JSON log export ({what}, byte {pos})", source=source)
        self.what, self.pos = what, pos


class _Buffer:
    """The document's bytes from `base` on, read piece by piece; positions are absolute."""

    def __init__(self, pieces: Iterator[bytes], source: str) -> None:
        self.pieces, self.source = pieces, source
        self.data = b""
        self.base = 0
        self.ended = False
        self.lines = 0
        """Newlines before `counted`."""
        self.counted = 0

    def more(self, keep_from: int, at_least: int = 1) -> bool:
        """Read pieces until `at_least` bytes more (or the document's end), dropping the
        bytes before `keep_from` (less KEEP): one copy of what is kept, however many
        pieces (a piece added at a time copied a long event once a piece)."""
        got: list[bytes] = []
        size = 0
        while size < at_least and (piece := next(self.pieces, b"")):
            got.append(piece)
            size += len(piece)
        if not got:
            self.ended = True
            return False
        cut = max(keep_from - KEEP - self.base, 0)
        if cut and self.counted < self.base + cut:  # the newlines of the bytes dropped
            self.line_of(self.base + cut)
        with memoryview(self.data) as kept:
            self.data = b"".join((kept[cut:], *got))
        self.base += cut
        return True

    def fill(self, size: int) -> None:
        while len(self.data) < size and self.more(0):
            pass

    def at(self, pos: int) -> bytes:
        while pos - self.base >= len(self.data) and self.more(pos):
            pass
        return self.data[pos - self.base : pos - self.base + 1]

    def view(self, start: int, end: int) -> memoryview:
        return memoryview(self.data)[start - self.base : end - self.base]

    def skip_space(self, pos: int) -> int:
        while True:
            got = SPACE.match(self.data, pos - self.base)
            assert got is not None
            end = got.end() + self.base
            if end - self.base < len(self.data) or not self.more(pos):
                return end
            pos = end

    def item_end(self, start: int) -> int:
        """Where the event starting at `start` (any JSON value) is followed by other bytes:
        msgspec, decoding from `start`, stops at the value's end and says where. One pass
        over the event however many `},` its strings hold (trying each `},` as its end
        decoded the event again at each: a 512 KB message took 23 s)."""
        while True:
            try:
                RAW.decode(self.view(start, self.base + len(self.data)))
            except msgspec.DecodeError as exc:
                after = TRAILING.search(str(exc))
                if after is not None:
                    return start + int(after.group(1)) - 1  # msgspec counts from 1
                if not str(exc).startswith(TRUNCATED):
                    raise self.damaged(start, "an event that is not valid JSON") from None
                if not self.grow(start):
                    raise self.damaged(start, "an event that does not end") from None
            else:  # the value ends the bytes read: what follows it is in the next piece
                if not self.grow(start):
                    return self.base + len(self.data)

    def grow(self, start: int) -> bool:
        """Read until the bytes from `start` are twice as many (or the document ends), so
        a value over many pieces is decoded a few times, not once a piece."""
        return self.more(start, max(len(self.data) - (start - self.base), 1))

    def marked(self, start: int, end: int) -> bool:
        """Whether a needle (or a `\\u` escape) starts in [start, end)."""
        view = self.view(start, end)
        found = bool(MARKS.find_matches_as_indexes(view))
        view.release()
        return found

    def line_of(self, pos: int) -> int:
        """Newlines before `pos` (at or after the last position asked)."""
        self.lines += self.data.count(b"\n", self.counted - self.base, pos - self.base)
        self.counted = pos
        return self.lines

    def rest(self, pos: int) -> bytes:
        """Every byte from `pos` to the end of the document."""
        while self.more(pos):
            pass
        return self.data[pos - self.base :]

    def lines_to_end(self) -> int:
        end = self.base + len(self.data)
        last = self.data[-1:]
        return self.line_of(end) + (bool(last) and last != b"\n")

    def count_to_end(self) -> int:
        """The document's lines, reading the rest piece by piece without keeping it."""
        lines = self.line_of(self.base + len(self.data))
        last = self.data[-1:]
        for piece in self.pieces:
            lines += piece.count(b"\n")
            last = piece[-1:] or last
        return lines + (bool(last) and last != b"\n")

    def damaged(self, pos: int, what: str) -> _Damaged:
        return _Damaged(what, pos, self.source)
