"""{Provider} rejected the client credentials, and the capture does not show why.

What happened: the token endpoint answered `invalid_client` (HTTP 401): the client id is
unknown to {provider}, belongs to a deleted app, or the secret is wrong, and no earlier request in
the capture shows a working secret for this id.

How to confirm: check that the client id and secret come from the same app and the same key
set{key_sets}.

How to fix: copy both values again from {keys_portal} and
restart the app with them.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Evidence, Match
from qbtrace.rules.common import Context, client_error, match

CAUSE = "client_credentials_rejected"
LIKELY_CAUSES = ("client_secret_wrong", "client_credentials_malformed")


def check(ctx: Context) -> Match | None:
    f = ctx.failure
    if not client_error(f):
        return None
    if not f.client_known:
        note = "the capture has no client credentials for this request (stripped by the exporter)"
        return match(CAUSE, Confidence.LIKELY, Evidence("missing_credentials", note))
    confidence = Confidence.CERTAIN if f.error == "invalid_client" else Confidence.LIKELY
    return match(CAUSE, confidence)
