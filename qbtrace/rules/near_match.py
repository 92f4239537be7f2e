"""Words for how an altered code or token differs from the value that was issued."""

from __future__ import annotations

from qbtrace.redact import Secret

ALTERATIONS = {
    "whitespace": "with whitespace around it",
    "inner-whitespace": "with whitespace inside it",
    "quoted": "wrapped in quotes",
    "percent-encoded": "percent-encoded",
}


def alteration(presented: Secret) -> str:
    found = [ALTERATIONS[d] for d in presented.defects if d in ALTERATIONS]
    return " and ".join(found) or "altered"
