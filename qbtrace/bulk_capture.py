"""`qbtrace analyze` of one big capture by the bulk path: skeleton, neighbourhoods, rules.

What `read_input` + `analyze_inputs` do for a capture, step by step, on the skeleton
(`skeleton.CaptureSkeleton`) instead of an `Exchange` per line: the capture's warnings, the
providers' clock check (`clocks`), the timeline order, then `bulk.pick` and `bulk.fold`
(`bulk.classify_rows` in two steps, the skeleton dropped between them); counts come from
the skeleton. A capture big enough to be read by two processes keeps the read's worker
for the fold, which folds half the failures (`bulk_halves`). The file is streamed, never
loaded whole, so a capture larger than memory (or than QBTRACE_MAX_INPUT_MB) is read too.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

from qbtrace.analysis import Analysis, Counts, clock_said
from qbtrace.clocks import THRESHOLD, corrected_note
from qbtrace.model import Exchange, Input, InputKind
from qbtrace.profile import Profile
from qbtrace.providers import Provider
from qbtrace.redact import Redactor
from qbtrace.sources.capture import CAPTURE_MARK

if TYPE_CHECKING:  # polars and the bulk path load only when a capture takes it (`takes`)
    from concurrent.futures import Executor

    import polars as pl

    from qbtrace.bulk import Mark
    from qbtrace.skeleton import CaptureSkeleton

BULK_FROM = 32 << 20
"""Captures from this size take the bulk path; smaller ones read faster whole."""
PARALLEL_FROM = 256 << 20
"""Captures from this size are decoded by several processes (starting them takes ~1 s)."""
JOBS = 4
NONSENSE = (
    "{count} exchanges hold times or lifetimes that cannot be real (a year before 1970 "
    "or after 2200, nan, negative or centuries-long lifetimes); those values were ignored"
)


def takes(path: Path, smallest: int | None = None) -> bool:
    """A plain (not compressed) capture file of at least `smallest` bytes (BULK_FROM)."""
    try:
        if not path.is_file() or path.stat().st_size < (smallest or BULK_FROM):
            return False
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head[:1] == b"{" and CAPTURE_MARK in head.split(b"\n", 1)[0]


def analyze_capture(
    path: Path,
    source: str,
    profile: Profile,
    redactor: Redactor,
    mark: Mark | None = None,
    pool: Executor | None = None,
    halves_from: int | None = None,
) -> Analysis:
    """The analysis `analyze_inputs(read_all([path]))` gives, in time and memory that grow
    with the failures' neighbourhoods rather than with the capture (the skeleton aside).
    Half the failures are folded in `pool` (default: the parallel read's worker, kept)
    when there are `halves_from` (default `bulk_halves.SPLIT_FROM`) or more."""
    from qbtrace.bulk import no_marks
    from qbtrace.skeleton import CaptureSkeleton, HeaderOf

    mark = mark or no_marks
    hosts, default = profile.request_id_headers()
    names = tuple(sorted({h for h in (*hosts.values(), default) if h}))
    jobs = min(os.cpu_count() or 1, JOBS) if path.stat().st_size >= PARALLEL_FROM else 1
    reader = CaptureSkeleton(path, source, redactor, HeaderOf(hosts, default), names, jobs=jobs)
    reader.kept = functools.partial(with_clock, profile=profile)  # pickled to the workers
    reader.keep_pool = True  # the read's worker folds half the failures (`bulk_halves`)
    try:
        return _analyze(reader, profile, redactor, mark, pool, halves_from)
    finally:
        if reader.pool is not None:
            reader.pool.shutdown(cancel_futures=True)


def _analyze(
    reader: CaptureSkeleton,
    profile: Profile,
    redactor: Redactor,
    mark: Mark,
    pool: Executor | None,
    halves_from: int | None,
) -> Analysis:
    import polars as pl

    from qbtrace.bulk import fold, paused_gc, pick, shifted

    path, source = reader.path, reader.source
    with paused_gc():
        rows = in_one_piece(reader.read())
    mark(f"read {rows.height:,} exchanges ({reader.jobs} process{'es' if reader.jobs > 1 else ''})")
    warnings = list(reader.parsed.warnings(redactor))
    if reader.nonsense:
        warnings.append(NONSENSE.format(count=reader.nonsense))
    offset, count, provider = clock_offset(rows, profile)
    moved = abs(offset) >= THRESHOLD
    if moved:
        rows = rows.with_columns(pl.col("started") + offset, pl.col("ended") + offset)
        warnings.append(corrected_note(offset, count, provider))
    # the timeline's order (events.timeline: by start, a line without one where the line
    # before it was, then by line), as positions: the rows stay in file order, uncopied
    order = pl.arg_sort_by(pl.col("started").forward_fill().fill_null(float("-inf")), "line")
    rows = rows.with_columns(positions(rows.select(order).to_series()))
    tally = counts(rows, source, profile)
    rows = rows.drop("started", "ended", "diff", "url")  # what the neighbourhoods never read
    mark("clocks compared, timeline ordered")

    def fetch(picked: pl.DataFrame) -> list[Exchange]:
        got = reader.exchanges(picked)
        return [shifted(x, offset) for x in got] if moved else got

    pool = pool or reader.pool
    if pool is not None and halves_from is None:
        from qbtrace.bulk_halves import SPLIT_FROM as halves_from
    picked = pick(rows, fetch, profile, mark, halves_from if pool else None)
    del rows  # the skeleton's memory is the exchanges' now
    if picked.halves and pool is not None:
        from qbtrace.bulk_halves import fold_halves, job_for

        job = job_for(picked, path, source, reader.full, offset if moved else 0.0, profile)
        state, found, exchanges = fold_halves(picked, fetch, job, pool, profile, mark)
    else:
        state, found, exchanges = fold(picked, fetch, profile, mark)
    item = Input(source, InputKind.CAPTURE, reader.parsed.lines, tuple(exchanges), tuple(warnings))
    findings = sorted((clock_said(f, (item,), profile) for f in found), key=lambda f: f.ref.index)
    return Analysis((item,), tuple(findings), state, profile, tally)


def positions(order: pl.Series) -> pl.Series:
    """Each row's position in `order` (the rows' indexes, timeline first): the inverse
    permutation, scattered in one pass instead of sorting `order` again (at 10M rows, a
    third of the time)."""
    import polars as pl

    def numbers() -> pl.Series:  # two: `scatter` writes into the series it is called on
        return pl.select(pl.int_range(order.len(), dtype=pl.UInt32)).to_series()

    return numbers().scatter(order, numbers()).alias("pos")


def in_one_piece(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with each column in one chunk, copied a column at a time so that each
    column's chunks are freed as it is copied. Left as read (a chunk per 32 MB of the
    file), the first column added (`pos`) is cut at other rows than the rest, and polars
    then copies the whole skeleton at once to align them: at 10M rows, 2 GB more."""
    import polars as pl

    return pl.DataFrame([frame.drop_in_place(name).rechunk() for name in frame.columns])


