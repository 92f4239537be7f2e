"""Every failed token request gets exactly one finding; precedence, guesses and what weakens."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from qbtrace.analysis import read_all
from qbtrace.classify import classify, outage_clusters
from qbtrace.events import TokenRequest, timeline
from qbtrace.lineage import Lineage, build
from qbtrace.model import Confidence, Finding
from qbtrace.profile import Profile
from qbtrace.rules import BY_CAUSE, RULES
from qbtrace.rules.common import Context
from tests.conftest import GOLDEN
from tests.factories import REDACTOR, Capture

DAY = 86_400.0
RT_A = "RT1-39-H0-1790000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
RT_B = "RT1-39-H0-1790086400bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
CODE = "AB11790000000codecodecodecodecodecodecodecode"
REDIRECT = "https://app.example.com/callback"
STRIPPED = "client credentials are not in the input"
NO_BODY = "the response body is missing"


def granted(c: Capture) -> None:
    c.authorize(0, REDIRECT, CODE)
    c.exchange_code(1, CODE, REDIRECT, issued=RT_A)


def unknown(n: int) -> str:
    """A refresh token issued before the capture began, one per connection."""
    return f"RT1-39-H0-17899{n:05d}" + "u" * 40


def classified(c: Capture, profile: Profile | None = None) -> list[Finding]:
    return classify(build(c.exchanges), profile or Profile())


def test_one_finding_per_failed_token_request_in_timeline_order() -> None:
    c = Capture()
    granted(c)
    c.exchange_code(2, CODE, REDIRECT)  # reused
    c.refresh(10, RT_A, status=None)  # no answer at all
    c.refresh(20, RT_A, issued=RT_B)
    c.refresh(30, unknown(1))
    c.revoke(40, RT_B)
    found = classified(c)
    assert [f.ref.index for f in found] == [2, 3, 5]
    assert [f.cause for f in found] == ["code_reused", "unexplained", "refresh_token_unknown"]
    lost = found[1]
    assert (lost.status, lost.error, lost.confidence) == (None, None, Confidence.POSSIBLE)
    assert found[0].token is not None and found[0].token.startswith("code:")
    assert found[2].token is not None and found[2].token.startswith("rt:")


def test_a_capture_without_failures_has_no_findings() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, issued=RT_B)
    assert classified(c) == []


def test_precedence_picks_the_cause_and_the_other_matches_are_alternatives() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, issued=RT_B)
    c.refresh(120 * DAY, RT_A)  # superseded long ago, and past its lifetime too
    (f,) = classified(c)
    assert (f.cause, f.confidence) == ("refresh_token_superseded", Confidence.CERTAIN)
    assert f.alternatives == ("refresh_token_expired",)
    d = Capture()
    granted(d)
    d.revoke(10, RT_A)
    d.refresh(DAY, RT_A, issued=RT_B)
    d.refresh(120 * DAY, RT_A)
    (g,) = classified(d)
    assert g.cause == "refresh_token_revoked"  # above both in precedence
    assert g.alternatives == ("refresh_token_superseded", "refresh_token_expired")
    assert BY_CAUSE[g.cause].rank < BY_CAUSE["refresh_token_superseded"].rank


def test_unexplained_is_never_an_alternative_but_a_guess_lists_its_likely_causes() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, unknown(1))
    (f,) = classified(c)
    assert (f.cause, f.confidence) == ("refresh_token_unknown", Confidence.POSSIBLE)
    assert "unexplained" not in f.alternatives
    assert f.alternatives == BY_CAUSE["refresh_token_unknown"].guesses


def test_a_possible_guess_never_outranks_a_cause_the_evidence_shows() -> None:
    """Three unknown tokens failing together: the outage the cluster shows beats the guess."""
    c = Capture()
    for n in range(3):
        c.refresh(60 * n, unknown(n))
    found = classified(c)
    assert [(f.cause, f.confidence) for f in found] == [("provider_outage", "likely")] * 3
    assert all(f.alternatives == ("refresh_token_unknown",) for f in found)


@pytest.mark.parametrize("har", sorted(GOLDEN.glob("*.har")), ids=lambda p: p.name)
def test_golden_findings_take_the_first_shown_match_in_precedence(har: Path) -> None:
    profile = Profile()
    lineage = build(timeline(read_all([har], profile, REDACTOR)))
    found = {f.ref: f for f in classify(lineage, profile)}
    failures = [r for r in lineage.requests if not r.ok]
    assert list(found) == [r.x.ref for r in failures]
    for r in failures:
        ctx = Context(lineage, profile, r)
        shown = [rule for rule in RULES if (m := rule.check(ctx)) and m.confidence != "possible"]
        f = found[r.x.ref]
        if shown:
            assert f.cause == shown[0].cause, har.name
            assert f.confidence != Confidence.POSSIBLE
            assert all(rule.cause in f.alternatives for rule in shown[1:])


def test_stripped_credentials_make_a_certain_cause_likely_and_say_why() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, issued=RT_B)
    c.refresh(3 * DAY, RT_A, basic="")
    (f,) = classified(c)
    assert (f.cause, f.confidence) == ("refresh_token_superseded", Confidence.LIKELY)
    assert any(STRIPPED in w for w in f.warnings)
    d = Capture()
    granted(d)
    d.refresh(DAY, RT_A, issued=RT_B)
    d.refresh(3 * DAY, RT_A)
    (g,) = classified(d)
    assert (g.confidence, g.warnings) == (Confidence.CERTAIN, ())


def test_stripped_credentials_do_not_weaken_a_cause_ranked_above_client_mismatch() -> None:
    c = Capture()
    c.authorize(0, REDIRECT, CODE)
    c.exchange_code(1, CODE, REDIRECT + "/", basic="")
    (f,) = classified(c)
    assert (f.cause, f.confidence) == ("redirect_uri_mismatch", Confidence.CERTAIN)
    assert not any(STRIPPED in w for w in f.warnings)


def test_stripped_credentials_on_an_issued_token_guess_a_client_mismatch() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, basic="")
    (f,) = classified(c)
    assert (f.cause, f.confidence) == ("refresh_client_mismatch", Confidence.POSSIBLE)
    assert [e.role for e in f.evidence] == ["missing_credentials"]
    assert any("the cause is a guess" in w for w in f.warnings)


def test_a_missing_response_body_makes_a_certain_cause_likely_and_says_why() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, issued=RT_B)
    missing = c.refresh(3 * DAY, RT_A)
    c.exchanges[-1] = replace(missing, reply={})  # an exporter that dropped the body
    (f,) = classified(c)
    assert (f.cause, f.confidence, f.error) == ("refresh_token_superseded", "likely", None)
    assert any(NO_BODY in w for w in f.warnings)


def test_a_missing_body_of_a_server_error_is_no_warning() -> None:
    c = Capture()
    c.refresh(10, unknown(1), status=503, reply={})
    (f,) = classified(c)
    assert (f.cause, f.confidence) == ("provider_outage", Confidence.CERTAIN)
    assert not any(NO_BODY in w for w in f.warnings)


def test_an_outage_needs_enough_unrelated_lineages_within_the_window() -> None:
    two = Capture()
    for n in range(2):
        two.refresh(60 * n, unknown(n))
    assert {f.cause for f in classified(two)} == {"refresh_token_unknown"}
    lenient = Profile().tuned(outage_min_lineages=2)
    assert {f.cause for f in classified(two, lenient)} == {"provider_outage"}
    apart = Capture()
    for n in range(3):
        apart.refresh(301 * n, unknown(n))  # each one just outside the others' window
    assert {f.cause for f in classified(apart)} == {"refresh_token_unknown"}
    assert {f.cause for f in classified(apart, Profile().tuned(outage_window=700))} == {
        "provider_outage"
    }


def test_a_failure_with_its_own_cause_does_not_join_an_outage() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, issued=RT_B)
    c.refresh(3 * DAY, RT_A)  # superseded: explained, so no part of a cluster
    c.refresh(3 * DAY + 30, unknown(1))
    c.refresh(3 * DAY + 60, unknown(2))
    assert [f.cause for f in classified(c)] == [
        "refresh_token_superseded",
        "refresh_token_unknown",
        "refresh_token_unknown",
    ]


def failures_of(c: Capture) -> tuple[list[TokenRequest], Lineage]:
    lineage = build(c.exchanges)
    return [r for r in lineage.requests if not r.ok], lineage


def test_a_cluster_names_the_other_lineages_in_timeline_order() -> None:
    c = Capture()
    for n in (0, 1, 2):
        c.refresh(10 * n, unknown(n))
    c.refresh(15, unknown(0))  # the same connection again: not another lineage
    failures, lineage = failures_of(c)
    clusters = outage_clusters(failures, lineage, Profile())
    assert sorted(clusters) == [r.seq for r in failures]
    mine = clusters[failures[0].seq]
    assert [r.x.ref.index for r in mine] == [1, 2]


def test_a_background_of_stray_failures_raises_the_bar_for_an_outage() -> None:
    burst = [DAY / 2 + 20 * n for n in range(3)]
    quiet = Capture()
    for n, at in enumerate(burst):
        quiet.refresh(at, unknown(n))
    failures, lineage = failures_of(quiet)
    assert len(outage_clusters(failures, lineage, Profile())) == 3
    busy = Capture()
    for n in range(300):  # one stray failure every ~5 minutes, all day
        busy.refresh(288.0 * n + 7, unknown(1000 + n))
    for n, at in enumerate(burst):
        busy.refresh(at, unknown(n))
    failures, lineage = failures_of(busy)
    burst_seqs = {r.seq for r in failures if r.x.ref.index >= 300}
    assert not burst_seqs & set(outage_clusters(failures, lineage, Profile()))


def test_a_short_capture_of_an_outage_is_not_its_own_background() -> None:
    c = Capture()
    for n in range(15):
        c.refresh(4 * n, unknown(n))
    assert [f.cause for f in classified(c)] == ["provider_outage"] * 15


def test_unanswered_requests_of_unrelated_lineages_form_an_outage() -> None:
    c = Capture()
    for n in range(3):
        c.refresh(60 * n, unknown(n), status=None)
    found = classified(c)
    assert [(f.cause, f.status) for f in found] == [("provider_outage", None)] * 3
    assert all(len(f.evidence) == 2 for f in found)


def test_findings_hold_no_raw_secret() -> None:
    c = Capture()
    granted(c)
    c.exchange_code(2, CODE, REDIRECT)
    c.refresh(DAY, RT_A, issued=RT_B)
    c.refresh(3 * DAY, RT_A)
    text = repr(classified(c))
    assert all(raw not in text for raw in (RT_A, RT_B, CODE))


def test_each_provider_has_its_own_outages_and_names_its_findings() -> None:
    """One capture, two providers: two unknown-token failures at each at the same time are
    two small bursts, not one outage of four lineages; each finding names its provider."""
    from qbtrace.config import profile_from_dict

    local = "https://login.local.example/oauth/token"
    profile = profile_from_dict({"providers": {"local": {"token_endpoint": local}}})
    c = Capture()
    for n in range(4):
        c.refresh(30 * n, unknown(n))
    exchanges = [x if n % 2 else replace(x, url=local) for n, x in enumerate(c.exchanges)]
    found = classify(build(exchanges), profile)
    assert [f.provider for f in found] == ["local", "quickbooks", "local", "quickbooks"]
    assert {f.cause for f in found} == {"refresh_token_unknown"}
    together = classify(build(c.exchanges), profile)
    assert {f.cause for f in together} == {"provider_outage"}  # four lineages of one provider
