"""`qbtrace analyze DIR` of a dataset in memory bounded by its largest partition.

Reading every row into an `Exchange` and folding them all (`dataset.read_dataset`) holds
the whole dataset. Here:

1. `dataset_index` reads one partition at a time and keeps a few columns per row: its
   component of `split.components`, its timeline position, what the copies are chosen by.
2. A component without a failure makes no finding and no other one's rules look into it,
   so it is never decoded; the others are packed, in time order, into parts no bigger than
   the largest partition, each with the copies `split.split` gives a part (the browser's
   steps, the disconnects, what rules look up by client id).
3. The parts run `passes.in_two_rounds` on the engine of `--jobs`/`--scheduler`: each task
   reads its part's rows back from the partitions (a `Spec`, not the exchanges, is sent)
   and decodes them in full. The second round runs on parts of the clustered failures'
   components only.

Taken for one dataset rendered as JSON or text, holding one input that is not a log and
some token requests (`dataset_index.index_of`); anything else is read whole as before
(`analyze` returns None).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import msgspec
import polars as pl  # this module is imported only when a dataset is analyzed

from qbtrace.analysis import Analysis, Counts, clock_said
from qbtrace.dataset import exchange_of
from qbtrace.dataset_index import index_of
from qbtrace.errors import InputError
from qbtrace.lineage import Lineage
from qbtrace.model import (
    Exchange,
    Finding,
    Input,
    Kind,
    Ref,
)
from qbtrace.passes import Clusters, Engine, FirstPass, first_pass, in_two_rounds, second_pass
from qbtrace.profile import Profile
from qbtrace.split import SHARED, Part


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
    made = index_of(path, profile)
    if made is None:
        return None
    kept = made.rows.select(KEPT)
    return Plan(kept, made.files, made.input, made.shift, made.counts, part_rows)


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
    limit: int = field(init=False)
    """The most rows of its own a part holds (a larger component alone): `part_rows`, or
    the largest partition's."""
    copies: dict[str, list[int]] = field(init=False)
    """Client key → the rows every part with a request of that client gets."""
    everyone: list[int] = field(init=False)
    """The rows every part gets (`split.SHARED`)."""
    own: pl.DataFrame = field(init=False)
    """The rows of the components (all but those every part gets)."""

    def __post_init__(self) -> None:
        largest = int(self.rows.group_by("file").len()["len"].max() or 1)  # type: ignore[arg-type]
        self.limit = self.part_rows or largest
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
