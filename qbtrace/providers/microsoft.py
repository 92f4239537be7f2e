"""Microsoft Entra ID (the Microsoft identity platform): the answer names the cause.

What is Microsoft's beyond RFC 6749 (learn.microsoft.com, "Microsoft identity platform error
codes", "refresh tokens"): the tenant is a path segment of every endpoint
(`/{tenant}/oauth2/v2.0/token`, and `/{tenant}/oauth2/token` on v1), where the tenant is
`common`, `organizations`, `consumers`, a tenant GUID or a verified domain; an error answer
carries `error_codes: [n]` and an `error_description` starting `AADSTSn:`, with `trace_id`
and `correlation_id`, and Microsoft says to rely on the code rather than the text. A refresh
returns a new refresh token but the old one is not documented as revoked (so its grace is
its own lifetime); a refresh token dies after 90 days without use (24 hours for SPAs).
`x-ms-request-id` (the answer's `trace_id`) is the request id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from qbtrace.model import Kind
from qbtrace.providers.base import Provider, Stated

if TYPE_CHECKING:
    from qbtrace.model import Exchange, Value

NAME = "microsoft"
HOSTS = ("login.microsoftonline.com", "login.microsoft.com", "login.windows.net")
TOKEN = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
AUTHORIZE = "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
INACTIVITY = 90 * 86_400
ENDPOINT = re.compile(r"^[^/]+/(?P<tenant>[^/]+)/oauth2/(?:v2\.0/)?(?P<role>token|authorize)$")
CODE = re.compile(r"^AADSTS(\d{4,8})\b")
EXPIRED_EITHER = 70008
"""Said of an expired code and of an expired refresh token alike: the grant tells which."""

CODES: Mapping[int, tuple[str, str]] = MappingProxyType(
    {
        700082: ("refresh_token_expired", "the refresh token expired after 90 days without use"),
        70008: ("refresh_token_expired", "the refresh token expired"),
        700084: ("refresh_token_expired", "an SPA's refresh token passed its 24-hour lifetime"),
        50173: ("refresh_token_revoked", "the grant was revoked (e.g. a password reset)"),
        54005: ("code_reused", "the authorization code was already redeemed"),
        50076: ("interaction_required", "multi-factor authentication is required"),
        50079: ("interaction_required", "the user must register for multi-factor authentication"),
        50078: ("interaction_required", "the user's multi-factor authentication has expired"),
        50074: ("interaction_required", "strong authentication is required"),
        65001: ("interaction_required", "the user or an admin has not consented to the app"),
        65004: ("interaction_required", "the user declined consent"),
        7000222: ("client_credentials_rejected", "the client secret has expired"),
        7000215: ("client_credentials_rejected", "the client secret is not the app's"),
    }
)
"""AADSTS code → (cause, what Microsoft says it means). Codes not listed are left to the
traffic rules."""

WORDS = MappingProxyType(
    {
        "provider": "Microsoft",
        "provider_s": "Microsoft's",
        "support": "Microsoft support (quote the trace_id and correlation_id)",
        "request_id": "`trace_id` (`x-ms-request-id`)",
        "status_page": "the Azure status page",
        "keys_page": "the app registration in the Entra admin center",
        "keys_portal": "the app registration (Certificates & secrets) in the Entra admin center",
        "secret_page": "Certificates & secrets of the app registration",
        "tenant": "tenant",
        "disconnect_place": "in the user's account or by an admin (a password reset, a "
        "revoked session)",
        "reconnect": "an interactive sign-in (msal's acquire_token_interactive or the "
        "authorization-code flow) again",
        "rotation_note": " (Microsoft returns a new refresh token on every refresh)",
        "code_lifetime_note": " (Microsoft: about 10 minutes)",
        "refresh_lifetime_short": " (Microsoft: 90 days without use)",
        "refresh_after": "after 90 days without use ",
        "refresh_lifetime": "90 days from its last use (Microsoft; 24 hours for SPAs)",
        "sdk_retry_note": " msal answers an identical failed request from its throttle cache "
        "without sending it again.",
    }
)


@dataclass(frozen=True)
class Microsoft(Provider):
    """Entra ID, any tenant in the URL; AADSTS codes read from the answer."""

    @property
    def needles(self) -> tuple[str, ...]:
        return ("/oauth2/",)

    def endpoint_kind(self, where: str) -> Kind | None:
        m = ENDPOINT.match(where)
        if m is None or where.split("/", 1)[0] not in HOSTS:
            return None
        return Kind.TOKEN if m["role"] == "token" else Kind.AUTHORIZE

    def tenant_in(self, url: str) -> str | None:
        """The first path segment of any URL on Microsoft's login hosts: every endpoint and
        document there (`/{tenant}/v2.0/.well-known/…`, an `issuer`) starts with the tenant."""
        host, _, path = url.split("://", 1)[-1].split("?", 1)[0].partition("/")
        tenant = path.split("/", 1)[0]
        return tenant if host.lower() in HOSTS and tenant else None

    @property
    def stated_causes(self) -> frozenset[str]:
        return frozenset({cause for cause, _ in CODES.values()} | {"code_expired"})

    def stated(self, reply: Mapping[str, Value], grant: str | None) -> Stated | None:
        code = _code(reply)
        if code is None or code not in CODES:
            return None
        cause, meaning = CODES[code]
        if code == EXPIRED_EITHER and grant == "authorization_code":
            cause, meaning = "code_expired", "the authorization code expired"
        return Stated(cause, f"AADSTS{code}", meaning)

    def request_id(self, x: Exchange) -> str | None:
        found = super().request_id(x)
        trace = x.reply.get("trace_id")
        return found or (trace if isinstance(trace, str) else None)


def _code(reply: Mapping[str, Value]) -> int | None:
    """The first of `error_codes`, else the AADSTS number the description starts with."""
    codes = reply.get("error_codes")
    if isinstance(codes, str) and codes.split(",")[0].strip().isdigit():
        return int(codes.split(",")[0])
    if isinstance(codes, int) and not isinstance(codes, bool):
        return codes
    text = reply.get("error_description")
    m = CODE.match(text) if isinstance(text, str) else None
    return int(m.group(1)) if m else None


PROVIDER = Microsoft(
    name=NAME,
    title="Microsoft Entra ID",
    token_endpoint=TOKEN,
    authorize_endpoint=AUTHORIZE,
    access_token_lifetime=3600,
    refresh_token_lifetime=INACTIVITY,
    rotation_grace=INACTIVITY,
    code_lifetime=600,
    request_id_header="x-ms-request-id",
    extra_headers=("client-request-id",),
    extra_reply_fields=("error_codes",),
    extra_hosts=HOSTS,
    words=WORDS,
)
