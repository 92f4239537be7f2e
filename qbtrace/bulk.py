"""Classification in time proportional to the failures: the bulk path of `qbtrace analyze`.

Healthy refreshes are most of a platform's traffic and need no rule run. From the skeleton
(`skeleton`: a few columns per exchange, no `Exchange` objects) this picks each failure's
neighbourhood, everything the rules can ask about it: the requests that sent the token or
code it presented, the responses that issued it (or a value it is an altered copy of: same
canonical form, same prefix), the first success of each client secret, the code that began
its lineage and that code's other uses, every non-token exchange (authorize, callback,
revoke, disconnect: few), and, where the failure's provider has a policy about whole
families (reuse detection, a live-token limit, a lifetime from consent), its ancestors up to
the consent. Only those exchanges are decoded in full; `lineage.build` and `classify` run on
them unchanged. What depends on the whole chain, the lineage each token belongs to, is found
in bulk by pointer jumping over "issued by the request that presented" in polars, and put
into the `Lineage` built on the neighbourhood.

`lineage.build` + `classify` over every exchange (`analysis.analyze_reference`) stays the
reference: tests/test_bulk.py checks that both give the same findings.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import polars as pl

from qbtrace import lineage as lineage_mod
from qbtrace.classify import classify
from qbtrace.events import TokenRequest, token_request
from qbtrace.lineage import Lineage
from qbtrace.model import TOKEN_NOT_LOGGED, Exchange, Finding, Kind
from qbtrace.profile import Profile
from qbtrace.providers import Provider
from qbtrace.redact import Secret
from qbtrace.rules.ancestry import MAX_DEPTH
from qbtrace.skeleton import HEADS

Fetch = Callable[[pl.DataFrame], list[Exchange]]
"""The exchanges of some skeleton rows, in the rows' order."""
Mark = Callable[[str], None]
"""Told the name of each stage as it ends (benchmarks/classify_scale.py --breakdown)."""


def no_marks(stage: str) -> None:
    del stage


TOKEN = pl.col("kind") == Kind.TOKEN.value
OK = pl.col("ok")
CODE_GRANT = "authorization_code"


