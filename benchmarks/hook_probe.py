"""mitmproxy script for `proxy_overhead.py --probe`: where a live unrelated flow's time goes.

    mitmdump -s benchmarks/hook_probe.py --set qbtrace_capture=cap.jsonl --set qbtrace_timing=true

It holds the capture addon itself and stands where mitmproxy calls it, so every span below
is timed at the addon's place in mitmproxy's dispatch, with the caches as mitmproxy's own
work between two flows leaves them. Every other flow goes to the addon untouched (its own
`qbtrace_timing` spans, told in its exit line); the flows in between take turns at one span,
and then go through the addon's untimed `response` hook, so that matching flows are recorded
whatever span they took (the recording thread tests their paths). In the `request` hook (the
request just read whole):

- `empty`: two timer reads with nothing between (the measurement's own floor);
- `chain`: `flow.request.data.path`; `decode`: that and its latin-1 decode;
- `one_in`: the decode and one `in` test; `same_6`: six `in` tests of that one anchor;
- `six`: the decode and the six anchors' `in` tests, written out here (no call): against
  `hook`, what calling the hook costs; `hash_six`, `join_six`: the same after `hash` or
  `"".join` of the anchors' tuple (one C loop touching all six first: do parallel loads help?);
- `may_match`: `PathFilter.may_match` called on the path;
- `hook`: `path_hook` (the addon's hook before: the path test in Python) run there;
- `find_6`, `bytes_in`, `regex`: other path tests on the raw bytes (six `bytes.find`, six
  bytes `in`, the anchors as one bytes regex).

In the `requestheaders` hook (right after mitmproxy parsed the request head): `empty_h`, the
floor there, and `hook_h`, `path_hook` run there. In the `response` hook, where the addon
runs: `empty_r`, the floor there; `hook_r`, `path_hook` (nothing of the addon's ran on these
flows before it); `append`: a `deque.append` of the flow, what the addon's hook is now (a
hook written in C that only hands the flow over); `dispatch`: from the end of the
`response` hook of an addon just before this one to the start of this one (what mitmproxy's
addon manager spends to reach one more addon).

Only unrelated flows' spans are kept; at exit one line
`qbtrace probe (p50 µs, n>=160): empty 0.58, chain 0.80, ...` is logged.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import statistics
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mitmproxy import exceptions, http
from mitmproxy.addonmanager import Loader

from qbtrace.sources.prefilter import PathFilter

Hook = Callable[[http.HTTPFlow], None]

ADDON = Path(__file__).resolve().parent.parent / "addons" / "qbtrace_capture.py"
SPANS = (
    "empty",
    "chain",
    "decode",
    "one_in",
    "same_6",
    "six",
    "hash_six",
    "join_six",
    "may_match",
    "hook",
    "find_6",
    "bytes_in",
    "regex",
    "empty_h",
    "hook_h",
    "empty_r",
    "hook_r",
    "append",
    "dispatch",
)
AT_HEADERS = frozenset(("empty_h", "hook_h"))
AT_RESPONSE = frozenset(("empty_r", "hook_r", "append", "dispatch"))
logger = logging.getLogger("qbtrace")


def _capture_module() -> Any:
    spec = importlib.util.spec_from_file_location("qbtrace_capture_probed", ADDON)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Mark:
    """Reads the clock at the end of its `response` hook when the next span is `dispatch`."""

    def __init__(self) -> None:
        self.armed = False
        self.last = 0

    def response(self, flow: http.HTTPFlow) -> None:
        if self.armed:
            self.last = time.perf_counter_ns()


class Probe:
    def __init__(self, mark: Mark) -> None:
        self.module = _capture_module()
        self.capture = self.module.QbtraceCapture()
        self.mark = mark
        self.count = 0
        self.spans: dict[str, list[int]] = {name: [] for name in SPANS}
        self.taken: dict[http.HTTPFlow, str] = {}
        """The span each probed flow takes, from its `requestheaders` hook to its `response`."""
        self.bytes_anchors: tuple[bytes, ...] = ()
        self.regex_search: Callable[[bytes], object] = re.compile(b"").search
        self.plain: Hook = _untouched
        self.before: Hook = _untouched
        self.idle: Hook = _untouched
        self.ended: deque[http.HTTPFlow] = deque()

    def load(self, loader: Loader) -> None:
        self.capture.load(loader)

    def configure(self, updated: set[str]) -> None:
        self.capture.configure(updated)
        test = self.capture.session.filter
        if test.anchors is None:
            raise exceptions.OptionsError("hook_probe: this profile's needles take the regex")
        self.bytes_anchors = tuple(a.encode("latin-1") for a in test.anchors)
        self.regex_search = re.compile(b"|".join(map(re.escape, self.bytes_anchors))).search
        self.plain = self.capture.session.ended.append  # the addon's untimed hook
        self.before = path_hook(test, self.plain)
        self.idle = path_hook(test, _untouched)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self.count += 1
        if self.count % 2:
            return  # the addon's own flow: its hooks are `response` and `error`
        name = self.taken[flow] = SPANS[self.count // 2 % len(SPANS)]
        self.mark.armed = name == "dispatch"
        if name in AT_HEADERS:
            self._keep(name, self._span(name, flow), flow)

    def request(self, flow: http.HTTPFlow) -> None:
        name = self.taken.get(flow)
        if name is not None and name not in AT_HEADERS and name not in AT_RESPONSE:
            self._keep(name, self._span(name, flow), flow)

    def response(self, flow: http.HTTPFlow) -> None:
        name = self.taken.pop(flow, None)
        if name is None:
            self.capture.response(flow)  # the addon's own timed hook (`qbtrace_timing`)
            return
        if name in AT_RESPONSE:
            self._keep(name, self._span(name, flow), flow)
            self.ended.clear()
        if name != "hook_r":  # which handed its flow over itself
            self.plain(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self.taken.pop(flow, None)
        self.capture.error(flow)

    def _keep(self, name: str, spent: int, flow: http.HTTPFlow) -> None:
        if not self.capture.session.filter.may_match(flow.request.data.path):
            self.spans[name].append(spent)

    def _span(self, name: str, flow: http.HTTPFlow) -> int:
        clock = time.perf_counter_ns
        found: object = None  # each step's result is kept, as the addon keeps its own
        if name == "dispatch":
            return clock() - self.mark.last
        if name in ("empty", "empty_h", "empty_r"):
            start = clock()
        elif name == "chain":
            start = clock()
            found = flow.request.data.path
        elif name == "decode":
            start = clock()
            found = flow.request.data.path.decode("latin-1")
        elif name == "one_in":
            first = self.capture.session.filter.anchors[0]
            start = clock()
            found = first in flow.request.data.path.decode("latin-1")
        elif name == "same_6":
            a = self.capture.session.filter.anchors[0]
            start = clock()
            text = flow.request.data.path.decode("latin-1")
            found = a in text or a in text or a in text or a in text or a in text or a in text
        elif name in ("six", "hash_six", "join_six"):
            t = self.capture.session.filter.anchors
            a, b, c, d, e, g = t
            start = clock()
            if name == "hash_six":
                hash(t)  # the six anchors' headers read in one C loop (loads in parallel)
            elif name == "join_six":
                "".join(t)  # and their text
            text = flow.request.data.path.decode("latin-1")
            found = a in text or b in text or c in text or d in text or e in text or g in text
        elif name in ("hook", "hook_h", "hook_r"):
            hook = self.before if name == "hook_r" else self.idle
            start = clock()
            hook(flow)
        elif name == "append":
            append = self.ended.append
            start = clock()
            append(flow)
        elif name == "may_match":
            test = self.capture.session.filter.may_match
            start = clock()
            found = test(flow.request.data.path)
        elif name == "find_6":
            a, b, c, d, e, g = self.bytes_anchors
            start = clock()
            path = flow.request.data.path
            found = (
                path.find(a) >= 0
                or path.find(b) >= 0
                or path.find(c) >= 0
                or path.find(d) >= 0
                or path.find(e) >= 0
                or path.find(g) >= 0
            )
        elif name == "bytes_in":
            a, b, c, d, e, g = self.bytes_anchors
            start = clock()
            path = flow.request.data.path
            found = a in path or b in path or c in path or d in path or e in path or g in path
        elif name == "regex":
            search = self.regex_search
            start = clock()
            found = search(flow.request.data.path)
        else:
            raise ValueError(f"hook_probe: no span {name}")
        end = clock()
        del found
        return end - start

    def done(self) -> None:
        shown = [
            f"{name} {statistics.median(spent) / 1000:.2f}"
            for name, spent in self.spans.items()
            if spent
        ]
        n = min((len(spent) for spent in self.spans.values()), default=0)
        logger.info("qbtrace probe (p50 µs, n>=%d): %s", n, ", ".join(shown))
        self.capture.done()


def path_hook(test: PathFilter, submit: Hook) -> Hook:
    """The addon's hook before it only handed flows over: the path test in Python, its
    anchors default arguments, `submit` for a flow that may be OAuth traffic."""
    assert test.anchors is not None
    a, b, c, d, e, g = test.anchors

    def response(flow: http.HTTPFlow, a: str = a, b: str = b, c: str = c, d: str = d,
                 e: str = e, g: str = g) -> None:  # fmt: skip
        text = flow.request.data.path.decode("latin-1")
        if a in text or b in text or c in text or d in text or e in text or g in text:
            submit(flow)

    return response


def _untouched(flow: http.HTTPFlow) -> None:
    """What a probe's own copy of a hook does with the flows it lets through: nothing."""


_mark = Mark()
addons = [_mark, Probe(_mark)]
