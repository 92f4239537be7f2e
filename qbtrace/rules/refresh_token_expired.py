"""The refresh token expired unused: it was older than its rolling lifetime{refresh_lifetime_short}.

What happened: each refresh token is valid for {refresh_lifetime}; every refresh extends it. No
refresh happened in that time, so the token lapsed and {provider} answered `invalid_grant`.

How to confirm: the evidence shows the last response that returned this token, the lifetime it
announced and the age at the failure.

How to fix: refresh every connection at least every few weeks (a scheduled job), even when the
{tenant} is not used; a lapsed grant needs the user to connect again.
"""

from __future__ import annotations

from qbtrace.events import TokenRequest
from qbtrace.model import Confidence, Match
from qbtrace.redact import Secret
from qbtrace.rules.ancestry import consent_of
from qbtrace.rules.common import Context, cite, match, refresh_failure, span

CAUSE = "refresh_token_expired"


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    if token is None:
        return None
    last = ctx.lineage.last_issuer_before(token, ctx.failure.seq)
    if last is None:
        return None
    return _rolling(ctx, token, last) or _past_consent_lifetime(ctx, token)


def _rolling(ctx: Context, token: Secret, last: TokenRequest) -> Match | None:
    """Older than the lifetime the issuing answer announced (or the provider's default)."""
    f = ctx.failure
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


def _past_consent_lifetime(ctx: Context, token: Secret) -> Match | None:
    """Past a cap the provider puts on grants from the consent (Google's 7 days for apps in
    Testing): `likely`, since whether the cap applies to this app is not on the wire."""
    f, cap = ctx.failure, ctx.provider.consent_lifetime
    consent = consent_of(ctx.lineage, token, f.seq) if cap is not None else None
    if cap is None or consent is None or f.start - consent.end < cap:
        return None
    rule = ctx.provider.phrases().get("consent_lifetime_rule", "")
    note = (
        f"the consent that began this lineage was {span(f.start - consent.end)} before this "
        f"request; {ctx.provider.label} ends refresh tokens {span(cap)} after consent{rule}"
    )
    return match(CAUSE, Confidence.LIKELY, cite("consent", consent, note))
