"""`--format text`: what a developer reads in a terminal: a summary, then each failure with
its cause, its evidence chain (time, request, what it shows) and the fix.

Every piece that comes from the input (file names, errors, notes, warnings) passes through
`terminal_line` on its own, before our styling is added, so the input can neither drive the
terminal nor start a line of its own. An outage is one block listing its members: fifteen
failures of one incident are one thing to read, not fifteen near-identical blocks.
"""

from __future__ import annotations

from qbtrace.analysis import Analysis
from qbtrace.model import Finding
from qbtrace.render import style
from qbtrace.render.headline import headline, sentence
from qbtrace.render.view import Presenter, config_line, iso, plural, terminal_line
from qbtrace.rules import BY_CAUSE, fix_for

OUTAGE = "provider_outage"
CONFIDENCE_ORDER = ("certain", "likely", "possible")
LEGEND = "  (#N is the request's 0-based index in its file, as in the JSON and the HTML report)"
Block = tuple[int, list[Finding]]
"""The 1-based number of a block's first finding, and its findings (an outage: several)."""


def render(
    analysis: Analysis, presenter: Presenter, colour: bool = False, width: int | None = None
) -> str:
    lines = _header(analysis, presenter, colour) + _tables(analysis, presenter)
    if analysis.findings:
        lines.append(LEGEND)
    numbers = {id(f): n for n, f in enumerate(analysis.findings, 1)}
    for heading, findings in _by_provider(analysis):
        lines += ["", f"== {heading}"] if heading else []
        for _, group in blocks(tuple(findings), analysis.profile.outage_window):
            number = numbers[id(group[0])]
            lines.append("")
            if len(group) > 1:
                lines += _outage(number, group, presenter, colour)
            else:
                lines += _finding(number, group[0], presenter, colour)
    out = [part for line in lines for part in style.wrap(line, width)]
    return "\n".join(out) + "\n"


def blocks(findings: tuple[Finding, ...], window: float) -> list[Block]:
    """Findings in order, consecutive outage findings within `window` seconds of the
    previous one grouped (one incident); every other finding alone."""
    out: list[Block] = []
    last: float | None = None
    for number, f in enumerate(findings, 1):
        group = out[-1][1] if out else None
        near = last is not None and f.time is not None and f.time - last <= window
        if f.cause == OUTAGE and group and group[-1].cause == OUTAGE and near:
            group.append(f)
        else:
            out.append((number, [f]))
        last = f.time if f.time is not None else last
    return out


def _by_provider(analysis: Analysis) -> list[tuple[str, list[Finding]]]:
    """The findings in input order, under one heading per provider when the inputs hold
    several (one app's accounting traffic to two providers in one capture); none otherwise."""
    counts = analysis.per_provider()
    if len(counts) < 2:
        return [("", list(analysis.findings))]
    return [
        (
            f"{c.provider.label}: {c.token_requests} token requests, {c.failures} failed",
            [f for f in analysis.findings if f.provider == c.provider.name],
        )
        for c in counts
    ]


def _header(analysis: Analysis, presenter: Presenter, colour: bool) -> list[str]:
    s = analysis.summary()
    by_cause = s["by_cause"]
    assert isinstance(by_cause, dict)
    causes = ", ".join(f"{style.cause(c, colour)} {n}" for c, n in by_cause.items())
    requests, failures = int(str(s["token_requests"])), int(str(s["failures"]))
    head = f"{plural(requests, 'token request')}, {failures} failed"
    lines = [style.strong(f"qbtrace: {head}", colour) + (f" ({causes})" if causes else "")]
    said = config_line(analysis)
    if said:
        lines.append(f"  {terminal_line(said)}")
    for item in analysis.inputs:
        tokens = analysis.token_requests_of(item)
        lines.append(
            f"  input {terminal_line(item.source)}: {terminal_line(item.kind)}, "
            f"{plural(item.entries, 'entry')}, {plural(tokens, 'token request')}"
        )
        lines += [f"    warning: {terminal_line(w)}" for w in dict.fromkeys(item.warnings)]
    counts = analysis.per_provider()
    if len(counts) > 1:
        each = "; ".join(
            f"{c.provider.label} {c.token_requests} token requests, {c.failures} failed"
            for c in counts
        )
        lines.append(f"  providers: {each}")
    lines += [f"  note: {terminal_line(note)}" for note in analysis.notes]
    top = headline(analysis.findings, presenter.provider)
    if top is not None:
        said = sentence(top).replace(top.top.cause, style.cause(top.top.cause, colour), 1)
        lines.append(f"  most common: {said}. Fix: {top.top.fix}")  # our words only
    return lines


