"""Cost of the capture addon in a live proxy: mitmdump with and without it, same run.

    python benchmarks/proxy_overhead.py [--requests 1000] [--rounds 3] [--flows 20000] [--steps]
        [--probe] [--token-every 10]

A local addon answers every request inside mitmdump (no upstream), so the figures are
mitmproxy's own cost plus ours. The client is `requests` over keep-alive connections with
TCP_NODELAY set (urllib3 leaves Nagle on for proxy connections, which adds ~40 ms to each
POST). 10% of the requests are QuickBooks token requests (half of them failing, so the live
diagnosis runs), the rest unrelated API calls. Prints requests/s and p50/p99 latency of both
configurations, alternating rounds, then the addon's own times from its `done` log line (kept
only with `qbtrace_timing`, which this sets): what runs on mitmproxy's event loop per matching
and per unrelated flow (the hooks: one `deque.append` of the flow), and what runs on the
recording thread per matching flow (unpack, redact, encode, write), per unrelated flow (the
path test) and per live diagnosis round, against the targets (issue 14: hook ≤ 100 µs per
matching flow, ≤ 2 µs per unrelated flow, p50 live).
The in-process figures drive the same hooks back to back: caches stay warm, so they run
well below the live ones on a loaded 2-core VM. `--steps` adds the recording thread's work
step by step (warm, and with 8 MB of other data touched between flows, as live).

`--probe` loads the addon through `benchmarks/hook_probe.py`, which times, at the addon's
place in mitmproxy's dispatch and on every other unrelated flow, an empty span (two clock
reads: the measurement's floor), each step of a Python path test in `requestheaders`,
`request` and `response` (the hook before), the C `deque.append` the hook is now, and
mitmproxy's own cost to reach one more addon; the report then gives the
unrelated flow's p50 next to the floor of the same run. `--token-every 0` sends no token
request, so the recording thread only tests paths (its share of the unrelated flow's time).
"""

from __future__ import annotations

import argparse
import itertools
import json
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
PROBE = ROOT / "benchmarks" / "hook_probe.py"
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


def start(tmp: Path, with_addon: bool, probe: bool) -> tuple[subprocess.Popen[str], int]:
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
        script = PROBE if probe else ADDON  # the probe holds the addon and times its steps
        argv += ["-s", str(script), "--set", f"qbtrace_capture={tmp / 'bench.jsonl'}"]
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


def drive(port: int, ca: Path, count: int, every: int) -> list[float]:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would beat `verify`
    session.mount("https://", NoDelayAdapter())
    session.proxies = {"https": f"http://127.0.0.1:{port}"}
    session.verify = str(ca)
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        try:
            send(session, i, every)
        except requests.ConnectionError:
            # a loaded machine sometimes resets a kept-alive connection: count the re-send
            send(session, i, every)
        latencies.append(time.perf_counter() - started)
    return latencies


def send(session: requests.Session, i: int, every: int) -> None:
    """One request; a token request every `every`th (none when 0), every other one refused."""
    if every and i % every == 0:
        rt = f"RT1-{i}" + ("-bad" if i % (2 * every) == 0 else "")
        data = {"grant_type": "refresh_token", "refresh_token": rt}
        r = session.post(TOKEN_URL, data=data, auth=("ABbench", "secret"))
    else:
        r = session.get(API_URL, params={"query": "select * from Invoice"})
    r.content  # noqa: B018


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return out


def round_trip(with_addon: bool, args: argparse.Namespace) -> tuple[list[float], float, str]:
    with tempfile.TemporaryDirectory(prefix="qbt-bench-") as name:
        tmp = Path(name)
        proc, port = start(tmp, with_addon, args.probe)
        ca = tmp / "mitmproxy-ca-cert.pem"
        try:
            drive(port, ca, 50, args.token_every)  # warm up: TLS, certs, imports
            started = time.perf_counter()
            latencies = drive(port, ca, args.requests, args.token_every)
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


