"""Application logs → `Exchange` records: the token requests a production app's logs report.

Recognised by content, from any mix in one file: the SDK lines (`sdk_*` modules: intuitlib,
the Node SDK, PHP, Ruby, the .NET AdvancedLogger, Nango, Airbyte; `generic` for the rest)
inside any wrapper (`wrappers`: plain lines with a timestamp prefix, JSON lines of pino,
winston, bunyan, structlog, ECS, GCP, Datadog; `exports`: CloudWatch and other JSON
documents). `driver` finds the records; each becomes an `Exchange` whose `ref.index` is the
record's first line, tagged like any capture (`hits.to_exchange`).
"""

from __future__ import annotations

import itertools
import mmap
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo
from types import ModuleType

from qbtrace.errors import InputError
from qbtrace.inflate import size_text
from qbtrace.model import Exchange, Input, InputKind, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources.log import FLOW_HEAD, HAR_HEAD
from qbtrace.sources.logs import (
    exports,
    exports_stream,
    fields,
    generic,
    sdk_airbyte,
    sdk_dotnet,
    sdk_intuitlib,
    sdk_nango,
    sdk_node,
    sdk_php,
    sdk_ruby,
)
from qbtrace.sources.logs.driver import NEEDLES, Span, Tally, buffer_pieces, spans_of
from qbtrace.sources.logs.hits import Hit, Record, to_exchange
from qbtrace.sources.logs.mapped import mapped_spans
from qbtrace.sources.logs.stamps import STAMP, zone_name
from qbtrace.sources.logs.wrappers import PREFIX, json_line, plain

SDKS: tuple[ModuleType, ...] = (
    sdk_dotnet,
    sdk_node,
    sdk_intuitlib,
    sdk_ruby,
    sdk_php,
    sdk_nango,
    sdk_airbyte,
)
TEXT_NEEDLES = tuple(n.decode() for n in NEEDLES)
SNIFF_LINES = 200
LOG_KEYS = (
    "time",
    "timestamp",
    "@timestamp",
    "date",
    "level",
    "msg",
    "message",
    "event",
    "severity",
)
"""Keys a JSON log record has (Docker's `log` lines have `time` too; a HAR's `log` is not)."""
RECORD_KEYS = ("level", "msg", "message", "event", "severity", "@timestamp")
"""Keys that make a JSON line a log record: a time alone does not (a lone HAR entry has
`time` too), a level or a message does; so does Docker's `log` string with its `time`."""


def _docker_line(line: str) -> bool:
    return '"log"' in line and '"time"' in line and not HAR_HEAD.search(line.encode())


def read_log(
    data: memoryview | bytes,
    source: str,
    profile: Profile,
    redactor: Redactor,
    zone: tzinfo | None = None,
) -> Input:
    """Every token request the log reports, in file order."""
    return read_log_pieces(buffer_pieces(data), source, profile, redactor, zone)


def read_log_pieces(
    pieces: Iterable[bytes],
    source: str,
    profile: Profile,
    redactor: Redactor,
    zone: tzinfo | None = None,
) -> Input:
    """`read_log` over the log as a stream of newline-ended pieces (a file read in windows,
    gzip inflated as it is read)."""
    zone = zone or UTC
    stream = iter(pieces)
    first = next(stream, b"")
    if not exports.is_document(first[:65536]):
        part = scan(itertools.chain([first], stream), source, profile, redactor, zone)
        return to_input(part, source, zone)
    pieces = itertools.chain([first], stream)
    tally = Tally()
    if exports_stream.opening(first[:65536]) is not None:
        streamed = exports_stream.stream_records(pieces, source, zone, tally)
        found = _read_records(streamed, source, profile, redactor)
        got = to_input(Part(tally.lines, found), source, zone)
        if tally.stopped is None:
            return got
        return replace(got, warnings=(*got.warnings, tally.stopped))
    whole = _whole(pieces, source)  # an export of another shape: decoded whole
    found = _read_records(exports.records(whole, source, zone), source, profile, redactor)
    lines = whole.count(b"\n") + (not whole.endswith(b"\n"))
    return to_input(Part(lines, found), source, zone)


WHOLE_EXPORT = 256 << 20
"""The largest export read whole (its list of events not first: decoded at once, it takes
several times its size in Python objects). The exporters put the list first (streamed)."""


def _whole(pieces: Iterable[bytes], source: str) -> bytes:
    """The export's bytes, or InputError past WHOLE_EXPORT: memory stays bounded."""
    held: list[bytes] = []
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > WHOLE_EXPORT:
            raise InputError(
                f"a JSON log export larger than {size_text(WHOLE_EXPORT)} whose list of events "
                "is not its first member cannot be read in bounded memory; put the list "
                "first (e.g. jq '{events}')",
                source=source,
            )
        held.append(piece)
    return b"".join(held)


def _read_records(
    records: Iterable[Record], source: str, profile: Profile, redactor: Redactor
) -> list[Found]:
    return [_reading(r, 0, 0, source, profile, redactor) for r in records if _mentions(r.text)]


