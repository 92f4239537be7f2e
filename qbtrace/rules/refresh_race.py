"""Two or more refreshes with the same token were in flight at once; one won, the others failed.

What happened: several workers, threads, tabs or serverless instances refreshed with the same
refresh token at the same moment (one request started before another's response arrived). The
first one {provider} processed rotated the token; the others presented a token that was no longer
current and got `invalid_grant`.

How to confirm: the evidence lists every overlapping request and the winner; their times
overlap.

How to fix: refresh under a lock per connection (a database row lock or a Redis lock), and after
taking the lock re-read the stored token: another worker may have refreshed it already.
"""

from __future__ import annotations

import bisect

from qbtrace.events import TokenRequest
from qbtrace.model import Confidence, Match
from qbtrace.providers import Provider
from qbtrace.redact import Secret
from qbtrace.rules import from_logs
from qbtrace.rules.common import (
    Context,
    cite,
    match,
    outcome,
    refresh_failure,
    rotation_kills,
    span,
)

CAUSE = "refresh_race"
MAX_FLIGHT = 600.0
"""No token request stays in flight longer; bounds the look-back."""
SHOWN = 20
LOOK_BACK = 100
"""Requests with the same token looked at before this one ends, at most: bounded work per
failure when an app replays one token thousands of times within MAX_FLIGHT."""


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    if token is None:
        return from_logs.race(ctx)
    f = ctx.failure
    slack = ctx.provider.race_window
    spends = ctx.lineage.spends_of(token)
    # spends are in start order: look only at those that started before this one ended
    hi = bisect.bisect_right(spends, f.end + slack, key=lambda r: r.start)
    overlapping: list[TokenRequest] = []
    for i in range(hi - 1, max(hi - LOOK_BACK, 0) - 1, -1):  # no copy of the spends
        r = spends[i]
        if r.start < f.start - MAX_FLIGHT or len(overlapping) == SHOWN:
            break
        if r is not f and f.start <= r.end + slack:
            overlapping.insert(0, r)
    if not overlapping:
        return None
    winners = [r for r in overlapping if r.ok]
    rotating = [w for w in winners if w.issued_rt is not None and w.issued_rt.hex != token.hex]
    grace = ctx.provider.rotation_grace
    if rotating and grace > 0 and all(f.start < w.end + grace for w in rotating):
        return None  # within its grace the provider still takes the old token: no race lost
    rotated = bool(rotating)
    evidence = [
        cite("winner" if r.ok else "overlapping", r, _note(r, f, token)) for r in overlapping
    ]
    confidence = Confidence.CERTAIN if rotated else Confidence.LIKELY
    return match(CAUSE, confidence, *evidence)


def _note(r: TokenRequest, f: TokenRequest, token: Secret) -> str:
    """When the other request ran against this one, and what it got."""
    lead = r.start - f.start
    when = f"started {span(lead)} {'after' if lead > 0 else 'before'} this one"
    said = outcome(r)
    if r.ok and r.issued_rt is not None and r.issued_rt.hex != token.hex:
        said += f", issued {r.issued_rt.tag} in place of {token.tag}"
    return f"same token in flight, {when} and answered {span(r.end - f.start)} into it: {said}"


def applies(provider: Provider) -> bool:
    """Only a rotation makes the losers of an overlap present a dead token."""
    return rotation_kills(provider)
