"""The bulk path's fold on two cores: the failures in two halves, each half folded with the
neighbourhood of its own failures, one of them in the read's worker process.

After the read, `bulk.fold` decodes the neighbourhoods and runs `lineage.build` + `classify`
in this process while the read's worker sits idle (at 1M requests, 2.7 s of an 11 s run). A
failure's rules look only at its own neighbourhood (`bulk`'s docstring), so a half folded
with the rows its own failures' keys reach, plus what every neighbourhood holds (every
non-token exchange, each client secret's first success), explains its failures as the
whole does; of the other half's failures it holds only those that presented what its own
did (`bulk.neighbourhood` without `failures`). The outage clusters look across lineages:
they are formed from both halves' open failures with `passes.clusters_of`, as for a split
timeline, and each half explains its clustered failures again. Failures of one lineage stay
in one half, so the halves share few rows. The worker decodes its half's lines from the
file itself; only findings and open failures come back, as msgpack (pickle cost 5x as much
for findings).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import msgspec

from qbtrace import lineage as lineage_mod
from qbtrace.bulk import Fetch, Half, Mark, Picked, no_marks, paused_gc, put_roots, shifted
from qbtrace.classify import explain
from qbtrace.events import TokenRequest
from qbtrace.lineage import Lineage
from qbtrace.model import Exchange, Finding, Kind
from qbtrace.passes import FirstPass, clusters_of, explained
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.rules.common import Context

SPLIT_FROM = 2_000
"""Failures from which the fold is split (fewer fold faster in one piece than a half takes
to reach the other process)."""
Clustered = dict[int, tuple[TokenRequest, ...]]
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """What the worker needs to fold a half: where the lines are, and what the read
    decoded in full (raw records) that the half holds."""

    path: Path
    source: str
    half: Half
    full: bytes
    """msgpack of {line: Exchange} for the half's lines decoded while reading."""
    roots: dict[str, tuple[str, int]]
    offset: float
    profile: Profile


@dataclass
class Folded:
    """A half folded: its lineage and its own failures by position."""

    state: Lineage
    mine: dict[int, TokenRequest]

    def first(self, profile: Profile) -> FirstPass:
        """`passes.first_pass` on this half's own failures, positions as `pos`."""
        return explained(self.state, profile, self.mine.items())

    def second(self, profile: Profile, clusters: Clustered) -> list[tuple[int, Finding]]:
        return [
            (pos, explain(Context(self.state, profile, f, clusters[pos])))
            for pos, f in self.mine.items()
            if pos in clusters
        ]


def folded(
    exchanges: list[Exchange], positions: list[int], half: Half, roots: dict[str, tuple[str, int]]
) -> Folded:
    with paused_gc():
        state = lineage_mod.build(exchanges)
        put_roots(state, roots, exchanges, positions)
        token_pos = [p for x, p in zip(exchanges, positions, strict=True) if x.kind == Kind.TOKEN]
        mine = {
            token_pos[f.seq]: f for f in state.requests if not f.ok and token_pos[f.seq] in half.own
        }
    return Folded(state, mine)


_ENCODE = msgspec.msgpack.Encoder()
_FULL = msgspec.msgpack.Decoder(dict[int, Exchange])
_FIRST = msgspec.msgpack.Decoder(FirstPass)
_SECOND = msgspec.msgpack.Decoder(list[tuple[int, Finding]])
_CLUSTERS = msgspec.msgpack.Decoder(tuple[dict[int, tuple[int, ...]], dict[int, TokenRequest]])
_HELD: dict[int, tuple[Folded, Profile]] = {}
"""In the worker: the half it folded, kept for the second round."""


def work_first(job: Job) -> bytes:
    """The worker's first round: decode the half's lines, fold them, explain its failures."""
    from qbtrace.skeleton import CaptureSkeleton

    reader = CaptureSkeleton(job.path, job.source, Redactor(b"unused"))
    with paused_gc():
        reader.full = _FULL.decode(job.full)
        exchanges = reader.exchanges(job.half.rows)
        if job.offset:
            exchanges = [shifted(x, job.offset) for x in exchanges]
    done = folded(exchanges, job.half.rows["pos"].to_list(), job.half, job.roots)
    _HELD.clear()
    _HELD[0] = done, job.profile
    return _ENCODE.encode(done.first(job.profile))


