"""`--format html`: one self-contained report file to attach to a ticket.

The view model (small frozen dataclasses) decides every label, class name, anchor and sort
order here; the templates in `reports/` only place values. Jinja autoescaping is always on,
whatever the template's name, and the CSS is inlined so the file loads nothing: its
Content-Security-Policy forbids every fetch and it uses no script at all.

Format history: 1 — first version (headline, chart, lineages, findings by cause, requests).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, fields
from functools import cache

import jinja2

from qbtrace import __version__
from qbtrace.analysis import Analysis
from qbtrace.model import Evidence, Exchange, Finding, Kind, Ref
from qbtrace.render.charts import MAX_STRIPS, Chart, Strip, colour, failure_chart, lineage_strips
from qbtrace.render.view import Presenter, iso
from qbtrace.rules import BY_CAUSE, PRECEDENCE

FORMAT_VERSION = 1
PER_GROUP = 200
"""Findings rendered per cause; the rest are counted (JSON/CSV output has them all)."""
GAP_WORDS = {
    "client-auth-missing": "token requests without client credentials "
    "(the exporter dropped the Authorization header): client ids unknown",
    "request-body-missing": "requests without their body",
    "response-body-missing": "responses without their body",
    "response-not-json": "token responses that were not JSON",
    "request-body-in-attachment": "request bodies stored in a separate file",
    "response-body-in-attachment": "response bodies stored in a separate file",
    "request-body-bad-base64": "request bodies that were not valid base64",
    "response-body-bad-base64": "response bodies that were not valid base64",
}


def clip(text: str, limit: int = 2000) -> str:
    """Long values (a 100 KB error_description) are cut: the report stays readable and small."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def anchor(ref: Ref) -> str:
    """`ev-<source>-<index>`: the id of a request's row; links to evidence point here."""
    return f"ev-{re.sub(r'[^A-Za-z0-9_-]', '_', ref.source)}-{ref.index}"


@dataclass(frozen=True, slots=True)
class CauseCount:
    cause: str
    title: str
    count: int
    fix: str
    colour: str


@dataclass(frozen=True, slots=True)
class Step:
    """One evidence step: what it shows, and a link to the request it rests on (if any)."""

    role: str
    note: str
    time: str | None
    href: str | None
    label: str | None


@dataclass(frozen=True, slots=True)
class FindingView:
    id: str
    number: int
    cause: str
    confidence: str
    request: str
    href: str
    time: str
    said: str
    intuit_tid: str | None
    process: str | None
    """Who made the request and where else it was seen (a log record joined to a capture)."""
    presented: str
    steps: tuple[Step, ...]
    alternatives: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Group:
    """All findings of one cause: its explanation once, then its findings (capped)."""

    cause: str
    title: str
    count: int
    colour: str
    happened: str
    confirm: str
    fix: str
    open: bool
    findings: tuple[FindingView, ...]
    hidden: int


@dataclass(frozen=True, slots=True)
class RequestRow:
    id: str
    label: str
    time: str
    kind: str
    method: str
    url: str
    outcome: str
    intuit_tid: str | None
    process: str
    css: str


@dataclass(frozen=True, slots=True)
class InputRow:
    source: str
    kind: str
    entries: int
    token_requests: int
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Report:
    version: str
    format_version: int
    token_requests: int
    failures: int
    causes: tuple[CauseCount, ...]
    chart: Chart | None
    lineages: tuple[Strip, ...]
    lineages_hidden: int
    groups: tuple[Group, ...]
    requests: tuple[RequestRow, ...]
    blind_spots: tuple[str, ...]
    inputs: tuple[InputRow, ...]
    parameters: tuple[tuple[str, str], ...]


def build(analysis: Analysis, presenter: Presenter) -> Report:
    """Everything the template shows, decided here."""
    counts = Counter(f.cause for f in analysis.findings)
    causes = tuple(
        CauseCount(c, BY_CAUSE[c].title, counts[c], BY_CAUSE[c].fix, colour(c))
        for c in sorted(counts, key=lambda c: (-counts[c], PRECEDENCE.index(c)))
    )
    groups = _groups(analysis.findings, causes, presenter)
    shown = [f for g in groups for f in g.findings]
    strips = lineage_strips(analysis, presenter)
    return Report(
        version=__version__,
        format_version=FORMAT_VERSION,
        token_requests=analysis.token_requests,
        failures=len(analysis.findings),
        causes=causes,
        chart=failure_chart(analysis.findings),
        lineages=tuple(strips[:MAX_STRIPS]),
        lineages_hidden=max(0, len(strips) - MAX_STRIPS),
        groups=groups,
        requests=_requests(analysis, shown),
        blind_spots=_blind_spots(analysis),
        inputs=_inputs(analysis),
        parameters=_parameters(analysis),
    )


def _groups(
    findings: tuple[Finding, ...], causes: tuple[CauseCount, ...], presenter: Presenter
) -> tuple[Group, ...]:
    by_cause: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_cause[f.cause].append(f)
    numbers = {id(f): n for n, f in enumerate(findings, 1)}
    few = len(findings) <= PER_GROUP
    out = []
    for n, c in enumerate(causes):
        rule = BY_CAUSE[c.cause]
        items = by_cause[c.cause]
        views = tuple(_finding(numbers[id(f)], f, presenter) for f in items[:PER_GROUP])
        text = (rule.happened, rule.confirm, rule.fix)
        hidden = len(items) - len(views)
        opened = few or n == 0
        out.append(Group(c.cause, rule.title, c.count, c.colour, *text, opened, views, hidden))
    return tuple(out)