def with_positions(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows with `ok`, and their position on the timeline (`pos`, the reference's fold
    order) unless they have one: then the rows need not be in timeline order."""
    ok = pl.col("status").is_between(200, 299).fill_null(False).alias("ok")
    if "pos" in rows.columns:
        return rows.with_columns(ok)
    return rows.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("pos"), ok)


@dataclass
class Keys:
    """What the failures' rules look up: hexes and canonical hexes of what they presented,
    and the prefix digests a truncated copy is recognised by (`skeleton.HEADS`)."""

    hexes: set[str] = field(default_factory=set)
    canons: set[str] = field(default_factory=set)
    heads: set[tuple[int, str]] = field(default_factory=set)

    def add(self, token: Secret | None) -> None:
        if token is None:
            return
        self.hexes.add(token.hex)
        self.canons.add(token.canon)
        self.heads.update((n, h) for n, h in token.heads if n in HEADS)


def classify_rows(
    rows: pl.DataFrame, fetch: Fetch, profile: Profile, mark: Mark = no_marks
) -> tuple[Lineage, list[Finding], list[Exchange]]:
    """Findings of a timeline given as skeleton rows (in timeline order): the same as
    `lineage.build` + `classify` of all its exchanges; with the `Lineage` of the
    neighbourhoods and their exchanges."""
    rows = with_positions(rows)
    failures = [token_request(0, x) for x in fetch(rows.filter(TOKEN & ~OK).sort("pos"))]
    mark("failures decoded")
    keys, deep = Keys(), Keys()
    for f in failures:
        keys.add(f.code)
        keys.add(f.refresh)
        if _walks_up(profile.provider_for(f.x)):
            deep.add(f.refresh)
    revokes = rows.lazy().filter((pl.col("kind") == Kind.REVOKE.value) & OK)
    revoked = revokes.select("refresh").collect()["refresh"].drop_nulls()  # a revoke's token
    ok = rows.lazy().filter(TOKEN & OK).select("pos", "grant", "code", "refresh", "rt", "at")
    roots = lineage_roots(ok.collect(), keys.hexes | set(revoked.to_list()))
    codes = {root[5:] for root, _ in roots.values() if root.startswith("code:")}
    mark("lineage ids (pointer jumping)")
    if deep.hexes:
        keys.hexes |= ancestors(ok.select("grant", "refresh", "rt").collect(), deep.hexes)
    limits = any(profile.provider_for(f.x).token_limit for f in failures)
    if any(TOKEN_NOT_LOGGED in f.x.gaps for f in failures):
        picked = rows  # a log's failures are judged by the requests near them: fold all
    else:
        picked = rows.filter(neighbourhood(rows, keys, codes, limits))
    picked = picked.sort("pos")
    exchanges = fetch(picked)
    mark(f"neighbourhoods picked and decoded ({len(exchanges):,} exchanges)")
    with paused_gc():
        state = lineage_mod.build(exchanges)
        _put_roots(state, roots, exchanges, picked["pos"].to_list())
        found = classify(state, profile)
    mark("lineage.build + classify on them")
    return state, found, exchanges


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic collector off: millions of small objects and no cycles, whose repeated
    scans would cost more than the work (see `analysis.analyze_timeline`)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _walks_up(provider: Provider) -> bool:
    """The provider's rules walk a failure's lineage up to its consent (`rules.ancestry`)."""
    return bool(
        provider.reuse_detection or provider.token_limit or provider.consent_lifetime is not None
    )


def neighbourhood(rows: pl.DataFrame, keys: Keys, codes: set[str], consents: bool) -> pl.Expr:
    """The rows the failures' rules can reach (see the module docstring)."""
    hexes = pl.Series(sorted(keys.hexes), dtype=pl.String)
    near = pl.Series(sorted(keys.hexes | keys.canons), dtype=pl.String)
    canons = pl.Series(sorted(keys.canons), dtype=pl.String)
    issued = (
        pl.col("rt").is_in(near.implode())
        | pl.col("at").is_in(near.implode())
        | pl.col("rt_canon").is_in(canons.implode())
        | pl.col("at_canon").is_in(canons.implode())
    )
    for n in HEADS:
        digests = pl.Series(sorted(h for m, h in keys.heads if m == n), dtype=pl.String)
        issued |= pl.col(f"h{n}").is_in(digests.implode())
    credentials = pl.col("client_id").is_not_null() & pl.col("secret").is_not_null()
    firsts = (
        rows.lazy()
        .filter(TOKEN & OK & credentials)
        .group_by("client_id", "secret")
        .agg(pl.col("pos").min())
        .collect()["pos"]
    )
    picked = (
        ~TOKEN
        | ~OK
        | pl.col("code").is_in(pl.Series(sorted(keys.hexes | codes), dtype=pl.String).implode())
        | pl.col("refresh").is_in(hexes.implode())
        | (OK & issued.fill_null(False))
        | pl.col("pos").is_in(firsts.implode())
    )
    if consents:  # a live-token limit counts the consents of a client
        picked |= OK & (pl.col("grant") == CODE_GRANT)
    return picked.fill_null(False)


def _presented() -> pl.Expr:
    return pl.when(pl.col("grant") == CODE_GRANT).then(pl.col("code")).otherwise(pl.col("refresh"))


def lineage_roots(ok: pl.DataFrame, wanted: set[str]) -> dict[str, tuple[str, int]]:
    """Token hex → (the lineage id `Lineage.root` gives it after a full fold, position of
    the success that gave it), for the `wanted` hexes that have one.

    A token's lineage is fixed by the first success that touches it, in the fold's order
    (presented before issued): presented first, it begins its own lineage (`code:<hex>` for
    a code); issued by a code exchange, the code's; issued by a refresh, the presented
    token's, whose own was fixed at the latest by that same request. So each token points
    at a parent or holds its id, and pointer jumping resolves every chain in log(depth)
    steps."""
    code = (pl.col("grant") == CODE_GRANT).fill_null(False)
    base = ok.select("pos", _presented().alias("p"), code.alias("c"), "rt", "at")
    given = pl.Series(sorted(wanted), dtype=pl.String)
    presented = base.filter(pl.col("p").is_not_null()).select(
        pl.col("p").alias("t"),
        "pos",
        pl.lit(0).alias("role"),
        pl.when("c").then(pl.lit("code:") + pl.col("p")).otherwise("p").alias("value"),
        pl.lit(None, dtype=pl.String).alias("parent"),
    )
    parents = presented["t"].unique()
    issued = [
        base.filter(pl.col(column).is_not_null() & keep).select(
            pl.col(column).alias("t"),
            "pos",
            pl.lit(role).alias("role"),
            pl.when(pl.col("p").is_null())
            .then(pl.col(column))
            .when("c")
            .then(pl.lit("code:") + pl.col("p"))
            .alias("value"),
            pl.when(pl.col("p").is_null() | pl.col("c")).then(None).otherwise("p").alias("parent"),
        )
        for column, role, keep in (
            ("rt", 1, pl.lit(True)),
            ("at", 2, pl.col("at").is_in(parents.implode()) | pl.col("at").is_in(given.implode())),
        )
    ]
    touches = pl.concat([presented, *issued])
    first = (
        touches.sort(pl.col("pos") * 3 + pl.col("role"))  # one integer key: a cheaper sort
        .unique("t", keep="first", maintain_order=False)
        .select("t", "value", "parent", "pos")
    )
    first = _resolve(first)
    found = first.filter(pl.col("t").is_in(given.implode()) & pl.col("value").is_not_null())
    return {t: (v, p) for t, v, p in found.select("t", "value", "pos").iter_rows()}


def _resolve(table: pl.DataFrame) -> pl.DataFrame:
    """Every row's `value` taken from the end of its chain of `parent`s: each row gets an
    id and points at its parent's (a row holding its value, at itself), then `up =
    up[up]` until nothing moves, log2(depth) gathers over the whole table."""
    table = table.with_row_index("id")
    ids = table.select(pl.col("t").alias("parent"), pl.col("id").alias("pid"))
    # a parent never touched cannot happen on a real fold: such a row keeps no value
    pointing = table.lazy().filter(pl.col("value").is_null()).select("id", "parent")
    pairs = pointing.join(ids.lazy(), on="parent", how="inner").collect()
    up = table["id"].scatter(pairs["id"], pairs["pid"])
    while True:
        higher = up.gather(up)
        if higher.equals(up):
            break
        up = higher
    return table.with_columns(table["value"].gather(up).alias("value"))


def ancestors(ok: pl.DataFrame, hexes: set[str]) -> set[str]:
    """The tokens the lineages of `hexes` spent before them, up to the code exchange: the
    refresh tokens presented by the responses that issued each, transitively."""
    issued_by = ok.filter(pl.col("grant") == "refresh_token").select("rt", "refresh")
    seen, frontier = set(hexes), set(hexes)
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        step = issued_by.filter(
            pl.col("rt").is_in(pl.Series(sorted(frontier), dtype=pl.String).implode())
        )
        frontier = set(step["refresh"].drop_nulls().to_list()) - seen
        seen |= frontier
    return seen


def _put_roots(
    state: Lineage,
    roots: dict[str, tuple[str, int]],
    exchanges: list[Exchange],
    positions: list[int],
) -> None:
    """The lineage ids of the full fold for the tokens the rules ask about, and the revokes
    filed under the lineage their token had when the revoke was folded."""
    for hexed, (root, _) in roots.items():
        state.root[hexed] = root
    state.revoked_roots = defaultdict(list)
    for x, pos in zip(exchanges, positions, strict=True):
        named = x.params.get("token")
        if x.kind == Kind.REVOKE and x.ok and isinstance(named, Secret):
            got = roots.get(named.hex)
            if got is not None and got[1] < pos:
                state.revoked_roots[got[0]].append(x)


def from_exchanges(exchanges: list[Exchange], profile: Profile) -> tuple[Lineage, list[Finding]]:
    """The bulk path on exchanges already in timeline order (any reader's): what the
    differential test compares with `analysis.analyze_timeline`."""
    from qbtrace.skeleton import from_exchanges as skeleton_of

    rows = skeleton_of(exchanges)

    def fetch(picked: pl.DataFrame) -> list[Exchange]:
        return [exchanges[i] for i in picked["pos"].to_list()]

    state, findings, _ = classify_rows(rows, fetch, profile)
    return state, findings


def shifted(x: Exchange, offset: float) -> Exchange:
    return replace(
        x,
        started=None if x.started is None else x.started + offset,
        ended=None if x.ended is None else x.ended + offset,
    )


__all__ = ["TokenRequest", "classify_rows", "from_exchanges", "lineage_roots"]
