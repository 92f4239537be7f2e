"""A plain log file scanned where it lies: memory-mapped, searched in place, never copied.

On the 2-core VM the benchmarks run on, copying a file's bytes out of the page cache
(`read`, `readinto`, slicing a mapping) costs about 1 s per GB, three times the
Aho-Corasick pass itself (0.33 s per GB on a mapping). So a regular file is mapped once and
`driver.FINDER` and the newline count run on views of the mapping, window by window; a
record around a hit is assembled on the mapping itself (`driver.record`: the whole file is
its context, no window edges), and only its bytes are copied. The pages behind the window
are given back (`MADV_DONTNEED`), so the resident set stays about a window whatever the
file's size (`ru_maxrss` counts mapped file pages).
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Iterator
from pathlib import Path

from qbtrace.sources.logs.driver import CONTEXT, FINDER, LONGEST, Span, Tally, record

WINDOW = 16 << 20
BLOCK = 1 << 20
SMALL = 65536
"""Below this many bytes a copy and `bytes.count` is cheaper than a search on the mapping."""


@contextlib.contextmanager
def mapping(path: Path) -> Iterator[mmap.mmap | None]:
    """The file mapped read-only, or None when it cannot be (empty, not mappable)."""
    try:
        with path.open("rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        yield None
        return
    try:
        yield mapped
    finally:
        mapped.close()


def mapped_spans(
    data: mmap.mmap,
    lo: int = 0,
    hi: int | None = None,
    tally: Tally | None = None,
    skip_before: int = -1,
) -> Iterator[Span]:
    """`driver.spans` of the needles that start in data[lo:hi], positions and line indexes
    relative to `lo`; records may reach outside [lo, hi) (the file is the context). Needles
    before `skip_before` (relative to `lo`) lie inside a record found before the part."""
    hi = len(data) if hi is None else hi
    view = memoryview(data)
    counter = _Lines(data, view, lo)
    try:
        yield from _walk(data, counter, lo, hi, tally, skip_before)
    finally:
        counter.close()
        view.release()


def _walk(
    data: mmap.mmap,
    counter: _Lines,
    lo: int,
    hi: int,
    tally: Tally | None,
    skip_before: int,
) -> Iterator[Span]:
    last_end = lo + skip_before
    released = 0
    for start in range(lo, hi, WINDOW):
        end = min(start + WINDOW, hi)
        # a needle that starts in the window may end past it: search a few bytes further
        reach = min(end + LONGEST - 1, len(data))
        for at in FINDER.hits(data, start, reach):
            if at >= end or at < last_end:
                continue
            first, stop = record(data, at)
            index = counter.at(first)
            last_end = stop
            yield Span(index, data[first:stop], at - lo, stop - lo)
        counter.at(end)
        released = _release(data, released, start - CONTEXT)
    if tally is not None:
        tally.lines = counter.at(hi) + (hi > lo and data[hi - 1 : hi] != b"\n")


class _Lines:
    """Newlines from `lo` to a position, counted once per byte as positions move forward.

    `bytes.count` runs on bytes, not on a mapping: the bytes are copied a block at a time
    into one reused buffer that stays in the CPU's cache (memcpy: 0.12 s per GB here), then
    counted (about 0.6 s per GB). A search on the mapping (`re.findall`) costs 0.7-0.9 s."""

    def __init__(self, data: mmap.mmap, view: memoryview, lo: int) -> None:
        self.data, self.view, self.pos, self.lines = data, view, lo, 0
        self.buffer = bytearray(BLOCK)
        self.block = memoryview(self.buffer)

    def at(self, pos: int) -> int:
        """Lines between `lo` and `pos` (negative before `lo`); `pos` becomes the mark."""
        if pos >= self.pos:
            self.lines += self._count(self.pos, pos)
        else:
            self.lines -= self._count(pos, self.pos)
        self.pos = pos
        return self.lines

    def _count(self, a: int, b: int) -> int:
        if b - a < SMALL:
            return self.data[a:b].count(b"\n")
        count = 0
        for at in range(a, b, BLOCK):
            size = min(BLOCK, b - at)
            self.block[:size] = self.view[at : at + size]
            count += self.buffer.count(b"\n", 0, size)
        return count

    def close(self) -> None:
        self.block.release()


def _release(data: mmap.mmap, done: int, upto: int) -> int:
    """Give back the mapped pages in [done, upto) (read already); returns the new mark."""
    end = upto // mmap.PAGESIZE * mmap.PAGESIZE
    if end > done:
        with contextlib.suppress(OSError, ValueError):
            data.madvise(mmap.MADV_DONTNEED, done, end - done)
        return end
    return done
