"""mitmproxy flow files (`mitmdump -w`) → `Exchange` records, skipping unrelated flows cheaply.

A flow file is a sequence of tnetstrings (`<length>:<payload><type>`), one per flow state.
mitmproxy's `FlowReader` decodes every flow whole (certificates, bodies) and builds a Flow
object: about 1,200 flows/s. Here each flow's span is found by its length prefix, and only
the `request` dict's leading keys (`path`, `method`, `host`, written first because
mitmproxy's tnetstring writer emits dict items in reverse) are read. Flows whose path can
match the profile are decoded with mitmproxy's own `tnetstring`, migrated with
`compat.migrate_flow` and turned into a Flow; older flow-format versions take that path too.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from pathlib import Path

from mitmproxy import flow as mflow
from mitmproxy import http, version
from mitmproxy.io import compat, tnetstring

from qbtrace.errors import InputError
from qbtrace.inflate import Damaged, TooLarge, inflate
from qbtrace.model import Exchange, Gap, Input, InputKind, RawParts, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources import Har, Loaded, Reader
from qbtrace.sources.build import build_exchange
from qbtrace.sources.filebytes import file_bytes
from qbtrace.sources.prefilter import needle_pattern

MAX_PREFIX = 12
MAX_BODY = 1 << 20
"""OAuth requests and answers are a few hundred bytes; more is not one (or is a bomb)."""
VERSION_KEY = b"7:version;"


def flow_parts(flow: http.HTTPFlow, url: str | None = None) -> RawParts:
    """The raw parts of a flow, as the addon sees it live or the reader rebuilds it.

    `url` is the request's `pretty_url` when the caller has it already.
    """
    req, resp, err = flow.request, flow.response, flow.error
    # A flow killed after its response was set (e.g. a dropped connection) never delivered
    # that response to the client: treat it as unanswered.
    answered = resp is not None and err is None
    ended = resp.timestamp_end if answered and resp is not None else None
    if err is not None:
        ended = err.timestamp
    gaps: list[Gap] = ["response-not-delivered"] if resp is not None and err is not None else []
    return RawParts(
        method=req.method,
        url=valid_utf8(req.pretty_url if url is None else url),
        started=req.timestamp_start,
        ended=ended,
        request_headers=_pairs(req.headers),
        request_body=_text(req, "request", gaps),
        status=resp.status_code if answered and resp is not None else None,
        response_headers=_pairs(resp.headers) if answered and resp is not None else [],
        response_body=_text(resp, "response", gaps) if answered and resp is not None else None,
        failure=err.msg if err is not None else None,
        gaps=gaps,
    )


def _pairs(headers: http.Headers) -> list[tuple[str, str]]:
    return [(k.decode("utf-8", "replace"), v.decode("utf-8", "replace")) for k, v in headers.fields]


def _text(message: http.Message, which: str, gaps: list[Gap]) -> str | None:
    """The body as text, decompressed under MAX_BODY (mitmproxy's own `get_content` inflates
    without a limit, in the proxy's event loop: a 1 KB gzip bomb as a token answer would
    stall every connection). A body past the cap is left out, with a gap."""
    raw = message.raw_content
    if raw is None:
        return None
    content, fits = raw, len(raw) <= MAX_BODY
    try:
        for encoding in reversed(message.headers.get("content-encoding", "").split(",")):
            content = inflate(content, encoding, MAX_BODY)
    except Damaged:
        content = raw  # as mitmproxy's get_content(strict=False): the bytes as they came
    except TooLarge:
        fits = False
    if not fits:
        gaps.append("request-too-large" if which == "request" else "response-too-large")
        return None
    # OAuth bodies are forms (ASCII) or JSON (UTF-8 by RFC 8259): decode as UTF-8 whatever
    # the declared charset, which also skips mitmproxy's slower charset sniffing.
    return content.decode("utf-8", "replace")


def valid_utf8(text: str) -> str:
    """mitmproxy keeps undecodable bytes as lone surrogates, which no JSON encoder takes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            return text.encode("utf-8", "replace").decode("utf-8")
    return text


def read_mitm(path: Path, source: str, profile: Profile, redactor: Redactor) -> Input:
    """Read a flow file; readable flows plus a warning when some are damaged or cut short."""
    warnings: list[str] = []
    exchanges: list[Exchange] = []
    total = 0
    for index, found in flows(path, source, needle_pattern(profile), warnings):
        total += 1
        if found is None:
            continue
        kind = profile.kind_of(found.request.method, found.request.pretty_url)
        if kind is not None:
            ref = Ref(source, index)
            exchanges.append(build_exchange(ref, kind, flow_parts(found), redactor))
    return Input(source, InputKind.MITM, total, tuple(exchanges), tuple(warnings))


Held = bytes | mmap.mmap
"""A flow file's bytes (`filebytes`: read when small, mapped when big)."""
Span = tuple[int, int, int]
"""(offset of the length prefix, payload start, payload end = offset of the type byte)."""


def flows(
    path: Path, source: str, pattern: re.Pattern[bytes], warnings: list[str]
) -> Iterator[tuple[int, http.HTTPFlow | None]]:
    """(index, flow) for every flow of the file; None for a flow whose request path does not
    match `pattern`, is not HTTP, or is damaged (then with a warning)."""
    with path.open("rb") as handle:
        try:
            buf = file_bytes(handle)
        except (ValueError, OSError) as exc:
            raise InputError(f"cannot map the file ({exc})", source=source) from None
        try:
            for index, span in enumerate(_spans(buf, source, warnings)):
                yield index, _flow_if_related(buf, span, pattern, source, index, warnings)
        finally:
            if isinstance(buf, mmap.mmap):
                buf.close()


