"""The in-app recorder's core: raw parts of an OAuth exchange in, one capture line out.

The HTTP-library hooks (`hook_requests`, `hook_httpx`) hand every request the profile
recognises to `Recorder.record`; it redacts with `build_exchange` (the one place raw secrets
become tags, as for the proxy addon) and appends one line with the addon's `CaptureWriter`.
Nothing here may raise into the application: every step is guarded, and a failure costs at
most the record, logged without any value from the exchange.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from qbtrace.capture import CaptureWriter, encode_line, exchange_record, make_header
from qbtrace.model import Kind, RawParts, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor, default_key
from qbtrace.sources.build import build_exchange

if TYPE_CHECKING:
    from qbtrace.record.explain import Explainer

logger = logging.getLogger("qbtrace.record")
MAX_LOGGED = 10
"""Problems logged per process; later ones are only counted (an app makes many requests)."""
Clock = Callable[[], float]


class Recorder:
    """One capture file shared by the threads of a process and by its forked children.

    The file is opened with O_APPEND and each record is one `os.write`, so workers forked
    after `open` (multiprocessing, gunicorn, Celery prefork) append whole lines to the same
    file through the descriptor they inherit.
    """

    def __init__(
        self, writer: CaptureWriter, profile: Profile, redactor: Redactor, clock: Clock
    ) -> None:
        self.writer = writer
        self.profile = profile
        self.redactor = redactor
        self.clock = clock
        """Where `started` and `ended` come from (Unix seconds); `time.time` unless told."""
        self.recorded = 0
        self.problems = 0
        self._lock = threading.Lock()
        self.explainer: Explainer | None = None
        """The live diagnosis, when asked for (`explain`); None costs one test per record."""

    @classmethod
    def open(
        cls,
        path: Path,
        profile: Profile | None = None,
        key: bytes | None = None,
        clock: Clock = time.time,
    ) -> Recorder:
        """Open (creating, 0600) `path` and append a session header; OSError when it cannot."""
        redactor = Redactor(key or default_key())
        writer = CaptureWriter.open(path)
        try:
            writer.write(encode_line(make_header(redactor, raw=False)))
        except BaseException:
            writer.close()
            raise
        return cls(writer, profile or Profile(), redactor, clock)

    def kind_of(self, method: object, url: object) -> Kind | None:
        """The OAuth role of a request; None for unrelated traffic and for anything odd."""
        try:
            if isinstance(method, str) and isinstance(url, str):
                return self.profile.kind_of(method, url)
        except Exception as exc:
            self.problem("match a request", exc)
        return None

    def now(self) -> float | None:
        try:
            return float(self.clock())
        except Exception as exc:
            self.problem("read the clock", exc)
            return None

    def record(self, kind: Kind, parts: Callable[[], RawParts]) -> None:
        """Build, redact and append one exchange; never raises."""
        try:
            raw = parts()
            with self._lock:
                if self.writer.gone():
                    self._reopen()
                ref = Ref(self.writer.path.name, self.writer.next_index)
                exchange = build_exchange(ref, kind, raw, self.redactor)
                self.writer.write(encode_line(exchange_record(exchange)))
                self.recorded += 1
            if self.explainer is not None:
                self.explainer.add(exchange)
        except Exception as exc:
            self.problem("record a token exchange", exc)

    def _reopen(self) -> None:
        """The capture was deleted, or its descriptor closed (a daemonizing app closes all it
        inherited), while the app ran: start it again, loudly."""
        path = self.writer.path
        logger.error("qbtrace: capture %s was deleted or closed; starting it again", path)
        self.writer = self.writer.reopened(encode_line(make_header(self.redactor, raw=False)))

    def problem(self, what: str, exc: BaseException) -> None:
        """Log where the recorder failed (never the exchange's values); the app goes on."""
        self.problems += 1
        if self.problems > MAX_LOGGED:
            return
        where = exc.__traceback__
        while where is not None and where.tb_next is not None:
            where = where.tb_next
        line = "?"
        if where is not None:
            line = f"{os.path.basename(where.tb_frame.f_code.co_filename)}:{where.tb_lineno}"
        logger.error(
            "qbtrace: could not %s (%s at %s); the request went on unchanged%s",
            what,
            exc.__class__.__name__,
            line,
            "; further problems are not logged" if self.problems == MAX_LOGGED else "",
        )

    def explain(self) -> None:
        """Tell each failed token request's cause on stderr from now on (`record.explain`)."""
        try:
            from qbtrace.record.explain import Explainer

            if self.explainer is None:
                self.explainer = Explainer(self.profile, self.redactor)
        except Exception as exc:
            self.problem("start the live diagnosis", exc)

    def after_fork(self) -> None:
        """In a forked child: a lock another thread held at the fork would never be released;
        the live diagnosis starts again in the child (its thread did not survive)."""
        self._lock = threading.Lock()
        if self.explainer is not None:
            self.explainer.after_fork()

    def close(self) -> None:
        if self.explainer is not None:
            self.explainer.close()
        with self._lock:
            self.writer.close()
