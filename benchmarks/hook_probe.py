"""mitmproxy script for `proxy_overhead.py --probe`: where a live unrelated flow's time goes.

    mitmdump -s benchmarks/hook_probe.py --set qbtrace_capture=cap.jsonl --set qbtrace_timing=true

It holds the capture addon itself and stands where mitmproxy calls it, so every span below
is timed at the addon's place in the `request` (or `response`) dispatch, with the caches as
mitmproxy's own work between two flows leaves them. Every other flow goes to the addon
untouched (its own `qbtrace_timing` spans, told in its exit line); the flows in between take
turns at one span. In the `request` hook, where the addon tests the path now:

- `empty`: two timer reads with nothing between (the measurement's own floor);
- `chain`: `flow.request.data.path`; `decode`: that and its latin-1 decode;
- `one_in`: the decode and one `in` test; `same_6`: six `in` tests of that one anchor (against
  `may_match`'s six anchors: what touching six needles costs);
- `may_match`: `PathFilter.may_match` called on the path;
- `hook`: the addon's whole untimed `request` hook (`path_hook`, marking OAuth flows);
- `find_6`, `bytes_in`, `regex`: other path tests on the raw bytes (six `bytes.find`, six
  bytes `in`, the anchors as one bytes regex).

In the `response` hook, where the path was tested before:

- `empty_r`: the floor there; `old_hook`: the same `path_hook` there (the addon before);
- `late_hook`: the `response` hook an unrelated flow costs while an OAuth flow is in flight
  (`finish_hook` over a set of one other flow);
- `dispatch`: from the end of the `response` hook of an addon just before this one to the
  start of this one (what mitmproxy's addon manager spends to reach one more addon).

Each flow also goes through the addon's untimed hooks, so matching flows are recorded
whatever span they took. Only unrelated flows' spans are kept; at exit one line
`qbtrace probe (p50 µs, n>=160): empty 0.58, chain 0.80, ...` is logged.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mitmproxy import exceptions, http
from mitmproxy.addonmanager import Loader

Hook = Callable[[http.HTTPFlow], None]

ADDON = Path(__file__).resolve().parent.parent / "addons" / "qbtrace_capture.py"
SPANS = (
    "empty",
    "chain",
    "decode",
    "one_in",
    "same_6",
    "may_match",
    "hook",
    "find_6",
    "bytes_in",
    "regex",
    "empty_r",
    "old_hook",
    "late_hook",
    "dispatch",
)
AT_RESPONSE = frozenset(("empty_r", "old_hook", "late_hook", "dispatch"))
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
        """The span each probed flow takes, from its `request` hook to its last."""
        self.bytes_anchors: tuple[bytes, ...] = ()
        self.regex_search: Callable[[bytes], object] = re.compile(b"").search
        self.plain: Hook = _untouched
        self.finish: Hook = _untouched
        self.old_hook: Hook = _untouched
        self.late_hook: Hook = _untouched

    def load(self, loader: Loader) -> None:
        self.capture.load(loader)

    def configure(self, updated: set[str]) -> None:
        self.capture.configure(updated)
        test, capture = self.capture.session.filter, self.capture
        if test.anchors is None:
            raise exceptions.OptionsError("hook_probe: this profile's needles take the regex")
        self.bytes_anchors = tuple(a.encode("latin-1") for a in test.anchors)
        self.regex_search = re.compile(b"|".join(map(re.escape, self.bytes_anchors))).search
        self.plain = self.module.path_hook(test, capture._mark)
        self.finish = self.module.finish_hook(
            capture.in_flight, capture._idle, capture._submit_safely
        )
        self.old_hook = self.module.path_hook(test, _untouched)
        self.late_hook = self.module.finish_hook({Mark()}, _untouched, _untouched)

    def request(self, flow: http.HTTPFlow) -> None:
        self.count += 1
        if self.count % 2:
            if self.capture.request is not None:
                self.capture.request(flow)  # the addon's own timed hook (`qbtrace_timing`)
            return
        name = SPANS[self.count // 2 % len(SPANS)]
        self.mark.armed = name == "dispatch"
        if name in AT_RESPONSE:
            self.plain(flow)
            self.taken[flow] = name
            return
        spent = self._span(name, flow)
        if name != "hook":
            self.plain(flow)
        self._keep(name, spent, flow)
        self.taken[flow] = name

    def response(self, flow: http.HTTPFlow) -> None:
        name = self.taken.pop(flow, None)
        if name is None:  # the addon's own flow: its `response` exists while one is in flight
            hook = getattr(self.capture, "response", None)
            if hook:
                hook(flow)
            return
        if name in AT_RESPONSE:
            self._keep(name, self._span(name, flow), flow)
        self.finish(flow)

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
        if name in ("empty", "empty_r"):
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
        elif name in ("hook", "old_hook", "late_hook"):
            hook = {"hook": self.plain, "old_hook": self.old_hook, "late_hook": self.late_hook}[
                name
            ]
            start = clock()
            hook(flow)
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
        else:
            search = self.regex_search
            start = clock()
            found = search(flow.request.data.path)
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


def _untouched(flow: http.HTTPFlow) -> None:
    """What a probe's own copy of a hook does with the flows it lets through: nothing."""


_mark = Mark()
addons = [_mark, Probe(_mark)]
