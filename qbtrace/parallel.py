"""A big capture's chunks decoded by several processes at once: the skeleton's one cost
that grows with every line of the input, spread over the machine's cores.

Each worker (a fresh interpreter: polars' threads do not survive a fork) decodes whole
lines of a byte range as `skeleton.CaptureSkeleton` does, numbering them from 0, and sends
back its columns, its unreadable lines, session headers and the exchanges it decoded in
full; this process renumbers them after the lines before. This process decodes ranges too
(`jobs` counts it), from the file's end while the workers take them from its start. Raw
records are left to this process, which holds the redactor's key.

The file is cut at line starts into units, `skeleton.UNITS` to a chunk. A process claims
several consecutive units at a time, fewer as fewer are left (a quarter of those left, at
most a chunk's worth): the last claims are a unit each, so the processes end within about
a unit of each other (with whole chunks, this process waited a third of a second at 1M for
the worker's last one).

A worker's columns come back as an Arrow file in a folder of the read's (`Task.spill`), not
through the pool's pipe: 6.6 MB pickled per 32 MB range went through it 64 KB at a time,
each piece waiting for this process's busy thread to let the pool's reader run (up to 5 ms,
the switch interval), and the worker waited with it: a quarter of its time at 1M.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from qbtrace.capture import Header, RawRecord, decode_line
from qbtrace.errors import InputError
from qbtrace.model import Exchange, Ref
from qbtrace.redact import Redactor
from qbtrace.skeleton import UNITS, CaptureSkeleton, HeaderOf

OPEN = Header(1, "", "", "")
"""Stands for the file's header in a worker: the lines of its range follow one."""


@dataclass(frozen=True)
class Task:
    path: Path
    source: str
    header_of: HeaderOf
    names: tuple[str, ...]
    start: int
    end: int
    kept: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    """What to keep of each chunk's columns (`CaptureSkeleton.kept`), applied where the
    chunk is decoded: in the parent it took about an eighth of the read's time at 1M."""
    spill: Path | None = None
    """Where a worker writes the range's columns (an Arrow file), sent back as its name."""


@dataclass
class Part:
    """What a worker found in its range, lines numbered from 0."""

    lines: int = 0
    """Lines in the range (blank ones too): how far the next range's numbers move."""
    entries: int = 0
    frame: pl.DataFrame | None = None
    spilled: Path | None = None
    """The Arrow file holding `frame`, when a worker wrote it there (`Task.spill`)."""
    headers: list[Header] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)
    full: dict[int, Exchange] = field(default_factory=dict)
    deferred: list[tuple[int, int, bytes]] = field(default_factory=list)
    error: str | None = None


def work(task: Task) -> Part:
    reader = CaptureSkeleton(
        task.path, task.source, Redactor(b"unused"), task.header_of, task.names, defer_raw=True
    )
    reader.parsed.headers.append(OPEN)
    reader.kept = task.kept
    try:
        with task.path.open("rb") as handle:
            lines = reader.decode_range(handle, task.start, task.end, 0)
    except InputError as exc:  # a later session's header of an unknown version
        return Part(error=str(exc).removeprefix(f"{task.source}: "))
    frame = pl.concat(reader.frames) if reader.frames else None
    part = Part(
        lines,
        reader.parsed.lines,
        frame,
        headers=reader.parsed.headers[1:],
        bad=reader.bad,
        full=reader.full,
        deferred=reader.deferred,
    )
    if frame is not None and task.spill is not None:
        try:
            frame.write_ipc(task.spill)
        except OSError:  # a full or vanished temporary folder: through the pipe, slower
            with contextlib.suppress(OSError):
                task.spill.unlink()
        else:
            part.frame, part.spilled = None, task.spill
    return part


def decode(reader: CaptureSkeleton, ranges: list[tuple[int, int]]) -> None:
    """Decode `ranges` (the file's units, in order; the first holds the header) into
    `reader`. Workers claim units from the front; this process takes the first chunk's
    worth, then claims units from the back while the workers are busy, so no core waits
    on another. Each claim's columns are `kept` as they come, so their text never piles
    up."""
    try:
        folder = tempfile.TemporaryDirectory(prefix="qbtrace-read-", ignore_cleanup_errors=True)
    except OSError:  # no temporary folder to write in: the columns come through the pipe
        _decode(reader, ranges, None)
        return
    with folder as spills:
        _decode(reader, ranges, Path(spills))


