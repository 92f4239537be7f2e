"""The refresh token (or its lineage) had been revoked.

What happened: before this refresh, the app called {provider_s} revoke endpoint with this token, its
access token or another token of the same authorization, and {provider} confirmed it; or the user
disconnected the app {disconnect_place}, which shows as a hit on the app's Disconnect URL. A revoked
grant cannot be refreshed: {provider} answers `invalid_grant`.

How to confirm: the evidence points to the revoke request or the Disconnect URL hit.

How to fix: after a revoke or a disconnect, delete the stored tokens and send the user through
{reconnect}; don't keep refreshing a revoked grant.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Match
from qbtrace.rules.common import Context, cite_exchange, match, refresh_failure

CAUSE = "refresh_token_revoked"


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    if token is None:
        return None
    lin, f = ctx.lineage, ctx.failure
    started = f.start
    lineage = lin.lineage_of(token)
    candidates = lin.revokes_of(token)
    done = [x for x in candidates if x.started is not None and x.started < started]
    if done:
        note = "revoked this token or another token of its authorization"
        return match(CAUSE, Confidence.CERTAIN, cite_exchange("revoke", done[0], note))
    realm = lin.realm_of(lineage) if lineage else None
    for hit in lin.disconnects:
        if hit.started is None or hit.started >= started:
            continue
        hit_realm = ctx.profile.tenant_of(hit.params)
        if not ctx.profile.is_configured_disconnect(hit.url):
            if realm is not None and hit_realm == realm:
                note = (
                    f"the user disconnected the app from company {realm} (a URL named like a "
                    "Disconnect URL; list it as app.disconnect_url in qbtrace.toml to be sure)"
                )
                return match(CAUSE, Confidence.LIKELY, cite_exchange("disconnect", hit, note))
            continue
        if realm is not None and hit_realm == realm:
            note = f"the user disconnected the app from company {realm}"
            return match(CAUSE, Confidence.CERTAIN, cite_exchange("disconnect", hit, note))
        if realm is None or hit_realm is None:
            note = "a user disconnected the app (company not linked to this token)"
            return match(CAUSE, Confidence.LIKELY, cite_exchange("disconnect", hit, note))
    return None
