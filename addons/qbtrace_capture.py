"""mitmproxy addon: record OAuth exchanges to a qbtrace capture, explain failures live.

    mitmdump -s addons/qbtrace_capture.py --set qbtrace_capture=oauth.jsonl

Only the exchanges the provider profile recognises (token, authorize, callback, revoke,
disconnect) are recorded, each as one JSON line written and flushed when its flow ends in
`response` or `error`. After every failed token request one warning line gives the cause,
as `qbtrace analyze` would on what was seen so far (a diagnosis thread folds each exchange
into one live state and explains only the new failures). The addon never breaks proxying:
any exception inside it is logged (without values from the flow) and the flow passes
untouched. `--set qbtrace_timing=true` logs the addon's own time per flow at exit.

Like mitmproxy's own `save.py`, the addon holds only its options and hooks: recording and
the live diagnosis are `qbtrace.live.LiveSession`'s, which tests drive without mitmdump.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from mitmproxy import ctx, exceptions, http
from mitmproxy.addonmanager import Loader

try:
    from qbtrace.config import load_profile
    from qbtrace.errors import QbtraceError
    from qbtrace.live import LiveSession, logger
    from qbtrace.sources.mitm import flow_parts
except ImportError as missing:
    # mitmproxy installed on its own (pipx, Homebrew, the binaries) has its own Python
    logging.getLogger("qbtrace").error(
        "qbtrace: this mitmproxy's Python (%s) cannot import qbtrace (%s): run "
        "`pipx inject mitmproxy qbtrace` if mitmproxy came from pipx, or install qbtrace "
        "into that Python beside mitmproxy, or use `qbtrace proxy`",
        sys.executable,
        missing,
    )
    QBTRACE_MISSING = True
else:
    QBTRACE_MISSING = False


class QbtraceCapture:
    def __init__(self) -> None:
        self.session = LiveSession()

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
                profile = load_profile(Path(path) if path else None)
            except QbtraceError as exc:
                raise _options_error(f"qbtrace_config: {exc}") from None
            if profile.config_implicit:
                logger.warning("qbtrace: using %s from the current folder", profile.config_file)
            self.session.configure(profile)
        if "qbtrace_timing" in updated:
            self.session.timing = bool(ctx.options.qbtrace_timing)
        if updated & {"qbtrace_capture", "qbtrace_keep_raw"}:
            try:
                self.session.open(ctx.options.qbtrace_capture, ctx.options.qbtrace_keep_raw)
            except QbtraceError as exc:
                raise _options_error(f"qbtrace_capture: {exc}") from None

    def response(self, flow: http.HTTPFlow) -> None:
        # Almost every flow is unrelated: a few substring searches of the raw path, no
        # timing unless asked for, no further call.
        if self.session.timing:
            self._timed(flow)
        elif self.session.wants(flow.request.data.path):
            self._record_safely(flow)

    error = response

    def _timed(self, flow: http.HTTPFlow) -> None:
        start = time.perf_counter_ns()
        matching = self.session.wants(flow.request.data.path) and self._record_safely(flow)
        self.session.sample(time.perf_counter_ns() - start, matching)

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
        kind = self.session.profile.kind_of(flow.request.method, url)
        if kind is None:
            return False
        # explained off the event loop: the failed response reaches the client without waiting
        self.session.record(kind, flow_parts(flow, url), flow.id)
        return True

    def settle(self) -> None:
        """Wait until every failure recorded so far has its line logged (held ones too)."""
        self.session.settle()

    def done(self) -> None:
        logger.info("%s", self.session.close())


def _options_error(message: str) -> exceptions.OptionsError:
    return exceptions.OptionsError(message)  # type: ignore[no-untyped-call]


addons = [] if QBTRACE_MISSING else [QbtraceCapture()]
