"""Xero: rotation on every refresh with a 30-minute grace for the previous token.

What is Xero's beyond RFC 6749 (developer.xero.com FAQ; Xero staff on the developer
community): every refresh returns a new refresh token, and the one it replaced may still be
used for 30 minutes (so overlapping refreshes inside that window all succeed and are no
race); an unused refresh token expires after 60 days (older staff posts said 30: the figure
is a parameter); access tokens live 30 minutes; `invalid_grant` comes with no description.
`Xero-Correlation-Id` on answers is the request id (seen on the API hosts; assumed on the
identity host). The tenant is named by `xero-tenant-id` on API calls, not on the callback.
"""

from __future__ import annotations

from types import MappingProxyType

from qbtrace.providers.base import Provider

NAME = "xero"
TOKEN = "https://identity.xero.com/connect/token"
AUTHORIZE = "https://login.xero.com/identity/connect/authorize"
REVOKE = "https://identity.xero.com/connect/revocation"

WORDS = MappingProxyType(
    {
        "provider": "Xero",
        "provider_s": "Xero's",
        "support": "Xero developer support",
        "request_id": "`Xero-Correlation-Id`",
        "status_page": "status.xero.com",
        "keys_page": "the app's Configuration page in My Apps",
        "keys_portal": "the app's Configuration page in My Apps on developer.xero.com",
        "secret_page": "My Apps (Generate a secret)",
        "tenant": "organisation",
        "disconnect_place": "in Xero (Settings, Connected apps)",
        "reconnect": "the Xero sign-in and consent flow again",
        "rotation_note": " (Xero rotates it on every refresh and accepts the previous value "
        "for 30 minutes)",
        "grace_note": " (after the 30-minute grace)",
        "code_lifetime_note": " (Xero: 5 minutes)",
        "refresh_lifetime_short": " (Xero: 60 days unused)",
        "refresh_after": "after 60 days unused ",
        "refresh_lifetime": "60 days from the refresh that returned it (Xero); every refresh "
        "returns a new one",
        "sdk_retry_note": "",
    }
)

PROVIDER = Provider(
    name=NAME,
    title="Xero",
    token_endpoint=TOKEN,
    authorize_endpoint=AUTHORIZE,
    revoke_endpoint=REVOKE,
    access_token_lifetime=1800,
    refresh_token_lifetime=60 * 86_400,
    rotation_grace=1800,
    code_lifetime=300,
    request_id_header="xero-correlation-id",
    words=WORDS,
)
