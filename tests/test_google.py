"""The Google provider on captures recorded from google-auth and google-auth-oauthlib through
mitmdump; tests/realclients/google_emu.py says which Google behaviours the emulator assumes:
no rotation, the 7-day life of a Testing app's tokens, eviction past 100 live tokens."""

from __future__ import annotations

from qbtrace.model import Kind
from qbtrace.profile import Profile
from qbtrace.providers.google import PROVIDER
from tests.conftest import GOLDEN, analyze_json


def test_googles_current_and_older_endpoints_are_recognised() -> None:
    profile = Profile()
    assert profile.kind_of("POST", "https://oauth2.googleapis.com/token") == Kind.TOKEN
    assert profile.kind_of("POST", "https://www.googleapis.com/oauth2/v4/token") == Kind.TOKEN
    for path in ("/o/oauth2/auth", "/o/oauth2/v2/auth"):
        url = f"https://accounts.google.com{path}?client_id=x&redirect_uri=y"
        assert profile.kind_of("GET", url) == Kind.AUTHORIZE
    assert profile.kind_of("POST", "https://oauth2.googleapis.com/revoke") == Kind.REVOKE
    assert profile.provider_of("https://oauth2.googleapis.com/token") is PROVIDER
    assert profile.kind_of("GET", "https://www.googleapis.com/drive/v3/files") is None


def test_a_testing_apps_token_past_seven_days_is_expired_likely() -> None:
    doc = analyze_json(GOLDEN / "google_testing_expired.har")
    (finding,) = doc["findings"]  # type: ignore[misc]
    assert (finding["cause"], finding["confidence"]) == ("refresh_token_expired", "likely")
    assert finding["provider"] == "google" and finding["request"]["request_id"] is None
    assert finding["evidence"][0]["role"] == "consent"
    assert (
        "8d before" in finding["evidence"][0]["note"]
        and "Testing" in finding["evidence"][0]["note"]
    )


def test_the_hundredth_newer_consent_of_the_same_user_evicts_the_oldest_token() -> None:
    doc = analyze_json(GOLDEN / "refresh_token_evicted.har")
    (finding,) = doc["findings"]  # type: ignore[misc]
    assert (finding["cause"], finding["confidence"]) == ("refresh_token_evicted", "likely")
    consent, evictor = finding["evidence"]
    assert consent["index"] == 1  # the first code exchange
    assert "100 newer authorizations of the same user and client" in evictor["note"]
    assert doc["summary"]["token_requests"] == 104  # type: ignore[index]


def test_a_healthy_capture_with_the_same_token_for_38_days_has_no_findings() -> None:
    doc = analyze_json(GOLDEN / "google_healthy.har")
    assert doc["findings"] == [] and doc["inputs"][0]["provider"] == "google"  # type: ignore[index]
