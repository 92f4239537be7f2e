"""`qbtrace analyze` end to end on a platform's token traffic: 100k, 1M and 10M requests.

    python benchmarks/classify_scale.py                      # 1e5 1e6 1e7 (10M: ~9.5 GB)
    python benchmarks/classify_scale.py --sizes 1e5 1e6 --keep --dir /big/disk

For each size a capture of the realistic mix of issue 14 (`capture_mix`: lineages across ~50
clients refreshing hourly, ~1% failures of seven causes, outage bursts) is written, then the
whole process `qbtrace analyze CAPTURE --format json -o out.json` runs in a child (the
capture read through once before, so that it comes from the page cache as a freshly written
or recently read file does: a capture kept from an earlier day may be on disk only, and the
10M figure then measured the disk, 50 s more on this VM): wall
seconds, the child's `ru_maxrss`, requests/s and MB/s. At the smallest size the reference
pipeline (reader → `Exchange`s → `lineage.build` + `classify`, what `qbtrace analyze` ran
before the bulk path) runs too, in its own child, as the baseline of the same run, and both
outputs must hold the same findings. Then the growth factor per 10x.
Targets (issue 14): 1M in <= 10 s on 2 cores, 10M in <= 120 s and <= 4 GB, growth <= 11x.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bytecode  # noqa: E402
import capture_mix  # noqa: E402

from benchmarks.synthetic import Maker, synthesize  # noqa: E402

__all__ = ["Maker", "synthesize"]
"""The in-memory generator of the earlier benchmark, still imported from here by others."""

TAG_KEY = "qbtrace-benchmark"
REFERENCE = """
import sys
from pathlib import Path
from qbtrace.analysis import analyze_reference, read_all
from qbtrace.config import load_profile
from qbtrace.redact import Redactor
from qbtrace.render import json
from qbtrace.render.view import Presenter
profile = load_profile(None, local=False)
redactor = Redactor(sys.argv[2].encode())
analysis = analyze_reference(read_all([Path(sys.argv[1])], profile, redactor), profile)
Path(sys.argv[3]).write_text(json.render(analysis, Presenter(redactor, False, profile)))
"""
"""The baseline child: what `qbtrace analyze --format json` ran before the bulk path."""
BREAKDOWN = """
import os, resource, sys, time
start = last = time.perf_counter()
cpu = time.process_time()
PAGE = os.sysconf("SC_PAGE_SIZE") / 1e6
def mark(stage):
    global last, cpu
    now, used = time.perf_counter(), time.process_time()
    with open("/proc/self/statm") as statm:
        rss = int(statm.read().split()[1]) * PAGE
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"    {now - last:7.2f} s  CPU {used - cpu:6.2f} s  RSS {rss:6,.0f} MB  "
        f"max {peak:6,.0f} MB  {stage}",
        flush=True,
    )
    last, cpu = now, used
from pathlib import Path
from qbtrace.bulk_capture import analyze_capture
from qbtrace.config import load_profile
from qbtrace.redact import Redactor
from qbtrace.render import json
from qbtrace.render.view import Presenter
mark("imports")
profile = load_profile(None, local=False)
redactor = Redactor(sys.argv[2].encode())
analysis = analyze_capture(Path(sys.argv[1]), Path(sys.argv[1]).name, profile, redactor, mark)
mark(f"analysis made ({len(analysis.findings):,} findings)")
with Path(sys.argv[3]).open("w") as out:
    out.writelines(json.chunks(analysis, Presenter(redactor, False, profile)))
