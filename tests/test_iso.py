"""`render.view.iso` writes what `datetime` writes, byte for byte, for every time a finding
can hold: its own arithmetic (and cached minutes) must round as `datetime` rounds."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from qbtrace.render.view import iso

EDGES = [
    0.0,
    1e-7,
    4e-7,
    5e-7,
    1.5e-6,
    2.5e-6,
    0.0005,
    0.9995,
    1.0000005,
    1.9999995,
    1.9999996,
    59.9999995,
    59.9999999,
    3599.9999996,
    86399.9999999,
    951782400.0,  # 2000-02-29
    1764547199.0005,
    1764547199.9995,
    1764547199.9999996,
    4107542399.9999995,
    253402300798.9999995,
    253402300799.5,  # the last second: `datetime` itself
    -0.5,
    -86400.25,
]


def written(moment: float) -> str:
    return (
        datetime.fromtimestamp(moment, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@pytest.mark.parametrize("moment", EDGES)
def test_edges_round_as_datetime_does(moment: float) -> None:
    assert iso(moment) == written(moment)


def test_many_times_are_written_as_datetime_writes_them() -> None:
    rng = random.Random(14)
    halves = [0.9999995, 0.0000005, 0.0005, 0.9995, 0.4999995, 0.0000025]
    moments = [rng.randrange(0, 2**34) + rng.choice(halves) for _ in range(50_000)]
    moments += [rng.random() * 253402300798 for _ in range(50_000)]
    moments += [1764547200 + rng.random() * 3600 for _ in range(50_000)]  # cached minutes
    assert [iso(m) for m in moments] == [written(m) for m in moments]


def test_no_time_is_none() -> None:
    assert iso(None) is None and iso(float("-inf")) is None
