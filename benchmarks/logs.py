"""`qbtrace analyze` on a big application log next to a plain Python line-by-line scan.

    python benchmarks/logs.py                  # a 1 GB log (issue 11)
    python benchmarks/logs.py --size 200       # 200 MB
    python benchmarks/logs.py --size 200 --gzip
    python benchmarks/logs.py --size 200 --export 200   # and a CloudWatch export of it

The log is generated: realistic noise in mixed formats (Python `logging` lines, pino JSON,
access-log lines, Node SDK winston lines about API calls, a few tracebacks without tokens),
with 0.1% token lines (intuitlib tracebacks, the Node SDK's failures, successes with tokens
in clear and retries, pino error objects, PHP and .NET lines). Each measurement runs in a
fresh child process; time is the best of --repeat runs and peak memory its `ru_maxrss`.
The baseline is what a person writes first: `for line in open(path): if "invalid_grant" in
line`, in text mode (and in binary mode, printed too); the target is at least 3x the text
scan, at most 256 MB whatever the size, and at least 100 MB/s on the gzip file.

A plain log of 64 MB or more is read in two halves at once by two forked children on its
mapping (`qbtrace/sources/logs/halves.py`); `--one-process` also times `qbtrace analyze` with
that turned off (the log read as a stream by the process itself). Peak RSS is the largest of
the process and the children it forks (`ru_maxrss` as `wait4` reports it). The machine's load
average is printed first: on a shared machine compare only figures of the same run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bytecode

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
T0 = 1_764_000_000
SCAN = """
import sys
n = 0
with open(sys.argv[1], {mode!r}{enc}) as handle:
    for line in handle:
        if {needle!r} in line:
            n += 1
