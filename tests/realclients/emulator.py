"""mitmproxy addon that emulates Intuit's OAuth 2.0 endpoints offline.

Run it as the first script of a mitmdump started with `--set connection_strategy=lazy`: it
answers every request in its `request` hook (`flow.response = http.Response.make(...)`), so
nothing goes upstream and later addons still see Intuit's real URLs.

Hosts answered
- developer.intuit.com, developer.api.intuit.com: discovery documents
  `/.well-known/openid_sandbox_configuration/` and `/.well-known/openid_configuration/`
  (with or without the trailing slash); developer.api.intuit.com also serves the revoke
  endpoint `POST /v2/oauth2/tokens/revoke` (JSON `{"token": ..}` or form `token=..`).
- appcenter.intuit.com `/connect/oauth2`: by default `GET` auto-consents with a 302 to
  `redirect_uri?code=..&state=..&realmId=..`. With `/consent {"mode": "form"}` the `GET`
  answers 200 with a consent page instead, whose "Connect" button submits a form `POST` to
  the same URL (client_id, redirect_uri, state, scope, response_type in the urlencoded body);
  that POST gets the 302 with code, state and realmId. A `POST` is always accepted. An unknown
  client_id or an unregistered redirect_uri gets Intuit's error page (400, no redirect), as
  in quickbooks-oauth.md §1.2, for the GET and the POST alike.
- oauth.platform.intuit.com `POST /oauth2/v1/tokens/bearer` (both grants), `GET /op/v1/jwks`.
- quickbooks.api.intuit.com, sandbox-quickbooks.api.intuit.com `/v3/company/<realm>/...`: the
  data API, only as far as token use goes: a live, unexpired access token as `Bearer` gets
  200 with an empty `QueryResponse` (or `CompanyInfo`), anything else 401 with the
  `AuthenticationFault` code 3200 body of quickbooks-oauth.md §5.
- oauth.platform.intuit.com `OPTIONS /oauth2/v1/tokens/bearer`: a CORS preflight from an
  `https://*.example.test` page gets 204 allowing POST with Authorization; token answers to a
  request with an `Origin` carry `access-control-allow-origin` (assumption, below).
- *.example.test `/spa/callback`: a single-page app's callback route that exchanges the code
  with `fetch()` twice at once (React StrictMode's double effect in development).
- localhost:8443 (`GENERIC_PORT`) `/oauth/authorize`, `POST /oauth/token`, `POST
  /oauth/revoke`: a plain RFC 6749 server, the "custom provider" a qbtrace.toml defines:
  the same registered apps and codes, but a new refresh token on every refresh, a
  superseded one still accepted for `GENERIC_GRACE` seconds (1800; `/generic {"grace": S}`
  changes it), and none of Intuit's answer fields or headers (`intuit_tid`,
  `x_refresh_token_expires_in`, `realmId`).
- *.example.test and localhost: the apps' callback and disconnect pages (a small HTML page).
  `/app {"redirects": ["slash", "https"]}` makes the app's own server redirect the callback
  before it reaches the app's handler, as web frameworks do: "slash" answers a path
  `/callback` with a 301 to `/callback/` (Django's APPEND_SLASH; the query is kept); "https"
  answers any `http://` request with a 301 to the same URL on `https://` (a load balancer's
  HTTP-to-HTTPS rule). Both can be on at once (http → https first, then the slash).
- emulator.control: the control API below (plain HTTP through the proxy). Recordings filter
  this host out; flows of it carry `flow.metadata["emulator_control"] = True`.
- Xero's, Microsoft's, Google's and an Auth0 tenant's hosts: handed to `xero_emu.py`,
  `microsoft_emu.py`, `google_emu.py` and `auth0_emu.py` (each docstring says what that
  provider's emulation models and assumes);
  they share this addon's clock and its delay and drop knobs, so one capture can mix
  providers; their own control calls are `http://emulator.control/<xero|microsoft|google|auth0>/..`.
- anything else (e.g. Chromium's background Google traffic): 404, never upstream.

Modelled, from quickbooks-oauth.md (sections 1, 2, 3 and 5):
- registered clients (id + secret + exact redirect URIs, Development and Production keys are
  separate clients: `intuit_model.APPS`); client auth by Basic header or by form-body
  `client_id`/`client_secret`; any client-auth failure is 401 `{"error":"invalid_client"}`;
- `invalid_grant` is 400 with one of the three known bodies, taken in turn;
- codes: single use, bound to the client_id and the exact redirect_uri string of the authorize
  request; a second exchange of a code fails and invalidates the tokens of the first exchange;
- refresh: the same refresh token is returned while the current one is < 24 h old (with a
  decreasing `x_refresh_token_expires_in`); after that a new one with 8726400 s; access tokens
  live 3600 s; `x_refresh_token_hard_expires_in` only when the request has
  `x-include-refresh-token-hard-expires-in: true`, counting down a 5-year cap from the grant;
- revoke of a refresh or access token kills the whole grant;
- token formats: JWE-like access tokens (`eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..`),
  refresh tokens `RT1-<n>-H0-<10 digits><random>`, codes `AB11<digits><random>`;
- response headers `date`, `content-type: application/json;charset=utf-8`, `intuit_tid`
  (`1-<8 hex of the Unix second>-<24 hex>`), `x-spanid`, `x-amzn-trace-id: Root=<tid>`.

Assumptions (not confirmed by any Intuit source; our tests rely on them):
- the consent page is one HTML form posting back to `/connect/oauth2` (Intuit's real page is
  a script-driven sign-in and company picker; what the capture shows at the end is the same
  form POST answered by the 302 with the code); the realm is always REALM_ID;
- the token endpoint answers CORS for the apps' origins (whether Intuit's does is not
  documented; without it a browser-side exchange would never be sent);
- redirect URIs can be added to an app's keys tab at run time (`/register`), to register a
  local app server's `http://localhost:<free port>/callback`; Development keys accept
  `http://` redirect URIs on any host (Intuit allows http only for localhost);
- the code lifetime is 600 s; a code exchange that fails (wrong client, wrong redirect_uri,
  altered code, bad client auth) does not consume the code;
- the rotation grace is 0 s: a superseded refresh token fails at once (older docs say 24 h);
- rotation happens exactly when the current token is >= 24 h old (Intuit says "24-26 h");
- a refresh token presented by another client, or after hard expiry, gets plain invalid_grant;
  `x_refresh_token_expires_in` is not capped by the hard cap;
- revoke of an unknown token answers 400 `invalid_request`; a successful revoke is 200 with
  an empty body; the 503 of an outage is an HTML page from the load balancer.

Control API (`http://emulator.control/<path>`, JSON body or query parameters):
- `/reset`: forget all state, clock back to real time.   `/state`: counts, for debugging.
- `/clock`: current emulated time; `/clock/advance {"seconds": D}`: move the clock forward.
  The emulator adds the shift to the flow's request/response/error timestamps in its hooks,
  so mitmproxy's HAR export and flow files agree with `Date` and `intuit_tid`.
- `/delay {"seconds": S, "count": N}`: the next N token requests are processed on arrival but
  answered S seconds later (for races).
- `/drop {"count": N}`: the next N token requests are processed (a refresh may rotate) and
  then the connection is killed (`flow.kill()`), so the client never sees the answer.
- `/outage {"mode": "503" | "invalid_grant" | "off"}`: every token request gets a 503, or a
  400 invalid_grant without any state change, until switched off.
- `/inject {"status": 429, "body": {...}, "count": N}`: canned answers for the next N token
  requests, no state change (for "unexplained" failures).
- `/consent {"mode": "auto" | "form"}`: how a `GET` of the authorize URL is answered (above).
- `/app {"redirects": [...]}`: the app server's own redirects of its callback (above).
- `/register {"client_id", "redirect_uri"}`: add a redirect URI to an app's keys tab.
- `/seed {"client_id", "realm_id", "grant_age", "rt_age"}`: a grant that began before the
  capture; answers `{"refresh_token": ..}`.
- `/disconnect {"realm_id"}`: the user disconnected the app in QuickBooks (kills its grants).
- `/generic {"grace": S}`: the generic server's rotation grace, in seconds.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import sys
import time
import uuid
from collections.abc import Mapping
from email.utils import formatdate
from urllib.parse import urlencode

from mitmproxy import http

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from app_servers import AppServers
from auth0_emu import Auth0Emulator
from google_emu import GoogleEmulator
from intuit_model import APPS, IntuitModel, Outcome
from microsoft_emu import MicrosoftEmulator
from oauth_emu import ProviderEmulator, client_auth, content_of
from xero_emu import XeroEmulator

CONTROL_HOST = "emulator.control"
TOKEN_HOST = "oauth.platform.intuit.com"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
DISCOVERY_HOSTS = ("developer.intuit.com", "developer.api.intuit.com")
DATA_HOSTS = ("quickbooks.api.intuit.com", "sandbox-quickbooks.api.intuit.com")
AUTH_FAULT = {
    "Fault": {
        "Error": [
            {
                "Message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "code": "3200",
            }
        ],
        "type": "AUTHENTICATION",
    }
}
REALM_ID = "9341453050298471"
GENERIC_PORT = 8443
GENERIC_GRACE = 1800.0

BAD_REDIRECT_PAGE = (
    "<html><body><h1>We're sorry, but we couldn't complete your request.</h1><p>The "
    "redirect_uri query parameter value is invalid. Make sure it is listed in the Redirect URIs "
    "section on your app's keys tab and matches it exactly.</p></body></html>"
)


def discovery(sandbox: bool) -> dict[str, object]:
    accounts = "sandbox-accounts" if sandbox else "accounts"
    return {
        "issuer": "https://oauth.platform.intuit.com/op/v1",
        "authorization_endpoint": "https://appcenter.intuit.com/connect/oauth2",
        "token_endpoint": f"https://{TOKEN_HOST}{TOKEN_PATH}",
        "userinfo_endpoint": f"https://{accounts}.platform.intuit.com/v1/openid_connect/userinfo",
        "revocation_endpoint": f"https://developer.api.intuit.com{REVOKE_PATH}",
        "jwks_uri": "https://oauth.platform.intuit.com/op/v1/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    }


class IntuitEmulator:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.model = IntuitModel()
        self.generic = IntuitModel(grace=GENERIC_GRACE, rotate_after=0, intuit_fields=False)
        self.shift = 0.0
        self.delay = (0.0, 0)
        self.drop = 0
        self.outage = "off"
        self.inject: tuple[int, dict[str, object], int] = (0, {}, 0)
        self.consent = "auto"
        self.apps = AppServers(self.make)
        others: list[ProviderEmulator] = [
            XeroEmulator(),
            MicrosoftEmulator(),
            GoogleEmulator(),
            Auth0Emulator(),
        ]
        self.providers = {p.name: p for p in others}
        self.by_host = {h: p for p in others for h in p.hosts}

    def now(self) -> float:
        return time.time() + self.shift

    # -- responses ------------------------------------------------------------------------
    def make(
        self,
        status: int,
        body: object = None,
        ctype: str = "application/json;charset=utf-8",
        extra: dict[str, str] | None = None,
        intuit: bool = True,
    ) -> http.Response:
        now = self.now()
        tid = f"1-{int(now):08x}-{uuid.uuid4().hex[:24]}"
        content = content_of(body)
        headers = {
            "date": formatdate(now, usegmt=True),
            "content-type": ctype,
            "content-length": str(len(content)),
            "connection": "keep-alive",
            "intuit_tid": tid,
            "x-spanid": str(uuid.uuid4()),
            "x-amzn-trace-id": f"Root={tid}",
            "cache-control": "no-cache, no-store",
            **(extra or {}),
        }
        if not intuit:
            for name in ("intuit_tid", "x-spanid", "x-amzn-trace-id"):
                del headers[name]
        return http.Response.make(status, content, headers)

    def outcome(self, out: Outcome) -> http.Response:
        return self.make(out.status, out.body)

    # -- mitmproxy hooks ------------------------------------------------------------------
    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error:
            return
        req = flow.request
        shift = self.shift
        flow.metadata["emulator_shift"] = shift
        req.timestamp_start += shift
        if req.timestamp_end:
            req.timestamp_end += shift
        host = req.pretty_host
        if host == CONTROL_HOST:
            flow.metadata["emulator_control"] = True
            flow.response = self.control(req)
        elif host == TOKEN_HOST and req.path.startswith(TOKEN_PATH) and req.method == "OPTIONS":
            flow.response = self.preflight(req)
        elif host == TOKEN_HOST and req.path.startswith(TOKEN_PATH) and req.method == "POST":
            await self.token_flow(flow)
            if flow.response and "origin" in req.headers:
                flow.response.headers["access-control-allow-origin"] = req.headers["origin"]
                flow.response.headers["vary"] = "Origin"
        elif host in self.by_host:
            await self.provider_flow(flow, self.by_host[host])
        elif host == "localhost" and req.port == GENERIC_PORT:
            flow.response = self.generic_route(req)
        else:
            flow.response = self.route(req)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response and "emulator_shift" in flow.metadata:
            flow.response.timestamp_start += flow.metadata["emulator_shift"]

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.response and flow.response.timestamp_end and "emulator_shift" in flow.metadata:
            flow.response.timestamp_end += flow.metadata["emulator_shift"]

    def error(self, flow: http.HTTPFlow) -> None:
        if flow.error and "emulator_shift" in flow.metadata:
            flow.error.timestamp += flow.metadata["emulator_shift"]

    def preflight(self, req: http.Request) -> http.Response:
        """A browser asks whether a page may POST to the token endpoint with Authorization."""
        origin = req.headers.get("origin", "")
        if not origin.endswith(".example.test"):
            return self.make(403, "", ctype="text/plain")
        return self.make(
            204,
            None,
            ctype="text/plain",
            extra={
                "access-control-allow-origin": origin,
                "access-control-allow-methods": "POST",
                "access-control-allow-headers": "authorization, content-type, accept",
                "access-control-max-age": "600",
                "vary": "Origin",
            },
        )

    # -- token endpoint -------------------------------------------------------------------
    async def token_flow(self, flow: http.HTTPFlow) -> None:
        await self.delayed(flow, self.token(flow.request))

    async def provider_flow(self, flow: http.HTTPFlow, provider: ProviderEmulator) -> None:
        """Another provider's host: its emulator answers; delay and drop apply to its token
        requests as to Intuit's."""
        resp = provider.handle(flow.request, self.now())
        if not provider.is_token(flow.request):
            flow.response = resp
            return
        await self.delayed(flow, resp)

    async def delayed(self, flow: http.HTTPFlow, resp: http.Response) -> None:
        seconds, count = self.delay
        if count:
            self.delay = (seconds, count - 1)
            await asyncio.sleep(seconds)
        if self.drop:
            self.drop -= 1
            flow.kill()
            return
        flow.response = resp

    def token(self, req: http.Request) -> http.Response:
        status, body, count = self.inject
        if count:
            self.inject = (status, body, count - 1)
            return self.make(status, body)
        if self.outage == "503":
            return self.make(
                503,
                "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                ctype="text/html",
            )
        auth = client_auth(req)
        app = APPS.get(auth[0]) if auth else None
        if auth is None or app is None or app.secret != auth[1]:
            return self.make(401, {"error": "invalid_client"})
        if self.outage == "invalid_grant":
            return self.outcome(self.model.invalid_grant())
        form = req.urlencoded_form
        hard = req.headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true"
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            if "code" not in form or "redirect_uri" not in form:
                return self.make(400, {"error": "invalid_request"})
            return self.outcome(
                self.model.exchange(
                    app.client_id, form["code"], form["redirect_uri"], self.now(), hard
                )
            )
        if grant_type == "refresh_token":
            if "refresh_token" not in form:
                return self.make(400, {"error": "invalid_request"})
            return self.outcome(
                self.model.refresh(app.client_id, form["refresh_token"], self.now(), hard)
            )
        return self.make(400, {"error": "unsupported_grant_type"})

    # -- the generic RFC 6749 server (a custom provider) ---------------------------------
    def generic_route(self, req: http.Request) -> http.Response:
        path = req.path.split("?")[0]
        if path == "/oauth/authorize":
            q = req.query
            redirect_uri = q.get("redirect_uri", "")
            code = self.generic.authorize(q.get("client_id", ""), redirect_uri, "", self.now())
            if code is None:
                return self.make(400, {"error": "invalid_request"}, intuit=False)
            query = urlencode({"code": code, "state": q.get("state", "")})
            return self.make(302, "", "text/html", {"location": f"{redirect_uri}?{query}"}, False)
        if path == "/oauth/token" and req.method == "POST":
            return self.generic_token(req)
        if path == "/oauth/revoke" and req.method == "POST":
            auth = client_auth(req)
            app = APPS.get(auth[0]) if auth else None
            if auth is None or app is None or app.secret != auth[1]:
                return self.make(401, {"error": "invalid_client"}, intuit=False)
            out = self.generic.revoke(app.client_id, req.urlencoded_form.get("token", ""))
            return self.make(out.status, out.body, intuit=False)
        return self.make(404, {"error": "not_found"}, intuit=False)

    def generic_token(self, req: http.Request) -> http.Response:
        auth = client_auth(req)
        app = APPS.get(auth[0]) if auth else None
        if auth is None or app is None or app.secret != auth[1]:
            return self.make(401, {"error": "invalid_client"}, intuit=False)
        form = req.urlencoded_form
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code" and "code" in form:
            args = (app.client_id, form["code"], form.get("redirect_uri", ""), self.now(), False)
            out = self.generic.exchange(*args)
        elif grant_type == "refresh_token" and "refresh_token" in form:
            out = self.generic.refresh(app.client_id, form["refresh_token"], self.now(), False)
        else:
            return self.make(400, {"error": "unsupported_grant_type"}, intuit=False)
        return self.make(out.status, out.body, intuit=False)

    # -- other Intuit hosts and the apps ------------------------------------------------
    def route(self, req: http.Request) -> http.Response:
        host, path = req.pretty_host, req.path.split("?")[0]
        if host in DISCOVERY_HOSTS and path.startswith("/.well-known/openid_"):
            return self.make(200, discovery("sandbox" in path))
        if host == "developer.api.intuit.com" and path == REVOKE_PATH and req.method == "POST":
            return self.revoke(req)
        if host == "appcenter.intuit.com" and path == "/connect/oauth2":
            return self.authorize(req)
        if host == TOKEN_HOST and path == "/op/v1/jwks":
            return self.make(200, {"keys": []})
        if host in DATA_HOSTS and path.startswith("/v3/company/"):
            return self.data_api(req, path)
        if host.endswith(".example.test") or host == "localhost":
            return self.apps.page(req)
        return self.make(404, "not found", ctype="text/plain")

    def authorize(self, req: http.Request) -> http.Response:
        if req.method == "POST":
            return self.consent_given(req.urlencoded_form)
        if self.consent == "form":
            return self.consent_page(req.query)
        return self.consent_given(req.query)

    def consent_page(self, q: Mapping[str, str]) -> http.Response:
        """The user is asked to connect; the page's form posts the authorize parameters back."""
        app = APPS.get(q.get("client_id", ""))
        if app is None or not self.model.is_registered(app.client_id, q.get("redirect_uri", "")):
            return self.make(400, BAD_REDIRECT_PAGE, ctype="text/html;charset=utf-8")
        fields = ("client_id", "redirect_uri", "state", "scope", "response_type")
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(q.get(k, ""))}">' for k in fields
        )
        page = (
            "<html><head><title>Connect to QuickBooks</title></head><body>"
            "<h1>Connect your QuickBooks company</h1>"
            f'<form method="post" action="/connect/oauth2">{hidden}'
            '<button id="connect" type="submit">Connect</button></form></body></html>'
        )
        return self.make(200, page, ctype="text/html;charset=utf-8")

    def consent_given(self, q: Mapping[str, str]) -> http.Response:
        redirect_uri = q.get("redirect_uri", "")
        code = self.model.authorize(q.get("client_id", ""), redirect_uri, REALM_ID, self.now())
        if code is None:
            return self.make(400, BAD_REDIRECT_PAGE, ctype="text/html;charset=utf-8")
        params = urlencode({"code": code, "state": q.get("state", ""), "realmId": REALM_ID})
        sep = "&" if "?" in redirect_uri else "?"
        return self.make(
            302,
            "",
            ctype="text/html;charset=utf-8",
            extra={"location": f"{redirect_uri}{sep}{params}"},
        )

    def data_api(self, req: http.Request, path: str) -> http.Response:
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self.model.access_ok(token.strip(), self.now()):
            return self.make(401, AUTH_FAULT)
        now = formatdate(self.now(), usegmt=True)
        if "/companyinfo/" in path:
            return self.make(200, {"CompanyInfo": {"CompanyName": "Sandbox Company_US_1"}})
        return self.make(200, {"QueryResponse": {}, "time": now})

    def revoke(self, req: http.Request) -> http.Response:
        auth = client_auth(req)
        app = APPS.get(auth[0]) if auth else None
        if auth is None or app is None or app.secret != auth[1]:
            return self.make(401, {"error": "invalid_client"})
        if "json" in req.headers.get("content-type", ""):
            try:
                token = str(json.loads(req.get_text() or "{}").get("token", ""))
            except (ValueError, AttributeError):
                token = ""
        else:
            token = req.urlencoded_form.get("token", "")
        return self.outcome(self.model.revoke(app.client_id, token))

    # -- control API ----------------------------------------------------------------------
    def control(self, req: http.Request) -> http.Response:
        args: dict[str, object] = dict(req.query.items())
        if req.content:
            try:
                args.update(json.loads(req.content))
            except ValueError:
                return self.make(400, {"error": "control body must be JSON"})
        path = req.path.split("?")[0].rstrip("/")
        try:
            result = self.control_op(path, args)
        except (KeyError, TypeError, ValueError) as e:
            return self.make(400, {"error": f"bad control request: {e!r}"})
        if result is None:
            return self.make(404, {"error": f"no control {path}"})
        return self.make(200, result)

    def control_op(self, path: str, a: dict[str, object]) -> dict[str, object] | None:
        prefix, _, op = path.lstrip("/").partition("/")
        if prefix in self.providers and op:
            return self.providers[prefix].control(op, a, self.now())
        if path == "/reset":
            self.reset()
        elif path == "/clock/advance":
            self.shift += float(str(a["seconds"]))
        elif path == "/delay":
            self.delay = (float(str(a["seconds"])), int(str(a.get("count", 1))))
        elif path == "/drop":
            self.drop = int(str(a.get("count", 1)))
        elif path == "/outage":
            self.outage = str(a["mode"])
        elif path == "/inject":
            body = a.get("body") or {}
            status, count = int(str(a["status"])), int(str(a.get("count", 1)))
            self.inject = (status, dict(body), count)  # type: ignore[call-overload]
        elif path == "/seed":
            rt = self.model.seed(
                str(a["client_id"]),
                str(a.get("realm_id", REALM_ID)),
                float(str(a["grant_age"])),
                float(str(a["rt_age"])),
                self.now(),
            )
            return {"refresh_token": rt}
        elif path == "/consent":
            if a["mode"] not in ("auto", "form"):
                raise ValueError(f"consent mode {a['mode']!r}")
            self.consent = str(a["mode"])
        elif path == "/app":
            redirects = a.get("redirects") or []
            self.apps.redirects = frozenset(str(r) for r in redirects)  # type: ignore[attr-defined]
        elif path == "/register":
            self.model.register(str(a["client_id"]), str(a["redirect_uri"]))
        elif path == "/generic":
            self.generic.grace = float(str(a["grace"]))
        elif path == "/disconnect":
            return {"grants": self.model.revoke_realm(str(a.get("realm_id", REALM_ID)))}
        elif path == "/state":
            m = self.model
            return {"codes": len(m.codes), "refresh_tokens": len(m.refresh_tokens)}
        elif path != "/clock":
            return None
        return {"now": self.now(), "shift": self.shift}


addons = [IntuitEmulator()]
