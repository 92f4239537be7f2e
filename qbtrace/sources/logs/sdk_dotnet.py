"""The QuickBooks .NET SDK's AdvancedLogger (Serilog, when the app enables it), from
`TokenClient.cs` and `OAuthAdvancedLogging.cs`: one token request as separate lines
`Request url- …/tokens/bearer`, `Authorization Header: Basic <base64>`, `Request Body:
grant_type=refresh_token&refresh_token=<RT>`, then `Response Intuit_Tid header - 1-…,
Response Status Code- BadRequest, Response Body- {"error":"invalid_grant"}`. A capture in log
form, secrets included: the driver joins the lines into one record; tags are made here."""

from __future__ import annotations

import re

from qbtrace.model import Kind
from qbtrace.sources.logs import fields
from qbtrace.sources.logs.hits import Hit, Record

NAME = "dotnet-advanced"
MARK = "Request url- "
AUTH = re.compile(r"Authorization Header: ?(Basic [A-Za-z0-9+/=]+)")
BODY = re.compile(r"Request Body: ?(\S*grant_type=\S*|\{[^\n]*\})")
REVOKE = re.compile(r"Request url- \S*/tokens/revoke")
RESPONSE = re.compile(
    r"Response Intuit_Tid header - ?([\w-]*), Response Status Code- ?(\w+), "
    r"Response Body- ?([^\n]*)"
)
STATUS_NAMES = {
    "OK": 200,
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "TooManyRequests": 429,
    "InternalServerError": 500,
    "BadGateway": 502,
    "ServiceUnavailable": 503,
    "GatewayTimeout": 504,
}


def read(rec: Record) -> Hit | None:
    text = rec.text
    if MARK not in text:
        return None
    revoke = REVOKE.search(text) is not None
    if not revoke and not fields.TOKEN_ENDPOINT.search(text):
        return None
    body = BODY.search(text)
    auth = AUTH.search(text)
    answer = RESPONSE.search(text)
    request_body = body.group(1) if body else None
    grant = re.search(r"grant_type=(\w+)", request_body or "")
    hit = Hit(
        NAME,
        kind=Kind.REVOKE if revoke else Kind.TOKEN,
        grant=grant.group(1) if grant else None,
        request_body=request_body,
        authorization=auth.group(1) if auth else None,
    )
    if answer is None:
        hit.failure = "no response logged"
        return hit
    code = answer.group(2)
    hit.status = int(code) if code.isdigit() else STATUS_NAMES.get(code)
    hit.response_body = answer.group(3).rstrip().rstrip('"') or None
    hit.error = fields.error_of(hit.response_body or "")
    tid = answer.group(1)
    hit.tid = tid if fields.TID.fullmatch(tid) else None
    return hit
