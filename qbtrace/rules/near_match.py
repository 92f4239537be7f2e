"""How an altered code or token relates to the value that was issued: words, and truncation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from qbtrace.lineage import TRUNCATION_PREFIX
from qbtrace.redact import Secret

T = TypeVar("T")

ALTERATIONS = {
    "whitespace": "with whitespace around it",
    "inner-whitespace": "with whitespace inside it",
    "quoted": "wrapped in quotes",
    "percent-encoded": "percent-encoded",
}


def alteration(presented: Secret) -> str:
    found = [ALTERATIONS[d] for d in presented.defects if d in ALTERATIONS]
    return " and ".join(found) or "altered"


def truncated_from(
    presented: Secret,
    heads: Callable[[tuple[int, str]], T | None],
    secret_of: Callable[[T], Secret],
) -> T | None:
    """The issued value `presented` is a cut-short copy of: a longer value with the same
    prefix, compared at the longest prefix length both have (TRUNCATION_PREFIX at least)."""
    for n, digest in reversed(presented.heads):
        if n < TRUNCATION_PREFIX:
            continue
        hit = heads((n, digest))
        if hit is not None:
            original = secret_of(hit)
            if original.length > presented.length and original.hex != presented.hex:
                return hit
    return None
