"""A plain log file scanned where it lies: memory-mapped, searched in place.

On the 2-core VM the benchmarks run on, reading a file's bytes out of the page cache in big
blocks (`read`, `readinto`, slicing a mapping) costs about 1 s per GB, three times the
Aho-Corasick pass itself (0.33 s per GB on a mapping). So a regular file is mapped once and
`driver.FINDER` runs on the mapping, window by window; the newlines are counted on 64 KB
slices of it, small enough to stay in the CPU's cache (`driver.newlines`); a record around
a hit is assembled on the mapping itself (`driver.record`: the whole file is its context,
no window edges), and only its bytes are copied. The pages behind the window are given
back (`MADV_DONTNEED`), so the resident set stays about a window whatever the file's size
(`ru_maxrss` counts mapped file pages)."""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Iterator
from pathlib import Path

from qbtrace.sources.logs.driver import (
    CONTEXT,
    FINDER,
    LONGEST,
    Span,
    Tally,
    newlines,
    record,
)

WINDOW = 16 << 20


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
    yield from _walk(data, _Lines(data, lo), lo, hi, tally, skip_before)


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
    """Newlines from `lo` to a position, counted once per byte as positions move forward
    (`driver.newlines`, on slices of the mapping small enough to stay in the CPU's cache)."""

    def __init__(self, data: mmap.mmap, lo: int) -> None:
        self.data, self.pos, self.lines = data, lo, 0

    def at(self, pos: int) -> int:
        """Lines between `lo` and `pos` (negative before `lo`); `pos` becomes the mark."""
        if pos >= self.pos:
            self.lines += newlines(self.data, self.pos, pos)
        else:
            self.lines -= newlines(self.data, pos, self.pos)
        self.pos = pos
        return self.lines


def _release(data: mmap.mmap, done: int, upto: int) -> int:
    """Give back the mapped pages in [done, upto) (read already); returns the new mark."""
    end = upto // mmap.PAGESIZE * mmap.PAGESIZE
    if end > done:
        with contextlib.suppress(OSError, ValueError):
            data.madvise(mmap.MADV_DONTNEED, done, end - done)
        return end
    return done
