"""The Airbyte QuickBooks source: `ERROR () DefaultAirbyteStreamFactory(internalLog):108 -
CRITICAL (invalid_grant)` (airbytehq/airbyte#7296): the error only. The source refreshes
with the body-borne client credentials on every sync."""

from __future__ import annotations

import re

from qbtrace.sources.logs.hits import Hit, Record

NAME = "airbyte"
LINE = re.compile(r"AirbyteStreamFactory.{0,80}CRITICAL \((invalid_\w+)\)")


def read(rec: Record) -> Hit | None:
    if "AirbyteStreamFactory" not in rec.text:
        return None
    hit = LINE.search(rec.text)
    if hit is None:
        return None
    error = hit.group(1)
    return Hit(
        NAME, grant="refresh_token", status=401 if error == "invalid_client" else 400, error=error
    )
