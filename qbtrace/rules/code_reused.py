"""The authorization code had already been exchanged.

What happened: codes are single use. An earlier token request sent the same code (a double
callback, a page reload, a retry, two workers handling one callback), so this one got
`invalid_grant`. {Provider} may also invalidate the tokens of the first exchange.

How to confirm: the evidence lists every earlier request with this code and how it ended,
and, when the browser side is in the input, each time the callback brought the code to the
app (a double-submitted callback shows as two of them).

How to fix: exchange each code exactly once: make the callback handler idempotent (remember
codes already seen) and don't retry a code exchange.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Match
from qbtrace.rules.common import (
    Context,
    before,
    cite,
    cite_exchange,
    code_failure,
    match,
    outcome,
)

CAUSE = "code_reused"


def check(ctx: Context) -> Match | None:
    code = code_failure(ctx)
    if code is None:
        return None
    earlier = [r for r in ctx.lineage.exchanges_of(code) if before(r, ctx.failure)]
    if not earlier:
        return None
    evidence = [
        cite("earlier_exchange", r, f"sent {code.tag} first: {outcome(r)}") for r in earlier
    ]
    delivered = ctx.lineage.deliveries_of(code)
    if len(delivered) > 1:
        note = (
            f"the callback brought {code.tag} to the app {len(delivered)} times "
            "(a double-submitted form, a reload or a retried redirect)"
        )
        evidence += [cite_exchange("callback_delivery", x, note) for x in delivered]
    return match(CAUSE, Confidence.CERTAIN, *evidence)
