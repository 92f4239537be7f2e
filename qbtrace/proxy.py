"""`qbtrace proxy`: mitmproxy run in this process with the capture addon, its setup text and
the exit summary.

mitmproxy runs under its own master and options (no subprocess whose arguments we would
parse), so every startup problem is known before anything is printed: a misspelled option,
a capture that cannot be written, a port that is busy or not ours to bind become one
`ProxyError`, and the "listening" banner is given only once mitmproxy listens. The click
command lives in `qbtrace.cli`; this module prints nothing itself: it hands each line to the
callbacks it is given.
"""

from __future__ import annotations

import logging
import shlex
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qbtrace.config import load_profile
from qbtrace.errors import QbtraceError
from qbtrace.profile import Profile
from qbtrace.render.view import config_line_of

CA_NAME = "mitmproxy-ca-cert.pem"
Say = Callable[[str], None]


class ProxyError(QbtraceError):
    """mitmproxy cannot be configured or cannot listen."""

    slug = "proxy"


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """What `qbtrace proxy` was asked for."""

    port: int
    """0 asks the system for a free port; the banner says which one."""
    host: str
    """Loopback by default: an open proxy on the LAN would see the app's secrets."""
    out: Path
    config: Path | None
    options: tuple[str, ...] = ()
    """mitmproxy options as `name=value`, as `mitmdump --set` takes them."""
    mitmproxy_log: bool = False
    """Show mitmproxy's own per-flow and connection lines (quiet by default)."""
    quiet: bool = False
    """Only the listening line and errors from mitmproxy; qbtrace's live lines still show."""


def setup_text(url: str, out: Path, ca: Path) -> str:
    """How to point an app at the proxy."""
    first_run = "" if ca.exists() else "  (mitmproxy creates it on its first start)"
    return "\n".join(
        [
            f"CA certificate: {ca}{first_run}",
            "",
            "Python (requests, and the SDKs built on it):",
            f"  export HTTPS_PROXY={url} REQUESTS_CA_BUNDLE={ca}",
            "Node (axios, and the SDKs built on it):",
            f"  export HTTPS_PROXY={url} NODE_EXTRA_CA_CERTS={ca}",
            "",
            "Failed token requests are explained here as they happen. Press Ctrl-C to stop.",
        ]
    )


def listening_line(url: str, out: Path) -> str:
    return f"qbtrace proxy listening on {url}, recording OAuth traffic to {out}"


def report_command(out: Path, config: Path | None) -> str:
    """The report command for this capture, with the config the session used."""
    words = ["qbtrace", "report", str(out)]
    if config is not None:
        words += ["--config", str(config)]
    return " ".join(shlex.quote(w) for w in [*words, "-o", "report.html"])


def summary_text(out: Path, first_line: int, profile: Profile, config: Path | None) -> str:
    """Exchanges recorded since line `first_line` of the capture and its failures by cause."""
    from qbtrace.analysis import analyze_inputs
    from qbtrace.redact import Redactor, default_key
    from qbtrace.render.view import plural
    from qbtrace.sources import read_input

    report = report_command(out, config)
    try:
        got = read_input(out, out.name, profile, Redactor(default_key()))
        findings = analyze_inputs([got], profile).findings
    except QbtraceError as exc:
        return f"qbtrace: could not summarise the capture: {exc}\nReport: {report}"
    session = [x for x in got.exchanges if x.ref.index >= first_line]
    causes = Counter(f.cause for f in findings if f.ref.index >= first_line)
    lines = [f"qbtrace: {plural(len(session), 'exchange')} captured in {out}"]
    tokens = sum(1 for x in session if x.kind == "token")
    lines.append(f"  token requests: {tokens}, failed: {sum(causes.values())}")
    lines += [f"    {cause}: {n}" for cause, n in causes.most_common()]
    lines.append(f"Render the report: {report}")
    return "\n".join(lines)


def line_count(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            data = handle.read()
    except OSError:
        return 0
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


class LiveLines(logging.Handler):
    """qbtrace's own log lines (live explanations, capture trouble) to `say`, apart from
    mitmproxy's log so that quieting mitmproxy never hides them."""

    def __init__(self, say: Say) -> None:
        super().__init__(logging.WARNING)
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        self.say(record.getMessage())


def run_proxy(settings: ProxySettings, say: Say, live: Say) -> None:
    """Serve until Ctrl-C (or SIGTERM), then say the summary. ConfigError for a bad config
    and ProxyError for anything mitmproxy refuses, both before the banner."""
    import asyncio

    from qbtrace.mitm_master import serve

    profile = load_profile(settings.config)
    if profile.config_implicit and (said := config_line_of(profile)):
        say(f"qbtrace: note: {said}")
    out = settings.out.expanduser().resolve()
    first_line = line_count(out)
    qbtrace_log = logging.getLogger("qbtrace")
    handler, propagate = LiveLines(live), qbtrace_log.propagate
    qbtrace_log.addHandler(handler)
    qbtrace_log.propagate = False
    try:
        asyncio.run(serve(settings, out, say))
    finally:
        qbtrace_log.removeHandler(handler)
        qbtrace_log.propagate = propagate
    say(summary_text(out, first_line, profile, settings.config))
