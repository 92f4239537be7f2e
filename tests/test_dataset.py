"""Events at rest: `--events DIR` writes a hive-partitioned Parquet dataset of every exchange,
and `qbtrace analyze DIR` reads it back to the same findings."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from qbtrace.table import EVENT_SCHEMA
from tests.conftest import GOLDEN, run_cli
from tests.regold import analyze, gold_path, golden_inputs


@pytest.mark.parametrize("path", golden_inputs(), ids=lambda p: p.name)
def test_a_golden_written_as_a_dataset_analyzes_to_its_gold_document(
    path: Path, tmp_path: Path
) -> None:
    target = tmp_path / "events"
    assert analyze(path, "--events", str(target)) == gold_path(path).read_text(encoding="utf-8")
    assert analyze(path, instead=target) == gold_path(path).read_text(encoding="utf-8")


def scan(target: Path) -> pl.DataFrame:
    return pl.scan_parquet(target / "**" / "*.parquet", hive_partitioning=True).collect()


def test_every_exchange_is_a_row_in_its_day_and_provider_folder(tmp_path: Path) -> None:
    captures = [GOLDEN / "refresh_token_revoked.har", GOLDEN / "xero_superseded.har",
                GOLDEN / "redirect_uri_mismatch.playwright.har"]  # fmt: skip
    target = tmp_path / "events"
    run_cli("analyze", *captures, "--events", target)
    folders = sorted(str(p.relative_to(target).parent) for p in target.rglob("*.parquet"))
    assert {f.split("/")[1] for f in folders} == {"provider=quickbooks", "provider=xero"}
    assert all(f.startswith("day=20") for f in folders)
    rows = scan(target)
    assert set(EVENT_SCHEMA) <= set(rows.columns)  # the notebook columns are all there
    assert {"token", "revoke", "authorize", "callback"} <= set(rows["kind"])
    entries = {json.loads(run_cli("analyze", c, "--format", "json").stdout)["inputs"][0]["source"]
               for c in captures}  # fmt: skip
    assert set(rows["source"]) == entries
    tokens = rows.filter(pl.col("kind") == "token")
    assert tokens["grant_type"].null_count() == 0 and rows["day"].null_count() == 0


def test_many_inputs_of_several_days_read_back_as_they_were(tmp_path: Path) -> None:
    captures = [GOLDEN / "refresh_token_revoked.har", GOLDEN / "xero_superseded.mitm",
                GOLDEN / "code_reused.har", GOLDEN / "provider_outage.mitm"]  # fmt: skip
    target = tmp_path / "events"
    direct = run_cli("analyze", *captures, "--format", "json", "--events", target).stdout
    days = {p.parent.parent.name for p in target.rglob("*.parquet")}
    assert len(days) > 1
    assert run_cli("analyze", target, "--format", "json").stdout == direct


def test_a_dataset_beside_a_capture_is_one_timeline(tmp_path: Path) -> None:
    one, two = GOLDEN / "refresh_token_revoked.har", GOLDEN / "code_reused.har"
    target = tmp_path / "events"
    run_cli("analyze", one, "--events", target)
    together = run_cli("analyze", one, two, "--format", "json").stdout
    assert run_cli("analyze", target, two, "--format", "json").stdout == together


def test_a_folder_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "events"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    done = run_cli("analyze", GOLDEN / "code_reused.har", "--events", target, check=False)
    assert done.returncode == 2 and "not an empty folder" in done.stderr
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_a_damaged_dataset_is_one_line_and_exit_2(tmp_path: Path) -> None:
    target = tmp_path / "events"
    run_cli("analyze", GOLDEN / "code_reused.har", "--events", target)
    listed = (target / "inputs.json").read_text()
    for damage, said in (("{", "cannot be read"), (listed.replace(": 1,", ": 99,", 1), "99")):
        (target / "inputs.json").write_text(damage)
        done = run_cli("analyze", target, check=False)
        assert done.returncode == 2 and done.stderr.count("\n") == 1
        assert "inputs.json" in done.stderr and said in done.stderr
