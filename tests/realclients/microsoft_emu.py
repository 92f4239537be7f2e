"""Microsoft Entra ID (login.microsoftonline.com), emulated for the real-client scenarios.

Paths, for any tenant segment (`common`, `organizations`, a tenant GUID, a verified domain):
`/{tenant}/oauth2/v2.0/authorize|token` (v2), `/{tenant}/oauth2/authorize|token` (v1, with
`resource`), `/{tenant}/v2.0/.well-known/openid-configuration` (msal's tenant discovery),
`/{tenant}/.well-known/openid-configuration`, `/common/discovery/instance` (instance
discovery) and `/{tenant}/discovery/v2.0/keys`.

Modelled, from Microsoft's "identity platform error codes" and token reference pages:
- an error answer is JSON with `error`, `error_description` starting `AADSTSnnnn: ` and
  ending with `Trace ID`, `Correlation ID` and `Timestamp`, `error_codes: [n]`, `timestamp`,
  `trace_id`, `correlation_id` (the request's `client-request-id` when it sent one) and
  `error_uri`; the same trace id is in the `x-ms-request-id` header;
- codes are single use: the second redemption is 400 invalid_grant AADSTS54005;
- a refresh returns a new refresh token; a refresh token unused for 90 days fails with
  AADSTS700082 (`…issued on <time> and was inactive for 90.00:00:00`);
- a password reset (control `/microsoft/password_reset`) revokes every grant issued before it:
  AADSTS50173;
- a conditional-access policy that requires MFA (control `/microsoft/require_mfa`) makes a
  refresh fail with `interaction_required` AADSTS50076 and `suberror: basic_action`;
- a wrong client secret is 401 invalid_client AADSTS7000215.

Assumptions (no Microsoft source settles them; the scenarios rely on them):
- the refresh token a refresh spent stays valid (Microsoft does not document revoking it);
- a second redemption of a code does not revoke the tokens of the first;
- every tenant segment resolves to the one emulated tenant (its GUID and domain below).
"""

from __future__ import annotations

import json
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from mitmproxy import http
from oauth_emu import URLSAFE, App, b64url, client_auth, jwt_like, rand, redirect, respond

HOST = "login.microsoftonline.com"
TENANT_ID = "5f2c8a3e-91d4-4b6e-a0c7-3e8d1f6b2a94"
TENANT_DOMAIN = "contoso.onmicrosoft.com"
INACTIVITY = 90 * 86_400
ACCESS_LIFETIME = 3599
PATH = re.compile(r"^/(?P<tenant>[^/]+)/(?P<rest>oauth2/(?:v2\.0/)?(?:authorize|token))$")
DESCRIPTIONS = {
    54005: "OAuth2 Authorization code was already redeemed, please retry with a new valid code "
    "or use an existing refresh token.",
    50173: "The provided grant has expired due to it being revoked, a fresh auth token is "
    "needed. The user might have changed or reset their password. The grant was issued on "
    "'{issued}' and the TokensValidFrom date (before which tokens are not valid) for this "
    "user is '{valid_from}'.",
    50076: "Due to a configuration change made by your administrator, or because you moved to "
    "a new location, you must use multi-factor authentication to access '00000003-0000-0000-"
    "c000-000000000000'.",
    700082: "The refresh token has expired due to inactivity. The token was issued on "
    "{issued} and was inactive for 90.00:00:00.",
    7000215: "Invalid client secret provided. Ensure the secret being sent in the request is "
    "the client secret value, not the client secret ID, for a secret added to app "
    "'{client_id}'.",
    9002313: "Invalid request. Request is malformed or invalid.",
}


APPS = {
    a.client_id: a
    for a in (
        App(
            "3c9e5a7b-1d2f-4e6a-8b0c-9d7e5f3a1b2c",
            "Qm8~xT3pL.vR6nW1zK4yH7cJ0bF2gD5sA9eU_iO",
            "https://app.example.test/ms/callback",
        ),
    )
}


@dataclass
class Grant:
    client_id: str
    issued_at: float


