"""The live-diagnosis session: record OAuth exchanges as they complete, explain failures live.

The proxy's hook only hands a finished flow over (`ended`: one C-level `deque.append`, no
Python call on mitmproxy's event loop); everything else runs on the session's recording
thread: every POLL seconds it tests each flow's path and copies the ones that may be OAuth
traffic (the `sieve` it was given), turns the copies into `RawParts` (`unpack`), redacts
each into an `Exchange`, writes it to the capture (one `os.write` a line), then folds what
arrived into one `LiveAnalysis` and tells each new failure in one line (`tell`, mitmproxy's
log in the addon); copies made with `submit` skip the sieve. So a capture line lands at most
POLL seconds after its flow ended: a SIGKILL loses the exchanges in flight and those that
ended in the last POLL; `settle` and `close` (the addon's `done`) write everything first.
The queues are bounded: past MAX_PENDING flows handed over (or MAX_PENDING_BYTES of their
bodies), `keep_up` (the addon's timer on the loop) waits for the thread, as `submit` does
past MAX_PENDING copies or MAX_PENDING_BYTES of bodies, instead of dropping anything. The
session imports nothing of mitmproxy (`sieve` and `unpack` do); tests drive it directly with
`record`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from qbtrace.analysis import LiveAnalysis
from qbtrace.capture import CaptureWriter, RawRecord, encode_line, exchange_record, make_header
from qbtrace.errors import ConfigError
from qbtrace.live_times import Times, add
from qbtrace.model import Exchange, Finding, Kind, RawParts, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor, default_key
from qbtrace.render.view import Presenter, terminal_line
from qbtrace.sources.build import build_exchange
from qbtrace.sources.prefilter import PathFilter

logger = logging.getLogger("qbtrace")
POLL = 0.05
"""Seconds between the recording thread's rounds: the longest a finished flow waits for its
capture line. The hooks never wake the thread, except when the queue is full: on a loaded
2-core VM a wake-up (a futex wake, the woken thread asking for the GIL) took the hook from
16-20 µs to 60-86 µs p50 live."""
MAX_PENDING = 1024
"""Copies queued at most before the hook waits for the recording thread (a slow disk)."""
MAX_PENDING_BYTES = 64 << 20
"""Bytes of bodies queued at most (each body is capped at 1 MB by the hook's copy)."""
RECENT_FLOWS = 4096
"""Flow ids remembered as recorded: a flow that ended with a response and then an error
(the client hung up after it; every such flow read back by `mitmdump -r`) reaches both the
`response` and the `error` hook, and is recorded once."""
T = TypeVar("T")
Recorded = tuple[Kind, RawParts, str | None]
"""A copied flow that is OAuth traffic: its kind, its raw parts and its flow id."""


@dataclass(frozen=True, slots=True)
class Flush:
    """A request to the recording thread: record what is queued, tell what is ready (all
    held guesses too when `force`), then set `done`."""

    done: threading.Event
    force: bool


class LiveSession(Generic[T]):
    """One recording session: its capture file, its live analysis and its recording thread.

    `T` is what the proxy's hook copies of a flow; `unpack` (run on the thread) turns it into
    a `Recorded`, or None when the flow is no OAuth exchange after all."""

    def __init__(
        self,
        profile: Profile | None = None,
        redactor: Redactor | None = None,
        tell: Callable[[str], None] | None = None,
        unpack: Callable[[T, Profile], Recorded | None] | None = None,
        sieve: Callable[[Any, PathFilter], tuple[T, int] | None] | None = None,
    ) -> None:
        self.redactor = redactor or Redactor(default_key())
        self.tell = tell or (lambda line: logger.warning("%s", line))
        """Where each failure's line goes (the addon: mitmproxy's log)."""
        self.unpack = unpack
        self.sieve = sieve
        self.ended: deque[Any] = deque()
        """What a hook handed over as it is (the addon: every finished flow), for the thread
        to `sieve`: the copy of one that may be OAuth traffic, None for any other."""
        self.pending: deque[tuple[T, int]] = deque()
        """Copies submitted by the hooks, not recorded yet (deques are thread-safe)."""
        self.queued_bytes = 0
        """Body bytes ever submitted: written by the hooks only, as `taken_bytes` is by the
        thread only, so that neither `+=` can lose the other's update."""
        self.taken_bytes = 0
        self.lock = threading.Lock()
        """Held by the thread for a round, and by `configure`/`open` while they swap state."""
        self.requests: queue.SimpleQueue[Flush | None] = queue.SimpleQueue()
        """A `Flush` asks the thread for a round now (`settle`, a full queue); None stops it."""
        self.worker: threading.Thread | None = None
        self.profile = profile or Profile()
        self.filter = PathFilter(self.profile)
        self.live = LiveAnalysis(self.profile)
        """The session so far, touched only by the recording thread."""
        self.presenter = Presenter(self.redactor, profile=self.profile)
        self.writer: CaptureWriter | None = None
        self.source = "live"
        self.keep_raw = False
        self.recorded = 0
        self.recent: dict[str, None] = {}
        """The last RECENT_FLOWS flow ids recorded, oldest first (touched by the thread only)."""
        self.lost = 0
        self.failures: dict[str, int] = {}
        self.arrived: deque[Exchange] = deque()
        """Recorded exchanges the thread has not folded into the live analysis yet."""
        self.times = Times()
        self.timing = False
        """Whether to keep `times` (the hooks add theirs with `times.hook`)."""

    def configure(self, profile: Profile) -> None:
        """Use `profile` from now on; copies already queued are recorded under the old one."""
        self._flush(force=False)
        with self.lock:
            self.profile = profile
            self.filter = PathFilter(profile)
            self.live.profile = profile
            self.presenter = Presenter(self.redactor, profile=profile)

    def open(self, path: str, keep_raw: bool = False) -> None:
        """Append to the capture at `path` (none when empty); ConfigError when unwritable."""
        self._flush(force=False)  # what is queued goes to the capture it arrived for
        with self.lock:
            self.close_capture()
            self.keep_raw = keep_raw
            if not path:
                return
            target = Path(path).expanduser()
            try:
                writer = CaptureWriter.open(target, raw=keep_raw)
                writer.write(encode_line(make_header(self.redactor, keep_raw)))
            except OSError as exc:
                raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None
            self.writer, self.source = writer, target.name
        if keep_raw:
            logger.warning("qbtrace: %s will hold RAW tokens and secrets", target)

    def wants(self, path: bytes) -> bool:
        """Whether a request path may be OAuth traffic: the cheap test for every flow."""
        return self.filter.may_match(path)

    def submit(self, item: T, size: int) -> None:
        """Queue a finished flow's copy (`size`: its body bytes) for the recording thread:
        all that the hook does for a flow that passed `wants`."""
        self.pending.append((item, size))
        self.queued_bytes += size
        if self.worker is None or not self.worker.is_alive():
            self._start()  # the first copy; or the thread ended (SystemExit from a log handler)
        elif (
            len(self.pending) > MAX_PENDING
            or self.queued_bytes - self.taken_bytes > MAX_PENDING_BYTES
        ):
            logger.warning(
                "qbtrace: the capture is %d exchanges behind; proxying waits for it",
                len(self.pending),
            )
            self._flush(force=False)

    def keep_up(self, held: Callable[[list[Any]], int] | None = None) -> None:
        """On the event loop every POLL (the addon's timer): start the thread again when it
        ended, and wait for it once MAX_PENDING flows, or flows that `held` says hold
        MAX_PENDING_BYTES (asked past MAX_PENDING // 16 flows), are waiting (a stalled disk),
        so that the flows handed over stay bounded however the thread fares."""
        if self.worker is None or not self.worker.is_alive():
            self._start()
            return
        waiting = len(self.ended)
        if waiting <= MAX_PENDING // 16:
            return
        # list() copies the deque in C, under the GIL, while the thread may pop from it
        if waiting > MAX_PENDING or (held and held(list(self.ended)) > MAX_PENDING_BYTES):
            logger.warning(
                "qbtrace: the capture is %d flows behind; proxying waits for it", waiting
            )
            self._flush(force=False)

    def record(self, kind: Kind, parts: RawParts, flow_id: str | None = None) -> Exchange:
        """Write one exchange of a known kind and queue it for diagnosis (on the recording
        thread; tests call it directly)."""
        if self.writer is not None and self.writer.gone():
            self._reopen()
        writer = self.writer
        index = writer.next_index if writer is not None else self.recorded
        exchange = build_exchange(Ref(self.source, index), kind, parts, self.redactor)
        if writer is not None:
            record = RawRecord(kind, parts, flow_id) if self.keep_raw else None
            self._write(encode_line(record or exchange_record(exchange, flow_id)))
        self.recorded += 1
        self.arrived.append(exchange)
        if self.worker is None:
            self._start()
        return exchange

    def _start(self) -> None:
        self.worker = threading.Thread(target=self._loop, name="qbtrace-recorder", daemon=True)
        self.worker.start()

    def _write(self, line: bytes) -> None:
        assert self.writer is not None
        try:
            self.writer.write(line)
        except OSError as exc:
            self.lost += 1
            logger.error(
                "qbtrace: CAPTURE WRITE FAILED for %s (%s): %d exchanges not saved so "
                "far; proxying continues",
                self.writer.path,
                exc.strerror or exc,
                self.lost,
            )

    def _reopen(self) -> None:
        """The capture was deleted or moved away while we ran: start it again, loudly."""
        assert self.writer is not None
        path = self.writer.path
        logger.error(
            "qbtrace: CAPTURE FILE %s WAS REMOVED while recording; starting it again", path
        )
        try:
            header = encode_line(make_header(self.redactor, self.keep_raw))
            self.writer = self.writer.reopened(header, raw=self.keep_raw)
        except OSError as exc:
            logger.error("qbtrace: CAPTURE WRITE FAILED for %s (%s)", path, exc.strerror or exc)

    def _loop(self) -> None:
        while True:
            try:
                request = self.requests.get(timeout=POLL)
            except queue.Empty:
                if self.ended or self.pending or self.arrived or self.live.held:
                    self._round(force=False)
                continue
            if request is None:
                return
            self._round(request.force)
            request.done.set()

    def _round(self, force: bool) -> None:
        """Record every queued copy, then tell the findings ready to tell."""
        with self.lock:
            self._sieve()
            while self.pending:
                item, size = self.pending.popleft()
                self._record_copy(item)
                self.taken_bytes += size
            if force or self.arrived or self.live.held:
                self._diagnose(force)

    def _sieve(self) -> None:
        """Record the copy of every flow handed over that may be OAuth traffic: a copy of
        the flow as mitmproxy's addons left it by this round."""
        ended, sieve, test, timing = self.ended, self.sieve, self.filter, self.timing
        while ended:
            item = ended.popleft()
            start = time.thread_time_ns() if timing else 0
            try:
                assert sieve is not None, "a hook hands flows over to a session made with sieve"
                copied = sieve(item, test)
            except Exception as exc:  # one bad flow must not stop the recording of the others
                logger.error(
                    "qbtrace: could not copy a flow (%s at %s); the flow passed unchanged",
                    exc.__class__.__name__,
                    fault_line(exc),
                )
                continue
            if copied is None:
                if timing:
                    add(self.times.sieved, time.thread_time_ns() - start)
                continue
            self._record_copy(copied[0])

    def _record_copy(self, item: T) -> None:
        start = time.thread_time_ns()  # CPU time: waits for the GIL are the loop's, not ours
        try:
            assert self.unpack is not None, "submit needs a session made with unpack"
            recorded = self.unpack(item, self.profile)
            if recorded is not None and self._first_time(recorded[2]):
                self.record(*recorded)
        except Exception as exc:  # one bad flow must not stop the recording of the others
            logger.error(
                "qbtrace: could not record a flow (%s at %s); the flow passed unchanged",
                exc.__class__.__name__,
                fault_line(exc),
            )
        if self.timing:
            add(self.times.recording, time.thread_time_ns() - start)

    def _first_time(self, flow_id: str | None) -> bool:
        """Whether the flow `flow_id` was not recorded yet (now it is)."""
        if flow_id is None:
            return True
        if flow_id in self.recent:
            return False
        self.recent[flow_id] = None
        if len(self.recent) > RECENT_FLOWS:
            del self.recent[next(iter(self.recent))]
        return True

    def _diagnose(self, force: bool) -> None:
        """Fold what arrived into the live state; tell the findings ready to tell."""
        start = time.thread_time_ns()
        try:
            arrived = [self.arrived.popleft() for _ in range(len(self.arrived))]
            for exchange, finding in self.live.tell(arrived, time.monotonic(), force):
                self.failures[finding.cause] = self.failures.get(finding.cause, 0) + 1
                self.tell(live_line(finding, exchange, self.presenter))
        except Exception as exc:
            logger.error("qbtrace: live diagnosis failed (%s)", exc.__class__.__name__)
        if self.timing:
            add(self.times.diagnosis, time.thread_time_ns() - start)

    def _flush(self, force: bool) -> None:
        """Have the recording thread do a round now and wait for it; without a live thread
        (none started yet, or it died) the caller does the round itself."""
        thread = self.worker
        if thread is None or not thread.is_alive():
            if self.ended or self.pending or self.arrived or force:
                self._round(force)
            return
        finished = threading.Event()
        self.requests.put(Flush(finished, force))
        while not finished.wait(1.0):
            if not thread.is_alive():
                self._round(force)
                return

    def settle(self) -> None:
        """Wait until every flow submitted so far is written and every failure recorded so
        far has been told (held ones too)."""
        self._flush(force=True)

    def close(self) -> str:
        """Write and tell everything, stop the thread, close the capture; the summary line."""
        self.settle()
        thread, self.worker = self.worker, None
        if thread is not None:
            self.requests.put(None)
            thread.join()
        self.close_capture()
        return (
            f"qbtrace: {self.recorded} exchanges recorded, "
            f"{sum(self.failures.values())} failed token requests"
            + (self.times.summary() if self.timing else "")
        )

    def close_capture(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def fault_line(exc: BaseException) -> str:
    """`file:line` where `exc` was raised: says where without any value from the flow."""
    where = exc.__traceback__
    while where is not None and where.tb_next is not None:
        where = where.tb_next
    return f"{where.tb_frame.f_code.co_filename}:{where.tb_lineno}" if where else "?"


def live_line(finding: Finding, failed: Exchange, presenter: Presenter) -> str:
    """One line: `invalid_grant: refresh_token_superseded (certain): <first evidence>`."""
    said = finding.error or (f"HTTP {finding.status}" if finding.status else failed.failure)
    text = f"qbtrace: {said or 'no answer'}: {finding.cause} ({finding.confidence})"
    if finding.evidence:
        first = finding.evidence[0]
        text += f": {presenter.note(first)}"
        if first.time is not None:
            text += f" (at {time.strftime('%H:%M:%S', time.gmtime(first.time))}Z)"
    return terminal_line(f"{text} [{failed.ref.source}#{failed.ref.index}]")
