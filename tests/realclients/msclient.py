"""The Microsoft Entra ID app's side of the scenarios: `python msclient.py <part> '<json>'`.

msal (Python) does the v2 traffic: its tenant discovery GET of
`/{tenant}/v2.0/.well-known/openid-configuration`, the code redemption and the refreshes (it
sends `client-request-id`, which the emulator echoes as `correlation_id`). msal's throttle
cache answers an identical failed request without the network, so every retry is a new
`ConfidentialClientApplication`, as a stateless web worker would make. The v1 endpoint
(`/{tenant}/oauth2/token` with `resource`), which msal does not speak, is refreshed with
requests-oauthlib. The user's consent is a plain GET of the authorize URL (no browser).
"""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msal
import requests
from requests_oauthlib import OAuth2Session

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl import advance, control, log, main
from microsoft_emu import APPS, TENANT_DOMAIN, TENANT_ID

APP = next(iter(APPS.values()))
SCOPES = ["User.Read"]
DAY = 86_400


def app(tenant: str) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        APP.client_id,
        client_credential=APP.secret,
        authority=f"https://login.microsoftonline.com/{tenant}",
    )


def record(op: str, result: dict[str, Any]) -> dict[str, Any]:
    if "error" in result:
        log.append({"op": op, "error": result["error"], "codes": result.get("error_codes")})
    else:
        log.append({"op": op, "status": 200})
    return result


def consent(tenant: str) -> str:
    url = app(tenant).get_authorization_request_url(SCOPES, redirect_uri=APP.redirect_uri)
    r = requests.get(url, allow_redirects=False, timeout=10)
    return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]


def redeem(tenant: str, code: str) -> dict[str, Any]:
    result = app(tenant).acquire_token_by_authorization_code(
        code, SCOPES, redirect_uri=APP.redirect_uri
    )
    return record("exchange", result)


def refresh(tenant: str, token: str) -> dict[str, Any]:
    return record("refresh", app(tenant).acquire_token_by_refresh_token(token, SCOPES))


def connect(tenant: str) -> str:
    return str(redeem(tenant, consent(tenant))["refresh_token"])


def healthy(a: dict[str, Any]) -> None:
    token = connect("organizations")
    for wait in (3600, 5 * DAY):
        advance(wait)
        token = refresh("organizations", token)["refresh_token"]
    advance(3600)
    # a legacy worker still on the v1 endpoint, with the tenant's domain in the URL
    session = OAuth2Session(APP.client_id)
    url = f"https://login.microsoftonline.com/{TENANT_DOMAIN}/oauth2/token"
    session.refresh_token(
        url,
        refresh_token=token,
        client_id=APP.client_id,
        client_secret=APP.secret,
        resource="https://graph.microsoft.com",
    )
    log.append({"op": "refresh_v1", "status": 200})


def expired(a: dict[str, Any]) -> None:
    token = connect(TENANT_ID)
    advance(3600)
    token = refresh(TENANT_ID, token)["refresh_token"]
    advance(91 * DAY)  # a tenant's nightly job was switched off for three months
    refresh(TENANT_ID, token)


def revoked(a: dict[str, Any]) -> None:
    token = connect(TENANT_DOMAIN)
    advance(3600)
    token = refresh(TENANT_DOMAIN, token)["refresh_token"]
    advance(3 * 3600)
    control("/microsoft/password_reset")  # the user reset their password
    advance(600)
    refresh(TENANT_DOMAIN, token)


def code_reused(a: dict[str, Any]) -> None:
    code = consent("common")
    redeem("common", code)
    redeem("common", code)  # the callback handler ran twice (a page reload)


def mfa_required(a: dict[str, Any]) -> None:
    token = connect(TENANT_ID)
    advance(3600)
    token = refresh(TENANT_ID, token)["refresh_token"]
    advance(2 * DAY)
    control("/microsoft/require_mfa")  # an admin turned on a conditional-access policy
    refresh(TENANT_ID, token)


if __name__ == "__main__":
    main(globals())
