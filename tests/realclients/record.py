"""Regenerate the golden recordings of the real-client scenarios.

    python tests/realclients/record.py [names...]   (default: every scenario)

For each scenario: start mitmdump with the emulator (hardump + flow file), run the scenario,
stop mitmdump with SIGINT (the HAR is written only on a clean stop), check the token requests
have the statuses the scenario declares, and write into tests/data/golden/:
<name>.har, <name>.mitm, <name>.expect.json and the browser's own HAR: <name>.playwright.har for
Chromium scenarios (Playwright), <name>.firefox.har for Firefox (its Save All As HAR).

Importable: `mitmdump(extra_args)` is a context manager yielding (proxy_url, ca_path) for a
mitmdump running the emulator (add your own `-s addon.py` in extra_args), and
`run_scenario(name, proxy_url, ca_path)` runs one scenario against it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import evidence  # noqa: E402
from authflows import AUTH_FLOWS  # noqa: E402
from scenarios import SCENARIOS as BY_CAUSE  # noqa: E402
from scenarios import Ctx  # noqa: E402

SCENARIOS = {**BY_CAUSE, **AUTH_FLOWS}

GOLDEN = HERE.parent / "data" / "golden"
EMULATOR = HERE / "emulator.py"
TOKEN_URL = evidence.TOKEN_URL
PROVIDER_HOSTS = {
    "quickbooks": r"~d intuit\.com",
    "xero": r"~d xero\.com",
    "microsoft": r"~d login\.microsoftonline\.com",
    "google": r"~d accounts\.google\.com | ~d oauth2\.googleapis\.com",
    "auth0": r"~d auth0\.com",
}


def record_filter(providers: Sequence[str]) -> str:
    """The scenario's providers' hosts and the apps' own: no control calls, no Chromium
    background traffic (which goes to Google hosts)."""
    hosts = " | ".join(PROVIDER_HOSTS[p] for p in providers)
    return f"({hosts} | ~d example\\.test) & !~u favicon"


RECORD_FILTER = record_filter(["quickbooks"])
_BESIDE = Path(sys.executable).with_name("mitmdump")
MITMDUMP = str(_BESIDE) if _BESIDE.exists() else (shutil.which("mitmdump") or "mitmdump")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], port: int, ca: Path, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mitmdump exited early:\n{log.read_text()[-2000:]}")
        if ca.exists():
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return
        time.sleep(0.05)
    raise RuntimeError("mitmdump did not start within 20 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 5)):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def mitmdump(
    extra_args: Sequence[str] = (), confdir: str | None = None
) -> Iterator[tuple[str, str]]:
    """Run mitmdump with the emulator as its first addon; yield (proxy_url, ca_path).

    Stops it with SIGINT on exit, so `--set hardump=...` files get written.
    """
    with tempfile.TemporaryDirectory(prefix="qbt-mitm-") as tmp:
        conf = Path(confdir or tmp)
        port = free_port()
        log = Path(tmp) / "mitmdump.log"
        argv = [
            MITMDUMP,
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(port),
            "--set",
            f"confdir={conf}",
            "--set",
            "connection_strategy=lazy",
            "-s",
            str(EMULATOR),
            *extra_args,
        ]
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            ca = conf / "mitmproxy-ca-cert.pem"
            _wait_ready(proc, port, ca, log)
            yield f"http://127.0.0.1:{port}", str(ca)
        finally:
            _stop(proc)


def run_scenario(
    name: str,
    proxy_url: str,
    ca_path: str,
    browser_har: str | None = None,
    py_prefix: Sequence[str] = (),
    node_prefix: Sequence[str] = (),
) -> dict[str, Any]:
    """Reset the emulator, run scenario `name`; return its expectation and the clients' logs.

    `py_prefix` goes before `pyclient.py` on its command line (e.g. the in-app recorder),
    `node_prefix` before `driver.js` (node options).
    """
    s = SCENARIOS[name]
    ctx = Ctx(proxy_url, ca_path, browser_har, py_prefix=tuple(py_prefix))
    ctx.node_prefix = tuple(node_prefix)
    ctx.control("/reset")
    started = time.monotonic()
    s.run(ctx)
    shifted = ctx.control("/clock")["shift"] > 0
    if shifted != s.time_shifted:
        raise RuntimeError(
            f"{name}: declares time_shifted={s.time_shifted}, clock moved: {shifted}"
        )
    return {
        "scenario": name,
        "client": s.client,
        "causes": s.causes,
        "statuses": s.statuses,
        "time_shifted": s.time_shifted,
        "racy": s.racy,
        "notes": s.notes,
        "seconds": round(time.monotonic() - started, 2),
        "logs": ctx.logs,
    }


def token_entries(har: dict[str, Any]) -> list[dict[str, Any]]:
    """Token-endpoint POSTs of a HAR, in the order they started."""
    entries = [e for e in har["log"]["entries"] if evidence.is_token_request(e)]
    return sorted(entries, key=lambda e: e["startedDateTime"])


def check(har: dict[str, Any], expect: dict[str, Any]) -> list[str]:
    """Problems with a recording: statuses differ, or failures and causes do not pair up."""
    statuses = [e["response"]["status"] for e in token_entries(har)]
    problems = []
    same = sorted if expect.get("racy") else list
    if same(statuses) != same(expect["statuses"]):
        problems.append(f"token statuses {statuses} != expected {expect['statuses']}")
    answered_failures = [s for s in statuses if s not in (0, 200)]
    if len(answered_failures) != len(expect["causes"]):
        problems.append(f"{len(answered_failures)} failures for {len(expect['causes'])} causes")
    return problems


def record(name: str, confdir: str, out: Path | None = None) -> dict[str, Any]:
    out = out or GOLDEN
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"qbt-{name}-") as tmp:
        har, flows, pw = Path(tmp, "m.har"), Path(tmp, "m.mitm"), Path(tmp, "pw.har")
        browser = SCENARIOS[name].client.split("+")[0]
        own_har = {"chromium": "playwright", "firefox": "firefox"}.get(browser)
        keep = record_filter(SCENARIOS[name].providers)
        args = [
            "--set",
            f"hardump={har}",
            "-w",
            str(flows),
            "--set",
            f"save_stream_filter={keep}",
        ]
        with mitmdump(args, confdir) as (proxy_url, ca):
            result = run_scenario(name, proxy_url, ca, str(pw) if own_har else None)
        recorded = json.loads(har.read_text())
        problems = check(recorded, result)
        if problems:
            raise RuntimeError(f"{name}: " + "; ".join(problems))
        result["evidence"] = evidence.required(recorded, result["causes"])
        # mitmproxy writes indent=4; the same JSON with indent=1 is a third smaller.
        compact = json.dumps(json.loads(har.read_text()), indent=1, ensure_ascii=False)
        (out / f"{name}.har").write_text(compact + "\n")
        shutil.copyfile(flows, out / f"{name}.mitm")
        if own_har:
            shutil.copyfile(pw, out / f"{name}.{own_har}.har")
    keys = ("scenario", "client", "causes", "evidence", "statuses", "time_shifted", "notes")
    expect = {k: result[k] for k in keys}
    if SCENARIOS[name].providers != ("quickbooks",):
        expect["providers"] = list(SCENARIOS[name].providers)
    (out / f"{name}.expect.json").write_text(json.dumps(expect, indent=2) + "\n")
    return result


def main(argv: list[str]) -> int:
    names = argv or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenarios: {unknown}; known: {sorted(SCENARIOS)}", file=sys.stderr)
        return 2
    failed = 0
    with tempfile.TemporaryDirectory(prefix="qbt-conf-") as conf:
        for name in names:
            started = time.monotonic()
            try:
                result = record(name, conf)
            except Exception as e:  # report every scenario, fail at the end
                failed += 1
                print(f"FAIL {name}: {e}", file=sys.stderr)
                continue
            print(
                f"ok   {name:32} {time.monotonic() - started:5.1f} s total, "
                f"{result['seconds']:5.1f} s scenario, causes={result['causes']}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.pop("PYTHONPATH", None)
    sys.exit(main(sys.argv[1:]))
