"""The refresh token was never issued within this capture, so its history cannot be checked.

What happened: no token response in the input returned this refresh token: it was issued before
the capture began. Its failure most often means it was superseded by a newer token the app did
not store, expired {refresh_after}unused, or was revoked when a user disconnected the app.

How to confirm: capture from the last successful refresh of this connection on, or look up when
the stored token was written.

How to fix: if the app has no newer token for this {tenant}, the user must connect again; then
persist every refresh_token {provider} returns.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Evidence, Match
from qbtrace.rules import from_logs
from qbtrace.rules.common import Context, match, refresh_failure

CAUSE = "refresh_token_unknown"
LIKELY_CAUSES = ("refresh_token_superseded", "refresh_token_expired", "refresh_token_revoked")


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    if token is None:
        return from_logs.unknown(ctx)
    if ctx.lineage.was_issued(token):
        return None
    note = f"no token response in the input returned {token.tag}"
    return match(CAUSE, Confidence.POSSIBLE, Evidence("not_in_capture", note))
