"""One colour per cause, each of its own hue, generated rather than listed so that a new
cause (a provider's) gets one too.

Hues are spread evenly around the OKLCH circle (perceptually even, unlike HSL's), visited
with a stride coprime with the number of causes so that causes next to each other in the
precedence list (often shown side by side) are far apart in hue; lightness alternates over
three levels along the hue circle, so that neighbours in hue differ in lightness too. Every
colour is dark enough to read as a small swatch on white.
"""

from __future__ import annotations

import math
from functools import cache

from qbtrace.rules import PRECEDENCE

LIGHTNESS = (0.56, 0.68, 0.47)
CHROMA = 0.15


def colour(cause: str) -> str:
    """The cause's colour, `#rrggbb`, the same in every report."""
    return palette(len(PRECEDENCE))[PRECEDENCE.index(cause)]


@cache
def palette(count: int) -> tuple[str, ...]:
    stride = _stride(count)
    slots = [(i * stride) % count for i in range(count)]
    # lightness by hue slot, so that the two causes nearest in hue also differ in lightness
    return tuple(
        _oklch_hex(LIGHTNESS[slot % len(LIGHTNESS)], CHROMA, 360.0 * slot / count) for slot in slots
    )


def _stride(count: int) -> int:
    """The step near count × 0.382 (the golden angle) that visits every hue once."""
    best = max(1, round(count * 0.382))
    while math.gcd(best, count) != 1:
        best += 1
    return best


def _oklch_hex(lightness: float, chroma: float, hue: float) -> str:
    """OKLCH to sRGB, lowering the chroma until the colour is inside the sRGB gamut."""
    while True:
        rgb = _oklab_to_srgb(
            lightness,
            chroma * math.cos(math.radians(hue)),
            chroma * math.sin(math.radians(hue)),
        )
        if all(0.0 <= c <= 1.0 for c in rgb) or chroma <= 0:
            break
        chroma -= 0.005
    return "#" + "".join(f"{round(min(max(c, 0.0), 1.0) * 255):02x}" for c in rgb)


def _oklab_to_srgb(lightness: float, a: float, b: float) -> tuple[float, float, float]:
    # Björn Ottosson's OKLab definition: to LMS, cube, to linear sRGB, then the sRGB curve
    l_ = (lightness + 0.3963377774 * a + 0.2158037573 * b) ** 3
    m_ = (lightness - 0.1055613458 * a - 0.0638541728 * b) ** 3
    s_ = (lightness - 0.0894841775 * a - 1.2914855480 * b) ** 3
    linear = (
        4.0767416621 * l_ - 3.3077115913 * m_ + 0.2309699292 * s_,
        -1.2684380046 * l_ + 2.6097574011 * m_ - 0.3413193965 * s_,
        -0.0041960863 * l_ - 0.7034186147 * m_ + 1.7076147010 * s_,
    )
    r, g, bl = (_gamma(c) for c in linear)
    return r, g, bl


def _gamma(c: float) -> float:
    if c <= 0.0031308:
        return 12.92 * c
    return float(1.055 * c ** (1 / 2.4) - 0.055)
