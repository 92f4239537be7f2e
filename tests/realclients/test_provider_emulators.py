"""The Xero, Microsoft, Google and Auth0 emulators on their own (mitmproxy test flows, no
clients): the provider rules the recorded scenarios rely on."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

sys.path.insert(0, str(Path(__file__).resolve().parent))
import auth0_emu
import google_emu
import microsoft_emu
import xero_emu
from emulator import IntuitEmulator

MINUTE, DAY = 60, 86_400


def send(
    emu: IntuitEmulator,
    method: str,
    url: str,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> http.HTTPFlow:
    f = tflow.tflow()
    body = urlencode(form).encode() if form is not None else b""
    hdrs = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
    f.request = http.Request.make(method, url, body, hdrs)
    asyncio.run(emu.request(f))
    return f


def status(f: http.HTTPFlow) -> int:
    assert f.response
    return f.response.status_code


def body(f: http.HTTPFlow) -> dict:
    assert f.response
    return json.loads(f.response.content or b"{}")


def advance(emu: IntuitEmulator, seconds: float) -> None:
    f = tflow.tflow()
    f.request = http.Request.make(
        "POST", "http://emulator.control/clock/advance", json.dumps({"seconds": seconds})
    )
    asyncio.run(emu.request(f))


def code_from(f: http.HTTPFlow) -> str:
    assert f.response and f.response.status_code == 302
    return parse_qs(urlsplit(f.response.headers["location"]).query)["code"][0]


# -- Xero ----------------------------------------------------------------------------------
XERO = next(iter(xero_emu.APPS.values()))
XERO_TOKEN = "https://identity.xero.com/connect/token"


def xero_refresh(emu: IntuitEmulator, token: str) -> http.HTTPFlow:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_id": XERO.client_id,
        "client_secret": XERO.secret,
    }
    return send(emu, "POST", XERO_TOKEN, form)


def xero_connect(emu: IntuitEmulator) -> str:
    q = urlencode({"client_id": XERO.client_id, "redirect_uri": XERO.redirect_uri, "state": "s"})
    code = code_from(send(emu, "GET", f"https://login.xero.com/identity/connect/authorize?{q}"))
    basic = base64.b64encode(f"{XERO.client_id}:{XERO.secret}".encode()).decode()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": XERO.redirect_uri}
    f = send(emu, "POST", XERO_TOKEN, form, {"authorization": f"Basic {basic}"})
    assert status(f) == 200 and f.response and "xero-correlation-id" in f.response.headers
    return body(f)["refresh_token"]


def test_xero_rotates_every_refresh_and_accepts_the_old_token_for_30_minutes():
    emu = IntuitEmulator()
    first = xero_connect(emu)
    second = body(xero_refresh(emu, first))["refresh_token"]
    assert second != first
    advance(emu, 29 * MINUTE)
    retry = xero_refresh(emu, first)
    assert status(retry) == 200 and body(retry)["refresh_token"] == second
    advance(emu, 2 * MINUTE)
    late = xero_refresh(emu, first)
    assert status(late) == 400 and body(late) == {"error": "invalid_grant"}


def test_xero_refresh_token_unused_for_60_days_expires():
    emu = IntuitEmulator()
    token = xero_connect(emu)
    advance(emu, 60 * DAY)
    assert status(xero_refresh(emu, token)) == 400


def test_xero_bad_client_secret_is_400_invalid_client():
    emu = IntuitEmulator()
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "x",
        "client_id": XERO.client_id,
        "client_secret": "wrong",
    }
    f = send(emu, "POST", XERO_TOKEN, form)
    assert status(f) == 400 and body(f) == {"error": "invalid_client"}


# -- Microsoft -----------------------------------------------------------------------------
MS = next(iter(microsoft_emu.APPS.values()))


def ms_url(tenant: str, v2: bool = True) -> str:
    return f"https://login.microsoftonline.com/{tenant}/oauth2/{'v2.0/' if v2 else ''}"


def ms_connect(emu: IntuitEmulator, tenant: str) -> tuple[str, str]:
    q = urlencode({"client_id": MS.client_id, "redirect_uri": MS.redirect_uri})
    code = code_from(send(emu, "GET", ms_url(tenant) + f"authorize?{q}"))
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": MS.redirect_uri,
        "client_id": MS.client_id,
        "client_secret": MS.secret,
    }
    f = send(emu, "POST", ms_url(tenant) + "token", form)
    assert status(f) == 200
    return code, body(f)["refresh_token"]


def ms_refresh(emu: IntuitEmulator, tenant: str, token: str, v2: bool = True) -> http.HTTPFlow:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_id": MS.client_id,
        "client_secret": MS.secret,
    }
    return send(
        emu,
        "POST",
        ms_url(tenant, v2) + "token",
        form,
        {"client-request-id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},
    )


@pytest.mark.parametrize(
    "tenant", ["common", "organizations", microsoft_emu.TENANT_ID, microsoft_emu.TENANT_DOMAIN]
)
def test_microsoft_answers_any_tenant_on_v1_and_v2(tenant: str):
    emu = IntuitEmulator()
    _code, token = ms_connect(emu, tenant)
    assert status(ms_refresh(emu, tenant, token, v2=False)) == 200
    conf = send(
        emu,
        "GET",
        f"https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration",
    )
    assert body(conf)["token_endpoint"] == ms_url(tenant) + "token"


def test_microsoft_error_answers_carry_aadsts_codes_trace_and_correlation():
    emu = IntuitEmulator()
    _code, token = ms_connect(emu, "common")
    advance(emu, 91 * DAY)
    f = ms_refresh(emu, "common", token)
    b = body(f)
    assert status(f) == 400 and b["error"] == "invalid_grant" and b["error_codes"] == [700082]
    assert b["error_description"].startswith("AADSTS700082: ")
    assert "inactive for 90.00:00:00" in b["error_description"]
    assert b["correlation_id"] == "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert f.response and f.response.headers["x-ms-request-id"] == b["trace_id"]


def test_microsoft_code_twice_password_reset_and_mfa():
    emu = IntuitEmulator()
    code, token = ms_connect(emu, "organizations")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": MS.redirect_uri,
        "client_id": MS.client_id,
        "client_secret": MS.secret,
    }
    again = send(emu, "POST", ms_url("organizations") + "token", form)
    assert body(again)["error_codes"] == [54005]
    send(emu, "POST", "http://emulator.control/microsoft/require_mfa")
    mfa = body(ms_refresh(emu, "organizations", token))
    assert mfa["error"] == "interaction_required" and mfa["error_codes"] == [50076]
    send(emu, "POST", "http://emulator.control/microsoft/password_reset")
    assert body(ms_refresh(emu, "organizations", token))["error_codes"] == [50173]


# -- Google --------------------------------------------------------------------------------
PUBLISHED, TESTING = google_emu.APPS.values()


def google_connect(emu: IntuitEmulator, app: google_emu.GoogleApp) -> str:
    q = urlencode({"client_id": app.client_id, "redirect_uri": app.redirect_uri})
    code = code_from(send(emu, "GET", f"https://accounts.google.com/o/oauth2/auth?{q}"))
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": app.redirect_uri,
        "client_id": app.client_id,
        "client_secret": app.secret,
    }
    return body(send(emu, "POST", "https://oauth2.googleapis.com/token", form))["refresh_token"]


def google_refresh(emu: IntuitEmulator, app: google_emu.GoogleApp, token: str) -> http.HTTPFlow:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_id": app.client_id,
        "client_secret": app.secret,
    }
    return send(emu, "POST", "https://oauth2.googleapis.com/token", form)


def test_google_testing_app_tokens_die_after_7_days_published_ones_do_not():
    emu = IntuitEmulator()
    testing, published = google_connect(emu, TESTING), google_connect(emu, PUBLISHED)
    advance(emu, 7 * DAY)
    dead = google_refresh(emu, TESTING, testing)
    assert status(dead) == 400 and body(dead) == google_emu.EXPIRED
    alive = google_refresh(emu, PUBLISHED, published)
    assert status(alive) == 200 and "refresh_token" not in body(alive)  # no rotation


def test_google_evicts_the_oldest_token_past_the_limit():
    emu = IntuitEmulator()
    oldest = google_connect(emu, PUBLISHED)
    newer = [google_connect(emu, PUBLISHED) for _ in range(100)]
    assert status(google_refresh(emu, PUBLISHED, oldest)) == 400
    assert all(status(google_refresh(emu, PUBLISHED, t)) == 200 for t in newer)


# -- Auth0 (a custom provider) -------------------------------------------------------------
A0 = next(iter(auth0_emu.APPS.values()))


def test_auth0_reuse_of_a_spent_token_revokes_the_family():
    emu = IntuitEmulator()
    q = urlencode({"client_id": A0.client_id, "redirect_uri": A0.redirect_uri})
    code = code_from(send(emu, "GET", f"https://{auth0_emu.HOST}/authorize?{q}"))
    creds = {"client_id": A0.client_id, "client_secret": A0.secret}
    url = f"https://{auth0_emu.HOST}/oauth/token"
    first = body(
        send(emu, "POST", url, {"grant_type": "authorization_code", "code": code, **creds})
    )["refresh_token"]
    live = body(
        send(emu, "POST", url, {"grant_type": "refresh_token", "refresh_token": first, **creds})
    )["refresh_token"]
    advance(emu, 1)
    replay = send(
        emu, "POST", url, {"grant_type": "refresh_token", "refresh_token": first, **creds}
    )
    assert status(replay) == 403 and body(replay) == auth0_emu.INVALID
    after = send(emu, "POST", url, {"grant_type": "refresh_token", "refresh_token": live, **creds})
    assert status(after) == 403
