"""`qbtrace analyze DIR` of a dataset in memory bounded by its largest partition.

Reading every row into an `Exchange` and folding them all (`dataset.read_dataset`) holds
the whole dataset. Here:

1. An index pass reads one partition at a time and decodes of each row's record only what
   the split and the clock check read (`IndexRecord`: msgspec skips the rest, 20x faster
   than a whole record): the links of `split.links` as 64-bit hashes, and a few columns
   per row (kind, ok, provider, client, time, where the row is). About 100 bytes a row.
2. Union-find over the links gives `split.components`' components (two keys whose hashes
   collide only join two components, which changes no finding). A component without a
   failure makes no finding and no other one looks into it, so it is never decoded; the
   others are packed, in time order, into parts no bigger than the largest partition, each
   with the copies `split.split` gives a part (the browser's steps, the disconnects, what
   rules look up by client id).
3. The parts run `passes.in_two_rounds` on the engine of `--jobs`/`--scheduler`: each task
   reads its part's rows back from the partitions (a `Spec`, not the exchanges, is sent)
   and decodes them in full. The cross-part steps come from the index: the clock offset
   (`clocks.offset_of`'s median), the counts the outputs show, the timeline positions.

Taken for one dataset rendered as JSON or text, holding one input that is not a log (no
log↔capture join, no duplicates across inputs to drop) and some token requests; anything
else is read whole as before (`analyze` returns None).
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import msgspec
import polars as pl  # this module is imported only when a dataset is analyzed

from qbtrace.analysis import Analysis, Counts, clock_said
from qbtrace.clocks import THRESHOLD, corrected_note
from qbtrace.dataset import Described, exchange_of, inputs_of, partition_files
from qbtrace.errors import InputError
from qbtrace.lineage import Lineage
from qbtrace.model import (
    TOKEN_NOT_LOGGED,
    ClientAuth,
    Exchange,
    Finding,
    Gap,
    Input,
    Kind,
    Ref,
    Value,
)
from qbtrace.passes import Clusters, Engine, FirstPass, first_pass, in_two_rounds, second_pass
from qbtrace.profile import Profile
from qbtrace.redact import Secret
from qbtrace.split import SHARED, Part, client_key, find_root, links, union


class _Params(msgspec.Struct):
    grant_type: Value = None
    code: Value = None
    refresh_token: Value = None
    token: Value = None
    tenant: Value = None

    def get(self, name: str) -> object:
        return getattr(self, name, None)


class _Reply(msgspec.Struct):
    access_token: Value = None
    refresh_token: Value = None

    def get(self, name: str) -> object:
        return getattr(self, name, None)


class IndexRecord(msgspec.Struct):
    """The fields of a row's record that `split.links`, `split.client_key` and the
    providers' `server_time` read."""

    kind: Kind
    url: str
    status: int | None
    started: float | None = None
    params: _Params = msgspec.field(default_factory=_Params)
    reply: _Reply = msgspec.field(default_factory=_Reply)
    headers: dict[str, str] = {}
    client: ClientAuth | None = None
    gaps: tuple[Gap, ...] = ()


_INDEX = msgspec.json.Decoder(IndexRecord)
BUCKETS = 16
_PAIRS = {"rid": pl.Int32, "key": pl.Int64}
_SCHEMA = {"kind": pl.Categorical, "status": pl.Int64, "started": pl.Float64,
           "provider": pl.Categorical, "ckey": pl.Categorical, "secret": pl.Categorical,
           "consent": pl.Boolean, "gap": pl.Boolean, "request_id": pl.String, "date": pl.String,
           "row": pl.Int32}  # fmt: skip
"""Categorical strings: a row's index is about 60 bytes, not 150."""


def _light(r: IndexRecord, ref: Ref) -> Exchange:
    """The exchange as far as the index needs it."""
    params = {k: v for k in _Params.__struct_fields__ if (v := getattr(r.params, k)) is not None}
    reply = {k: v for k in _Reply.__struct_fields__ if (v := getattr(r.reply, k)) is not None}
    return Exchange(ref, r.kind, r.started, None, "", r.url, params, r.status, None, reply,
                    r.headers, r.client, r.gaps)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Spec:
    """A part as its rows' places: what a task reads back and decodes (`load`)."""

    number: int
    rows: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]
    """(partition file, its rows, their timeline positions), for each file it reads."""
    seqs: tuple[int, ...]
    """Whole-timeline positions of its token requests, in order (`split.Part.seqs`)."""
    source: str
    shift: float
    """Seconds added to every time (the input's clock offset, when corrected)."""


