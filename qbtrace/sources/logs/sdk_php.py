"""The QuickBooks PHP SDK's `ServiceException` from `OAuth2LoginHelper.php`:
`Refresh OAuth 2 Access token with Refresh Token failed. Body: [{…}].` and `Exchange
Authorization Code for Access Token failed. Body: [{…}].`; the exception code is the HTTP
status (Monolog/Laravel print it as `(code: 400)`). No request id."""

from __future__ import annotations

import re

from qbtrace.sources.logs import fields
from qbtrace.sources.logs.hits import Hit, Record

NAME = "php-sdk"
MARK = "Token failed. Body: ["
LINE = re.compile(
    r"(Refresh OAuth 2 Access token with Refresh Token|"
    r"Exchange Authorization Code for Access Token) failed\. Body: \[(.{0,4000}?)\]\."
)
CODE = re.compile(r"\(code: (\d{3})\)")
GRANTS = {
    "Refresh OAuth 2 Access token with Refresh Token": "refresh_token",
    "Exchange Authorization Code for Access Token": "authorization_code",
}


def read(rec: Record) -> Hit | None:
    if MARK not in rec.text:
        return None
    hit = LINE.search(rec.text)
    if hit is None:
        return None
    body = hit.group(2).replace('\\"', '"').replace("\\/", "/")
    error = fields.error_of(body)
    code = CODE.search(rec.text)
    status = int(code.group(1)) if code else fields.status_of("", error)
    return Hit(
        NAME,
        grant=GRANTS[hit.group(1)],
        status=status if status is not None else 400,
        response_body=body if body.lstrip().startswith("{") else None,
        error=error,
        description=fields.description_of(body),
        realm=fields.first(fields.REALM, rec.text),
    )
