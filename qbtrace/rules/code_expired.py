"""The authorization code was exchanged too late.

What happened: {Provider} issues a code for a short time (qbtrace assumes {code_lifetime}
s{code_lifetime_note}). The token request came later than that after the callback that delivered
the code, so {provider} answered `invalid_grant`. Typical of a debugger paused in the callback, a
queued job, or a code copied by hand.

How to confirm: the evidence shows the callback and the delay.

How to fix: exchange the code in the callback request itself, right away.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Match
from qbtrace.rules.common import Context, cite_exchange, code_failure, match, span

CAUSE = "code_expired"


def check(ctx: Context) -> Match | None:
    code = code_failure(ctx)
    if code is None:
        return None
    grant = ctx.lineage.grant_of(code)
    if grant is None or grant.callback.started is None:
        return None
    delay = ctx.failure.start - grant.callback.started
    if delay <= ctx.provider.code_lifetime:
        return None
    note = (
        f"delivered {code.tag}; the exchange came {span(delay)} later "
        f"(code lifetime assumed {span(ctx.provider.code_lifetime)})"
    )
    # providers rarely publish the code lifetime: never more than likely.
    return match(CAUSE, Confidence.LIKELY, cite_exchange("callback", grant.callback, note))
