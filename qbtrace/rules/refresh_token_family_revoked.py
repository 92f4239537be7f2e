"""The provider saw a spent refresh token reused and revoked the whole family with it.

What happened: the provider detects reuse (Auth0's breach detection, Okta; `reuse_detection`
in qbtrace.toml): a refresh token that was already spent (its successor issued), presented
again after the reuse interval, is taken as stolen, and every token of that authorization is
revoked. So the refresh with the live token, which would have worked, failed too: the replay
by another worker or a stale store killed it.

How to confirm: the evidence shows the replay of a spent token of the same lineage and the
response that issued the token this request presented; the replay comes first.

How to fix: find what replayed the old token (the earlier finding, usually
`refresh_token_superseded`), and store every new refresh token before anyone can use the old
one (refresh under a lock, re-read the store after taking it). The family cannot be revived:
the user must go through {reconnect}.
"""

from __future__ import annotations

from qbtrace.events import TokenRequest
from qbtrace.lineage import Lineage
from qbtrace.model import Confidence, Match
from qbtrace.providers import Provider
from qbtrace.rules.ancestry import issuers_up
from qbtrace.rules.common import Context, before, cite, match, refresh_failure, span

CAUSE = "refresh_token_family_revoked"


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    provider = ctx.provider
    if token is None or not provider.reuse_detection:
        return None
    lin, f = ctx.lineage, ctx.failure
    if any(r.ok for r in lin.spends_before(token, f.seq)):
        return None  # not the live token: it had been spent (superseded, not this cause)
    issuers = list(issuers_up(lin, token, f.seq))
    if not issuers:
        return None
    for issuer in issuers:
        replay = _replay(lin, issuer, f, provider.rotation_grace)
        if replay is not None:
            spent = issuer.refresh
            tag = spent.tag if spent else "a token"
            rotated = lin.first_rotation.get(spent.hex) if spent else None
            late = span(replay.start - rotated.end) if rotated else "some time"
            notes = (
                f"{tag} was presented again {late} after it was spent: "
                f"{provider.label} revokes the whole family on reuse",
                f"issued {token.tag}, the family's live token",
            )
            return match(
                CAUSE,
                Confidence.CERTAIN,
                cite("replay", replay, notes[0]),
                cite("issued_live_token", issuers[0], notes[1]),
            )
    return None


def _replay(
    lin: Lineage, issuer: TokenRequest, f: TokenRequest, grace: float
) -> TokenRequest | None:
    """A refresh, before `f`, with the token `issuer` spent, sent after the reuse interval."""
    spent = issuer.refresh if issuer.grant == "refresh_token" else None
    if spent is None:
        return None
    rotated = lin.first_rotation.get(spent.hex)
    if rotated is None:
        return None
    for r in lin.spends_before(spent, f.seq):
        if r is not rotated and before(rotated, r) and r.start - rotated.end > grace:
            return r
    return None


def applies(provider: Provider) -> bool:
    return provider.reuse_detection
