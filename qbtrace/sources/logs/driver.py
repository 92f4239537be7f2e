"""The line-by-line driver: find the records that mention a token request, fast, in any size.

A log of a busy app is gigabytes of noise with one token line in a thousand. So no line is
parsed until a substring pre-filter (Aho-Corasick over the bytes, in native code, when
`ahocorasick_rs` is installed; `bytes.find` per needle otherwise) has found one of NEEDLES
in it. Around each hit the whole record is assembled: a traceback above it (Python's, ending
in the SDK's exception line), the indented lines of a Node object below it,
the .NET AdvancedLogger's request lines up to its response line. The file is walked in
windows; pages behind the window are released, so memory stays bounded whatever the size.
"""

from __future__ import annotations

import contextlib
import mmap
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeAlias

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
LONGEST = max(len(n) for n in NEEDLES)
WINDOW = 8 << 20
CONTEXT = 256 << 10
"""Bytes kept either side of a window: the longest record assembled around a hit."""
MAX_LINES = 400
SLICE = 1 << 16
"""Bytes counted at a time by `newlines`."""
DOTNET_REQUEST = b"Request url- "
DOTNET_RESPONSE = b"Response Status Code"
DOTNET_LINES = 16
CONTINUES = (b"Traceback (", b"During handling of", b"The above exception", b"}", b"]", b")")
EXCEPTION_LINE = re.compile(rb"[A-Za-z_][\w.]*(?:Error|Exception)\b")
Haystack: TypeAlias = bytes | mmap.mmap
"""What records are found in: a piece of a log, or a whole log file mapped (`mapped`)."""


@dataclass(slots=True)
class Tally:
    """What the scan counted on its way: every line of the file, matching or not, and why
    it stopped before the file's end (a damaged export: what came before it was read)."""

    lines: int = 0
    stopped: str | None = None


@dataclass(frozen=True, slots=True)
class Span:
    """One record found by the pre-filter: its first line's index and its bytes."""

    index: int
    data: bytes
    at: int = 0
    """Where its first needle starts, in bytes from the stream's start."""
    stop: int = 0
    """Where the record ends (its last newline), in bytes from the stream's start."""


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

    def inside(self, chunk: bytes, at: int, end: int) -> bool:
        """Whether a needle starting at `at` ends before `end` (found in the piece already)."""
        return any(chunk.startswith(n, at) and at + len(n) <= end for n in NEEDLES)

    def hits(self, chunk: Haystack, lo: int, hi: int) -> list[int]:
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
    return spans_of(buffer_pieces(data), tally)


def spans_of(
    pieces: Iterable[bytes],
    tally: Tally | None = None,
    behind: bytes = b"",
    ahead: bytes = b"",
    skip_before: int = -1,
) -> Iterator[Span]:
    """`spans` over a stream of pieces cut anywhere, each but the last at least CONTEXT long:
    a file read in windows, or gzip inflated as it is read, never held whole. A piece is
    searched where it lies; a record near its edges (or a needle across a cut) is assembled
    over the neighbouring pieces. A part of a file (`halves`) has the lines around it as
    `behind` (from a line start) and `ahead`, context only; needles before `skip_before`
    are inside a record found before the part."""
    stream = iter(pieces)
    # `behind`: the end of the previous piece, context for records that began there
    current = next(stream, None)
    lines_before = 0  # newlines before `current`
    last_end = skip_before  # where the last record ended, relative to `current`
    last = b""
    base = 0  # bytes before `current`
    while current is not None:
        following = next(stream, None)
        window = _Window(behind, current, following if following is not None else ahead)
        counted, counted_lines = 0, lines_before
        for at in sorted({*FINDER.hits(current, 0, len(current)), *window.across()}):
            if at < last_end:
                continue
            first, stop, data = window.record(at)
            counted_lines += window.newlines(counted, first)
            counted, last_end = first, stop
            yield Span(counted_lines, data, base + at, base + stop)
        lines_before = counted_lines + window.newlines(counted, len(current))
        behind = tail(current if len(current) >= CONTEXT else behind + current)
        last_end -= len(current)
        base += len(current)
        last = current[-1:] or last
        current = following
    if tally is not None:
        tally.lines = lines_before + (bool(last) and last != b"\n")


