"""What any token-request log line may show, pulled out of its text whatever the wrapper.

The SDK text reaches us in three spellings: as written (`error: 'invalid_grant'`, Node's
`util.inspect`), as JSON (`"error":"invalid_grant"`), and as JSON escaped inside a JSON
string (`\\"error\\":\\"invalid_grant\\"`, a CloudWatch or PHP context field). Each pattern
allows all three.
"""

from __future__ import annotations

import re

Q = r"""\\*["']?"""
"""An optional quote, optionally backslash-escaped."""
TID = re.compile(r"\b1-[0-9a-f]{8}-[0-9a-f]{24}\b")
ERROR = re.compile(
    r"\b(invalid_grant|invalid_client|invalid_request|unauthorized_client"
    r"|unsupported_grant_type|invalid_scope)\b"
)
DESCRIPTION = re.compile(rf"error_description{Q}\s*[:=]\s*\\*[\"']([^\"'\\]{{1,300}})")
STATUS = re.compile(
    r"(?:HTTP status|[Ss]tatus code|Status Code-|\(code:|status{Q}\s*[:=]|statusCode{Q}\s*[:=])"
    r"\s*(\d{3})\b".replace("{Q}", Q)
)
HTTP_DATE = re.compile(
    r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT"
)
REALM = re.compile(rf"(?:realm_?[Ii]d{Q}\s*[:=]\s*{Q}|/v3/company/)(\d{{4,20}})\b")
CLIENT_ID = re.compile(rf"client_?[Ii]d{Q}\s*[:=]\s*{Q}([A-Za-z0-9]{{16,64}})\b")
HTML_STATUS = re.compile(r"<(?:h1|title)>\s*([45]\d\d)\b")
"""A proxy's or load balancer's error page (`<h1>503 Service Temporarily Unavailable</h1>`)."""
FORM_BODY = re.compile(r"\bgrant_type=[A-Za-z_]+(?:&[A-Za-z_]+=[^&\s\"'\\]*)*")
"""A token request's form body, as an error object's `config.data` carries it."""
BASIC = re.compile(r"\bBasic [A-Za-z0-9+/]{8,}={0,2}")
TOKEN_ENDPOINT = re.compile(r"oauth2/v1/tokens\\?/bearer|tokens\\?/bearer")
STATUS_BY_ERROR = {"invalid_client": 401}
"""Intuit's status for an error when the log line does not say it; 400 for the others."""


def first(pattern: re.Pattern[str], text: str) -> str | None:
    hit = pattern.search(text)
    return hit.group(1) if hit and hit.groups() else (hit.group(0) if hit else None)


def error_of(text: str) -> str | None:
    return first(ERROR, text)


def status_of(text: str, error: str | None) -> int | None:
    """The HTTP status the text states, else the one Intuit gives that error."""
    said = first(STATUS, text)
    if said is not None:
        return int(said)
    if error is not None:
        return STATUS_BY_ERROR.get(error, 400)
    return None


def description_of(text: str) -> str | None:
    found = first(DESCRIPTION, text)
    return found.strip() if found else None
