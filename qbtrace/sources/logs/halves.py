"""A big plain log read by two processes, a half each: both cores for the pass over the bytes
and for the Python work around the hits (on two cores one scan is half the run).

The file is mapped (`mapped`) and cut at a line start near its middle. A forked child scans
the second half of the mapping while this process scans the first, the whole file their
context, and the records are joined at the cut as a single scan finds them: the child's
records that begin inside the first half's last record are dropped; when one of those
reached past that record (it may have hidden a needle the child then skipped), the second
half is scanned again here.
Without fork, with threads running, or when the child fails, the second half is scanned here
as well: the same result on one core.
"""

from __future__ import annotations

import mmap
import os
import pickle
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, tzinfo
from pathlib import Path

from qbtrace.model import Input, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources.logs import Found, Part, exports, scan_mapped, to_input
from qbtrace.sources.logs.mapped import WINDOW, mapping

SPLIT_FROM = 64 << 20
"""Bytes from which a plain log is read in two halves (below, forking costs more than the
half it saves)."""
HEAD = 65536


def read_split(
    path: Path,
    source: str,
    profile: Profile,
    redactor: Redactor,
    zone: tzinfo | None = None,
    cut: int | None = None,
    fork: bool = True,
) -> Input | None:
    """The plain log at `path`, mapped (`mapped`) and read in two halves when it is big
    (cut at `cut`, a line start, else near the middle; the second in a child unless not
    `fork`); None when it is compressed, an export document or cannot be mapped: read it
    as a stream."""
    zone = zone or UTC
    with mapping(path) as data:
        if data is None or data[:2] == b"\x1f\x8b" or exports.is_document(data[:HEAD]):
            return None
        size = len(data)
        if cut is None:
            cut = _line_start(data, size // 2) if size >= SPLIT_FROM else None
        if cut is None:
            return to_input(
                scan_mapped(data, 0, size, source, profile, redactor, zone), source, zone
            )
        return to_input(_halves(data, cut, source, profile, redactor, zone, fork), source, zone)


def _halves(
    data: mmap.mmap,
    cut: int,
    source: str,
    profile: Profile,
    redactor: Redactor,
    zone: tzinfo,
    fork: bool,
) -> Part:
    def second(skip_before: int = -1) -> Part:
        return scan_mapped(data, cut, len(data), source, profile, redactor, zone, skip_before)

    child = _Child(second if fork else None)
    try:
        first = scan_mapped(data, 0, cut, source, profile, redactor, zone)
        later = child.result() or second()
    finally:
        child.close()
    joined = join(first, later, cut)
    if joined is None:  # rare: see the module's docstring
        ends = first.found[-1].stop - cut if first.found else -1
        joined = join(first, second(skip_before=ends), cut)
    assert joined is not None
    return joined


def join(first: Part, second: Part, cut: int) -> Part | None:
    """The parts of a log cut at byte `cut`, as one scan reads them; None when the second
    must be scanned again past the first's last record."""
    ends = first.found[-1].stop - cut if first.found else -1  # relative to the second part
    inside = [f for f in second.found if f.at < ends]
    if any(f.stop > ends for f in inside):
        return None
    later = [_shifted(f, first.lines, cut) for f in second.found[len(inside) :]]
    return Part(first.lines + second.lines, [*first.found, *later])


def _shifted(found: Found, lines: int, cut: int) -> Found:
    x = found.exchange
    if x is not None:
        x = replace(x, ref=Ref(x.ref.source, x.ref.index + lines))
    return replace(found, at=found.at + cut, stop=found.stop + cut, exchange=x)


class _Child:
    """`work` run in a forked child; `result()` waits for what it returned (None when there
    is no child or it failed: then the caller does the work itself)."""

    def __init__(self, work: Callable[[], Part] | None) -> None:
        self.pid = 0
        self.fd = -1
        if work is None or not hasattr(os, "fork") or threading.active_count() > 1:
            return  # forking a process with threads can leave their locks held in the child
        fd, out = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(fd)
            os.close(out)
            return
        if pid == 0:
            os.close(fd)
            _serve(work, out)
        os.close(out)
        self.pid, self.fd = pid, fd

    def result(self) -> Part | None:
        if not self.pid:
            return None
        with os.fdopen(self.fd, "rb") as pipe:
            self.fd = -1
            payload = pipe.read()
        self._reap()
        try:
            got = pickle.loads(payload) if payload else None
        except (pickle.UnpicklingError, EOFError, AttributeError, ValueError):
            return None
        return got if isinstance(got, Part) else None

    def close(self) -> None:
        """Stop listening (the child's write fails and it exits) and reap it."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self._reap()

    def _reap(self) -> None:
        if self.pid:
            os.waitpid(self.pid, 0)
            self.pid = 0


def _serve(work: Callable[[], Part], out: int) -> None:
    """The child's whole life: do the work, send it, exit without running the parent's
    exit handlers or flushing its buffers."""
    try:
        try:
            payload = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:  # the parent scans this half itself and reports the error
            payload = b""
        with os.fdopen(out, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(0)


def _line_start(data: mmap.mmap, near: int) -> int | None:
    """The first line start at or after `near` (within a window), or None."""
    at = data.find(b"\n", max(near - 1, 0), near - 1 + WINDOW) if near > 0 else -1
    return None if at < 0 or at + 1 >= len(data) else at + 1
