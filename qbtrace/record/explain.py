"""The recorder's live diagnosis (opt-in): each failed token request told in one line on
stderr with its cause, as `qbtrace proxy` tells it (`live.live_line`), ending with the
capture, the process and the request's time: `[tokens.jsonl, pid 4411, 2026-…Z]`.

The app's thread only appends the recorded exchange to a deque; a daemon thread folds what
arrived into this process's `LiveAnalysis` every POLL seconds and writes the lines, so the
app never waits for an explanation. A forked worker (gunicorn, Celery prefork,
multiprocessing) does not inherit the parent's thread, and a lock or deque caught mid-use
at the fork is not to be trusted: `after_fork` gives the child its own analysis, started
empty, and its own thread on its first failure. Each process so explains what it made
itself: a failure that another worker's refresh caused is told as that process saw it;
`qbtrace analyze` on the whole capture sees every worker. Nothing here raises into the app.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

from qbtrace.analysis import LiveAnalysis
from qbtrace.live import live_line
from qbtrace.model import Exchange, Finding
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.render.view import Presenter, iso, terminal_line

logger = logging.getLogger("qbtrace.record")
POLL = 0.1
"""Seconds between the diagnosis thread's looks at what arrived (the app never wakes it)."""
EXIT_WAIT = 2.0
"""Seconds the interpreter's exit waits at most to tell the failures still held."""


def to_stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


class Explainer:
    """One process's live diagnosis of what its recorder writes."""

    def __init__(
        self, profile: Profile, redactor: Redactor, tell: Callable[[str], None] = to_stderr
    ) -> None:
        self.profile = profile
        self.presenter = Presenter(redactor, profile=profile)
        self.tell = tell
        """Where each failure's line goes: stderr unless told."""
        self.told = 0
        self._fresh()
        atexit.register(self.settle)

    def _fresh(self) -> None:
        self.live = LiveAnalysis(self.profile)
        self.arrived: deque[Exchange] = deque()
        """Recorded exchanges not folded yet (appends and pops are thread-safe)."""
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        """Held while diagnosing: the thread's rounds and the exit's last one never overlap."""

    def add(self, exchange: Exchange) -> None:
        """Queue one recorded exchange (the app's thread: a deque append)."""
        self.arrived.append(exchange)
        if self.thread is None:
            self.thread = threading.Thread(
                target=self._loop, name="qbtrace-record-explain", daemon=True
            )
            self.thread.start()

    def _loop(self) -> None:
        while not self.stopping.wait(POLL):
            if self.arrived or self.live.held:
                self.diagnose(force=False)

    def diagnose(self, force: bool, wait: float = -1) -> None:
        """Fold what arrived in; tell each failure whose finding is ready (every failure
        when `force`). Waits `wait` seconds at most for a round under way (-1: as long as it
        takes). Never raises."""
        try:
            if not self.lock.acquire(timeout=wait):
                return
            try:
                arrived = [self.arrived.popleft() for _ in range(len(self.arrived))]
                for exchange, finding in self.live.tell(arrived, time.monotonic(), force):
                    self.told += 1
                    self.tell(self.line(finding, exchange))
            finally:
                self.lock.release()
        except Exception as exc:  # the app goes on; say where, never what
            logger.error("qbtrace: live diagnosis failed (%s)", exc.__class__.__name__)

    def line(self, finding: Finding, exchange: Exchange) -> str:
        """`qbtrace proxy`'s line, the request named by file, process and time: workers
        append to one capture, so no process knows the line index its record got."""
        ref = exchange.ref
        said = live_line(finding, exchange, self.presenter)
        said = said.removesuffix(terminal_line(f" [{ref.source}#{ref.index}]"))
        when = iso(exchange.started) or "time unknown"
        return said + terminal_line(f" [{ref.source}, pid {os.getpid()}, {when}]")

    def settle(self) -> None:
        """Tell every failure recorded so far, guesses held for late exchanges included
        (at the interpreter's exit: waiting EXIT_WAIT at most for a round under way)."""
        self.diagnose(force=True, wait=EXIT_WAIT)

    def after_fork(self) -> None:
        """In a forked child: its own analysis and deque, and a thread when needed."""
        self._fresh()

    def close(self) -> None:
        """Tell what is left and stop the thread (`uninstall`, installing again)."""
        self.settle()
        self.stopping.set()
        atexit.unregister(self.settle)
