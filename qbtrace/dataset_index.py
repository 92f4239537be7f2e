"""The index of a dataset: what splitting it into parts needs, a few columns per row.

`streamed` reads a dataset a part at a time; first, one partition file at a time, this
decodes of each row's record only what the split and the clock check read (`IndexRecord`:
msgspec skips the rest, several times faster than a whole record), and keeps:

- per row, a few categorical columns (kind, ok, provider, client, secret, where the row
  is), then its component (`root`), its timeline position (`pos`) and its position among
  the token requests (`tpos`);
- the links of `split.links` as 64-bit hashes, only until the components are found (two
  links whose hashes collide only join two components, which changes no finding).

The clock offset, the timeline order and the counts the outputs show come from it too.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import polars as pl  # imported only when a dataset is analyzed a part at a time

from qbtrace.analysis import Counts
from qbtrace.clocks import THRESHOLD, corrected_note
from qbtrace.dataset import Described, inputs_of, partition_files
from qbtrace.errors import InputError
from qbtrace.model import TOKEN_NOT_LOGGED, ClientAuth, Gap, Input, Kind, Value
from qbtrace.profile import Profile
from qbtrace.redact import Secret
from qbtrace.split import SHARED, client_key, find_root, links, union


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
"""The index columns of a partition (strings as categoricals: about 50 bytes a row, not 150)."""


@dataclass(frozen=True, slots=True)
class Index:
    """A dataset of one input, indexed."""

    rows: pl.DataFrame
    """A row per exchange, in `rid` order (partition files by day and provider, then rows)."""
    files: list[Path]
    """The partition files, numbered as the rows' `file` says."""
    input: Input
    """The input as `read_dataset` gives it, without its exchanges, on the providers' clock."""
    shift: float
    """Seconds added to its times (the clock offset, when it was corrected)."""
    counts: Counts


def index_of(path: Path, profile: Profile) -> Index | None:
    """The index of a dataset; None when it is not one input with token requests that is
    not a log (several inputs need `events.timeline`'s duplicates dropped, a log the join)."""
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
    return Index(rows, files, read, shift, counts)


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


def _counts(rows: pl.DataFrame, tokens: pl.DataFrame, source: str, profile: Profile) -> Counts:
    """What the outputs count (`Analysis.per_provider`, `providers_of`, `token_requests_of`)."""
    by_provider = dict(tokens.group_by("provider").len().iter_rows())
    by = rows.group_by("provider").agg(pl.len().alias("n"), pl.col("index").min().alias("first"))
    order = by.sort(pl.col("n"), pl.col("first"), descending=[True, False])["provider"].to_list()
    return Counts(tokens.height, by_provider, {source: (tokens.height, order)})
