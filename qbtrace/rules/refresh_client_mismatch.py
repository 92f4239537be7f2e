"""The refresh token was presented with another client's credentials than the one it was issued to.

What happened: the response that issued this refresh token answered a request authenticated as
one client_id; the failing refresh authenticated as another (often Development keys against a
token minted with Production keys, or the reverse). {Provider} answered `invalid_grant`.

How to confirm: the evidence shows both client ids and the issuing request. Without the
issuing request in the input, an answer with {client_hint} makes this the leading guess
(`possible`: community reports, not proof); compare the client id the token was stored with
against the one that refreshed it.

How to fix: store the client id next to each refresh token and refresh with that client's
credentials; keep sandbox and production tokens apart.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Match
from qbtrace.rules import from_logs
from qbtrace.rules.common import (
    Context,
    before,
    cite,
    environments,
    hinted,
    match,
    refresh_failure,
)

CAUSE = "refresh_client_mismatch"


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    f = ctx.failure
    if token is None:
        return from_logs.client_hint(ctx)
    issuers = ctx.lineage.issuers_of(token)
    issuer = issuers[0] if issuers else None  # one token, one client: its first issuer says which
    known = issuer is not None and before(issuer, f) and issuer.client_id is not None
    if known and f.client_id is not None and issuer is not None and issuer.client_id != f.client_id:
        where = environments(ctx.profile, issuer.client_id, f.client_id)
        note = (
            f"issued {token.tag} to {{client:{issuer.client_id}}}; presented by "
            f"{{client:{f.client_id}}}{where}"
        )
        return match(CAUSE, Confidence.CERTAIN, cite("issuing_request", issuer, note))
    if known and issuer is not None and issuer.client_id == f.client_id:
        return None  # the capture shows the same client on both sides
    hint = hinted(ctx, CAUSE)
    return match(CAUSE, Confidence.POSSIBLE, hint) if hint is not None else None
