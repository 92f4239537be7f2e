"""The Microsoft Entra ID provider on captures recorded from msal (and requests-oauthlib on
the v1 endpoint) through mitmdump; tests/realclients/microsoft_emu.py says which Microsoft
behaviours the emulator assumes. Any tenant in the URL, AADSTS codes as the stated cause."""

from __future__ import annotations

import pytest

from qbtrace.model import Kind
from qbtrace.profile import Profile
from qbtrace.providers.microsoft import CODES, PROVIDER
from qbtrace.redact import Redactor
from qbtrace.sources import read_input
from tests.conftest import GOLDEN, analyze_json

TENANTS = (
    "common",
    "organizations",
    "consumers",
    "5f2c8a3e-91d4-4b6e-a0c7-3e8d1f6b2a94",
    "contoso.onmicrosoft.com",
)


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize("version", ["v2.0/", ""])
def test_any_tenant_on_v1_and_v2_is_microsofts(tenant: str, version: str) -> None:
    profile = Profile()
    base = f"https://login.microsoftonline.com/{tenant}/oauth2/{version}"
    assert profile.kind_of("POST", base + "token") == Kind.TOKEN
    assert profile.kind_of("GET", base + "token") is None
    assert profile.kind_of("GET", base + "authorize?client_id=x") == Kind.AUTHORIZE
    assert profile.provider_of(base + "token") is PROVIDER
    discovery = f"https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
    assert profile.kind_of("GET", discovery) is None


def test_the_answers_code_names_the_cause_and_is_cited_with_the_trace_id() -> None:
    expected = {
        "microsoft_expired": ("refresh_token_expired", "AADSTS700082"),
        "microsoft_revoked": ("refresh_token_revoked", "AADSTS50173"),
        "microsoft_code_reused": ("code_reused", "AADSTS54005"),
        "interaction_required": ("interaction_required", "AADSTS50076"),
    }
    for name, (cause, code) in expected.items():
        (finding,) = analyze_json(GOLDEN / f"{name}.har")["findings"]  # type: ignore[misc]
        assert (finding["cause"], finding["confidence"]) == (cause, "certain"), name
        assert finding["provider"] == "microsoft"
        first = finding["evidence"][0]
        assert first["role"] == "provider_code" and code in first["note"]
        trace = finding["request"]["request_id"]
        assert trace and trace in first["note"]  # trace_id (x-ms-request-id)
        assert "correlation_id" in first["note"] and "tenant " in first["note"]
        assert finding["warnings"] == []


def test_traffic_evidence_is_cited_after_the_code_when_it_agrees() -> None:
    (expired,) = analyze_json(GOLDEN / "microsoft_expired.har")["findings"]  # type: ignore[misc]
    assert [e["role"] for e in expired["evidence"]] == ["provider_code", "issuing_response"]
    assert "91d old" in expired["evidence"][1]["note"]
    (revoked,) = analyze_json(GOLDEN / "microsoft_revoked.har")["findings"]  # type: ignore[misc]
    # no revoke call in the capture (a password reset): the answer alone says so
    assert [e["role"] for e in revoked["evidence"]] == ["provider_code"]


def test_the_code_is_read_from_error_codes_else_from_the_description() -> None:
    def said(reply: dict[str, object], grant: str = "refresh_token") -> tuple[str, str] | None:
        found = PROVIDER.stated(reply, grant)  # type: ignore[arg-type]
        return (found.cause, found.code) if found else None

    text = "AADSTS50173: The provided grant has expired due to it being revoked"
    assert said({"error_description": text}) == ("refresh_token_revoked", "AADSTS50173")
    assert said({"error_codes": "54005"}) == ("code_reused", "AADSTS54005")
    assert said({"error_codes": "70008"}) == ("refresh_token_expired", "AADSTS70008")
    assert said({"error_codes": "70008"}, "authorization_code") == ("code_expired", "AADSTS70008")
    assert said({"error_description": "AADSTS9002313: Invalid request."}) is None
    assert said({"error": "invalid_grant"}) is None
    assert {cause for cause, _ in CODES.values()} <= {
        "refresh_token_expired",
        "refresh_token_revoked",
        "code_reused",
        "interaction_required",
        "client_credentials_rejected",
    }


def test_error_codes_survive_reading_the_answer() -> None:
    (x,) = [
        x
        for x in read_input(
            GOLDEN / "interaction_required.har", "i.har", Profile(), Redactor(b"k")
        ).exchanges
        if not x.ok and x.kind == Kind.TOKEN
    ]
    assert x.reply["error_codes"] == "50076"


def test_old_refresh_tokens_stay_valid_so_a_healthy_capture_has_no_findings() -> None:
    doc = analyze_json(GOLDEN / "microsoft_healthy.har")
    assert doc["findings"] == []
    assert doc["summary"]["token_requests"] == 4  # type: ignore[index]  # v1 refresh counted
