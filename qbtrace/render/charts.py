"""The report's pictures as data: failures over time stacked by cause, and one strip per
lineage. Coordinates, ticks, labels, colours and tooltips are decided here; the template
only draws them as SVG.

The chart's buckets have a round width (1 s … 30 days) chosen from the capture's span, so a
burst over two minutes and a trickle over two months both read as counts per stated width.
A lineage's strip places its events in time order with the space between two of them
growing with the logarithm of the time between them: a race (milliseconds apart) stays two
dots on a strip that also holds a 26-hour gap, whose length is written in the gap.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from qbtrace.analysis import Analysis
from qbtrace.events import TokenRequest
from qbtrace.model import Finding
from qbtrace.render.palette import colour, report_colours
from qbtrace.render.view import Presenter, iso, plural
from qbtrace.rules import PRECEDENCE
from qbtrace.rules.common import span as span_text

CHART_W, CHART_H, STRIP_W, STRIP_H = 720, 210, 720, 34
LEFT, RIGHT, TOP, BOTTOM = 46, 14, 22, 40
MAX_BARS = 60
MAX_STRIPS = 40
TICK_CHAR_PX = 6.4
"""Width of a character of the 11px tick font, to space time labels without overlap."""
MIN_STEP_PX = 14.0
"""Least space between two events of a strip: two dots (radius 5) never merge."""
PAD = 8.0
MINUTE, HOUR, DAY = 60, 3600, 86_400
WIDTHS = (
    1, 2, 5, 10, 15, 30, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE,
    30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY,
    14 * DAY, 30 * DAY, 91 * DAY, 365 * DAY,
)  # fmt: skip
"""Round bucket widths and tick steps, in seconds."""

__all__ = ["MAX_STRIPS", "Chart", "Strip", "colour", "failure_chart", "lineage_strips"]


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True, slots=True)
class Tick:
    """A labelled position on an axis: `at` is x for the time axis, y for the count axis."""

    at: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Failures over time, stacked by cause, in a `width` x `height` SVG box."""

    width: int
    height: int
    left: int
    top: int
    right: float
    """x of the plot's right edge."""
    base: float
    """y of the time axis (count 0)."""
    bars: tuple[Bar, ...]
    times: tuple[Tick, ...]
    counts: tuple[Tick, ...]
    bucket: str
    """The bars' width in words: `5 minutes`."""
    count_label: str
    caption: str
    """What the bars count, up to the span's first time: `Each bar: 5 minutes. 9 timed
    failures from`; the template sets `first` and `last` unbroken after it."""
    first: str
    last: str


@dataclass(frozen=True, slots=True)
class Mark:
    x: float
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Strip:
    """One lineage (client + realm): its events in time order, long gaps labelled."""

    label: str
    parts: tuple[str, ...]
    """The label's pieces (client, realm, span): a line breaks between them only."""
    width: int
    height: int
    marks: tuple[Mark, ...]
    gaps: tuple[Tick, ...]
    failures: int
    events: int
    summary: str
    """`6 events, 4 failures`."""


