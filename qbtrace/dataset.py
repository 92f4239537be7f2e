"""Events at rest: the inputs' exchanges as a Parquet dataset, partitioned by day and provider.

`--events DIR` writes `DIR/day=YYYY-MM-DD/provider=NAME/part-0.parquet` (hive style; an
exchange without a usable time goes under `day=undated`), one row per exchange of every
input as it was read (token requests, revokes, authorize, callback, disconnect), and
`DIR/inputs.json` with what each input was (its name, format, entries, warnings). A row
holds the notebook columns of `table.EVENT_SCHEMA` and `record`: the exchange as the
capture format's JSON record (`capture.ExchangeRecord`, tags only) with the process a log
named. So `qbtrace analyze DIR` reads the same inputs back and finds the same causes.

`read_dataset` scans the dataset lazily (`polars.scan_parquet`, hive partitions), one
partition at a time and only the columns it needs, so the Parquet data of one partition at
most is in memory beside the exchanges decoded so far: what `qbtrace analyze` does when
`streamed` (a part at a time, memory bounded by the index and one part) does not take it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from qbtrace.analysis import read_all
from qbtrace.capture import ExchangeRecord, exchange_record, record_exchange
from qbtrace.errors import InputError
from qbtrace.model import Exchange, Input, InputKind, Ref
from qbtrace.outfile import OutputError, open_output

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import tzinfo

    import polars as pl

    from qbtrace.analysis import Analysis
    from qbtrace.profile import Profile
    from qbtrace.redact import Redactor
    from qbtrace.table import Presenter

INPUTS_FILE = "inputs.json"
PART = "part-0.parquet"
UNDATED = "undated"
DATASET_VERSION = 1
"""History: 1 (qbtrace 0.1.0): hive folders day/provider, `record` column, inputs.json."""


class EventRecord(ExchangeRecord, omit_defaults=True):
    """An exchange at rest: the capture record and who made the request (a log says so)."""

    process: str | None = None


class Described(msgspec.Struct):
    """One input in inputs.json: the `Input` without its exchanges (they are the rows)."""

    source: str
    kind: InputKind
    entries: int
    warnings: tuple[str, ...] = ()
    format: str | None = None
    others: tuple[str, ...] = ()


class Inputs(msgspec.Struct):
    qbtrace_dataset: int
    inputs: list[Described]


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(EventRecord)


def is_dataset_target(path: Path) -> bool:
    """`--events` names a dataset folder (not one Parquet file): a folder, or no `.parquet`."""
    return path.is_dir() or path.suffix.lower() != ".parquet"


def check_target(path: Path) -> None:
    """OutputError unless `path` is a new folder or an empty one (no link): a dataset is
    never mixed with another run's files."""
    if path.is_symlink():
        raise OutputError("is a symbolic link; name a new folder", source=str(path))
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise OutputError("exists and is not an empty folder; name a new one", source=str(path))


def write_dataset(
    target: Path, inputs: Sequence[Input], analysis: Analysis, presenter: Presenter
) -> int:
    """Write the dataset of `inputs` (as read, before clocks and joins); the rows written."""
    check_target(target)
    frame = events_at_rest(inputs, analysis, presenter)
    for (day, provider), part in frame.partition_by("day", "provider", as_dict=True).items():
        folder = target / f"day={day}" / f"provider={provider}"
        folder.mkdir(parents=True, exist_ok=True)
        with open_output(folder / PART) as handle:
            part.drop("day", "provider").write_parquet(handle)
    target.mkdir(parents=True, exist_ok=True)
    with open_output(target / INPUTS_FILE) as handle:
        handle.write(msgspec.json.format(msgspec.json.encode(_described(inputs))))
    return frame.height


def events_at_rest(
    inputs: Sequence[Input], analysis: Analysis, presenter: Presenter
) -> pl.DataFrame:
    """One row per exchange: the notebook columns (token requests' from `events_frame`) and
    the record, with its day and provider."""
    import polars as pl

    from qbtrace.table import events_frame

    rows = [
        {
            "source": x.ref.source,
            "index": x.ref.index,
            "kind": str(x.kind),
            "started": None if x.started is None else int(x.started * 1000),
            "partition": analysis.profile.provider_for(x).name,
            "record": _ENCODER.encode(_record(x)).decode(),
        }
        for item in inputs
        for x in item.exchanges
    ]
    schema = {"source": pl.String, "index": pl.Int64, "kind": pl.String, "started": pl.Int64,
              "partition": pl.String, "record": pl.String}  # fmt: skip
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    tokens = events_frame(analysis, presenter).drop("provider")
    joined = frame.join(tokens, on=["source", "index"], how="left")
    time = pl.coalesce("time", pl.col("started").cast(pl.Datetime("ms", "UTC")))
    return joined.with_columns(
        time.alias("time"),
        time.dt.strftime("%Y-%m-%d").fill_null(UNDATED).alias("day"),
        pl.col("partition").alias("provider"),
    ).drop("started", "partition")


