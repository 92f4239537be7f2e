"""intuitlib (PyPI `intuit-oauth`): `AuthClientError`, as `str(e)` or the last line of a traceback.

`intuitlib/exceptions.py` formats it as `HTTP status 400, error message: b'{"error":
"invalid_grant"}', intuit_tid 1-6155efac-… at time Thu, 30 Sep 2021 17:11:08 GMT`: the body is
the repr of the response bytes, the time is the server's `Date`. Nothing of the request: the
grant is read from the traceback's frames (`in refresh`, `in get_bearer_token`) when the log
has one; a `revoke` failure is a revoke.
"""

from __future__ import annotations

import ast
import re

from qbtrace.model import Kind
from qbtrace.sources.logs import fields
from qbtrace.sources.logs.hits import Hit, Record

NAME = "intuitlib"
MARK = "error message: b"
LINE = re.compile(
    r"HTTP status (\d{3}), error message: (b'(?:[^'\\]|\\.){0,4000}'|b\"(?:[^\"\\]|\\.){0,4000}\")"
    r", intuit_tid (\S+) at time ((?:\w{3}, )?[^\n]{0,40}?GMT)"
)
FRAMES = (
    ("in refresh", Kind.TOKEN, "refresh_token"),
    (".refresh(", Kind.TOKEN, "refresh_token"),
    ("in get_bearer_token", Kind.TOKEN, "authorization_code"),
    (".get_bearer_token(", Kind.TOKEN, "authorization_code"),
    ("in revoke", Kind.REVOKE, None),
    (".revoke(", Kind.REVOKE, None),
)


def read(rec: Record) -> Hit | None:
    if MARK not in rec.text:
        return None
    hit = LINE.search(rec.text)
    if hit is None:
        return None
    if "in get_user_info" in rec.text or "get_user_info(" in rec.text:
        return None  # the userinfo endpoint, not a token request
    kind, grant = next(((k, g) for mark, k, g in FRAMES if mark in rec.text), (Kind.TOKEN, None))
    body = _body(hit.group(2))
    error = fields.error_of(body)
    tid = hit.group(3).rstrip(",")
    return Hit(
        NAME,
        kind=kind,
        grant=grant,
        status=int(hit.group(1)),
        response_body=body,
        error=error,
        description=fields.description_of(body),
        tid=tid if fields.TID.fullmatch(tid) else None,
        server_date=hit.group(4),
    )


def _body(literal: str) -> str:
    """The bytes repr as text (`ast.literal_eval` only ever builds the literal)."""
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return literal[2:-1]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
