"""Each rule on the traffic that defines it, and on the near misses that must not trigger it."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from qbtrace.analysis import analyze_exchanges
from qbtrace.model import Finding
from qbtrace.profile import Profile
from qbtrace.rules import BY_CAUSE, PRECEDENCE, RULES
from tests.conftest import ROOT
from tests.factories import Capture

DAY = 86_400.0
RT_A = "RT1-39-H0-1790000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
RT_B = "RT1-39-H0-1790086400bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
CODE = "AB11790000000codecodecodecodecodecodecodecode"
REDIRECT = "https://app.example.com/callback"


def findings(capture: Capture, profile: Profile | None = None) -> list[Finding]:
    return analyze_exchanges(capture.exchanges, profile or Profile())


def only(capture: Capture, profile: Profile | None = None) -> Finding:
    (finding,) = findings(capture, profile)
    return finding


def granted(capture: Capture) -> None:
    capture.authorize(0, REDIRECT, CODE)
    capture.exchange_code(1, CODE, REDIRECT, issued=RT_A)


def test_superseded_is_certain_after_a_day_and_likely_sooner() -> None:
    for replay, confidence in ((2 * DAY, "certain"), (3600.0, "likely")):
        c = Capture()
        granted(c)
        c.refresh(DAY + 10, RT_A, issued=RT_B)
        c.refresh(DAY + 10 + replay, RT_A)
        f = only(c)
        assert (f.cause, f.confidence) == ("refresh_token_superseded", confidence)
        assert f.evidence[0].ref == c.exchanges[2].ref


def test_a_configured_grace_accepts_an_early_replay_as_something_else() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, issued=RT_B)
    c.refresh(DAY + 60, RT_A)
    profile = Profile().tuned(rotation_grace=DAY)
    assert only(c, profile).cause != "refresh_token_superseded"


def test_same_token_returned_within_a_day_is_no_rotation() -> None:
    c = Capture()
    granted(c)
    c.refresh(3600, RT_A, issued=RT_A)
    c.refresh(7200, RT_A, issued=RT_A)
    assert findings(c) == []


def test_race_names_every_overlapping_request_and_the_winner() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, issued=RT_B, took=2.0)
    c.refresh(DAY + 0.5, RT_A, took=0.3)
    f = only(c)
    assert (f.cause, f.confidence) == ("refresh_race", "certain")
    assert [e.role for e in f.evidence] == ["winner"]
    assert "refresh_token_superseded" not in f.alternatives or f.cause == "refresh_race"


def test_a_configured_grace_means_an_overlapping_refresh_lost_no_race() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, issued=RT_B, took=2.0)
    c.refresh(DAY + 0.5, RT_A, took=0.3)
    assert only(c, Profile().tuned(rotation_grace=1800)).cause != "refresh_race"
    assert only(c, Profile().tuned(race_window=1.0)).cause == "refresh_race"


def test_sequential_replay_is_not_a_race() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, issued=RT_B, took=0.2)
    c.refresh(DAY + 5, RT_A)
    assert only(c).cause == "refresh_token_superseded"


def test_lost_response_then_retry() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, status=None)
    c.refresh(DAY + 1, RT_A)
    lost, retry = findings(c)
    assert lost.status is None and lost.cause == "unexplained"
    assert (retry.cause, retry.confidence) == ("refresh_response_lost", "likely")


def test_a_success_after_a_lost_answer_clears_it() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, status=None)
    c.refresh(DAY + 1, RT_A, issued=RT_A)
    c.refresh(DAY + 50 * DAY, RT_A)
    assert findings(c)[-1].cause != "refresh_response_lost"


def test_expired_after_its_announced_lifetime_only() -> None:
    c = Capture()
    granted(c)
    c.refresh(100 * DAY, RT_A, issued=RT_A)
    assert findings(c) == []
    c.refresh(100 * DAY + 102 * DAY, RT_A)
    assert only(c).cause == "refresh_token_expired"


@pytest.mark.parametrize(
    ("sent", "how"),
    [
        (f" {RT_A}\n", "whitespace"),
        (f'"{RT_A}"', "quotes"),
        (RT_A[:40], "first 40 characters"),
        ("eyJat-" + RT_A, "access token"),
        ("undefined", "placeholder"),
    ],
)
def test_altered_refresh_token(sent: str, how: str) -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, sent)
    f = only(c)
    assert f.cause == "refresh_token_altered", f
    text = " ".join(e.note for e in f.evidence)
    assert re.search(how.split()[0], text), text


def test_unrelated_token_sharing_a_short_prefix_is_not_a_truncation() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A[:20])  # only the shared "RT1-39-H0-1790..." timestamp prefix
    assert only(c).cause == "refresh_token_unknown"


def test_redirect_uri_difference_is_named() -> None:
    c = Capture()
    c.authorize(0, REDIRECT, CODE)
    c.exchange_code(1, CODE, REDIRECT + "/")
    f = only(c)
    assert (f.cause, f.confidence) == ("redirect_uri_mismatch", "certain")
    assert "trailing slash" in f.evidence[0].note


def test_registered_redirect_uris_judge_a_code_from_elsewhere() -> None:
    c = Capture()
    c.exchange_code(1, CODE, "http://localhost:3000/cb")
    profile = replace(Profile(), redirect_uris=(REDIRECT,))
    f = only(c, profile)
    assert (f.cause, f.confidence) == ("redirect_uri_mismatch", "likely")


def test_code_reuse_poisons_the_first_grant() -> None:
    c = Capture()
    granted(c)
    c.exchange_code(2, CODE, REDIRECT)
    c.refresh(3600, RT_A)
    reused, poisoned = findings(c)
    assert reused.cause == "code_reused"
    assert poisoned.cause == "grant_poisoned_by_code_reuse"
    assert len(poisoned.evidence) == 2


def test_code_expired_is_never_certain() -> None:
    c = Capture()
    c.authorize(0, REDIRECT, CODE)
    c.exchange_code(3600, CODE, REDIRECT)
    f = only(c)
    assert (f.cause, f.confidence) == ("code_expired", "likely")


def test_revoke_of_the_sibling_access_token_revokes_the_grant() -> None:
    c = Capture()
    granted(c)
    c.revoke(10, "eyJat-" + RT_A)
    c.refresh(20, RT_A)
    assert only(c).cause == "refresh_token_revoked"


def test_invalid_client_causes() -> None:
    c = Capture()
    granted(c)
    c.refresh(10, RT_A, secret="rotated-secret", status=401, reply={"error": "invalid_client"})
    assert only(c).cause == "client_secret_wrong"
    d = Capture()
    d.refresh(10, RT_A, secret=" s3cr3t-value ", status=401, reply={"error": "invalid_client"})
    f = only(d)
    assert f.cause == "client_credentials_malformed"
    assert "whitespace" in f.evidence[0].note and "s3cr3t" not in f.evidence[0].note


def test_outage_needs_unrelated_lineages_without_their_own_cause() -> None:
    c = Capture()
    for n in range(3):
        c.refresh(60 * n, f"RT1-unknown-{n}-" + "x" * 40, status=503, reply={})
    assert {f.cause for f in findings(c)} == {"provider_outage"}
    d = Capture()
    granted(d)
    d.refresh(DAY, RT_A, issued=RT_B)
    for n in range(3):
        d.refresh(DAY + 10 + n, RT_A)  # one lineage replaying: superseded, not an outage
    assert {f.cause for f in findings(d)} == {"refresh_token_superseded"}
    assert all("provider_outage" not in f.alternatives for f in findings(d))


def test_every_cause_is_complete() -> None:
    """Rule module, explain text, and the precedence of causes.md, for every cause id."""
    assert [r.cause for r in RULES] == list(PRECEDENCE)
    for rule in RULES:
        assert rule.title and rule.happened and rule.confirm and rule.fix, rule.cause
        assert BY_CAUSE[rule.cause] is rule
    spec = ROOT.parent / "shared" / "spec" / "causes.md"
    if not spec.exists():
        pytest.skip("shared/spec/causes.md is not beside this checkout")
    text = spec.read_text()
    order = re.search(r"first in this order and.*?:(.*?`unexplained`)", text, re.S)
    assert order is not None
    assert re.findall(r"`([a-z_]+)`", order.group(1)) == list(PRECEDENCE)


def test_explain_prints_the_rule_docs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from qbtrace.cli import main

    for cause in PRECEDENCE:
        result = CliRunner().invoke(main, ["explain", cause])
        assert result.exit_code == 0
        assert BY_CAUSE[cause].fix in result.stdout.replace("\n", " ").replace("  ", " ")
    bad = CliRunner().invoke(main, ["explain", "nope"])
    assert bad.exit_code == 2 and "unknown cause" in bad.stderr


def test_a_steady_trickle_of_stray_failures_is_no_outage_but_a_burst_is() -> None:
    c = Capture()
    for n in range(1440):  # two days of one unexplained failure every two minutes
        c.refresh(120.0 * n, f"RT1-stray-{n:05d}-" + "x" * 40)
    assert not any(f.cause == "provider_outage" for f in findings(c))
    for n in range(15):  # then fifteen unrelated connections fail within a minute
        c.refresh(2 * DAY + 4 * n, f"RT1-burst-{n:05d}-" + "y" * 40)
    found = findings(c)
    assert [f.cause for f in found[-15:]] == ["provider_outage"] * 15
    assert sum(f.cause == "provider_outage" for f in found) <= 15 + 2


def test_credentials_in_the_form_body_count_like_basic_ones() -> None:
    """Airbyte and Nango send client_id/client_secret in the form, with no Basic header."""
    c = Capture()
    granted(c)
    body = {"grant_type": "refresh_token", "refresh_token": RT_A, "client_id": "ABother"}
    c.token(
        DAY,
        {**body, "client_secret": "s-other"},
        status=400,
        reply={"error": "invalid_grant"},
        basic="",
    )
    f = only(c)
    assert f.cause == "refresh_client_mismatch" and f.client_id == "ABother"
    d = Capture()
    form = {"grant_type": "refresh_token", "refresh_token": RT_A, "client_id": "ABother"}
    d.token(
        10, {**form, "client_secret": "right-secret-value"}, reply={"refresh_token": RT_A}, basic=""
    )
    d.token(
        20,
        {**form, "client_secret": "wrong-secret-value"},
        status=401,
        reply={"error": "invalid_client"},
        basic="",
    )
    assert only(d).cause == "client_secret_wrong"


# -- the provider-only causes, switched on by a profile's parameters ------------------------
RT_C = "RT1-39-H0-1790172800cccccccccccccccccccccccccccccccccccccccccccc"


def replayed_family(c: Capture) -> None:
    """Worker A rotates RT_A → RT_B; worker B replays RT_A an hour later; A refreshes RT_B."""
    granted(c)
    c.refresh(3600, RT_A, issued=RT_B)
    c.refresh(7200, RT_A, status=403)
    c.refresh(7300, RT_B, status=403)


def test_reuse_detection_makes_the_live_tokens_failure_a_family_revocation() -> None:
    c = Capture()
    replayed_family(c)
    replay, live = findings(c, Profile().tuned(reuse_detection=True))
    assert replay.cause == "refresh_token_superseded"
    assert (live.cause, live.confidence) == ("refresh_token_family_revoked", "certain")
    assert [e.ref for e in live.evidence] == [c.exchanges[3].ref, c.exchanges[2].ref]
    # without reuse detection the live token's failure is not blamed on the replay
    assert findings(c)[1].cause != "refresh_token_family_revoked"


def test_a_replay_inside_the_reuse_interval_revokes_nothing() -> None:
    c = Capture()
    replayed_family(c)
    profile = Profile().tuned(reuse_detection=True, rotation_grace=7200)
    assert all(f.cause != "refresh_token_family_revoked" for f in findings(c, profile))


def consents(c: Capture, count: int, start: float = 0) -> None:
    for n in range(count):
        code = f"AB1179000{n:04d}code" + "x" * 30
        c.authorize(start + 10 * n, REDIRECT, code)
        c.exchange_code(start + 10 * n + 1, code, REDIRECT, issued=f"RT1-newer-{n:04d}" + "y" * 40)


def test_a_token_limit_evicts_the_oldest_lineage_after_that_many_newer_consents() -> None:
    limited = Profile().tuned(token_limit=3)
    for newer in (2, 3):
        c = Capture()
        granted(c)
        consents(c, newer, start=100)
        c.refresh(DAY, RT_A)
        found = only(c, limited)
        if newer < 3:
            assert found.cause != "refresh_token_evicted"
            continue
        # the consents name no user (no id_token): they may be other users', so a guess
        assert (found.cause, found.confidence) == ("refresh_token_evicted", "possible")
        assert "the user is not in the capture" in found.evidence[1].note
        assert only(c).cause != "refresh_token_evicted"  # no limit, no eviction


def test_an_oidc_interaction_error_needs_the_user_again_on_any_provider() -> None:
    c = Capture()
    granted(c)
    c.refresh(3600, RT_A, reply={"error": "consent_required"})
    f = only(c)
    assert (f.cause, f.confidence) == ("interaction_required", "certain")


def test_an_overlap_inside_the_rotation_grace_is_no_race() -> None:
    for grace, race in ((0.0, True), (1800.0, False)):
        c = Capture()
        granted(c)
        c.refresh(DAY, RT_A, issued=RT_B, took=1.5)
        c.refresh(DAY + 0.4, RT_A)
        f = only(c, Profile().tuned(rotation_grace=grace))
        assert (f.cause == "refresh_race") is race, grace


INCORRECT_TYPE = {"error": "invalid_grant", "error_description": "Incorrect Token type or clientID"}


def test_incorrect_token_type_narrows_an_unknown_token_to_a_client_mismatch_guess() -> None:
    c = Capture()
    c.refresh(DAY, RT_A, reply=INCORRECT_TYPE)
    f = only(c)
    assert (f.cause, f.confidence) == ("refresh_client_mismatch", "possible")
    assert f.evidence[0].role == "error_description"
    assert "another client's" in f.evidence[0].note
    assert "refresh_token_unknown" in f.alternatives


def test_incorrect_token_type_is_no_client_mismatch_when_the_capture_shows_one_client() -> None:
    c = Capture()
    granted(c)
    c.refresh(DAY, RT_A, reply=INCORRECT_TYPE)
    assert only(c).cause != "refresh_client_mismatch"


def test_incorrect_token_type_on_a_code_from_elsewhere_points_at_the_client() -> None:
    c = Capture()
    c.exchange_code(1, CODE, REDIRECT, reply=INCORRECT_TYPE)
    f = only(c)
    assert (f.cause, f.confidence) == ("code_client_mismatch", "possible")
    assert "code_unknown" in f.alternatives


def test_incorrect_token_type_backs_an_access_token_shape_but_never_makes_it_certain() -> None:
    c = Capture()
    c.refresh(
        DAY,
        "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..abcdefghijklmnop",
        reply=INCORRECT_TYPE,
    )
    f = only(c)
    assert (f.cause, f.confidence) == ("refresh_token_altered", "likely")
    assert [e.role for e in f.evidence] == ["malformed", "error_description"]


def test_other_descriptions_give_no_hint() -> None:
    c = Capture()
    reply = {"error": "invalid_grant", "error_description": "Incorrect or invalid refresh token"}
    c.refresh(DAY, RT_A, reply=reply)
    assert only(c).cause == "refresh_token_unknown"


@pytest.mark.parametrize(
    ("status", "reply", "fix"),
    [
        (None, None, "Treat a token call without an answer as possibly done"),
        (408, {"error": "timeout"}, "Treat a token call without an answer as possibly done"),
        (429, {"error": "rate_limit_exceeded"}, "Back off and retry later"),
        (400, {"error": "invalid_request"}, "Check the request"),
        (400, {"error": "unauthorized_client"}, "Check the app's settings"),
    ],
)
def test_an_answer_that_says_what_happened_gets_its_own_fix(
    status: int | None, reply: dict[str, str] | None, fix: str
) -> None:
    c = Capture()
    c.refresh(DAY, RT_A, status=status, reply=reply or {})
    f = only(c)
    assert f.cause == "unexplained"
    assert f.fix is not None and f.fix.startswith(fix)
    assert f.happened is not None


def test_a_lost_code_exchange_is_told_not_to_retry_the_code() -> None:
    c = Capture()
    c.authorize(0, REDIRECT, CODE)
    c.exchange_code(1, CODE, REDIRECT, status=None)
    f = only(c)
    assert f.fix is not None and "do not retry it with the same code" in f.fix
    assert f.happened is not None and "the code is spent" in f.happened


@pytest.mark.parametrize(
    ("wanted", "sent", "said"),
    [
        ("https://h.test/cb", "http://h.test/cb", "scheme 'https' vs 'http'"),
        ("HTTPS://h.test/cb", "https://h.test/cb", "letter case of the scheme"),
        ("https://h.test/cb", "https://h.test:443/cb", "no port vs explicit :443"),
        ("https://h.test:8443/cb", "https://h.test/cb", "explicit :8443 vs no port"),
        ("https://H.test/cb", "https://h.test/cb", "letter case of the host"),
        ("https://h.test/cb", "https://h.test/cb/", "trailing slash"),
        ("https://h.test/Cb", "https://h.test/cb", "letter case of the path"),
        ("https://h.test/a%2Fb", "https://h.test/a/b", "percent-encoding of the path"),
        ("https://h.test/cb?x=1", "https://h.test/cb", "query string"),
        ("https://h.test/cb#x", "https://h.test/cb", "from character 18: '#x' vs ''"),
    ],
)
def test_redirect_uri_difference_names_where(wanted: str, sent: str, said: str) -> None:
    from qbtrace.rules.redirect_uri_mismatch import difference

    assert said in difference(wanted, sent)
