"""Events at rest and the streamed dataset analysis: memory and time of `analyze DIR`.

    python benchmarks/dataset_scale.py                          # 1, 8 and 32 days
    python benchmarks/dataset_scale.py --days 1 4 --per-day 3000 --jobs 2 4

For each number of days, `classify_scale.py`'s synthetic requests (many apps, every planted
cause, 503 bursts; `--per-day` token requests a day, lineages starting over the days) are
written as a qbtrace capture; `qbtrace analyze CAPTURE --events DIR` turns it into a
dataset of one partition a day. Each child process is timed and its `ru_maxrss` and CPU
seconds taken (os.wait4):
  - baseline: `qbtrace analyze CAPTURE` (the capture's bulk path, read whole);
  - `qbtrace analyze DIR` (`streamed`: an index pass, then one part at a time);
  - `qbtrace analyze DIR --jobs N` for each N (the parts on N local processes; maxrss is
    the largest of the driver and its workers).
The largest partition's rows and file size are printed, and whether every run's findings
equal the baseline's. The load average is printed first: the machine may be shared.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bytecode
from benchmarks.classify_scale import synthesize
from qbtrace.capture import CaptureWriter, encode_line, exchange_record, make_header
from qbtrace.redact import Redactor

KEY = "dataset-scale"


def write_capture(total: int, days: float, path: Path) -> int:
    exchanges, _ = synthesize(total, days=days)
    writer = CaptureWriter.open(path)
    writer.write(encode_line(make_header(Redactor(KEY.encode()), False)))
    for x in exchanges:
        writer.write(encode_line(exchange_record(x)))
    writer.close()
    return len(exchanges)


def child(*args: str | Path) -> tuple[float, float, float, str]:
    """(seconds, CPU seconds, ru_maxrss MB, digest of the findings) of one `qbtrace analyze`."""
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
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, digest


def largest_partition(target: Path) -> tuple[int, float]:
    import polars as pl

    parts = list(target.rglob("*.parquet"))
    biggest = max(parts, key=lambda p: p.stat().st_size)
    return pl.scan_parquet(biggest).select(pl.len()).collect().item(), biggest.stat().st_size / 1e6


def run(days: float, per_day: int, jobs: list[int], folder: Path) -> None:
    total = int(days * per_day)
    capture = folder / f"synthetic-{days:g}.jsonl"
    # written by a child: a process forked from one holding the synthesized exchanges
    # starts with its resident size as its ru_maxrss (exec keeps the high-water mark)
    made = [sys.executable, __file__, "--write", str(total), f"{days:g}", str(capture)]
    n = int(subprocess.run(made, check=True, capture_output=True, text=True).stdout)
    target = folder / f"events-{days:g}"
    child(capture, "--events", target)
    rows, megabytes = largest_partition(target)
    parts = len(list(target.rglob("*.parquet")))
    print(f"{days:g} days: {n:,} exchanges, {parts} partitions; largest {rows:,} rows, "
          f"{megabytes:.1f} MB")  # fmt: skip
    runs = [("baseline   analyze CAPTURE", capture, ())]
    runs += [("analyze DIR", target, ())]
    runs += [(f"analyze DIR --jobs {j}", target, ("--jobs", str(j))) for j in jobs]
    base: tuple[float, float, float, str] | None = None
    for name, path, extra in runs:
        seconds, cpu, rss, digest = child(path, *extra)
        base = base or (seconds, cpu, rss, digest)
        same = "same findings" if digest == base[3] else "FINDINGS DIFFER"
        print(
            f"  {name:<27} {seconds:6.1f} s ({cpu:5.1f} s CPU)  maxrss {rss:6.0f} MB  "
            f"({seconds / base[0]:.2f}x time, {rss / base[2]:.2f}x memory; {same})"
        )
    for path in folder.iterdir():  # the next size needs the room
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=float, nargs="+", default=[1, 8, 32])
    parser.add_argument("--per-day", type=int, default=10_000, help="token requests a day")
    parser.add_argument("--jobs", type=int, nargs="*", default=[2], help="--jobs values to run")
    parser.add_argument("--dir", type=Path, help="where to write (default: a temporary folder)")
    parser.add_argument("--write", nargs=3, help=argparse.SUPPRESS)  # TOTAL DAYS CAPTURE
    args = parser.parse_args()
    bytecode.compiled()  # the children start as an installed qbtrace does
    if args.write:
        total, days, capture = args.write
        print(write_capture(int(total), float(days), Path(capture)))
        return
    print("load average: " + " ".join(f"{v:.1f}" for v in os.getloadavg()))
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for days in args.days:
            run(days, args.per_day, args.jobs, Path(folder))


if __name__ == "__main__":
    main()
