"""The line-by-line driver: find the records that mention a token request, fast, in any size.

A log of a busy app is gigabytes of noise with one token line in a thousand. So no line is
parsed until a substring pre-filter (Aho-Corasick over the bytes, in native code, when
`ahocorasick_rs` is installed; `bytes.find` per needle otherwise) has found one of NEEDLES
in it. Around each hit the whole record is assembled: a traceback above it (Python's, ending
in `intuitlib.exceptions.AuthClientError: …`), the indented lines of a Node object below it,
the .NET AdvancedLogger's request lines up to its response line. The file is walked in
windows; pages behind the window are released, so memory stays bounded whatever the size.
"""

from __future__ import annotations

import contextlib
import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass

NEEDLES = (
    b"invalid_",
    b"bearer",
    b"_tid",
    b"_Tid",
    b"() threw",
    b"Token failed",
    b"refresh_token_external_error",
    b"Request url- ",
)
"""Every SDK line of `sdk_*` modules contains one: its error, the token endpoint or the
`token_type` of a success, the request id, or the SDK's own failure wording."""
WINDOW = 8 << 20
CONTEXT = 256 << 10
"""Bytes kept either side of a window: the longest record assembled around a hit."""
MAX_LINES = 400
DOTNET_REQUEST = b"Request url- "
DOTNET_RESPONSE = b"Response Status Code"
DOTNET_LINES = 16
CONTINUES = (b"Traceback (", b"During handling of", b"The above exception", b"}", b"]", b")")
EXCEPTION_LINE = re.compile(rb"[A-Za-z_][\w.]*(?:Error|Exception)\b")


@dataclass(slots=True)
class Tally:
    """What the scan counted on its way: every line of the file, matching or not."""

    lines: int = 0


@dataclass(frozen=True, slots=True)
class Span:
    """One record found by the pre-filter: its first line's index and its bytes."""

    index: int
    data: bytes


class _Finder:
    def __init__(self) -> None:
        try:
            import ahocorasick_rs
        except ImportError:  # pragma: no cover - the dependency is declared; a fallback anyway
            self._ac = None
        else:
            self._ac = ahocorasick_rs.BytesAhoCorasick(
                list(NEEDLES), matchkind=ahocorasick_rs.MatchKind.LeftmostFirst
            )

    def hits(self, chunk: bytes, lo: int, hi: int) -> list[int]:
        """Sorted positions in chunk[lo:hi] where a needle starts."""
        if self._ac is not None:
            view = memoryview(chunk)[lo:hi]
            return [lo + start for _, start, _ in self._ac.find_matches_as_indexes(view)]
        found: list[int] = []
        for needle in NEEDLES:
            at = chunk.find(needle, lo, hi)
            while at >= 0:
                found.append(at)
                at = chunk.find(needle, at + 1, hi)
        return sorted(found)


FINDER = _Finder()


def spans(data: memoryview | bytes, tally: Tally | None = None) -> Iterator[Span]:
    """Every record containing a needle, in file order, once each; `tally` gets the lines."""
    total = len(data)
    lines_before = 0  # newlines in data[:start] of the current window
    start = 0
    last_end = -1
    while start < total:
        end = _window_end(data, start, total)
        lo = min(start, CONTEXT)
        chunk = bytes(data[start - lo : min(end + CONTEXT, total)])
        base = start - lo
        counted, counted_lines = lo, lines_before
        for local in FINDER.hits(chunk, lo, lo + end - start):
            if base + local < last_end:
                continue
            first, stop = record(chunk, local)
            if first >= counted:
                counted_lines += chunk.count(b"\n", counted, first)
            else:
                counted_lines -= chunk.count(b"\n", first, counted)
            counted = first
            last_end = base + stop
            yield Span(counted_lines, chunk[first:stop])
        lines_before = counted_lines + chunk.count(b"\n", counted, lo + end - start)
        _release(data, start - lo)
        start = end
    if tally is not None:
        tally.lines = lines_before + (total > 0 and data[total - 1 : total] != b"\n")


def _window_end(data: memoryview | bytes, start: int, total: int) -> int:
    """Just past the first newline at or after start + WINDOW (or the end of the data)."""
    at = start + WINDOW
    if at >= total:
        return total
    tail = bytes(data[at : min(at + CONTEXT, total)])
    cut = tail.find(b"\n")
    return at + cut + 1 if cut >= 0 else min(at + CONTEXT, total)


def _release(data: memoryview | bytes, upto: int) -> None:
    """Give back the mapped pages before `upto` (they were read): RSS stays one window."""
    if not isinstance(data, memoryview) or not isinstance(data.obj, mmap.mmap):
        return
    mapped = data.obj
    base = len(mapped) - len(data)  # a view without a BOM is a tail of the mapping
    end = (base + upto) // mmap.PAGESIZE * mmap.PAGESIZE
    if end > 0 and hasattr(mapped, "madvise"):
        with contextlib.suppress(OSError, ValueError):
            mapped.madvise(mmap.MADV_DONTNEED, 0, end)


def record(chunk: bytes, pos: int) -> tuple[int, int]:
    """(start, end) of the record holding chunk[pos]: its line, the lines it continues, and
    the lines that continue it."""
    first, stop = _line(chunk, pos)
    if chunk[first : first + 1] == b"{":
        return first, stop  # a JSON line is a whole record
    first = _back(chunk, first)
    line = chunk[first:stop]
    if DOTNET_REQUEST in line:
        return first, _dotnet_end(chunk, stop)
    return first, _forward(chunk, stop)


def _line(chunk: bytes, pos: int) -> tuple[int, int]:
    first = chunk.rfind(b"\n", 0, pos) + 1
    stop = chunk.find(b"\n", pos)
    return first, len(chunk) if stop < 0 else stop


def _continues(line: bytes, previous: bytes) -> bool:
    if not line.strip():
        return False
    if line[:1] in (b" ", b"\t") or line.startswith(CONTINUES):
        return True
    # the exception line ending a traceback follows the traceback's indented frames
    return previous[:1] in (b" ", b"\t") and EXCEPTION_LINE.match(line) is not None


def _back(chunk: bytes, first: int) -> int:
    limit = max(first - CONTEXT, 0)
    for _ in range(MAX_LINES):
        if first <= limit:
            break
        prev_first = chunk.rfind(b"\n", 0, first - 1) + 1
        end = chunk.find(b"\n", first)
        line = chunk[first : len(chunk) if end < 0 else end]
        if not _continues(line, chunk[prev_first : first - 1]):
            break
        first = prev_first
    return first


def _forward(chunk: bytes, stop: int) -> int:
    limit = min(stop + CONTEXT, len(chunk))
    for _ in range(MAX_LINES):
        if stop >= limit:
            break
        nxt = chunk.find(b"\n", stop + 1)
        nxt = len(chunk) if nxt < 0 else nxt
        previous = chunk[chunk.rfind(b"\n", 0, stop) + 1 : stop]
        if not _continues(chunk[stop + 1 : nxt], previous):
            break
        stop = nxt
    return stop


def _dotnet_end(chunk: bytes, stop: int) -> int:
    """The AdvancedLogger writes a token request as separate lines: url, headers, body, then
    the response line; they are one record up to that response (or DOTNET_LINES lines)."""
    end = stop
    for _ in range(DOTNET_LINES):
        if end >= len(chunk):
            break
        nxt = chunk.find(b"\n", end + 1)
        nxt = len(chunk) if nxt < 0 else nxt
        line = chunk[end + 1 : nxt]
        if DOTNET_REQUEST in line:
            break
        end = nxt
        if DOTNET_RESPONSE in line:
            return end
    return stop if end == stop else end
