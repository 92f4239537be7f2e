"""How fast the bulk path reads a capture's skeleton (`CaptureSkeleton.read`), against the
JSON parse floor of the same bytes, in one process and in several (`parallel`).

    python benchmarks/skeleton_read.py CAPTURE                       # jobs 1 and 2
    python benchmarks/skeleton_read.py --size 100000 --jobs 1 2 --repeat 3
    python benchmarks/skeleton_read.py CAPTURE --against ../main     # and main's read

Baselines of the same run, over the same bytes, in this process: `read` (the file read in
chunks of 32 MB into one reused buffer, as `decode_range` reads it; nothing decoded) and
`floor` (`Decoder(list[msgspec.Raw])` of each chunk as one JSON array: JSON validated, no
value made). A fresh 32 MB `bytes` a chunk, as `chunks` makes for the floor, costs ~10x the
reused buffer's CPU (its pages faulted in and zeroed again every time, then copied twice
more): 2.2-5 s against 0.2-0.4 s for 1 GB from the page cache.

Then the read as `qbtrace analyze` runs it (with the clock's columns,
`bulk_capture.with_clock`) with each of `--jobs` processes, each run in a child of its
own; with `--against DIR`, the same read of the qbtrace of
another checkout (its root) too, interleaved with this one's. Each figure: wall seconds,
µs a line, MB/s, and the CPU seconds of all the processes (less noisy than wall on a
loaded machine); best wall of `--repeat` runs. Without CAPTURE, one of `--size` requests
is written (`capture_mix`) to a temp dir first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import msgspec  # noqa: E402

TAG_KEY = "qbtrace-benchmark"
CHUNK = 32 << 20
READ = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from qbtrace.bulk_capture import with_clock
from qbtrace.config import load_profile
from qbtrace.redact import Redactor
from qbtrace.skeleton import CaptureSkeleton, HeaderOf
def cpu():
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
if __name__ == "__main__":
    path, jobs = Path(sys.argv[2]), int(sys.argv[3])
    profile = load_profile(None, local=False)
    hosts, default = profile.request_id_headers()
    names = tuple(sorted({h for h in (*hosts.values(), default) if h}))
    reader = CaptureSkeleton(path, path.name, Redactor(sys.argv[4].encode()),
                             HeaderOf(hosts, default), names, jobs=jobs)
    reader.kept = lambda frame: with_clock(frame, profile)
    start, used = time.perf_counter(), cpu()
    rows = reader.read()
    print(json.dumps([time.perf_counter() - start, cpu() - used, rows.height]))
"""
"""A child's read: its wall and CPU seconds (workers included) and the rows read."""


def chunks(path: Path) -> list[bytes]:
    """The file after its header line, in chunks of whole lines (`CHUNK` bytes)."""
    out = []
    with path.open("rb") as handle:
        handle.readline()
        rest = b""
        while block := handle.read(CHUNK):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            out.append(block[:cut])
            rest = block[cut:]
    return out


def read_reused(path: Path) -> None:
    """The file read as `CaptureSkeleton.decode_range` reads it: into one reused buffer."""
    buf = bytearray(CHUNK)
    with path.open("rb") as handle, memoryview(buf) as view:
        while handle.readinto(view):
            pass


def as_array(chunk: bytes) -> bytes:
    return b"[" + chunk.rstrip(b"\n").replace(b"\n", b",") + b"]"


def cpu() -> float:
    return time.process_time()


def here(run: Callable[[], object]) -> tuple[float, float]:
    start, used = time.perf_counter(), cpu()
    run()
    return time.perf_counter() - start, cpu() - used


def child(root: Path, path: Path, jobs: int) -> tuple[float, float]:
    argv = [sys.executable, "-c", READ, str(root), str(path), str(jobs), TAG_KEY]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=root).stdout
    wall, used, _ = json.loads(out.splitlines()[-1])
    return wall, used


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("capture", type=Path, nargs="?", help="a qbtrace capture (JSON Lines)")
    parser.add_argument("--size", type=float, default=1e5, help="requests written without one")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="processes to try")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    parser.add_argument("--against", type=Path, help="another checkout's root, read too")
    parser.add_argument("--no-baseline", action="store_true", help="skip read and floor")
    args = parser.parse_args()
    path = args.capture or written(int(args.size))
    mb = path.stat().st_size / 1e6
    lines = sum(1 for _ in path.open("rb"))
    print(f"{path.name}: {lines:,} lines, {mb:,.0f} MB; load average {os.getloadavg()[0]:.2f}")

    def show(label: str, runs: list[tuple[float, float]]) -> None:
        seconds, used = min(runs)
        print(
            f"  {label:<40} {seconds:6.2f} s wall {seconds / lines * 1e6:6.2f} µs/line "
            f"{mb / seconds:5.0f} MB/s; CPU {used:6.2f} s {used / lines * 1e6:6.2f} µs/line",
            flush=True,
        )

    if not args.no_baseline:
        show("read (32 MB into a reused buffer)", [here(lambda: read_reused(path))])
        data = [as_array(c) for c in chunks(path)]
        raw = msgspec.json.Decoder(list[msgspec.Raw])
        show("floor: Decoder(list[Raw])", [here(lambda: [raw.decode(d) for d in data])])
        del data
    roots = {
        "this checkout": ROOT,
        **({"--against": args.against.resolve()} if args.against else {}),
    }
    for jobs in args.jobs:
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in roots}
        for _ in range(args.repeat):
            for name, root in roots.items():
                runs[name].append(child(root, path, jobs))
        for name, times in runs.items():
            show(f"read, {jobs} process(es), {name}", times)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


def written(size: int) -> Path:
    import capture_mix

    from qbtrace.capture import key_id
    from qbtrace.redact import Redactor

    path = Path(tempfile.mkdtemp(prefix="qbtrace-read-")) / f"mix-{size}.jsonl"
    capture_mix.write(path, size, max(size // 10, 1), key_id(Redactor(TAG_KEY.encode())))
    return path


if __name__ == "__main__":
    main()