def _finding(number: int, f: Finding, presenter: Presenter) -> FindingView:
    said = f"HTTP {f.status}" if f.status is not None else "no response"
    said += f" {f.error}" if f.error else ""
    said += f": {f.error_description}" if f.error_description else ""
    who = "  ".join(x for x in (f.token, presenter.client(f.client_id)) if x)
    return FindingView(
        id=f"finding-{anchor(f.ref)[3:]}",
        number=number,
        cause=f.cause,
        confidence=str(f.confidence),
        request=f"{f.ref.source} #{f.ref.index}",
        href=f"#{anchor(f.ref)}",
        time=iso(f.time) or "time unknown",
        said=clip(f"{f.grant_type or 'unknown grant'}, {said}"),
        intuit_tid=clip(f.intuit_tid, 200) if f.intuit_tid else None,
        process=_who(f.process, f.seen_in),
        presented=who,
        steps=tuple(_step(e, presenter) for e in f.evidence),
        alternatives=f.alternatives,
        warnings=f.warnings,
    )


def _step(e: Evidence, presenter: Presenter) -> Step:
    if e.ref is None:
        return Step(e.role, clip(presenter.note(e)), iso(e.time), None, None)
    label = f"{e.ref.source} #{e.ref.index}"
    return Step(e.role, clip(presenter.note(e)), iso(e.time), f"#{anchor(e.ref)}", label)


def _requests(analysis: Analysis, shown: list[FindingView]) -> tuple[RequestRow, ...]:
    """Rows for every request a shown finding names: the failure and each evidence step."""
    wanted = {f.href[1:] for f in shown} | {s.href[1:] for f in shown for s in f.steps if s.href}
    failed = {f.href[1:] for f in shown}
    rows = []
    for item in analysis.inputs:
        for x in item.exchanges:
            key = anchor(x.ref)
            if key in wanted:
                rows.append(_request_row(key, x, key in failed))
                wanted.discard(key)
    return tuple(rows)


def _request_row(key: str, x: Exchange, failed: bool) -> RequestRow:
    if x.status is None:
        outcome = f"no response ({x.failure})" if x.failure else "no response"
    else:
        error = x.reply.get("error")
        outcome = f"HTTP {x.status}" + (f" {error}" if isinstance(error, str) else "")
    return RequestRow(
        id=key,
        label=f"{x.ref.source} #{x.ref.index}",
        time=iso(x.started) or "time unknown",
        kind=str(x.kind),
        method=x.method,
        url=clip(x.url, 500),
        outcome=clip(outcome, 500),
        intuit_tid=clip(x.headers.get("intuit_tid") or "", 200) or None,
        process=_who(x.process, x.seen_in) or "",
        css="failed" if failed else ("ok" if x.ok else "other"),
    )


def _who(process: str | None, seen_in: tuple[Ref, ...]) -> str | None:
    """`worker-2, pid 4411 (also app.log #12)`: the process a log names, and the records."""
    also = ", ".join(f"{r.source} #{r.index}" for r in seen_in)
    if not process and not also:
        return None
    text = (process or "") + (f" (also {also})" if also and process else also)
    return clip(text, 300)


def _blind_spots(analysis: Analysis) -> tuple[str, ...]:
    """What the input could not show: missing headers and bodies, lineages begun earlier."""
    gaps: Counter[str] = Counter()
    for item in analysis.inputs:
        for x in item.exchanges:
            gaps.update(x.gaps)
    out = [f"{n} {GAP_WORDS.get(gap, gap)}" for gap, n in sorted(gaps.items())]
    lin = analysis.lineage
    early = {
        r.refresh.hex
        for r in lin.requests
        if r.grant == "refresh_token" and r.refresh and r.refresh.hex not in lin.issuers
    }
    if early:
        out.append(
            f"{len(early)} refresh tokens were issued before the capture began "
            "(it starts mid-lineage): their history is not in the input"
        )
    out += [f"{item.source}: {w}" for item in analysis.inputs for w in item.warnings]
    return (*analysis.notes, *out)


def _inputs(analysis: Analysis) -> tuple[InputRow, ...]:
    return tuple(
        InputRow(
            item.source,
            item.kind,
            item.entries,
            sum(1 for x in item.exchanges if x.kind == Kind.TOKEN),
            item.warnings,
        )
        for item in analysis.inputs
    )


def _parameters(analysis: Analysis) -> tuple[tuple[str, str], ...]:
    profile = analysis.profile
    out = []
    for f in fields(profile):
        if f.name.startswith("_") or f.name == "client_ids":
            continue
        value = getattr(profile, f.name)
        text = ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)
        out.append((f.name, text or "—"))
    out.append(("client_ids", f"{len(profile.client_ids)} configured"))
    return tuple(out)


@cache
def environment() -> jinja2.Environment:
    """Templates from the installed package; autoescape on for every template, always."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("qbtrace.reports", ""),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(analysis: Analysis, presenter: Presenter) -> str:
    return environment().get_template("report.html.j2").render(report=build(analysis, presenter))
