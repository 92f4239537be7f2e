"""The live session's lineage (`replay.Replay`) against `lineage.build` on the same exchanges.

    python benchmarks/replay.py                   # 100k token requests
    python benchmarks/replay.py --size 3e5 --late 0.05

`build` folds the timeline once in start order: the baseline. `Replay.add` gets the same
exchanges in the order a proxy sees them complete: most in order, a fraction `--late` of them
held back a few places (a response that ends after later requests started), which rewinds
and refolds the folds after their place. Prints both times and the ratio, and checks that
both end with the same indexes. The cyclic GC is paused during both (as `analyze` pauses it),
so the ratio measures the folding, not when a collection happens to fall.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from dataclasses import fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic import synthesize
from qbtrace import lineage as lineage_mod
from qbtrace.model import Exchange
from qbtrace.replay import Replay


def arrival(exchanges: list[Exchange], late: float, seed: int = 7) -> list[Exchange]:
    """Start order with a fraction of exchanges arriving 1 to 8 places late."""
    rng = random.Random(seed)
    keyed = [
        (i + (rng.randint(1, 8) if rng.random() < late else 0), i, x)
        for i, x in enumerate(exchanges)
    ]
    return [x for _, _, x in sorted(keyed, key=lambda k: k[:2])]


def indexes(state: lineage_mod.Lineage) -> dict[str, object]:
    return {f.name: getattr(state, f.name) for f in fields(state) if not f.name.startswith("_")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=1e5)
    parser.add_argument("--late", type=float, default=0.02)
    args = parser.parse_args()
    exchanges, _ = synthesize(int(args.size))
    ordered = sorted(exchanges, key=lambda x: (x.started or 0.0, x.ref))
    incoming = arrival(ordered, args.late)
    gc.collect()
    gc.disable()
    start = time.perf_counter()
    built = lineage_mod.build(ordered)
    base = time.perf_counter() - start
    start = time.perf_counter()
    live = Replay()
    for x in incoming:
        live.add(x)
    replayed = time.perf_counter() - start
    gc.enable()
    same = indexes(live.lineage) == indexes(built)
    print(f"{len(ordered):,} exchanges, {args.late:.0%} arriving late")
    print(f"  lineage.build (start order)     {base:7.2f} s")
    print(f"  Replay.add (completion order)   {replayed:7.2f} s   ratio {replayed / base:5.1f}x")
    print(f"  same indexes: {same}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
