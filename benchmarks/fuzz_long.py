"""The fuzz properties of tests/test_fuzz.py for N minutes: prints how many examples ran.

    python benchmarks/fuzz_long.py --minutes 10

Runs batches of the in-process property (every reader outcome, the analysis and the json,
text and csv renderings), the arbitrary-bytes property, the sanitize property (no planted
secret in the copy, the same findings), the bounded-reader property on compression bombs
(up to 48 MB of padding in gzip, zlib, UTF-16 inside gzip, under a random cap), the hostile
numbers and times property and, every few batches, the CLI
property (exit status, --events parquet); each batch has a fresh random seed. Stops at the
first broken property and prints Hypothesis's minimal example.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QBTRACE_TAG_KEY", "qbtrace-tests")

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests import test_fuzz, test_fuzz_bounded, test_fuzz_sanitize
from tests.strategies import Built, hars, scenario

COUNTS: collections.Counter[str] = collections.Counter()


def batch(examples: int, batch_seed: int) -> None:
    @seed(batch_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(hars(), test_fuzz.WRAPS)
    def in_process(case: tuple[bytes, Built], how: str) -> None:
        data, built = case
        with tempfile.TemporaryDirectory() as folder:
            outcome = test_fuzz.check_in_process(test_fuzz.wrap(data, how), built, Path(folder))
        COUNTS["har"] += 1
        COUNTS[f"har-{outcome}"] += 1
        COUNTS["failed-token-requests-checked"] += len(built.failed) if outcome == "ok" else 0

    @seed(batch_seed)
    @settings(max_examples=examples // 4, deadline=None, database=None)
    @given(st.binary(max_size=4000), st.sampled_from([b"", b"{", b'{"log":{"entries":[']))
    def arbitrary(blob: bytes, prefix: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            test_fuzz.check_in_process(prefix + blob, Built(), Path(folder))
        COUNTS["bytes"] += 1

    @seed(batch_seed)
    @settings(max_examples=examples // 4, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(hars(), test_fuzz.WRAPS)
    def sanitize(case: tuple[bytes, Built], how: str) -> None:
        data, built = case
        with tempfile.TemporaryDirectory() as folder:
            outcome = test_fuzz_sanitize.check_sanitize(
                test_fuzz.wrap(data, how), built, Path(folder)
            )
        COUNTS["sanitize"] += 1
        COUNTS[f"sanitize-{outcome}"] += 1

    @seed(batch_seed)
    @settings(max_examples=max(examples // 20, 1), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(
        st.integers(0, 2**32),
        st.sampled_from(test_fuzz_bounded.PACKINGS),
        st.integers(0, 48),
        st.sampled_from([0.05, 1.0, 8.0, 32.0, 4096.0]),
    )
    def bombs(scenario_seed: int, how: str, padding: int, megabytes: float) -> None:
        """Compression bombs: megabytes of padding that pack to kilobytes, under a cap."""
        data = json.dumps(scenario(scenario_seed, noise=1).har()).encode()
        data = data[:-2] + b" " * (padding << 20) + data[-2:]
        with tempfile.TemporaryDirectory() as folder:
            outcome = test_fuzz_bounded.check_bounded(data, how, megabytes, Path(folder))
        COUNTS["bomb"] += 1
        COUNTS[f"bomb-{outcome}"] += 1

    @seed(batch_seed)
    @settings(max_examples=examples // 4, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.data(), st.integers(0, 2**32))
    def numbers(data: st.DataObject, scenario_seed: int) -> None:
        """Hostile numbers and times: nan-like text, ±1e300, year 1 and 9999, negatives."""
        raw = test_fuzz_bounded.hostile(scenario(scenario_seed, noise=1), data.draw)
        with tempfile.TemporaryDirectory() as folder:
            test_fuzz_bounded.check_hostile(raw, Path(folder))
        COUNTS["hostile-numbers"] += 1

    in_process()
    arbitrary()
    sanitize()
    bombs()
    numbers()


def cli_batch(examples: int, batch_seed: int) -> None:
    inner = test_fuzz.test_cli_exit_status_and_outputs.hypothesis.inner_test

    @seed(batch_seed)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(hars(), test_fuzz.WRAPS)
    def cli(case: tuple[bytes, Built], how: str) -> None:
        inner(case, how)
        COUNTS["cli"] += 1

    cli()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=200, help="examples per batch")
    parser.add_argument("--cli-every", type=int, default=5, help="a CLI batch every N batches")
    args = parser.parse_args()
    rng = random.Random()
    start = time.monotonic()
    deadline = start + args.minutes * 60
    batches = 0
    while time.monotonic() < deadline:
        batch(args.batch, rng.getrandbits(64))
        if batches % args.cli_every == 0:
            cli_batch(10, rng.getrandbits(64))
        batches += 1
        elapsed = time.monotonic() - start
        print(f"{elapsed:7.0f} s  {dict(sorted(COUNTS.items()))}", file=sys.stderr, flush=True)
    total = sum(COUNTS[k] for k in ("har", "bytes", "cli", "sanitize", "bomb", "hostile-numbers"))
    minutes = (time.monotonic() - start) / 60
    print(f"fuzz_long: {total} examples in {minutes:.1f} min, no failure: {dict(COUNTS)}")


if __name__ == "__main__":
    main()
