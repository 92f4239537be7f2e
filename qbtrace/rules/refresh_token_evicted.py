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

import bisect

from qbtrace.lineage import consent_key
from qbtrace.model import Confidence, Match
from qbtrace.providers import Provider
from qbtrace.rules.ancestry import consent_of
from qbtrace.rules.common import Context, cite, match, refresh_failure, span

CAUSE = "refresh_token_evicted"


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    limit = ctx.provider.token_limit
    if token is None or not limit:
        return None
    lin, f = ctx.lineage, ctx.failure
    consent = consent_of(lin, token, f.seq)
    if consent is None:
        return None
    consents = lin.consents.get(consent_key(consent.client_id, consent.user), [])
    lo = bisect.bisect_right(consents, consent.seq, key=lambda r: r.seq)
    newer = bisect.bisect_left(consents, f.seq, key=lambda r: r.seq) - lo
    if newer < limit:
        return None
    who = (
        "user and client" if consent.user is not None else "client (the user is not in the capture)"
    )
    notes = (
        f"the consent that began this lineage, {span(f.start - consent.end)} before this request",
        f"{newer} newer authorizations of the same {who} followed it; "
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
        cite("newer_authorization", consents[lo + limit - 1], notes[1]),
    )


def applies(provider: Provider) -> bool:
    return bool(provider.token_limit)
