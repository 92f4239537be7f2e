"""The authorization this token descends from began with a code that was exchanged twice.

What happened: the code was sent to the token endpoint twice; the first exchange succeeded and
the app kept its tokens, the second failed. {Provider} treats a reused code as a possible attack and
may invalidate the tokens of the first exchange, so a later refresh of those tokens fails with
`invalid_grant`, even though the app stored them correctly.

How to confirm: the evidence shows both exchanges of the code at the root of this token's
lineage, before the failure.

How to fix: exchange each code exactly once (an idempotent callback handler), then reconnect
the affected {tenant} to get a clean grant.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Match
from qbtrace.rules.common import Context, before, cite, match, outcome, refresh_failure

CAUSE = "grant_poisoned_by_code_reuse"


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    if token is None:
        return None
    lineage = ctx.lineage.lineage_of(token)
    if lineage is None or not lineage.startswith("code:"):
        return None
    uses = ctx.lineage.exchanges_of(lineage.removeprefix("code:"))
    uses = [u for u in uses if before(u, ctx.failure)]
    if len(uses) < 2 or not uses[0].ok:
        return None
    evidence = [
        cite("code_exchange", u, f"exchange {n} of the code this token descends from: {outcome(u)}")
        for n, u in enumerate(uses, 1)
    ]
    return match(CAUSE, Confidence.LIKELY, *evidence)
