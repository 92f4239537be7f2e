"""The code was never issued within this capture, so its history cannot be checked.

What happened: no authorize request or callback in the input carried this code: it was pasted
from the OAuth Playground or Postman, or the capture started after the browser part of the flow.
The most common reasons such a code fails are that it was already used where it came from, that
it expired while being copied, or that its redirect_uri differs.

How to confirm: capture the whole flow (browser and server) and analyze again.

How to fix: start a fresh authorization and exchange its code at once, with the same
redirect_uri and the same client as the authorize URL.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Evidence, Match
from qbtrace.rules.common import Context, code_failure, match

CAUSE = "code_unknown"
LIKELY_CAUSES = ("code_reused", "code_expired", "redirect_uri_mismatch", "code_client_mismatch")


def check(ctx: Context) -> Match | None:
    code = code_failure(ctx)
    if code is None or ctx.lineage.grant_of(code) is not None:
        return None
    note = f"no callback in the input carried {code.tag}"
    return match(CAUSE, Confidence.POSSIBLE, Evidence("not_in_capture", note))
