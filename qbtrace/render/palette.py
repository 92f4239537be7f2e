"""One colour per cause, generated rather than listed so that a new cause (a provider's)
gets one too. A report spreads its own causes evenly round the colour wheel (`report_colours`:
six causes sit 60° apart, not the few degrees a fixed palette of two dozen leaves); `colour`
is the fixed fallback, golden-angle hues with lightness cycled. Each colour is darkened until
it stands out on the report's white.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable
from functools import cache

from qbtrace.rules import PRECEDENCE

GOLDEN_ANGLE = 137.50776405003785
"""Hue step between consecutive causes: never repeats, and neighbours in precedence (often
shown together) land far apart on the colour wheel."""
LIGHTNESS = (0.42, 0.30, 0.54)
"""Cycled with the hue, so causes whose hues come close still differ in lightness."""
MIN_CONTRAST = 3.0
"""WCAG 2's minimum for graphics against the report's white background."""


def colour(cause: str) -> str:
    """A fixed colour per cause, the same in every report: generated from the cause's place
    in the precedence, so any number of causes gets distinct colours and adding one edits
    no list of colours."""
    return palette_colour(PRECEDENCE.index(cause))


REPORT_START = 205.0
"""Hue of a report's first cause (a blue): the red of failure marks stays apart."""


def report_colours(causes: Iterable[str]) -> dict[str, str]:
    """A colour for each cause one report shows, their hues evenly spread (in precedence
    order, lightness cycled), so the causes side by side in a chart are far apart."""
    shown = sorted(set(causes), key=PRECEDENCE.index)
    step = 360 / max(len(shown), 1)
    return {
        cause: _shade((REPORT_START + i * step) % 360, LIGHTNESS[i % len(LIGHTNESS)])
        for i, cause in enumerate(shown)
    }


@cache
def palette_colour(n: int) -> str:
    """The n-th colour: golden-angle hues, cycled lightness, darkened until it stands out
    on white by MIN_CONTRAST."""
    return _shade(n * GOLDEN_ANGLE % 360, LIGHTNESS[n % len(LIGHTNESS)])


def _shade(hue_degrees: float, lightness: float) -> str:
    """The colour of that hue and lightness, darkened until it stands out on white."""
    hue = hue_degrees / 360
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
