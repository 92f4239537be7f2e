"""`--format text`: what a developer reads in a terminal: a summary, then each failure with
its cause, its evidence chain (time, request, what it shows) and the fix."""

from __future__ import annotations

from qbtrace.analysis import Analysis
from qbtrace.model import Finding, Kind
from qbtrace.render.headline import headline, sentence
from qbtrace.render.view import Presenter, config_line, iso, terminal_safe
from qbtrace.rules import BY_CAUSE, fix_for
from qbtrace.table import breakdowns, summary


def render(analysis: Analysis, presenter: Presenter) -> str:
    lines = _header(analysis, presenter) + _tables(analysis, presenter)
    for number, finding in enumerate(analysis.findings, 1):
        lines += ["", *_finding(number, finding, presenter)]
    return terminal_safe("\n".join(lines)) + "\n"


def _header(analysis: Analysis, presenter: Presenter) -> list[str]:
    s = summary(analysis)
    by_cause = s["by_cause"]
    assert isinstance(by_cause, dict)
    causes = ", ".join(f"{c} {n}" for c, n in by_cause.items())
    head = f"{s['token_requests']} token requests, {s['failures']} failed"
    lines = [f"qbtrace: {head}" + (f" ({causes})" if causes else "")]
    said = config_line(analysis)
    if said:
        lines.append(f"  {said}")
    for item in analysis.inputs:
        tokens = sum(1 for x in item.exchanges if x.kind == Kind.TOKEN)
        lines.append(
            f"  input {item.source}: {item.kind}, {item.entries} entries, {tokens} token requests"
        )
        lines += [f"    warning: {w}" for w in item.warnings]
    lines += [f"  note: {note}" for note in analysis.notes]
    top = headline(analysis.findings, presenter.provider)
    if top is not None:
        lines.append(f"  most common: {sentence(top)}. Fix: {top.top.fix}")
    return lines


def _tables(analysis: Analysis, presenter: Presenter) -> list[str]:
    """Who failed and when, once there is more than one client or more than one hour."""
    tables = breakdowns(analysis, presenter)
    lines: list[str] = []
    clients = tables.get("by_client")
    if clients is not None and clients["client"].n_unique() > 1:
        lines.append("  failures by client and company:")
        for row in clients.head(10).iter_rows(named=True):
            realm = f" company {row['realm']}" if row["realm"] else ""
            lines.append(
                f"    {row['client'] or 'client unknown'}{realm}: {row['cause']} {row['len']}"
            )
    hours = tables.get("per_hour")
    if hours is not None and hours["hour"].n_unique() > 1:
        lines.append("  failures per hour (UTC):")
        for row in hours.head(48).iter_rows(named=True):
            lines.append(f"    {row['hour']:%Y-%m-%d %H:00}  {row['cause']} {row['len']}")
    return lines


def _finding(number: int, f: Finding, presenter: Presenter) -> list[str]:
    said = f"HTTP {f.status}" if f.status is not None else "no response"
    if f.error:
        said += f" {f.error}"
    if f.error_description:
        said += f": {f.error_description}"
    name = presenter.provider(f).request_id_header or "request id"
    tid = f"  {name} {f.request_id}" if f.request_id else ""
    lines = [
        f"[{number}] {f.ref.source} #{f.ref.index}  {iso(f.time) or 'time unknown'}  "
        f"{f.grant_type or 'unknown grant'}  {said}{tid}",
        f"    cause: {f.cause} ({f.confidence})  "
        f"{BY_CAUSE[f.cause].texts(presenter.provider(f)).title}",
    ]
    if f.process or f.seen_in:
        also = ", ".join(f"{r.source} #{r.index}" for r in f.seen_in)
        lines.append(
            "    "
            + "  ".join(
                x
                for x in (f"by {f.process}" if f.process else "", f"seen in {also}" if also else "")
                if x
            )
        )
    who = "  ".join(x for x in (f.token, presenter.client(f.client_id)) if x)
    if who:
        lines.append(f"    presented: {who}")
    for e in f.evidence:
        where = f"{e.ref.source} #{e.ref.index}  {iso(e.time) or ''}  " if e.ref else ""
        lines.append(f"    evidence: {where}{e.role}: {presenter.note(e)}")
    if f.alternatives:
        lines.append(f"    also possible: {', '.join(f.alternatives)}")
    lines += [f"    warning: {w}" for w in f.warnings]
    if f.happened:
        lines.append(f"    what happened: {f.happened}")
    lines.append(f"    fix: {fix_for(f, presenter.provider(f))}")
    return lines