def token_flows(count: int) -> list[Any]:
    """Refresh flows as the proxy sees them: unique tokens, 1 KB access tokens."""
    from mitmproxy import http
    from mitmproxy.test import tflow

    flows = []
    for i in range(count):
        f = tflow.tflow(resp=True)
        rt = f"RT1-{i}-H0-{i:010d}abcdefghijklmnop"
        form = f"grant_type=refresh_token&refresh_token={rt}".encode()
        f.request = http.Request.make(
            "POST",
            TOKEN_URL,
            form,
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
        answer = json.dumps(body).encode()
        f.response = http.Response.make(200, answer, {"content-type": "application/json"})
        flows.append(f)
    return flows


def in_process(flows: int) -> list[str]:
    """The addon's hooks driven directly with real mitmproxy flows (no proxy, no client)."""
    import importlib.util

    from mitmproxy.test import taddons, tflow

    from qbtrace.live_times import spread

    os.environ.setdefault("QBTRACE_TAG_KEY", "bench")
    spec = importlib.util.spec_from_file_location("qbtrace_capture_bench", ADDON)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    addon = module.QbtraceCapture()
    unrelated = [tflow.tflow(resp=True) for _ in range(1000)]
    matching = token_flows(flows // 10)
    with tempfile.TemporaryDirectory() as tmp, taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(Path(tmp) / "bench.jsonl"), qbtrace_timing=True)
        for n in range(flows):
            addon.response(unrelated[n % 1000])
        for f in matching:
            addon.response(f)
        addon.done()
        times = addon.session.times
        return [
            f"hook, matching flow: {spread(times.matching)}",
            f"hook, unrelated flow: {spread(times.unrelated)}",
            f"recording thread (CPU), matching flow: {spread(times.recording)}",
            f"recording thread (CPU), unrelated flow: {spread(times.sieved)}",
        ]


def steps(flows: int, cold: bool) -> list[str]:
    """The recording thread's work per token flow, step by step (p50 µs)."""
    from qbtrace.capture import CaptureWriter, encode_line, exchange_record
    from qbtrace.model import Ref
    from qbtrace.profile import Profile
    from qbtrace.redact import Redactor
    from qbtrace.sources.build import build_exchange
    from qbtrace.sources.mitm import flow_parts

    names = ["pretty_url", "kind_of", "flow_parts", "build_exchange (redact)", "encode"]
    names += ["fstat (capture gone?)", "os.write"]
    times: list[list[int]] = [[] for _ in names]
    profile, redactor, other = Profile(), Redactor(b"bench"), bytearray(8 << 20)
    clock = time.perf_counter_ns
    with tempfile.TemporaryDirectory() as tmp:
        writer = CaptureWriter.open(Path(tmp) / "steps.jsonl")
        for i, f in enumerate(token_flows(flows)):
            if cold:  # what the proxy does between two token flows evicts our caches
                other[::64] = b"\1" * len(other[::64])
            t = [clock()]
            url = f.request.pretty_url
            t.append(clock())
            kind = profile.kind_of(f.request.method, url)
            t.append(clock())
            parts = flow_parts(f, url)
            t.append(clock())
            exchange = build_exchange(Ref("steps", i), kind, parts, redactor)
            t.append(clock())
            line = encode_line(exchange_record(exchange, f.id))
            t.append(clock())
            writer.gone()
            t.append(clock())
            writer.write(line)
            t.append(clock())
            for spent, (a, b) in zip(times, itertools.pairwise(t), strict=True):
                spent.append(b - a)
        writer.close()
    medians = [statistics.median(spent) / 1000 for spent in times]
    shown = [f"{name} {m:.1f}" for name, m in zip(names, medians, strict=True)]
    return [", ".join(shown) + f"; sum {sum(medians):.1f} µs"]


HOOK_TIMES = re.compile(
    r"in the hook per matching flow (?:[\d.]+/(?P<matching>[\d.]+)/|-).*?"
    r"per unrelated flow [\d.]+/(?P<unrelated>[\d.]+)/.*?"
    r"on the recording thread \(CPU\) per matching flow (?:[\d.]+/(?P<thread>[\d.]+)/|-)"
    r"(?:[^,]*, per unrelated flow (?:[\d.]+/(?P<sieved>[\d.]+)/|-))?"
)
PROBE_LINE = re.compile(r"qbtrace probe \(p50 µs, n>=\d+\): (.*)")


def probe_spans(log: str) -> dict[str, float]:
    """The probe's p50 per span, from its exit line (`hook_probe.py`)."""
    found = PROBE_LINE.search(log)
    if found is None:
        return {}
    pairs = (item.rsplit(" ", 1) for item in found[1].split(", "))
    return {name: float(value) for name, value in pairs}


def against_targets(lines: list[str], probes: list[dict[str, float]]) -> list[str]:
    """The live p50s of every round next to issue 14's targets, and the measurement's floor
    (the probe's empty span) when the probe ran."""
    found = [m for line in lines if (m := HOOK_TIMES.search(line))]
    if not found:
        return ["  (no timing line in mitmdump's output)"]

    def span(values: list[float]) -> str:
        if not values:
            return "- (no such flow)"
        values = sorted(values)
        return f"{values[0]:.2f}-{values[-1]:.2f} µs" if len(values) > 1 else f"{values[0]} µs"

    def p50s(name: str) -> list[float]:
        return [float(m[name]) for m in found if m[name] is not None]

    said = [
        f"  hook per matching flow, p50 live: {span(p50s('matching'))} (target ≤ 100 µs)",
        f"  hook per unrelated flow, p50 live: {span(p50s('unrelated'))} (target ≤ 2 µs)",
        f"  recording thread per matching flow, p50 live: {span(p50s('thread'))} CPU"
        " (off the loop)",
    ]
    if p50s("sieved"):
        said.append(
            f"  recording thread per unrelated flow, p50 live: {span(p50s('sieved'))} CPU"
            " (the path test, off the loop)"
        )
    if probes and len(probes) == len(found):
        floors = [probe["empty"] for probe in probes]
        above = [float(m["unrelated"]) - f for m, f in zip(found, floors, strict=True)]
        said.append(f"  empty span (two timer reads), p50 live: {span(floors)} (the floor)")
        said.append(f"  unrelated flow above the floor, per round: {span(above)}")
    return said


def probe_table(probes: list[dict[str, float]]) -> list[str]:
    """One row per probe span, one column per round."""
    rows = [f"  {'span':<10}" + "".join(f"  round {n + 1:<3}" for n in range(len(probes)))]
    for name in probes[0]:
        rows.append(f"  {name:<10}" + "".join(f"  {p.get(name, 0):7.2f}  " for p in probes))
    return rows


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of each setup")
    parser.add_argument("--flows", type=int, default=20_000, help="flows driven in-process")
    parser.add_argument("--steps", action="store_true", help="the thread's work step by step")
    parser.add_argument(
        "--probe",
        action="store_true",
        help="load the addon through benchmarks/hook_probe.py: live p50 of an empty span and "
        "of each step of the unrelated path, at the addon's place in the dispatch",
    )
    parser.add_argument(
        "--token-every",
        type=int,
        default=10,
        metavar="N",
        help="a token request every Nth request (0: none; the recording thread only tests paths)",
    )
    return parser.parse_args()


def main() -> None:
    args = arguments()
    count = args.requests
    print(f"load average before: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    results: dict[bool, list[tuple[list[float], float]]] = {False: [], True: []}
    hook_lines, probes = [], []
    for _ in range(args.rounds):
        for with_addon in (False, True):
            latencies, elapsed, log = round_trip(with_addon, args)
            results[with_addon].append((latencies, elapsed))
            hook_lines += re.findall(r"qbtrace: \d+ exchanges recorded.*", log)
            if with_addon and args.probe:
                probes.append(probe_spans(log))
    share = f"a token request every {args.token_every}" if args.token_every else "no token request"
    print(f"{count} requests per round ({share}, half failing), {args.rounds} rounds")
    for with_addon, name in ((False, "mitmdump"), (True, "mitmdump+addon")):
        for latencies, elapsed in results[with_addon]:
            print(describe(name, latencies, elapsed))
    plain = sum(count / e for _, e in results[False]) / args.rounds
    addon = sum(count / e for _, e in results[True]) / args.rounds
    print(f"  throughput with addon / without: {addon / plain:.3f}")
    print("addon's own time while proxying (mean/p50/p99 µs), from its exit line:")
    for line in hook_lines:
        print(f"  {line.partition('addon time (mean/p50/p99 µs): ')[2] or line}")
    print("against the targets:")
    print("\n".join(against_targets(hook_lines, probes)))
    if probes:
        print("probe spans at the addon's place, unrelated flows, p50 µs live (hook_probe.py):")
        print("\n".join(probe_table(probes)))
    tokens = args.flows // 10
    print(f"in-process, {args.flows} unrelated and {tokens} token flows (µs mean/p50/p99):")
    for line in in_process(args.flows):
        print(f"  {line}")
    if args.steps:
        for cold in (False, True):
            print(f"recording thread's steps, p50 µs, {'caches evicted' if cold else 'warm'}:")
            print(f"  {steps(2000, cold)[0]}")
    print(f"load average after: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")


if __name__ == "__main__":
    main()
