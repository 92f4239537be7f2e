"""The refresh token sent is not a token {provider} issued, but a damaged copy of one, or garbage.

What happened: the value matches no issued refresh token exactly, but one nearly: with
whitespace or quotes around it, percent-encoded, truncated (a database column too short), or it
is the access token stored in the refresh token's place. Or it is malformed: empty, `undefined`,
`null`. {Provider} answers `invalid_grant`{refresh_refused_note}.

How to confirm: the evidence names the response that issued the true value and how the sent
value differs. Check the column width and the code that writes and reads the token.

How to fix: store the refresh_token field of the latest token response verbatim (up to 512
characters), read it back unchanged, and never swap it with the access_token.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Evidence, Match
from qbtrace.redact import Secret
from qbtrace.rules.common import Context, cite, hinted, match, refresh_failure
from qbtrace.rules.near_match import alteration, truncated_from

CAUSE = "refresh_token_altered"


def check(ctx: Context) -> Match | None:
    token = refresh_failure(ctx)
    if token is None:
        return None
    if token.malformed:
        what = "empty" if "empty" in token.defects else "a placeholder such as 'undefined'"
        return match(
            CAUSE, Confidence.CERTAIN, Evidence("malformed", f"the refresh token is {what}")
        )
    lin = ctx.lineage
    if lin.was_issued(token):
        return None
    swapped = lin.access_token_issuer(token)
    if swapped is not None:
        note = f"{token.tag} is the access token this response issued, sent as a refresh token"
        return match(CAUSE, Confidence.CERTAIN, cite("issued_access_token", swapped, note))
    hit = lin.issued_as(token.canon)
    if hit is not None:
        kind, issuer = hit
        what = "access token" if kind == "at" else "refresh token"
        note = f"issued this {what}; the request sent it {alteration(token)}"
        return match(CAUSE, Confidence.CERTAIN, cite("issued_original", issuer, note))
    return _truncated(ctx, token)


def _truncated(ctx: Context, token: Secret) -> Match | None:
    hit = truncated_from(token, ctx.lineage.issued_by_head, lambda h: h[0])
    if hit is not None:
        issued, issuer = hit
        note = (
            f"issued {issued.tag} ({issued.length} characters); the request sent its "
            f"first {token.length} characters"
        )
        return match(CAUSE, Confidence.LIKELY, cite("issued_original", issuer, note))
    if "access-token-shape" in token.defects:
        note = "the refresh token has the shape of an access token (a JWE starting 'eyJ')"
        hint = hinted(ctx, CAUSE)
        shape = Evidence("malformed", note)
        return match(CAUSE, Confidence.LIKELY, *((shape, hint) if hint else (shape,)))
    return None