def work_second(sent: bytes) -> bytes:
    """The worker's second round: its clustered failures explained again with their
    clusters, sent as positions (its own open failures it has; the others come along)."""
    done, profile = _HELD.pop(0)
    with paused_gc():
        positions, others = _CLUSTERS.decode(sent)
        members = {**others, **{p: replace(f, seq=p) for p, f in done.mine.items()}}
        clusters = {p: tuple(members[m] for m in ms) for p, ms in positions.items()}
        return _ENCODE.encode(done.second(profile, clusters))


def _second_there(
    pool: Executor, clusters: Clustered, there: Half, open_here: tuple[TokenRequest, ...]
) -> Future[bytes] | None:
    """The worker's second round started, when it has clustered failures: their clusters
    as positions, with this half's open failures among their members (a cluster holds up
    to a few dozen failures, each with its exchange: sent whole, 67 MB at 1M)."""
    positions = {p: tuple(m.seq for m in c) for p, c in clusters.items() if p in there.own}
    if not positions:
        return None
    wanted = {m for ms in positions.values() for m in ms if m not in there.own}
    others = {f.seq: f for f in open_here if f.seq in wanted}
    return _submit(pool, work_second, _ENCODE.encode((positions, others)))


def fold_halves(
    picked: Picked,
    fetch: Fetch,
    job: Job,
    pool: Executor,
    profile: Profile,
    mark: Mark = no_marks,
) -> tuple[Lineage, list[Finding], list[Exchange]]:
    """`bulk.fold`'s findings from `picked`'s two halves, the second (`job`) in `pool`'s
    worker, or here if the worker fails; with this process's half's lineage and
    exchanges (JSON and text need neither of the rest)."""
    here, there = picked.halves
    sent = _submit(pool, work_first, job)
    with paused_gc():
        exchanges = fetch(here.rows)
        mark("neighbourhoods decoded (this half)")
        mine = folded(exchanges, here.rows["pos"].to_list(), here, picked.roots)
        results = [mine.first(profile)]
        got = _result(sent)
        local = None
        if got is None:  # the worker failed: its half is folded here
            local = _here(there, fetch, picked, profile)
            results.append(local.first(profile))
        else:
            results.append(_FIRST.decode(got))
        clusters = clusters_of(results, profile)
        found = {pos: finding for result in results for pos, finding in result.findings}
        again = None if local is not None else _second_there(pool, clusters, there, results[0].open)
        found.update(mine.second(profile, clusters))
        if again is not None:
            back = _result(again)
            if back is None:  # the worker failed in the second round
                local = _here(there, fetch, picked, profile)
            else:
                found.update(_SECOND.decode(back))
        if local is not None:
            found.update(local.second(profile, clusters))
    mark("failures explained (two halves)")
    return mine.state, [found[pos] for pos in sorted(found)], exchanges


def _here(half: Half, fetch: Fetch, picked: Picked, profile: Profile) -> Folded:
    """A half folded in this process: the worker's, when it could not."""
    return folded(fetch(half.rows), half.rows["pos"].to_list(), half, picked.roots)


def _submit(pool: Executor, task: Callable[[T], bytes], arg: T) -> Future[bytes] | None:
    try:
        return pool.submit(task, arg)
    except RuntimeError:  # a pool broken or shut down: this process folds the half
        return None


def _result(future: Future[bytes] | None) -> bytes | None:
    """What the worker sent; None when it failed (a broken pool, an error in it)."""
    if future is None:
        return None
    try:
        return future.result()
    except Exception:  # any failure there: the half is folded here instead
        return None


def job_for(
    picked: Picked,
    path: Path,
    source: str,
    full: dict[int, Exchange],
    offset: float,
    profile: Profile,
) -> Job:
    """What the worker gets for the second half: `full` holds the exchanges the read
    decoded in full (raw records), of which the half's go along."""
    half = picked.halves[1]
    lines = set(half.rows["line"].to_list())
    theirs = {n: x for n, x in full.items() if n in lines}
    return Job(path, source, half, _ENCODE.encode(theirs), picked.roots, offset, profile)
