"""`--format html`: one self-contained report file to attach to a ticket.

The view model (small frozen dataclasses) decides every label, class name, anchor and sort
order here; the templates in `reports/` only place values. Jinja autoescaping is always on,
whatever the template's name, and the CSS is inlined so the file loads nothing: its
Content-Security-Policy forbids every fetch and it uses no script at all.

Format history: 1 — first version (headline, chart, lineages, findings by cause, requests).
2 — processes: one lane per process an application log names, on a shared time scale,
failures in their cause's colour linking to their request rows (no lanes without a log).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache

import jinja2

from qbtrace import __version__
from qbtrace.analysis import Analysis
from qbtrace.model import Evidence, Exchange, Finding, Gap, Kind, Ref
from qbtrace.render.charts import MAX_STRIPS, Chart, Strip, failure_chart, lineage_strips
from qbtrace.render.headline import headline, ranked, sentence
from qbtrace.render.lanes import Lanes, process_lanes
from qbtrace.render.palette import report_colours
from qbtrace.render.view import Presenter, config_line, iso, plural
from qbtrace.rules import BY_CAUSE

FORMAT_VERSION = 2
PER_GROUP = 200
"""Findings rendered per cause; the rest are counted (JSON/CSV output has them all)."""
GAP_WORDS: dict[Gap, str] = {
    "client-auth-missing": "token requests without client credentials "
    "(the exporter dropped the Authorization header): client ids unknown",
    "request-body-missing": "requests without their body",
    "token-not-in-log": "token requests an application log reports without the token they "
    "sent: their per-token causes are guesses",
    "response-body-missing": "responses without their body",
    "response-not-json": "token responses that were not JSON",
    "request-body-in-attachment": "request bodies stored in a separate file",
    "response-body-in-attachment": "response bodies stored in a separate file",
    "request-body-bad-base64": "request bodies that were not valid base64",
    "response-body-bad-base64": "response bodies that were not valid base64",
    "response-not-delivered": "answers that never reached the client (the connection failed "
    "after the server answered)",
    "request-too-large": "request bodies past the 1 MB a token request can be: left out",
    "response-too-large": "answers past 1 MB once decompressed (a compression bomb?): left out",
    "response-too-deep": "answers of JSON nested too deeply to read: ignored",
    "response-streamed": "answers the app read as a stream, recorded without their body",
    "time-out-of-range": "times no real capture holds (before 1970 or after 2200): ignored",
    "invalid-lifetime": "lifetimes that cannot be real (negative, nan, centuries): ignored",
    "invalid-number": "numbers that are not finite: ignored",
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
    request_id: str | None
    request_id_name: str
    """What the provider calls its request id (`Provider.request_id_header`)."""
    process: str | None
    """Who made the request and where else it was seen (a log record joined to a capture)."""
    presented: str
    steps: tuple[Step, ...]
    alternatives: tuple[str, ...]
    warnings: tuple[str, ...]
    happened: str | None = None
    """What this finding's evidence says happened, when narrower than its cause's text."""
    fix: str | None = None
    """The fix this finding's evidence calls for, when narrower than its cause's fix."""


@dataclass(frozen=True, slots=True)
class Part:
    """One provider's findings of a cause, explained in that provider's words."""

    provider: str
    happened: str
    confirm: str
    fix: str
    findings: tuple[FindingView, ...]


@dataclass(frozen=True, slots=True)
class ProviderRow:
    provider: str
    token_requests: int
    failures: int


@dataclass(frozen=True, slots=True)
class Group:
    """All findings of one cause: its explanation once, then its findings (capped); when they
    are several providers' (a mixed capture), one part per provider in its own words."""

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
    parts: tuple[Part, ...] = ()


@dataclass(frozen=True, slots=True)
class RequestRow:
    id: str
    label: str
    time: str
    kind: str
    method: str
    url: str
    url_parts: tuple[str, ...]
    """The URL cut after each `/`, `?`, `&`: where a narrow column may break it, never
    inside a tag, an id or a word."""
    outcome: str
    request_id: str | None
    process: str
    css: str
    process_words: tuple[tuple[str, bool], ...] = ()
    """`process` as `words`: a log's file name (`app.oAuthClient-log.log`) stays whole."""


@dataclass(frozen=True, slots=True)
class InputRow:
    source: str
    kind: str
    entries: int
    token_requests: int
    warnings: tuple[str, ...]
    warning_words: tuple[tuple[str, bool], ...] = ()
    """The warnings joined by `; ` as (word, keep whole): a word with a hyphen (`--log-tz`,
    a time) must not break at it in a narrow column."""


