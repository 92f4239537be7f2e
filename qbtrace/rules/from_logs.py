"""Guesses for a failure an application log reports without the token it spent.

Most SDK error lines (the Python SDK's exception, the Node SDK's `threw an exception`)
show when a refresh failed, with what error, from which process, but not which refresh
token it presented, so the per-token rules cannot decide. causes.md ("Application logs as
evidence") allows a ranked guess from what the log does show, at most `possible`, citing it:
another process refreshing the same company at the same moment (a race), an earlier
successful refresh of that company (a superseded token), an earlier attempt without a usable
answer (a lost response), or the provider's wording for another client's token (a client
mismatch). A company is the tenant a line names, else the client id; a log that names neither is
taken as one app's, and the notes say so.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from qbtrace.events import TokenRequest
from qbtrace.lineage import Lineage
from qbtrace.model import TENANT, TOKEN_NOT_LOGGED, Confidence, Evidence, Kind, Match
from qbtrace.rules.common import Context, cite, grant_error, hinted, match, span

AT_ONCE = 2.0
"""Seconds within which two refreshes of one company count as made at once (log stamps are
whole seconds or milliseconds after the answer, not request starts)."""
LOOK_BACK = 200
LOST_WITHIN = 600.0
SUPERSEDED_WITHIN = 400 * 86_400.0
"""Any earlier success of the company counts (a refresh token lives 100 days unused)."""


def tokenless(f: TokenRequest) -> bool:
    """A refresh failure from a log that does not say which refresh token was sent."""
    return TOKEN_NOT_LOGGED in f.x.gaps and f.grant in (None, "refresh_token") and grant_error(f)


def company(r: TokenRequest) -> str | None:
    tenant = r.x.params.get(TENANT)
    return tenant if isinstance(tenant, str) else r.client_id


def _who(r: TokenRequest) -> str:
    return r.x.process or "the app"


def _what(r: TokenRequest) -> str:
    name = company(r)
    return f"company {name}" if name else "a connection (the log names no company)"


@dataclass(frozen=True, slots=True)
class Near:
    """A lineage's requests by kind and company, for `_near` to visit only the failure's
    company instead of every request within LOOK_BACK (`classify` builds it once)."""

    starts: list[float]
    seqs: dict[tuple[Kind, str | None], list[int]]


def index(lineage: Lineage) -> Near | None:
    """The index of a lineage whose requests are in start order, each at its `seq` (a batch
    analysis); None otherwise (then `_near` walks the requests)."""
    requests = lineage.requests
    starts = [r.start for r in requests]
    if any(r.seq != n for n, r in enumerate(requests)) or any(
        b < a for a, b in itertools.pairwise(starts)
    ):
        return None
    seqs: dict[tuple[Kind, str | None], list[int]] = defaultdict(list)
    for r in requests:
        seqs[(r.x.kind, company(r))].append(r.seq)
    return Near(starts, dict(seqs))


def _near(ctx: Context, before: float, after: float = 0.0) -> Iterator[TokenRequest]:
    """Token requests of the failure's company that started at most `before` seconds before
    it or `after` seconds after it, nearest first on each side (earlier ones first)."""
    near = ctx.near
    if near is None:
        yield from _walk(ctx, before, after)
        return
    f, requests = ctx.failure, ctx.lineage.requests
    seqs = near.seqs.get((f.x.kind, company(f)), [])
    # what `_walk` visits: LOOK_BACK requests either side, up to the first one out of time
    lo = max(f.seq - LOOK_BACK, 0, bisect.bisect_left(near.starts, f.start - before))
    for k in range(bisect.bisect_left(seqs, f.seq) - 1, -1, -1):
        if seqs[k] < lo:
            break
        yield requests[seqs[k]]
    hi = min(f.seq + LOOK_BACK, len(requests), bisect.bisect_right(near.starts, f.start + after))
    for k in range(bisect.bisect_right(seqs, f.seq), len(seqs)):
        if seqs[k] >= hi:
            break
        yield requests[seqs[k]]


def _walk(ctx: Context, before: float, after: float) -> Iterator[TokenRequest]:
    f = ctx.failure
    requests = ctx.lineage.requests
    mine = company(f)
    for step, stop in (
        (-1, max(f.seq - LOOK_BACK, 0) - 1),
        (1, min(f.seq + LOOK_BACK, len(requests))),
    ):
        limit = f.start - before if step < 0 else f.start + after
        for i in range(f.seq + step, stop, step):
            r = requests[i]
            if (r.start < limit) if step < 0 else (r.start > limit):
                break
            if r.x.kind == f.x.kind and company(r) == mine:
                yield r


def race(ctx: Context) -> Match | None:
    """Another process refreshed the same company at the same moment."""
    f = ctx.failure
    if not tokenless(f):
        return None
    window = max(AT_ONCE, ctx.provider.race_window)
    others = [
        r
        for r in _near(ctx, window, window)
        if r.grant in (None, "refresh_token")
        and (r.x.process != f.x.process or r.x.process is None)
    ]
    if not others:
        return None
    evidence = [cite("winner" if r.ok else "overlapping", r, _at_once(r, f)) for r in others]
    return match("refresh_race", Confidence.POSSIBLE, *evidence)


def _at_once(r: TokenRequest, f: TokenRequest) -> str:
    lead = f.start - r.start
    side = "earlier" if lead >= 0 else "later"
    said = "succeeded" if r.ok else f"failed too (HTTP {r.x.status or 'no answer'})"
    return f"{_who(r)} refreshed {_what(r)} {span(lead)} {side} and {said}"


def superseded(ctx: Context) -> Match | None:
    """An earlier successful refresh of the same company, outside the race window."""
    f = ctx.failure
    if not tokenless(f):
        return None
    for r in _near(ctx, SUPERSEDED_WITHIN):
        if r.ok and f.start - r.start > AT_ONCE:
            issued = f", issuing {r.issued_rt.tag}" if r.issued_rt is not None else ""
            note = (
                f"{_who(r)} refreshed {_what(r)} {span(f.start - r.start)} earlier and "
                f"succeeded{issued}: the token sent here may be the one it replaced"
            )
            return match(
                "refresh_token_superseded", Confidence.POSSIBLE, cite("issued_successor", r, note)
            )
    return None


def lost(ctx: Context) -> Match | None:
    """An earlier attempt for the same company got no usable answer."""
    f = ctx.failure
    if not tokenless(f):
        return None
    for r in _near(ctx, LOST_WITHIN):
        if r.ok:
            return None  # a success in between: the app saw a successor
        if r.x.status is None or r.x.status >= 500 or r.x.status == 408:
            how = f"HTTP {r.x.status}" if r.x.status else (r.x.failure or "no answer")
            note = f"{_who(r)}'s refresh of {_what(r)} {span(f.start - r.start)} earlier: {how}"
            return match(
                "refresh_response_lost", Confidence.POSSIBLE, cite("lost_response", r, note)
            )
    return None


def client_hint(ctx: Context) -> Match | None:
    """The provider's wording for a token presented by another client (community evidence)."""
    if not tokenless(ctx.failure):
        return None
    hint = hinted(ctx, "refresh_client_mismatch")
    return match("refresh_client_mismatch", Confidence.POSSIBLE, hint) if hint else None


def unknown(ctx: Context) -> Match | None:
    """The fallback guess: the log cannot show the token's history."""
    if not tokenless(ctx.failure):
        return None
    note = "the log does not say which refresh token was sent, so its history cannot be checked"
    return match("refresh_token_unknown", Confidence.POSSIBLE, Evidence("token_not_logged", note))
