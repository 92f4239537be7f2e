"""The report's processes: one lane per process a log names, its token requests as marks
on a time axis the lanes share, so two workers refreshing the same lineage at once read as
two marks one above the other.

The lanes share the lineage strips' time scale (`charts.positions`: at least MIN_STEP_PX
between two requests, the rest of the width shared by the logarithm of each gap), over the
requests of every lane together: a mark's x says when, whatever its lane. A failure is drawn
in its cause's colour and links to its row in the requests table. There are no lanes when
no input names a process (a capture alone).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from qbtrace.analysis import Analysis
from qbtrace.events import TokenRequest
from qbtrace.model import Ref
from qbtrace.render.charts import (
    MIN_STEP_PX,
    PAD,
    STRIP_W,
    Tick,
    gap_ticks,
    mark_kind,
    positions,
)
from qbtrace.render.view import iso, plural

MAX_LANES = 20
"""Lanes drawn; the rest (the processes with the fewest failures) are counted."""
MAX_WIDTH = 4000
"""The lanes' box grows so that marks keep MIN_STEP_PX apart, up to this width."""
GAP_BAND, LANE_H, LABEL_Y, LINE_Y = 22, 40, 13, 29
"""Heights: the band of gap labels on top, then per lane its label and its line."""
LABEL_CHARS, TITLE_CHARS = 90, 400
UNNAMED = "process not named"
"""The lane of the requests no log names a process for (a capture's, unjoined)."""


@dataclass(frozen=True, slots=True)
class LaneMark:
    x: float
    css: str
    """`failed`, `issued`, `spent`, `replaced`: the lineage strips' classes."""
    colour: str | None
    """A failure's cause colour (the chart's); None for the others (their class colours)."""
    title: str
    href: str | None
    """The request's row in the requests table, when the report has one."""


@dataclass(frozen=True, slots=True)
class Lane:
    label: str
    label_y: float
    y: float
    """y of the lane's line in the shared box."""
    marks: tuple[LaneMark, ...]
    failures: int


@dataclass(frozen=True, slots=True)
class Lanes:
    """Every drawn lane in one `width` x `height` SVG box, and how many are not drawn."""

    width: int
    height: int
    wide: bool
    """Wider than the lineage strips: drawn at its own width, scrolled in its box."""
    pad: float
    lanes: tuple[Lane, ...]
    gaps: tuple[Tick, ...]
    hidden: int
    hidden_text: str
    """`3 more processes not drawn (…)`, or empty."""
    caption: str
    """`7 token requests by 2 processes from`; the template adds the first and last times."""
    first: str
    last: str


def process_lanes(
    analysis: Analysis,
    causes: Mapping[Ref, str],
    colours: Mapping[str, str],
    rows: Mapping[Ref, str],
) -> Lanes | None:
    """The lanes, or None when no token request's process is known.

    `causes` maps a failed request to its finding's cause, `colours` a cause to its colour
    (the chart's), `rows` a request to the href of its row, for the rows the report shows."""
    requests = sorted(
        (r for r in analysis.lineage.requests if r.x.started is not None), key=lambda r: r.start
    )
    if not any(r.x.process for r in requests):
        return None
    groups: dict[str, list[int]] = defaultdict(list)
    for n, r in enumerate(requests):
        groups[r.x.process or UNNAMED].append(n)
    width = int(min(MAX_WIDTH, max(STRIP_W, MIN_STEP_PX * (len(requests) - 1) + 2 * PAD)))
    times = [r.start for r in requests]
    xs = positions(times, width)
    marks = [_mark(r, x, causes, colours, rows) for r, x in zip(requests, xs, strict=True)]
    failed = {p: sum(marks[n].css == "failed" for n in ns) for p, ns in groups.items()}
    order = sorted(groups, key=lambda p: (p == UNNAMED, -failed[p], p))
    shown = order[:MAX_LANES]
    ys = itertools.count(GAP_BAND + LINE_Y, LANE_H)
    lanes = tuple(
        _lane(p, tuple(marks[n] for n in groups[p]), y, failed[p])
        for p, y in zip(shown, ys, strict=False)
    )
    hidden = len(order) - len(shown)
    named = len(groups) - (UNNAMED in groups)
    return Lanes(
        width=width,
        height=GAP_BAND + LANE_H * len(lanes),
        wide=width > STRIP_W,
        pad=PAD,
        lanes=lanes,
        gaps=gap_ticks(times, xs),
        hidden=hidden,
        hidden_text=(
            f"{plural(hidden, 'more process', 'more processes')} not drawn "
            "(those with the fewest failures)."
            if hidden
            else ""
        ),
        caption=f"{plural(len(requests), 'token request')} by "
        f"{plural(named, 'named process', 'named processes')} from",
        first=iso(times[0]) or "",
        last=iso(times[-1]) or "",
    )


def _mark(
    r: TokenRequest,
    x: float,
    causes: Mapping[Ref, str],
    colours: Mapping[str, str],
    rows: Mapping[Ref, str],
) -> LaneMark:
    css, what = mark_kind(r)
    cause = causes.get(r.x.ref)
    if cause is not None:
        what += f": {cause}"
    who = f" ({r.x.process})" if r.x.process else ""
    when = f"{iso(r.x.started)} {r.x.ref.source} #{r.x.ref.index}{who}"
    token = f" {r.presented.tag}" if r.presented is not None else ""
    title = _cut(f"{when}: {r.grant or 'grant unknown'}{token}, {what}", TITLE_CHARS)
    colour = colours.get(cause) if cause is not None else None
    return LaneMark(x, css, colour, title, rows.get(r.x.ref))


def _lane(process: str, marks: tuple[LaneMark, ...], y: float, failures: int) -> Lane:
    summary = f"{plural(len(marks), 'token request')}, {plural(failures, 'failure')}"
    label = f"{_cut(process, LABEL_CHARS)}: {summary}"
    return Lane(label, y - LINE_Y + LABEL_Y, y, marks, failures)


def _cut(text: str, limit: int) -> str:
    """A log's hostname or error may be long: an SVG label does not wrap."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
