"""`qbtrace sanitize` on generated HARs, next to a plain JSON load and write of the same
file, in the same run; and the replacement pass with few and many secrets.

    python benchmarks/sanitize.py                  # 20 and 40 MB HARs
    python benchmarks/sanitize.py --size 100       # 100 and 200 MB

The HARs are `benchmarks/analyze.py`'s (JSON API responses, HTML/JS, base64 images, a dozen
headers each, about 1% token traffic). Figures: seconds and MB/s of `sanitize_file` and of
`json.loads` + msgspec's indented write (the floor any sanitizer pays), their ratio, and
the growth ratio when the input doubles (about 2.0 for linear work). The replacement pass
is then timed on 8 MB of text holding 10 and 10,000 distinct secrets: one Aho-Corasick scan
costs about the same for both, where a scan per secret would cost 1000x.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QBTRACE_TAG_KEY", "qbtrace-bench")

import msgspec  # noqa: E402

from benchmarks.analyze import MB, generate  # noqa: E402
from qbtrace.redact import Redactor  # noqa: E402
from qbtrace.sanitize import sanitize_file  # noqa: E402
from qbtrace.scrub.replace import Replacer  # noqa: E402


def best(repeat: int, work: object) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def floor(src: Path, dst: Path) -> None:
    har = json.loads(src.read_bytes())
    dst.write_bytes(msgspec.json.format(msgspec.json.encode(har), indent=1))


def files(folder: Path, sizes: list[float], repeat: int) -> None:
    rows = []
    for size in sizes:
        src, out = folder / f"in-{size:g}.har", folder / "out.har"
        generate(src, size)
        mb = src.stat().st_size / MB
        base = best(repeat, lambda: floor(src, out))  # noqa: B023
        ours = best(repeat, lambda: sanitize_file(src, out, Redactor(b"bench")))  # noqa: B023
        rows.append((mb, base, ours))
        print(
            f"{mb:8.1f} MB  json load+write {base:6.2f} s ({mb / base:6.1f} MB/s)  "
            f"sanitize {ours:6.2f} s ({mb / ours:6.1f} MB/s)  ratio {ours / base:5.2f}x"
        )
    if len(rows) >= 2:
        (mb1, _, t1), (mb2, _, t2) = rows[0], rows[-1]
        print(f"growth: input x{mb2 / mb1:.2f} -> sanitize time x{t2 / t1:.2f} (linear: equal)")


def replacement(repeat: int) -> None:
    rng = random.Random(3)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    secrets = ["".join(rng.choice(alphabet) for _ in range(32)) for _ in range(10_000)]
    words = [" ".join(rng.choice(alphabet) * rng.randint(1, 9) for _ in range(12))
             for _ in range(2000)]  # fmt: skip
    text = "\n".join(words[i % 2000] + " " + secrets[i % 10] for i in range(80_000))
    results = {}
    for count in (10, 10_000):
        r = Replacer()
        for s in secrets[:count]:
            r.add(s, "#" * len(s), "x")
        r.text("warm up: compile the automaton")
        results[count] = best(repeat, lambda: r.text(text))  # noqa: B023
        print(f"replace in {len(text) / MB:.1f} MB with {count:>6} secrets: {results[count]:.3f} s")
    print(f"ratio 10,000 / 10 secrets: {results[10_000] / results[10]:.2f}x (one pass: ~1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=20.0, help="MB of the smaller HAR")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        files(Path(folder), [args.size, 2 * args.size], args.repeat)
    replacement(args.repeat)


if __name__ == "__main__":
    main()
