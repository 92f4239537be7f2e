"""The refresh token had already been replaced by a newer one, and the app replayed the old value.

What happened: an earlier successful refresh spent this token and {provider} returned a different
refresh token{rotation_note}. The app did not store the new
value, or stored it where it does not read from, and presented the old one again. {Provider}
invalidates the old value when it issues the new one{grace_note}: `invalid_grant`. This is
the classic "works for a day, then invalid_grant".

How to confirm: the evidence shows the refresh that issued the successor and the first request
that spent this token; the failing request comes after both.

How to fix: after every refresh, persist the refresh_token of the response (even when it looks
unchanged) before using the new access token, in the one place all workers read from.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Match
from qbtrace.providers import Provider
from qbtrace.rules import from_logs
from qbtrace.rules.common import (
    Context,
    before,
    cite,
    match,
    refresh_failure,
    rotation_kills,
    span,
)

CAUSE = "refresh_token_superseded"


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    if token is None:
        return from_logs.superseded(ctx)
    f, profile = ctx.failure, ctx.provider
    rotation = ctx.lineage.first_rotation_of(token)
    if rotation is None or rotation.issued_rt is None or not before(rotation, f):
        return None
    gap = f.start - rotation.end
    if gap < profile.rotation_grace:
        return None
    confidence = (
        Confidence.CERTAIN
        if gap >= max(profile.legacy_rotation_grace, profile.rotation_grace)
        else Confidence.LIKELY
    )
    note = (
        f"refresh issued {rotation.issued_rt.tag} in place of {token.tag}, "
        f"{span(gap)} before this request"
    )
    evidence = [cite("issued_successor", rotation, note)]
    first = ctx.lineage.spends_of(token)[0]
    if first is not rotation:
        evidence.append(cite("first_spent", first, f"first refresh with {token.tag}"))
    return match(CAUSE, confidence, *evidence)


def applies(provider: Provider) -> bool:
    """Where refreshes rotate and the old token dies before its own lifetime ends."""
    return rotation_kills(provider)
