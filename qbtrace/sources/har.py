"""HAR 1.2 from any exporter → `Exchange` records, filtered while reading.

A HAR is mostly bodies of unrelated requests, so the file is memory-mapped and decoded with
msgspec in one pass into the spans of each entry's fields; only the small request objects
are decoded again, for their method and URL, and just the entries the profile recognises
are decoded whole (a file that pass refuses is read entry by entry: `_read_spans`, which
names what is wrong or salvages). Exporter quirks handled:
Chrome (sanitized export without Authorization/Cookie, HTTP/2 pseudo-headers, base64
content), Firefox (local-offset times, text and params both set), Playwright (`_file`
attachments, minimal mode without timings), mitmproxy `hardump` (`_error`), Charles and
Fiddler (UTF-8 BOM, `postData.params` without `text`), Reqable (base64 form bodies), HAR
Viewer's HARP (the HAR inside JSONP padding, `onInputData({...});`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import msgspec

from qbtrace.errors import InputError
from qbtrace.model import Exchange, Gap, Input, InputKind, Kind, RawParts, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources import Har, Loaded, Reader
from qbtrace.sources.build import build_exchange, header_pairs


class _Log(msgspec.Struct):
    entries: list[msgspec.Raw]
    creator: msgspec.Raw = msgspec.Raw(b"null")


class _Creator(msgspec.Struct):
    name: Any = None


class _Har(msgspec.Struct):
    log: _Log


class _RequestHead(msgspec.Struct):
    method: str = "GET"
    url: str = ""


class _EntryHead(msgspec.Struct):
    request: _RequestHead


T = TypeVar("T")
NULL = msgspec.Raw(b"null")


class _Entry(msgspec.Struct):
    """An entry as the spans of the fields `entry_parts` reads: decoding the file into these
    finds every entry's request in the one pass over the bytes (the request is small; the
    response, most of a HAR, is decoded only for the entries the profile recognises)."""

    request: msgspec.Raw
    response: msgspec.Raw = NULL
    startedDateTime: msgspec.Raw = NULL
    time: msgspec.Raw = NULL
    error: msgspec.Raw = msgspec.field(default=NULL, name="_error")
    failure_text: msgspec.Raw = msgspec.field(default=NULL, name="_failureText")


class _Entries(msgspec.Struct):
    entries: list[_Entry]
    creator: msgspec.Raw = NULL


class _HarEntries(msgspec.Struct):
    log: _Entries


_HAR = msgspec.json.Decoder(_Har)
_HAR_ENTRIES = msgspec.json.Decoder(_HarEntries)
_REQUEST = msgspec.json.Decoder(_RequestHead)
_HEAD = msgspec.json.Decoder(_EntryHead)
_ANY = msgspec.json.Decoder()
_CREATOR = msgspec.json.Decoder(_Creator)


def read_har(data: memoryview | bytes, source: str, profile: Profile, redactor: Redactor) -> Input:
    """Decode a whole HAR held in `data` (UTF-8, BOM already removed)."""
    try:
        har = _HAR_ENTRIES.decode(data)
    except (msgspec.DecodeError, RecursionError):
        # an entry that is no object or has no request, a damaged file: entries as spans,
        # each decoded on its own (the reading that says what is wrong, or salvages)
        return _read_spans(data, source, profile, redactor)
    log = har.log
    return _read_entries(
        log.entries, _request_head, _entry_of, log.creator, [], source, profile, redactor
    )


def _read_spans(
    data: memoryview | bytes, source: str, profile: Profile, redactor: Redactor
) -> Input:
    warnings: list[str] = []
    entries, creator = _entries(data, source, warnings)
    return _read_entries(
        entries, _head, _decode_entry, creator, warnings, source, profile, redactor
    )


def _read_entries(
    entries: Sequence[T],
    head_of: Callable[[T], _RequestHead | None],
    entry_of: Callable[[T], Mapping[str, Any] | None],
    creator: Any,
    warnings: list[str],
    source: str,
    profile: Profile,
    redactor: Redactor,
) -> Input:
    """The entries the profile recognises by their request's method and URL, decoded."""
    exchanges: list[Exchange] = []
    skipped = 0
    for index, raw in enumerate(entries):
        head = head_of(raw)
        if head is None:
            skipped += 1
            continue
        kind = profile.kind_of(head.method, head.url)
        if kind is None:
            continue
        entry = entry_of(raw)
        if entry is None:
            skipped += 1
            continue
        exchanges.append(_build(entry, Ref(source, index), kind, warnings, redactor))
    if skipped:
        warnings.append(f"{skipped} entries have no readable request method/url and were skipped")
    _note_sanitized(creator, exchanges, warnings)
    return Input(source, InputKind.HAR, len(entries), tuple(exchanges), tuple(warnings))