def _tables(analysis: Analysis, presenter: Presenter) -> list[str]:
    """Who failed and when, once there is more than one client or more than one hour."""
    if len(analysis.findings) < 2:
        return []  # one failure has one client and one hour: no table
    from qbtrace.table import breakdowns  # polars: only when there is something to tabulate

    tables = breakdowns(analysis, presenter)
    lines: list[str] = []
    clients = tables.get("by_client")
    if clients is not None and clients["client"].n_unique() > 1:
        lines.append("  failures by client and company:")
        for row in clients.head(10).iter_rows(named=True):
            realm = f" company {terminal_line(row['realm'])}" if row["realm"] else ""
            who = terminal_line(row["client"] or "client unknown")
            lines.append(f"    {who}{realm}: {row['cause']} {row['len']}")
    hours = tables.get("per_hour")
    if hours is not None and hours["hour"].n_unique() > 1:
        lines.append("  failures per hour (UTC):")
        for row in hours.head(48).iter_rows(named=True):
            lines.append(f"    {row['hour']:%Y-%m-%d %H:00}  {row['cause']} {row['len']}")
    return lines


def _request(f: Finding, presenter: Presenter) -> str:
    """`file #3  2025-…Z  refresh_token  HTTP 400 invalid_grant  <request id> …`."""
    said = f"HTTP {f.status}" if f.status is not None else "no response"
    if f.error:
        said += f" {f.error}"
    if f.error_description:
        said += f": {f.error_description}"
    name = presenter.provider(f).request_id_header or "request id"
    tid = f"  {name} {f.request_id}" if f.request_id else ""
    line = f"{f.ref.source} #{f.ref.index}  {iso(f.time) or 'time unknown'}  "
    return terminal_line(f"{line}{f.grant_type or 'unknown grant'}  {said}{tid}")


def _cause_line(f: Finding, presenter: Presenter, colour: bool) -> str:
    level = style.confidence(str(f.confidence), colour)
    title = BY_CAUSE[f.cause].texts(presenter.provider(f)).title
    return f"    cause: {style.cause(f.cause, colour)} ({level})  {title}"


def _fix(f: Finding, presenter: Presenter) -> str:
    return f"    fix: {terminal_line(fix_for(f, presenter.provider(f)))}"


def _made_by(f: Finding) -> str:
    """`by worker-2, pid 4411  seen in app.log #12`: what a log joined to the request adds."""
    also = ", ".join(f"{r.source} #{r.index}" for r in f.seen_in)
    parts = (f"by {f.process}" if f.process else "", f"seen in {also}" if also else "")
    return "  ".join(x for x in parts if x)


def _finding(number: int, f: Finding, presenter: Presenter, colour: bool) -> list[str]:
    lines = [f"[{number}] {_request(f, presenter)}", _cause_line(f, presenter, colour)]
    made = _made_by(f)
    if made:
        lines.append(f"    {terminal_line(made)}")
    who = "  ".join(x for x in (f.token, presenter.client(f.client_id)) if x)
    if who:
        lines.append(f"    presented: {terminal_line(who)}")
    for e in f.evidence:
        where = f"{e.ref.source} #{e.ref.index}  {iso(e.time) or ''}  " if e.ref else ""
        lines.append(f"    evidence: {terminal_line(f'{where}{e.role}: {presenter.note(e)}')}")
    if f.alternatives:
        lines.append(f"    also possible: {', '.join(f.alternatives)}")
    lines += [f"    warning: {terminal_line(w)}" for w in f.warnings]
    if f.happened:
        lines.append(f"    what happened: {terminal_line(f.happened)}")
    lines.append(_fix(f, presenter))
    return lines


def _outage(number: int, group: list[Finding], presenter: Presenter, colour: bool) -> list[str]:
    """One incident: when, how many, then one line per member failure."""
    times = [f.time for f in group if f.time is not None]
    span = f" from {iso(min(times))} to {iso(max(times))}" if times else ""
    clients = len({f.client_id for f in group})
    head = f"[{number}-{number + len(group) - 1}] outage: {plural(len(group), 'failure')}"
    head += f" of {plural(clients, 'client')}{span}" if clients > 1 else span
    surest = min(group, key=lambda f: CONFIDENCE_ORDER.index(str(f.confidence)))
    lines = [style.strong(head, colour), _cause_line(surest, presenter, colour)]
    for f in group:
        who = "  ".join(x for x in (f.token, presenter.client(f.client_id)) if x)
        lines.append(f"    member: {_request(f, presenter)}  {terminal_line(who)}".rstrip())
    warnings = dict.fromkeys(w for f in group for w in f.warnings)
    lines += [f"    warning: {terminal_line(w)}" for w in warnings]
    lines.append(_fix(surest, presenter))
    return lines