@dataclass(frozen=True, slots=True)
class Report:
    version: str
    format_version: int
    token_requests: int
    failures: int
    causes: tuple[CauseCount, ...]
    """In the order to fix them (see `render.headline`)."""
    fix_first: str | None
    """The headline sentence: which cause first, and any tie or outranked guess."""
    chart: Chart | None
    lineages: tuple[Strip, ...]
    lineages_hidden: int
    groups: tuple[Group, ...]
    requests: tuple[RequestRow, ...]
    blind_spots: tuple[str, ...]
    inputs: tuple[InputRow, ...]
    parameters: tuple[tuple[str, tuple[str, ...]], ...]
    """(name, value cut where it may wrap): endpoint URLs must not widen a narrow screen."""
    token_requests_text: str
    notes: tuple[str, ...]
    sections: tuple[tuple[str, str], ...]
    """(anchor, title) of the sections shown: a healthy capture has no chart or findings."""
    config: str | None
    """Which qbtrace.toml was read and what it overrides; None when none was."""
    config_parts: tuple[str, ...]
    """The same, cut where it may wrap (its overrides may hold long endpoint URLs)."""
    request_id_name: str
    providers: tuple[ProviderRow, ...] = ()
    """Token requests and failures per provider, when the inputs hold several."""
    lanes: Lanes | None = None
    """One lane per process the logs name; None when no input names one."""


def build(analysis: Analysis, presenter: Presenter) -> Report:
    """Everything the template shows, decided here."""
    colours = report_colours(f.cause for f in analysis.findings)
    causes = tuple(
        CauseCount(r.cause, BY_CAUSE[r.cause].title, r.count, r.fix, colours[r.cause])
        for r in ranked(analysis.findings, presenter.provider)
    )
    top = headline(analysis.findings, presenter.provider)
    groups = _groups(analysis.findings, causes, presenter)
    shown = [f for g in groups for f in g.findings]
    strips = lineage_strips(analysis, presenter)
    chart = failure_chart(analysis.findings)
    requests = _requests(analysis, shown)
    causes_of = {f.ref: f.cause for f in analysis.findings}
    lanes = process_lanes(analysis, causes_of, colours, _row_hrefs(analysis, requests))
    return Report(
        version=__version__,
        format_version=FORMAT_VERSION,
        token_requests=analysis.token_requests,
        failures=len(analysis.findings),
        causes=causes,
        fix_first=sentence(top) if top is not None else None,
        chart=chart,
        lineages=tuple(strips[:MAX_STRIPS]),
        lineages_hidden=max(0, len(strips) - MAX_STRIPS),
        groups=groups,
        requests=requests,
        blind_spots=_blind_spots(analysis),
        inputs=_inputs(analysis),
        parameters=tuple((name, url_parts(value)) for name, value in _parameters(analysis)),
        token_requests_text=plural(analysis.token_requests, "token request"),
        notes=analysis.notes,
        sections=_sections(chart is not None, lanes is not None, bool(groups), bool(requests)),
        config=config_line(analysis),
        config_parts=url_parts(config_line(analysis) or ""),
        request_id_name=_request_id_name(analysis),
        providers=_providers(analysis),
        lanes=lanes,
    )


def _row_hrefs(analysis: Analysis, requests: tuple[RequestRow, ...]) -> dict[Ref, str]:
    """The href of each request the requests table has a row for."""
    ids = {row.id for row in requests}
    return {
        x.ref: f"#{anchor(x.ref)}"
        for item in analysis.inputs
        for x in item.exchanges
        if anchor(x.ref) in ids
    }


def _providers(analysis: Analysis) -> tuple[ProviderRow, ...]:
    counts = analysis.per_provider()
    if len(counts) < 2:
        return ()
    return tuple(ProviderRow(c.provider.label, c.token_requests, c.failures) for c in counts)


def _sections(
    chart: bool, lanes: bool, findings: bool, requests: bool
) -> tuple[tuple[str, str], ...]:
    shown = (
        ("chart", "Failures over time", chart),
        ("processes", "Processes", lanes),
        ("lineages", "Lineages", True),
        ("findings", "Findings", findings),
        ("requests", "Requests", requests),
        ("blind-spots", "What the input could not show", True),
        ("inputs", "Inputs and parameters", True),
    )
    return tuple((anchor, title) for anchor, title, there in shown if there)


