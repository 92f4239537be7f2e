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

import re
import zlib
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace

import polars as pl

from qbtrace import collector
from qbtrace import lineage as lineage_mod
from qbtrace.classify import classify
from qbtrace.events import TokenRequest
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
FETCHED = ("pos", "line", "offset", "length")
"""The columns a `Fetch` is given: what `skeleton.CaptureSkeleton.exchanges` reads, and the
position `from_exchanges` finds its exchanges by."""


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
    return fold(pick(rows, fetch, profile, mark), fetch, profile, mark)


@dataclass(frozen=True, slots=True)
class Picked:
    """What the rules run on, all a caller needs to keep of the skeleton (`fold`)."""

    rows: pl.DataFrame
    """The rows of the failures' neighbourhoods (`FETCHED` columns), in timeline order
    (none when `halves` hold them)."""
    roots: dict[str, tuple[str, int]]
    """The full fold's lineage ids of the tokens the rules ask about (`lineage_roots`)."""
    halves: tuple[Half, ...] = ()
    """The failures in two halves, each with its neighbourhoods, when asked for and worth it."""


@dataclass(frozen=True, slots=True)
class Half:
    """Some failures and their neighbourhoods' rows (`FETCHED` columns, timeline order):
    folded alone, they explain these failures as the whole fold does (`bulk_halves`)."""

    rows: pl.DataFrame
    own: frozenset[int]
    """The positions (`pos`) of the failures this half explains."""


def pick(
    rows: pl.DataFrame,
    fetch: Fetch,
    profile: Profile,
    mark: Mark = no_marks,
    halves_from: int | None = None,
) -> Picked:
    """The first half of `classify_rows`: the failures' neighbourhoods, from the skeleton.
    A caller that drops its skeleton then (`bulk_capture`) folds them without it. From
    `halves_from` failures, they come in two halves instead, each with its own failures'
    neighbourhoods, to be folded on two cores (`bulk_halves`)."""
    with paused_gc():  # the failures decoded: objects by the hundred thousand, no cycles
        return _pick(rows, fetch, profile, mark, halves_from)


def _pick(
    rows: pl.DataFrame, fetch: Fetch, profile: Profile, mark: Mark, halves_from: int | None
) -> Picked:
    rows = with_positions(rows).drop("status")  # `ok` says what the rules ask of it here
    # only the columns a fetch reads, filtered lazily: an eager filter of the skeleton
    # copies every column of it (at 10M rows, a gigabyte)
    fetched = [c for c in FETCHED if c in rows.columns]
    failing_rows = rows.lazy().filter(TOKEN & ~OK).select(*fetched, "code", "refresh")
    failing = failing_rows.sort("pos").collect()
    revokes = rows.lazy().filter((pl.col("kind") == Kind.REVOKE.value) & OK)
    revoked = set(revokes.select("refresh").collect()["refresh"].drop_nulls().to_list())
    ok = rows.lazy().filter(TOKEN & OK).select("pos", "grant", "code", "refresh", "rt", "at")
    # the lineage ids (polars, which lets go of the interpreter) of what the skeleton says
    # the failures presented, found while this thread decodes the failures in full
    said = {h for c in ("code", "refresh") for h in failing[c].drop_nulls().to_list()}
    with ThreadPoolExecutor(1) as aside:
        ids = aside.submit(lineage_roots, ok, said | revoked)
        failures = fetch(failing.select(fetched))
        positions = failing["pos"].to_list()
        del failing
        mark(f"{len(failures):,} failures decoded")
        keys, deep = _keys(failures, profile)
        roots = ids.result()
    wanted = keys.hexes | revoked
    if wanted <= said | revoked:  # as the full decode has them: the ids of those only
        roots = {h: root for h, root in roots.items() if h in wanted}
    else:  # a value the skeleton read otherwise (never seen): found again, for all
        roots = lineage_roots(ok, wanted)
    mark("token lineages followed")
    limits = any(profile.provider_for(x).token_limit for x in failures)
    spent = ok.select("grant", "refresh", "rt").collect() if deep.hexes else None

    def near(keys: Keys, deep: Keys, failures: bool = True) -> pl.DataFrame:
        """The rows of the neighbourhoods of the failures `keys` and `deep` were read from."""
        found = (roots[h][0] for h in keys.hexes | revoked if h in roots)
        codes = {root[5:] for root in found if root.startswith("code:")}
        if spent is not None and deep.hexes:
            keys.hexes |= ancestors(spent, deep.hexes)
        wanted = neighbourhood(rows, keys, codes, limits, failures)
        return rows.lazy().filter(wanted).select(fetched).sort("pos").collect()

    if any(TOKEN_NOT_LOGGED in x.gaps for x in failures):
        # a log's failures are judged by the requests near them: fold all, in one piece
        picked = rows.lazy().select(fetched).sort("pos").collect()
    elif halves_from is None or len(failures) < halves_from:
        picked = near(keys, deep)
    else:
        split: tuple[list[int], list[int]] = ([], [])
        for n, x in enumerate(failures):
            split[_half_of(x, positions[n], roots)].append(n)
        parts = tuple(
            Half(
                near(*_keys([failures[n] for n in own], profile), failures=False),
                frozenset(map(positions.__getitem__, own)),
            )
            for own in split
        )
        sizes = f"{parts[0].rows.height:,} and {parts[1].rows.height:,} exchanges"
        mark(f"neighbourhoods picked, in two halves ({sizes})")
        return Picked(parts[0].rows.clear(), roots, parts)
    mark(f"neighbourhoods picked ({picked.height:,} exchanges)")
    return Picked(picked, roots)


