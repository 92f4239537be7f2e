"""Every recorded real-client scenario analyzes to the causes its scenario declares.

The goldens are recordings of real clients (intuitlib, Intuit's Node SDK, Authlib,
python-quickbooks, simple-oauth2, Chromium) through mitmdump to tests/realclients/emulator.py;
`python tests/realclients/record.py [names]` regenerates them. Each `expect.json` also lists,
per failure, the HAR entries its finding must link ("evidence", found by record.py from the
traffic: the authorize request that issued the code, the earlier exchange, ...).
"""

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


@pytest.mark.parametrize("name", [n for n in SCENARIOS if any(expected(n).get("evidence", []))])
def test_findings_link_the_evidence_their_scenario_declares(name: str) -> None:
    """Each failure's finding points at the entries causes.md says it must link."""
    doc = analyze_json(GOLDEN / f"{name}.har")
    answered = [f for f in doc["findings"] if f["status"] is not None]  # type: ignore[attr-defined]
    declared = expected(name)["evidence"]
    assert isinstance(declared, list) and len(answered) == len(declared)
    for finding, must in zip(answered, declared, strict=True):
        linked = {e.get("index") for e in finding["evidence"]}
        assert set(must) <= linked, (finding["cause"], must, finding["evidence"])


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


@pytest.mark.parametrize("name", [n for n in SCENARIOS if (GOLDEN / f"{n}.firefox.har").exists()])
def test_firefox_own_har_gives_the_declared_causes(name: str) -> None:
    """Firefox ESR's own "Save All As HAR" (the token requests are the page's fetch() calls).

    Its shape is the real one: Title-Case request header names over HTTP/2, CORS preflight
    OPTIONS entries to the token URL, redirect bodies left out with a comment, local-time
    offsets in startedDateTime, a page title holding the callback URL. Recorded by
    tests/realclients/record.py; test_realclients re-records one live when Firefox is there.
    """
    alone = analyze_json(GOLDEN / f"{name}.firefox.har")
    proxy = analyze_json(GOLDEN / f"{name}.har")
    if alone["summary"]["token_requests"]:  # type: ignore[index]
        assert causes(alone) == expected(name)["causes"]
    else:  # the app's server exchanged the code: only the proxy saw that
        assert causes(alone) == []
    merged = analyze_json(GOLDEN / f"{name}.firefox.har", GOLDEN / f"{name}.har")
    assert causes(merged) == expected(name)["causes"]
    assert merged["summary"] == proxy["summary"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_finding_carries_the_generic_fix_when_its_answer_says_what_happened(name: str) -> None:
    """A lost answer, a 429, a 5xx or a malformed request is explained as what it is."""
    from qbtrace.rules import BY_CAUSE

    generic = BY_CAUSE["unexplained"].fix
    for path in (GOLDEN / f"{name}.har", GOLDEN / f"{name}.mitm"):
        if not path.exists():
            continue
        for f in analyze_json(path)["findings"]:  # type: ignore[attr-defined]
            said = f["status"] is None or f["status"] == 429 or f["status"] >= 500
            if said or f["error"] in ("invalid_request", "unsupported_grant_type"):
                assert f["fix"] != generic, (path.name, f["request"])
