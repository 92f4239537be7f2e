"""The skeleton of a timeline: one row of columns per exchange, without `Exchange` objects.

A platform's capture holds millions of healthy refreshes, and a Python `Exchange` (with its
`TokenRequest`, `Secret`s and dicts) per record cannot fit in memory at ten million. The
skeleton keeps, per exchange, only what decides which exchanges a failure's rules can reach
(who issued or spent which token, client secrets, consents) in a polars frame; `bulk` picks
the failures' neighbourhoods from it and only those become real `Exchange`s.

Two builders give the same columns: `from_exchanges` (any reader's exchanges, already on
the timeline) and `CaptureSkeleton` (`read_capture`), which decodes each capture line with a
light typed decoder (the few fields the columns need) in chunks, never the whole record.
Lines the light decoder does not take (headers, raw records, unusual values) are decoded in
full as `qbtrace.sources.capture` does, and their `Exchange`s kept.
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import cache
from io import BufferedReader
from pathlib import Path
from typing import Any, BinaryIO, cast

import msgspec
import polars as pl

from qbtrace.capture import (
    HEADER_KEY,
    ExchangeRecord,
    Header,
    RawRecord,
    decode_exchange_line,
    decode_line,
)
from qbtrace.capture import record_exchange as as_exchange
from qbtrace.errors import InputError
from qbtrace.lineage import TRUNCATION_PREFIX
from qbtrace.model import Exchange, Kind, Ref
from qbtrace.providers import host_of
from qbtrace.redact import HEAD_LENGTHS, Redactor, Secret
from qbtrace.sources.build import NONSENSE_GAPS, TIME_RANGE, build_exchange, sane_exchange
from qbtrace.sources.capture import CaptureFile, _checked

CHUNK = 32 << 20
"""Bytes of lines decoded at a time: the Python objects of one chunk, then its columns."""
UNITS = 8
"""Units a chunk is cut into for a parallel read (`parallel`): a process claims up to a
chunk's worth at a time, the last claims a unit each, so the processes end together."""
COLUMNS: dict[str, type[pl.DataType] | pl.DataType] = {
    "line": pl.Int64,
    "kind": pl.Categorical,
    "started": pl.Float64,
    "ended": pl.Float64,
    "status": pl.Int64,
    "grant": pl.Categorical,
    "code": pl.String,
    "refresh": pl.String,
    "rt": pl.String,
    "rt_canon": pl.String,
    "rt_heads": pl.Binary,
    "at": pl.String,
    "at_canon": pl.String,
    "client_id": pl.Categorical,
    "secret": pl.String,  # a categorical once hexed (`frame`)
    "revoked": pl.String,
    "url": pl.Categorical,
    "request_id": pl.String,
    "date": pl.String,
    "offset": pl.Int64,
    "length": pl.Int32,
}
"""What is gathered per exchange: its line (`Ref.index`); tags of the code and refresh
token sent, of the refresh and access token issued (with their canonical hex, and the issued
refresh token's prefix digests, `Secret.heads` as JSON); the client id and secret; the token
a revoke named; what the provider's clock reads from; where a capture line sits in its file.
`Columns.frame` turns them into the skeleton's columns (`frame`'s docstring)."""
HEADS = tuple(n for n in HEAD_LENGTHS if n >= TRUNCATION_PREFIX)
"""The prefix lengths of `redact.HEAD_LENGTHS` a truncated copy is recognised by
(`lineage.TRUNCATION_PREFIX` and longer): the skeleton keeps these digests of issued
refresh tokens as `h32`, `h64`... (32 and 64 today)."""


class _Tag(msgspec.Struct, frozen=True, gc=False):
    tag: str
    canon: str


class _Sent(msgspec.Struct, frozen=True, gc=False):
    """A secret sent (code, token, client secret): only its tag is read (its canonical hex
    is skipped unread: two strings fewer a line, 6% of the decode)."""

    tag: str


class _Issued(msgspec.Struct, frozen=True, gc=False):
    tag: str
    canon: str
    heads: msgspec.Raw
    """Kept as JSON text: the bulk path looks for a digest in it (`bulk.neighbourhood`)."""


NO_TAG = _Tag(None, None)  # type: ignore[arg-type]
NO_SENT = _Sent(None)  # type: ignore[arg-type]
NO_ISSUED = _Issued(None, None, msgspec.Raw(b""))  # type: ignore[arg-type]
"""What a struct field missing from a record reads as: `tag` None, as a missing token's
tag is. With these as defaults a column is one attribute chain a row (`Columns.add_light`);
only an explicit null stops one (then `_dig` reads it)."""


