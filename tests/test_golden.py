"""Every recorded real-client scenario analyzes to the causes its scenario declares."""

from __future__ import annotations

import pytest

from tests.conftest import GOLDEN, analyze_json, expected, golden_scenarios

SCENARIOS = golden_scenarios()


def causes(doc: dict[str, object]) -> list[str]:
    """Causes of the answered failures (the scenarios declare those)."""
    findings = doc["findings"]
    assert isinstance(findings, list)
    return [f["cause"] for f in findings if f["status"] is not None]


@pytest.mark.parametrize("name", SCENARIOS)
def test_mitmproxy_har_gives_the_declared_causes(name: str) -> None:
    doc = analyze_json(GOLDEN / f"{name}.har")
    assert causes(doc) == expected(name)["causes"]
    unanswered = [f for f in doc["findings"] if f["status"] is None]  # type: ignore[attr-defined]
    statuses = expected(name).get("statuses", [])
    assert len(unanswered) == statuses.count(0)  # type: ignore[attr-defined]
    for finding in unanswered:
        assert finding["cause"] in ("unexplained", "provider_outage")


@pytest.mark.parametrize("name", SCENARIOS)
def test_flow_file_gives_the_same_findings_as_the_har(name: str) -> None:
    flows = GOLDEN / f"{name}.mitm"
    if not flows.exists():
        pytest.skip("scenario recorded without a flow file")
    from_har = analyze_json(GOLDEN / f"{name}.har")["findings"]
    from_flows = analyze_json(flows)["findings"]
    assert isinstance(from_har, list) and isinstance(from_flows, list)
    key = ("cause", "confidence", "token", "client", "alternatives")
    assert [{k: f[k] for k in key} for f in from_flows] == [
        {k: f[k] for k in key} for f in from_har
    ]


def test_every_cause_has_a_golden_scenario() -> None:
    from qbtrace.rules import PRECEDENCE

    covered = {c for name in SCENARIOS for c in expected(name)["causes"]}  # type: ignore[attr-defined]
    assert set(PRECEDENCE) <= covered, sorted(set(PRECEDENCE) - covered)


def test_healthy_captures_give_no_findings() -> None:
    healthy = [n for n in SCENARIOS if n.startswith("healthy")]
    assert healthy
    for name in healthy:
        doc = analyze_json(GOLDEN / f"{name}.har")
        assert causes(doc) == []
        assert doc["summary"]["token_requests"] > 0  # type: ignore[index]


@pytest.mark.parametrize(
    "name", [n for n in SCENARIOS if (GOLDEN / f"{n}.playwright.har").exists()]
)
def test_browser_har_merged_with_the_proxy_har_gives_the_same_causes(name: str) -> None:
    """Chromium's own HAR (authorize, callback) overlaps the proxy's: each exchange counts once."""
    alone = analyze_json(GOLDEN / f"{name}.har")
    merged = analyze_json(GOLDEN / f"{name}.playwright.har", GOLDEN / f"{name}.har")
    assert causes(merged) == causes(alone) == expected(name)["causes"]
    assert merged["summary"] == alone["summary"]
