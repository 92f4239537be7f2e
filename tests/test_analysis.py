"""The pipeline in one call: inputs in order, names for them, and the live analysis agreeing."""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbtrace.analysis import (
    LiveAnalysis,
    analyze_exchanges,
    analyze_inputs,
    analyze_timeline,
    read_all,
    source_names,
)
from qbtrace.events import timeline
from qbtrace.model import Exchange, Input, Ref
from qbtrace.profile import Profile
from tests.conftest import GOLDEN
from tests.factories import REDACTOR, Capture

DAY = 86_400.0
REDIRECT = "https://app.example.com/callback"
CODE = "AB11790000000codecodecodecodecodecodecodecode"


def unknown(n: int) -> str:
    return f"RT1-39-H0-17899{n:05d}" + "u" * 40


def as_input(c: Capture) -> Input:
    return Input(c.source, "har", len(c.exchanges), tuple(c.exchanges))


@pytest.fixture
def gc_state() -> Iterator[None]:
    """Whatever a test does to the collector, the next test finds it as it was."""
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_findings_come_by_input_order_then_index_not_by_time() -> None:
    server, worker = Capture("server.har"), Capture("worker.har")
    server.refresh(100, unknown(1))
    server.refresh(10, unknown(2))  # an exporter that wrote entries out of time order
    worker.refresh(5, unknown(3))
    worker.refresh(50, unknown(4))
    refs = [f.ref for f in analyze_inputs([as_input(worker), as_input(server)], Profile()).findings]
    assert refs == [
        Ref("worker.har", 0),
        Ref("worker.har", 1),
        Ref("server.har", 0),
        Ref("server.har", 1),
    ]


def test_analyze_inputs_counts_each_token_request_once_across_overlapping_inputs() -> None:
    proxy, browser = Capture("proxy.har"), Capture("browser.har")
    for c in (proxy, browser):
        c.authorize(0, REDIRECT, CODE)
        c.exchange_code(1, CODE, REDIRECT)
    analysis = analyze_inputs([as_input(proxy), as_input(browser)], Profile())
    assert analysis.token_requests == 1
    assert [f.ref for f in analysis.findings] == [Ref("proxy.har", 1)]


def test_analyze_exchanges_gives_the_findings_of_analyze_inputs() -> None:
    c = Capture()
    c.authorize(0, REDIRECT, CODE)
    c.exchange_code(1, CODE, REDIRECT, issued=unknown(9))
    c.exchange_code(2, CODE, REDIRECT)
    c.refresh(60, unknown(1))
    batch = analyze_inputs([as_input(c)], Profile())
    assert [f.cause for f in batch.findings] == ["code_reused", "refresh_token_unknown"]
    assert analyze_exchanges(c.exchanges, Profile()) == list(batch.findings)


def test_source_names_are_base_names_unless_two_share_one() -> None:
    assert source_names([Path("captures/a/server.har"), Path("b/browser.har")]) == [
        "server.har",
        "browser.har",
    ]
    assert source_names([Path("monday/app.har"), Path("tuesday/app.har"), Path("x.har")]) == [
        "monday/app.har",
        "tuesday/app.har",
        "x.har",
    ]
    assert source_names([]) == []


def test_read_all_names_inputs_and_calls_back_around_each_read(tmp_path: Path) -> None:
    first, second = tmp_path / "monday" / "app.har", tmp_path / "tuesday" / "app.har"
    for path, scenario in ((first, "code_reused"), (second, "refresh_race")):
        path.parent.mkdir()
        shutil.copy(GOLDEN / f"{scenario}.har", path)
    calls: list[tuple[str, str]] = []
    inputs = read_all(
        [first, second],
        Profile(),
        REDACTOR,
        on_input=lambda item: calls.append(("read", item.source)),
        before=lambda path, name: calls.append((f"before {path.parent.name}", name)),
    )
    assert [item.source for item in inputs] == [str(first), str(second)]
    assert calls == [
        ("before monday", str(first)),
        ("read", str(first)),
        ("before tuesday", str(second)),
        ("read", str(second)),
    ]
    assert all(x.ref.source == item.source for item in inputs for x in item.exchanges)
    assert read_all([GOLDEN / "mixed.har"], Profile(), REDACTOR)[0].source == "mixed.har"


@pytest.mark.usefixtures("gc_state")
@pytest.mark.parametrize("enabled", [True, False])
def test_analyze_timeline_restores_the_collector_as_it_found_it(enabled: bool) -> None:
    c = Capture()
    c.refresh(10, unknown(1))
    if enabled:
        gc.enable()
    else:
        gc.disable()
    lineage, found = analyze_timeline(c.exchanges, Profile())
    assert len(lineage.requests) == 1 and len(found) == 1
    assert gc.isenabled() is enabled


@pytest.mark.usefixtures("gc_state")
def test_analyze_timeline_restores_the_collector_when_it_fails() -> None:
    gc.enable()
    broken: list[Exchange] = [None]  # type: ignore[list-item]
    with pytest.raises(AttributeError):
        analyze_timeline(broken, Profile())
    assert gc.isenabled()


def test_notes_say_where_the_token_requests_likely_are() -> None:
    browser = Capture("browser.har")
    browser.authorize(0, REDIRECT, CODE)
    (note,) = analyze_inputs([as_input(browser)], Profile()).notes
    assert "app's server" in note
    (nothing,) = analyze_inputs([as_input(Capture())], Profile()).notes
    assert "qbtrace.toml" in nothing
    c = Capture()
    c.refresh(0, unknown(1))
    assert analyze_inputs([as_input(c)], Profile()).notes == ()


LIVE = ["mixed", "refresh_race", "code_reused", "grant_poisoned_by_code_reuse"]


@pytest.mark.parametrize("name", LIVE)
def test_live_analysis_gives_the_findings_of_analyze(name: str) -> None:
    profile = Profile()
    inputs = read_all([GOLDEN / f"{name}.har"], profile, REDACTOR)
    batch = analyze_inputs(inputs, profile).findings
    assert batch
    live = LiveAnalysis(profile)
    told = []
    for x in timeline(inputs):
        told += [f for _, f in live.tell([x], x.started or 0.0)]
    told += [f for _, f in live.tell([], float("inf"), force=True)]
    assert sorted(told, key=lambda f: f.ref) == sorted(batch, key=lambda f: f.ref)
    assert not live.held


def test_live_analysis_explains_only_failed_token_requests() -> None:
    c = Capture()
    ok = c.refresh(0, unknown(1), issued=unknown(2))
    failed = c.refresh(10, unknown(3))
    live = LiveAnalysis(Profile())
    for x in c.exchanges:
        live.add(x)
    assert live.explain(ok) is None
    found = live.explain(failed)
    assert found is not None and found.cause == "refresh_token_unknown"
