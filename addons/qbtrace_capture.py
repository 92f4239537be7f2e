"""mitmproxy addon: record QuickBooks OAuth exchanges to a qbtrace capture, explain failures live.

    mitmdump -s addons/qbtrace_capture.py --set qbtrace_capture=oauth.jsonl

Only the exchanges the provider profile recognises (token, authorize, callback, revoke,
disconnect) are recorded, each as one JSON line written and flushed when its flow ends in
`response` or `error`. After every failed token request one warning line gives the cause,
as `qbtrace analyze` would on what was seen so far. The addon never breaks proxying: any
exception inside it is logged (without values from the flow) and the flow passes untouched.
"""

from __future__ import annotations

import logging
import os
import time
from array import array
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mitmproxy import ctx, exceptions, http
from mitmproxy.addonmanager import Loader

from qbtrace.analysis import analyze_exchanges
from qbtrace.capture import (
    CaptureWriter,
    RawRecord,
    encode_line,
    exchange_record,
    make_header,
)
from qbtrace.errors import QbtraceError
from qbtrace.model import Exchange, Finding, Kind, Ref
from qbtrace.profile import Profile, load_profile
from qbtrace.redact import Redactor, default_key
from qbtrace.sources.build import build_exchange
from qbtrace.sources.mitm import flow_parts, needle_pattern

logger = logging.getLogger("qbtrace")
MAX_SAMPLES = 1_000_000


class QbtraceCapture:
    def __init__(self) -> None:
        self.profile = Profile()
        self.pattern = needle_pattern(self.profile)
        self.redactor = Redactor(default_key())
        self.writer: CaptureWriter | None = None
        self.source = "live"
        self.keep_raw = False
        self.exchanges: list[Exchange] = []
        self.lost = 0
        self.failures: dict[str, int] = {}
        # nanoseconds spent inside the hooks per flow, for benchmarks/proxy_overhead.py
        self.time_unrelated = array("q")
        self.time_matching = array("q")
        self.time_diagnosis = array("q")
        self.diagnoser = ThreadPoolExecutor(1, thread_name_prefix="qbtrace-diagnosis")
        self.pending: deque[Exchange] = deque()
        """Failed token requests waiting for the diagnosis thread."""

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "qbtrace_capture",
            str,
            "",
            "Append QuickBooks OAuth exchanges to this qbtrace capture file (JSON Lines).",
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

    def configure(self, updated: set[str]) -> None:
        if "qbtrace_config" in updated:
            path = ctx.options.qbtrace_config
            try:
                self.profile = load_profile(Path(path) if path else None)
            except QbtraceError as exc:
                raise _options_error(f"qbtrace_config: {exc}") from None
            self.pattern = needle_pattern(self.profile)
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
        self._hook(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._hook(flow)

    def _hook(self, flow: http.HTTPFlow) -> None:
        start = time.perf_counter_ns()
        try:
            if self.pattern.search(flow.request.data.path) is None:
                if len(self.time_unrelated) < MAX_SAMPLES:
                    self.time_unrelated.append(time.perf_counter_ns() - start)
                return
            self._record(flow, start)
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

    def _record(self, flow: http.HTTPFlow, start: int) -> None:
        url = flow.request.pretty_url
        kind = self.profile.kind_of(flow.request.method, url)
        if kind is None:
            return
        parts = flow_parts(flow, url)
        if self.writer is not None and self.writer.gone():
            self._reopen()
        index = self.writer.next_index if self.writer is not None else len(self.exchanges)
        exchange = build_exchange(Ref(self.source, index), kind, parts, self.redactor)
        if self.writer is not None:
            record = RawRecord(kind, parts, flow.id) if self.keep_raw else None
            self._write(encode_line(record or exchange_record(exchange, flow.id)))
        self.exchanges.append(exchange)
        if len(self.time_matching) < MAX_SAMPLES:
            self.time_matching.append(time.perf_counter_ns() - start)
        if kind == Kind.TOKEN and not exchange.ok:
            # off the event loop: the failed response reaches the client without waiting
            self.pending.append(exchange)
            self.diagnoser.submit(self._diagnose)

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

    def _diagnose(self) -> None:
        """Explain every failure queued so far with one analysis of the state seen so far."""
        failed = []
        while self.pending:  # deque appends and pops are thread-safe
            failed.append(self.pending.popleft())
        if not failed:
            return  # an earlier run took these
        start = time.perf_counter_ns()
        try:
            seen = sorted(self.exchanges, key=lambda x: (x.started or 0.0, x.ref.index))
            by_ref = {f.ref: f for f in analyze_exchanges(seen, self.profile)}
            for exchange in failed:
                finding = by_ref.get(exchange.ref)
                if finding is not None:
                    self.failures[finding.cause] = self.failures.get(finding.cause, 0) + 1
                    logger.warning("%s", live_line(finding, exchange))
        except Exception as exc:
            logger.error("qbtrace: live diagnosis failed (%s)", exc.__class__.__name__)
        if len(self.time_diagnosis) < MAX_SAMPLES:
            self.time_diagnosis.append(time.perf_counter_ns() - start)

    def settle(self) -> None:
        """Wait until every live diagnosis submitted so far has been logged."""
        self.diagnoser.submit(lambda: None).result()

    def done(self) -> None:
        self.settle()
        logger.info(
            "qbtrace: %d exchanges recorded, %d failed token requests; addon time per flow "
            "(mean/p50/p99 µs): matching %s, unrelated %s, live diagnosis %s",
            len(self.exchanges),
            sum(self.failures.values()),
            _spread(self.time_matching),
            _spread(self.time_unrelated),
            _spread(self.time_diagnosis),
        )
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _spread(samples: array[int]) -> str:
    if not samples:
        return "-"
    ordered = sorted(samples)
    mean = sum(ordered) / len(ordered)
    p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)]
    return f"{mean / 1000:.2f}/{p50 / 1000:.2f}/{p99 / 1000:.2f} (n={len(ordered)})"


def _options_error(message: str) -> exceptions.OptionsError:
    return exceptions.OptionsError(message)  # type: ignore[no-untyped-call]


def live_line(finding: Finding, failed: Exchange) -> str:
    """One line: `invalid_grant: refresh_token_superseded (certain): <first evidence>`."""
    said = finding.error or (f"HTTP {finding.status}" if finding.status else failed.failure)
    text = f"qbtrace: {said or 'no answer'}: {finding.cause} ({finding.confidence})"
    if finding.evidence:
        first = finding.evidence[0]
        text += f": {first.note}"
        if first.time is not None:
            text += f" (at {time.strftime('%H:%M:%S', time.gmtime(first.time))}Z)"
    return f"{text} [{failed.ref.source}#{failed.ref.index}]"


addons = [QbtraceCapture()]
