"""A split analysis finds exactly what the single-process one finds, in the same order."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.classify_scale import synthesize
from qbtrace.analysis import analyze_timeline
from qbtrace.config import load_profile
from qbtrace.engines import InProcess
from qbtrace.passes import findings
from tests.regold import analyze, gold_path, golden_inputs


@pytest.mark.parametrize("path", golden_inputs(), ids=lambda p: p.name)
def test_jobs_give_the_gold_findings_on_every_golden(path: Path) -> None:
    """`--jobs 2` (local processes) writes the same document as the single process."""
    assert analyze(path, "--jobs", "2") == gold_path(path).read_text(encoding="utf-8")


@pytest.mark.parametrize("parts", [2, 7, 64])
def test_a_generated_set_split_in_parts_finds_the_same(parts: int) -> None:
    """Thousands of lineages of 50 clients with every planted cause, outage bursts across
    parts among them: the clusters are formed across parts, with the whole background."""
    exchanges, _ = synthesize(6000, seed=3)
    profile = load_profile(None, local=False)
    _, single = analyze_timeline(exchanges, profile)
    split = findings(exchanges, profile, parts, InProcess())
    assert {f.cause for f in single} >= {"provider_outage", "client_secret_wrong", "code_reused"}
    assert split == single
