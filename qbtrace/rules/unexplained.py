"""A failure no known cause explains. qbtrace never drops one silently.

What happened: the token endpoint refused the request, but nothing in the input matches a known
cause: no earlier use, rotation, revoke or expiry of the token, no credential defect, no cluster
of unrelated failures. Errors other than `invalid_grant` and `invalid_client` (for example
`invalid_request`, `unsupported_grant_type`, `unauthorized_client`, or a 429) land here unless a
cause fits; the finding carries what {provider} said, and when that answer (or its absence)
says what happened, the finding's own explanation and fix say it too.

How to confirm: read the request and response in the evidence; give {support} the
{request_id}, which identifies the request in their logs.

How to fix: depends on the error: `invalid_request` and `unsupported_grant_type` point at the
request's form (grant_type, content type, missing fields); 429 asks to slow down.
"""

from __future__ import annotations

from qbtrace.events import TokenRequest
from qbtrace.model import Confidence, Evidence, Match
from qbtrace.rules.common import Context, outcome

CAUSE = "unexplained"

NO_ANSWER = (
    "The request got no answer at all ({how}): the connection ended before a response "
    "arrived, so neither the app nor this capture knows whether the provider processed it. "
    "{consequence}"
)
CONSEQUENCE = {
    "refresh_token": "If it did, it may have issued a successor the app never received.",
    "authorization_code": "If it did, the code is spent and a retry with it fails.",
}
NO_ANSWER_FIX = {
    "refresh_token": (
        "Treat a token call without an answer as possibly done, not as failed: a refresh is "
        "not idempotent once the provider rotates the token, so retry it at most once, with "
        "the same refresh token, and only from one place at a time (a lock "
        "per connection, so a retry never races another refresh); keep timeouts long enough "
        "for the provider to answer; and if the retry gets invalid_grant, ask the user to "
        "reconnect rather than retrying again."
    ),
    "authorization_code": (
        "A code exchange is not idempotent: do not retry it with the same code after a lost "
        "answer (the provider may have spent the code). Keep timeouts long enough for the "
        "provider to answer, and if the answer is lost, start a new authorization."
    ),
}
RATE_LIMITED = (
    "The provider answered 429: too many requests; the token call was not processed.",
    "Back off and retry later (honour Retry-After when present); refresh once per connection "
    "and reuse the access token for its lifetime instead of refreshing per request.",
)
SERVER_ERROR = (
    "The provider answered {status}: an error on its side, not a verdict on the token.",
    "Retry with backoff. For a refresh, retry with the same token and from one place at a "
    "time: a 5xx may still have rotated the token, and parallel retries race each other.",
)
BAD_FORM = (
    "The provider rejected the form of the request ({error}), not its token or code.",
    "Check the request: grant_type spelled as the provider expects, "
    "Content-Type application/x-www-form-urlencoded, and every required field present.",
)
FORM_ERRORS = ("invalid_request", "unsupported_grant_type")
NOT_ALLOWED = (
    "The provider says this client may not make this request ({error}): the grant type or "
    "the scope is not enabled for these keys, whatever the token or code.",
    "Check the app's settings at the provider for these keys (the right key set for the "
    "environment, the grant types and scopes it may use), and ask only for scopes the "
    "authorization granted.",
)
REFUSED_FOR_CLIENT = ("unauthorized_client", "invalid_scope")
TIMED_OUT = (
    "The provider (or a gateway in front of it) answered 408: the request timed out, so it may "
    "or may not have been processed.",
)


def check(ctx: Context) -> Match | None:
    f = ctx.failure
    said = outcome(f)
    if f.error_description:
        said += f" ({f.error_description})"
    note = f"the token endpoint answered {said}"
    if f.x.status is None:
        note = f"the request got no answer: {f.x.failure or 'connection closed'}"
    happened, fix = _narrower(f)
    return Match(
        CAUSE, Confidence.POSSIBLE, (Evidence("response", note),), happened=happened, fix=fix
    )


def _narrower(f: TokenRequest) -> tuple[str | None, str | None]:
    """The explanation and fix the answer (or its absence) itself supports, if any."""
    status = f.x.status
    if status is None:
        grant = f.grant if f.grant in NO_ANSWER_FIX else "refresh_token"
        how = f.x.failure or "connection closed"
        happened = NO_ANSWER.format(how=how, consequence=CONSEQUENCE[grant])
        return happened, NO_ANSWER_FIX[grant]
    if status == 429:
        return RATE_LIMITED
    if status == 408:
        grant = f.grant if f.grant in NO_ANSWER_FIX else "refresh_token"
        return TIMED_OUT[0], NO_ANSWER_FIX[grant]
    if status >= 500:
        return SERVER_ERROR[0].format(status=status), SERVER_ERROR[1]
    if f.error in FORM_ERRORS:
        return BAD_FORM[0].format(error=f.error), BAD_FORM[1]
    if f.error in REFUSED_FOR_CLIENT:
        return NOT_ALLOWED[0].format(error=f.error), NOT_ALLOWED[1]
    return None, None