def url_parts(url: str) -> tuple[str, ...]:
    """Where a URL may wrap: after `/`, `?`, `&`, and after `.` and `-` too, so a long host
    (an Auth0 tenant) or a tenant GUID in the path (Microsoft's) does not break mid-word."""
    return tuple(part for part in re.split(r"(?<=[/?&.-])", url) if part)


def _request_id_name(analysis: Analysis) -> str:
    """The requests table's column: the provider's name for its request id, when only one
    provider has one."""
    names = {p.request_id_header for p in analysis.profile.providers if p.request_id_header}
    return names.pop() if len(names) == 1 else "request id"


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
        items = by_cause[c.cause]
        # one explanation per cause, in the words of its first finding's provider
        rule = BY_CAUSE[c.cause].texts(presenter.provider(items[0]))
        views = tuple(_finding(numbers[id(f)], f, presenter) for f in items[:PER_GROUP])
        text = (rule.happened, rule.confirm, rule.fix)
        hidden = len(items) - len(views)
        opened = few or n == 0
        parts = _parts(c.cause, views, items, presenter)
        out.append(
            Group(c.cause, rule.title, c.count, c.colour, *text, opened, views, hidden, parts)
        )
    return tuple(out)


def _parts(
    cause: str, views: tuple[FindingView, ...], items: list[Finding], presenter: Presenter
) -> tuple[Part, ...]:
    """The shown findings of one cause split by provider, when there are several."""
    names = list(dict.fromkeys(f.provider for f in items[: len(views)]))
    if len(names) < 2:
        return ()
    out = []
    for name in names:
        provider = presenter.profile.named(name)
        t = BY_CAUSE[cause].texts(provider)
        mine = tuple(v for v, f in zip(views, items, strict=False) if f.provider == name)
        out.append(Part(provider.label, t.happened, t.confirm, t.fix, mine))
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
        request_id=clip(f.request_id, 200) if f.request_id else None,
        request_id_name=presenter.provider(f).request_id_header or "request id",
        process=_who(f.process, f.seen_in),
        presented=who,
        steps=tuple(_step(e, presenter) for e in f.evidence),
        alternatives=f.alternatives,
        warnings=f.warnings,
        happened=f.happened,
        fix=f.fix,
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
                provider = analysis.profile.provider_for(x)
                rows.append(_request_row(key, x, key in failed, provider.request_id(x)))
                wanted.discard(key)
    return tuple(rows)


def _request_row(key: str, x: Exchange, failed: bool, request_id: str | None) -> RequestRow:
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
        url_parts=url_parts(clip(x.url, 500)),
        outcome=clip(outcome, 500),
        request_id=clip(request_id or "", 200) or None,
        process=_who(x.process, x.seen_in) or "",
        css="failed" if failed else ("ok" if x.ok else "other"),
        process_words=words(_who(x.process, x.seen_in) or ""),
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
    gaps: Counter[Gap] = Counter()
    for item in analysis.inputs:
        for x in item.exchanges:
            gaps.update(x.gaps)
    out = [f"{n} {GAP_WORDS[gap]}" for gap, n in sorted(gaps.items())]
    lin = analysis.lineage
    early = {
        r.refresh.hex
        for r in lin.requests
        if r.grant == "refresh_token" and r.refresh and not lin.was_issued(r.refresh)
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
            words("; ".join(item.warnings)),
        )
        for item in analysis.inputs
    )


def words(text: str) -> tuple[tuple[str, bool], ...]:
    """`text` cut at its spaces, each word with whether it holds a hyphen a browser would
    break a line at."""
    return tuple((word, "-" in word) for word in text.split(" ") if word)


def _parameters(analysis: Analysis) -> tuple[tuple[str, str], ...]:
    """Every provider's parameters (prefixed by its name after the first), then the app's."""
    profile = analysis.profile
    out = []
    for n, provider in enumerate(profile.providers):
        prefix = f"{provider.name}." if n else ""
        out.append((f"{prefix}provider", provider.label))
        for f in fields(provider):
            value = getattr(provider, f.name)
            if f.name in ("name", "title", "words") or value in (None, (), ""):
                continue
            if isinstance(value, Mapping):  # the provider's own tables (answer hints)
                continue
            text = ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)
            out.append((f"{prefix}{f.name}", text))
    for name in ("redirect_uris", "disconnect_urls"):
        out.append((name, ", ".join(getattr(profile, name)) or "—"))
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
