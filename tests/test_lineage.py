"""The indexes the rules query, asked through their named queries, on traffic stated the way
it looks on the wire (`tests/factories.py` goes through the readers' `build_exchange`)."""

from __future__ import annotations

from qbtrace.lineage import build
from qbtrace.redact import Secret
from tests.factories import Capture

CB = "https://app.example.com/callback"


def secret_of(value: object) -> Secret:
    assert isinstance(value, Secret)
    return value


def test_a_code_leads_from_its_authorize_to_its_exchanges_and_lineage() -> None:
    c = Capture()
    auth = c.authorize(0, CB, "code-one")
    first = c.exchange_code(5, "code-one", CB, issued="rt-1")
    again = c.exchange_code(6, "code-one", CB)
    lin = build(c.exchanges)
    code = secret_of(first.params["code"])
    grant = lin.grant_of(code)
    assert grant is not None and grant.authorize is auth and grant.realm == "1234"
    assert [r.x for r in lin.exchanges_of(code)] == [first, again]
    rt = secret_of(first.reply["refresh_token"])
    assert lin.lineage_of(rt) == lin.lineage_of(code) == f"code:{code.hex}"
    assert lin.realm_of(f"code:{code.hex}") == "1234"
    assert lin.saw_browser()


def test_refresh_tokens_issuers_spends_and_rotation() -> None:
    c = Capture()
    c.exchange_code(0, "code-one", CB, issued="rt-1")
    rotate = c.refresh(10, "rt-1", issued="rt-2")
    replay = c.refresh(20, "rt-1")
    lin = build(c.exchanges)
    rt1 = secret_of(rotate.params["refresh_token"])
    rt2 = secret_of(rotate.reply["refresh_token"])
    assert lin.was_issued(rt1) and lin.was_issued(rt2)
    assert [r.x for r in lin.spends_of(rt1)] == [rotate, replay]
    failure = lin.requests[-1]
    assert [r.x for r in lin.spends_before(rt1, failure.seq)] == [rotate]
    rotation = lin.first_rotation_of(rt1)
    assert rotation is not None and rotation.x is rotate
    assert lin.lineage_of(rt2) == lin.lineage_of(rt1)
    at = secret_of(rotate.reply["access_token"])
    issuer = lin.access_token_issuer(at)
    assert issuer is not None and issuer.x is rotate
    last = lin.last_issuer_before(rt2, failure.seq)
    assert last is not None and last.x is rotate


def test_revokes_of_a_token_reach_its_whole_lineage() -> None:
    c = Capture()
    c.exchange_code(0, "code-one", CB, issued="rt-1")
    rotate = c.refresh(10, "rt-1", issued="rt-2")
    revoke = c.revoke(20, "rt-2")
    lin = build(c.exchanges)
    rt1 = secret_of(rotate.params["refresh_token"])
    assert lin.revokes_of(rt1) == [revoke]
    lineage = lin.lineage_of(rt1)
    assert lineage is not None and list(lin.revokes_of_lineage(lineage)) == [revoke]


def test_unknown_values_answer_empty_not_keyerror() -> None:
    c = Capture()
    failed = c.refresh(0, "never-issued")
    lin = build(c.exchanges)
    rt = secret_of(failed.params["refresh_token"])
    assert not lin.was_issued(rt) and lin.issuers_of(rt) == () and lin.lineage_of(rt) is None
    assert lin.revokes_of(rt) == [] and lin.secrets_of("nobody") == {}
    assert not lin.saw_browser()
