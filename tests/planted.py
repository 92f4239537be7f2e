"""A HAR with a distinct secret planted in each of more than forty places a browser, proxy or
SDK puts one, on top of the real OAuth traffic of `tests/data/golden/mixed.har`.

`planted()` gives the document and {place: secret}. Each secret is unique and names its
place, so a leak says where it came from; a place that repeats another's value (a Referer
copying a query, a stack copying a URL) checks that every occurrence is replaced.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from typing import Any
from urllib.parse import quote

from tests.conftest import GOLDEN

TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"


def secret(place: str) -> str:
    return f"S{hashlib.sha256(place.encode()).hexdigest()[:22]}x9Q"


def jwt(place: str) -> str:
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    sig = base64.urlsafe_b64encode(hashlib.sha256(place.encode()).digest()).decode().rstrip("=")
    return (
        f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'sub': place, 'n': secret(place)})}.{sig}"
    )


def _entry(url: str, method: str = "GET", **parts: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": "HTTP/2",
        "headers": [],
        "cookies": [],
        "queryString": [],
        "headersSize": -1,
        "bodySize": -1,
    }
    response: dict[str, Any] = {
        "status": 200,
        "statusText": "OK",
        "httpVersion": "HTTP/2",
        "headers": [],
        "cookies": [],
        "content": {"size": 0, "mimeType": "text/plain"},
        "redirectURL": "",
        "headersSize": -1,
        "bodySize": -1,
    }
    for key, value in parts.items():
        where, _, field = key.partition("_")
        (request if where == "req" else response)[field] = value
    return {
        "startedDateTime": "2026-11-29T16:30:00.000Z",
        "time": 5,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"send": 0, "wait": 5, "receive": 0},
    }


def _h(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": n, "value": v} for n, v in pairs]


def planted() -> tuple[dict[str, Any], dict[str, str]]:
    s: dict[str, str] = {}

    def v(place: str, value: str | None = None) -> str:
        s[place] = value if value is not None else secret(place)
        return s[place]

    api = "https://api.example.test/v1/items"
    basic = base64.b64encode(f"ABclient0001:{v('basic client secret')}".encode()).decode()
    entries = [
        _entry(
            api,
            req_headers=_h(
                ("Authorization", f"Bearer {v('bearer')}"),
                (
                    "Proxy-Authorization",
                    f"Basic {base64.b64encode(('u:' + v('proxy basic')).encode()).decode()}",
                ),
                ("X-Api-Key", v("x-api-key")),
                ("x-goog-api-key", v("x-goog-api-key")),
                ("X-Amz-Security-Token", v("jwt header", jwt("jwt header"))),
                ("Cookie", f"sid={v('cookie sid')}; theme=dark; _csrf={v('cookie csrf')}"),
                ("cookie", f"second={v('http2 split cookie')}"),
                ("X-Trace-Blob", v("random header value", "Zq8xK2mP9vL4nR7tY1wB3cD6fG0hJ5")),
            ),
            res_headers=_h(
                (
                    "Set-Cookie",
                    f"a={v('set-cookie newline 1')}; Path=/\n"
                    f"b={v('set-cookie newline 2')}; HttpOnly",
                ),
                (
                    "Set-Cookie",
                    f"c={v('set-cookie comma 1')}; Expires=Wed, 21 Oct 2037 07:28:00 GMT, "
                    f"d={v('set-cookie comma 2')}; Secure",
                ),
            ),
            req_cookies=[{"name": "jar", "value": v("cookies[] request")}],
            res_cookies=[{"name": "out", "value": v("cookies[] response")}],
        ),
        _entry(
            f"https://user:{v('url password')}@files.example.test/x?api_key={v('query api_key')}"
            f"&apikey={v('query apikey')}&key={v('query key')}&sig={v('query sig')}"
            f"&sid={v('query sid')}&session_id={v('query session_id')}"
            f"&accessToken={v('query accessToken')}#access_token={v('fragment token')}",
            req_headers=_h(("authorization", v("authorization without scheme"))),
        ),
        _entry(
            "https://app.example.test/login",
            "POST",
            req_postData={
                "mimeType": "application/x-www-form-urlencoded",
                "text": f"user=me&password={quote(v('form password'))}&remember=1",
                "params": [
                    {"name": "password", "value": s["form password"]},
                    {"name": "otp", "value": v("params otp", "48213957")},
                ],
            },
        ),
        _entry(
            api,
            res_content={
                "mimeType": "application/json",
                "text": f')]}}\'\n{{"data": {{"apiKey": "{v("prefixed json")}", "n": 1}}}}',
            },
        ),
        _entry(
            api,
            res_content={
                "mimeType": "application/json",
                "text": f'{{"user": {{"session_token": "{v("damaged json")}", "name": "x',
            },
        ),
        _entry(
            api,
            res_content={
                "mimeType": "application/x-ndjson",
                "text": f'{{"event": "a"}}\n{{"refreshToken": "{v("ndjson")}"}}\n',
            },
        ),
        _entry(
            api,
            res_content={
                "mimeType": "application/xml",
                "text": f"<r><AuthToken>{v('xml')}</AuthToken></r>",
            },
        ),
        _entry(
            "https://app.example.test/form",
            res_content={
                "mimeType": "text/html",
                "text": f'<title>t</title><input type="hidden" name="authenticity_token" '
                f'value="{v("html input")}"><meta name="csrf-token" content="{v("html meta")}">',
            },
        ),
        _entry(
            "https://app.example.test/upload",
            "POST",
            req_postData={
                "mimeType": "multipart/form-data; boundary=XyZ",
                "text": f'--XyZ\r\nContent-Disposition: form-data; name="client_secret"\r\n\r\n'
                f"{v('multipart client_secret')}\r\n--XyZ--\r\n",
            },
        ),
        _entry(
            api,
            res_content={
                "mimeType": "text/plain",
                "text": f"debug: sent {v('jwt in text', jwt('jwt in text'))} ok",
            },
        ),
        _entry(
            api,
            res_content={
                "mimeType": "application/json",
                "text": json.dumps(
                    {"blob": v("random json value", "AKIA4EXAMPLE7QWERTY12345ZXCVb7")}
                ),
            },
        ),
        _entry(
            api,
            res_content={
                "mimeType": "application/json",
                "encoding": "base64",
                "text": base64.b64encode(json.dumps({"token": v("base64 body")}).encode()).decode(),
            },
        ),
        _entry(
            api,
            res_content={
                "mimeType": "application/json",
                "encoding": "base64",
                "text": base64.b64encode(
                    gzip.compress(json.dumps({"access_token": v("gzip base64 body")}).encode())
                ).decode(),
            },
        ),
        _entry("wss://ws.example.test/socket", _webSocketMessages=None),
    ]
    entries[-1]["_webSocketMessages"] = [
        {
            "type": "send",
            "time": 1.0,
            "opcode": 1,
            "data": json.dumps({"auth": {"token": v("websocket message")}}),
        },
    ]
    # copies of values collected elsewhere, in places nothing is collected from
    copies = _entry(
        "https://app.example.test/page",
        req_headers=_h(("Referer", f"https://files.example.test/x?sig={s['query sig']}")),
        res_headers=_h(
            (
                "Location",
                "https://app.example.test/next?redirect="
                + quote(f"https://app.example.test/cb?sid={s['query sid']}", safe=""),
            )
        ),
        res_content={
            "mimeType": "application/json",
            "text": json.dumps(
                {"echo": s["bearer"], "b64": base64.b64encode(s["cookie sid"].encode()).decode()}
            ),
        },
    )
    copies["_initiator"] = {
        "type": "script",
        "stack": {
            "callFrames": [
                {"url": f"https://files.example.test/x?apikey={s['query apikey']}", "lineNumber": 1}
            ]
        },
    }
    copies["_full_url"] = f"https://files.example.test/x?key={s['query key']}"
    copies["comment"] = f"copied from a ticket: {s['x-api-key']}"
    entries.append(copies)
    token = _entry(
        TOKEN_URL,
        "POST",
        req_headers=_h(
            ("Authorization", f"Basic {basic}"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ),
        req_postData={
            "mimeType": "application/x-www-form-urlencoded",
            "text": "grant_type=refresh_token&refresh_token="
            + v("refresh token", "RT1-51-H0-" + secret("rt")),
        },
        res_status=400,
        res_content={
            "mimeType": "application/json",
            "text": json.dumps(
                {
                    "error": "invalid_grant",
                    "error_description": f"Token {s['refresh token']} invalid",
                }
            ),
        },
    )
    unanswered = _entry(
        TOKEN_URL,
        "POST",
        req_headers=_h(("Authorization", f"Basic {basic}")),
        req_postData={
            "mimeType": "application/x-www-form-urlencoded",
            "text": f"grant_type=refresh_token&refresh_token={s['refresh token']}",
        },
        res_status=0,
    )
    unanswered["_error"] = f"net::ERR_FAILED for {TOKEN_URL}?access_token={v('error message')}"
    entries += [token, unanswered]
    doc = json.loads((GOLDEN / "mixed.har").read_text())
    doc["log"]["entries"] += entries
    doc["log"]["pages"] = [
        {
            "id": "page_1",
            "title": f"Dashboard {s['cookie csrf']}",
            "startedDateTime": "2026-11-29T16:26:13.000Z",
            "pageTimings": {},
        }
    ]
    doc["log"]["comment"] = f"exported by support for {s['x-goog-api-key']}"
    return doc, s