def _keys(failures: list[Exchange], profile: Profile) -> tuple[Keys, Keys]:
    """What the failures' rules look up, and (`deep`) the tokens whose lineages they walk
    up to the consent."""
    keys, deep = Keys(), Keys()
    for x in failures:  # what `events.token_request` reads as the code and token presented
        code, refresh = _secret(x.params.get("code")), _secret(x.params.get("refresh_token"))
        keys.add(code)
        keys.add(refresh)
        if _walks_up(profile.provider_for(x)):
            deep.add(refresh)
    return keys, deep


def _half_of(x: Exchange, pos: int, roots: dict[str, tuple[str, int]]) -> int:
    """The half a failure is folded in: by its lineage, so one lineage's failures share
    their rows (the same on every run and host)."""
    grant = x.params.get("grant_type")
    token = _secret(x.params.get("code" if grant == CODE_GRANT else "refresh_token"))
    key = f"pos:{pos}" if token is None else roots.get(token.hex, (token.hex,))[0]
    return zlib.crc32(key.encode()) % 2


def fold(
    picked: Picked, fetch: Fetch, profile: Profile, mark: Mark = no_marks
) -> tuple[Lineage, list[Finding], list[Exchange]]:
    """The second half of `classify_rows`: the neighbourhoods decoded, folded, classified
    (with the collector paused throughout: decoding alone ran 3x slower under its scans)."""
    with paused_gc():
        exchanges = fetch(picked.rows)
        mark("neighbourhoods decoded")
        state = lineage_mod.build(exchanges)
        put_roots(state, picked.roots, exchanges, picked.rows["pos"].to_list())
        found = classify(state, profile)
    mark("failures explained")
    return state, found, exchanges


def paused_gc() -> AbstractContextManager[None]:
    """The collector paused, what survives frozen (`collector.paused_gc`)."""
    return collector.paused_gc(freeze=True)


def _secret(value: object) -> Secret | None:
    return value if isinstance(value, Secret) else None


def _walks_up(provider: Provider) -> bool:
    """The provider's rules walk a failure's lineage up to its consent (`rules.ancestry`)."""
    return bool(
        provider.reuse_detection or provider.token_limit or provider.consent_lifetime is not None
    )


def neighbourhood(
    rows: pl.DataFrame, keys: Keys, codes: set[str], consents: bool, failures: bool = True
) -> pl.Expr:
    """The rows the failures' rules can reach (see the module docstring); without
    `failures`, of the other failures only those that presented what these did (a half's
    failures: the others are another half's)."""
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
        | (~OK if failures else pl.lit(False))
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


SHORT_HEX = "^[0-9a-f]{1,12}$"
"""What `redact` writes after a tag's colon (`TAG_HEX` lowercase hex digits)."""


