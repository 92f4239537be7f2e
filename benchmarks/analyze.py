"""`qbtrace analyze` on a big HAR next to `json.load` of the same file, in the same run.

    python benchmarks/analyze.py                 # ~200 MB HAR (issue 2)
    python benchmarks/analyze.py --size 1000     # ~1 GB (issue 5)
    python benchmarks/analyze.py --gzip --pipe   # also a .har.gz and the HAR on a pipe

The HAR is generated: realistic noise (JSON API responses, HTML/JS, base64 images; bodies of
5-50 KB, a dozen headers each) with about 1% token traffic shaped like the golden HARs
(connect, rotations, a superseded token reused, a reused code, an outage). Each measurement
runs in a fresh child process, --repeat times for time and peak RSS (ru_maxrss; the best
time is kept) and once under tracemalloc for the peak Python heap. `in process` means
read_all + analyze_inputs + JSON rendering timed inside the child, after its imports; `whole
process` is `qbtrace analyze FILE --format json -o OUT` timed from outside, from the spawn to
the exit (start-up, read, classify, JSON out): what a user waits for. `--har FILE` measures
an existing HAR instead of generating one (it is kept).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bytecode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QBTRACE_TAG_KEY", "qbtrace-bench")

MB = 1024 * 1024


# ------------------------------------------------------------------ generation


def _headers(rng: random.Random, n: int) -> list[dict[str, str]]:
    names = ["accept", "accept-language", "cache-control", "sec-ch-ua", "sec-fetch-mode",
             "x-request-id", "cookie", "user-agent", "referer", "x-client-version",
             "traceparent", "if-none-match", "x-forwarded-for", "pragma"]  # fmt: skip
    return [
        {"name": rng.choice(names), "value": f"{rng.getrandbits(128):x};q=0.9"} for _ in range(n)
    ]


def _body(rng: random.Random, size: int) -> tuple[str, str, str | None]:
    """(mimeType, text, encoding) of about `size` bytes of HAR text."""
    kind = rng.random()
    if kind < 0.35:
        raw = rng.randbytes(size * 3 // 4)
        return "image/png", base64.b64encode(raw).decode(), "base64"
    if kind < 0.75:
        rows: list[str] = []
        total = 0
        while total < size * 0.8:
            line = {"Amount": rng.random() * 1000, "Description": 'Caf\u00e9 "crema" 1\u00bd'}
            rows.append(json.dumps({
                "Id": str(rng.randint(1, 10**6)), "SyncToken": "0", "TxnDate": "2026-11-02",
                "Line": [line | {"DetailType": "SalesItemLineDetail"}],
                "CustomerRef": {"value": str(rng.randint(1, 999)), "name": "Amy's Bird Sanctuary"},
            }))  # fmt: skip
            total += len(rows[-1])
        return "application/json", '{"QueryResponse":{"Invoice":[' + ",".join(rows) + "]}}", None
    chunk = (
        '<div class="row" data-x="{n}">\n  <script>var s = "\\u00e9t\\u00e9"; f({n});</script>\n'
    )
    text = "".join(chunk.format(n=n) for n in range(size // len(chunk) + 1))
    return "text/html; charset=utf-8", "<!doctype html>\n" + text, None


def _noise(rng: random.Random, moment: float) -> dict[str, object]:
    from tests.strategies import stamp

    mime, text, encoding = _body(rng, rng.randint(5 * 1024, 50 * 1024))
    content: dict[str, object] = {"size": len(text), "mimeType": mime, "text": text}
    if encoding:
        content["encoding"] = encoding
    path = rng.choice(["v3/company/9130/query", "static/app.js", "img/logo.png", "api/items"])
    return {
        "startedDateTime": stamp(moment),
        "time": rng.random() * 300,
        "request": {"method": "GET", "url": f"https://app.example.com/{path}?n={rng.getrandbits(32)}",
                    "httpVersion": "HTTP/2", "cookies": [], "headers": _headers(rng, 12),
                    "queryString": [{"name": "n", "value": "1"}], "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "", "httpVersion": "HTTP/2", "cookies": [],
                     "headers": _headers(rng, 10), "content": content, "redirectURL": "",
                     "headersSize": -1, "bodySize": len(text)},
        "cache": {},
        "timings": {"blocked": 0.5, "dns": -1, "connect": -1, "send": 0.1, "wait": 80.2,
                    "receive": 3.3, "ssl": -1},
    }  # fmt: skip


def _token_entries(rng: random.Random, apps: int) -> list[dict[str, object]]:
    """Token traffic of `apps` apps: connect, rotations and failures of several causes."""
    from tests.strategies import Traffic

    out: list[dict[str, object]] = []
    for n in range(apps):
        t = Traffic(random.Random(rng.getrandbits(64)), start=1_790_000_000.0 + n * 7)
        rt = t.connect()
        if n % 5 == 0:
            t.reuse_code()
        old = rt
        for _ in range(rng.randint(1, 6)):
            old, rt = rt, t.refresh(rt)
        if n % 3 == 0:
            t.refresh(old, ok=False)
        if n % 11 == 0:
            t.outage(rt)
        out.extend(e for e in t.out.entries)
    return out


def generate(path: Path, size_mb: float, seed: int = 5) -> dict[str, int]:
    """Write a HAR of about `size_mb` MB; returns counts of what it holds."""
    rng = random.Random(seed)
    target = int(size_mb * MB)
    avg_noise = 30 * 1024
    noise_count = max(target // avg_noise, 10)
    token = _token_entries(rng, max(noise_count // 100 // 12, 1))
    slots = sorted(rng.sample(range(noise_count + len(token)), len(token)))
    written = 0
    entries = 0
    moment = 1_790_000_000.0
    with path.open("w", encoding="utf-8") as out:
        out.write('{"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"},\n')
        out.write(' "pages": [], "entries": [\n')
        ti = 0
        n = 0
        while written < target or ti < len(token):
            if ti < len(token) and (n == slots[ti] or written >= target):
                item = token[ti]
                ti += 1
            else:
                moment += 0.05
                item = _noise(rng, moment)
            text = json.dumps(item, ensure_ascii=False)
            out.write((",\n" if n else "") + text)
            written += len(text) + 2
            n += 1
        out.write("\n]}}\n")
        entries = n
    return {"entries": entries, "token_entries": len(token)}


# ------------------------------------------------------------------ measurement (child)


def _run_qbtrace(path: Path) -> str:
    from qbtrace.analysis import analyze_inputs, read_all
    from qbtrace.config import load_profile
    from qbtrace.redact import Redactor, default_key
    from qbtrace.render import json as render_json
    from qbtrace.render.view import Presenter

    profile = load_profile(None)
    redactor = Redactor(default_key())
    inputs = read_all([path], profile, redactor)
    analysis = analyze_inputs(inputs, profile)
    text = render_json.render(analysis, Presenter(redactor, False))
    return (
        f"{analysis.token_requests} token requests, {len(analysis.findings)} findings, "
        f"{len(text) // 1024} KB of JSON"
    )


def _run_json(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = json.load(handle)
    return f"{len(data['log']['entries'])} entries"


def child(tool: str, path: Path, heap: bool) -> None:
    import tracemalloc

    run = _run_qbtrace if tool == "qbtrace" else _run_json
    if tool == "qbtrace":  # a fixed start-up cost, not part of reading the file
        import qbtrace.analysis
        import qbtrace.render.json
        import qbtrace.sources.har  # noqa: F401
    if heap:
        tracemalloc.start()
    start = time.perf_counter()
    result = run(path)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if heap else 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "heap": peak, "rss": rss, "result": result}))


def whole(path: Path, out: Path) -> dict[str, float]:
    """`qbtrace analyze` as a user runs it, timed from outside: spawn to exit, peak RSS."""
    argv = [sys.executable, "-m", "qbtrace", "analyze", str(path), "--format", "json", "-o"]
    start = time.perf_counter()
    proc = subprocess.Popen([*argv, str(out)], stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"qbtrace analyze {path} failed:\n{err.decode(errors='replace')}")
    summary = json.loads(out.read_text(encoding="utf-8"))["summary"]
    result = f"{summary['token_requests']} token requests, {summary['failures']} findings"
    cpu = usage.ru_utime + usage.ru_stime
    return {"seconds": seconds, "rss": usage.ru_maxrss * 1024, "cpu": cpu, "result": result}


def measure(tool: str, path: Path, heap: bool, pipe_from: Path | None = None) -> dict[str, float]:
    args = [sys.executable, __file__, "--child", tool, str(path)] + (["--heap"] if heap else [])
    if pipe_from is None:
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
    else:
        feeder = subprocess.Popen(["cat", str(pipe_from)], stdout=subprocess.PIPE)
        args[4] = "/dev/stdin"
        proc = subprocess.run(args, stdin=feeder.stdout, capture_output=True, text=True)
        feeder.wait()
    if proc.returncode != 0:
        raise SystemExit(f"{tool} on {path} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


SETTINGS = {"repeat": 3}


def row(label: str, tool: str, path: Path, size: int, pipe_from: Path | None = None) -> dict:
    runs = [measure(tool, path, heap=False, pipe_from=pipe_from) for _ in range(SETTINGS["repeat"])]
    timed = min(runs, key=lambda r: r["seconds"])  # the best run: least disturbed run
    timed["rss"] = max(r["rss"] for r in runs)
    heap = measure(tool, path, heap=True, pipe_from=pipe_from)
    mbs = size / MB / timed["seconds"]
    print(
        f"  {label:<28} {timed['seconds']:7.2f} s  {mbs:8.1f} MB/s  "
        f"heap {heap['heap'] / MB:8.1f} MB ({heap['heap'] / size:5.2f}x file)  "
        f"RSS {timed['rss'] / MB:8.1f} MB ({timed['rss'] / size:5.2f}x file)",
        flush=True,
    )
    print(f"  {'':<28} ({timed['result']})")
    return {"seconds": timed["seconds"], "mbs": mbs, "heap": heap["heap"], "rss": timed["rss"]}


def whole_row(label: str, path: Path, size: int) -> dict:
    """`row` for the whole process (no heap: tracemalloc would have to be in the command)."""
    out = Path(tempfile.mkdtemp(prefix="qbtrace-bench-out-")) / "out.json"
    try:
        runs = [whole(path, out) for _ in range(SETTINGS["repeat"])]
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    timed = min(runs, key=lambda r: r["seconds"])
    rss = max(r["rss"] for r in runs)
    mbs = size / MB / timed["seconds"]
    cpu = min(r["cpu"] for r in runs)  # steadier than wall time on a loaded machine
    print(
        f"  {label:<28} {timed['seconds']:7.2f} s  {mbs:8.1f} MB/s  {'CPU':>9} {cpu:6.2f} s"
        f"{'':<12}  RSS {rss / MB:8.1f} MB ({rss / size:5.2f}x file)",
        flush=True,
    )
    print(f"  {'':<28} ({timed['result']})")
    return {"seconds": timed["seconds"], "mbs": mbs, "rss": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=200, help="HAR size in MB (default 200)")
    parser.add_argument("--gzip", action="store_true", help="also measure a .har.gz")
    parser.add_argument("--pipe", action="store_true", help="also measure the HAR on a pipe")
    parser.add_argument("--growth", action="store_true", help="also a 10x smaller HAR")
    parser.add_argument("--keep", type=Path, help="directory to keep the generated files in")
    parser.add_argument("--har", type=Path, help="measure this HAR instead of generating one")
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--heap", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs, best kept")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.heap)
        return
    bytecode.compiled()  # the children start as an installed qbtrace does
    SETTINGS["repeat"] = max(args.repeat, 1)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    if args.har:
        measure_har(args.har, args.har.stat().st_size, args.gzip, args.pipe, args.har.parent)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="qbtrace-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        sizes = [args.size / 10, args.size] if args.growth else [args.size]
        for size_mb in sizes:
            bench(folder, size_mb, args.gzip, args.pipe, args.keep is not None)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def bench(folder: Path, size_mb: float, with_gzip: bool, with_pipe: bool, keep: bool) -> None:
    path = folder / f"bench-{size_mb:g}MB.har"
    start = time.perf_counter()
    counts = generate(path, size_mb)
    size = path.stat().st_size
    print(
        f"{path.name}: {size / MB:.0f} MB, {counts['entries']} entries, "
        f"{counts['token_entries']} token-related "
        f"({counts['token_entries'] / counts['entries']:.1%})"
        f", generated in {time.perf_counter() - start:.0f} s",
        flush=True,
    )
    measure_har(path, size, with_gzip, with_pipe, folder)
    if not keep:
        path.unlink()


def measure_har(path: Path, size: int, with_gzip: bool, with_pipe: bool, folder: Path) -> None:
    ours = whole_row("qbtrace analyze, whole process", path, size)
    inside = row("qbtrace analyze, in process", "qbtrace", path, size)
    theirs = row("json.load", "json", path, size)
    print(
        f"  => whole process {ours['mbs']:.0f} MB/s (target >= 700 at 1 GB), "
        f"{ours['mbs'] / theirs['mbs']:.1f}x json.load; in process "
        f"{inside['mbs'] / theirs['mbs']:.1f}x json.load (target >= 3x); heap "
        f"{inside['heap'] / size:.2f}x the file (target < 0.5x), json.load heap "
        f"{theirs['heap'] / size:.2f}x; start-up and exit "
        f"{ours['seconds'] - inside['seconds']:.2f} s",
        flush=True,
    )
    if with_gzip:
        zipped = folder / (path.name + ".gz")
        with path.open("rb") as src, gzip.open(zipped, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 4 * MB)
        print(f"  gzip: {zipped.stat().st_size / MB:.0f} MB compressed; MB/s of the HAR inside")
        row("qbtrace analyze .har.gz", "qbtrace", zipped, size)
        row("json.load gzip.open", "json", zipped, size)
        zipped.unlink()
    if with_pipe:
        row("qbtrace analyze (pipe)", "qbtrace", path, size, pipe_from=path)


if __name__ == "__main__":
    main()
