"""Newer authorizations of the same user and client evicted this token (a live-token limit).

What happened: {provider} keeps a limited number of live refresh tokens per user and client
(Google: 100; Salesforce: 5 approvals; Zoho: 20). Each new consent issues a new one, and
once the limit is reached the oldest is revoked without notice. The app asked for consent
again and again (on every login, on every install, from every device) and stored each new
token, so the one this request presented, the oldest, was silently evicted.

How to confirm: the evidence shows the consent that issued this lineage and the newer
authorizations of the same client after it, with their count.

How to fix: reuse the stored refresh token instead of asking for consent on every login
(Google: do not send `prompt=consent` each time), and keep one token per user and client.
The evicted token cannot be revived: the user must go through {reconnect}.
"""

from __future__ import annotations

from qbtrace.events import TokenRequest
from qbtrace.model import Confidence, Match
from qbtrace.providers import Provider
from qbtrace.rules.ancestry import consent_of
from qbtrace.rules.common import Context, cite, match, refresh_failure, span

CAUSE = "refresh_token_evicted"
SCAN_LIMIT = 1_000_000
"""Token requests looked at between the consent and the failure (a bound on the work)."""


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    limit = ctx.provider.token_limit
    if token is None or not limit:
        return None
    lin, f = ctx.lineage, ctx.failure
    consent = consent_of(lin, token, f.seq)
    if consent is None:
        return None
    newer = _newer_consents(lin.requests, consent, f.seq)
    if len(newer) < limit:
        return None
    who = (
        "user and client" if consent.user is not None else "client (the user is not in the capture)"
    )
    notes = (
        f"the consent that began this lineage, {span(f.start - consent.end)} before this request",
        f"{len(newer)} newer authorizations of the same {who} followed it; "
        f"{ctx.provider.label} keeps {limit} live tokens per user and client, so this one, "
        f"the {limit}th, evicted {token.tag}",
    )
    # the limit is the provider's published figure: likely at best; without the user (no
    # id_token) the newer consents may be other users': a guess
    confidence = Confidence.LIKELY if consent.user is not None else Confidence.POSSIBLE
    return match(
        CAUSE,
        confidence,
        cite("consent", consent, notes[0]),
        cite("newer_authorization", newer[limit - 1], notes[1]),
    )


def _newer_consents(
    requests: list[TokenRequest], consent: TokenRequest, seq: int
) -> list[TokenRequest]:
    """Successful code exchanges after `consent` and before `seq`, of the same client and,
    when the answers name one, the same user (a bounded scan)."""
    end = min(seq, consent.seq + 1 + SCAN_LIMIT)
    return [
        r
        for r in requests[consent.seq + 1 : end]
        if r.ok
        and r.grant == "authorization_code"
        and r.client_id == consent.client_id
        and (consent.user is None or r.user == consent.user)
    ]


def applies(provider: Provider) -> bool:
    return bool(provider.token_limit)
