"""The emulator addon on its own (no proxy, no clients): the rules the scenarios rely on."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from mitmproxy import http
from mitmproxy.test import tflow

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emulator import IntuitEmulator
from intuit_model import APPS, ROLLING_LIFETIME

DEV, PROD = list(APPS)[:2]
TOKEN = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
CALLBACK = "https://app.example.test/callback"


def send(
    emu: IntuitEmulator,
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> http.HTTPFlow:
    f = tflow.tflow()
    f.request = http.Request.make(method, url, body, headers or {})
    asyncio.run(emu.request(f))
    return f


def token(
    emu: IntuitEmulator, client: str = DEV, secret: str | None = None, **form: str
) -> http.HTTPFlow:
    basic = base64.b64encode(
        f"{client}:{APPS[client].secret if secret is None else secret}".encode()
    ).decode()
    return send(
        emu,
        "POST",
        TOKEN,
        urlencode(form).encode(),
        {"authorization": f"Basic {basic}", "content-type": "application/x-www-form-urlencoded"},
    )


def code_for(emu: IntuitEmulator, client: str = DEV) -> str:
    q = urlencode({"client_id": client, "redirect_uri": CALLBACK, "state": "s"})
    f = send(emu, "GET", f"https://appcenter.intuit.com/connect/oauth2?{q}")
    assert f.response and f.response.status_code == 302
    return parse_qs(urlsplit(f.response.headers["location"]).query)["code"][0]


def body(f: http.HTTPFlow) -> dict:
    assert f.response
    return json.loads(f.response.content or b"{}")


def advance(emu: IntuitEmulator, seconds: float) -> None:
    send(
        emu,
        "POST",
        "http://emulator.control/clock/advance",
        json.dumps({"seconds": seconds}).encode(),
    )


def connect(emu: IntuitEmulator) -> str:
    f = token(emu, grant_type="authorization_code", code=code_for(emu), redirect_uri=CALLBACK)
    return body(f)["refresh_token"]


def test_refresh_keeps_the_token_for_a_day_then_rotates_with_no_grace():
    emu = IntuitEmulator()
    rt = connect(emu)
    advance(emu, 3600)
    same = body(token(emu, grant_type="refresh_token", refresh_token=rt))
    assert same["refresh_token"] == rt
    assert ROLLING_LIFETIME - 3601 <= same["x_refresh_token_expires_in"] < ROLLING_LIFETIME - 3599
    advance(emu, 86_400)
    new = body(token(emu, grant_type="refresh_token", refresh_token=rt))
    assert new["refresh_token"] != rt and new["x_refresh_token_expires_in"] == ROLLING_LIFETIME
    old = token(emu, grant_type="refresh_token", refresh_token=rt)
    assert old.response and old.response.status_code == 400
    assert body(old)["error"] == "invalid_grant"


def test_second_code_exchange_fails_and_kills_the_first_grant():
    emu = IntuitEmulator()
    code = code_for(emu)
    first = token(emu, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    second = token(emu, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert second.response and second.response.status_code == 400
    again = token(emu, grant_type="refresh_token", refresh_token=body(first)["refresh_token"])
    assert again.response and again.response.status_code == 400


def test_code_is_bound_to_redirect_uri_client_and_lifetime():
    emu = IntuitEmulator()
    code = code_for(emu)
    slash = token(emu, grant_type="authorization_code", code=code, redirect_uri=CALLBACK + "/")
    other = token(emu, PROD, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert [f.response.status_code for f in (slash, other) if f.response] == [400, 400]
    advance(emu, 601)
    late = token(emu, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert late.response and late.response.status_code == 400


def test_client_auth_failures_are_401_invalid_client():
    emu = IntuitEmulator()
    for f in (
        token(emu, secret="wrong", grant_type="refresh_token", refresh_token="x"),
        token(emu, secret="", grant_type="refresh_token", refresh_token="x"),
        send(
            emu,
            "POST",
            TOKEN,
            b"grant_type=refresh_token&refresh_token=x",
            {"authorization": "Basic not-base64!"},
        ),
    ):
        assert f.response and f.response.status_code == 401
        assert body(f) == {"error": "invalid_client"}


def test_clock_shift_moves_flow_timestamps_date_and_tid():
    emu = IntuitEmulator()
    advance(emu, 10 * 86_400)
    f = send(emu, "GET", "https://developer.intuit.com/.well-known/openid_configuration/")
    assert f.response
    emu.responseheaders(f)
    emu.response(f)
    tid_second = int(f.response.headers["intuit_tid"].split("-")[1], 16)
    assert abs(f.request.timestamp_start - tid_second) < 2
    assert abs(f.response.timestamp_end - emu.now()) < 2
    assert f.response.headers["content-type"] == "application/json;charset=utf-8"


def test_drop_knob_rotates_then_kills_the_flow():
    emu = IntuitEmulator()
    rt = connect(emu)
    advance(emu, 90_000)
    send(emu, "POST", "http://emulator.control/drop", b'{"count": 1}')
    lost = token(emu, grant_type="refresh_token", refresh_token=rt)
    assert lost.response is None and lost.error is not None  # killed
    retry = token(emu, grant_type="refresh_token", refresh_token=rt)
    assert retry.response and retry.response.status_code == 400


def control(emu: IntuitEmulator, path: str, **args: object) -> None:
    f = send(emu, "POST", f"http://emulator.control{path}", json.dumps(args).encode())
    assert f.response and f.response.status_code == 200, f.response and f.response.text


def test_consent_form_posts_the_authorize_parameters_and_gets_the_code():
    emu = IntuitEmulator()
    control(emu, "/consent", mode="form")
    q = {"client_id": DEV, "redirect_uri": CALLBACK, "state": "st1", "scope": "a b"}
    page = send(emu, "GET", f"https://appcenter.intuit.com/connect/oauth2?{urlencode(q)}")
    assert page.response and page.response.status_code == 200
    assert 'method="post" action="/connect/oauth2"' in page.response.text
    assert 'name="redirect_uri" value="https://app.example.test/callback"' in page.response.text
    posted = send(
        emu,
        "POST",
        "https://appcenter.intuit.com/connect/oauth2",
        urlencode({**q, "response_type": "code"}).encode(),
        {"content-type": "application/x-www-form-urlencoded"},
    )
    assert posted.response and posted.response.status_code == 302
    location = urlsplit(posted.response.headers["location"])
    assert location.geturl().startswith(CALLBACK + "?")
    args = parse_qs(location.query)
    assert args["state"] == ["st1"] and args["realmId"] and args["code"]
    exchanged = token(
        emu, grant_type="authorization_code", code=args["code"][0], redirect_uri=CALLBACK
    )
    assert exchanged.response and exchanged.response.status_code == 200


def test_consent_form_refuses_an_unregistered_redirect_uri_until_it_is_registered():
    emu = IntuitEmulator()
    control(emu, "/consent", mode="form")
    local = "http://localhost:41234/callback"
    q = urlencode({"client_id": DEV, "redirect_uri": local, "state": "s"})
    refused = send(emu, "GET", f"https://appcenter.intuit.com/connect/oauth2?{q}")
    assert refused.response and refused.response.status_code == 400
    control(emu, "/register", client_id=DEV, redirect_uri=local)
    page = send(emu, "GET", f"https://appcenter.intuit.com/connect/oauth2?{q}")
    assert page.response and page.response.status_code == 200


def test_app_server_redirects_its_callback_to_https_then_to_the_slash():
    emu = IntuitEmulator()
    control(emu, "/app", redirects=["slash", "https"])
    first = send(emu, "GET", "http://app.example.test/callback?code=c&state=s")
    assert first.response and first.response.status_code == 301
    assert first.response.headers["location"] == "https://app.example.test/callback?code=c&state=s"
    second = send(emu, "GET", first.response.headers["location"])
    assert second.response and second.response.status_code == 301
    assert second.response.headers["location"] == (
        "https://app.example.test/callback/?code=c&state=s"
    )
    final = send(emu, "GET", second.response.headers["location"])
    assert final.response and final.response.status_code == 200


def test_data_api_accepts_a_live_access_token_only():
    emu = IntuitEmulator()
    code = code_for(emu)
    tokens = body(token(emu, grant_type="authorization_code", code=code, redirect_uri=CALLBACK))
    url = "https://sandbox-quickbooks.api.intuit.com/v3/company/1/query?query=select"
    auth = {"authorization": f"Bearer {tokens['access_token']}"}
    ok = send(emu, "GET", url, headers=auth)
    assert ok.response and ok.response.status_code == 200
    advance(emu, 3601)
    late = send(emu, "GET", url, headers=auth)
    assert late.response and late.response.status_code == 401
    assert body(late)["Fault"]["Error"][0]["code"] == "3200"
