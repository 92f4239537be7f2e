"""The code was exchanged with another app's credentials than the ones that asked for it.

What happened: the authorize request carried one client_id and the code exchange authenticated
with another: another app, or Development keys on one side and Production keys on the other.
A code is bound to the client that requested it, so {provider} answered `invalid_grant`.

How to confirm: the evidence shows both client ids (tagged unless --show-client-ids) and, when
the config lists them, which environment each belongs to. Without the authorize request, an
answer with {client_hint} makes this the leading guess (`possible`).

How to fix: use one key set for the whole flow: the client_id in the authorize URL must be the
one whose id and secret authenticate the token request.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Match
from qbtrace.rules.common import (
    Context,
    cite_exchange,
    code_failure,
    environments,
    hinted,
    match,
)

CAUSE = "code_client_mismatch"


def check(ctx: Context) -> Match | None:
    code = code_failure(ctx)
    f = ctx.failure
    if code is None:
        return None
    grant = ctx.lineage.grant_of(code)
    asked = grant.authorize.params.get("client_id") if grant and grant.authorize else None
    if isinstance(asked, str) and grant is not None and grant.authorize is not None:
        if f.client_id is None or asked == f.client_id:
            return None
        where = environments(ctx.profile, asked, f.client_id)
        note = f"authorized by {{client:{asked}}}; exchanged by {{client:{f.client_id}}}{where}"
        return match(CAUSE, Confidence.CERTAIN, cite_exchange("authorize", grant.authorize, note))
    hint = hinted(ctx, CAUSE)
    return match(CAUSE, Confidence.POSSIBLE, hint) if hint is not None else None