def _with_providers(rows: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    import polars as pl

    names = {u: profile.provider_of(u).name for u in rows["url"].unique().to_list()}
    provider = pl.col("url").replace_strict(names, return_dtype=pl.String)
    return rows.with_columns(provider.alias("provider"))


def with_clock(frame: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """A chunk's columns with what its providers' clocks said (`server_times`) as one
    difference a row (`diff`: provider's time minus the recorded start), instead of the
    request ids and dates it was read from."""
    import polars as pl

    frame = _with_providers(frame, profile)
    diff = pl.lit(None, dtype=pl.Float64)
    for name in frame["provider"].unique().to_list():
        server = profile.named(name).server_times(frame)
        diff = pl.when(pl.col("provider") == name).then(server - pl.col("started")).otherwise(diff)
    return frame.with_columns(diff.alias("diff")).drop("request_id", "date", "provider")


def clock_offset(rows: pl.DataFrame, profile: Profile) -> tuple[float, int, Provider]:
    """`clocks.offset_of` of the skeleton's input: the median difference between the
    providers' clocks and the recorded starts, how many answers said, and who said most."""
    import polars as pl

    said = _with_providers(
        rows.lazy().filter(pl.col("diff").is_not_null()).select("url", "line", "diff").collect(),
        profile,
    )
    if said.is_empty():
        return 0.0, 0, profile.default
    ordered = said["diff"].sort()
    n = len(ordered)
    half = n // 2
    median = ordered[half] if n % 2 else (ordered[half - 1] + ordered[half]) / 2
    # Counter.most_common: most answers first, ties in the order first seen (file order)
    by = said.group_by("provider").agg(pl.len().alias("n"), pl.col("line").min().alias("first"))
    top = by.sort(pl.col("n"), pl.col("first"), descending=[True, False])["provider"][0]
    return float(median), n, profile.named(top)


def counts(rows: pl.DataFrame, source: str, profile: Profile) -> Counts:
    import polars as pl

    token = (pl.col("kind") == "token").alias("token")
    per_url = rows.group_by("url").agg(
        pl.len().alias("n"), token.sum().alias("tokens"), pl.col("line").min().alias("first")
    )
    by = (
        _with_providers(per_url, profile)
        .group_by("provider")
        .agg(pl.col("n").sum(), pl.col("tokens").sum(), pl.col("first").min())
    )
    order = by.sort(pl.col("n"), pl.col("first"), descending=[True, False])
    by_provider = {p: t for p, t in order.select("provider", "tokens").iter_rows() if t}
    tokens = sum(by_provider.values())
    return Counts(tokens, by_provider, {source: (tokens, order["provider"].to_list())})
