"""Application logs joined to captures of the same traffic: one exchange, seen twice.

A log record and a captured exchange are the same request when they carry the same
provider request id, or issued the same access token (the Node SDK's success lines). Else when they
had the same outcome at the same moment, within SKEW seconds once the log host's clock is
estimated: from the pairs already matched (the capture's answer time against the log's
stamp, the nearest pair in log order first, since an app's host clock and a capture's can
drift or jump), and with no pair at all, as they are. The captured exchange is kept (it shows
the most), with the log's process and a `seen_in` reference to the record; the record leaves
the timeline, so the failure gets one finding.

A log that records every attempt (the Node SDK's file: each retry, each answer) can still
miss by time when its host's clock jumped between two matched pairs; once a log has matched
by id at least once (it is the same traffic), the records left between two matched pairs are
paired in order with the captured exchanges left between the same pairs, where both sides
have as many of each outcome.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import replace

from qbtrace.model import Exchange, Input, Kind, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Secret

SKEW = 5.0
"""Seconds between a log stamp and the captured answer, once clocks agree: a log line is
written after the answer arrives, a slow handler may log later still."""
JOINED = (Kind.TOKEN, Kind.REVOKE)


def join_logs(inputs: tuple[Input, ...], profile: Profile) -> tuple[Input, ...]:
    """The inputs with each log record that a capture also shows folded into the capture."""
    return without(*join(inputs, profile))


def without(joined: tuple[Input, ...], folded: set[int]) -> tuple[Input, ...]:
    """The logs without their records folded into a capture: what goes on the timeline."""
    return tuple(
        replace(item, exchanges=tuple(x for x in item.exchanges if id(x) not in folded))
        if item.kind == "log"
        else item
        for item in joined
    )


def join(inputs: tuple[Input, ...], profile: Profile) -> tuple[tuple[Input, ...], set[int]]:
    """The inputs with the captured exchanges a log also shows enriched (process, seen_in),
    and the ids of the log exchanges folded into them (to leave off the timeline; the logs
    keep them, so an input still counts what it reports)."""
    wire = [x for item in inputs if item.kind != "log" for x in item.exchanges if x.kind in JOINED]
    if not wire or all(item.kind != "log" for item in inputs):
        return inputs, set()
    seen: dict[int, list[Exchange]] = {}
    index = _Index(wire, profile)
    folded: set[int] = set()
    for item in inputs:
        if item.kind == "log":
            index.taken = set()  # each log is matched to the capture on its own
            kept = {id(x) for x in _match_log(item, index, seen)}
            folded |= {id(x) for x in item.exchanges if id(x) not in kept}
    return tuple(_enriched(item, seen) if item.kind != "log" else item for item in inputs), folded


class _Index:
    """The captured exchanges by request id, by issued access token, and by answer time."""

    def __init__(self, wire: list[Exchange], profile: Profile) -> None:
        self.profile = profile
        self.by_tid = {t: x for x in wire if (t := self.request_id(x))}
        self.by_at = {
            s.hex: x for x in wire if isinstance(s := x.reply.get("access_token"), Secret)
        }
        self.timed = sorted((w, n, x) for n, x in enumerate(wire) if (w := _when(x)) is not None)
        self.times = [w for w, _, _ in self.timed]
        self.taken: set[int] = set()
        by_start = sorted(range(len(wire)), key=lambda n: (wire[n].started or 0.0, n))
        self.ordered = [wire[n] for n in by_start]
        self.place = {id(x): at for at, x in enumerate(self.ordered)}

    def request_id(self, x: Exchange) -> str | None:
        return self.profile.provider_for(x).request_id(x)

    def exact(self, x: Exchange) -> Exchange | None:
        tid = self.request_id(x)
        at = x.reply.get("access_token")
        found = self.by_tid.get(tid) if tid else None
        if found is None and isinstance(at, Secret):
            found = self.by_at.get(at.hex)
        return found if found is not None and id(found) not in self.taken else None

    def near(self, x: Exchange, moment: float) -> Exchange | None:
        lo = bisect.bisect_left(self.times, moment - SKEW)
        hi = bisect.bisect_right(self.times, moment + SKEW)
        fits = [
            (abs(at - moment), w)
            for at, _, w in self.timed[lo:hi]
            if id(w) not in self.taken and _same_outcome(x, w)
        ]
        return min(fits, key=lambda f: f[0])[1] if fits else None


def _when(x: Exchange) -> float | None:
    return x.ended if x.ended is not None else x.started


def _same_outcome(log: Exchange, wire: Exchange) -> bool:
    if log.kind != wire.kind or log.status != wire.status:
        return False
    grant, other = log.params.get("grant_type"), wire.params.get("grant_type")
    error, said = log.reply.get("error"), wire.reply.get("error")
    return (grant is None or grant == other) and (error is None or error == said)


def _match_log(item: Input, index: _Index, seen: dict[int, list[Exchange]]) -> tuple[Exchange, ...]:
    pairs: list[tuple[float, float]] = []  # (log time, capture time - log time)
    anchors: list[tuple[int, int]] = []  # (position in the log, place in the capture)
    rest: list[tuple[int, Exchange]] = []
    for at, x in enumerate(item.exchanges):
        found = index.exact(x) if x.kind in JOINED else None
        if found is None:
            rest.append((at, x))
            continue
        _take(index, seen, found, x)
        anchors.append((at, index.place[id(found)]))
        if x.started is not None and (t := _when(found)) is not None:
            pairs.append((x.started, t - x.started))
    pairs.sort()
    left: list[tuple[int, Exchange]] = []
    for at, x in rest:
        found = None
        if x.kind in JOINED and x.started is not None:
            found = index.near(x, x.started + _offset(pairs, x.started))
        if found is None:
            left.append((at, x))
        else:
            _take(index, seen, found, x)
    if anchors:
        left = _in_order(left, anchors, index, seen)
    return tuple(x for _, x in left)


def _in_order(
    left: list[tuple[int, Exchange]],
    anchors: list[tuple[int, int]],
    index: _Index,
    seen: dict[int, list[Exchange]],
) -> list[tuple[int, Exchange]]:
    """Pair what is left between the same two matched pairs, in order, outcome by outcome."""
    bounds = [(-1, -1), *anchors, (1 << 62, len(index.ordered))]
    kept: list[tuple[int, Exchange]] = []
    for (lo_log, lo_cap), (hi_log, hi_cap) in itertools.pairwise(bounds):
        logs = [(at, x) for at, x in left if lo_log < at < hi_log]
        caps = [
            w
            for w in index.ordered[max(lo_cap + 1, 0) : max(hi_cap, 0)]
            if id(w) not in index.taken and w.kind in JOINED
        ]
        for at, x in logs:
            same = [w for w in caps if _outcome(w) == _outcome(x)]
            mine = [y for _, y in logs if _outcome(y) == _outcome(x)]
            if len(same) == len(mine) and _same_outcome(x, same[mine.index(x)]):
                _take(index, seen, same[mine.index(x)], x)
            else:
                kept.append((at, x))
    return kept


def _outcome(x: Exchange) -> tuple[object, ...]:
    return (x.kind, x.status)


def _offset(pairs: list[tuple[float, float]], moment: float) -> float:
    """The log clock's offset at `moment`: that of the nearest matched pair, else none."""
    if not pairs:
        return 0.0
    at = bisect.bisect_left(pairs, (moment, float("-inf")))
    near = [pairs[i] for i in (at - 1, at) if 0 <= i < len(pairs)]
    return min(near, key=lambda p: abs(p[0] - moment))[1]


def _take(index: _Index, seen: dict[int, list[Exchange]], wire: Exchange, log: Exchange) -> None:
    index.taken.add(id(wire))
    seen.setdefault(id(wire), []).append(log)


def _enriched(item: Input, seen: dict[int, list[Exchange]]) -> Input:
    if not any(id(x) in seen for x in item.exchanges):
        return item
    return replace(item, exchanges=tuple(_with_log(x, seen.get(id(x), [])) for x in item.exchanges))


def _with_log(x: Exchange, logs: list[Exchange]) -> Exchange:
    if not logs:
        return x
    process = x.process or next((y.process for y in logs if y.process), None)
    refs: tuple[Ref, ...] = (*x.seen_in, *(y.ref for y in logs))
    return replace(x, process=process, seen_in=refs)
