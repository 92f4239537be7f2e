"""Nango's refresh failures: log operation `refresh_token_external_error` with the provider's
answer under `dataMessage` (`{"error": "invalid_grant", "error_description": …}`;
NangoHQ/nango#1016, #988). Nango always refreshes; the answer is all it keeps."""

from __future__ import annotations

from qbtrace.sources.logs import fields
from qbtrace.sources.logs.hits import Hit, Record

NAME = "nango"
MARK = "refresh_token_external_error"


def read(rec: Record) -> Hit | None:
    if MARK not in rec.text:
        return None
    error = fields.error_of(rec.text)
    return Hit(
        NAME,
        grant="refresh_token",
        status=fields.status_of(rec.text, error) or 400,
        error=error,
        description=fields.description_of(rec.text),
        realm=fields.first(fields.REALM, rec.text),
    )
