"""`Replay` fed in completion (or any) order gives exactly the indexes and findings of
`lineage.build` over the sorted timeline, and the live analysis tells what `analyze` does."""

from __future__ import annotations

import random
from dataclasses import fields
from pathlib import Path

import pytest

from qbtrace import replay as replay_mod
from qbtrace.analysis import SETTLE, LiveAnalysis
from qbtrace.classify import classify
from qbtrace.events import timeline
from qbtrace.indexes import Edit
from qbtrace.lineage import Lineage, build
from qbtrace.model import Exchange, Finding, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.replay import Replay
from qbtrace.sources import read_input
from tests.conftest import GOLDEN

HARS = sorted(GOLDEN.glob("*.har"))


def exchanges_of(path: Path) -> list[Exchange]:
    """The golden HAR's exchanges in timeline order, as `analyze` folds them."""
    item = read_input(path, path.name, Profile(), Redactor(b"test-lineage-key"))
    return timeline([item])


def completion_order(exchanges: list[Exchange]) -> list[Exchange]:
    """The order a proxy sees them in: when each response (or failure) ended."""
    return sorted(exchanges, key=lambda x: (x.ended or x.started or 0.0, x.ref.index))


def indexes(state: Lineage) -> dict[str, object]:
    return {f.name: getattr(state, f.name) for f in fields(state) if not f.name.startswith("_")}


def replayed(exchanges: list[Exchange]) -> Replay:
    state = Replay()
    for x in exchanges:
        state.add(x)
    return state


def added(exchanges: list[Exchange]) -> Lineage:
    return replayed(exchanges).lineage


def findings(state: Lineage) -> list[Finding]:
    return classify(state, Profile())


@pytest.mark.parametrize("har", HARS, ids=[p.stem for p in HARS])
def test_added_in_completion_order_gives_the_findings_of_build(har: Path) -> None:
    ordered = exchanges_of(har)
    built = build(ordered)
    live = added(completion_order(ordered))
    assert findings(live) == findings(built)
    assert indexes(live) == indexes(built)
    assert [r.seq for r in live.requests] == list(range(len(built.requests)))


def test_some_golden_capture_really_completes_out_of_start_order() -> None:
    shuffled = [h.stem for h in HARS if completion_order(exchanges_of(h)) != exchanges_of(h)]
    assert "refresh_race" in shuffled


@pytest.mark.parametrize("seed", range(5))
def test_any_arrival_order_gives_the_indexes_of_build(seed: int) -> None:
    everything = [x for har in HARS for x in exchanges_of(har)]
    ordered = sorted(everything, key=lambda x: (x.started or 0.0, x.ref))
    arrival = ordered[:]
    random.Random(seed).shuffle(arrival)
    live = added(arrival)
    built = build(ordered)
    assert indexes(live) == indexes(built)
    assert findings(live) == findings(built)


def test_a_straggler_older_than_the_undo_logs_is_placed_by_folding_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replay_mod, "REWIND_LIMIT", 2)
    ordered = exchanges_of(GOLDEN / "refresh_token_superseded.har")
    arrival = [*ordered[1:], ordered[0]]  # the first exchange arrives last
    live = added(arrival)
    assert indexes(live) == indexes(build(ordered))


def test_request_of_follows_a_token_request_whose_seq_moved() -> None:
    ordered = [x for x in exchanges_of(GOLDEN / "refresh_race.har") if x.kind == "token"]
    live = replayed(completion_order(ordered))
    for seq, x in enumerate(ordered):
        found = live.request_of(x)
        assert found is not None and found.seq == seq and found.x is x


def test_a_fold_that_fails_leaves_no_change_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    ordered = exchanges_of(GOLDEN / "refresh_token_superseded.har")
    state = replayed(ordered[:-1])
    before = indexes(state.lineage)

    def broken(x: Exchange) -> None:
        state.lineage.requests.append(state.lineage.requests[0])
        state.lineage._journal((Edit.APPENDED, state.lineage.requests, None, None))
        raise RuntimeError("boom")

    monkeypatch.setattr(state.lineage, "fold", broken)
    with pytest.raises(RuntimeError):
        state.add(ordered[-1])
    assert indexes(state.lineage) == before and state.lineage._journal is None


@pytest.mark.parametrize("har", HARS, ids=[p.stem for p in HARS])
def test_live_analysis_tells_each_failure_as_analyze_does(har: Path) -> None:
    """Exchanges told as they complete, on the capture's own clock; a guess is held until an
    exchange in flight lands (a race's winner may answer after its loser) or SETTLE passes."""
    ordered = exchanges_of(har)
    live = LiveAnalysis(Profile())
    said: dict[Ref, Finding] = {}
    for x in completion_order(ordered):
        for _, found in live.tell([x], x.ended or x.started or 0.0):
            said[found.ref] = found
    for _, found in live.tell([], float("inf"), force=True):
        said[found.ref] = found
    batch = findings(build(ordered))
    assert sorted(said) == sorted(f.ref for f in batch)  # each failure told once
    for f in batch:
        if f.cause == "provider_outage":  # a live cluster holds the earlier failures only
            assert (said[f.ref].cause, said[f.ref].confidence) == (f.cause, f.confidence)
        else:
            assert said[f.ref] == f


def test_a_guess_is_told_when_settle_has_passed_without_news() -> None:
    ordered = exchanges_of(GOLDEN / "refresh_token_unknown.har")
    live = LiveAnalysis(Profile())
    failure = next(x for x in ordered if x.kind == "token" and not x.ok)
    assert live.tell(ordered, now=100.0) == [] and live.held
    assert live.tell([], now=100.0 + SETTLE - 0.1) == []
    ((told, found),) = live.tell([], now=100.0 + SETTLE)
    assert told is failure and found.cause == "refresh_token_unknown" and not live.held


def test_live_outage_cluster_looks_only_at_recent_failures() -> None:
    ordered = exchanges_of(GOLDEN / "provider_outage.har")
    live = LiveAnalysis(Profile())
    for x in ordered:
        live.add(x)
        live.explain(x)
    window = 2 * Profile().outage_window
    assert live._open and all(x.started is not None for x in live._open)
    newest = max(x.started or 0.0 for x in live._open)
    assert all((x.started or 0.0) >= newest - window for x in live._open)