def aad_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class MicrosoftEmulator:
    name = "microsoft"
    hosts = (HOST,)

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.codes: dict[str, tuple[str, str, bool]] = {}  # client, redirect_uri, redeemed
        self.tokens: dict[str, tuple[Grant, float]] = {}  # refresh token -> grant, last use
        self.valid_from = 0.0  # password reset: grants issued before this are revoked
        self.mfa_required = False

    def is_token(self, req: http.Request) -> bool:
        return req.pretty_host == HOST and req.path.split("?")[0].endswith("/token")

    def control(self, op: str, args: dict[str, object], now: float) -> dict[str, object] | None:
        if op == "password_reset":
            self.valid_from = now
        elif op == "require_mfa":
            self.mfa_required = True
        elif op != "state":
            return None
        return {"refresh_tokens": len(self.tokens)}

    # -- HTTP --------------------------------------------------------------------------
    def handle(self, req: http.Request, now: float) -> http.Response:
        path = req.path.split("?")[0]
        m = PATH.match(path)
        if m and m["rest"].endswith("authorize"):
            return self.authorize(req, now)
        if m and req.method == "POST":
            return self.token(req, now, v1="v2.0" not in m["rest"])
        if path.endswith("/.well-known/openid-configuration"):
            return self.ok(discovery(path.split("/")[1], "/v2.0/" in path), now)
        if path == "/common/discovery/instance":
            return self.ok(INSTANCE, now)
        if path.endswith("/keys"):
            return self.ok({"keys": []}, now)
        return respond(404, "", now, ctype="text/html")

    def headers(self, trace: str, req: http.Request) -> dict[str, str]:
        out = {
            "x-ms-request-id": trace,
            "x-ms-ests-server": "2.1.19421.4 - SCUS ProdSlices",
            "cache-control": "no-store, no-cache",
            "pragma": "no-cache",
        }
        if "client-request-id" in req.headers:
            out["client-request-id"] = req.headers["client-request-id"]
        return out

    def ok(self, body: object, now: float, req: http.Request | None = None) -> http.Response:
        trace = str(uuid.uuid4())
        return respond(200, body, now, self.headers(trace, req) if req else {})

    def fail(
        self, req: http.Request, now: float, code: int, error: str, status: int = 400, **fmt: str
    ) -> http.Response:
        trace = str(uuid.uuid4())
        correlation = req.headers.get("client-request-id") or str(uuid.uuid4())
        when = aad_time(now)
        text = DESCRIPTIONS[code].format(**fmt)
        body: dict[str, object] = {
            "error": error,
            "error_description": f"AADSTS{code}: {text} Trace ID: {trace} Correlation ID: "
            f"{correlation} Timestamp: {when}",
            "error_codes": [code],
            "timestamp": when,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://{HOST}/error?code={code}",
        }
        if code == 50076:
            body["suberror"] = "basic_action"
        return respond(status, body, now, self.headers(trace, req))

    def authorize(self, req: http.Request, now: float) -> http.Response:
        q = req.query
        app = APPS.get(q.get("client_id", ""))
        if app is None or q.get("redirect_uri") != app.redirect_uri:
            return respond(400, "<html><body>AADSTS50011</body></html>", now, ctype="text/html")
        code = "1.A" + rand(self.rng, 40) + "." + rand(self.rng, 300, URLSAFE)
        self.codes[code] = (app.client_id, app.redirect_uri, False)
        params = {"code": code, "state": q.get("state", ""), "session_state": str(uuid.uuid4())}
        return redirect(f"{app.redirect_uri}?{urlencode(params)}", now)

    def token(self, req: http.Request, now: float, v1: bool) -> http.Response:
        auth = client_auth(req)
        app = APPS.get(auth[0]) if auth else None
        if auth is None or app is None:
            return self.fail(req, now, 9002313, "invalid_request")
        if app.secret != auth[1]:
            return self.fail(req, now, 7000215, "invalid_client", 401, client_id=app.client_id)
        form = req.urlencoded_form
        if form.get("grant_type") == "authorization_code":
            return self.exchange(req, app, now, v1)
        if form.get("grant_type") == "refresh_token":
            return self.refresh(req, app, now, v1)
        return self.fail(req, now, 9002313, "invalid_request")

    # -- rules -------------------------------------------------------------------------
    def exchange(self, req: http.Request, app: App, now: float, v1: bool) -> http.Response:
        form = req.urlencoded_form
        entry = self.codes.get(form.get("code", ""))
        if entry is None or entry[0] != app.client_id or entry[1] != form.get("redirect_uri"):
            return self.fail(req, now, 9002313, "invalid_grant")
        if entry[2]:
            return self.fail(req, now, 54005, "invalid_grant")
        self.codes[form["code"]] = (entry[0], entry[1], True)
        return self.issue(req, Grant(app.client_id, now), now, v1)

    def refresh(self, req: http.Request, app: App, now: float, v1: bool) -> http.Response:
        value = req.urlencoded_form.get("refresh_token", "")
        grant, last_used = self.tokens.get(value, (None, 0.0))
        if grant is None or grant.client_id != app.client_id:
            return self.fail(req, now, 9002313, "invalid_grant")
        if grant.issued_at < self.valid_from:
            return self.fail(
                req,
                now,
                50173,
                "invalid_grant",
                issued=aad_time(grant.issued_at),
                valid_from=aad_time(self.valid_from),
            )
        if now - last_used > INACTIVITY:
            return self.fail(req, now, 700082, "invalid_grant", issued=aad_time(last_used))
        if self.mfa_required:
            return self.fail(req, now, 50076, "interaction_required")
        self.tokens[value] = (grant, now)
        return self.issue(req, grant, now, v1)

    def issue(self, req: http.Request, grant: Grant, now: float, v1: bool) -> http.Response:
        refresh = "0.A" + rand(self.rng, 60) + "." + rand(self.rng, 400, URLSAFE)
        self.tokens[refresh] = (grant, now)
        claims = {
            "aud": grant.client_id,
            "iss": f"https://{HOST}/{TENANT_ID}/v2.0",
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + 3600,
            "oid": "8d3e2f1a-6b5c-4a7d-9e0f-1a2b3c4d5e6f",
            "tid": TENANT_ID,
            "sub": "Jq5eT2mP8wR1xK4zN7bV0cY3hG6fD9sA2uL5iO8eQ1w",
            "preferred_username": "ada@" + TENANT_DOMAIN,
            "name": "Ada",
            "ver": "2.0",
        }
        access = jwt_like(
            self.rng,
            {"typ": "JWT", "alg": "RS256", "kid": "KQ2tAcrE7lBaViGmN"},
            {**claims, "aud": "00000003-0000-0000-c000-000000000000"},
        )
        body: dict[str, object] = {
            "token_type": "Bearer",
            "scope": req.urlencoded_form.get("scope", "User.Read"),
            "expires_in": ACCESS_LIFETIME,
            "ext_expires_in": ACCESS_LIFETIME,
            "access_token": access,
            "refresh_token": refresh,
            "id_token": jwt_like(self.rng, {"typ": "JWT", "alg": "RS256"}, claims),
        }
        if v1:
            body.pop("scope")
            body.update(
                resource=req.urlencoded_form.get("resource", ""),
                expires_on=str(int(now) + ACCESS_LIFETIME),
            )
        if req.urlencoded_form.get("client_info") == "1":
            info = {"uid": claims["oid"], "utid": TENANT_ID}
            body["client_info"] = b64url(json.dumps(info).encode())
        trace = str(uuid.uuid4())
        return respond(200, body, now, self.headers(trace, req))


def discovery(tenant: str, v2: bool) -> dict[str, object]:
    """The tenant's OpenID configuration; `common` and `organizations` keep the placeholder."""
    issuer_tenant = "{tenantid}" if tenant in ("common", "organizations") else TENANT_ID
    base = f"https://{HOST}/{tenant}/oauth2" + ("/v2.0" if v2 else "")
    return {
        "token_endpoint": f"{base}/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"https://{HOST}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"https://{HOST}/{issuer_tenant}" + ("/v2.0" if v2 else "/"),
        "authorization_endpoint": f"{base}/authorize",
        "device_authorization_endpoint": f"{base}/devicecode",
        "end_session_endpoint": f"{base}/logout",
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
    }


INSTANCE = {
    "tenant_discovery_endpoint": f"https://{HOST}/common/v2.0/.well-known/openid-configuration",
    "api-version": "1.1",
    "metadata": [
        {
            "preferred_network": HOST,
            "preferred_cache": "login.windows.net",
            "aliases": [HOST, "login.windows.net", "login.microsoft.com", "sts.windows.net"],
        }
    ],
}
