"""The fallback for formats no SDK module knows: a line that names the token endpoint, carries
an OAuth error (`invalid_grant`, `invalid_client`, …) or Intuit's request id still yields its
failure, with what the generic fields show, and the reader warns that the format was not
recognised."""

from __future__ import annotations

from qbtrace.sources.logs import fields
from qbtrace.sources.logs.hits import Hit, Record

NAME = "generic"


def read(rec: Record) -> Hit | None:
    text = rec.text
    error = fields.error_of(text)
    endpoint = fields.TOKEN_ENDPOINT.search(text) is not None
    tid = fields.first(fields.TID, text)
    if error is None and not endpoint and tid is None:
        return None
    said = fields.first(fields.STATUS, text)
    status = int(said) if said else fields.status_of("", error)
    if status is None or (error is None and not endpoint):
        return None  # a request id alone, or the endpoint without an outcome: no exchange
    return Hit(
        NAME,
        status=status,
        error=error,
        description=fields.description_of(text),
        tid=tid,
        server_date=fields.first(fields.HTTP_DATE, text),
        client_id=fields.first(fields.CLIENT_ID, text),
        realm=fields.first(fields.REALM, text),
    )
