"""The report's pictures: distinct colours, bars inside their box, one strip per lineage."""

from __future__ import annotations

import itertools

from qbtrace.analysis import Analysis, analyze_inputs, read_all
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.render.charts import (
    CHART_H,
    CHART_W,
    _contrast_on_white,
    colour,
    failure_chart,
    lineage_strips,
    palette_colour,
)
from qbtrace.render.view import Presenter
from qbtrace.rules import PRECEDENCE
from tests.conftest import GOLDEN

REDACTOR = Redactor(b"charts")


def analysis_of(*names: str) -> Analysis:
    paths = [GOLDEN / f"{name}.har" for name in names]
    return analyze_inputs(read_all(paths, Profile(), REDACTOR), Profile())


def test_every_cause_has_its_own_colour() -> None:
    assert len({colour(cause) for cause in PRECEDENCE}) == len(PRECEDENCE)


def test_the_palette_is_generated_for_any_number_of_causes() -> None:
    colours = [palette_colour(n) for n in range(200)]
    assert len(set(colours)) == 200
    for hexa in colours:
        rgb = tuple(int(hexa[i : i + 2], 16) / 255 for i in (1, 3, 5))
        assert _contrast_on_white(rgb) >= 3.0, hexa  # type: ignore[arg-type]
    # neighbours in precedence are told apart at a glance: far apart in RGB
    for a, b in itertools.pairwise(colours):
        pa, pb = (tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for h in (a, b))
        assert sum((x - y) ** 2 for x, y in zip(pa, pb, strict=True)) ** 0.5 > 60, (a, b)


def test_bars_stack_inside_the_chart_and_count_every_timed_failure() -> None:
    analysis = analysis_of("provider_outage", "mixed", "refresh_race")
    chart = failure_chart(analysis.findings)
    assert chart is not None
    for bar in chart.bars:
        assert 0 <= bar.x <= CHART_W and 0 <= bar.y <= CHART_H and bar.height > 0
    counted = sum(int(bar.title.split(": ")[1].split()[0]) for bar in chart.bars)
    assert counted == sum(1 for f in analysis.findings if f.time is not None)


def test_one_strip_per_lineage_failures_first_on_its_own_axis() -> None:
    analysis = analysis_of("mixed")
    strips = lineage_strips(analysis, Presenter(REDACTOR))
    assert [s.failures for s in strips] == sorted((s.failures for s in strips), reverse=True)
    assert sum(s.failures for s in strips) == len(analysis.findings)
    for strip in strips:
        xs = [m.x for m in strip.marks]
        assert min(xs) >= 0 and max(xs) <= strip.width
        if len(strip.marks) > 1:  # its own axis: first and last events at the two ends
            assert min(xs) == 4 and max(xs) == strip.width - 4
