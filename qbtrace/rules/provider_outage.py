"""{Provider} itself was failing: errors clustered across unrelated connections, or 5xx answers.

What happened: within a few minutes, token requests of several unrelated lineages or clients
failed together, or the token endpoint answered with a server error (5xx), and nothing specific
to this token explains the failure. During incidents {provider} has answered 503/504 and then
`invalid_grant` or `invalid_request` for tokens that were fine.

How to confirm: the evidence lists the other failures of the cluster; check {status_page} for the
window.

How to fix: retry later with backoff; don't discard tokens or force users to reconnect because
of failures inside an outage window.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Match
from qbtrace.rules.common import Context, cite, match, outcome

CAUSE = "provider_outage"
SHOWN = 10


def check(ctx: Context) -> Match | None:
    f = ctx.failure
    status = f.x.status
    evidence = [
        cite("cluster", r, f"unrelated failure nearby: {outcome(r)}") for r in ctx.cluster[:SHOWN]
    ]
    if status is not None and status >= 500:
        return match(CAUSE, Confidence.CERTAIN, *evidence)
    if len(ctx.cluster) + 1 >= ctx.provider.outage_min_lineages:
        return match(CAUSE, Confidence.LIKELY, *evidence)
    return None
