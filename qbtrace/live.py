"""The live-diagnosis session: record OAuth exchanges as they complete, explain failures live.

A `LiveSession` writes each recorded exchange to the capture at once (one flushed line) and
hands it to a diagnosis thread, so a failed response reaches the client without waiting
for its explanation. The thread folds what arrived into one `LiveAnalysis` every POLL
seconds and tells each new failure in one line (`tell`, mitmproxy's log in the addon).
It holds no mitmproxy object: the addon (`addons/qbtrace_capture.py`) turns flows into
`RawParts` and calls `wants` and `record`; tests drive a session directly.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable
from pathlib import Path

from qbtrace.analysis import LiveAnalysis
from qbtrace.capture import CaptureWriter, RawRecord, encode_line, exchange_record, make_header
from qbtrace.errors import ConfigError
from qbtrace.model import Exchange, Finding, Kind, RawParts, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor, default_key
from qbtrace.render.view import Presenter, terminal_line
from qbtrace.sources.build import build_exchange
from qbtrace.sources.prefilter import PathFilter

logger = logging.getLogger("qbtrace")
MAX_SAMPLES = 1_000_000
POLL = 0.1
"""Seconds between the diagnosis thread's looks at what arrived. The hooks never wake it:
waking a thread costs the event loop tens of µs on a VM (a futex wake, an IPI)."""


class LiveSession:
    """One recording session: its capture file, its live analysis and its diagnosis thread."""

    def __init__(
        self,
        profile: Profile | None = None,
        redactor: Redactor | None = None,
        tell: Callable[[str], None] | None = None,
    ) -> None:
        self.redactor = redactor or Redactor(default_key())
        self.presenter = Presenter(self.redactor)
        self.tell = tell or (lambda line: logger.warning("%s", line))
        """Where each failure's line goes (the addon: mitmproxy's log)."""
        self.profile = Profile()
        self.filter = PathFilter(self.profile)
        self.live = LiveAnalysis(self.profile)
        """The session so far, touched only by the diagnosis thread."""
        self.configure(profile or Profile())
        self.writer: CaptureWriter | None = None
        self.source = "live"
        self.keep_raw = False
        self.recorded = 0
        self.lost = 0
        self.failures: dict[str, int] = {}
        self.arrived: deque[Exchange] = deque()
        """Recorded exchanges the diagnosis thread has not folded yet (deques are thread-safe)."""
        self.requests: queue.SimpleQueue[threading.Event | None] = queue.SimpleQueue()
        """`settle` asks the diagnosis thread for a forced round; None stops the thread."""
        self.diagnoser: threading.Thread | None = None
        self.time_unrelated = array("q")
        """Nanoseconds inside the hooks per flow (`sample`), when the addon measures them."""
        self.time_matching = array("q")
        self.time_diagnosis = array("q")
        self.timing = False

    def configure(self, profile: Profile) -> None:
        self.profile = profile
        self.filter = PathFilter(profile)
        self.live.profile = profile
        self.presenter = Presenter(self.redactor, profile=profile)

    def open(self, path: str, keep_raw: bool = False) -> None:
        """Append to the capture at `path` (none when empty); ConfigError when unwritable."""
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

    def record(self, kind: Kind, parts: RawParts, flow_id: str | None = None) -> Exchange:
        """Write one exchange of a known kind and queue it for diagnosis."""
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
        if self.diagnoser is None:
            self.diagnoser = threading.Thread(
                target=self._diagnosis_loop, name="qbtrace-diagnosis", daemon=True
            )
            self.diagnoser.start()
        return exchange

    def sample(self, nanoseconds: int, matching: bool) -> None:
        """One hook's own time, kept for the exit summary when timing is on."""
        samples = self.time_matching if matching else self.time_unrelated
        if len(samples) < MAX_SAMPLES:
            samples.append(nanoseconds)

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

    def _diagnosis_loop(self) -> None:
        while True:
            try:
                request = self.requests.get(timeout=POLL)
            except queue.Empty:
                if self.arrived or self.live.held:
                    self._diagnose(force=False)
                continue
            if request is None:
                return
            self._diagnose(force=True)
            request.set()

    def _diagnose(self, force: bool) -> None:
        """Fold what arrived into the live state; tell the findings ready to tell."""
        start = time.perf_counter_ns()
        try:
            arrived = [self.arrived.popleft() for _ in range(len(self.arrived))]
            for exchange, finding in self.live.tell(arrived, time.monotonic(), force):
                self.failures[finding.cause] = self.failures.get(finding.cause, 0) + 1
                self.tell(live_line(finding, exchange, self.presenter))
        except Exception as exc:
            logger.error("qbtrace: live diagnosis failed (%s)", exc.__class__.__name__)
        if self.timing and len(self.time_diagnosis) < MAX_SAMPLES:
            self.time_diagnosis.append(time.perf_counter_ns() - start)

    def settle(self) -> None:
        """Wait until every failure recorded so far has been told (held ones too)."""
        thread = self.diagnoser
        if thread is None:
            return  # nothing was recorded
        finished = threading.Event()
        self.requests.put(finished)
        while not finished.wait(1.0) and thread.is_alive():
            pass

    def close(self) -> str:
        """Tell every failure, stop the thread, close the capture; the summary line."""
        self.settle()
        if self.diagnoser is not None:
            self.requests.put(None)
            self.diagnoser = None
        self.close_capture()
        return (
            f"qbtrace: {self.recorded} exchanges recorded, "
            f"{sum(self.failures.values())} failed token requests"
            + (self._times() if self.timing else "")
        )

    def close_capture(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _times(self) -> str:
        return (
            "; addon time per flow (mean/p50/p99 µs): "
            f"matching {spread(self.time_matching)}, unrelated {spread(self.time_unrelated)}, "
            f"live diagnosis {spread(self.time_diagnosis)}"
        )


def spread(samples: array[int]) -> str:
    """`mean/p50/p99 (n=…)` of nanosecond samples, in µs."""
    if not samples:
        return "-"
    ordered = sorted(samples)
    mean = sum(ordered) / len(ordered)
    p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)]
    return f"{mean / 1000:.2f}/{p50 / 1000:.2f}/{p99 / 1000:.2f} (n={len(ordered)})"


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
