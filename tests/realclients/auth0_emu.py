"""An Auth0 tenant with refresh-token rotation, emulated: the custom-provider scenarios.

Host: qbtrace-demo.eu.auth0.com (`GET /authorize`, `POST /oauth/token`,
`GET /.well-known/openid-configuration`). qbtrace knows Auth0 only as a custom provider the
app declares in its qbtrace.toml (token endpoint, rotation, reuse detection).

Modelled, from Auth0's "Refresh Token Rotation" documentation and the project's notes:
- rotation is on: every refresh issues a new refresh token and spends the old one;
- reuse detection ("breach detection"): a spent token presented again after the reuse
  interval revokes the whole family, so the live successor fails as well;
- a failed refresh is **HTTP 403** `{"error":"invalid_grant","error_description":"Unknown or
  invalid refresh token."}`; a wrong secret is 401 `{"error":"access_denied",
  "error_description":"Unauthorized"}`.

Assumptions: the reuse interval is 0 s (Auth0's default); codes are single use with no
lifetime modelled; the tenant sends no request id on the token endpoint.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

from mitmproxy import http
from oauth_emu import ALNUM, App, client_auth, jwt_like, rand, redirect, respond

HOST = "qbtrace-demo.eu.auth0.com"
REUSE_INTERVAL = 0.0
INVALID = {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}


APPS = {
    a.client_id: a
    for a in (
        App(
            "Xq8Zt2Wm6Rv0Hs4Jk8Ln2Bv6Cx0Lp4Gf",
            "a0SeCrEt_Kq8Wm2Zt6Rv0Hs4Jk8Ln2Bv6Cx0Lp4Gf8Sd2Ae6Yu0Io4Tw8Qe2Rt6Y",
            "https://app.example.test/auth0/callback",
        ),
    )
}


@dataclass
class Family:
    client_id: str
    revoked: bool = False
    current: str = ""
    spent: dict[str, float] = field(default_factory=dict)  # spent token -> when


class Auth0Emulator:
    name = "auth0"
    hosts = (HOST,)

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.codes: dict[str, tuple[str, bool]] = {}
        self.families: dict[str, Family] = {}  # every refresh token ever issued -> family

    def is_token(self, req: http.Request) -> bool:
        return req.pretty_host == HOST and req.path == "/oauth/token"

    def control(self, op: str, args: dict[str, object], now: float) -> dict[str, object] | None:
        return {"refresh_tokens": len(self.families)} if op == "state" else None

    def handle(self, req: http.Request, now: float) -> http.Response:
        path = req.path.split("?")[0]
        if path == "/authorize":
            return self.authorize(req, now)
        if path == "/oauth/token" and req.method == "POST":
            return self.token(req, now)
        if path == "/.well-known/openid-configuration":
            return respond(
                200,
                {"issuer": f"https://{HOST}/", "token_endpoint": f"https://{HOST}/oauth/token"},
                now,
            )
        return respond(404, {"error": "not_found"}, now)

    def authorize(self, req: http.Request, now: float) -> http.Response:
        q = req.query
        app = APPS.get(q.get("client_id", ""))
        if app is None or q.get("redirect_uri") != app.redirect_uri:
            return respond(
                400, "<html><body>Callback URL mismatch.</body></html>", now, ctype="text/html"
            )
        code = rand(self.rng, 43, ALNUM + "-_")
        self.codes[code] = (app.client_id, False)
        params = urlencode({"code": code, "state": q.get("state", "")})
        return redirect(f"{app.redirect_uri}?{params}", now)

    def token(self, req: http.Request, now: float) -> http.Response:
        auth = client_auth(req)
        if auth and not auth[0]:  # requests-oauthlib: Basic without id falls back to the form
            auth = (req.urlencoded_form.get("client_id", ""), auth[1])
        app = APPS.get(auth[0]) if auth else None
        if auth is None or app is None or app.secret != auth[1]:
            return respond(
                401, {"error": "access_denied", "error_description": "Unauthorized"}, now
            )
        form = req.urlencoded_form
        if form.get("grant_type") == "authorization_code":
            entry = self.codes.get(form.get("code", ""))
            if entry is None or entry[0] != app.client_id or entry[1]:
                return respond(
                    403,
                    {"error": "invalid_grant", "error_description": "Invalid authorization code"},
                    now,
                )
            self.codes[form["code"]] = (entry[0], True)
            return self.issue(Family(app.client_id), now)
        if form.get("grant_type") == "refresh_token":
            return self.refresh(app, form.get("refresh_token", ""), now)
        return respond(403, {"error": "unsupported_grant_type"}, now)

    def refresh(self, app: App, value: str, now: float) -> http.Response:
        family = self.families.get(value)
        if family is None or family.client_id != app.client_id or family.revoked:
            return respond(403, INVALID, now)
        if value in family.spent:
            if now - family.spent[value] > REUSE_INTERVAL:
                family.revoked = True  # breach detection: the whole family is revoked
            return respond(403, INVALID, now)
        family.spent[value] = now
        return self.issue(family, now)

    def issue(self, family: Family, now: float) -> http.Response:
        family.current = "v1.M" + rand(self.rng, 68, ALNUM + "-_")
        self.families[family.current] = family
        claims = {
            "iss": f"https://{HOST}/",
            "sub": "auth0|6571b2c4d8e9f0a1b2c3d4e5",
            "aud": "https://api.example.test",
            "iat": int(now),
            "exp": int(now) + 86_400,
            "azp": family.client_id,
            "scope": "openid offline_access",
        }
        access = jwt_like(
            self.rng, {"alg": "RS256", "typ": "JWT", "kid": str(uuid.uuid4())}, claims
        )
        body = {
            "access_token": access,
            "refresh_token": family.current,
            "scope": "openid offline_access",
            "expires_in": 86_400,
            "token_type": "Bearer",
        }
        return respond(200, body, now)
