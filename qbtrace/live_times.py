"""The live session's own times, kept only when asked for (`--set qbtrace_timing=true`, which
`benchmarks/proxy_overhead.py` sets) and told in the addon's exit line: what runs on
mitmproxy's event loop per flow (the hooks), and the recording thread's CPU per flow and per
diagnosis round (its waits for the GIL are the loop's time, not its own)."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

MAX_SAMPLES = 1_000_000
"""Samples kept per kind at most (8 MB each): a long session stops adding, it never grows."""


def _samples() -> array[int]:
    return array("q")


@dataclass
class Times:
    """Nanoseconds per call, one array per kind."""

    matching: array[int] = field(default_factory=_samples)
    """In the hook, per flow whose path passed the test (the path test and the copy)."""
    unrelated: array[int] = field(default_factory=_samples)
    """In the hook, per other flow (the path test alone)."""
    sieved: array[int] = field(default_factory=_samples)
    """Recording thread CPU per flow handed over that was no OAuth traffic (the path test)."""
    recording: array[int] = field(default_factory=_samples)
    """Recording thread CPU per copied flow: unpack, redact, encode, write."""
    diagnosis: array[int] = field(default_factory=_samples)
    """Recording thread CPU per live diagnosis round."""

    def hook(self, nanoseconds: int, matching: bool) -> None:
        add(self.matching if matching else self.unrelated, nanoseconds)

    def summary(self) -> str:
        return (
            "; addon time (mean/p50/p99 µs): in the hook per matching flow "
            f"{spread(self.matching)}, per unrelated flow {spread(self.unrelated)}; "
            f"on the recording thread (CPU) per matching flow {spread(self.recording)}, "
            f"per unrelated flow {spread(self.sieved)}, "
            f"per live diagnosis round {spread(self.diagnosis)}"
        )


def add(samples: array[int], nanoseconds: int) -> None:
    if len(samples) < MAX_SAMPLES:
        samples.append(nanoseconds)


def spread(samples: array[int]) -> str:
    """`mean/p50/p99 (n=…)` of nanosecond samples, in µs."""
    if not samples:
        return "-"
    ordered = sorted(samples)
    mean = sum(ordered) / len(ordered)
    p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)]
    return f"{mean / 1000:.2f}/{p50 / 1000:.2f}/{p99 / 1000:.2f} (n={len(ordered)})"