class _Params(msgspec.Struct, frozen=True, gc=False):
    grant_type: str | None = None
    code: _Sent | None = NO_SENT
    refresh_token: _Sent | None = NO_SENT
    token: _Sent | None = NO_SENT


class _Reply(msgspec.Struct, frozen=True, gc=False):
    refresh_token: _Issued | None = NO_ISSUED
    access_token: _Tag | None = NO_TAG


class _Client(msgspec.Struct, frozen=True, gc=False):
    client_id: str | None = None
    secret: _Sent | None = NO_SENT


NO_CLIENT = _Client()


class _Light(msgspec.Struct, gc=False):
    """What the columns need of an exchange record (unknown fields are skipped unread)."""

    kind: Kind
    started: float | None
    ended: float | None
    method: str
    url: str
    params: _Params
    status: int | None
    reply: _Reply = _Reply()
    headers: Any = None
    """A struct of the few headers read (`decoders`): the others are skipped unread."""
    client: _Client | None = NO_CLIENT
    raw: msgspec.UnsetType = msgspec.UNSET
    qbtrace_capture: msgspec.UnsetType = msgspec.UNSET
    """A raw record or a header (`decode_line` reads those so when these keys are there)
    is no light one: any value here fails the decode."""


@cache
def decoders(names: tuple[str, ...]) -> tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]:
    """Decoders of a chunk of records and of one, reading headers `names` (as `h0`, `h1`...)
    and `date`: a struct of a few fields decodes faster than a dict of all headers."""
    fields = [(f"h{n}", str | None, None) for n in range(len(names) + 1)]
    rename = {f"h{n}": name for n, name in enumerate((*names, "date"))}
    headers = msgspec.defstruct("_Headers", fields, rename=rename, frozen=True, gc=False)
    light = msgspec.defstruct(
        "_LightRecord",
        [("headers", headers, headers())],
        bases=(_Light,),
        gc=False,
    )
    return msgspec.json.Decoder(list[light]), msgspec.json.Decoder(light)  # type: ignore[valid-type]


_FULL_MARKS = (HEADER_KEY.encode(), b'"raw"')
BATCH = 200
"""Lines decoded at once: their objects are read into columns while still in the CPU's
cache, then freed (decoding a 32 MB chunk at once costs ~1.4x the CPU a line)."""
NEWLINE, OPEN, COMMA, CLOSE = b"\n[,]"
_SPARE: list[bytearray] = []
"""A read's buffer, kept for the next (a worker reads many ranges): a fresh one costs its
pages' zeroing again, about a copy of it. Taken and given back whole, so threads share it
safely."""
NO_HEADER = "qbtrace-no-request-id"
ISSUED = ("rt", "rt_canon", "rt_heads", "at", "at_canon")


def _hexed(column: str) -> pl.Expr:
    """`Secret.hex` of a column of tags: what follows the first colon ("" without one)."""
    rest = pl.col(column).cast(pl.String).str.splitn(":", 2).struct.field("field_1")
    return pl.when(pl.col(column).is_not_null()).then(rest.fill_null("")).alias(column)


def _heads(heads: tuple[tuple[int, str], ...]) -> bytes:
    """The prefix digests as a capture line holds them (JSON)."""
    return msgspec.json.encode(heads)


class HeaderOf(dict[str, str]):
    """URL → the header holding its provider's request id, filled as URLs are met; built
    from `Profile.request_id_headers`, so a worker process can have one."""

    def __init__(self, hosts: dict[str, str], default: str) -> None:
        super().__init__()
        self.hosts, self.default = hosts, default

    def __missing__(self, url: str) -> str:
        self[url] = found = self.hosts.get(host_of(url), self.default)
        return found


