"""The refresh token expired unused: it was older than its rolling lifetime{refresh_lifetime_short}.

What happened: each refresh token is valid for {refresh_lifetime}; every refresh extends it. No
refresh happened in that time, so the token lapsed and {provider} answered `invalid_grant`.

How to confirm: the evidence shows the last response that returned this token, the lifetime it
announced and the age at the failure.

How to fix: refresh every connection at least every few weeks (a scheduled job), even when the
{tenant} is not used; a lapsed grant needs the user to connect again.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Match
from qbtrace.rules.common import Context, cite, match, refresh_failure, span

CAUSE = "refresh_token_expired"


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    if token is None:
        return None
    f = ctx.failure
    last = ctx.lineage.last_issuer_before(token, f.seq)
    if last is None:
        return None
    lifetime = last.rt_expires_in
    announced = lifetime is not None
    if lifetime is None:
        lifetime = ctx.provider.refresh_token_lifetime
    if lifetime is None:
        return None  # the provider's lifetime is unknown and the answer did not say
    age = f.start - last.end
    if age <= lifetime:
        return None
    said = "announced" if announced else "did not announce a lifetime; assumed"
    note = (
        f"returned {token.tag} and {said} {span(lifetime)}; it was {span(age)} old at this request"
    )
    confidence = Confidence.CERTAIN if announced else Confidence.LIKELY
    return match(CAUSE, confidence, cite("issuing_response", last, note))
