"""The report's pictures: distinct colours, bars inside their box, one strip per lineage."""

from __future__ import annotations

import colorsys
import itertools

from qbtrace.analysis import Analysis, analyze_inputs, read_all
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.render.charts import (
    CHART_H,
    CHART_W,
    MIN_STEP_PX,
    PAD,
    colour,
    duration_words,
    failure_chart,
    lineage_strips,
    positions,
)
from qbtrace.render.palette import _contrast_on_white, palette_colour, report_colours
from qbtrace.render.view import Presenter
from qbtrace.rules import PRECEDENCE
from tests.conftest import GOLDEN

REDACTOR = Redactor(b"charts")


def analysis_of(*names: str) -> Analysis:
    paths = [GOLDEN / f"{name}.har" for name in names]
    return analyze_inputs(read_all(paths, Profile(), REDACTOR), Profile())


def _hue(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hls(r, g, b)[0] * 360


def test_every_cause_has_its_own_hue() -> None:
    assert len({colour(cause) for cause in PRECEDENCE}) == len(PRECEDENCE)
    for count in (len(PRECEDENCE), len(PRECEDENCE) + 3):  # and once providers add causes
        hues = sorted(_hue(palette_colour(n)) for n in range(count))
        gaps = [(hues[(i + 1) % count] - hues[i]) % 360 for i in range(count)]
        assert min(gaps) >= 5, (count, hues)


def test_a_report_spreads_its_causes_round_the_wheel() -> None:
    """The causes one report shows are far apart in hue, whichever they are: five causes
    that sit a few degrees apart in the fixed palette get 72° each."""
    for count in (1, 2, 5, 8, len(PRECEDENCE)):
        for causes in (PRECEDENCE[:count], PRECEDENCE[-count:], PRECEDENCE[::3][:count]):
            colours = report_colours(causes)
            assert set(colours) == set(causes) and len(set(colours.values())) == len(causes)
            hues = sorted(_hue(c) for c in colours.values())
            gaps = [(hues[(i + 1) % len(hues)] - hues[i]) % 360 for i in range(len(hues))]
            # darkening to the contrast floor moves a hue a little; the spread stays
            assert len(hues) == 1 or min(gaps) >= 0.6 * 360 / len(hues), (causes, hues)
            for hexa in colours.values():
                rgb = tuple(int(hexa[i : i + 2], 16) / 255 for i in (1, 3, 5))
                assert _contrast_on_white(rgb) >= 3.0, hexa  # type: ignore[arg-type]
    assert report_colours(["refresh_race", "code_reused"]) == report_colours(
        ["code_reused", "refresh_race", "code_reused"]
    )  # order and repeats of the findings do not change a report's colours


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
            assert min(xs) == PAD and max(xs) == strip.width - PAD


def test_buckets_have_a_round_stated_width_over_minutes_or_months() -> None:
    from dataclasses import replace

    analysis = analysis_of("mixed")
    base = analysis.findings[0]
    for spread, words in ((90, "2 seconds"), (3 * 3600, "5 minutes"), (60 * 86400, "2 days")):
        findings = tuple(replace(base, time=(base.time or 0) + spread * i / 9) for i in range(10))
        chart = failure_chart(findings)
        assert chart is not None and chart.bucket == words, (spread, chart and chart.bucket)
        assert chart.count_label == f"failures per {words}" and len(chart.times) >= 3
        labels = [t.label for t in chart.times]
        assert len(set(labels)) == len(labels)
    assert duration_words(1) == "1 second" and duration_words(3600) == "1 hour"


def test_events_seconds_apart_stay_apart_on_a_day_long_strip() -> None:
    day = 26 * 3600.0
    times = [0.0, day, day + 0.4, day + 1.0]  # a replay race 26 h after the issue
    xs = positions(times, 720)
    assert all(b - a >= MIN_STEP_PX for a, b in itertools.pairwise(xs))
    assert xs[0] == PAD and xs[-1] == 720 - PAD