@dataclass
class Columns:
    """Rows being gathered, column by column (`COLUMNS`)."""

    data: dict[str, list[object]] = field(default_factory=lambda: {c: [] for c in COLUMNS})
    header_of: Mapping[str, str] = field(default_factory=lambda: defaultdict(str))
    """URL → the header holding its provider's request id (its clock, for some)."""
    field_of: Mapping[str, str] = field(default_factory=dict)
    """URL → that header's field in the light decoder's headers struct."""
    date: str = "h0"

    def add_light(self, light: list[_Light], lines: Iterable[int], offsets: list[int]) -> None:
        d, rows = self.data, cast(list[Any], light)  # Any: the chains pass NO_TAG, not None
        d["line"] += lines
        d["offset"] += offsets
        d["kind"] += [r.kind for r in rows]  # a StrEnum: the str itself
        d["started"] += [r.started for r in rows]
        d["ended"] += [r.ended for r in rows]
        d["status"] += [r.status for r in rows]
        d["url"] += [r.url for r in rows]
        d["grant"] += [r.params.grant_type for r in rows]
        # one attribute chain a row (missing structs read as NO_TAG...); `_dig` if a null
        # stops one. No `if`s: the bulk of the read's Python work is these lines
        d["code"] += _chain(rows, "params.code.tag", lambda: [r.params.code.tag for r in rows])
        d["refresh"] += _chain(
            rows, "params.refresh_token.tag", lambda: [r.params.refresh_token.tag for r in rows]
        )
        d["revoked"] += _chain(rows, "params.token.tag", lambda: [r.params.token.tag for r in rows])
        rts, rt = _first(
            [r.reply.refresh_token for r in rows], lambda ts: [t.tag for t in ts], NO_ISSUED
        )
        d["rt"] += rt
        d["rt_canon"] += [t.canon for t in rts]
        d["rt_heads"] += [bytes(t.heads) if t.tag is not None else None for t in rts]
        ats, at = _first(
            [r.reply.access_token for r in rows], lambda ts: [t.tag for t in ts], NO_TAG
        )
        d["at"] += at
        d["at_canon"] += [t.canon for t in ats]
        clients, client_id = _first(
            [r.client for r in rows], lambda cs: [c.client_id for c in cs], NO_CLIENT
        )
        d["client_id"] += client_id
        d["secret"] += _chain(clients, "secret.tag", lambda: [c.secret.tag for c in clients])
        field = self.field_of
        d["request_id"] += [getattr(r.headers, field[r.url]) for r in rows]
        d["date"] += [getattr(r.headers, self.date) for r in rows]

    def add_exchange(self, x: Exchange, offset: int = -1) -> None:
        d, p, r = self.data, x.params, x.reply
        rt, at = r.get("refresh_token"), r.get("access_token")
        rt = rt if isinstance(rt, Secret) else None
        at = at if isinstance(at, Secret) else None
        secret = x.client.secret if x.client else None
        values: dict[str, object] = {
            "line": x.ref.index,
            "kind": x.kind.value,
            "started": x.started,
            "ended": x.ended,
            "status": x.status,
            "grant": _str(p.get("grant_type")),
            "code": _tag(p.get("code")),
            "refresh": _tag(p.get("refresh_token")),
            "rt": rt.tag if rt else None,
            "rt_canon": rt.canon if rt else None,
            "rt_heads": _heads(rt.heads) if rt else None,
            "at": at.tag if at else None,
            "at_canon": at.canon if at else None,
            "client_id": x.client.client_id if x.client else None,
            "secret": secret.tag if secret else None,
            "revoked": _tag(p.get("token")),
            "url": x.url,
            "request_id": x.headers.get(self.header_of[x.url]),
            "date": x.headers.get("date"),
            "offset": offset,
            "length": 0,
        }
        for name, value in values.items():
            d[name].append(value)

    def frame(self) -> pl.DataFrame:
        """The skeleton's columns: tags turned to hexes (`Secret.hex`), a revoke's token in
        `refresh`, issued values kept only for successes (what `events.token_request`
        reads), canonical hexes only where they differ, and the issued refresh token's
        prefix digests as `h32`, `h64` (`HEADS`)."""
        ok = pl.col("status").is_between(200, 299).fill_null(False)
        hexed = [_hexed(c) for c in ("code", "refresh", "revoked", "rt", "at")]
        hexed.append(_hexed("secret").cast(pl.Categorical))
        issued = [pl.when(ok).then(pl.col(c)).alias(c) for c in ISSUED]
        own = [
            pl.when(pl.col(f"{c}_canon") != pl.col(c))
            .then(pl.col(f"{c}_canon"))
            .alias(f"{c}_canon")
            for c in ("rt", "at")
        ]
        heads = pl.col("rt_heads").cast(pl.String)
        digests = [
            heads.str.extract(rf'\[\s*{n}\s*,\s*"([^"\\]*)"', 1).alias(f"h{n}") for n in HEADS
        ]
        revoke = pl.col("kind") == Kind.REVOKE.value
        frame = pl.DataFrame(self.data, schema=COLUMNS)
        return (
            frame.with_columns(hexed)
            .with_columns(issued)
            .with_columns(
                *own,
                *digests,
                pl.when(revoke).then("revoked").otherwise("refresh").alias("refresh"),
            )
            .drop("rt_heads", "revoked")
        )


