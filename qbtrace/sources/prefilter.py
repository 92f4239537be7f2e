"""The cheap test every proxied flow and every flow-file entry goes through first.

A request path that contains none of the profile's needles (`Profile.needles`: endpoint
paths, `code=`, tenant parameters) is not OAuth traffic, and most traffic is not: it must
cost as little as a few substring searches. `Profile.kind_of` decides the rest.
"""

from __future__ import annotations

import re

from qbtrace.profile import Profile


def needle_pattern(profile: Profile) -> re.Pattern[bytes]:
    """Matches the raw request path (`request.data.path`) of every flow the profile may want."""
    return re.compile(b"|".join(re.escape(n.encode()) for n in profile.needles))


ANCHORS = 6
"""Substrings tried on each path: enough for the built-in providers' endpoint paths (one
`/oauth2` covers three providers' authorize paths, `/toke` two token paths), the callback's
`code=` and the default provider's tenant parameter."""
Anchors = tuple[str, str, str, str, str, str]


def path_anchors(needles: tuple[str, ...]) -> Anchors | None:
    """ANCHORS substrings such that the raw path of every flow the profile may want holds
    one, as latin-1 text of the path's bytes; None when that many do not do (many endpoints
    or disconnect URLs: the needle regex is used)."""
    left = sorted({n.encode().decode("latin-1") for n in needles}, key=len)
    anchors: list[str] = []
    while left:
        anchor = max(_substrings(left[0]), key=lambda s: (sum(s in n for n in left), len(s)))
        anchors.append(anchor)
        left = [n for n in left if anchor not in n]
    if not anchors or len(anchors) > ANCHORS:
        return None
    a, b, c, d, e, g = (*anchors, *[anchors[-1]] * (ANCHORS - len(anchors)))
    return a, b, c, d, e, g


def _substrings(needle: str) -> list[str]:
    """Its substrings of at least 5 characters (the whole needle when shorter)."""
    size = min(5, len(needle))
    return [needle[i:j] for i in range(len(needle)) for j in range(i + size, len(needle) + 1)]


class PathFilter:
    """`may_match(path)`: the anchors as str `in` tests (a cold regex engine cost the live
    proxy twice as much), or the needle regex when ANCHORS anchors do not cover them."""

    def __init__(self, profile: Profile) -> None:
        self.pattern = needle_pattern(profile)
        self.anchors = path_anchors(profile.needles)

    def may_match(self, path: bytes) -> bool:
        if self.anchors is None:
            return self.pattern.search(path) is not None
        # str `in` on the latin-1 view: bytes `in` goes through the buffer protocol
        text = path.decode("latin-1")
        a, b, c, d, e, g = self.anchors
        return a in text or b in text or c in text or d in text or e in text or g in text
