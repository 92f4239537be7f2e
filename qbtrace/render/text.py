"""`--format text`: what a developer reads in a terminal: a summary, then each failure with
its cause, its evidence chain (time, request, what it shows) and the fix."""

from __future__ import annotations

from qbtrace.analysis import Analysis
from qbtrace.model import Finding, Kind
from qbtrace.render.view import Presenter, iso
from qbtrace.rules import BY_CAUSE
from qbtrace.table import summary


def render(analysis: Analysis, presenter: Presenter) -> str:
    lines = _header(analysis)
    for number, finding in enumerate(analysis.findings, 1):
        lines += ["", *_finding(number, finding, presenter)]
    return "\n".join(lines) + "\n"


def _header(analysis: Analysis) -> list[str]:
    s = summary(analysis)
    by_cause = s["by_cause"]
    assert isinstance(by_cause, dict)
    causes = ", ".join(f"{c} {n}" for c, n in by_cause.items())
    head = f"{s['token_requests']} token requests, {s['failures']} failed"
    lines = [f"qbtrace: {head}" + (f" ({causes})" if causes else "")]
    for item in analysis.inputs:
        tokens = sum(1 for x in item.exchanges if x.kind == Kind.TOKEN)
        lines.append(
            f"  input {item.source}: {item.kind}, {item.entries} entries, {tokens} token requests"
        )
        lines += [f"    warning: {w}" for w in item.warnings]
    if by_cause:
        top = next(iter(by_cause))
        lines.append(f"  most common: {top}. Fix: {BY_CAUSE[top].fix}")
    return lines


def _finding(number: int, f: Finding, presenter: Presenter) -> list[str]:
    said = f"HTTP {f.status}" if f.status is not None else "no response"
    if f.error:
        said += f" {f.error}"
    tid = f"  intuit_tid {f.intuit_tid}" if f.intuit_tid else ""
    lines = [
        f"[{number}] {f.ref.source} #{f.ref.index}  {iso(f.time) or 'time unknown'}  "
        f"{f.grant_type or 'unknown grant'}  {said}{tid}",
        f"    cause: {f.cause} ({f.confidence})  {BY_CAUSE[f.cause].title}",
    ]
    who = "  ".join(x for x in (f.token, presenter.client(f.client_id)) if x)
    if who:
        lines.append(f"    presented: {who}")
    for e in f.evidence:
        where = f"{e.ref.source} #{e.ref.index}  {iso(e.time) or ''}  " if e.ref else ""
        lines.append(f"    evidence: {where}{e.role}: {presenter.note(e)}")
    if f.alternatives:
        lines.append(f"    also possible: {', '.join(f.alternatives)}")
    lines += [f"    warning: {w}" for w in f.warnings]
    lines.append(f"    fix: {BY_CAUSE[f.cause].fix}")
    return lines
