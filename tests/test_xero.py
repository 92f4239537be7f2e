"""The Xero provider on captures recorded from xero-python through mitmdump (see
tests/realclients/xero_emu.py for the Xero behaviours the emulator assumes): rotation on
every refresh with a 30-minute grace, 60-day expiry, `Xero-Correlation-Id` as request id."""

from __future__ import annotations

from qbtrace.model import Kind
from qbtrace.profile import Profile
from qbtrace.providers import BUILTIN
from qbtrace.providers.xero import AUTHORIZE, PROVIDER, REVOKE, TOKEN
from tests.conftest import GOLDEN, analyze_json


def test_xero_endpoints_are_recognised_and_belong_to_xero() -> None:
    profile = Profile(providers=tuple(BUILTIN.values()))
    assert profile.kind_of("POST", TOKEN) == Kind.TOKEN
    assert profile.kind_of("POST", REVOKE) == Kind.REVOKE
    assert profile.kind_of("GET", AUTHORIZE) == Kind.AUTHORIZE
    assert profile.provider_of(TOKEN) is PROVIDER
    assert profile.kind_of("GET", "https://api.xero.com/connections") is None


def test_a_replay_past_the_grace_is_superseded_and_cites_the_correlation_id() -> None:
    doc = analyze_json(GOLDEN / "xero_superseded.har")
    (finding,) = doc["findings"]  # type: ignore[misc]
    assert finding["cause"] == "refresh_token_superseded"
    assert finding["confidence"] == "certain"
    assert finding["provider"] == "xero"
    assert finding["request"]["request_id"]  # Xero-Correlation-Id
    assert "45m" in finding["evidence"][0]["note"]
    assert "30 minutes" in finding["explanation"]
    assert "Intuit" not in finding["explanation"] + finding["fix"]


def test_overlaps_and_replays_inside_the_grace_are_healthy() -> None:
    for name in ("xero_replay_within_grace", "xero_overlap_within_grace", "xero_healthy"):
        doc = analyze_json(GOLDEN / f"{name}.har")
        assert doc["findings"] == [], name
        assert doc["summary"]["token_requests"] >= 4  # type: ignore[index]
        assert doc["inputs"][0]["provider"] == "xero"  # type: ignore[index]


def test_sixty_days_unused_is_expired_on_xeros_lifetime() -> None:
    (finding,) = analyze_json(GOLDEN / "xero_expired.har")["findings"]  # type: ignore[misc]
    assert finding["cause"] == "refresh_token_expired"
    # Xero announces no lifetime: the 60 days are the profile's (UNVERIFIED figure)
    assert finding["confidence"] == "likely"
    assert "61d" in finding["evidence"][0]["note"]