def _decode(reader: CaptureSkeleton, ranges: list[tuple[int, int]], spills: Path | None) -> None:
    plain, kept = _plain(reader), reader.kept
    names = [None if spills is None else spills / f"{n}" for n in range(len(ranges))]
    tasks = [
        Task(reader.path, reader.source, plain, reader.names, a, b, kept, name)
        for (a, b), name in zip(ranges, names, strict=True)
    ]
    workers = max(reader.jobs - 1, 1)
    context = multiprocessing.get_context("spawn")
    # the next unit from the front, the last + 1: this process reads the first chunk's
    ends = context.Array("q", [min(UNITS, len(tasks)), len(tasks)])
    pool = ProcessPoolExecutor(workers, context, _share, (ends, tasks))
    try:
        line, parts = _shared(reader, tasks, pool, workers, ends)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # a bad header: no more ranges
        raise
    if reader.keep_pool:  # its worker folds half the failures next (`bulk_halves`)
        reader.pool = pool
    else:
        pool.shutdown()
    for n in sorted(parts):
        part = parts.pop(n)
        if part.error is not None:
            raise InputError(part.error, source=reader.source)
        _merge(reader, part, line)
        line += part.lines


_SHARED: tuple[Any, list[Task]] = (None, [])
"""In a worker: the ends of the units not claimed yet (shared with every process of the
read) and the units."""


def _share(ends: Any, tasks: list[Task]) -> None:
    global _SHARED
    _SHARED = ends, tasks


def work_next() -> tuple[int, Part] | None:
    """The next units from the front, decoded, by their first; None once every unit is
    taken. Units are claimed when a worker starts on them, not when the call is queued:
    the last ones go to whichever process is free first, so none waits on another's
    queue at the end."""
    ends, tasks = _SHARED
    got = _take(ends, front=True)
    return None if got is None else (got[0], work(_claimed(tasks, *got)))


def _claimed(tasks: list[Task], first: int, end: int) -> Task:
    """The task of units first..end-1, its spill named after the first."""
    return replace(tasks[first], end=tasks[end - 1].end)


def _unspilled(part: Part) -> Part:
    """The part with its columns read back from the file its worker wrote, as soon as it
    comes (the file is removed: the folder holds only the ranges in flight)."""
    if part.spilled is None:
        return part
    frame = pl.read_ipc(part.spilled.read_bytes())  # not mapped: the file goes next
    with contextlib.suppress(OSError):
        part.spilled.unlink()
    return replace(part, frame=frame, spilled=None)


def _take(ends: Any, front: bool) -> tuple[int, int] | None:
    """Claim units from the front or the back: a quarter of those left, 1 to `UNITS`."""
    with ends.get_lock():
        left = int(ends[1] - ends[0])
        if left <= 0:
            return None
        count = max(1, min(UNITS, left // 4))
        if front:
            ends[0] += count
            return int(ends[0]) - count, int(ends[0])
        ends[1] -= count
        return int(ends[1]), int(ends[1]) + count


def _shared(
    reader: CaptureSkeleton,
    tasks: list[Task],
    pool: ProcessPoolExecutor,
    workers: int,
    ends: Any,
) -> tuple[int, dict[int, Part]]:
    """The first range decoded into `reader` (the lines it held) and the others' parts,
    shared between the pool and this process (`decode`)."""
    parts: dict[int, Part] = {}
    queued: list[Future[tuple[int, Part] | None]] = []

    def top_up() -> None:
        """Take what the workers sent; keep one call queued beyond their number."""
        for future in [f for f in queued if f.done()]:
            queued.remove(future)
            if (got := future.result()) is not None:
                parts[got[0]] = _unspilled(got[1])
        while len(queued) <= workers and ends[0] < ends[1]:
            queued.append(pool.submit(work_next))

    top_up()  # the workers start while this process reads the header's units
    with reader.path.open("rb") as handle:
        line = reader.decode_range(handle, 0, tasks[min(UNITS, len(tasks)) - 1].end, 0)
    while (units := _take(ends, front=False)) is not None:
        parts[units[0]] = work(replace(_claimed(tasks, *units), spill=None))
        top_up()
    for future in queued:
        if (got := future.result()) is not None:
            parts[got[0]] = _unspilled(got[1])
    return line, parts


def _plain(reader: CaptureSkeleton) -> HeaderOf:
    header_of = reader.header_of
    if isinstance(header_of, HeaderOf):
        return HeaderOf(header_of.hosts, header_of.default)
    raise TypeError("a parallel read needs a HeaderOf")


def _merge(reader: CaptureSkeleton, part: Part, line: int) -> None:
    reader.parsed.lines += part.entries
    reader.parsed.headers += part.headers
    reader.bad += [(index + line, why) for index, why in part.bad]
    for index, x in part.full.items():
        reader.full[index + line] = replace(x, ref=Ref(reader.source, index + line))
    frames = [] if part.frame is None else [part.frame.with_columns(pl.col("line") + line)]
    cols = reader.columns()
    for index, offset, text in part.deferred:
        item = decode_line(text)
        assert isinstance(item, RawRecord)
        x = reader.full[index + line] = reader.exchange(item, index + line)
        cols.add_exchange(x, offset)
        cols.data["length"][-1] = len(text)
    if part.deferred:  # their rows put in line order with the range's: a copy of one range
        frames = [pl.concat([*frames, reader.keep(cols.frame())]).sort("line")]
    reader.frames += frames  # kept already, where they were decoded (`Task.kept`)