def lineage_roots(ok: pl.DataFrame | pl.LazyFrame, wanted: set[str]) -> dict[str, tuple[str, int]]:
    """Token hex → (the lineage id `Lineage.root` gives it after a full fold, position of
    the success that gave it), for the `wanted` hexes that have one.

    A token's lineage is fixed by the first success that touches it, in the fold's order
    (presented before issued): presented first, it begins its own lineage (`code:<hex>` for
    a code); issued by a code exchange, the code's; issued by a refresh, the presented
    token's, whose own was fixed at the latest by that same request. So each token points
    at a parent or holds its id, and pointer jumping resolves every chain in log(depth)
    steps."""
    code = (pl.col("grant") == CODE_GRANT).fill_null(False)
    tokens = ok.lazy().select("pos", _presented().alias("p"), code.alias("c"), "rt", "at")
    given = sorted(wanted)
    checks = [pl.col(c).str.contains(SHORT_HEX).all(ignore_nulls=True) for c in ("p", "rt", "at")]
    keyed = tokens.with_columns(map(_key, ("p", "rt", "at")))
    valid, base = pl.collect_all([tokens.select(checks), keyed])  # one filter for both
    short = all(valid.row(0)) and all(re.fullmatch(SHORT_HEX, t) for t in given)
    if not short:
        base = tokens.collect()
    del valid, keyed
    want = pl.Series("t", [_key_of(t) for t in given] if short else given, dtype=base["rt"].dtype)
    first = _first_touches(base, want)
    size = int(base.select(pl.col("pos").max().fill_null(-1) + 1).item())
    row_of = _numbers(size).scatter(base["pos"], _numbers(base.height))
    row = row_of.gather(first["key"] // 3)  # the request of each first touch
    first = first.with_columns(
        role=first["key"] % 3, p=base["p"].gather(row), c=base["c"].gather(row)
    ).with_row_index("id")
    del base, row_of, row
    # own: begins a lineage (presented first, or issued with nothing presented); else a
    # code's or, issued by a refresh, the presented token's (a pointer to its first touch)
    own = (pl.col("role") == 0) | pl.col("p").is_null()
    pointing = first.lazy().filter(~own & ~pl.col("c")).select("id", parent="p")
    ids = first.lazy().select(parent="t", pid="id")
    pairs = pointing.join(ids, on="parent", how="inner").collect()
    up = first["id"].scatter(pairs["id"], pairs["pid"])
    del pairs
    while True:
        higher = up.gather(up)
        if higher.equals(up):
            break
        up = higher
    found = first.with_columns(end=up).filter(pl.col("t").is_in(want.implode()))
    # at a chain's end, the lineage id: the token itself when it began its lineage (`code:`
    # for a code presented), the code presented when a code exchange issued it
    ended = first.gather(found["end"]).select(
        pl.when(own).then("t").otherwise("p").alias("root"),
        (pl.col("c") & (~own | (pl.col("role") == 0))).alias("coded"),
    )
    at = (found["key"] // 3).to_list()
    out: dict[str, tuple[str, int]] = {}
    for t, root, coded, n in zip(found["t"], ended["root"], ended["coded"], at, strict=True):
        value = _unkey(root) if short else root
        out[_unkey(t) if short else t] = (f"code:{value}" if coded else value, n)
    return out


def _key(column: str) -> pl.Expr:
    """A short lowercase hex as one integer: its value and its length (`_key_of`). Every
    token a short lowercase hex, as `redact` writes them, their integers stand for them one
    to one; an integer key hashes, groups and joins several times faster than a string, in
    half the memory (at 10M requests, 20M touches). A capture written otherwise is resolved
    on the strings themselves."""
    return (
        pl.col(column).str.to_integer(base=16, strict=False) * 16 + pl.col(column).str.len_bytes()
    ).alias(column)


def _numbers(n: int) -> pl.Series:
    return pl.select(pl.int_range(n, dtype=pl.UInt32)).to_series()


def _key_of(hexed: str) -> int:
    return int(hexed, 16) * 16 + len(hexed)


def _unkey(key: int) -> str:
    return f"{key >> 4:0{key & 15}x}"


def _first_touches(base: pl.DataFrame, wanted: pl.Series) -> pl.DataFrame:
    """Each token's first touch as `key`: 3 × the position of the success that presented
    it (+0) or issued it (+1 refresh token, +2 access token: only those presented somewhere
    or wanted; the others begin nothing the rules ask about)."""
    spent = pl.col("at").is_in(base["p"].drop_nulls().implode()) | pl.col("at").is_in(
        wanted.implode()
    )
    key = pl.col("pos").cast(pl.Int64) * 3
    touches = pl.concat(
        [
            base.lazy().filter(pl.col(c).is_not_null() & keep).select(t=c, key=key + n)
            for n, (c, keep) in enumerate(
                (("p", pl.lit(True)), ("rt", pl.lit(True)), ("at", spent))
            )
        ]
    )
    return touches.group_by("t").agg(pl.col("key").min()).collect()


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


def put_roots(
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


__all__ = [
    "Picked",
    "TokenRequest",
    "classify_rows",
    "fold",
    "from_exchanges",
    "lineage_roots",
    "pick",
]
