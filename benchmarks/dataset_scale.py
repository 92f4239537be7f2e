"""Events at rest and the split analysis: memory of reading a dataset, time of --jobs.

    python benchmarks/dataset_scale.py                      # 100k token requests
    python benchmarks/dataset_scale.py --sizes 1e5 4e5 --jobs 2 4

For each size, `classify_scale.py`'s synthetic requests (many apps over 30 days, every
planted cause, 503 bursts) are written as a qbtrace capture; `qbtrace analyze CAPTURE
--events DIR` turns it into a dataset of 30 day partitions. Each child process is timed and
its `ru_maxrss` taken (os.wait4):
  - baseline: `qbtrace analyze CAPTURE` (the capture file read whole);
  - `qbtrace analyze DIR` (the dataset read one partition at a time);
  - `qbtrace analyze DIR --jobs N` for each N (split over N local processes; the
    driver's maxrss: the workers are its children, whose peak os.wait4 does not report).
The largest partition's rows and file size are printed, and whether every run's findings
equal the baseline's. Print `uptime` with the figures: the machine may be shared.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.classify_scale import synthesize
from qbtrace.capture import CaptureWriter, encode_line, exchange_record, make_header
from qbtrace.redact import Redactor

KEY = "dataset-scale"


def write_capture(total: int, path: Path) -> int:
    exchanges, _ = synthesize(total)
    writer = CaptureWriter.open(path)
    writer.write(encode_line(make_header(Redactor(KEY.encode()), False)))
    for x in exchanges:
        writer.write(encode_line(exchange_record(x)))
    writer.close()
    return len(exchanges)


def child(*args: str | Path) -> tuple[float, float, str]:
    """(seconds, ru_maxrss MB, digest of the findings document) of one `qbtrace analyze`."""
    env = {**os.environ, "QBTRACE_TAG_KEY": KEY}
    argv = [sys.executable, "-m", "qbtrace", "analyze", *map(str, args), "--no-config"]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([*argv, "--format", "json"], stdout=out, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0)
        digest = hashlib.sha256(out.read()).hexdigest()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"exit {proc.returncode}: {argv}")
    return seconds, usage.ru_maxrss / 1024, digest


def largest_partition(target: Path) -> tuple[int, float]:
    import polars as pl

    parts = list(target.rglob("*.parquet"))
    biggest = max(parts, key=lambda p: p.stat().st_size)
    return pl.scan_parquet(biggest).select(pl.len()).collect().item(), biggest.stat().st_size / 1e6


def run(total: int, jobs: list[int], folder: Path) -> None:
    capture = folder / f"synthetic-{total}.jsonl"
    n = write_capture(total, capture)
    target = folder / f"events-{total}"
    child(capture, "--events", target)
    rows, megabytes = largest_partition(target)
    days = len({p.parent.parent.name for p in target.rglob("*.parquet")})
    print(f"{n:,} exchanges, {days} day partitions; largest: {rows:,} rows, {megabytes:.1f} MB")
    base = child(capture)
    print(f"  baseline   analyze CAPTURE   {base[0]:6.1f} s  maxrss {base[1]:6.0f} MB")
    runs = [("analyze DIR", child(target))]
    runs += [(f"--jobs {j}", child(target, "--jobs", str(j))) for j in jobs]
    for name, (seconds, rss, digest) in runs:
        same = "same findings" if digest == base[2] else "FINDINGS DIFFER"
        print(
            f"  {name:<27} {seconds:6.1f} s  maxrss {rss:6.0f} MB  "
            f"({seconds / base[0]:.2f}x time, {rss / base[1]:.2f}x memory; {same})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e5], help="token requests")
    parser.add_argument("--jobs", type=int, nargs="*", default=[2], help="--jobs values to run")
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            run(int(size), args.jobs, Path(folder))


if __name__ == "__main__":
    main()
