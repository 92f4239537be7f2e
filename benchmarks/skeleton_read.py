"""How fast the bulk path reads a capture's skeleton (`CaptureSkeleton.read`), against the
JSON parse floor of the same bytes, in one process and in several (`parallel`).

    python benchmarks/skeleton_read.py CAPTURE                 # jobs 1 and 2
    python benchmarks/skeleton_read.py --size 100000 --jobs 1 2 4

Baselines of the same run, over the same bytes: `read` (the file read in chunks of whole
lines, nothing decoded), `floor` (`Decoder(list[msgspec.Raw])`: JSON validated, no value
made) and `light` (the skeleton's typed decoder alone, no column built). Then the read
itself as `qbtrace analyze` runs it (with the clock's columns, `bulk_capture.with_clock`),
with `--jobs` processes. Each figure: wall seconds, µs a line, MB/s, best of `--repeat`, and
the CPU seconds of all processes (less noisy than wall on a loaded machine).
Without CAPTURE, one of `--size` requests is written (`capture_mix`) to a temp dir first.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import msgspec  # noqa: E402

from qbtrace.bulk_capture import analyze_capture, with_clock  # noqa: E402, F401
from qbtrace.config import load_profile  # noqa: E402
from qbtrace.redact import Redactor  # noqa: E402
from qbtrace.skeleton import CHUNK, CaptureSkeleton, HeaderOf, decoders  # noqa: E402

TAG_KEY = "qbtrace-benchmark"


def chunks(path: Path) -> list[bytes]:
    """The file's lines after the header, as chunks of whole lines (`CHUNK` bytes)."""
    out = []
    with path.open("rb") as handle:
        handle.readline()
        while lines := handle.readlines(CHUNK):
            out.append(b"".join(lines))
    return out


def as_array(chunk: bytes) -> bytes:
    return b"[" + chunk.rstrip(b"\n").replace(b"\n", b",") + b"]"


def cpu() -> float:
    """CPU seconds of this process and of its children that ended (the workers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def best(repeat: int, run: Callable[[], object]) -> tuple[float, float]:
    """The best wall seconds of `repeat` runs, and the CPU seconds of that run."""
    times = []
    for _ in range(repeat):
        start, used = time.perf_counter(), cpu()
        run()
        times.append((time.perf_counter() - start, cpu() - used))
    return min(times)


def reader(path: Path, jobs: int) -> CaptureSkeleton:
    profile = load_profile(None, local=False)
    hosts, default = profile.request_id_headers()
    names = tuple(sorted({h for h in (*hosts.values(), default) if h}))
    skeleton = CaptureSkeleton(
        path, path.name, Redactor(TAG_KEY.encode()), HeaderOf(hosts, default), names, jobs=jobs
    )
    skeleton.kept = lambda frame: with_clock(frame, profile)
    return skeleton


def names() -> tuple[str, ...]:
    hosts, default = load_profile(None, local=False).request_id_headers()
    return tuple(sorted({h for h in (*hosts.values(), default) if h}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("capture", type=Path, nargs="?", help="a qbtrace capture (JSON Lines)")
    parser.add_argument("--size", type=float, default=1e5, help="requests written without one")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="processes to try")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    parser.add_argument("--no-baseline", action="store_true", help="only the read itself")
    args = parser.parse_args()
    path = args.capture
    if path is None:
        import capture_mix

        from qbtrace.capture import key_id

        size = int(args.size)
        path = Path(tempfile.mkdtemp(prefix="qbtrace-read-")) / f"mix-{size}.jsonl"
        capture_mix.write(path, size, max(size // 10, 1), key_id(Redactor(TAG_KEY.encode())))
    mb = path.stat().st_size / 1e6
    lines = sum(1 for _ in path.open("rb"))
    print(f"{path.name}: {lines:,} lines, {mb:,.0f} MB; load average {os.getloadavg()[0]:.2f}")

    def show(label: str, times: tuple[float, float]) -> None:
        seconds, used = times
        print(
            f"  {label:<38} {seconds:6.2f} s wall {seconds / lines * 1e6:6.2f} µs/line "
            f"{mb / seconds:5.0f} MB/s; CPU {used:6.2f} s {used / lines * 1e6:6.2f} µs/line",
            flush=True,
        )

    if not args.no_baseline:
        show("read (chunks of lines)", best(args.repeat, lambda: chunks(path)))
        data = [as_array(c) for c in chunks(path)]
        raw = msgspec.json.Decoder(list[msgspec.Raw])
        show("floor: Decoder(list[Raw])", best(args.repeat, lambda: [raw.decode(d) for d in data]))
        light = decoders(names())[0]
        show(
            "light: typed decode, no columns",
            best(args.repeat, lambda: [light.decode(d) for d in data]),
        )
        del data
    for jobs in args.jobs:
        show(
            f"CaptureSkeleton.read, {jobs} process(es)",
            best(args.repeat, lambda: reader(path, jobs).read()),
        )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
