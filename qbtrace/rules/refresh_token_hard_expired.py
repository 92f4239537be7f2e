"""The authorization passed {hard_cap}.

What happened: {hard_cap_rule}, however often it is refreshed. The
response that issued this token said so in {hard_cap_field}, and that time had
passed when the app refreshed.

How to confirm: the evidence shows the issuing response and the cap it announced.

How to fix: {hard_cap_fix}.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Match
from qbtrace.providers import Provider
from qbtrace.rules.common import Context, cite, match, refresh_failure, span, when

CAUSE = "refresh_token_hard_expired"


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    if token is None:
        return None
    f = ctx.failure
    issuer = ctx.lineage.last_issuer_before(token, f.seq)
    if issuer is None or issuer.rt_hard_expires_in is None:
        return None
    deadline = issuer.end + issuer.rt_hard_expires_in
    if f.start <= deadline:
        return None
    late = span(f.start - deadline)
    note = f"announced the grant's hard end at {when(deadline)}, {late} before this request"
    return match(CAUSE, Confidence.CERTAIN, cite("issuing_response", issuer, note))


def applies(provider: Provider) -> bool:
    """Where answers announce the grant's absolute end."""
    return provider.hard_expires_field is not None