def _tolerant(decoder: msgspec.json.Decoder[T], raw: Any) -> T:
    """`decoder.decode(raw)`; bytes that are not UTF-8 are replaced, not fatal."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError:
        raise
    except msgspec.DecodeError:
        return decoder.decode(bytes(raw).decode("utf-8", "replace").encode("utf-8"))


def _head(raw: Any) -> _RequestHead | None:
    """The entry's request method and URL."""
    try:
        return _tolerant(_HEAD, raw).request
    except (msgspec.DecodeError, RecursionError):
        return None


def _request_head(fields: _Entry) -> _RequestHead | None:
    """The request's method and URL, from the request alone."""
    try:
        return _tolerant(_REQUEST, fields.request)
    except (msgspec.DecodeError, RecursionError):
        return None


def _decode_entry(raw: Any) -> Mapping[str, Any] | None:
    """One matching entry as plain objects."""
    try:
        entry = _tolerant(_ANY, raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    return entry if isinstance(entry, Mapping) else None


def _entry_of(fields: _Entry) -> dict[str, Any] | None:
    """The fields `entry_parts` reads, decoded as `_decode_entry` decodes a whole entry."""
    entry: dict[str, Any] = {}
    for name, raw in (
        ("request", fields.request),
        ("response", fields.response),
        ("startedDateTime", fields.startedDateTime),
        ("time", fields.time),
        ("_error", fields.error),
        ("_failureText", fields.failure_text),
    ):
        if raw is not NULL:
            try:
                entry[name] = _tolerant(_ANY, raw)
            except (msgspec.DecodeError, RecursionError):
                return None
    return entry


def _entries(data: memoryview | bytes, source: str, warnings: list[str]) -> tuple[list[Any], Any]:
    try:
        har = _HAR.decode(data)
        return list(har.log.entries), har.log.creator
    except msgspec.ValidationError as exc:
        raise InputError(f"not a HAR file ({_short(exc)})", source=source) from None
    except (msgspec.DecodeError, RecursionError) as exc:
        salvaged = list(_salvage(bytes(data)))
        if not salvaged:
            if isinstance(exc, RecursionError):
                raise InputError("JSON nested too deeply to read", source=source) from None
            raise InputError(f"not valid JSON ({_short(exc)})", source=source) from None
        warnings.append(
            f"the file is damaged ({_short(exc)}); "
            f"read the {sum(raw != b'null' for raw in salvaged)} entries that still parse"
        )
        return salvaged, msgspec.Raw(b"null")


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    return text[:160]


def _salvage(data: bytes) -> Iterator[bytes]:
    """Entries of a truncated or damaged HAR, up to the first one that does not parse."""
    start = data.find(b'"entries"')
    if start < 0:
        return
    pos = data.find(b"[", start)
    if pos < 0:
        return
    text = data[pos + 1 :].decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    index = 0
    while True:
        while index < len(text) and text[index] in " \t\r\n,":
            index += 1
        if index >= len(text) or text[index] == "]":
            return
        try:
            entry, index = decoder.raw_decode(text, index)
        except (ValueError, RecursionError):
            return
        # a value that is not an entry (or not strict JSON, like Infinity) keeps its index
        yield json.dumps(entry).encode() if isinstance(entry, dict) else b"null"


def entry_parts(entry: Mapping[str, Any], warnings: list[str], index: int) -> RawParts:
    """The raw parts of one decoded HAR entry, tolerant of every exporter's omissions."""
    request = _mapping(entry.get("request"))
    response = _mapping(entry.get("response"))
    started = parse_time(entry.get("startedDateTime"))
    total = entry.get("time")
    ended = None
    if started is not None and isinstance(total, int | float) and total >= 0:
        ended = started + float(total) / 1000
    status = response.get("status")
    status = status if isinstance(status, int) and status > 0 else None
    failure = entry.get("_error") or entry.get("_failureText") or response.get("_error")
    gaps: list[Gap] = []
    body = _request_body(_mapping(request.get("postData")), gaps)
    return RawParts(
        method=str(request.get("method") or "GET"),
        url=str(request.get("url") or ""),
        started=started,
        ended=ended,
        request_headers=header_pairs(request.get("headers")),
        request_body=body,
        status=status,
        response_headers=_with_redirect_url(header_pairs(response.get("headers")), response),
        response_body=_content(_mapping(response.get("content")), gaps, warnings, index)
        if status is not None
        else None,
        failure=str(failure) if failure and status is None else None,
        gaps=gaps,
    )


def _with_redirect_url(
    headers: list[tuple[str, str]], response: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """HAR 1.2 also gives a redirect's target as `response.redirectURL`; an exporter that
    drops response headers (or a hand-trimmed file) may keep only that."""
    target = response.get("redirectURL")
    if isinstance(target, str) and target and not any(n.lower() == "location" for n, _ in headers):
        headers.append(("location", target))
    return headers


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_time(value: Any) -> float | None:
    """HAR `startedDateTime` (ISO 8601, any offset) → Unix seconds; None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


def _request_body(post: Mapping[str, Any], gaps: list[Gap]) -> str | None:
    if not post:
        return None
    if post.get("_file"):
        gaps.append("request-body-in-attachment")
        return None
    body = body_text(post)
    if body.bad:
        gaps.append("request-body-bad-base64")
        return None
    if body.text:
        return body.text
    params = post.get("params")
    if isinstance(params, list) and params:
        pairs = [(p.get("name", ""), p.get("value", "")) for p in params if isinstance(p, Mapping)]
        return urlencode([(str(n), str(v)) for n, v in pairs])
    return body.text


@dataclass(frozen=True, slots=True)
class HarText:
    """A HAR body (`postData` or `content`) as text: what the reader parses and the sanitizer
    rewrites, decoded the same way for both."""

    text: str | None
    """None when there is no text, or it does not decode."""
    base64: bool = False
    """The HAR held it base64-encoded (Chrome, Reqable): a rewrite must encode it again."""
    bad: bool = False
    """Marked base64 but not valid base64 (or, when decoded strictly, not UTF-8)."""


def body_text(holder: Mapping[str, Any], strict: bool = False) -> HarText:
    """The text of a HAR body; `strict` refuses bytes that are not UTF-8 instead of
    replacing them (a sanitizer must not rewrite what it cannot read back unchanged)."""
    text = holder.get("text")
    if not isinstance(text, str):
        return HarText(None)
    if holder.get("encoding") != "base64" or not text:
        return HarText(text)
    try:
        raw = base64.b64decode(text, validate=True)
        return HarText(raw.decode("utf-8", "strict" if strict else "replace"), base64=True)
    except (binascii.Error, ValueError):
        return HarText(None, base64=True, bad=True)


def _content(
    content: Mapping[str, Any], gaps: list[Gap], warnings: list[str], index: int
) -> str | None:
    if content.get("_file"):
        gaps.append("response-body-in-attachment")
        return None
    body = body_text(content)
    if body.bad:
        warnings.append(f"entry {index}: response body is not valid base64; ignored")
        gaps.append("response-body-bad-base64")
    return body.text


def _build(
    entry: Mapping[str, Any], ref: Ref, kind: Kind, warnings: list[str], redactor: Redactor
) -> Exchange:
    """`build_exchange`, minus the bodies when they are JSON nested too deeply to decode."""
    try:
        built = build_exchange(ref, kind, entry_parts(entry, warnings, ref.index), redactor)
    except RecursionError:
        pass
    else:
        if "response-too-deep" in built.gaps:
            warnings.append(f"entry {ref.index}: a body is JSON nested too deeply to read; ignored")
        return built
    warnings.append(f"entry {ref.index}: a body is JSON nested too deeply to read; ignored")
    parts = entry_parts(entry, [], ref.index)
    parts.response_body = "" if parts.response_body is not None else None
    try:
        return build_exchange(ref, kind, parts, redactor)
    except RecursionError:
        parts = entry_parts(entry, [], ref.index)
        parts.request_body = parts.response_body = None
        return build_exchange(ref, kind, parts, redactor)


def _note_sanitized(creator: Any, exchanges: list[Exchange], warnings: list[str]) -> None:
    tokens = [e for e in exchanges if e.kind == "token"]
    blind = [e for e in tokens if "client-auth-missing" in e.gaps]
    if tokens and len(blind) == len(tokens):
        try:
            name = _CREATOR.decode(creator).name
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            name = None
        why = " (Chrome's sanitized export drops them)" if name == "WebInspector" else ""
        warnings.append(
            f"authorization headers are missing from all token requests{why}: client ids unknown"
        )


JSONP = re.compile(rb"\s*[A-Za-z_$][\w$.]*\s*\(\s*(?=\{)")
"""The padding HAR Viewer's HARP files open with: a callback name and its parenthesis."""


def _recognise(head: bytes) -> bool:
    """JSON text starting with an object (a capture's header line is taken first), bare or
    in HARP's padding."""
    return head.lstrip()[:1] == b"{" or JSONP.match(head) is not None


def unpadded(data: memoryview | bytes) -> memoryview | bytes:
    """The HAR inside HARP's `callback({...});` (no copy), else `data` as it is."""
    opening = JSONP.match(bytes(data[:256]))
    if opening is None:
        return data
    tail = bytes(data[-64:]).rstrip().rstrip(b";").rstrip()
    if not tail.endswith(b")"):
        return data  # not closed: the JSON reader names what is wrong
    closing = len(data) - min(len(data), 64) + len(tail) - 1
    return data[opening.end() : closing]


def _read(loaded: Loaded, profile: Profile, redactor: Redactor) -> Input:
    return read_har(unpadded(loaded.data), loaded.source, profile, redactor)


def _to_har(loaded: Loaded, warnings: list[str]) -> Har:
    """The HAR document itself, values raw, for the sanitizer to rewrite (HARP's padding
    left out); a damaged one as the entries that still parse (with `read_har`'s warning
    and errors)."""
    raw = bytes(unpadded(loaded.data))
    try:
        har = json.loads(raw)
    except (ValueError, RecursionError):
        har = None
    log = har.get("log") if isinstance(har, dict) else None
    if isinstance(log, dict) and isinstance(log.get("entries"), list):
        return dict(har)
    spans = _entries(raw, loaded.source, warnings)[0]  # raises "not a HAR file (...)"
    entries = [e for e in map(_json_object, spans) if e is not None]
    creator = {"name": "qbtrace", "comment": "the readable entries of a damaged HAR"}
    return {"log": {"version": "1.2", "creator": creator, "pages": [], "entries": entries}}


def _json_object(span: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(bytes(span).decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


READER = Reader(InputKind.HAR, "a HAR", _recognise, _read, _to_har)
