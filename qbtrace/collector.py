"""The cyclic garbage collector paused around work that makes many small acyclic objects.

Reading, folding and rendering big inputs allocate millions of exchanges, index entries and
findings' dicts and no cycles; the collector's repeated scans of them cost more than the
work (100k requests: 3.2 s -> 1.5 s for `analysis.analyze_timeline`; decoding a line of the
bulk path 28 -> 12 us). One context manager, so every such place pauses it the same way.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc(freeze: bool = False) -> Iterator[None]:
    """The collector off inside, on again after (if it was on). With `freeze`, what is
    alive at the end is moved out of the collector's sight (`gc.freeze`): else the first
    allocation after a long pause scans every object made in it, once more for nothing (at
    1M requests, 0.3 s a pause); frozen objects are still freed by their reference counts."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if freeze:
                gc.freeze()
            gc.enable()
