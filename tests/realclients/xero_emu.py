"""Xero's identity service and a sliver of its API, emulated for the real-client scenarios.

Hosts: login.xero.com (authorize), identity.xero.com (token, revocation, discovery, JWKS),
api.xero.com (`GET /connections`, `GET /api.xro/2.0/Organisation`).

Modelled, from the facts in the project's provider notes (developer.xero.com FAQ and Xero
staff answers on the developer community):
- client auth by Basic header or by form-body `client_id`/`client_secret` (xero-python sends
  the form; requests-oauthlib sends Basic); a failure is 400 `{"error":"invalid_client"}`
  (IdentityServer, which Xero's identity host runs, answers 400, not 401);
- `invalid_grant` is 400 `{"error":"invalid_grant"}`, never with a description;
- every refresh rotates: a new refresh token each time. The spent token stays usable for
  **30 minutes** after the refresh that spent it (the grace); presented later it fails;
- an unused refresh token expires **60 days** after it was issued; access tokens live 1800 s;
- codes are single use and bound to client and redirect_uri;
- revocation of a refresh token ends the grant (every token of it);
- every answer carries `xero-correlation-id` (a UUID), as Xero's API hosts do.

Assumptions (no Xero source confirms them; the scenarios rely on them):
- a spent token retried within the grace is answered with a fresh access token and the
  *same* successor refresh token the first use issued, so overlapping refreshes all succeed
  and end on one lineage;
- the code lifetime is 300 s; a second exchange of a code fails and does not harm the grant
  the first exchange made; `xero-correlation-id` is sent by the identity host too;
- a token response carries no refresh-token lifetime field (Xero publishes none).

Control (`http://emulator.control/xero/<op>`): none beyond the shared clock and knobs.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

from mitmproxy import http
from oauth_emu import HEX_UPPER, App, client_auth, jwt_like, rand, redirect, respond

GRACE = 1800
REFRESH_LIFETIME = 60 * 86_400
ACCESS_LIFETIME = 1800
CODE_LIFETIME = 300
TENANT_ID = "4a1d6f2e-7b3c-4e9a-9c21-5d8e0f6a7b13"
SCOPE = "openid profile email accounting.transactions accounting.settings offline_access"


APPS = {
    a.client_id: a
    for a in (
        App(
            "9B3D7A1C5E0F42B8A6D4C2E1F0A9B8C7",
            "xS3cr3t-Kq8Wm2Zt6Rv0Hs4Jk8Ln2Bv6Cx0Lp4Gf8Sd2Ae6Y",
            "https://app.example.test/xero/callback",
        ),
    )
}


@dataclass
class Grant:
    client_id: str
    dead: bool = False
    access: set[str] = field(default_factory=set)


@dataclass
class RefreshToken:
    grant: Grant
    issued_at: float
    spent_at: float | None = None
    successor: str = ""


class XeroEmulator:
    name = "xero"
    hosts = ("login.xero.com", "identity.xero.com", "api.xero.com")

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.codes: dict[str, tuple[str, str, float, bool]] = {}  # client, redirect, at, used
        self.tokens: dict[str, RefreshToken] = {}
        self.access: dict[str, tuple[Grant, float]] = {}

    def is_token(self, req: http.Request) -> bool:
        return req.pretty_host == "identity.xero.com" and req.path == "/connect/token"

    def control(self, op: str, args: dict[str, object], now: float) -> dict[str, object] | None:
        return {"refresh_tokens": len(self.tokens)} if op == "state" else None

    # -- HTTP --------------------------------------------------------------------------
    def answer(self, status: int, body: object, now: float) -> http.Response:
        headers = {"xero-correlation-id": str(uuid.uuid4()), "cache-control": "no-store"}
        return respond(status, body, now, headers)

    def handle(self, req: http.Request, now: float) -> http.Response:
        host, path = req.pretty_host, req.path.split("?")[0]
        if host == "login.xero.com" and path == "/identity/connect/authorize":
            return self.authorize(req, now)
        if host == "identity.xero.com":
            if path == "/connect/token" and req.method == "POST":
                return self.token(req, now)
            if path == "/connect/revocation" and req.method == "POST":
                return self.revoke(req, now)
            if path == "/.well-known/openid-configuration":
                return self.answer(200, DISCOVERY, now)
        if host == "api.xero.com":
            return self.api(req, now)
        return self.answer(404, {"error": "not found"}, now)

    def authorize(self, req: http.Request, now: float) -> http.Response:
        q = req.query
        app = APPS.get(q.get("client_id", ""))
        if app is None or q.get("redirect_uri") != app.redirect_uri:
            return respond(
                400, "<html><body>Invalid redirect_uri</body></html>", now, ctype="text/html"
            )
        code = rand(self.rng, 64, HEX_UPPER)
        self.codes[code] = (app.client_id, app.redirect_uri, now, False)
        params = {
            "code": code,
            "scope": q.get("scope", ""),
            "state": q.get("state", ""),
            "session_state": rand(self.rng, 43),
        }
        return redirect(f"{app.redirect_uri}?{urlencode(params)}", now)

    def token(self, req: http.Request, now: float) -> http.Response:
        auth = client_auth(req)
        app = APPS.get(auth[0]) if auth else None
        if auth is None or app is None or app.secret != auth[1]:
            return self.answer(400, {"error": "invalid_client"}, now)
        form = req.urlencoded_form
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self.exchange(app, form.get("code", ""), form.get("redirect_uri", ""), now)
        if grant_type == "refresh_token":
            return self.refresh(app, form.get("refresh_token", ""), now)
        return self.answer(400, {"error": "unsupported_grant_type"}, now)

    # -- rules -------------------------------------------------------------------------
    def invalid_grant(self, now: float) -> http.Response:
        return self.answer(400, {"error": "invalid_grant"}, now)

    def exchange(self, app: App, code: str, redirect_uri: str, now: float) -> http.Response:
        entry = self.codes.get(code)
        if entry is None or entry[0] != app.client_id or entry[1] != redirect_uri:
            return self.invalid_grant(now)
        if entry[3] or now - entry[2] > CODE_LIFETIME:
            return self.invalid_grant(now)
        self.codes[code] = (*entry[:3], True)
        grant = Grant(app.client_id)
        return self.issue(grant, self.new_refresh(grant, now), now)

    def refresh(self, app: App, value: str, now: float) -> http.Response:
        rt = self.tokens.get(value)
        if rt is None or rt.grant.client_id != app.client_id or rt.grant.dead:
            return self.invalid_grant(now)
        if rt.spent_at is None:
            if now - rt.issued_at >= REFRESH_LIFETIME:
                return self.invalid_grant(now)
            rt.spent_at, rt.successor = now, self.new_refresh(rt.grant, now)
        elif now - rt.spent_at > GRACE:
            return self.invalid_grant(now)
        return self.issue(rt.grant, rt.successor, now)

    def new_refresh(self, grant: Grant, now: float) -> str:
        value = rand(self.rng, 64, HEX_UPPER)
        self.tokens[value] = RefreshToken(grant, now)
        return value

    def issue(self, grant: Grant, refresh: str, now: float) -> http.Response:
        access = self.new_access(grant, now)
        body = {
            "id_token": self.id_token(grant, now),
            "access_token": access,
            "expires_in": ACCESS_LIFETIME,
            "token_type": "Bearer",
            "refresh_token": refresh,
            "scope": SCOPE,
        }
        return self.answer(200, body, now)

    def new_access(self, grant: Grant, now: float) -> str:
        claims = {
            "nbf": int(now),
            "exp": int(now) + ACCESS_LIFETIME,
            "iss": "https://identity.xero.com",
            "aud": "https://identity.xero.com/resources",
            "client_id": grant.client_id,
            "sub": "b2a4c6e8d0f24a6c8e0a2c4e6a8c0e2a",
            "auth_time": int(now),
            "jti": rand(self.rng, 32, HEX_UPPER),
            "scope": SCOPE.split(),
        }
        header = {"alg": "RS256", "kid": "1CAF8E66772D6DC028D6726FD0261581570EFC19", "typ": "JWT"}
        token = jwt_like(self.rng, header, claims)
        grant.access.add(token)
        self.access[token] = (grant, now)
        return token

    def id_token(self, grant: Grant, now: float) -> str:
        claims = {
            "iss": "https://identity.xero.com",
            "aud": grant.client_id,
            "exp": int(now) + 300,
            "iat": int(now),
            "sub": "b2a4c6e8d0f24a6c8e0a2c4e6a8c0e2a",
            "email": "owner@app.example.test",
        }
        return jwt_like(self.rng, {"alg": "RS256", "typ": "JWT"}, claims)

    def revoke(self, req: http.Request, now: float) -> http.Response:
        auth = client_auth(req)
        app = APPS.get(auth[0]) if auth else None
        if auth is None or app is None or app.secret != auth[1]:
            return self.answer(400, {"error": "invalid_client"}, now)
        rt = self.tokens.get(req.urlencoded_form.get("token", ""))
        if rt is not None and rt.grant.client_id == app.client_id:
            rt.grant.dead = True
        return respond(200, None, now, {"xero-correlation-id": str(uuid.uuid4())})

    def api(self, req: http.Request, now: float) -> http.Response:
        bearer = req.headers.get("authorization", "").removeprefix("Bearer ")
        grant, issued = self.access.get(bearer, (None, 0.0))
        if grant is None or grant.dead or now - issued > ACCESS_LIFETIME:
            return self.answer(401, {"Title": "Unauthorized", "Status": 401}, now)
        path = req.path.split("?")[0].lower()  # Xero's API paths are case-insensitive
        if path == "/connections":
            return self.answer(200, [CONNECTION], now)
        if path == "/api.xro/2.0/organisation":
            if req.headers.get("xero-tenant-id") != TENANT_ID:
                return self.answer(
                    403, {"Title": "Forbidden", "Detail": "AuthorizationUnsuccessful"}, now
                )
            return self.answer(200, {"Organisations": [ORGANISATION]}, now)
        return self.answer(404, {"Title": "Not Found"}, now)


CONNECTION = {
    "id": "e1eede29-f875-4a5d-8470-17f6a29a88b1",
    "authEventId": "d99ecdfe-391d-43d2-b834-17636ba90e8d",
    "tenantId": TENANT_ID,
    "tenantType": "ORGANISATION",
    "tenantName": "Demo Company (Global)",
    "createdDateUtc": "2026-11-30T09:00:00.0000000",
    "updatedDateUtc": "2026-11-30T09:00:00.0000000",
}
ORGANISATION = {
    "OrganisationID": TENANT_ID,
    "Name": "Demo Company (Global)",
    "BaseCurrency": "USD",
    "CountryCode": "US",
    "OrganisationType": "COMPANY",
    "OrganisationStatus": "ACTIVE",
}
DISCOVERY = {
    "issuer": "https://identity.xero.com",
    "authorization_endpoint": "https://login.xero.com/identity/connect/authorize",
    "token_endpoint": "https://identity.xero.com/connect/token",
    "revocation_endpoint": "https://identity.xero.com/connect/revocation",
    "jwks_uri": "https://identity.xero.com/.well-known/openid-configuration/jwks",
    "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
}
