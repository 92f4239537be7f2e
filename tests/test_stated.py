"""A cause the provider's answer names: certain, citing the code, and said when the traffic
points elsewhere (Microsoft's AADSTS codes; the bodies are Microsoft's documented shape)."""

from __future__ import annotations

from qbtrace.analysis import analyze_exchanges
from qbtrace.profile import Profile
from tests.factories import Capture

MS_TOKEN = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
CODE = "1.AXoAq8Zt2Wm6Rv0Hs4Jk8Ln2Bv6Cx0Lp4Gf8Sd2Ae6Yu0Io4Tw8Qe2Rt6Y"
REDIRECT = "https://app.example.test/ms/callback"
TRACE = "6fac3d57-4933-492e-aee5-25f393e8a1b0"


def aadsts(code: int, text: str) -> dict[str, object]:
    return {
        "error": "invalid_grant",
        "error_description": f"AADSTS{code}: {text} Trace ID: {TRACE} Correlation ID: "
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 Timestamp: 2026-12-02 01:02:03Z",
        "error_codes": [code],
        "trace_id": TRACE,
        "correlation_id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    }


def test_the_answer_wins_and_the_finding_says_the_traffic_disagrees() -> None:
    c = Capture()
    headers = [("x-ms-request-id", TRACE), ("client-request-id", "0f1e2d3c")]
    c.exchange_code(0, CODE, REDIRECT, issued="0.AXoA-first", url=MS_TOKEN, headers=headers)
    # the same code again: the traffic shows a reuse, but the answer says it expired
    body = aadsts(70008, "The provided authorization code or refresh token has expired.")
    c.exchange_code(30, CODE, REDIRECT, url=MS_TOKEN, headers=headers, reply=body)
    (finding,) = analyze_exchanges(c.exchanges, Profile())
    assert (finding.cause, finding.confidence) == ("code_expired", "certain")
    assert finding.provider == "microsoft" and finding.request_id == TRACE
    assert finding.evidence[0].role == "provider_code" and "AADSTS70008" in finding.evidence[0].note
    assert "code_reused" in finding.alternatives
    (warning,) = finding.warnings
    assert "AADSTS70008 names code_expired, but the traffic points to code_reused" in warning


def test_an_unmapped_code_leaves_the_traffic_rules_alone() -> None:
    c = Capture()
    c.exchange_code(0, CODE, REDIRECT, issued="0.AXoA-first", url=MS_TOKEN, headers=[])
    c.exchange_code(30, CODE, REDIRECT, url=MS_TOKEN, headers=[], reply=aadsts(9002313, "x"))
    (finding,) = analyze_exchanges(c.exchanges, Profile())
    assert finding.cause == "code_reused" and finding.warnings == ()
    assert all(e.role != "provider_code" for e in finding.evidence)


def test_the_same_body_at_another_provider_names_nothing() -> None:
    c = Capture()  # QuickBooks does not speak AADSTS: its answers are read as plain RFC 6749
    c.refresh(0, "RT1-unknown-token-0000000000000000000000000000", reply=aadsts(50173, "x"))
    (finding,) = analyze_exchanges(c.exchanges, Profile())
    assert finding.cause == "refresh_token_unknown" and finding.provider == "quickbooks"