mark("JSON rendered and written")
total = time.perf_counter() - start
print(f"    {total:7.2f} s  CPU {time.process_time():6.2f} s  in all", flush=True)
"""
"""`--breakdown`: the bulk path's stages, each timed (wall, and CPU of this process: its
threads, not the read's worker processes), with the RSS after it (`statm`) and the peak so
far (`ru_maxrss`), in another child on the same capture."""


def timed(argv: list[str]) -> tuple[float, float]:
    """Run a child; its wall seconds and peak RSS in MB. Exits when the child fails."""
    env = {**os.environ, "QBTRACE_TAG_KEY": TAG_KEY}
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        err = child.stderr.read().decode() if child.stderr else ""
        sys.exit(f"child failed ({status}): {' '.join(argv)}\n{err}")
    return seconds, usage.ru_maxrss / 1024


def capture(size: int, lineages: int, folder: Path, keep: bool) -> Path:
    from qbtrace.capture import key_id
    from qbtrace.redact import Redactor

    path = folder / f"mix-{size}-{lineages}.jsonl"
    if keep and path.exists():
        print(f"  reusing {path.name} ({path.stat().st_size / 1e6:,.0f} MB)", flush=True)
        return path
    start = time.perf_counter()
    mix = capture_mix.write(path, size, lineages, key_id(Redactor(TAG_KEY.encode())))
    print(
        f"  wrote {path.name}: {mix.requests:,} requests, {path.stat().st_size / 1e6:,.0f} MB "
        f"in {time.perf_counter() - start:.1f} s; planted {dict(mix.planted)}",
        flush=True,
    )
    return path


def warm(path: Path) -> None:
    """Read the capture once, so that the run reads it from the page cache."""
    start = time.perf_counter()
    block = bytearray(16 << 20)
    with path.open("rb", buffering=0) as handle:
        while handle.readinto(block):
            pass
    print(f"  read once into the page cache in {time.perf_counter() - start:.1f} s", flush=True)


def causes(out: Path) -> dict[str, int]:
    summary: dict[str, int] = json.loads(out.read_text())["summary"]["by_cause"]
    return summary


def findings(out: Path) -> list[object]:
    found: list[object] = json.loads(out.read_text())["findings"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e5, 1e6, 1e7])
    parser.add_argument(
        "--lineages",
        type=int,
        default=100_000,
        help="connected companies (default 100k; at most a tenth of the size, so a small "
        "size still has ten refreshes per lineage)",
    )
    parser.add_argument("--dir", type=Path, help="where captures go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep captures and reuse them")
    parser.add_argument("--no-baseline", action="store_true", help="skip the reference run")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also run the bulk path stage by stage in another child: each stage's seconds, "
        "the RSS after it and the max RSS so far (the sizes: rows, exchanges, findings)",
    )
    args = parser.parse_args()
    bytecode.compiled()  # the children start as an installed qbtrace does
    folder = args.dir or Path(tempfile.mkdtemp(prefix="qbtrace-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores: figures are noisy above ~1)")
    per: list[tuple[int, float]] = []
    for n, size in enumerate(int(s) for s in args.sizes):
        lineages = min(args.lineages, max(size // 10, 1))
        print(f"{size:,} token requests over {lineages:,} lineages", flush=True)
        path = capture(size, lineages, folder, args.keep)
        mb = path.stat().st_size / 1e6
        warm(path)
        out = folder / f"out-{size}.json"
        seconds, rss = timed([sys.executable, "-m", "qbtrace", "analyze", str(path),
                              "--format", "json", "-o", str(out), "--no-config"])  # fmt: skip
        print(
            f"  qbtrace analyze: {seconds:7.2f} s, max RSS {rss:,.0f} MB, "
            f"{size / seconds:,.0f} requests/s, {mb / seconds:,.0f} MB/s; found {causes(out)}",
            flush=True,
        )
        if n == 0 and not args.no_baseline:
            ref = folder / f"ref-{size}.json"
            base, base_rss = timed([sys.executable, "-c", REFERENCE, str(path), TAG_KEY, str(ref)])
            same = findings(ref) == findings(out)
            print(
                f"  baseline (reference pipeline, same run): {base:7.2f} s, max RSS "
                f"{base_rss:,.0f} MB: {base / seconds:.1f}x the time; findings "
                + ("identical" if same else "DIFFER"),
                flush=True,
            )
        if args.breakdown:
            print("  stages of the bulk path (another run):", flush=True)
            timed([sys.executable, "-c", BREAKDOWN, str(path), TAG_KEY, str(out)])
        per.append((size, seconds))
        if not args.keep:
            path.unlink()
    for (a, ta), (b, tb) in itertools.pairwise(per):
        print(f"growth {a:,} -> {b:,} ({b / a:.0f}x the requests): {tb / ta:.1f}x the time")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
