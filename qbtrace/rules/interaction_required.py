"""The provider needs the user again (MFA, conditional access, consent) before it issues tokens.

What happened: {provider} refused the token request because the user has to take part first:
multi-factor authentication, a conditional-access policy, or consent to the app (Microsoft:
`AADSTS50076`, `50079`, `65001`; OpenID Connect's `interaction_required`, `consent_required`,
`login_required`). Nothing is wrong with the token or the code, but no retry can succeed
until the user signs in interactively.

How to confirm: the evidence quotes the code of the answer; {provider_s} {request_id} is on
the finding for a support case.

How to fix: catch this answer, stop refreshing in the background, and send the user through
{reconnect}; with msal, pass the answer's `claims` challenge to the interactive call. Do not
discard the account: after that sign-in its tokens work again.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Evidence, Match
from qbtrace.rules.common import Context, match

CAUSE = "interaction_required"
ERRORS = ("interaction_required", "consent_required", "login_required")
"""OpenID Connect Core's errors for "the user must act" (section 3.1.2.6)."""


def check(ctx: Context) -> Match | None:
    f = ctx.failure
    if f.error not in ERRORS:
        return None
    note = f"{ctx.provider.label} answered `{f.error}`: the user must sign in interactively"
    return match(CAUSE, Confidence.CERTAIN, Evidence("response", note, f.x.ref, f.x.started))
