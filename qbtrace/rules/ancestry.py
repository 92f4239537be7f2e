"""A refresh token's forebears: the tokens its lineage spent before it, back to the consent.

Rotation makes each lineage a chain (the code exchange issued the first refresh token, each
refresh spent one and issued the next); the rules about a whole family (reuse detection, a
limit of live grants, a lifetime from the consent) walk it up through `Lineage.issuers`.
"""

from __future__ import annotations

from collections.abc import Iterator

from qbtrace.events import TokenRequest
from qbtrace.lineage import Lineage
from qbtrace.redact import Secret

MAX_DEPTH = 10_000
"""No lineage is walked further up (a daily rotation for 27 years)."""


def issuers_up(lineage: Lineage, token: Secret, seq: int) -> Iterator[TokenRequest]:
    """The response that issued `token` before position `seq`, then the one that issued the
    token that response spent, and so on up to the code exchange."""
    current: Secret | None = token
    for _ in range(MAX_DEPTH):
        if current is None:
            return
        issuer = lineage.last_issuer_before(current, seq)
        if issuer is None:
            return
        yield issuer
        if issuer.grant != "refresh_token" or issuer.refresh is None:
            return
        current, seq = issuer.refresh, issuer.seq


def consent_of(lineage: Lineage, token: Secret, seq: int) -> TokenRequest | None:
    """The code exchange that began the lineage of `token`, when the input holds it."""
    chain = list(issuers_up(lineage, token, seq))
    top = chain[-1] if chain else None
    return top if top is not None and top.grant == "authorization_code" else None
