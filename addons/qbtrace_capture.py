"""mitmproxy addon: record OAuth exchanges to a qbtrace capture, explain failures live.

    mitmdump -s addons/qbtrace_capture.py --set qbtrace_capture=oauth.jsonl

Only the exchanges the provider profile recognises (token, authorize, callback, revoke,
disconnect) are recorded, each as one JSON line written and flushed when its flow ends in
`response` or `error`. After every failed token request one warning line gives the cause,
as `qbtrace analyze` would on what was seen so far (a diagnosis thread folds each exchange
into one live state and explains only the new failures). The addon never breaks proxying:
any exception inside it is logged (without values from the flow) and the flow passes
untouched. `--set qbtrace_timing=true` logs the addon's own time per flow at exit.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from array import array
from collections import deque
from pathlib import Path

from mitmproxy import ctx, exceptions, http
from mitmproxy.addonmanager import Loader

from qbtrace.analysis import LiveAnalysis
from qbtrace.capture import (
    CaptureWriter,
    RawRecord,
    encode_line,
    exchange_record,
    make_header,
)
from qbtrace.config import load_profile
from qbtrace.errors import QbtraceError
from qbtrace.model import Exchange, Finding, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor, default_key
from qbtrace.render.view import Presenter, terminal_safe
from qbtrace.sources.build import build_exchange
from qbtrace.sources.mitm import flow_parts, needle_pattern

logger = logging.getLogger("qbtrace")
MAX_SAMPLES = 1_000_000
POLL = 0.1
"""Seconds between the diagnosis thread's looks at what arrived. The hooks never wake it:
waking a thread costs the event loop tens of µs on a VM (a futex wake, an IPI)."""


class QbtraceCapture:
    def __init__(self) -> None:
        self.profile = Profile()
        self.pattern = needle_pattern(self.profile)
        self.anchors = path_anchors(self.profile.needles)
        self.redactor = Redactor(default_key())
        self.presenter = Presenter(self.redactor)
        self.writer: CaptureWriter | None = None
        self.source = "live"
        self.keep_raw = False
        self.timing = False
        self.recorded = 0
        self.lost = 0
        self.failures: dict[str, int] = {}
        # nanoseconds spent inside the hooks per flow, kept when `qbtrace_timing` is set
        self.time_unrelated = array("q")
        self.time_matching = array("q")
        self.time_diagnosis = array("q")
        self.live = LiveAnalysis(self.profile)
        """The session so far, touched only by the diagnosis thread."""
        self.arrived: deque[Exchange] = deque()
        """Recorded exchanges the diagnosis thread has not folded yet (deques are thread-safe)."""
        self.requests: queue.SimpleQueue[threading.Event | None] = queue.SimpleQueue()
        """`settle` asks the diagnosis thread for a forced round; None stops the thread."""
        self.diagnoser: threading.Thread | None = None

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "qbtrace_capture",
            str,
            "",
            "Append OAuth exchanges to this qbtrace capture file (JSON Lines).",
        )
        loader.add_option(
            "qbtrace_config",
            str,
            "",
            "qbtrace.toml with provider endpoints and the app's redirect URIs and client ids.",
        )
        loader.add_option(
            "qbtrace_keep_raw",
            bool,
            False,
            "Keep raw tokens, codes and secrets in the capture (local debugging only).",
        )
        loader.add_option(
            "qbtrace_timing",
            bool,
            False,
            "Measure the addon's own time per flow and log it at exit (benchmarks).",
        )

    def configure(self, updated: set[str]) -> None:
        if "qbtrace_config" in updated:
            path = ctx.options.qbtrace_config
            try:
                self.profile = load_profile(Path(path) if path else None)
            except QbtraceError as exc:
                raise _options_error(f"qbtrace_config: {exc}") from None
            self.pattern = needle_pattern(self.profile)
            self.anchors = path_anchors(self.profile.needles)
            self.live.profile = self.profile
        if "qbtrace_timing" in updated:
            self.timing = bool(ctx.options.qbtrace_timing)
        if updated & {"qbtrace_capture", "qbtrace_keep_raw"}:
            self.keep_raw = bool(ctx.options.qbtrace_keep_raw)
            self._open(ctx.options.qbtrace_capture)

    def _open(self, path: str) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if not path:
            return
        target = Path(os.path.expanduser(path))
        try:
            writer = CaptureWriter.open(target)
            writer.write(encode_line(make_header(self.redactor, self.keep_raw)))
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise _options_error(f"qbtrace_capture: cannot write {target}: {why}") from None
        self.writer, self.source = writer, target.name
        if self.keep_raw:
            logger.warning("qbtrace: %s will hold RAW tokens and secrets", target)

    def response(self, flow: http.HTTPFlow) -> None:
        # Almost every flow is unrelated: a few substring searches of the raw path (a cold
        # regex engine cost the live proxy twice as much), no timing unless asked for, no
        # further call.
        if self.timing:
            self._timed(flow)
            return
        path = flow.request.data.path
        if self.anchors is not None:
            # str `in` on the latin-1 view: bytes `in` goes through the buffer protocol
            text = path.decode("latin-1")
            a, b, c, d = self.anchors
            if a in text or b in text or c in text or d in text:
                self._record_safely(flow)
        elif self.pattern.search(path) is not None:
            self._record_safely(flow)

    error = response

    def _timed(self, flow: http.HTTPFlow) -> None:
        start = time.perf_counter_ns()
        path = flow.request.data.path
        if self.anchors is not None:
            text = path.decode("latin-1")
            a, b, c, d = self.anchors
            related = a in text or b in text or c in text or d in text
        else:
            related = self.pattern.search(path) is not None
        if related and self._record_safely(flow):
            took, samples = time.perf_counter_ns() - start, self.time_matching
        else:
            took, samples = time.perf_counter_ns() - start, self.time_unrelated
        if len(samples) < MAX_SAMPLES:
            samples.append(took)

    def _record_safely(self, flow: http.HTTPFlow) -> bool:
        try:
            return self._record(flow)
        except Exception as exc:  # the proxy must go on whatever happens here
            where = exc.__traceback__
            while where is not None and where.tb_next is not None:
                where = where.tb_next
            line = f"{where.tb_frame.f_code.co_filename}:{where.tb_lineno}" if where else "?"
            logger.error(
                "qbtrace: could not record a flow (%s at %s); the flow passes unchanged",
                exc.__class__.__name__,
                line,
            )
            return False

    def _record(self, flow: http.HTTPFlow) -> bool:
        url = flow.request.pretty_url
        kind = self.profile.kind_of(flow.request.method, url)
        if kind is None:
            return False
        parts = flow_parts(flow, url)
        if self.writer is not None and self.writer.gone():
            self._reopen()
        writer = self.writer
        index = writer.next_index if writer is not None else self.recorded
        exchange = build_exchange(Ref(self.source, index), kind, parts, self.redactor)
        if writer is not None:
            record = RawRecord(kind, parts, flow.id) if self.keep_raw else None
            self._write(encode_line(record or exchange_record(exchange, flow.id)))
        self.recorded += 1
        # explained off the event loop: the failed response reaches the client without waiting
        self.arrived.append(exchange)
        if self.diagnoser is None:
            self.diagnoser = threading.Thread(
                target=self._diagnosis_loop, name="qbtrace-diagnosis", daemon=True
            )
            self.diagnoser.start()
        return True

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
            writer = CaptureWriter.open(path)
            writer.write(encode_line(make_header(self.redactor, self.keep_raw)))
        except OSError as exc:
            logger.error("qbtrace: CAPTURE WRITE FAILED for %s (%s)", path, exc.strerror or exc)
            return
        self.writer.close()
        self.writer = writer

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
        """Fold what arrived into the live state; log the findings ready to tell."""
        start = time.perf_counter_ns()
        try:
            arrived = [self.arrived.popleft() for _ in range(len(self.arrived))]
            for exchange, finding in self.live.tell(arrived, time.monotonic(), force):
                self.failures[finding.cause] = self.failures.get(finding.cause, 0) + 1
                logger.warning("%s", live_line(finding, exchange, self.presenter))
        except Exception as exc:
            logger.error("qbtrace: live diagnosis failed (%s)", exc.__class__.__name__)
        if self.timing and len(self.time_diagnosis) < MAX_SAMPLES:
            self.time_diagnosis.append(time.perf_counter_ns() - start)

    def settle(self) -> None:
        """Wait until every failure recorded so far has its line logged (held ones too)."""
        thread = self.diagnoser
        if thread is None:
            return  # nothing was recorded
        finished = threading.Event()
        self.requests.put(finished)
        while not finished.wait(1.0) and thread.is_alive():
            pass

    def done(self) -> None:
        self.settle()
        if self.diagnoser is not None:
            self.requests.put(None)
            self.diagnoser = None
        logger.info(
            "qbtrace: %d exchanges recorded, %d failed token requests%s",
            self.recorded,
            sum(self.failures.values()),
            self._times() if self.timing else "",
        )
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _times(self) -> str:
        return (
            "; addon time per flow (mean/p50/p99 µs): "
            f"matching {_spread(self.time_matching)}, unrelated {_spread(self.time_unrelated)}, "
            f"live diagnosis {_spread(self.time_diagnosis)}"
        )


def path_anchors(needles: tuple[str, ...]) -> tuple[str, str, str, str] | None:
    """Four substrings such that the raw path of every flow the profile may want holds one
    (`/oauth2` covers the token, authorize and revoke paths), as latin-1 text of the path's
    bytes; None when four do not do (many disconnect URLs configured: the needle regex is
    used). A prefilter only: `Profile.kind_of` decides."""
    left = sorted({n.encode().decode("latin-1") for n in needles}, key=len)
    anchors: list[str] = []
    while left:
        anchor = max(_substrings(left[0]), key=lambda s: (sum(s in n for n in left), len(s)))
        anchors.append(anchor)
        left = [n for n in left if anchor not in n]
    if not anchors or len(anchors) > 4:
        return None
    a, b, c, d = (*anchors, *[anchors[-1]] * (4 - len(anchors)))
    return a, b, c, d


def _substrings(needle: str) -> list[str]:
    """Its substrings of at least 5 characters (the whole needle when shorter)."""
    size = min(5, len(needle))
    return [needle[i:j] for i in range(len(needle)) for j in range(i + size, len(needle) + 1)]


def _spread(samples: array[int]) -> str:
    if not samples:
        return "-"
    ordered = sorted(samples)
    mean = sum(ordered) / len(ordered)
    p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)]
    return f"{mean / 1000:.2f}/{p50 / 1000:.2f}/{p99 / 1000:.2f} (n={len(ordered)})"


def _options_error(message: str) -> exceptions.OptionsError:
    return exceptions.OptionsError(message)  # type: ignore[no-untyped-call]


def live_line(finding: Finding, failed: Exchange, presenter: Presenter) -> str:
    """One line: `invalid_grant: refresh_token_superseded (certain): <first evidence>`."""
    said = finding.error or (f"HTTP {finding.status}" if finding.status else failed.failure)
    text = f"qbtrace: {said or 'no answer'}: {finding.cause} ({finding.confidence})"
    if finding.evidence:
        first = finding.evidence[0]
        text += f": {presenter.note(first)}"
        if first.time is not None:
            text += f" (at {time.strftime('%H:%M:%S', time.gmtime(first.time))}Z)"
    return terminal_safe(f"{text} [{failed.ref.source}#{failed.ref.index}]")


addons = [QbtraceCapture()]
