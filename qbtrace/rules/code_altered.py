"""The authorization code sent is a damaged copy of the one {provider} issued.

What happened: the code in the token request matches no code from a callback exactly, but one
nearly: with whitespace or quotes, percent-encoded once too often or decoded once too few,
or truncated. Or it is empty or `undefined`. {Provider} answers `invalid_grant`.

How to confirm: the evidence points to the callback that carried the true code and says how the
sent value differs. Look at how the app reads the `code` query parameter and passes it on.

How to fix: pass the callback's `code` parameter to the token request exactly as your web
framework decoded it, once; don't re-encode it or read it from a logged URL.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Evidence, Match
from qbtrace.rules.common import Context, cite_exchange, code_failure, match
from qbtrace.rules.near_match import alteration, truncated_from

CAUSE = "code_altered"


def check(ctx: Context) -> Match | None:
    code = code_failure(ctx)
    if code is None:
        return None
    if code.malformed:
        return match(
            CAUSE, Confidence.CERTAIN, Evidence("malformed", "the code is empty or a placeholder")
        )
    lin = ctx.lineage
    if lin.grant_of(code) is not None:
        return None
    grant = lin.grant_like(code)
    if grant is not None:
        note = f"carried {grant.code.tag}; the token request sent it {alteration(code)}"
        return match(CAUSE, Confidence.CERTAIN, cite_exchange("callback", grant.callback, note))
    grant = truncated_from(code, lin.grant_by_head, lambda g: g.code)
    if grant is not None:
        note = (
            f"carried {grant.code.tag} ({grant.code.length} characters); the token request "
            f"sent only its first {code.length}"
        )
        return match(CAUSE, Confidence.LIKELY, cite_exchange("callback", grant.callback, note))
    return None
