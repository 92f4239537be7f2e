"""A failure no known cause explains. qbtrace never drops one silently.

What happened: the token endpoint refused the request, but nothing in the input matches a known
cause: no earlier use, rotation, revoke or expiry of the token, no credential defect, no cluster
of unrelated failures. Errors other than `invalid_grant` and `invalid_client` (for example
`invalid_request`, `unsupported_grant_type`, `unauthorized_client`, or a 429) land here unless a
cause fits; the finding carries what {provider} said.

How to confirm: read the request and response in the evidence; give {support} the
{request_id}, which identifies the request in their logs.

How to fix: depends on the error: `invalid_request` and `unsupported_grant_type` point at the
request's form (grant_type, content type, missing fields); 429 asks to slow down.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Evidence, Match
from qbtrace.rules.common import Context, match, outcome

CAUSE = "unexplained"


def check(ctx: Context) -> Match | None:
    f = ctx.failure
    said = outcome(f)
    if f.error_description:
        said += f" ({f.error_description})"
    return match(
        CAUSE, Confidence.POSSIBLE, Evidence("response", f"the token endpoint answered {said}")
    )
