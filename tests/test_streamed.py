"""`qbtrace analyze DIR` a part at a time finds what reading the whole dataset finds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from benchmarks.classify_scale import synthesize
from qbtrace.analysis import Analysis, analyze_inputs
from qbtrace.config import load_profile
from qbtrace.dataset import PART, is_dataset, read_dataset, write_dataset
from qbtrace.engines import InProcess, engine_for
from qbtrace.model import Exchange, Input, InputKind
from qbtrace.redact import Redactor
from qbtrace.render.view import Presenter
from qbtrace.run import render
from qbtrace.streamed import analyze, load, plan
from tests.conftest import GOLDEN, run_cli, scenario_config
from tests.regold import analyze as analyze_golden
from tests.regold import golden_inputs

PROFILE = load_profile(None, local=False)
PRESENTER = Presenter(Redactor(b"streamed-tests"), False, PROFILE)


def written(exchanges: list[Exchange], target: Path) -> Analysis:
    """The exchanges as one capture's input written as a dataset; its whole analysis."""
    item = Input("synthetic", InputKind.CAPTURE, len(exchanges), tuple(exchanges))
    whole = analyze_inputs([item], PROFILE)
    write_dataset(target, [item], whole, PRESENTER)
    return whole


def document(analysis: Analysis | None) -> str:
    assert analysis is not None
    return render(analysis, PRESENTER, "json")


def on_a_slow_clock(exchanges: list[Exchange], seconds: int) -> list[Exchange]:
    """QuickBooks answers whose `intuit_tid` says the second they were handled: the
    recording machine's clock `seconds` behind the provider's."""
    return [
        replace(x, headers={"intuit_tid": f"1-{int(x.started or 0) + seconds:08x}-{n:x}"})
        for n, x in enumerate(exchanges)
    ]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Analysis]:
    """Thousands of lineages over four days, every planted cause and outage bursts, on a
    clock two minutes off."""
    exchanges, _ = synthesize(6000, seed=3, days=4)
    target = tmp_path_factory.mktemp("streamed") / "events"
    return target, written(on_a_slow_clock(exchanges, 120), target)


@pytest.mark.parametrize("part_rows", [None, 40, 1000])
def test_a_generated_dataset_gives_the_whole_analysis_in_parts(
    generated: tuple[Path, Analysis], part_rows: int | None
) -> None:
    target, whole = generated
    assert {f.cause for f in whole.findings} >= {"provider_outage", "client_secret_wrong"}
    assert any("were corrected" in w for w in whole.inputs[0].warnings)
    streamed = analyze(target, PROFILE, InProcess(), part_rows=part_rows)
    assert streamed is not None and streamed.findings == whole.findings
    assert document(streamed) == document(whole)


def test_local_processes_give_the_same_document(generated: tuple[Path, Analysis]) -> None:
    target, whole = generated
    with engine_for(2, None) as (engine, _):
        assert document(analyze(target, PROFILE, engine, part_rows=500)) == document(whole)


def test_a_part_holds_its_components_only_and_no_more_rows_than_asked(
    generated: tuple[Path, Analysis],
) -> None:
    """Healthy lineages are never decoded; a part is at most `part_rows` rows of its own
    components (one larger component alone) beside the copies every part gets."""
    target, whole = generated
    made = plan(target, PROFILE, part_rows=300)
    assert made is not None
    specs = made.specs(made.failing())
    assert len(specs) > 5
    failed = {f.ref.index for f in whole.findings}
    decoded = 0
    for spec in specs:
        part = load(spec)
        decoded += len(part.exchanges)
        assert all(x.started is not None for x in part.exchanges)
        assert [x.started for x in part.exchanges] == sorted(x.started or 0 for x in part.exchanges)
    assert decoded < made.rows.height
    mine = [x.ref.index for spec in specs for x in load(spec).exchanges if not x.ok]
    assert set(mine) == failed and len(mine) == len(failed)  # each failure in one part


@pytest.mark.parametrize("path", golden_inputs(), ids=lambda p: p.name)
def test_a_golden_dataset_read_a_part_at_a_time_finds_what_reading_it_whole_finds(
    path: Path, tmp_path: Path
) -> None:
    """Every golden, written as a dataset, in parts of two rows (test_dataset.py checks the
    documents `qbtrace analyze DIR` writes against the gold files)."""
    target = tmp_path / "events"
    analyze_golden(path, "--events", str(target))
    if not is_dataset(target):
        return  # nothing to write: no exchanges
    config = scenario_config(path)
    profile = load_profile(Path(config[1]) if config else None, local=False)
    streamed = analyze(target, profile, InProcess(), part_rows=2)
    whole = analyze_inputs(read_dataset(target), profile)
    if streamed is None:  # not taken: no token requests, several inputs, or a log
        assert not whole.token_requests or whole.inputs[0].kind == "log"
        return
    presenter = Presenter(PRESENTER.redactor, False, profile)
    assert render(streamed, presenter, "json") == render(whole, presenter, "json")


def test_the_counts_come_from_the_index(tmp_path: Path) -> None:
    """The outputs' providers and counts, without the exchanges they were counted from."""
    target = tmp_path / "events"
    run_cli("analyze", GOLDEN / "xero_superseded.har", "--events", target)
    streamed = analyze(target, PROFILE, InProcess())
    assert streamed is not None
    assert streamed.providers_of(streamed.inputs[0]) == ["xero"]
    assert [c.provider.name for c in streamed.per_provider()] == ["xero"]
    assert streamed.inputs[0].exchanges == () and streamed.token_requests > 0


def test_a_damaged_partition_is_one_line_and_exit_2(tmp_path: Path) -> None:
    target = tmp_path / "events"
    run_cli("analyze", GOLDEN / "code_reused.har", "--events", target)
    next(target.glob(f"day=*/provider=*/{PART}")).write_bytes(b"PAR1 not parquet")
    done = run_cli("analyze", target, "--format", "json", check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "partition cannot be read" in done.stderr


def test_rows_of_an_input_not_listed_are_refused(tmp_path: Path) -> None:
    target = tmp_path / "events"
    run_cli("analyze", GOLDEN / "code_reused.har", "--events", target)
    file = next(target.glob(f"day=*/provider=*/{PART}"))
    pl.read_parquet(file).with_columns(pl.lit("other.har").alias("source")).write_parquet(file)
    done = run_cli("analyze", target, "--format", "json", check=False)
    assert done.returncode == 2 and "does not list" in done.stderr


def test_the_warnings_said_are_the_whole_reads(tmp_path: Path) -> None:
    """The inputs' warnings on standard error are those of the dataset as read, as when it
    is read whole (`--format csv` is): the clock's correction is said in the document."""
    target = tmp_path / "events"
    run_cli("analyze", GOLDEN / "refresh_token_revoked_by_user.playwright.har", "--events", target)
    streamed = run_cli("analyze", target, "--format", "json", "-o", tmp_path / "out.json")
    whole = run_cli("analyze", target, "--format", "csv", "-o", tmp_path / "out.csv")
    assert streamed.stderr == whole.stderr
    assert "were corrected" in (tmp_path / "out.json").read_text()
