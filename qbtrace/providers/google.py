"""Google: no rotation, a 7-day life in Testing, and a limit on live tokens per user.

What is Google's beyond RFC 6749 (developers.google.com, "Using OAuth 2.0 to access Google
APIs", "Refresh token expiration"): refresh answers carry no new refresh token; a refresh
token dies when revoked, after six months unused, when the user changes a password (Gmail
scopes), after **7 days** from consent while the app's consent screen is in Testing, and when
the user and client hold too many live refresh tokens (Google says 100): the newest
authorization evicts the oldest. Every death reads the same: `invalid_grant`, "Token has been
expired or revoked.", so the traffic must tell them apart. Google's token host sends no
request id.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from qbtrace.model import Kind
from qbtrace.providers.base import Provider

NAME = "google"
TOKEN = "https://oauth2.googleapis.com/token"
AUTHORIZE = "https://accounts.google.com/o/oauth2/v2/auth"
REVOKE = "https://oauth2.googleapis.com/revoke"
AUTHORIZE_PATHS = ("accounts.google.com/o/oauth2/auth", "accounts.google.com/o/oauth2/v2/auth")
TOKEN_PATHS = (
    "oauth2.googleapis.com/token",
    "www.googleapis.com/oauth2/v4/token",
    "accounts.google.com/o/oauth2/token",
)

WORDS = MappingProxyType(
    {
        "provider": "Google",
        "provider_s": "Google's",
        "support": "Google Cloud support",
        "request_id": "request id",
        "status_page": "the Google Cloud status dashboard",
        "keys_page": "the OAuth client in the Google Cloud console (APIs & Services, Credentials)",
        "keys_portal": "the OAuth client in the Google Cloud console",
        "secret_page": "the OAuth client's page in the Google Cloud console",
        "tenant": "Google account",
        "disconnect_place": "in the user's Google Account (Third-party connections)",
        "reconnect": "the consent flow again (google-auth-oauthlib's Flow)",
        "code_lifetime_note": "",
        "consent_lifetime_rule": " while the app's OAuth consent screen is in Testing (if "
        "it is published, look at the other causes)",
        "refresh_lifetime_short": " (Google: 7 days from consent while the app is in Testing)",
        "refresh_lifetime": "7 days from the consent while the app's consent screen is in "
        "Testing (Google), six months without use otherwise",
    }
)


@dataclass(frozen=True)
class Google(Provider):
    """Google's OAuth 2.0 server, with its older endpoint paths too."""

    @property
    def needles(self) -> tuple[str, ...]:
        return ("/o/oauth2/", "/oauth2/v4/token")

    def endpoint_kind(self, where: str) -> Kind | None:
        if where in AUTHORIZE_PATHS:
            return Kind.AUTHORIZE
        return Kind.TOKEN if where in TOKEN_PATHS else None


PROVIDER = Google(
    name=NAME,
    title="Google",
    token_endpoint=TOKEN,
    authorize_endpoint=AUTHORIZE,
    revoke_endpoint=REVOKE,
    access_token_lifetime=3599,
    refresh_token_lifetime=None,
    rotates=False,
    consent_lifetime=7 * 86_400,
    token_limit=100,
    code_lifetime=600,
    extra_hosts=("accounts.google.com", "www.googleapis.com"),
    words=WORDS,
)