def _chain(
    rows: list[Any], path: str, fast: Callable[[], list[Any]], none: object = None
) -> list[Any]:
    """`fast()`, the attribute chain `path` of every row; where a null stops it (an
    AttributeError), the chain of each row read to its first null (`none` then)."""
    try:
        return fast()
    except AttributeError:
        return [_dig(r, path.split("."), none) for r in rows]


def _first(
    items: list[Any], read: Callable[[list[Any]], list[Any]], none: object
) -> tuple[list[Any], list[Any]]:
    """Structs that may be null, with `none` for the nulls if `read` stumbled on one, and
    what `read` read of them."""
    try:
        return items, read(items)
    except AttributeError:
        items = [none if t is None else t for t in items]
        return items, read(items)


def _dig(item: object, names: list[str], none: object) -> object:
    for name in names:
        item = getattr(item, name)
        if item is None:
            return none
    return item


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _tag(value: object) -> str | None:
    return value.tag if isinstance(value, Secret) else None


def from_exchanges(exchanges: list[Exchange]) -> pl.DataFrame:
    """The skeleton of exchanges already in timeline order (row n is exchange n)."""
    cols = Columns()
    for x in exchanges:
        cols.add_exchange(x)
    return cols.frame()


def newlines(buf: bytearray, size: int) -> list[int]:
    """Where the newlines of buf[:size] are."""
    found = []
    find = buf.find
    at = find(NEWLINE, 0, size)
    while at >= 0:
        found.append(at)
        at = find(NEWLINE, at + 1, size)
    return found


def line_starts(handle: BinaryIO, size: int, step: int) -> list[int]:
    """0, the start of the first line at or after each multiple of `step`, and `size`."""
    starts = [0]
    for at in range(step, size, step):
        if at <= starts[-1]:
            continue
        handle.seek(at - 1)
        where = at - 1 + len(handle.readline())  # the line holding byte at-1 ends here
        if starts[-1] < where < size:
            starts.append(where)
    return [*starts, size]


def sane_times(frame: pl.DataFrame) -> pl.DataFrame:
    """Times that cannot be real dropped, as `sources.build.sane_time` drops them."""
    lo, hi = TIME_RANGE
    return frame.with_columns(
        pl.when(pl.col(c).is_between(lo, hi)).then(pl.col(c)).otherwise(None).alias(c)
        for c in ("started", "ended")
    )


