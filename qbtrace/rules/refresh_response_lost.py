"""An earlier refresh with this token got no usable answer, so the app never saw its successor.

What happened: a refresh with this same token ended without a usable response (connection
reset, timeout, a 5xx). {Provider} may have rotated the token anyway; the app kept the old one and
retried, and the retry failed with `invalid_grant`.{sdk_retry_note}

How to confirm: the evidence shows the earlier request and how it ended; no successor was
ever seen by the app.

How to fix: treat a refresh without an answer as possibly successful: make the refresh path
observable, use long timeouts, and when it fails this way, reconnect the user rather than
retrying the old token.
"""

from __future__ import annotations

import bisect

from qbtrace.events import TokenRequest
from qbtrace.model import Confidence, Match
from qbtrace.rules import from_logs
from qbtrace.rules.common import Context, cite, match, outcome, refresh_failure

CAUSE = "refresh_response_lost"
SHOWN = 5
LOOK_BACK = 100
"""Requests with the same token looked at before this one: an app replaying one token
thousands of times costs a bounded look per failure, not one growing with the input."""


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    if token is None:
        return from_logs.lost(ctx)
    f = ctx.failure
    spends = ctx.lineage.spends_of(token)
    end = bisect.bisect_left(spends, f.seq, key=lambda r: r.seq)
    lost: list[TokenRequest] = []
    # newest first; a success with the same token shows the token outlived earlier lost answers
    for i in range(end - 1, max(end - LOOK_BACK, 0) - 1, -1):
        r = spends[i]
        if r.ok or len(lost) == SHOWN:
            break
        if r.x.status is None or r.x.status >= 500 or r.x.status == 408:
            lost.insert(0, r)
    if not lost:
        return None
    evidence = [cite("lost_response", r, f"same token, {outcome(r)}") for r in lost]
    return match(CAUSE, Confidence.LIKELY, *evidence)
