"""The Ruby `oauth-rubyclient`'s error: `HTTP status 401, error message: {"error":
"invalid_client"}, intuit_tid: 1-5ebb4fc0-… on Wed, 13 May 2020 01:39:12 GMT`
(intuit/oauth-rubyclient#14). Like intuitlib's, without the bytes repr, and nothing of the
request."""

from __future__ import annotations

import re

from qbtrace.sources.logs import fields
from qbtrace.sources.logs.hits import Hit, Record

NAME = "oauth-rubyclient"
MARK = "error message: "
LINE = re.compile(
    r"HTTP status (\d{3}), error message: (.{0,4000}?), intuit_tid: (\S+) on ([^\n]{0,40}?GMT)"
)


def read(rec: Record) -> Hit | None:
    if MARK not in rec.text:
        return None
    hit = LINE.search(rec.text)
    if hit is None:
        return None
    body = hit.group(2)
    tid = hit.group(3).rstrip(",")
    return Hit(
        NAME,
        status=int(hit.group(1)),
        response_body=body,
        error=fields.error_of(body),
        description=fields.description_of(body),
        tid=tid if fields.TID.fullmatch(tid) else None,
        server_date=hit.group(4),
    )