def load(spec: Spec) -> Part:
    """The part's exchanges, decoded from their partitions, in timeline order."""
    placed: list[tuple[int, Exchange]] = []
    for file, rows, positions in spec.rows:
        try:
            frame = pl.read_parquet(file, columns=["index", "record"])[list(rows)]
            for (index, record), pos in zip(frame.iter_rows(), positions, strict=True):
                placed.append((pos, exchange_of(record, Ref(spec.source, index))))
        except (pl.exceptions.PolarsError, OSError, msgspec.DecodeError) as exc:
            raise InputError(f"a partition cannot be read ({exc})", source=file) from None
    placed.sort(key=lambda p: p[0])
    exchanges = tuple(_shifted(x, spec.shift) for _, x in placed)
    return Part(spec.number, exchanges, spec.seqs)


def _shifted(x: Exchange, shift: float) -> Exchange:
    if not shift:
        return x
    started = None if x.started is None else x.started + shift
    return replace(x, started=started, ended=None if x.ended is None else x.ended + shift)


def first_of(spec: Spec, profile: Profile, _: None = None) -> FirstPass:
    return first_pass(load(spec), profile)


def second_of(spec: Spec, profile: Profile, clusters: Clusters) -> list[tuple[int, Finding]]:
    return second_pass(load(spec), profile, clusters)


def analyze(
    path: Path, profile: Profile, engine: Engine, part_rows: int | None = None
) -> Analysis | None:
    """The analysis `analyze_inputs(read_dataset(path))` gives, holding one part at a time;
    None when the dataset is not one this module takes (see the module docstring)."""
    made = plan(path, profile, part_rows)
    if made is None:
        return None
    specs = made.specs(made.failing())
    found = in_two_rounds(specs, profile, engine, first_of, second_of, again=made.clustered)
    inputs = (made.input,)
    findings = sorted((clock_said(f, inputs, profile) for f in found), key=lambda f: f.ref.index)
    return Analysis(inputs, tuple(findings), Lineage(), profile, made.counts)


def plan(path: Path, profile: Profile, part_rows: int | None = None) -> Plan | None:
    """The index of the dataset and what the parts are made from (parts of `part_rows`
    rows, or of the largest partition's); None when `analyze` does not take it."""
    described = inputs_of(path)
    if len(described) != 1 or described[0].kind == "log":
        return None
    item = described[0]
    files = partition_files(path)
    try:
        rows, linked = _index(files, item.source, profile)
    except (pl.exceptions.PolarsError, OSError, msgspec.DecodeError) as exc:
        raise InputError(f"a partition cannot be read ({exc})", source=str(path)) from None
    tokens = rows.filter(pl.col("kind") == Kind.TOKEN.value)
    if tokens.is_empty() or rows["gap"].any():
        return None  # the notes need the whole lineage; a log line's gap, the whole timeline
    roots = _roots(rows.height, linked).tolist()
    del linked
    rows = rows.with_columns(pl.Series("root", roots, dtype=pl.Int64))
    shift, warnings = _clock(rows, item, profile)
    rows = _positions(rows, shift)
    counts = _counts(rows, tokens, item.source, profile)
    read = Input(item.source, item.kind, item.entries, (), warnings, item.format, item.others)
    return Plan(rows.select(KEPT), files, read, shift, counts, part_rows)


def _index(
    files: Sequence[Path], source: str, profile: Profile
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The index pass, a file at a time: the rows' columns, and the rows linked (`_linked`)."""
    frames: list[pl.DataFrame] = []
    pairs: list[pl.DataFrame] = []
    start = 0
    for number, file in enumerate(files):
        part = pl.read_parquet(file, columns=["source", "index", "record"])
        if part.height and (part["source"] != source).any():
            raise InputError("rows of an input inputs.json does not list", source=str(file))
        columns, rids, keys = _indexed(part["record"].to_list(), profile, start)
        columns["index"] = part["index"]
        frame = _clocked(pl.DataFrame(columns, schema_overrides=_SCHEMA), profile)
        frames.append(frame.with_columns(pl.lit(number, pl.Int32).alias("file")))
        pairs.append(pl.DataFrame({"rid": rids, "key": keys}, schema=_PAIRS))
        start += part.height
        del part, columns, rids, keys
    rows = pl.concat(frames)
    del frames
    return rows.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("rid")), _linked(pairs)


def _linked(pairs: list[pl.DataFrame]) -> pl.DataFrame:
    """(row, row before it with the same link hash) for every repeated hash: the pairs
    sorted by hash, a sixteenth of the hashes at a time (a sort of them all at once held
    80 MB more at 320k rows; joining each row to its hash's first row, more still)."""
    edges = pl.concat(pairs)
    pairs.clear()
    same = pl.col("key") == pl.col("key").shift()
    out = [
        edges.lazy()
        .filter(pl.col("key") % BUCKETS == bucket)
        .sort("key")
        .select("rid", pl.col("rid").shift().alias("b"), same.alias("same"))
        .filter("same")
        .select("rid", "b")
        .collect()
        for bucket in range(BUCKETS)
    ]
    return pl.concat(out)