def _spans(buf: Held, source: str, warnings: list[str]) -> Iterator[Span]:
    pos, size, count = 0, len(buf), 0
    while pos < size:
        colon = buf.find(b":", pos, pos + MAX_PREFIX + 1)
        prefix = buf[pos:colon] if colon > pos else b""
        if not prefix.isdigit():
            if buf[pos:size].strip() == b"":
                return
            _damaged(f"unreadable data at byte {pos}", count, source, warnings)
            return
        start = colon + 1
        end = start + int(prefix)
        if end >= size:
            missing = end + 1 - size
            _damaged(
                f"the last flow is cut short ({missing} bytes missing)", count, source, warnings
            )
            return
        if buf[end] != ord("}"):
            _damaged(f"flow {count} is not a tnetstring dict", count, source, warnings)
            return
        yield pos, start, end
        count += 1
        pos = end + 1


def _damaged(what: str, count: int, source: str, warnings: list[str]) -> None:
    if count == 0:
        raise InputError(f"not a mitmproxy flow file ({what})", source=source)
    warnings.append(f"{what}; read the {count} flows before it")


def _flow_if_related(
    buf: Held,
    span: Span,
    pattern: re.Pattern[bytes],
    source: str,
    index: int,
    warnings: list[str],
) -> http.HTTPFlow | None:
    """The flow when its request path could match, else None, decoding as little as we can."""
    prefix, start, end = span
    flow_version = _tail_version(buf, start, end)
    if flow_version is not None and flow_version > version.FLOW_FORMAT_VERSION:
        raise InputError(_newer(flow_version, index), source=source)
    if flow_version == version.FLOW_FORMAT_VERSION:
        try:
            path = _request_path(buf, start, end)
        except ValueError:
            path = b"code="  # malformed: the full decoder will say what is wrong
        if path is None or not pattern.search(path):
            return None
    try:
        state = tnetstring.loads(buf[prefix : end + 1])
        if not isinstance(state, dict):
            raise ValueError("not a dict")
        loaded = mflow.Flow.from_state(compat.migrate_flow(state))
    except ValueError as exc:
        if "please update mitmproxy" in str(exc):
            raise InputError(_newer(None, index), source=source) from None
        warnings.append(f"flow {index} is damaged and was skipped ({_first(exc)})")
        return None
    except Exception as exc:  # mitmproxy's decoder asserts on damaged state
        warnings.append(f"flow {index} is damaged and was skipped ({exc.__class__.__name__})")
        return None
    return loaded if isinstance(loaded, http.HTTPFlow) else None


def _newer(flow_version: int | None, index: int) -> str:
    which = f"version {flow_version}" if flow_version is not None else "a newer version"
    return (
        f"flow {index} uses flow format {which}, newer than mitmproxy {version.MITMPROXY} "
        f"reads (format {version.FLOW_FORMAT_VERSION}); upgrade mitmproxy to read this file"
    )


def _first(exc: Exception) -> str:
    return (str(exc).splitlines() or [exc.__class__.__name__])[0][:120]


def _tail_version(buf: Held, start: int, end: int) -> int | None:
    """The `version` item, which mitmproxy writes last; None when it is not there."""
    at = buf.rfind(VERSION_KEY, max(start, end - 32), end)
    if at < 0:
        return None
    length, _, rest = buf[at + len(VERSION_KEY) : end].partition(b":")
    if not length.isdigit() or len(rest) != int(length) + 1 or rest[-1:] != b"#":
        return None
    digits = rest[:-1]
    return int(digits) if digits.isdigit() else None


def _items(buf: Held, pos: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(key, value start, value end) of a tnetstring dict's items, values left undecoded."""
    while pos < end:
        colon = buf.find(b":", pos, pos + MAX_PREFIX + 1)
        key_end = colon + 1 + int(buf[pos:colon])
        key = buf[colon + 1 : key_end]
        colon = buf.find(b":", key_end + 1, key_end + MAX_PREFIX + 2)
        value_end = colon + 1 + int(buf[key_end + 1 : colon])
        yield key, colon + 1, value_end
        pos = value_end + 1


def _request_path(buf: Held, start: int, end: int) -> bytes | None:
    """The request's path bytes; None for flows without a request (tcp, udp, dns).

    ValueError when the structure is malformed.
    """
    for key, vstart, vend in _items(buf, start, end):
        if key == b"request":
            for rkey, pstart, pend in _items(buf, vstart, vend):
                if rkey == b"path":
                    return buf[pstart:pend]
            return None
    return None


def _recognise(head: bytes) -> bool:
    """A tnetstring: a length prefix, digits first."""
    return head.lstrip()[:1].isdigit()


def _read(loaded: Loaded, profile: Profile, redactor: Redactor) -> Input:
    return read_mitm(loaded.path, loaded.source, profile, redactor)


def _to_har(loaded: Loaded, warnings: list[str]) -> Har:
    from qbtrace.export import flows_to_har

    return flows_to_har(loaded.path, loaded.source, warnings)


READER = Reader(InputKind.MITM, "a mitmproxy flow file", _recognise, _read, _to_har)
