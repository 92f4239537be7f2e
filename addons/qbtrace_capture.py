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
        # (count, nanoseconds) spent inside the hooks, for benchmarks/proxy_overhead.py
        self.time_unrelated = [0, 0]
        self.time_matching = [0, 0]

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
            if self.pattern.search(flow.request.path) is None:
                self.time_unrelated[0] += 1
                self.time_unrelated[1] += time.perf_counter_ns() - start
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
        kind = self.profile.kind_of(flow.request.method, flow.request.pretty_url)
        if kind is None:
            return
        parts = flow_parts(flow)
        index = self.writer.next_index if self.writer is not None else len(self.exchanges)
        exchange = build_exchange(Ref(self.source, index), kind, parts, self.redactor)
        if self.writer is not None:
            record = RawRecord(kind, parts, flow.id) if self.keep_raw else None
            self._write(encode_line(record or exchange_record(exchange, flow.id)))
        self.exchanges.append(exchange)
        self.time_matching[0] += 1
        self.time_matching[1] += time.perf_counter_ns() - start
        if kind == Kind.TOKEN and not exchange.ok:
            self._diagnose(exchange)

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

    def _diagnose(self, failed: Exchange) -> None:
        ordered = sorted(self.exchanges, key=lambda x: (x.started or 0.0, x.ref.index))
        for finding in analyze_exchanges(ordered, self.profile):
            if finding.ref == failed.ref:
                self.failures[finding.cause] = self.failures.get(finding.cause, 0) + 1
                logger.warning("%s", live_line(finding, failed))
                return

    def done(self) -> None:
        matching, unrelated = self.time_matching, self.time_unrelated
        logger.info(
            "qbtrace: %d exchanges recorded, %d failed token requests; addon time per flow: "
            "%.1f µs matching (%d), %.2f µs unrelated (%d)",
            len(self.exchanges),
            sum(self.failures.values()),
            matching[1] / max(matching[0], 1) / 1000,
            matching[0],
            unrelated[1] / max(unrelated[0], 1) / 1000,
            unrelated[0],
        )
        if self.writer is not None:
            self.writer.close()
            self.writer = None


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
