"""The token events and findings as polars frames with declared schemas.

Summaries (failures by cause, by client and realm, per hour) are computed here, and the same
frames are what `--format csv` and `--events FILE.parquet` export for people who analyze
further in notebooks or warehouses. Frames hold tags only, never raw secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from qbtrace.model import Evidence

if TYPE_CHECKING:
    from qbtrace.analysis import Analysis


class Presenter(Protocol):
    """How identifiers are shown (`render.view.Presenter` is one): the frames hold what the
    outputs show, client ids tagged unless asked otherwise. A protocol, so that the tables
    never import the renderers that sit above them."""

    def client(self, client_id: str | None) -> str | None: ...

    def note(self, evidence: Evidence) -> str: ...


EVENT_SCHEMA: dict[str, Any] = {
    "source": pl.String,
    "index": pl.Int64,
    "time": pl.Datetime("ms", "UTC"),
    "grant_type": pl.String,
    "status": pl.Int64,
    "error": pl.String,
    "token": pl.String,
    "issued_refresh_token": pl.String,
    "client": pl.String,
    "lineage": pl.String,
    "realm": pl.String,
    "provider": pl.String,
    "request_id": pl.String,
}
FINDING_SCHEMA: dict[str, Any] = {
    "source": pl.String,
    "index": pl.Int64,
    "time": pl.Datetime("ms", "UTC"),
    "cause": pl.String,
    "confidence": pl.String,
    "grant_type": pl.String,
    "status": pl.Int64,
    "error": pl.String,
    "token": pl.String,
    "client": pl.String,
    "provider": pl.String,
    "request_id": pl.String,
    "alternatives": pl.String,
    "evidence": pl.String,
}


def _ms(moment: float | None) -> int | None:
    return None if moment is None or moment == float("-inf") else int(moment * 1000)


def events_frame(analysis: Analysis, presenter: Presenter) -> pl.DataFrame:
    lin = analysis.lineage
    rows = []
    for r in lin.requests:
        provider = analysis.profile.provider_for(r.x)
        token = r.presented
        lineage = lin.lineage_of(token) if token else None
        rows.append(
            {
                "source": r.x.ref.source,
                "index": r.x.ref.index,
                "time": _ms(r.x.started),
                "grant_type": r.grant,
                "status": r.x.status,
                "error": r.error,
                "token": token.tag if token else None,
                "issued_refresh_token": r.issued_rt.tag if r.issued_rt else None,
                "client": presenter.client(r.client_id),
                "lineage": lineage,
                "realm": lin.realm_of(lineage) if lineage else None,
                "provider": provider.name,
                "request_id": provider.request_id(r.x),
            }
        )
    frame = pl.DataFrame(rows, schema={**EVENT_SCHEMA, "time": pl.Int64}, orient="row")
    return frame.with_columns(pl.col("time").cast(pl.Datetime("ms", "UTC")))


def findings_frame(analysis: Analysis, presenter: Presenter) -> pl.DataFrame:
    rows = [
        {
            "source": f.ref.source,
            "index": f.ref.index,
            "time": _ms(f.time),
            "cause": f.cause,
            "confidence": str(f.confidence),
            "grant_type": f.grant_type,
            "status": f.status,
            "error": f.error,
            "token": f.token,
            "client": presenter.client(f.client_id),
            "provider": f.provider,
            "request_id": f.request_id,
            "alternatives": ",".join(f.alternatives),
            "evidence": " | ".join(
                f"{e.ref.source}#{e.ref.index}: {presenter.note(e)}" if e.ref else presenter.note(e)
                for e in f.evidence
            ),
        }
        for f in analysis.findings
    ]
    frame = pl.DataFrame(rows, schema={**FINDING_SCHEMA, "time": pl.Int64}, orient="row")
    return frame.with_columns(pl.col("time").cast(pl.Datetime("ms", "UTC")))


CSV_TIME = "%Y-%m-%dT%H:%M:%S%.3fZ"
"""Times in the CSV as in the JSON: ISO 8601 UTC to the millisecond, with `Z`."""
FORMULA = r"^[\s\x00-\x1f\u00a0\u3000]*[=+\-@|%\uff1d\uff0b\uff0d\uff20]|^[\t\r\n]"
"""A cell a spreadsheet would run: a formula trigger (`=`, `+`, `-`, `@`, `|` for DDE, `%`,
and their full-width forms, which some spreadsheets fold to ASCII) first, after any
whitespace or control characters that Excel and LibreOffice skip; or a tab or line break
first."""


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would run as a formula get a leading `'`: a hostile
    capture must not turn the CSV into a spreadsheet attack."""
    risky = [name for name, kind in frame.schema.items() if kind == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in risky
    )


def summary(analysis: Analysis) -> dict[str, object]:
    """The contract's summary (`Analysis.summary`: JSON and text need no polars for it)."""
    return analysis.summary()


def breakdowns(analysis: Analysis, presenter: Presenter) -> dict[str, pl.DataFrame]:
    """Failures by cause, by client and realm, and per hour (empty when nothing failed)."""
    findings = findings_frame(analysis, presenter)
    if findings.is_empty():
        return {}
    realms = events_frame(analysis, presenter).select("source", "index", "realm")
    joined = findings.join(realms, on=["source", "index"], how="left")
    return {
        "by_cause": joined.group_by("cause").len().sort(["len", "cause"], descending=[True, False]),
        "by_client": joined.group_by("client", "realm", "cause")
        .len()
        .sort(["len", "client", "cause"], descending=[True, False, False], nulls_last=True),
        "per_hour": joined.filter(pl.col("time").is_not_null())
        .group_by(pl.col("time").dt.truncate("1h").alias("hour"), "cause")
        .len()
        .sort(["hour", "cause"]),
    }