_NAMES = ("kind", "status", "started", "provider", "ckey", "secret", "consent", "gap",
          "request_id", "date")  # fmt: skip


def _indexed(
    records: list[str], profile: Profile, start: int
) -> tuple[dict[str, object], array[int], array[int]]:
    """The columns of one partition's rows, and their links' (row, hash) pairs."""
    kind, status, started, provider, ckey, secret, consent, gap, said, date = ([] for _ in _NAMES)
    rids: array[int] = array("q")
    keys: array[int] = array("q")
    decode = _INDEX.decode
    for row, record in enumerate(records):
        r = decode(record)
        named = profile.provider_of(r.url)
        kind.append(r.kind.value)
        status.append(r.status)
        started.append(r.started)
        provider.append(named.name)
        ckey.append(next(client_key(r, profile), None))
        auth = r.client.secret if r.client is not None else None
        secret.append(auth.hex if isinstance(auth, Secret) else None)
        consent.append(r.params.grant_type == "authorization_code")
        gap.append(TOKEN_NOT_LOGGED in r.gaps)
        header = named.request_id_header
        said.append(r.headers.get(header) if header else None)
        date.append(r.headers.get("date"))
        if r.kind not in SHARED:
            for key in links(r, profile):
                rids.append(start + row)
                keys.append(hash(key))
    values = (kind, status, started, provider, ckey, secret, consent, gap, said, date)
    columns: dict[str, object] = dict(zip(_NAMES, values, strict=True))
    columns["row"] = list(range(len(records)))
    return columns, rids, keys


