"""Cost of the capture addon in a live proxy: mitmdump with and without it, same run.

    python benchmarks/proxy_overhead.py [REQUESTS]      (default 1000 per round)

A local addon answers every request inside mitmdump (no upstream), so the figures are
mitmproxy's own cost plus ours. The client is `requests` over keep-alive connections with
TCP_NODELAY set (urllib3 leaves Nagle on for proxy connections, which adds ~40 ms to each
POST). 10% of the requests are QuickBooks token requests (half of them failing, so the live
diagnosis runs), the rest unrelated API calls. Prints requests/s and p50/p99 latency of both
configurations, alternating rounds, and the addon's own time per flow as measured inside its
hooks (from its `done` log line; the addon keeps those times only with `qbtrace_timing`, which
this sets). The in-process figures drive the same hooks back to back: caches stay warm, so
they run 2-3x below the live ones on a loaded 2-core VM.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "addons" / "qbtrace_capture.py"
MITMDUMP = Path(sys.executable).with_name("mitmdump")
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
API_URL = "https://quickbooks.api.intuit.com/v3/company/4620816365/query"
ANSWER_ALL = """
import json
from mitmproxy import http

class AnswerAll:
    def request(self, flow):
        if flow.request.path.startswith("/oauth2/v1/tokens/bearer"):
            n = flow.request.urlencoded_form.get("refresh_token", "")
            if n.endswith("-bad"):
                body = {"error": "invalid_grant"}
                status = 400
            else:
                body = {"access_token": "eyJ" + n, "refresh_token": n + "-next",
                        "expires_in": 3600, "x_refresh_token_expires_in": 8726400}
                status = 200
        else:
            body, status = {"QueryResponse": {"Invoice": [{"Id": str(i)} for i in range(20)]}}, 200
        flow.response = http.Response.make(status, json.dumps(body).encode(),
                                           {"content-type": "application/json"})

