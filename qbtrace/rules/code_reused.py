"""The authorization code had already been exchanged.

What happened: codes are single use. An earlier token request sent the same code (a double
callback, a page reload, a retry, two workers handling one callback), so this one got
`invalid_grant`. {Provider} may also invalidate the tokens of the first exchange.

How to confirm: the evidence lists every earlier request with this code and how it ended.

How to fix: exchange each code exactly once: make the callback handler idempotent (remember
codes already seen) and don't retry a code exchange.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Match
from qbtrace.rules.common import Context, before, cite, code_failure, match, outcome

CAUSE = "code_reused"


def check(ctx: Context) -> Match | None:
    code = code_failure(ctx)
    if code is None:
        return None
    earlier = [r for r in ctx.lineage.code_uses.get(code.hex, ()) if before(r, ctx.failure)]
    if not earlier:
        return None
    evidence = [
        cite("earlier_exchange", r, f"sent {code.tag} first: {outcome(r)}") for r in earlier
    ]
    return match(CAUSE, Confidence.CERTAIN, *evidence)
