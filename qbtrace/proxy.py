"""`qbtrace proxy`: run mitmdump with the capture addon, say how to use it, summarise on exit.

The click command lives in `qbtrace.cli` and does the printing; this module builds the
mitmdump command line, starts it (`start_proxy`: the running proxy and its setup text) and
summarises the capture when it stops (`ProxyRun.wait`, `ProxyRun.summary`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import qbtrace
from qbtrace.errors import QbtraceError
from qbtrace.profile import Profile

DEFAULT_CONFDIR = Path("~/.mitmproxy")
CA_NAME = "mitmproxy-ca-cert.pem"


class ProxyError(QbtraceError):
    """mitmdump or the addon cannot be found or started."""

    slug = "proxy"


def addon_path() -> Path:
    """The addon script: `addons/` beside the package (a checkout), or shipped inside it."""
    package = Path(qbtrace.__file__).resolve().parent
    for candidate in (package.parent / "addons", package / "addons"):
        script = candidate / "qbtrace_capture.py"
        if script.is_file():
            return script
    raise ProxyError("the capture addon (addons/qbtrace_capture.py) is not installed")


def mitmdump_executable() -> str:
    beside = Path(sys.executable).with_name("mitmdump")
    if beside.exists():
        return str(beside)
    found = shutil.which("mitmdump")
    if found is None:
        raise ProxyError("mitmdump not found: install mitmproxy in this environment")
    return found


def mitmdump_command(
    port: int, out: Path, config: Path | None, mitmdump_args: Sequence[str] = ()
) -> list[str]:
    """The mitmdump argv; the user's extra arguments come last so they can override ours."""
    # loopback by default: an open proxy on the LAN would see the app's secrets
    argv = [mitmdump_executable(), "--listen-host", "127.0.0.1", "--listen-port", str(port)]
    argv += ["-s", str(addon_path())]
    argv += ["--set", f"qbtrace_capture={out}"]
    if config is not None:
        argv += ["--set", f"qbtrace_config={config}"]
    return argv + list(mitmdump_args)


def confdir_of(mitmdump_args: Sequence[str]) -> Path:
    """mitmproxy's confdir (where its CA lives), as `--set confdir=...` may have changed it."""
    confdir = DEFAULT_CONFDIR
    for arg in mitmdump_args:
        if arg.startswith("confdir="):
            confdir = Path(arg.partition("=")[2])
    return confdir.expanduser()


def listen_host_of(mitmdump_args: Sequence[str]) -> str:
    """Where mitmdump listens: loopback unless the user's arguments say otherwise."""
    host = "127.0.0.1"
    for i, arg in enumerate(mitmdump_args):
        if arg == "--listen-host" and i + 1 < len(mitmdump_args):
            host = mitmdump_args[i + 1]
        elif arg.startswith("listen_host="):
            host = arg.partition("=")[2]
    return host


def setup_text(port: int, out: Path, ca: Path, host: str = "127.0.0.1") -> str:
    """How to point an app at the proxy."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    url = f"http://{shown}:{port}"
    first_run = "" if ca.exists() else "  (mitmproxy creates it on its first start)"
    return "\n".join(
        [
            f"qbtrace proxy listening on {url}, recording OAuth traffic to {out}",
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


def summary_text(out: Path, first_line: int, profile: Profile | None = None) -> str:
    """Exchanges recorded since line `first_line` of the capture and its failures by cause."""
    from qbtrace.analysis import analyze_inputs
    from qbtrace.redact import Redactor, default_key
    from qbtrace.sources import read_input

    profile = profile or Profile()
    report = f"qbtrace analyze {out} --format html -o report.html"
    try:
        got = read_input(out, out.name, profile, Redactor(default_key()))
        findings = analyze_inputs([got], profile).findings
    except QbtraceError as exc:
        return f"qbtrace: could not summarise the capture: {exc}\nReport: {report}"
    session = [x for x in got.exchanges if x.ref.index >= first_line]
    causes = Counter(f.cause for f in findings if f.ref.index >= first_line)
    lines = [f"qbtrace: {len(session)} exchanges captured in {out}"]
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


@dataclass
class ProxyRun:
    """A running mitmdump with the capture addon."""

    proc: subprocess.Popen[bytes]
    out: Path
    first_line: int
    """The capture's line count before this session: its summary starts there."""
    setup: str
    """How to point an app at the proxy (the CLI prints it)."""
    profile: Profile

    def wait(self) -> int:
        """Until mitmdump exits or Ctrl-C stops it; mitmdump's exit status."""
        return _wait(self.proc)

    def summary(self) -> str:
        return summary_text(self.out, self.first_line, self.profile)


def start_proxy(
    port: int, out: Path, config: Path | None, mitmdump_args: Sequence[str]
) -> ProxyRun:
    """Start mitmdump with the addon; ProxyError when it cannot be started."""
    from qbtrace.config import load_profile

    profile = load_profile(config)
    out = out.expanduser().resolve()
    argv = mitmdump_command(port, out, config, mitmdump_args)
    first_line = line_count(out)
    env = dict(os.environ)
    # the addon imports qbtrace: make this very package importable in mitmdump's interpreter
    package_root = str(Path(qbtrace.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    try:
        proc = subprocess.Popen(argv, env=env)
    except OSError as exc:
        raise ProxyError(f"cannot start mitmdump: {exc}") from None
    ca = confdir_of(mitmdump_args) / CA_NAME
    setup = setup_text(port, out, ca, listen_host_of(mitmdump_args))
    return ProxyRun(proc, out, first_line, setup, profile)


def _wait(proc: subprocess.Popen[bytes]) -> int:
    """Wait for mitmdump; on Ctrl-C let it shut down cleanly (it got the SIGINT too)."""
    try:
        return proc.wait()
    except KeyboardInterrupt:
        pass
    for sig, grace in ((None, 2.0), (signal.SIGINT, 10.0), (signal.SIGTERM, 5.0)):
        if sig is not None and proc.poll() is None:
            proc.send_signal(sig)  # not in our terminal's process group: forward it
        try:
            return proc.wait(grace)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            continue
    proc.kill()
    return proc.wait()
