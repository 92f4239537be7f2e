"""The report's pictures as data: failures over time stacked by cause, and one strip per
lineage. Coordinates, colours and tooltips are decided here; the template draws SVG."""

from __future__ import annotations

import colorsys
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache

from qbtrace.analysis import Analysis
from qbtrace.events import TokenRequest
from qbtrace.model import Finding
from qbtrace.render.view import Presenter, iso
from qbtrace.rules import PRECEDENCE
from qbtrace.rules.common import span as span_text

GOLDEN_ANGLE = 137.50776405003785
"""Hue step between consecutive causes: never repeats, and neighbours in precedence (often
shown together) land far apart on the colour wheel."""
LIGHTNESS = (0.42, 0.30, 0.54)
"""Cycled with the hue, so causes whose hues come close still differ in lightness."""
MIN_CONTRAST = 3.0
"""WCAG 2's minimum for graphics against the report's white background."""


CHART_W, CHART_H, STRIP_W = 720, 160, 720
MAX_BARS = 48
MAX_STRIPS = 40


def colour(cause: str) -> str:
    """A fixed colour per cause, the same in every report: generated from the cause's place
    in the precedence, so any number of causes gets distinct colours and adding one edits
    no list of colours."""
    return palette_colour(PRECEDENCE.index(cause))


@cache
def palette_colour(n: int) -> str:
    """The n-th colour: golden-angle hues, cycled lightness, darkened until it stands out
    on white by MIN_CONTRAST."""
    hue = (n * GOLDEN_ANGLE % 360) / 360
    lightness = LIGHTNESS[n % len(LIGHTNESS)]
    rgb = colorsys.hls_to_rgb(hue, lightness, 0.62)
    while _contrast_on_white(rgb) < MIN_CONTRAST:
        lightness -= 0.02
        rgb = colorsys.hls_to_rgb(hue, lightness, 0.62)
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgb)


def _contrast_on_white(rgb: tuple[float, float, float]) -> float:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Failures over time, stacked by cause, as SVG rectangles in a CHART_W x CHART_H box."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    start: str
    end: str
    peak: int


@dataclass(frozen=True, slots=True)
class Mark:
    x: float
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Strip:
    """One lineage (client + realm) on its own time axis: tokens issued, spent, failures."""

    label: str
    width: int
    marks: tuple[Mark, ...]
    failures: int
    events: int


def failure_chart(findings: tuple[Finding, ...]) -> Chart | None:
    timed = [f for f in findings if f.time is not None]
    if not timed:
        return None
    t0 = min(f.time for f in timed if f.time is not None)
    t1 = max(f.time for f in timed if f.time is not None)
    n = MAX_BARS if t1 > t0 else 1
    step = (t1 - t0) / n or 1.0
    cells: Counter[tuple[int, str]] = Counter(
        (min(n - 1, int(((f.time or t0) - t0) / step)), f.cause) for f in timed
    )
    totals: Counter[int] = Counter()
    for (b, _), k in cells.items():
        totals[b] += k
    peak = max(totals.values())
    width = CHART_W / n
    bars: list[Bar] = []
    stacked: dict[int, float] = defaultdict(float)
    for (b, cause), k in sorted(cells.items(), key=lambda c: (c[0][0], PRECEDENCE.index(c[0][1]))):
        h = k / peak * (CHART_H - 14)
        stacked[b] += h
        title = f"{iso(t0 + b * step)}: {k} {cause}"
        x, y, w = round(b * width, 1), round(CHART_H - stacked[b], 1), round(max(width - 1, 1), 1)
        bars.append(Bar(x, y, w, round(h, 1), colour(cause), title))
    return Chart(CHART_W, CHART_H, tuple(bars), iso(t0) or "", iso(t1) or "", peak)


def _lineage_key(analysis: Analysis, r: TokenRequest) -> str:
    lin = analysis.lineage
    for token in (r.presented, r.issued_rt):
        lineage = lin.lineage_of(token) if token is not None else None
        if lineage is not None:
            return lineage
    return r.presented.hex if r.presented else f"request:{r.seq}"


def _mark(r: TokenRequest) -> tuple[str, str]:
    if not r.ok:
        return "failed", f"failed: {r.error or r.x.status or r.x.failure or 'no response'}"
    if r.grant == "refresh_token":
        replaced = r.issued_rt is not None and r.refresh is not None and r.issued_rt != r.refresh
        return ("replaced", "spent and replaced") if replaced else ("spent", "spent, same token")
    return "issued", "tokens issued"


def lineage_strips(analysis: Analysis, presenter: Presenter) -> list[Strip]:
    """One strip per lineage, each on its own time axis (its first to its last event): a
    capture spanning months would squeeze a day's rotation and replay into one dot."""
    lin = analysis.lineage
    groups: dict[str, list[TokenRequest]] = defaultdict(list)
    for r in lin.requests:
        groups[_lineage_key(analysis, r)].append(r)
    strips = []
    for key, reqs in groups.items():
        revokes = lin.revokes_of_lineage(key)
        times = [m for m in (*(r.x.started for r in reqs), *(x.started for x in revokes)) if m]
        t0 = min(times, default=0.0)
        span = (max(times, default=0.0) - t0) or 1.0

        def at(moment: float | None, t0: float = t0, span: float = span) -> float:
            return round(((moment or t0) - t0) / span * (STRIP_W - 8) + 4, 1)

        marks = []
        for r in reqs:
            css, what = _mark(r)
            where = f"{r.x.ref.source} #{r.x.ref.index}"
            marks.append(Mark(at(r.x.started), css, f"{iso(r.x.started)} {where}: {what}"))
        for x in revokes:
            marks.append(Mark(at(x.started), "revoked", f"{iso(x.started)}: revoked"))
        client = presenter.client(reqs[0].client_id) or "client unknown"
        realm = lin.realm_of(key)
        label = f"{client}, realm {realm}" if realm else client
        if len(times) > 1:
            label += f", {span_text(span)} from {iso(t0)}"
        failed = sum(1 for m in marks if m.css == "failed")
        strips.append(Strip(f"{label} ({key[:17]})", STRIP_W, tuple(marks), failed, len(marks)))
    strips.sort(key=lambda s: (-s.failures, s.label))
    return strips
