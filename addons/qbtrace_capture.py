"""mitmproxy addon: record OAuth exchanges to a qbtrace capture, explain failures live.

    mitmdump -s addons/qbtrace_capture.py --set qbtrace_capture=oauth.jsonl

Only the exchanges the provider profile recognises (token, authorize, callback, revoke,
disconnect) are recorded, each as one JSON line. The `response` and `error` hooks run on
mitmproxy's event loop, so each is one `deque.append` of the flow, written in C: no Python
runs there for any flow (a Python hook with the path test cost 2.3-3.8 µs p50 live per
unrelated flow, `append` the floor of the measurement; `benchmarks/hook_probe.py`). The
recording thread, within `live.POLL` seconds, tests each flow's path and copies the values
of those that may be OAuth traffic (`copy_flow`: references to immutable values, bodies
capped at 1 MB), then recognises, redacts and writes each copy. So the capture holds a flow
as mitmproxy's addons left it by then: a later addon's change to it shows (mitmdump itself
changes no flow once it ended); an edit or replay after the copy does not. After every
failed token request the thread logs one warning line with the cause, as `qbtrace analyze`
would on what was seen so far (through Python's `logging`, which mitmproxy's handlers take
from any thread: its event log hands records to the loop with `call_soon_threadsafe`;
`ctx.log` is deprecated). A SIGKILL loses the exchanges in flight and those of the last
`live.POLL` seconds; `done` (Ctrl-C, SIGTERM) writes them all. The addon never breaks
proxying: any exception on the thread is logged (without values from the flow) and the flow
passes untouched. A timer on the loop (`running`) starts the thread again if it ended and
makes the proxy wait for it once MAX_PENDING flows (or MAX_PENDING_BYTES of their bodies)
are waiting (a stalled disk).
`--set qbtrace_timing=true` logs the hooks' and the thread's own times at exit.

Like mitmproxy's own `save.py`, the addon holds only its options and hooks: recording and
the live diagnosis are `qbtrace.live.LiveSession`'s, which tests drive without mitmdump.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mitmproxy import connection, ctx, exceptions, http
from mitmproxy import flow as mflow
from mitmproxy.addonmanager import Loader

try:
    from qbtrace.config import load_profile
    from qbtrace.errors import QbtraceError
    from qbtrace.live import POLL, LiveSession, Recorded, logger
    from qbtrace.live_times import Times
    from qbtrace.profile import Profile
    from qbtrace.sources.mitm import MAX_BODY, flow_parts
    from qbtrace.sources.prefilter import PathFilter
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


Fields = tuple[tuple[bytes, bytes], ...]
RequestCopy = tuple[str, int, bytes, bytes, bytes, bytes, bytes, Fields, bytes | None, float]
"""A request's host, port, method, scheme, authority, path, http_version, header fields,
content (capped) and timestamp_start: the `RequestData` fields `flow_parts` reads."""
ResponseCopy = tuple[bytes, int, bytes, Fields, bytes | None, float, float | None]
"""A response's http_version, status_code, reason, header fields, content (capped),
timestamp_start and timestamp_end."""
FlowCopy = tuple[str, RequestCopy, ResponseCopy | None, tuple[str, float] | None]
"""(flow id, request, response, error's message and time)."""


def sieve(flow: http.HTTPFlow, test: PathFilter) -> tuple[FlowCopy, int] | None:
    """On the recording thread: the copy of a flow whose path may be OAuth traffic."""
    return copy_flow(flow) if test.may_match(flow.request.data.path) else None


def held_bytes(flows: list[http.HTTPFlow]) -> int:
    """The body bytes that flows waiting for the recording thread keep alive."""
    size = 0
    for flow in flows:
        size += len(flow.request.data.content or b"")
        if flow.response is not None:
            size += len(flow.response.data.content or b"")
    return size


def copy_flow(flow: http.HTTPFlow) -> tuple[FlowCopy, int]:
    """What the capture needs of a finished flow, and its body bytes, at the cost of a few
    attribute reads: mitmproxy replaces a message's header tuple and body bytes when they
    change, never alters them, so whatever happens to the flow after the copy (an edit in
    mitmweb, a replay) cannot reach the capture."""
    q = flow.request.data
    body = _capped(q.content)
    size = len(body) if body is not None else 0
    request = (q.host, q.port, q.method, q.scheme, q.authority, q.path, q.http_version,
               q.headers.fields, body, q.timestamp_start)  # fmt: skip
    response = None
    if flow.response is not None:
        r = flow.response.data
        answer = _capped(r.content)
        size += len(answer) if answer is not None else 0
        response = (r.http_version, r.status_code, r.reason, r.headers.fields, answer,
                    r.timestamp_start, r.timestamp_end)  # fmt: skip
    error = (flow.error.msg, flow.error.timestamp) if flow.error is not None else None
    return (flow.id, request, response, error), size


def _capped(body: bytes | None) -> bytes | None:
    """The body, or its first MAX_BODY + 1 bytes: `flow_parts` leaves out any body past
    MAX_BODY (with a gap), so the rest need not wait in the queue."""
    return body if body is None or len(body) <= MAX_BODY else body[: MAX_BODY + 1]


class Unpacker:
    """Puts copies back into mitmproxy messages on the recording thread, so that the URL and
    the parts come from mitmproxy's own `pretty_url` and `flow_parts`, as for flow files.
    One flow, request and response are reused, their data fields set from each copy:
    mitmproxy's constructors type-check every field (about 60 µs a message, 100 µs a flow)."""

    def __init__(self) -> None:
        client = connection.Client(peername=("", 0), sockname=("", 0), timestamp_start=0)
        self.flow = http.HTTPFlow(client, connection.Server(address=None))
        self.request = http.Request.make("GET", "http://localhost/")
        self.response = http.Response.make()

    def __call__(self, copied: FlowCopy, profile: Profile) -> Recorded | None:
        flow_id, request, response, error = copied
        q = self.request.data
        (q.host, q.port, q.method, q.scheme, q.authority, q.path, q.http_version,
         q.headers.fields, q.content, q.timestamp_start) = request  # fmt: skip
        url = self.request.pretty_url
        kind = profile.kind_of(self.request.method, url)
        if kind is None:
            return None
        flow = self.flow
        flow.request, flow.response = self.request, None
        if response is not None:
            r = self.response.data
            (r.http_version, r.status_code, r.reason, r.headers.fields, r.content,
             r.timestamp_start, r.timestamp_end) = response  # fmt: skip
            flow.response = self.response
        flow.error = mflow.Error(*error) if error is not None else None
        return kind, flow_parts(flow, url), flow_id


Hook = Callable[[http.HTTPFlow], None]


def timed_hook(test: PathFilter, plain: Hook, times: Times) -> Hook:
    """`plain` inside two clock reads; whether the flow matched is asked after the span."""
    clock, may_match, add = time.perf_counter_ns, test.may_match, times.hook

    def timed(flow: http.HTTPFlow) -> None:
        start = clock()
        plain(flow)
        spent = clock() - start
        add(spent, may_match(flow.request.data.path))

    return timed


class QbtraceCapture:
    response: Hook
    """Bound by `_bind` to the session's `ended.append` (or `timed_hook` around it): an
    instance attribute, which mitmproxy's addon manager finds with the same `getattr` as a
    method, and calls as it is (a hook may be any callable)."""
    error: Hook

    def __init__(self) -> None:
        self.session: LiveSession[FlowCopy] = LiveSession(unpack=Unpacker(), sieve=sieve)
        self.timing = False
        self.timer: asyncio.TimerHandle | None = None
        self._bind()

    def _bind(self) -> None:
        """Build the hooks for the timing option."""
        hook: Hook = self.session.ended.append
        if self.timing:
            hook = timed_hook(self.session.filter, hook, self.session.times)
        self.response = self.error = hook

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
            self.timing = self.session.timing = bool(ctx.options.qbtrace_timing)
        if updated & {"qbtrace_config", "qbtrace_timing"}:
            self._bind()
        if updated & {"qbtrace_capture", "qbtrace_keep_raw"}:
            try:
                self.session.open(ctx.options.qbtrace_capture, ctx.options.qbtrace_keep_raw)
            except QbtraceError as exc:
                raise _options_error(f"qbtrace_capture: {exc}") from None
        self.session.keep_up()  # the thread runs before the first flow (no `running` in tests)

    def running(self) -> None:
        self._keep_up()

    def _keep_up(self) -> None:
        """Every POLL on mitmproxy's event loop: `LiveSession.keep_up`."""
        self.session.keep_up(held_bytes)
        self.timer = asyncio.get_running_loop().call_later(POLL, self._keep_up)

    def settle(self) -> None:
        """Wait until every flow so far is written and every failure so far has its line
        logged (held ones too)."""
        self.session.settle()

    def done(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        logger.info("%s", self.session.close())


def _options_error(message: str) -> exceptions.OptionsError:
    return exceptions.OptionsError(message)  # type: ignore[no-untyped-call]


addons = [] if QBTRACE_MISSING else [QbtraceCapture()]