@dataclass(frozen=True, slots=True)
class Found:
    """One record the scan found, read: where it lies and its exchange (None when no SDK
    module and not the generic one reads a token request in it)."""

    at: int
    """Its first needle, in bytes from the start of the scanned part."""
    stop: int
    exchange: Exchange | None
    label: str = ""
    """Its format, as the input's `format` lists it (`node in pino`)."""
    naive: bool = False
    """Its time was written without a zone."""


@dataclass(frozen=True, slots=True)
class Part:
    """What a scan of a log (or of a part of one, `halves`) read."""

    lines: int
    found: list[Found]


def scan(
    pieces: Iterable[bytes],
    source: str,
    profile: Profile,
    redactor: Redactor,
    zone: tzinfo,
    behind: bytes = b"",
    ahead: bytes = b"",
    skip_before: int = -1,
) -> Part:
    """Every record of the pieces (`spans_of`, which says what the context is), read."""
    tally = Tally()
    found = _found(
        spans_of(pieces, tally, behind, ahead, skip_before), source, profile, redactor, zone
    )
    return Part(tally.lines, found)


def scan_mapped(
    data: mmap.mmap,
    lo: int,
    hi: int,
    source: str,
    profile: Profile,
    redactor: Redactor,
    zone: tzinfo,
    skip_before: int = -1,
) -> Part:
    """`scan` of the part data[lo:hi] of a mapped log file (`mapped`: the file is the
    context, positions are relative to `lo`)."""
    tally = Tally()
    found = _found(mapped_spans(data, lo, hi, tally, skip_before), source, profile, redactor, zone)
    return Part(tally.lines, found)


def _found(
    spans: Iterable[Span], source: str, profile: Profile, redactor: Redactor, zone: tzinfo
) -> list[Found]:
    return [
        _reading(_record(span, zone), span.at, span.stop, source, profile, redactor)
        for span in spans
    ]


def _reading(
    rec: Record, at: int, stop: int, source: str, profile: Profile, redactor: Redactor
) -> Found:
    hit = _hit(rec)
    if hit is None:
        return Found(at, stop, None)
    label = hit.sdk if rec.wrapper == "plain" else f"{hit.sdk} in {rec.wrapper}"
    x = to_exchange(hit, rec, Ref(source, rec.index), profile, redactor)
    return Found(at, stop, x, label, rec.naive and rec.time is not None)


def to_input(part: Part, source: str, zone: tzinfo) -> Input:
    """The log's `Input`: its exchanges in file order, the formats found, the warnings."""
    read = [f for f in part.found if f.exchange is not None]
    formats = Counter(f.label for f in read)
    warnings = _warnings(formats, any(f.naive for f in read), zone, len(read))
    name = ", ".join(f for f, _ in formats.most_common()) or None
    exchanges = tuple(f.exchange for f in read if f.exchange is not None)
    return Input(source, InputKind.LOG, part.lines, exchanges, warnings, format=name)


def _record(span: Span, zone: tzinfo) -> Record:
    text = span.data.decode("utf-8", "replace").rstrip("\r")
    rec = json_line(span.index, text, zone) if text[:1] == "{" else None
    return rec if rec is not None else plain(span.index, text, zone)


def _mentions(text: str) -> bool:
    return any(n in text for n in TEXT_NEEDLES)


def _hit(rec: Record) -> Hit | None:
    """The first SDK module's reading, else the generic one's; the company and client id of
    the app's own fields (a pino `realmId`, a `clientId`) fill what the SDK text lacks."""
    found: Hit | None = None
    for module in (*SDKS, generic):
        found = module.read(rec)
        if found is not None:
            break
    if found is not None:
        found.realm = found.realm or fields.first(fields.REALM, rec.text)
        found.client_id = found.client_id or fields.first(fields.CLIENT_ID, rec.text)
    return found


def _warnings(formats: Counter[str], naive: bool, zone: tzinfo, count: int) -> tuple[str, ...]:
    out: list[str] = []
    if naive:
        out.append(f"timestamps without a zone were read as {zone_name(zone)} (--log-tz to change)")
    unknown = sum(n for f, n in formats.items() if f.startswith(generic.NAME))
    if unknown:
        out.append(
            f"{unknown} token-request lines in a format qbtrace does not recognise were read "
            "by the generic fallback (error, status and request id only)"
        )
    if not count:
        out.append("no token-request lines found in the log")
    return tuple(out)


def looks_like_log(head: bytes) -> bool:
    """True when the start of a file is application-log text: a line with a timestamp
    prefix, a JSON log record or export, or a token-request line of any format."""
    if HAR_HEAD.search(head) or FLOW_HEAD.match(head):
        return False
    text = head.decode("utf-8", "replace")
    if text.count("\ufffd") > len(text) // 100 or "\x00" in text:
        return False  # binary, or text in another encoding: not a log we can read
    if any(n in text for n in TEXT_NEEDLES):
        return True
    if exports.is_document(head):
        return any(f'"{k}"' in text[:4096] for k in LOG_KEYS) and '"message"' in text
    for line in text.splitlines()[:SNIFF_LINES]:
        if line[:1] == "{":
            if any(f'"{k}"' in line for k in RECORD_KEYS) or _docker_line(line):
                return True
            continue
        hit = STAMP.search(line, 0, PREFIX + 40)
        if hit is not None and hit.start() <= PREFIX:
            return True
    return False
