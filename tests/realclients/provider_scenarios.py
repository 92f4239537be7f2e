"""Scenarios of Xero, Microsoft Entra ID and Google apps, and one mixed QuickBooks + Xero app.

Each drives a provider's real SDK (see `xeroclient.py`, `msclient.py`, `googleclient.py`)
through mitmdump to that provider's emulator (`xero_emu.py`, `microsoft_emu.py`,
`google_emu.py`: their docstrings list the provider behaviours assumed). Recordings go to
`tests/data/golden/` beside the QuickBooks ones; a scenario that needs the app's
qbtrace.toml (a custom provider) has it beside its capture as `<name>.qbtrace.toml`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scenarios import Ctx, Scenario


def part(script: str, name: str, **args: Any) -> Callable[[Ctx], object]:
    return lambda ctx: ctx.client(script, name, **args)


def sdk(provider: str, client: str, script: str) -> Callable[..., Scenario]:
    """A maker of one provider's scenarios: `<provider>_<name>` (or `called`, for the one
    golden of a cause, named after it) runs part `name` of `script`."""

    def make(
        name: str, causes: list[str], statuses: list[int], notes: str, called: str = ""
    ) -> Scenario:
        return Scenario(
            called or f"{provider}_{name}",
            client,
            causes,
            statuses,
            part(script, name),
            time_shifted=name != "code_reused",
            notes=notes,
            providers=(provider,),
        )

    return make


xero = sdk("xero", "xero-python", "xeroclient.py")
microsoft = sdk("microsoft", "msal", "msclient.py")
google = sdk("google", "google-auth", "googleclient.py")


def mixed_quickbooks_xero(ctx: Ctx) -> None:
    """One app connected to QuickBooks and to Xero; each store keeps a stale refresh token."""
    ctx.py("refresh_token_superseded")
    ctx.client("xeroclient.py", "superseded")
    ctx.client("xeroclient.py", "replay_within_grace")


PROVIDER_SCENARIOS = [
    xero(
        "healthy",
        [],
        [200] * 4,
        "code exchange (requests-oauthlib), GET /connections and the Organisation with "
        "xero-tenant-id, three refreshes 25 min, 40 min and 2 days apart (each rotates), the "
        "API again, revoke",
    ),
    xero(
        "superseded",
        ["refresh_token_superseded"],
        [200, 200, 400],
        "a refresh 10 min after the exchange rotates; 45 min later (past Xero's 30-minute "
        "grace) a second worker replays the token it read before the rotation",
    ),
    xero(
        "replay_within_grace",
        [],
        [200, 200, 200, 200],
        "a refresh rotates; 10 min later (inside the 30-minute grace) a second worker replays "
        "the previous token and Xero accepts it; that worker refreshes again 20 min later",
    ),
    xero(
        "overlap_within_grace",
        [],
        [200, 200, 200, 200],
        "two workers refresh the same token 0.4 s apart while the first answer is held 1.5 s; "
        "both succeed (the second is inside the grace), so the overlap is no race; one worker "
        "refreshes again 25 min later",
    ),
    xero(
        "expired",
        ["refresh_token_expired"],
        [200, 200, 400],
        "refreshed 1 h after the exchange, then unused for 61 days (Xero: 60 days)",
    ),
    Scenario(
        "mixed_quickbooks_xero",
        "python-sdk+xero-python",
        ["refresh_token_superseded", "refresh_token_superseded"],
        [200, 200, 400, 200, 200, 400, 200, 200, 200, 200],
        mixed_quickbooks_xero,
        notes="one app's QuickBooks connection (intuitlib) replays a rotated token 2 h later; its "
        "Xero connection (xero-python) replays one 45 min after rotation (past the grace), then "
        "another 10 min after rotation (inside it, accepted)",
        providers=("quickbooks", "xero"),
    ),
    microsoft(
        "healthy",
        [],
        [200] * 4,
        "tenant `organizations`: code redemption and two refreshes with msal (1 h and 5 days "
        "apart), then a legacy worker refreshes on the v1 endpoint with the tenant's domain in "
        "the URL (requests-oauthlib, `resource`)",
    ),
    microsoft(
        "expired",
        ["refresh_token_expired"],
        [200, 200, 400],
        "tenant GUID: the refresh token is unused for 91 days: AADSTS700082",
    ),
    microsoft(
        "revoked",
        ["refresh_token_revoked"],
        [200, 200, 400],
        "tenant domain: the user resets their password 3 h after the last refresh; the next "
        "refresh gets AADSTS50173 (no revoke call is in the capture: the answer says it)",
    ),
    microsoft(
        "code_reused",
        ["code_reused"],
        [200, 400],
        "tenant `common`: the callback handler redeems the code twice: AADSTS54005",
    ),
    microsoft(
        "mfa_required",
        ["interaction_required"],
        [200, 200, 400],
        "tenant GUID: an admin turns on conditional access requiring MFA; the next refresh "
        "gets interaction_required AADSTS50076",
        called="interaction_required",
    ),
    google(
        "healthy",
        [],
        [200] * 4,
        "published app: code redemption (google-auth-oauthlib), then refreshes 1 h, 8 days and "
        "38 days later with the same refresh token (Google does not rotate)",
    ),
    google(
        "testing_expired",
        ["refresh_token_expired"],
        [200, 200, 400],
        "the app's consent screen is in Testing: a refresh 2 days after consent works, one 8 "
        "days after fails (Testing-mode refresh tokens die after 7 days)",
    ),
    google(
        "evicted",
        ["refresh_token_evicted"],
        [200, 200] + [200] * 100 + [400, 200],
        "a nightly job's token, then the app asks the same user for consent on each of 100 "
        "logins, 10 min apart; Google keeps 100 live tokens per user and client, so the 100th "
        "new one evicts the job's token, whose next refresh fails; the newest still works",
        called="refresh_token_evicted",
    ),
    Scenario(
        "refresh_token_family_revoked",
        "requests-oauthlib",
        ["refresh_token_superseded", "refresh_token_family_revoked"],
        [200, 200, 403, 403],
        part("auth0client.py", "family_revoked"),
        notes="Auth0 tenant with rotation and reuse detection (a custom provider): worker A "
        "rotates; 5 min later worker B replays the spent token (403), so Auth0 revokes the "
        "family; 1 h later worker A's live successor fails too (403). Analysed with "
        "refresh_token_family_revoked.qbtrace.toml, the app's declaration of its Auth0 tenant",
        providers=("auth0",),
    ),
]