addons = [AnswerAll()]
"""
ROUNDS = 3
NODELAY = [*HTTPConnection.default_socket_options, (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


class NoDelayAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["socket_options"] = NODELAY
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        kwargs["socket_options"] = NODELAY
        return super().proxy_manager_for(proxy, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(tmp: Path, with_addon: bool) -> tuple[subprocess.Popen[str], int]:
    script = tmp / "answer_all.py"
    script.write_text(ANSWER_ALL)
    port = free_port()
    argv = [
        str(MITMDUMP),
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        str(port),
        "--set",
        "flow_detail=0",
        "--set",
        f"confdir={tmp}",
        "--set",
        "connection_strategy=lazy",
        "-s",
        str(script),
    ]
    if with_addon:
        argv += ["-s", str(ADDON), "--set", f"qbtrace_capture={tmp / 'bench.jsonl'}"]
        argv += ["--set", "qbtrace_timing=true"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QBTRACE_TAG_KEY": "bench"}
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            if (tmp / "mitmproxy-ca-cert.pem").exists():
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"mitmdump did not start: {proc.stdout.read() if proc.stdout else ''}"
            )
        time.sleep(0.05)


def drive(port: int, ca: Path, count: int) -> list[float]:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would beat `verify`
    session.mount("https://", NoDelayAdapter())
    session.proxies = {"https": f"http://127.0.0.1:{port}"}
    session.verify = str(ca)
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        try:
            send(session, i)
        except requests.ConnectionError:
            # a loaded machine sometimes resets a kept-alive connection: count the re-send
            send(session, i)
        latencies.append(time.perf_counter() - started)
    return latencies


def send(session: requests.Session, i: int) -> None:
    """One request; token requests every 10th, every 20th with a refused token."""
    if i % 10 == 0:
        rt = f"RT1-{i}" + ("-bad" if i % 20 == 0 else "")
        data = {"grant_type": "refresh_token", "refresh_token": rt}
        r = session.post(TOKEN_URL, data=data, auth=("ABbench", "secret"))
    else:
        r = session.get(API_URL, params={"query": "select * from Invoice"})
    r.content  # noqa: B018


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return out


def round_trip(with_addon: bool, count: int) -> tuple[list[float], float, str]:
    with tempfile.TemporaryDirectory(prefix="qbt-bench-") as name:
        tmp = Path(name)
        proc, port = start(tmp, with_addon)
        try:
            drive(port, tmp / "mitmproxy-ca-cert.pem", 50)  # warm up: TLS, certs, imports
            started = time.perf_counter()
            latencies = drive(port, tmp / "mitmproxy-ca-cert.pem", count)
            elapsed = time.perf_counter() - started
        finally:
            log = stop(proc)
    return latencies, elapsed, log


def describe(name: str, latencies: list[float], elapsed: float) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    return (
        f"  {name:<14} {len(latencies) / elapsed:7.1f} req/s   p50 {cuts[49] * 1e3:6.2f} ms"
        f"   p99 {cuts[98] * 1e3:6.2f} ms"
    )


def in_process(flows: int = 20_000) -> list[str]:
    """The addon's hooks driven directly with real mitmproxy flows (no proxy, no client)."""
    import importlib.util

    from mitmproxy import http
    from mitmproxy.test import taddons, tflow

    from qbtrace.live import spread

    os.environ.setdefault("QBTRACE_TAG_KEY", "bench")
    spec = importlib.util.spec_from_file_location("qbtrace_capture_bench", ADDON)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    addon = module.QbtraceCapture()
    unrelated = [tflow.tflow(resp=True) for _ in range(1000)]
    matching = []
    for i in range(flows // 10):
        f = tflow.tflow(resp=True)
        rt = f"RT1-{i}-H0-{i:010d}abcdefghijklmnop"
        f.request = http.Request.make(
            "POST",
            TOKEN_URL,
            f"grant_type=refresh_token&refresh_token={rt}".encode(),
            {
                "content-type": "application/x-www-form-urlencoded",
                "authorization": "Basic QUJiZW5jaDpzZWNyZXQ=",
            },
        )
        body = {
            "access_token": "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + "x" * 900,
            "refresh_token": rt + "-next",
            "expires_in": 3600,
            "x_refresh_token_expires_in": 8726400,
        }
        f.response = http.Response.make(
            200, __import__("json").dumps(body).encode(), {"content-type": "application/json"}
        )
        matching.append(f)
    with tempfile.TemporaryDirectory() as tmp, taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(Path(tmp) / "bench.jsonl"), qbtrace_timing=True)
        for n in range(flows):
            addon.response(unrelated[n % 1000])
        for f in matching:
            addon.response(f)
        return [
            f"matching (µs mean/p50/p99): {spread(addon.session.time_matching)}",
            f"unrelated (µs mean/p50/p99): {spread(addon.session.time_unrelated)}",
        ]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    results: dict[bool, list[tuple[list[float], float]]] = {False: [], True: []}
    hook_lines = []
    for _ in range(ROUNDS):
        for with_addon in (False, True):
            latencies, elapsed, log = round_trip(with_addon, count)
            results[with_addon].append((latencies, elapsed))
            hook_lines += re.findall(r"qbtrace: \d+ exchanges recorded.*", log)
    print(f"{count} requests per round (10% token requests, half failing), {ROUNDS} rounds each")
    for with_addon, name in ((False, "mitmdump"), (True, "mitmdump+addon")):
        for latencies, elapsed in results[with_addon]:
            print(describe(name, latencies, elapsed))
    plain = sum(count / e for _, e in results[False]) / ROUNDS
    addon = sum(count / e for _, e in results[True]) / ROUNDS
    print(f"  throughput with addon / without: {addon / plain:.3f}")
    print("addon's own time, measured inside its hooks while proxying:")
    for line in hook_lines:
        print(f"  {line}")
    print(
        "addon's own time, hooks driven in-process with mitmproxy test flows "
        "(unique tokens, 1 KB access tokens):"
    )
    for line in in_process():
        print(f"  {line}")


if __name__ == "__main__":
    main()