print(n)
"""
ONE_PROCESS = """
import sys
import qbtrace.sources.logs.halves as halves
halves.SPLIT_FROM = 1 << 62
from qbtrace.cli import main
main()
"""


def _noise(rng: random.Random, t: float) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))
    pick = rng.random()
    if pick < 0.35:
        path = rng.choice(["/api/v1/items", "/api/v1/users/42", "/health", "/static/app.js"])
        return (
            f"{stamp},{rng.randrange(1000):03d} INFO web.request: GET {path} "
            f"{rng.choice([200, 200, 304, 404])} {rng.randrange(1, 900)}ms "
            f"request_id={rng.getrandbits(64):016x} user={rng.randrange(10**6)}\n"
        )
    if pick < 0.65:
        return (
            json.dumps(
                {
                    "level": 30,
                    "time": int(t * 1000),
                    "pid": rng.randrange(4400, 4410),
                    "hostname": f"web-{rng.randrange(4)}",
                    "msg": "request completed",
                    "req": {
                        "method": "GET",
                        "url": f"/v3/company/{rng.randrange(10**15)}/query",
                        "id": rng.getrandbits(48),
                    },
                    "responseTime": rng.randrange(900),
                }
            )
            + "\n"
        )
    if pick < 0.85:
        return (
            f"10.0.{rng.randrange(256)}.{rng.randrange(256)} - - [{stamp} +0000] "
            f'"POST /webhooks/intuit HTTP/1.1" 200 {rng.randrange(99999)} "-" '
            '"Intuit-Webhooks/1.0"\n'
        )
    if pick < 0.995:
        return (
            f"{stamp}.{rng.randrange(1000):03d} +00:00 info: The makeAPICall () response is "
            f': {{"QueryResponse":{{"Invoice":[{{"Id":"{rng.randrange(9999)}",'
            f'"TotalAmt":{rng.randrange(99999) / 100}}}]}},"time":"{stamp}"}}\n'
        )
    return (
        f"{stamp},000 ERROR worker: job failed\nTraceback (most recent call last):\n"
        '  File "/srv/app/jobs.py", line 12, in run\n    do()\n'
        "KeyError: 'customer'\n"
    )


def _token_line(rng: random.Random, t: float) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))
    tid = f"1-{int(t):08x}-{rng.getrandbits(96):024x}"
    rt = f"RT1-{rng.randrange(999)}-H0-{int(t)}{rng.getrandbits(64):016x}"
    pick = rng.randrange(6)
    if pick == 0:
        return (
            f"{stamp},500 ERROR tokens: refresh failed\nTraceback (most recent call last):\n"
            '  File "/srv/venv/site-packages/intuitlib/client.py", line 169, in refresh\n'
            "    raise AuthClientError(response)\n"
            "intuitlib.exceptions.AuthClientError: HTTP status 400, error message: "
            f'b\'{{"error":"invalid_grant"}}\', intuit_tid {tid} at time '
            f"{time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime(t))}\n"
        )
    if pick == 1:
        return (
            f"{stamp}.100 +00:00 info: Refresh usingToken () response is : "
            f'{{"refresh_token":"{rt}","access_token":"eyJ{rng.getrandbits(256):064x}",'
            '"token_type":"bearer","expires_in":3600,"x_refresh_token_expires_in":8726400}\n'
        )
    if pick == 2:
        threw = "Refresh Token () threw an exception : Error: invalid_grant"
        return f"{stamp}.200 +00:00 error: {threw}\n"
    if pick == 3:
        return (
            json.dumps(
                {
                    "level": 50,
                    "time": int(t * 1000),
                    "pid": 4401,
                    "hostname": "worker-1",
                    "realmId": str(rng.randrange(10**15)),
                    "msg": "refresh failed",
                    "err": {
                        "message": "invalid_grant",
                        "error": "invalid_grant",
                        "intuit_tid": tid,
                        "originalMessage": "Request failed with status code 400",
                    },
                }
            )
            + "\n"
        )
    if pick == 4:
        return (
            f"[{stamp}] production.ERROR: Refresh OAuth 2 Access token with Refresh Token "
            'failed. Body: [{"error":"invalid_grant"}].\n'
        )
    return (
        f"{stamp}.001 [INF] Request url- https://oauth.platform.intuit.com/oauth2/v1/tokens/"
        f"bearer\n{stamp}.003 [INF] Request Body: grant_type=refresh_token&refresh_token={rt}\n"
        f"{stamp}.300 [INF] Response Intuit_Tid header - {tid}, Response Status Code- "
        'BadRequest, Response Body- {"error":"invalid_grant"}\n'
    )


def generate(path: Path, size: int, seed: int = 11) -> int:
    """Write about `size` bytes of log; returns how many token lines it holds."""
    rng = random.Random(seed)
    pool = [_noise(rng, T0 + n) for n in range(20_000)]
    written, tokens, t = 0, 0, float(T0)
    with path.open("w", encoding="utf-8") as out:
        while written < size:
            block = []
            for _ in range(1000):
                t += rng.random() * 0.05
                if rng.random() < 0.001:
                    block.append(_token_line(rng, t))
                    tokens += 1
                else:
                    block.append(rng.choice(pool))
            text = "".join(block)
            out.write(text)
            written += len(text)
    return tokens


def cloudwatch(log: Path, path: Path, size: int) -> int:
    """Write about `size` bytes of `aws logs filter-log-events` output (the AWS CLI's 4-space
    indent), one event per line of `log` (read again from its start as often as needed);
    returns how many events hold a token line's needle."""
    written, marked, n = 0, 0, 0
    with path.open("w", encoding="utf-8") as out:
        out.write('{\n    "events": [\n')
        while written < size:
            with log.open(encoding="utf-8") as lines:
                for line in lines:
                    message = line.rstrip("\n")
                    marked += "invalid_" in message or "bearer" in message
                    stamp = T0 * 1000 + n * 37
                    event = (
                        (",\n" if n else "") + "        {\n"
                        f'            "logStreamName": "2026/11/24/[$LATEST]{n % 7:032x}",\n'
                        f'            "timestamp": {stamp},\n'
                        f'            "message": {json.dumps(message)},\n'
                        f'            "ingestionTime": {stamp + 250},\n'
                        f'            "eventId": "{n:056d}"\n'
                        "        }"
                    )
                    out.write(event)
                    written += len(event)
                    n += 1
                    if written >= size:
                        break
        out.write('\n    ],\n    "searchedLogStreams": []\n}\n')
    return marked


