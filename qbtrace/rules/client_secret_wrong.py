"""The client id is right but the secret is not the one that worked before.

What happened: the same client_id authenticated successfully earlier in the capture with a
different client_secret; this request sent another secret and {provider} answered
`invalid_client`. Typical after rotating the secret on {secret_page}, or when one deployment
holds the Development secret and another the Production one.

How to confirm: compare the secret tags of the earlier successful request and the failing one
in the evidence; equal tags mean equal values.

How to fix: deploy the current secret of that client id everywhere the app runs, then retry.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Match
from qbtrace.rules.common import Context, before, cite, client_error, match

CAUSE = "client_secret_wrong"


def check(ctx: Context) -> Match | None:
    f = ctx.failure
    if not client_error(f) or f.client_id is None or f.client_secret is None:
        return None
    for secret_hex, earlier in ctx.lineage.secrets_of(f.client_id).items():
        secret = earlier.client_secret
        if before(earlier, f) and secret is not None and secret_hex != f.client_secret.hex:
            note = (
                f"the same client id succeeded with secret {secret.tag}; "
                f"this request sent {f.client_secret.tag}"
            )
            return match(CAUSE, Confidence.CERTAIN, cite("earlier_success", earlier, note))
    return None
