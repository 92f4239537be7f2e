"""Google's OAuth 2.0 endpoints, emulated for the real-client scenarios.

Hosts: accounts.google.com (`/o/oauth2/auth`, `/o/oauth2/v2/auth`), oauth2.googleapis.com
(`POST /token`, `POST /revoke`), www.googleapis.com (`/oauth2/v3/certs`).

Modelled, from developers.google.com ("Using OAuth 2.0", "Refresh token expiration") and the
project's provider notes:
- refresh tokens do not rotate: a refresh answers an access token only (no refresh_token);
- while an app's consent screen is in **Testing**, a refresh token dies 7 days after the
  authorization that issued it;
- Google keeps a limited number of live refresh tokens per user and client: the next
  authorization evicts the oldest. Google says 100; the limit is a control knob here
  (`/google/limit {"count": N}`) so a scenario can show it with a few authorizations;
- a dead refresh token is 400 `{"error":"invalid_grant","error_description":"Token has been
  expired or revoked."}`; a code used twice is `{"error":"invalid_grant","error_description":
  "Bad Request"}`; a wrong secret is 401 `{"error":"invalid_client","error_description":
  "Unauthorized"}`;
- answers carry no request id (Google's token host sends none).

Assumptions (not confirmed by Google; the scenarios rely on them):
- eviction counts authorizations (code exchanges), oldest first, per user and client;
- the 7-day Testing clock runs from the code exchange, not from the last refresh;
- a revoke of a refresh token ends that one grant; the emulated user is always the same.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from urllib.parse import urlencode

from mitmproxy import http
from oauth_emu import URLSAFE, client_auth, jwt_like, rand, redirect, respond

TESTING_LIFETIME = 7 * 86_400
ACCESS_LIFETIME = 3599
USER = "108234567890123456789"
EXPIRED = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
HEADERS = {
    "cache-control": "no-cache, no-store, max-age=0, must-revalidate",
    "pragma": "no-cache",
    "expires": "Mon, 01 Jan 1990 00:00:00 GMT",
    "vary": "Origin, X-Origin, Referer",
    "server": "scaffolding on HTTPServer2",
    "x-content-type-options": "nosniff",
}


@dataclass(frozen=True)
class GoogleApp:
    client_id: str
    secret: str
    redirect_uri: str
    testing: bool  # consent screen publishing status "Testing"


APPS = {
    a.client_id: a
    for a in (
        GoogleApp(
            "731590624518-q8m3kd0h5v2t9r1n6b4c7x0z2w5y8a3e.apps.googleusercontent.com",
            "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",
            "http://localhost:8080/",
            False,
        ),
        GoogleApp(
            "731590624518-t3s7n1g0m4e2k6p9q5r8v0w3x6y1z4b7.apps.googleusercontent.com",
            "GOCSPX-Testing9Lp3Gf7Sd0Ae4Yu8Io2Tw6",
            "http://localhost:8080/",
            True,
        ),
    )
}


@dataclass
class Grant:
    client_id: str
    issued_at: float
    dead: bool = False


class GoogleEmulator:
    name = "google"
    hosts = ("accounts.google.com", "oauth2.googleapis.com", "www.googleapis.com")

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.codes: dict[str, tuple[str, str, bool]] = {}
        self.tokens: dict[str, Grant] = {}
        self.live: list[Grant] = []  # per the one user, oldest first
        self.limit = 100

    def is_token(self, req: http.Request) -> bool:
        return req.pretty_host == "oauth2.googleapis.com" and req.path == "/token"

    def control(self, op: str, args: dict[str, object], now: float) -> dict[str, object] | None:
        if op == "limit":
            self.limit = int(str(args["count"]))
        elif op != "state":
            return None
        return {"limit": self.limit, "live": len(self.live)}

    def answer(self, status: int, body: object, now: float) -> http.Response:
        return respond(status, body, now, HEADERS)

    def handle(self, req: http.Request, now: float) -> http.Response:
        host, path = req.pretty_host, req.path.split("?")[0]
        if host == "accounts.google.com" and path in ("/o/oauth2/auth", "/o/oauth2/v2/auth"):
            return self.authorize(req, now)
        if host == "oauth2.googleapis.com" and path == "/token" and req.method == "POST":
            return self.token(req, now)
        if host == "oauth2.googleapis.com" and path == "/revoke" and req.method == "POST":
            return self.revoke(req, now)
        if host == "www.googleapis.com" and path == "/oauth2/v3/certs":
            return self.answer(200, {"keys": []}, now)
        return respond(404, "Not Found", now, HEADERS, "text/html; charset=UTF-8")

    def authorize(self, req: http.Request, now: float) -> http.Response:
        q = req.query
        app = APPS.get(q.get("client_id", ""))
        if app is None or q.get("redirect_uri") != app.redirect_uri:
            return respond(
                400,
                "<html><body>Error 400: redirect_uri_mismatch</body></html>",
                now,
                HEADERS,
                "text/html; charset=utf-8",
            )
        code = "4/0A" + rand(self.rng, 69, URLSAFE)
        self.codes[code] = (app.client_id, app.redirect_uri, False)
        params = {"state": q.get("state", ""), "code": code, "scope": q.get("scope", "")}
        return redirect(f"{app.redirect_uri}?{urlencode(params)}", now)

    def token(self, req: http.Request, now: float) -> http.Response:
        auth = client_auth(req)
        app = APPS.get(auth[0]) if auth else None
        if auth is None or app is None:
            return self.answer(
                401,
                {"error": "invalid_client", "error_description": "The OAuth client was not found."},
                now,
            )
        if app.secret != auth[1]:
            body = {"error": "invalid_client", "error_description": "Unauthorized"}
            return self.answer(401, body, now)
        form = req.urlencoded_form
        if form.get("grant_type") == "authorization_code":
            return self.exchange(app, form.get("code", ""), form.get("redirect_uri", ""), now)
        if form.get("grant_type") == "refresh_token":
            return self.refresh(app, form.get("refresh_token", ""), now)
        return self.answer(
            400,
            {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "},
            now,
        )

    def exchange(self, app: GoogleApp, code: str, redirect_uri: str, now: float) -> http.Response:
        entry = self.codes.get(code)
        if entry is None or entry[0] != app.client_id or entry[1] != redirect_uri or entry[2]:
            return self.answer(
                400, {"error": "invalid_grant", "error_description": "Bad Request"}, now
            )
        self.codes[code] = (entry[0], entry[1], True)
        grant = Grant(app.client_id, now)
        mine = [g for g in self.live if g.client_id == app.client_id and not g.dead]
        if len(mine) >= self.limit:
            mine[0].dead = True  # the oldest live token of this user and client is evicted
        self.live.append(grant)
        refresh = "1//0" + rand(self.rng, 99, URLSAFE)
        self.tokens[refresh] = grant
        return self.answer(
            200,
            {
                **self.access(app, now),
                "refresh_token": refresh,
                "id_token": self.id_token(app, now),
            },
            now,
        )

    def refresh(self, app: GoogleApp, value: str, now: float) -> http.Response:
        grant = self.tokens.get(value)
        if grant is None or grant.client_id != app.client_id or grant.dead:
            return self.answer(400, EXPIRED, now)
        if app.testing and now - grant.issued_at >= TESTING_LIFETIME:
            return self.answer(400, EXPIRED, now)
        return self.answer(200, self.access(app, now), now)

    def access(self, app: GoogleApp, now: float) -> dict[str, object]:
        return {
            "access_token": "ya29.a0" + rand(self.rng, 180, URLSAFE),
            "expires_in": ACCESS_LIFETIME,
            "scope": "openid https://www.googleapis.com/auth/drive.readonly",
            "token_type": "Bearer",
        }

    def id_token(self, app: GoogleApp, now: float) -> str:
        claims = {
            "iss": "https://accounts.google.com",
            "azp": app.client_id,
            "aud": app.client_id,
            "sub": USER,
            "iat": int(now),
            "exp": int(now) + 3600,
        }
        return jwt_like(
            self.rng,
            {"alg": "RS256", "kid": "a50f6e70ef4b548a5fd9142eecd1fb8f", "typ": "JWT"},
            claims,
        )

    def revoke(self, req: http.Request, now: float) -> http.Response:
        token = req.urlencoded_form.get("token", "") or req.query.get("token", "")
        grant = self.tokens.get(token)
        if grant is None:
            return self.answer(
                400,
                {"error": "invalid_token", "error_description": "Token expired or revoked"},
                now,
            )
        grant.dead = True
        return self.answer(200, {}, now)