def measure(argv: list[str]) -> tuple[float, float, str, float]:
    """Seconds and peak RSS (MB) of one child process, its output, and the CPU seconds it
    and the children it waited for used (steadier than wall time on a loaded machine)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "QBTRACE_TAG_KEY": "qbtrace-bench"},
    )
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{argv[:4]} failed with status {status}")
    return seconds, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime


def best(argv: list[str], repeat: int) -> tuple[float, float, str, float]:
    runs = [measure(argv) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[0][2], min(r[3] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1000, help="MB of log (default 1000)")
    parser.add_argument("--gzip", action="store_true", help="also a gzip-compressed copy")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--one-process",
        action="store_true",
        help="also qbtrace in one process (the log read as a stream, not mapped in halves)",
    )
    parser.add_argument(
        "--export",
        type=int,
        default=0,
        metavar="MB",
        help="also a CloudWatch filter-log-events export of about MB megabytes of the log",
    )
    args = parser.parse_args()
    bytecode.compiled()  # the children start as an installed qbtrace does
    print(f"load average {_load()} on {os.cpu_count()} cores", flush=True)
    work = Path(tempfile.mkdtemp(prefix="qbtrace-logs-"))
    try:
        path = work / "app.log"
        tokens = generate(path, args.size * MB)
        size = path.stat().st_size / MB
        print(f"log: {size:,.0f} MB, {tokens:,} token lines ({tokens / (size * MB) * 1e6:.1f}/MB)")
        py = sys.executable
        analyze = [py, "-m", "qbtrace", "analyze", str(path), "--format", "json", "-o", os.devnull]
        rows = [
            (
                "text scan",
                best(
                    [
                        py,
                        "-c",
                        SCAN.format(
                            mode="r",
                            enc=", encoding='utf-8', errors='replace'",
                            needle="invalid_grant",
                        ),
                        str(path),
                    ],
                    args.repeat,
                ),
            ),
            (
                "bytes scan",
                best(
                    [py, "-c", SCAN.format(mode="rb", enc="", needle=b"invalid_grant"), str(path)],
                    args.repeat,
                ),
            ),
            ("qbtrace analyze", best(analyze, args.repeat)),
        ]
        if args.one_process:
            one = [py, "-c", ONE_PROCESS, *analyze[3:]]
            rows.append(("qbtrace, one process", best(one, args.repeat)))
        if args.gzip:
            packed = work / "app.log.gz"
            with path.open("rb") as src, gzip.open(packed, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst, 16 * MB)
            gz = [py, "-m", "qbtrace", "analyze", str(packed), "--format", "json", "-o", os.devnull]
            rows.append(("qbtrace analyze .gz", best(gz, args.repeat)))
        sizes = [size] * len(rows)
        if args.export:
            doc = work / "cloudwatch.json"
            marked = cloudwatch(path, doc, args.export * MB)
            path.unlink()  # the disk holds one big file at a time
            doc_mb = doc.stat().st_size / MB
            print(f"export: {doc_mb:,.0f} MB, {marked:,} events with a token needle")
            cw = [py, "-m", "qbtrace", "analyze", str(doc), "--format", "json", "-o", os.devnull]
            rows.append(("qbtrace analyze export", best(cw, args.repeat)))
            sizes.append(doc_mb)
        _report(rows, sizes)
        print(f"load average {_load()} at the end")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def _report(rows: list[tuple[str, tuple[float, float, str, float]]], sizes: list[float]) -> None:
    """One line a run; `vs text scan` compares MB/s (the export is another file)."""
    text_rate = sizes[0] / rows[0][1][0]
    print(
        f"{'run':<24}{'seconds':>9}{'MB/s':>9}{'peak RSS MB':>13}{'vs text scan':>14}{'CPU s':>8}"
    )
    for (name, (seconds, rss, _, cpu)), size in zip(rows, sizes, strict=True):
        print(
            f"{name:<24}{seconds:>9.2f}{size / seconds:>9.0f}{rss:>13.0f}"
            f"{size / seconds / text_rate:>13.1f}x{cpu:>8.2f}"
        )


if __name__ == "__main__":
    main()