@dataclass
class CaptureSkeleton:
    """A capture read for the bulk path: its skeleton, the exchanges decoded in full (by
    line), and what `parse_capture` would have said of it (headers, bad lines, line count)."""

    path: Path
    source: str
    redactor: Redactor
    header_of: Mapping[str, str] = field(default_factory=lambda: defaultdict(str))
    """URL → the header holding its provider's request id."""
    names: tuple[str, ...] = ()
    """Every header `header_of` names."""
    parsed: CaptureFile = field(default_factory=CaptureFile)
    full: dict[int, Exchange] = field(default_factory=dict)
    """Line → exchange, for lines decoded in full while reading (not the light way)."""
    frames: list[pl.DataFrame] = field(default_factory=list)
    nonsense: int = 0
    """Exchanges with times or lifetimes that cannot be real (`_note_nonsense`'s count)."""
    bad: list[tuple[int, str]] = field(default_factory=list)
    """Unreadable lines: (index, why)."""
    jobs: int = 1
    """Processes decoding chunks at once, this one included (`parallel`)."""
    kept: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    """What to keep of each chunk's columns (the bulk path turns the clock's columns into
    one number a row as they come, so their text never piles up)."""
    defer_raw: bool = False
    """Leave raw records to the process that holds the redactor (a `parallel` worker)."""
    deferred: list[tuple[int, int, bytes]] = field(default_factory=list)
    """Raw records left: (line, offset, text)."""
    keep_pool: bool = False
    """Leave the parallel read's worker processes running, as `pool`, for the caller to
    use and shut down."""
    pool: Executor | None = None

    def read(self) -> pl.DataFrame:
        """Stream the file in chunks of whole lines; the skeleton of its exchange records,
        in file order. With `jobs` > 1 a big file's chunks are decoded by that many
        processes, this one included (`parallel`)."""
        size = self.path.stat().st_size
        with self.path.open("rb") as handle:
            shared = self.jobs > 1 and size > CHUNK
            bounds = line_starts(handle, size, CHUNK // UNITS) if shared else [0, size]
            if len(bounds) <= 2:
                self.decode_range(handle, 0, size, 0)
            else:
                from qbtrace import parallel

                parallel.decode(self, list(itertools.pairwise(bounds)))
        if not self.parsed.headers:
            raise InputError("no qbtrace capture header", source=self.source)
        self.parsed.bad = [f"line {index + 1}: {why}" for index, why in sorted(self.bad)]
        frames, self.frames = self.frames or [Columns().frame()], []
        lo, hi = TIME_RANGE
        unreal = [
            pl.col(c).is_not_null() & ~pl.col(c).is_between(lo, hi) for c in ("started", "ended")
        ]
        # a frame at a time: a column added to the whole skeleton would copy all of it
        # wherever its chunks are cut at different rows (polars merges small ones)
        light, sane = 0, []
        while frames:
            frame = frames.pop(0)
            light += frame.filter(unreal[0] | unreal[1]).height  # full ones are sane already
            sane.append(sane_times(frame))
        self.nonsense = light + sum(
            1 for x in self.full.values() if any(g in NONSENSE_GAPS for g in x.gaps)
        )
        return pl.concat(sane)

    def decode_range(self, handle: BufferedReader, start: int, end: int, line: int) -> int:
        """Decode the lines of bytes [start, end) (both line starts, or the file's end),
        numbered from `line`; the number of the line after them. The file's last line may
        lack its newline (cut short)."""
        # whole lines read into one buffer, reused, with a byte free before them: the
        # decoder gets them as one JSON array written over their newlines, never copied
        room = CHUNK + CHUNK // 16  # a range (`line_starts`) and the line across its end
        buf = _SPARE.pop() if _SPARE else bytearray()
        if len(buf) < (needed := min(room, end - start) + 1):
            buf = bytearray(room + 1 if needed > CHUNK // 2 else needed)
        while start < end:
            with memoryview(buf) as view, view[1 : 1 + min(room, end - start)] as into:
                handle.seek(start)
                got = handle.readinto(into)
            if not got:
                break
            cut = got if start + got >= end else buf.rfind(NEWLINE, 0, got + 1)
            if cut < 1:  # a line longer than CHUNK: alone, however long
                handle.seek(start)
                long = bytearray(b"\0") + handle.readline()
                line = self._chunk(long, len(long), start, line)
                start += len(long) - 1
                continue
            line = self._chunk(buf, cut + 1, start, line)
            start += cut
        _SPARE.append(buf)
        return line

    def _chunk(self, buf: bytearray, size: int, base: int, first: int) -> int:
        """Decode the lines in buf[1:size] (with their newlines; buf[0] is free), the first
        being line `first` at byte `base` of the file; the next chunk's first line. All in
        one typed decode when they can be, else line by line (the header, raw records,
        blank or broken lines) as `parse_capture` reads them."""
        stops = newlines(buf, size)
        closed = len(stops)  # lines ending in a newline; a last one without is cut short
        if buf[size - 1] != NEWLINE:
            stops.append(size - 1)
        cols = self.columns()
        at = 0
        while not self.parsed.headers and at < len(stops):  # the first line: the header
            self._slice(cols, buf, stops, at, base, first, closed)
            at += 1
        for start in range(at, closed, BATCH):
            end = min(start + BATCH, closed)
            if not self._light(cols, buf, stops, start, end, base, first):
                for n in range(start, end):
                    self._slice(cols, buf, stops, n, base, first, closed)
        for n in range(max(at, closed), len(stops)):
            self._slice(cols, buf, stops, n, base, first, closed)
        self.add_frame(cols.frame())
        return first + len(stops)

    def _slice(
        self,
        cols: Columns,
        buf: bytearray,
        stops: list[int],
        n: int,
        base: int,
        first: int,
        closed: int,
    ) -> None:
        """Line n of the chunk (`_chunk`) on its own; lines from `closed` lack a newline."""
        before = stops[n - 1] if n else 0
        text = bytes(buf[before + 1 : stops[n] + 1])
        self._line(cols, text, first + n, base + before, n >= closed)

    def add_frame(self, frame: pl.DataFrame) -> None:
        self.frames.append(self.keep(frame))

    def keep(self, frame: pl.DataFrame) -> pl.DataFrame:
        return self.kept(frame) if self.kept else frame

    def columns(self) -> Columns:
        # a provider without a request id reads a header no record has
        fields = {name: f"h{n}" for n, name in enumerate(self._names()) if name != NO_HEADER}
        header_of = self.header_of

        class FieldOf(dict[str, str]):
            def __missing__(self, url: str) -> str:
                self[url] = found = fields.get(header_of[url], "h0")
                return found

        return Columns(header_of=header_of, field_of=FieldOf(), date=f"h{len(fields) + 1}")

    def _names(self) -> tuple[str, ...]:
        return (NO_HEADER, *self.names)

    def _light(
        self,
        cols: Columns,
        buf: bytearray,
        stops: list[int],
        start: int,
        end: int,
        base: int,
        first: int,
    ) -> bool:
        """Lines start..end-1 of the chunk in one typed decode, their newlines turned into
        the commas of a JSON array (and back when they do not all take the light way): the
        previous line's newline (or buf[0]) opens it, so batches follow one another."""
        before = stops[start - 1] if start else 0
        ends = stops[start:end]
        kept = buf[before]
        buf[before] = OPEN
        for at in ends:
            buf[at] = COMMA
        buf[ends[-1]] = CLOSE
        try:
            # no `with`: the rows' `heads` (msgspec.Raw) are views of buf while they live
            rows = decoders(self._names())[0].decode(memoryview(buf)[before : ends[-1] + 1])
        except (msgspec.DecodeError, RecursionError):
            rows = None
        if rows is None or len(rows) != len(ends):
            buf[before] = kept
            for at in ends:
                buf[at] = NEWLINE
            return False
        buf[ends[-1]] = NEWLINE  # the next batch's opening: a newline again, as it was
        self.parsed.lines += len(rows)
        starts = [before, *ends[:-1]]
        cols.add_light(rows, range(first + start, first + end), [base + s for s in starts])
        cols.data["length"] += [e - s for e, s in zip(ends, starts, strict=True)]
        return True

    def _line(self, cols: Columns, text: bytes, index: int, offset: int, final: bool) -> None:
        """One line the light way if it can be, else as `parse_capture` decodes it."""
        if not text.strip():
            return
        self.parsed.lines += 1
        if self.parsed.headers and not any(m in text for m in _FULL_MARKS):
            try:
                row = decoders(self._names())[1].decode(text)
            except (msgspec.DecodeError, RecursionError):
                row = None
            if row is not None:
                cols.add_light([row], [index], [offset])
                cols.data["length"].append(len(text))
                return
        try:
            item = decode_line(text)
        except ValueError as exc:
            if not self.parsed.headers:
                raise InputError(f"line {index + 1}: {exc}", source=self.source) from None
            self.bad.append((index, "cut short" if final else str(exc)))
            return
        if isinstance(item, Header):
            self.parsed.headers.append(_checked(item, self.source))
            return
        if not self.parsed.headers:
            raise InputError("the first line is not a qbtrace capture header", source=self.source)
        if self.defer_raw and isinstance(item, RawRecord):
            self.deferred.append((index, offset, text))  # redacted where the key is
            return
        x = self.exchange(item, index)
        self.full[index] = x
        cols.add_exchange(x, offset)
        cols.data["length"][-1] = len(text)

    def exchange(self, item: ExchangeRecord | RawRecord, index: int) -> Exchange:
        ref = Ref(self.source, index)
        if isinstance(item, RawRecord):
            return build_exchange(ref, item.kind, item.raw, self.redactor)
        return sane_exchange(as_exchange(item, ref))

    def exchanges(self, rows: pl.DataFrame) -> list[Exchange]:
        """The exchanges of these skeleton rows (lines decoded in full now, in file order)."""
        wanted = rows.select("line", "offset", "length").sort("offset")
        out: dict[int, Exchange] = {}
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for index, offset, length in wanted.iter_rows():
                x = self.full.get(index)
                if x is None:
                    item = decode_exchange_line(os.pread(fd, length, offset))
                    assert not isinstance(item, Header)
                    x = self.full[index] = self.exchange(item, index)
                out[index] = x
        finally:
            os.close(fd)
        return [out[i] for i in rows["line"]]
