"""A big plain log read by two processes, a half each: both cores for the pass over the bytes
and for the Python work around the hits (on two cores one scan is half the run).

The file is cut at a line start near its middle and two forked children scan a half each on
the file's mapping (`mapped`), the whole file their context; the records are joined at the
cut as a single scan finds them: the second half's records that begin inside the first
half's last record are dropped; when one of those reached past that record (it may have
hidden a needle the second half then skipped), the second half is scanned again.

Only the children touch the mapping. A mapped file that shrinks under its reader (logrotate's
`copytruncate`, an app truncating its own log) kills the reader with SIGBUS on the first
page past the new end; here that is a child, and this process reads the file again as a
stream, as it is now, with a warning (`Shrunk`). Small logs, and any log when this process
cannot fork (threads running), are read as a stream and never mapped.
"""

from __future__ import annotations

import faulthandler
import functools
import os
import pickle
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Protocol

from qbtrace.model import Input, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources.logs import Found, Part, exports, scan_mapped, to_input
from qbtrace.sources.logs.mapped import WINDOW, mapping

SPLIT_FROM = 64 << 20
"""Bytes from which a plain log is read in two halves (below, forking costs more than the
half it saves)."""
HEAD = 65536


class Shrunk(Exception):
    """The log got shorter while it was read: read it again as a stream, and say so."""

    def __init__(self) -> None:
        super().__init__(
            "the file shrank while it was read (truncated by log rotation?): "
            "what it holds now was read again from its start"
        )


class Pending(Protocol):
    def result(self) -> Part | None: ...

    def close(self) -> None: ...


Begin = Callable[[int, int | None, int], Pending]
"""Start the scan of a half: bytes [lo, hi) (None: to the end read at the start), needles
before `skip` (relative to `lo`) skipped; its `result()` is None when it failed."""


def read_split(
    path: Path,
    source: str,
    profile: Profile,
    redactor: Redactor,
    zone: tzinfo | None = None,
    cut: int | None = None,
    fork: bool = True,
) -> Input | None:
    """The plain log at `path` read in two halves at once by forked children when it is big
    (cut at `cut`, a line start, else near the middle); None when it is small, compressed,
    an export document, cannot be mapped or this process cannot fork: read it as a stream.
    Raises `Shrunk` when the file got shorter while the children read it. `fork=False`
    scans both halves here (the tests of the join)."""
    zone = zone or UTC
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            head = os.pread(handle.fileno(), HEAD, 0)
            if cut is None and size >= SPLIT_FROM:
                cut = _line_start(handle.fileno(), size // 2, size)
    except OSError:
        return None
    if cut is None or head[:2] == b"\x1f\x8b" or exports.is_document(head):
        return None
    if fork and not _can_fork():
        return None

    def scan(lo: int, hi: int | None, skip: int) -> Part:
        with mapping(path) as data:
            if data is None:
                raise OSError("the log cannot be mapped")
            end = min(size if hi is None else hi, len(data))
            return scan_mapped(data, lo, end, source, profile, redactor, zone, skip)

    def begin(lo: int, hi: int | None, skip: int) -> Pending:
        work = functools.partial(scan, lo, hi, skip)
        return _Child(work) if fork else _Here(work)

    part = _halves(cut, begin)
    if _shrank(path, size):  # a child died of it, or read a shorter file than was cut
        raise Shrunk
    return None if part is None else to_input(part, source, zone)


def _halves(cut: int, begin: Begin) -> Part | None:
    """Both halves at once, joined; None when a scan failed."""
    pending = [begin(cut, None, -1), begin(0, cut, -1)]
    try:
        second, first = (p.result() for p in pending)
    finally:
        for p in pending:
            p.close()
    if first is None or second is None:
        return None
    joined = join(first, second, cut)
    if joined is None:  # rare: see the module's docstring
        again = begin(cut, None, first.found[-1].stop - cut if first.found else -1)
        try:
            second = again.result()
        finally:
            again.close()
        joined = None if second is None else join(first, second, cut)
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


class _Here:
    """A half scanned in this process, when its result is asked for."""

    def __init__(self, work: Callable[[], Part]) -> None:
        self.work = work

    def result(self) -> Part | None:
        return self.work()

    def close(self) -> None:
        pass


class _Child:
    """`work` run in a forked child; `result()` waits for what it returned (None when there
    is no child or it failed: then the caller does the work itself)."""

    def __init__(self, work: Callable[[], Part] | None) -> None:
        self.pid = 0
        self.fd = -1
        if work is None or not _can_fork():
            return
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
    exit handlers or flushing its buffers. A fault (SIGBUS: the file shrank) ends it
    silently: the parent sees the missing result and says what happened."""
    faulthandler.disable()
    try:
        try:
            payload = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:  # the parent scans this half itself and reports the error
            payload = b""
        with os.fdopen(out, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(0)


def _can_fork() -> bool:
    """Forking a process with threads can leave their locks held in the child."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _shrank(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size < size
    except OSError:
        return False


def _line_start(fd: int, near: int, size: int) -> int | None:
    """The first line start at or after `near` (within a window), or None; read, not mapped."""
    window = os.pread(fd, WINDOW, near - 1) if near > 0 else b""
    at = window.find(b"\n")
    return None if at < 0 or near + at >= size else near + at
