"""A log file scanned on its mapping (`mapped`) finds the spans the stream scan finds
(`driver.spans_of` over pieces), at any window size, with needles across window edges,
and counts the same lines; a part of the file gives positions relative to its start."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbtrace.sources.logs import driver, mapped
from qbtrace.sources.logs.driver import Tally
from tests import logsamples
from tests.conftest import GOLDEN

GOLDEN_LOGS = sorted(p for p in (GOLDEN / "logs").iterdir() if p.suffix in (".log", ".jsonl"))
SAMPLES = "".join(
    s + logsamples.NOISE
    for s in (
        logsamples.INTUITLIB_TRACEBACK,
        logsamples.NODE_WINSTON,
        logsamples.PINO,
        logsamples.DOTNET,
        logsamples.PHP,
        logsamples.UNKNOWN,
    )
)


def by_stream(data: bytes) -> tuple[list[tuple[int, bytes, int, int]], int]:
    tally = Tally()
    spans = [(s.index, s.data, s.at, s.stop) for s in driver.spans_of([data], tally)]
    return spans, tally.lines


def by_mapping(
    path: Path, lo: int = 0, hi: int | None = None
) -> tuple[list[tuple[int, bytes, int, int]], int]:
    tally = Tally()
    with mapped.mapping(path) as data:
        assert data is not None
        found = mapped.mapped_spans(data, lo, hi, tally)
        spans = [(s.index, s.data, s.at, s.stop) for s in found]
    return spans, tally.lines


@pytest.mark.parametrize("path", GOLDEN_LOGS, ids=lambda p: p.name)
def test_a_golden_log_gives_the_spans_of_the_stream_scan(path: Path) -> None:
    assert by_mapping(path) == by_stream(path.read_bytes())


@pytest.mark.parametrize("window", [64, 100, 4096])
def test_any_window_size_gives_the_same_spans(
    window: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "every.log"
    path.write_text(SAMPLES * 3 + "no newline at the end")
    expected = by_stream(path.read_bytes())
    assert len(expected[0]) >= 12
    monkeypatch.setattr(mapped, "WINDOW", window)  # needles and records cross every edge
    assert by_mapping(path) == expected


def test_a_part_counts_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "every.log"
    path.write_text(SAMPLES * 2)
    data = path.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    lines = data[:cut].count(b"\n")
    spans, total = by_mapping(path)
    later = [(i - lines, text, at - cut, stop - cut) for i, text, at, stop in spans if at >= cut]
    assert later and by_mapping(path, cut) == (later, total - lines)


def test_an_empty_file_is_not_mapped(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    with mapped.mapping(path) as data:
        assert data is None
