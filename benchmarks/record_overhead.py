"""Cost of the in-app recorder per token request, next to the bare request, in one run.

    python benchmarks/record_overhead.py [REQUESTS]      (default 2000 of each kind; --help)

A token endpoint shaped like Intuit's runs in a child process on 127.0.0.1 (keep-alive,
TCP_NODELAY, answers of Intuit's size, half of them invalid_grant). The app side is a
`requests.Session` and an `httpx.Client`, timed request by request, bare and recorded
alternating (the libraries' own `send` and the recorder's wrapper swapped in between), so a
loaded machine's drift hits both alike; unrelated API calls show the cost of only matching.
Prints, for each, the p50 wall time and the p50 CPU time of the app's thread, bare and
recorded, their difference (the recorder's cost per request) and the ratio; then the
recorder's own time per token exchange in-process (redaction, encoding, fstat, one write),
with the live diagnosis off (the default) and on (`explain=True`: the app's thread only
queues the exchange; the diagnosis thread's work is timed apart, per failure told).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import requests

import qbtrace.record
from qbtrace.analysis import SETTLE
from qbtrace.model import Kind, RawParts
from qbtrace.profile import Profile
from qbtrace.record import hook_httpx, hook_requests

SERVER = r"""
import http.server, json, socket, sys
RT = "RT1-" + "7" * 46
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        if body.endswith(b"-bad"):
            status, out = 400, {"error": "invalid_grant"}
        else:
            out = {"access_token": "eyJ" + "a" * 900, "refresh_token": RT, "token_type": "bearer",
                   "expires_in": 3600, "x_refresh_token_expires_in": 8726400}
            status = 200
        self.answer(status, json.dumps(out).encode())
    def do_GET(self):
        self.answer(200, json.dumps({"QueryResponse": {"Invoice": [{"Id": "1"}] * 20}}).encode())
    def answer(self, status, data):
        self.send_response(status)
        self.send_header("content-type", "application/json;charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.send_header("intuit_tid", "1-6929c1dc-0a1b2c3d4e5f60718293a4b5")
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_port, flush=True)
server.serve_forever()
"""
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
CLIENT, SECRET = "ABbenchmarkclient0000000000000000000000000000", "s" * 40


def timed(call: Callable[[int], object], n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter_ns()
        call(i)
        out.append((time.perf_counter_ns() - start) / 1000)
    return out


def both(call: Callable[[int], object], i: int) -> tuple[float, float]:
    """Wall and thread CPU time of one call, µs."""
    wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
    call(i)
    return (time.perf_counter_ns() - wall) / 1000, (time.thread_time_ns() - cpu) / 1000


def clients(base: str) -> dict[str, Callable[[int], object]]:
    token = base + TOKEN_PATH
    session, client = requests.Session(), httpx.Client()

    def form(i: int) -> dict[str, str]:
        rt = f"RT1-{i:040d}" + ("-bad" if i % 2 else "")
        return {"grant_type": "refresh_token", "refresh_token": rt}

    return {
        "requests token": lambda i: session.post(token, data=form(i), auth=(CLIENT, SECRET)),
        "httpx token": lambda i: client.post(token, data=form(i), auth=(CLIENT, SECRET)),
        "requests unrelated": lambda i: session.get(base + "/v3/company/1/query"),
    }


def live(base: str, n: int, capture: Path) -> None:
    calls = clients(base)
    qbtrace.record.install(capture, profile=Profile().tuned(token_endpoint=base + TOKEN_PATH))
    wrapped = (requests.Session.send, httpx.Client.send)
    assert hook_requests.ORIGINAL is not None and hook_httpx.ORIGINALS is not None
    original = (hook_requests.ORIGINAL, hook_httpx.ORIGINALS[0])

    def use(sends: tuple[Any, Any]) -> None:
        requests.Session.send, httpx.Client.send = sends  # type: ignore[method-assign]

    print(f"{'p50 µs: wall':>33} {'':13} {'':6} | {'thread CPU':>10}")
    print(
        f"{'':20} {'bare':>7} {'rec':>7} {'cost':>6} {'ratio':>6} | "
        f"{'bare':>7} {'rec':>7} {'cost':>6} {'ratio':>6}"
    )
    for name, call in calls.items():
        timed(call, 200)  # warm connections and caches
        bare, rec = [], []
        for i in range(n):
            use(original)
            bare.append(both(call, i))
            use(wrapped)
            rec.append(both(call, i))
        row = [name]
        for k in (0, 1):
            b, r = statistics.median(x[k] for x in bare), statistics.median(x[k] for x in rec)
            row.append(f"{b:7.0f} {r:7.0f} {r - b:6.0f} {r / b:6.3f}")
        print(f"{row[0]:20} {row[1]} | {row[2]}")
    qbtrace.record.uninstall()


def in_process(n: int, capture: Path, explain: bool) -> list[float]:
    """The recorder's own time per token exchange (µs), half of them invalid_grant."""
    recorder = qbtrace.record.install(capture, explain=explain)
    told: list[str] = []
    if recorder.explainer is not None:
        recorder.explainer.tell = told.append  # lines counted, not printed
    headers = [("Authorization", "Basic QUJiZW5jaG1hcms6c2VjcmV0"), ("User-Agent", "bench")]
    ok = '{"access_token":"eyJ' + "a" * 900 + '","refresh_token":"RT1-x","expires_in":3600}'

    def parts(i: int) -> Callable[[], RawParts]:
        body = f"grant_type=refresh_token&refresh_token=RT1-{i:046d}"
        status, answer = (400, '{"error":"invalid_grant"}') if i % 2 else (200, ok)
        return lambda: RawParts(
            "POST",
            "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
            1.0 + i,
            1.1 + i,
            headers,
            body,
            status,
            [("intuit_tid", "1-6929c1dc-0a1b2c3d4e5f60718293a4b5")],
            answer,
        )

    made = [parts(i) for i in range(n)]
    took = timed(lambda i: recorder.record(Kind.TOKEN, made[i]), n)
    start = time.perf_counter()
    qbtrace.record.uninstall()  # tells every failure still queued or held
    if explain:
        spent = (time.perf_counter() - start) * 1000
        print(
            f"  live diagnosis on: {len(told)} failures told; uninstall told those still held "
            f"(guesses wait {SETTLE:g} s for late answers) in {spent:.0f} ms"
        )
    return took


def spread(took: list[float]) -> str:
    ordered = sorted(took)
    n = len(ordered)
    return f"p50 {ordered[n // 2]:6.1f} µs, p99 {ordered[n * 99 // 100]:6.1f} µs (n={n})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "requests", nargs="?", type=int, default=2000, help="requests of each kind (2000)"
    )
    n = parser.parse_args().requests
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base = f"http://127.0.0.1:{proc.stdout.readline().strip()}"
        with tempfile.TemporaryDirectory() as tmp:
            gc.collect()
            live(base, n, Path(tmp, "live.jsonl"))
            print("recorder's own time per token exchange (app's thread):")
            off = in_process(n, Path(tmp, "off.jsonl"), explain=False)
            on = in_process(n, Path(tmp, "on.jsonl"), explain=True)
            print(f"  live diagnosis off (default): {spread(off)}")
            print(f"  live diagnosis on:            {spread(on)}")
            ratio = statistics.median(on) / statistics.median(off)
            print(f"  on/off p50 ratio: {ratio:.2f}")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
