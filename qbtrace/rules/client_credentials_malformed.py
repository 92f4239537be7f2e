"""The client credentials were malformed, so {provider} could not even read them.

What happened: the token request's `Authorization: Basic` header (or the client_id and
client_secret form fields) does not decode, has no `:` between id and secret, or the id or
secret is empty, padded with whitespace or quotes, or a placeholder such as `undefined` or
`None`. {Provider} answers 401 `{"error":"invalid_client"}`.

How to confirm: look at how the app builds the header: an environment variable that is not set
(a typo in its name), a value read with a trailing newline, or a secret pasted with quotes.

How to fix: load the client id and secret from {keys_page} exactly, trim them, and build
the header as base64(client_id + ":" + client_secret).
"""

from __future__ import annotations

from qbtrace.model import Confidence, Evidence, Match
from qbtrace.rules.common import Context, client_error, match

CAUSE = "client_credentials_malformed"

DEFECTS = {
    "not-base64": "the Basic header is not valid base64",
    "not-utf8": "the decoded Basic header is not UTF-8 text (an encrypted or binary value?)",
    "no-colon": "the decoded Basic header has no ':' between id and secret",
    "missing-id": "no client_id was sent",
    "missing-secret": "no client_secret was sent",
}


def describe(defect: str) -> str:
    if defect in DEFECTS:
        return DEFECTS[defect]
    what, _, part = defect.rpartition("-")
    name = "client id" if part == "id" else "client secret"
    return {
        "empty": f"the {name} is empty",
        "placeholder": f"the {name} is a placeholder such as 'undefined' or 'None'",
        "whitespace": f"the {name} is padded with whitespace",
        "inner-whitespace": f"the {name} contains whitespace",
        "quoted": f"the {name} is wrapped in quotes",
    }.get(what, f"the {name} is malformed ({what})")


def check(ctx: Context) -> Match | None:
    f = ctx.failure
    client = f.x.client
    if not client_error(f) or client is None or not client.defects:
        return None
    where = "Basic header" if client.via == "basic" else "form body"
    notes = "; ".join(describe(d) for d in client.defects)
    return match(CAUSE, Confidence.CERTAIN, Evidence("credential_defect", f"{where}: {notes}"))