def _clocked(frame: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """The rows with `ok`, whether their provider limits live tokens, and what their
    provider's clock said (`diff`: its time minus the recorded start, as `clocks.offset_of`
    takes it) instead of the request ids and dates it was read from."""
    diff = pl.lit(None, dtype=pl.Float64)
    limited = []
    for name in frame["provider"].unique().to_list():
        provider = profile.named(name)
        server = provider.server_times(frame)
        diff = pl.when(pl.col("provider") == name).then(server - pl.col("started")).otherwise(diff)
        limited += [name] if provider.token_limit else []
    ok = pl.col("status").is_between(200, 299).fill_null(False)
    return frame.with_columns(
        diff.alias("diff"), ok.alias("ok"), pl.col("provider").is_in(limited).alias("limit")
    ).drop("request_id", "date", "status")


def _clock(rows: pl.DataFrame, item: Described, profile: Profile) -> tuple[float, tuple[str, ...]]:
    """`clocks.on_provider_clock` of the input: the shift and the warnings."""
    said = rows.filter(pl.col("diff").is_not_null())
    if said.is_empty():
        return 0.0, item.warnings
    ordered = said["diff"].sort()
    n, half = len(ordered), len(ordered) // 2
    offset = ordered[half] if n % 2 else (ordered[half - 1] + ordered[half]) / 2
    if abs(offset) < THRESHOLD:
        return 0.0, item.warnings
    # Counter.most_common(1): most answers, ties to the first seen (in index order)
    by = said.group_by("provider").agg(pl.len().alias("n"), pl.col("index").min().alias("first"))
    top = by.sort(pl.col("n"), pl.col("first"), descending=[True, False])["provider"][0]
    return float(offset), (*item.warnings, corrected_note(offset, n, profile.named(top)))


def _positions(rows: pl.DataFrame, shift: float) -> pl.DataFrame:
    """Each row's place on the timeline (`events.timeline`: by start, a row without one
    where the row before it in the input was, then by index) and among its token requests.
    The rows stay in `rid` order: sorting the whole index copied it twice."""
    token = pl.col("kind") == Kind.TOKEN.value
    by_index = rows.select("rid", "index", (pl.col("started") + shift).alias("last"), token)
    by_index = by_index.sort("index")
    last = pl.col("last").forward_fill().fill_null(float("-inf"))
    timeline = by_index.with_columns(last).sort("last", "index", maintain_order=True)
    del by_index
    tokens = timeline["kind"].cast(pl.Int64)
    before = (tokens.cum_sum() - tokens).alias("tpos")
    ranked = pl.DataFrame([timeline["rid"], before]).sort("rid")
    pos = timeline["rid"].arg_sort().alias("pos")  # rid k's place on the timeline
    return rows.with_columns(pos, ranked["tpos"])


def _roots(n: int, linked: pl.DataFrame) -> array[int]:
    """The component of every row (`split.components`, on the link hashes)."""
    parent = array("q", range(n))  # 8 bytes a row; a list of ints takes 5 times that
    for chunk in linked.iter_slices(1 << 16):
        for a, b in zip(chunk["rid"].to_list(), chunk["b"].to_list(), strict=True):
            union(parent, a, b)
    for i in range(n):
        parent[i] = find_root(parent, i)
    return parent


KEPT = ("rid", "root", "pos", "tpos", "kind", "ok", "file", "row", "ckey", "secret", "consent",
        "limit")  # fmt: skip
"""The index columns the parts are made from."""


@dataclass
class Plan:
    """The index, and the parts made from it."""

    rows: pl.DataFrame
    files: Sequence[Path]
    input: Input
    """The input as `read_dataset` gives it, without its exchanges, on the providers' clock."""
    shift: float
    counts: Counts
    part_rows: int | None = None

    def __post_init__(self) -> None:
        largest = int(self.rows.group_by("file").len()["len"].max() or 1)  # type: ignore[arg-type]
        self.limit = self.part_rows or largest
        """Rows of the largest partition: about the most a part holds."""
        self.copies = _client_copies(self.rows)
        shared = pl.col("kind").is_in([k.value for k in SHARED])
        self.everyone = self.rows.filter(shared)["rid"].to_list()
        self.own = self.rows.filter(~shared)

    def specs(self, roots: pl.Series) -> list[Spec]:
        """The parts holding the components `roots`, packed in time order into parts of
        about `limit` rows, each with its copies."""
        own = self.own.filter(pl.col("root").is_in(roots.unique().implode()))
        sizes = own.group_by("root").agg(pl.len(), pl.col("pos").min()).sort("pos")
        part_of: dict[int, int] = {}
        number, size = 0, 0
        for root, n, _ in sizes.iter_rows():
            if size and size + n > self.limit:
                number, size = number + 1, 0
            part_of[root] = number
            size += n
        own = own.with_columns(pl.col("root").replace_strict(part_of).alias("part"))
        out = []
        for (k,), mine in own.group_by("part", maintain_order=True):
            clients = mine["ckey"].drop_nulls().unique().to_list()
            extra = [*self.everyone, *(r for c in clients for r in self.copies.get(c, ()))]
            picked = pl.concat([mine.drop("part"), self.rows.filter(pl.col("rid").is_in(extra))])
            out.append(_spec(int(k), picked.unique("rid").sort("pos"), self))
        return out

    def failing(self) -> pl.Series:
        """The components holding a failure: the first round's."""
        token = pl.col("kind") == Kind.TOKEN.value
        return self.rows.filter(token & ~pl.col("ok"))["root"]

    def clustered(self, clusters: Clusters) -> list[Spec]:
        """The second round's parts: only the components of the clustered failures."""
        token = pl.col("kind") == Kind.TOKEN.value
        wanted = pl.Series(list(clusters), dtype=pl.Int64).implode()
        return self.specs(self.rows.filter(token & pl.col("tpos").is_in(wanted))["root"])


def _spec(number: int, rows: pl.DataFrame, plan: Plan) -> Spec:
    places = []
    for (file,), group in rows.group_by("file", maintain_order=True):
        places.append((str(plan.files[file]), tuple(group["row"]), tuple(group["pos"])))
    seqs = tuple(rows.filter(pl.col("kind") == Kind.TOKEN.value)["tpos"])
    return Spec(number, tuple(places), seqs, plan.input.source, plan.shift)


def _client_copies(rows: pl.DataFrame) -> dict[str, list[int]]:
    """`split.client_shared` from the index: per client, the rows of the first success
    with each secret, and the successful code exchanges where the provider limits tokens."""
    ok = rows.filter(
        (pl.col("kind") == Kind.TOKEN.value) & pl.col("ok") & pl.col("ckey").is_not_null()
    )
    ok = ok.sort("pos")
    first = ok.filter(pl.col("secret").is_not_null()).unique(
        ["ckey", "secret"], keep="first", maintain_order=True
    )
    picked = pl.concat([first, ok.filter(pl.col("consent") & pl.col("limit"))]).unique("rid")
    out: dict[str, list[int]] = defaultdict(list)
    for client, rid in picked.select("ckey", "rid").iter_rows():
        out[client].append(rid)
    return out


def _counts(rows: pl.DataFrame, tokens: pl.DataFrame, source: str, profile: Profile) -> Counts:
    """What the outputs count (`Analysis.per_provider`, `providers_of`, `token_requests_of`)."""
    by_provider = dict(tokens.group_by("provider").len().iter_rows())
    by = rows.group_by("provider").agg(pl.len().alias("n"), pl.col("index").min().alias("first"))
    order = by.sort(pl.col("n"), pl.col("first"), descending=[True, False])["provider"].to_list()
    return Counts(tokens.height, by_provider, {source: (tokens.height, order)})