class _Window:
    """A piece with the context either side of it; a record near an edge is assembled over
    that edge only. Positions are relative to the piece's start (negative: the piece before)."""

    def __init__(self, behind: bytes, current: bytes, following: bytes | None) -> None:
        self.behind, self.current, self.following = behind, current, following
        self._edges: dict[str, tuple[bytes, int]] = {}

    def record(self, at: int) -> tuple[int, int, bytes]:
        current = self.current
        if CONTEXT <= at <= len(current) - CONTEXT:
            buf, shift = current, 0
        else:
            buf, shift = self._edge("head" if at < CONTEXT else "tail")
        first, stop = record(buf, at + shift)
        return first - shift, stop - shift, buf[first:stop]

    def _edge(self, side: str) -> tuple[bytes, int]:
        """The piece's first (last) 2*CONTEXT bytes with the context before (after) it, and
        the shift from piece positions to positions in it."""
        if side not in self._edges:
            current, span = self.current, 2 * CONTEXT
            if len(current) <= 2 * span:  # a short piece: one buffer with both contexts
                ahead = self.following[:CONTEXT] if self.following else b""
                joined = (self.behind + current + ahead, len(self.behind))
                self._edges["head"] = self._edges["tail"] = joined
            elif side == "head":
                self._edges[side] = (self.behind + current[:span], len(self.behind))
            else:
                ahead = self.following[:CONTEXT] if self.following else b""
                cut = max(len(current) - span, 0)
                self._edges[side] = (current[cut:] + ahead, -cut)
        return self._edges[side]

    def across(self) -> list[int]:
        """Needles that begin in this piece and end in the next (a file read in fixed
        blocks cuts lines anywhere)."""
        if not self.following:
            return []
        # the few bytes either side of the cut, not the tail's whole context (a copy of
        # 3 * CONTEXT bytes per piece when no record is near the cut)
        start = max(len(self.current) - LONGEST + 1, 0)
        edge = self.current[start:] + self.following[: LONGEST - 1]
        end = len(self.current) - start
        found = FINDER.hits(edge, 0, len(edge))
        return [start + at for at in found if at < end and not FINDER.inside(edge, at, end)]

    def newlines(self, a: int, b: int) -> int:
        """Newlines between positions a and b (negative when b < a)."""
        if b < a:
            return -self.newlines(b, a)
        count = 0
        if a < 0:
            count += newlines(self.behind, len(self.behind) + a, len(self.behind) + min(b, 0))
            a = 0
        if b > a:
            count += newlines(self.current, a, b)
        return count


def newlines(buf: Haystack, a: int, b: int) -> int:
    """`buf.count(b"\\n", a, b)`, fast: a SLICE of bytes at a time, counted as
    `len(s) - len(s.replace(b"\\n", b""))`. `replace` finds each newline with memchr, and a
    slice this small stays in the CPU's cache between the copy and the search: 2.3 GB/s here,
    where `bytes.count` of one byte runs a plain loop (0.7 GB/s) and bigger slices fall out
    of the cache (0.6-0.8 GB/s). Works on a mapping too (`mapped`)."""
    count = 0
    for at in range(a, b, SLICE):
        piece = buf[at : min(at + SLICE, b)]
        count += len(piece) - len(piece.replace(b"\n", b""))
    return count


def tail(piece: bytes) -> bytes:
    """The last CONTEXT bytes of a piece, from a line start."""
    if len(piece) <= CONTEXT:
        return piece
    tail = piece[-CONTEXT:]
    cut = tail.find(b"\n")
    return tail[cut + 1 :] if cut >= 0 else b""


def buffer_pieces(data: memoryview | bytes) -> Iterator[bytes]:
    """A buffer in pieces ending at newlines; mapped pages already read are given back."""
    total, start = len(data), 0
    while start < total:
        end = _window_end(data, start, total)
        yield bytes(data[start:end])
        _release(data, max(start - CONTEXT, 0))
        start = end


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def file_pieces(handle: Readable, head: bytes = b"") -> Iterator[bytes]:
    """A file read in WINDOW blocks after `head` (bytes already read), cut anywhere:
    `spans_of` finds the needles and records across the cuts. `read()` rather than a
    mapping (which faults in every 4 KB page), and memory is a few windows whatever the
    file's size."""
    if head:
        yield head
    while True:
        block = handle.read(WINDOW)
        if not block:
            return
        yield block


def newline_pieces(blocks: Iterable[bytes | bytearray], head: bytes = b"") -> Iterator[bytes]:
    """Re-cut blocks of any size into pieces of about WINDOW bytes that end at a newline,
    the rest of a line carried forward (each byte copied once)."""
    parts: list[bytes | bytearray] = [head] if head else []
    size = len(head)
    for block in blocks:
        parts.append(block)
        size += len(block)
        if size < WINDOW:
            continue
        joined = b"".join(parts)
        cut = joined.rfind(b"\n")
        if cut < 0 and size <= 4 * WINDOW:
            parts = [joined]  # a line longer than a window: wait for its end
            continue
        cut = len(joined) - 1 if cut < 0 else cut
        yield joined[: cut + 1]
        parts = [joined[cut + 1 :]] if cut + 1 < len(joined) else []
        size = len(joined) - cut - 1
    if size:
        yield b"".join(parts)


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


def record(chunk: Haystack, pos: int) -> tuple[int, int]:
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


def _line(chunk: Haystack, pos: int) -> tuple[int, int]:
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


def _back(chunk: Haystack, first: int) -> int:
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


def _forward(chunk: Haystack, stop: int) -> int:
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


def _dotnet_end(chunk: Haystack, stop: int) -> int:
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
