"""Every golden input's complete JSON findings equal its gold file (`python tests/regold.py`).

A refactor that changes a cause, a confidence, an evidence line or a warning fails here as a
readable diff; a change of verdict made on purpose regenerates the gold files in its commit.
"""

from __future__ import annotations

import json

import pytest

from tests.regold import analyze, gold_path, golden_inputs

INPUTS = golden_inputs()


def test_every_golden_input_has_a_gold_file() -> None:
    assert INPUTS
    missing = [p.name for p in INPUTS if not gold_path(p).exists()]
    assert not missing, f"run `python tests/regold.py`: no gold file for {missing}"


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_output_equals_its_gold_file(path: object) -> None:
    from pathlib import Path

    assert isinstance(path, Path)
    target = gold_path(path)
    if not target.exists():
        pytest.fail(f"no gold file {target.name}: run `python tests/regold.py`")
    actual = analyze(path)
    gold = target.read_text(encoding="utf-8")
    assert json.loads(actual) == json.loads(gold)
    assert actual == gold, "same data, different bytes: run `python tests/regold.py`"