def duration_words(seconds: int) -> str:
    """A bucket width as words: `1 second`, `5 minutes`, `7 days`."""
    for unit, size in (("day", DAY), ("hour", HOUR), ("minute", MINUTE)):
        if seconds >= size and seconds % size == 0:
            return plural(seconds // size, unit)
    return plural(seconds, "second")


def failure_chart(findings: tuple[Finding, ...]) -> Chart | None:
    times = [f.time for f in findings if f.time is not None and math.isfinite(f.time)]
    if not times:
        return None
    t0, t1 = min(times), max(times)
    width = next((w for w in WIDTHS if (t1 - t0) / w < MAX_BARS), WIDTHS[-1])
    start = math.floor(t0 / width) * width
    buckets = int((t1 - start) // width) + 1
    cells: Counter[tuple[int, str]] = Counter()
    for f in findings:
        if f.time is not None and math.isfinite(f.time):
            cells[(min(buckets - 1, int((f.time - start) // width)), f.cause)] += 1
    totals: Counter[int] = Counter()
    for (b, _), k in cells.items():
        totals[b] += k
    top_count, count_ticks = _count_axis(max(totals.values()))
    plot_w, plot_h = CHART_W - LEFT - RIGHT, CHART_H - TOP - BOTTOM
    bar_w = plot_w / buckets
    bars: list[Bar] = []
    stacked: dict[int, float] = defaultdict(float)
    colours = report_colours(f.cause for f in findings)
    for (b, cause), k in sorted(cells.items(), key=lambda c: (c[0][0], PRECEDENCE.index(c[0][1]))):
        h = k / top_count * plot_h
        stacked[b] += h
        when = iso(start + b * width)
        title = f"{when} + {duration_words(width)}: {plural(k, 'failure')} {cause}"
        x = round(LEFT + b * bar_w + (0.5 if bar_w > 3 else 0), 1)
        w = round(max(bar_w - 1 if bar_w > 3 else bar_w, 0.8), 1)
        bars.append(
            Bar(x, round(TOP + plot_h - stacked[b], 1), w, round(h, 1), colours[cause], title)
        )
    counts = tuple(
        Tick(round(TOP + plot_h - c / top_count * plot_h, 1), str(c)) for c in count_ticks
    )
    times_ = _time_ticks(start, start + buckets * width, plot_w)
    bucket = duration_words(width)
    caption = f"Each bar: {bucket}. {plural(len(times), 'timed failure')} from"
    return Chart(
        CHART_W, CHART_H, LEFT, TOP, CHART_W - RIGHT, TOP + plot_h, tuple(bars), times_,
        counts, bucket, f"failures per {bucket}", caption, iso(t0) or "", iso(t1) or "",
    )  # fmt: skip


def _count_axis(peak: int) -> tuple[int, list[int]]:
    """A round top of the count axis and its ticks (at most about five)."""
    step = 1
    for candidate in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000):
        step = candidate
        if peak / candidate <= 5:
            break
    else:
        step = 10 ** math.ceil(math.log10(max(peak, 1) / 5))
    top = max(step, math.ceil(peak / step) * step)
    return top, list(range(0, top + 1, step))


def _time_ticks(start: float, end: float, plot_w: float) -> tuple[Tick, ...]:
    """Round times along the axis, as many as fit without their labels touching."""
    span = max(end - start, 1.0)
    for step in WIDTHS:
        fmt = _time_format(step, span)
        label_px = len(datetime.fromtimestamp(start, UTC).strftime(fmt)) * TICK_CHAR_PX + 12
        if span / step * label_px <= plot_w:
            break
    first = math.ceil(start / step) * step
    ticks = []
    moment = float(first)
    while moment <= end:
        x = LEFT + (moment - start) / span * plot_w
        ticks.append(Tick(round(x, 1), datetime.fromtimestamp(moment, UTC).strftime(fmt)))
        moment += step
    return tuple(ticks)


def _time_format(step: int, span: float) -> str:
    if step >= DAY:
        return "%Y-%m-%d"
    if span > DAY:
        return "%m-%d %H:%M"
    if step >= MINUTE:
        return "%H:%M"
    return "%H:%M:%S"


def _lineage_key(analysis: Analysis, r: TokenRequest) -> str:
    lin = analysis.lineage
    for token in (r.presented, r.issued_rt):
        lineage = lin.lineage_of(token) if token is not None else None
        if lineage is not None:
            return lineage
    return r.presented.hex if r.presented else f"request:{r.seq}"


def mark_kind(r: TokenRequest) -> tuple[str, str]:
    """A token request's mark class (`failed`, `spent`, `replaced`, `issued`) and words."""
    if not r.ok:
        return "failed", f"failed: {r.error or r.x.status or r.x.failure or 'no response'}"
    if r.grant == "refresh_token":
        replaced = r.issued_rt is not None and r.refresh is not None and r.issued_rt != r.refresh
        return ("replaced", "spent and replaced") if replaced else ("spent", "spent, same token")
    return "issued", "tokens issued"


def positions(times: list[float], width: float) -> list[float]:
    """x of each event (times sorted): at least MIN_STEP_PX apart, the rest of the width
    shared by the logarithm of each gap in seconds."""
    if len(times) == 1:
        return [width / 2]
    usable = width - 2 * PAD
    least = min(MIN_STEP_PX, usable / (len(times) - 1))
    spare = usable - least * (len(times) - 1)
    weights = [math.log1p(max(b - a, 0.0)) for a, b in itertools.pairwise(times)]
    total = sum(weights)
    xs = [PAD]
    for w in weights:
        share = spare * w / total if total else spare / len(weights)
        xs.append(xs[-1] + least + share)
    return [round(x, 1) for x in xs]


def gap_ticks(times: list[float], xs: list[float]) -> tuple[Tick, ...]:
    """A duration label in every gap of a minute or more that has room for one."""
    out = []
    for (a, b), (xa, xb) in zip(itertools.pairwise(times), itertools.pairwise(xs), strict=True):
        words = span_text(b - a)
        if b - a >= MINUTE and xb - xa >= len(words) * TICK_CHAR_PX + 14:
            out.append(Tick(round((xa + xb) / 2, 1), words))
    return tuple(out)


def lineage_strips(analysis: Analysis, presenter: Presenter) -> list[Strip]:
    """One strip per lineage, failures first."""
    lin = analysis.lineage
    groups: dict[str, list[TokenRequest]] = defaultdict(list)
    for r in lin.requests:
        groups[_lineage_key(analysis, r)].append(r)
    strips = [_strip(analysis, presenter, key, reqs) for key, reqs in groups.items()]
    strips.sort(key=lambda s: (-s.failures, s.label))
    return strips


def _strip(analysis: Analysis, presenter: Presenter, key: str, reqs: list[TokenRequest]) -> Strip:
    lin = analysis.lineage
    events: list[tuple[float, str, str]] = []
    for r in reqs:
        css, what = mark_kind(r)
        events.append(
            (
                r.x.started or 0.0,
                css,
                f"{iso(r.x.started)} {r.x.ref.source} #{r.x.ref.index}: {what}",
            )
        )
    for x in lin.revokes_of_lineage(key):
        events.append((x.started or 0.0, "revoked", f"{iso(x.started)}: revoked"))
    events.sort(key=lambda e: e[0])
    times = [e[0] for e in events]
    xs = positions(times, STRIP_W)
    marks = tuple(Mark(x, css, title) for x, (_, css, title) in zip(xs, events, strict=True))
    client = presenter.client(reqs[0].client_id) or "client unknown"
    realm = lin.realm_of(key)
    parts = [client, f"realm {realm}"] if realm else [client]
    timed = [t for t in times if t]
    if len(timed) > 1:
        parts.append(f"{span_text(max(timed) - min(timed))} from {iso(min(timed))}")
    parts.append(f"lineage {key[:17]}")
    failed = sum(1 for m in marks if m.css == "failed")
    summary = f"{plural(len(marks), 'event')}, {plural(failed, 'failure')}"
    return Strip(
        ", ".join(parts),
        tuple(parts),
        STRIP_W,
        STRIP_H,
        marks,
        gap_ticks(times, xs),
        failed,
        len(marks),
        summary,
    )
