"""`classify`'s two passes over a split timeline: per part, then across parts.

Each part (`split.Part`) runs the per-token pass on its own indexes and sends back its
findings and the failures it left unexplained, on the whole timeline's positions. The driver
forms the outage clusters from all parts' unexplained failures with `classify`'s own
`outage_clusters` (so the background rate is the whole provider's), then each part that has
clustered failures explains those again with their clusters. The findings equal `classify`'s
on the whole timeline, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from qbtrace import lineage as lineage_mod
from qbtrace.classify import explain, left_open, outage_clusters
from qbtrace.collector import paused_gc
from qbtrace.events import TokenRequest
from qbtrace.lineage import Lineage
from qbtrace.model import Exchange, Finding
from qbtrace.profile import Profile
from qbtrace.rules.common import Context
from qbtrace.split import Part, split

Clusters = Mapping[int, tuple[TokenRequest, ...]]
"""Whole-timeline position of a failure → the other failures of its outage cluster."""
T = TypeVar("T")
R = TypeVar("R")


class Piece(Protocol):
    """What the rounds need of a part without decoding it: its token requests' positions."""

    @property
    def seqs(self) -> Sequence[int]: ...


class Engine(Protocol):
    """Where the parts run (`engines`): `place` hands the parts out once, `map` runs a task
    on each placed part with that part's argument and returns the results in order."""

    def place(self, parts: Sequence[Any], profile: Profile) -> list[Any]: ...

    def map(
        self, task: Callable[[Any, Profile, T], R], placed: Sequence[Any], args: Sequence[T]
    ) -> list[R]: ...


@dataclass(frozen=True, slots=True)
class FirstPass:
    """What a part sends back after the per-token pass."""

    findings: tuple[tuple[int, Finding], ...]
    """(whole-timeline position, finding) of each failure of the part."""
    open: tuple[TokenRequest, ...]
    """Failures left unexplained, with their whole-timeline positions as `seq`."""
    roots: dict[str, str]
    """Token hex → lineage id, for the tokens the unexplained failures presented."""


def first_pass(part: Part, profile: Profile, _: None = None) -> FirstPass:
    state = _built(part.exchanges)
    return explained(state, profile, ((part.seqs[r.seq], r) for r in state.requests if not r.ok))


def explained(
    state: Lineage, profile: Profile, failures: Iterable[tuple[int, TokenRequest]]
) -> FirstPass:
    """The per-token pass on `failures` of `state`, each given with its whole-timeline
    position (what the open ones carry as `seq`)."""
    found, unexplained, roots = [], [], {}
    for seq, f in failures:
        finding = explain(Context(state, profile, f))
        found.append((seq, finding))
        if left_open(f, finding):
            unexplained.append(replace(f, seq=seq))
            token = f.presented
            root = state.lineage_of(token) if token is not None else None
            if token is not None and root is not None:
                roots[token.hex] = root
    return FirstPass(tuple(found), tuple(unexplained), roots)


def second_pass(part: Part, profile: Profile, clusters: Clusters) -> list[tuple[int, Finding]]:
    """The clustered failures of the part explained again with their clusters."""
    state = _built(part.exchanges)
    return [
        (seq, explain(Context(state, profile, f, clusters[seq])))
        for f in state.requests
        if (seq := part.seqs[f.seq]) in clusters
    ]


def _built(exchanges: Sequence[Exchange]) -> Lineage:
    """`lineage.build` with the cyclic GC paused, as `analysis.analyze_timeline` does."""
    with paused_gc():
        return lineage_mod.build(list(exchanges))


def clusters_of(
    results: Sequence[FirstPass], profile: Profile
) -> dict[int, tuple[TokenRequest, ...]]:
    """The outage clusters of all parts' unexplained failures, in timeline order, keyed by
    position: `outage_clusters` reads only the lineage ids of the tokens they presented."""
    keys = Lineage()
    for result in results:
        keys.root.update(result.roots)
    failures = sorted((f for result in results for f in result.open), key=lambda f: f.seq)
    return outage_clusters(failures, keys, profile)


def findings(
    exchanges: Sequence[Exchange], profile: Profile, parts: int, engine: Engine
) -> list[Finding]:
    """`classify(lineage.build(exchanges), profile)`, run as parts on `engine`."""
    return in_two_rounds(split(exchanges, profile, parts), profile, engine)


def in_two_rounds(
    pieces: Sequence[Piece],
    profile: Profile,
    engine: Engine,
    first: Callable[[Any, Profile, None], FirstPass] = first_pass,
    second: Callable[[Any, Profile, Clusters], list[tuple[int, Finding]]] = second_pass,
    again: Callable[[Clusters], Sequence[Piece]] | None = None,
) -> list[Finding]:
    """The findings of every piece's failures, in timeline order: `first` on each piece,
    the outage clusters across them, `second` on the pieces with clustered failures (those
    `again` makes for the clusters, when given: pieces of the clustered failures'
    components alone). A piece is a `Part`, or what `first` and `second` make one from
    (`streamed.Spec`)."""
    placed = engine.place(pieces, profile)
    results = engine.map(first, placed, [None] * len(pieces))
    clusters = clusters_of(results, profile)
    found = {seq: finding for result in results for seq, finding in result.findings}
    if again is not None and clusters:
        pieces = again(clusters)
        placed = engine.place(pieces, profile)
    wanted = [dict(_mine(piece, clusters)) for piece in pieces]
    redo = [(p, w) for p, w in zip(placed, wanted, strict=True) if w]
    if redo:
        redone = engine.map(second, [p for p, _ in redo], [w for _, w in redo])
        found.update(pair for result in redone for pair in result)
    return [found[seq] for seq in sorted(found)]


def _mine(part: Piece, clusters: Clusters) -> Iterator[tuple[int, tuple[TokenRequest, ...]]]:
    for seq in part.seqs:
        cluster = clusters.get(seq)
        if cluster is not None:
            yield seq, cluster
