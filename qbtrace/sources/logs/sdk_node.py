"""The Intuit Node SDK (npm `intuit-oauth` 4.x): its `logging: true` winston file and its errors.

`OAuthClient.js` writes `logs/oAuthClient-log.log` with the printf format
`YYYY-MM-DD HH:mm:ss.SSS Z level: message` (the host's local offset):
- `Refresh Token () threw an exception : Error: invalid_grant` (`Create Token ()` for a code,
  `Revoke Token ()` for a revoke): a failure, usually without body or request id;
- `Refresh usingToken () response is : {…}` and `Create Token response is : {…}`: the whole
  token response, **tokens in clear** (tagged here, never kept);
- `warn: {"message":"Retrying request (attempt 1/3)","clientId":…,"request":{…,"headers":
  {"Authorization":"Basic …"}},"data":{"error":"Request failed with status code 503",…}}`:
  one attempt that got no usable answer (the SDK retries 5xx and network errors).
And the app's own log of its `Error` (`console.error(e)`, pino's `err`): own properties
`error`, `error_description`, `intuit_tid`, `originalMessage` (`Request failed with status
code 400`) and `authResponse`, whose axios `response.config` holds the request as sent: its
form body (the refresh token or code in clear) and `Authorization: Basic` header. Those are
tagged here, so such a log supports the full rules.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from qbtrace.model import Kind
from qbtrace.sources.logs import fields
from qbtrace.sources.logs.hits import Hit, Record

NAME = "intuit-oauth-node"
THREW = re.compile(
    r"(Create Token|Refresh Token|Revoke Token) \(\)\s+threw an exception : ([^\n]*)"
)
ANSWER = re.compile(
    r"(Create Token|Refresh Token|Refresh usingToken|Revoke Token) (?:\(\) )?response is : "
    r"(\{[^\n]*\}|null)"
)
RETRY = "Retrying request (attempt"
GRANT = re.compile(r"grant_type=(\w+)")
ACTIONS = {
    "Create Token": (Kind.TOKEN, "authorization_code"),
    "Refresh Token": (Kind.TOKEN, "refresh_token"),
    "Refresh usingToken": (Kind.TOKEN, "refresh_token"),
    "Revoke Token": (Kind.REVOKE, None),
}
FAILED_WITH = re.compile(r"Request failed with status code (\d{3})")
STACK_GRANTS = (
    ("refreshUsingToken", "refresh_token"),
    ("OAuthClient.refresh", "refresh_token"),
    ("createToken", "authorization_code"),
)


def read(rec: Record) -> Hit | None:
    text = rec.text
    if "() " in text or "response is : " in text:
        found = _threw(text) or _answer(text)
        if found is not None:
            return found
    if RETRY in text:
        return _retry(text)
    if "originalMessage" in text or "authResponse" in text:
        return _error_object(text)
    return None


def _threw(text: str) -> Hit | None:
    hit = THREW.search(text)
    if hit is None:
        return None
    kind, grant = ACTIONS[hit.group(1)]
    rest = hit.group(2)
    error = fields.error_of(rest)
    said = FAILED_WITH.search(rest) or fields.HTML_STATUS.search(rest)
    status = int(said.group(1)) if said else fields.status_of(rest, error)
    return Hit(
        NAME,
        kind=kind,
        grant=grant,
        status=status if status is not None else 400,
        error=error,
        description=fields.description_of(rest),
        tid=fields.first(fields.TID, rest),
    )


def _answer(text: str) -> Hit | None:
    hit = ANSWER.search(text)
    if hit is None:
        return None
    kind, grant = ACTIONS[hit.group(1)]
    body = hit.group(2)
    return Hit(NAME, kind=kind, grant=grant, status=200, response_body=body)


def _retry(text: str) -> Hit | None:
    """One failed attempt of the SDK's retry loop, from the JSON it logs."""
    start = text.find("{")
    try:
        data = msgspec.json.decode(
            text[start : text.find("\n", start)] if "\n" in text[start:] else text[start:]
        )
    except msgspec.DecodeError:
        return None
    if not isinstance(data, dict):
        return None
    detail = _dict(data.get("data"))
    request = _dict(data.get("request"))
    url = str(detail.get("url") or request.get("url") or "")
    if not fields.TOKEN_ENDPOINT.search(url):
        return None
    said = str(detail.get("error") or "")
    status = FAILED_WITH.search(said)
    headers = _dict(request.get("headers"))
    auth = next((v for k, v in headers.items() if str(k).lower() == "authorization"), None)
    client_id = data.get("clientId")
    return Hit(
        NAME,
        status=int(status.group(1)) if status else None,
        failure=None if status else (said or "no response"),
        authorization=auth if isinstance(auth, str) else None,
        client_id=client_id if isinstance(client_id, str) else None,
        notes=["retried by the SDK"],
    )


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _error_object(text: str) -> Hit | None:
    """`console.error(e)` (util.inspect) or a JSON dump of the SDK's Error."""
    error = fields.error_of(text)
    said = FAILED_WITH.search(text) or fields.HTML_STATUS.search(text)
    status = int(said.group(1)) if said else fields.status_of(text, error)
    if status is None:
        return None
    body = fields.first(fields.FORM_BODY, text)
    grant = next((g for mark, g in STACK_GRANTS if mark in text), None)
    if body is not None:
        grant = fields.first(GRANT, body) or grant
    return Hit(
        NAME,
        grant=grant,
        status=status,
        error=error,
        description=fields.description_of(text),
        tid=fields.first(fields.TID, text),
        realm=fields.first(fields.REALM, text),
        request_body=body,
        authorization=fields.first(fields.BASIC, text),
    )