def _record(x: Exchange) -> EventRecord:
    base = exchange_record(x)
    fields = {f: getattr(base, f) for f in base.__struct_fields__}
    return EventRecord(**fields, process=x.process)


def _described(inputs: Sequence[Input]) -> Inputs:
    fields = Described.__struct_fields__
    return Inputs(
        DATASET_VERSION, [Described(**{f: getattr(i, f) for f in fields}) for i in inputs]
    )


def read_paths(
    paths: Sequence[Path],
    profile: Profile,
    redactor: Redactor,
    before: Callable[[Path, str], None] | None = None,
    log_tz: tzinfo | None = None,
) -> list[Input]:
    """`analysis.read_all`, with each dataset folder among `paths` read as the inputs it
    was written from, in its place."""
    sets = {n for n, path in enumerate(paths) if is_dataset(path)}
    files = [path for n, path in enumerate(paths) if n not in sets]
    read = iter(read_all(files, profile, redactor, before=before, log_tz=log_tz))
    out: list[Input] = []
    for n, path in enumerate(paths):
        out.extend(read_dataset(path) if n in sets else [next(read)])
    return out


def is_dataset(path: Path) -> bool:
    """A folder this module wrote: `inputs.json` and hive folders of Parquet files."""
    return (
        path.is_dir()
        and (path / INPUTS_FILE).is_file()
        and any(path.glob(f"day=*/provider=*/{PART}"))
    )


def read_dataset(path: Path) -> list[Input]:
    """The inputs a dataset was written from, in their order; InputError when it is damaged."""
    described = inputs_of(path)
    found: dict[str, list[Exchange]] = {d.source: [] for d in described}
    for source, exchange in _exchanges(path):
        if source not in found:
            raise InputError(f"rows of an input {INPUTS_FILE} does not list", source=str(path))
        found[source].append(exchange)
    return [
        Input(
            source=d.source,
            kind=d.kind,
            entries=d.entries,
            exchanges=tuple(sorted(found[d.source], key=lambda x: x.ref.index)),
            warnings=d.warnings,
            format=d.format,
            others=d.others,
        )
        for d in described
    ]


def listed(path: Path) -> list[Input]:
    """The inputs `read_dataset` gives, without their exchanges (their names and warnings)."""
    return [
        Input(d.source, d.kind, d.entries, (), d.warnings, d.format, d.others)
        for d in inputs_of(path)
    ]


def inputs_of(path: Path) -> list[Described]:
    """The inputs `inputs.json` lists; InputError when it is damaged or of another version."""
    try:
        doc = msgspec.json.decode((path / INPUTS_FILE).read_bytes(), type=Inputs)
    except (OSError, msgspec.DecodeError) as exc:
        raise InputError(f"{INPUTS_FILE} cannot be read ({exc})", source=str(path)) from None
    if doc.qbtrace_dataset != DATASET_VERSION:
        raise InputError(
            f"{INPUTS_FILE}: dataset version {doc.qbtrace_dataset}, this qbtrace reads "
            f"{DATASET_VERSION}",
            source=str(path),
        )
    return doc.inputs


def _exchanges(path: Path) -> Iterator[tuple[str, Exchange]]:
    """Every row's exchange, one hive partition at a time."""
    import polars as pl  # not imported by `qbtrace analyze` of other inputs: it starts fast

    hive = {"day": pl.String, "provider": pl.String}
    lazy = pl.scan_parquet(
        path / "day=*" / "provider=*" / PART, hive_partitioning=True, hive_schema=hive
    )
    try:
        partitions = lazy.select("day", "provider").unique().sort("day", "provider").collect()
        for day, provider in partitions.iter_rows():
            wanted = (pl.col("day") == day) & (pl.col("provider") == provider)
            rows = lazy.filter(wanted).select("source", "index", "record").collect()
            for source, index, record in rows.iter_rows():
                yield source, _exchange(_DECODER.decode(record), Ref(source, index))
    except (pl.exceptions.PolarsError, OSError, msgspec.DecodeError) as exc:
        raise InputError(f"a partition cannot be read ({exc})", source=str(path)) from None


def partition_files(path: Path) -> list[Path]:
    """The dataset's Parquet files, one per hive partition, by day then provider."""
    return sorted(path.glob(f"day=*/provider=*/{PART}"), key=lambda p: p.parts[-3:])


def exchange_of(record: bytes | str, ref: Ref) -> Exchange:
    """The exchange of one row's `record`; msgspec.DecodeError when it is not one."""
    return _exchange(_DECODER.decode(record), ref)


def _exchange(record: EventRecord, ref: Ref) -> Exchange:
    exchange = record_exchange(record, ref)
    return replace(exchange, process=record.process) if record.process else exchange
