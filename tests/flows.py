"""mitmproxy flows of an OAuth dance, written to HAR by mitmproxy's own `SaveHar` (the
`hardump` exporter), for tests of shapes the recorded goldens do not reach (interleaved
tabs, redirect chains on the authorize host, relative Locations). The other exporters' shapes
come from `tests/exporters.py` rewrites of that HAR."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from mitmproxy import http
from mitmproxy.addons.savehar import SaveHar
from mitmproxy.test import tflow

from tests.factories import T0

AUTHORIZE = "https://appcenter.intuit.com/connect/oauth2"
TOKEN = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
FORM = "application/x-www-form-urlencoded"


class Dance:
    """Flows in the order a proxy saw them, each `at` seconds after T0."""

    def __init__(self) -> None:
        self.flows: list[http.HTTPFlow] = []

    def add(
        self,
        at: float,
        method: str,
        url: str,
        *,
        body: str = "",
        headers: dict[str, str] | None = None,
        status: int = 200,
        answer: str = "",
        answer_headers: dict[str, str] | None = None,
    ) -> int:
        """One exchange; returns its index in the HAR's entries."""
        req = http.Request.make(method, url, body.encode(), headers or {})
        req.timestamp_start, req.timestamp_end = T0 + at, T0 + at + 0.01
        resp = http.Response.make(status, answer.encode(), answer_headers or {})
        resp.timestamp_start, resp.timestamp_end = T0 + at + 0.05, T0 + at + 0.1
        flow = tflow.tflow(req=req, resp=resp)
        flow.server_conn.timestamp_start = flow.server_conn.timestamp_tcp_setup = None
        flow.server_conn.timestamp_tls_setup = None
        self.flows.append(flow)
        return len(self.flows) - 1

    def authorize(self, at: float, client: str, redirect: str, state: str, **kw: Any) -> int:
        query = urlencode(
            {
                "client_id": client,
                "redirect_uri": redirect,
                "state": state,
                "response_type": "code",
                "scope": "com.intuit.quickbooks.accounting",
            }
        )
        return self.add(at, "GET", f"{AUTHORIZE}?{query}", **kw)

    def consent(self, at: float, url: str, fields: dict[str, str], location: str | None) -> int:
        """The consent page's form POST; a 302 to `location` when given."""
        return self.add(
            at,
            "POST",
            url,
            body=urlencode(fields),
            headers={"Content-Type": FORM},
            status=302 if location else 200,
            answer_headers={"Location": location} if location else {},
        )

    def token(
        self, at: float, client: str, form: dict[str, str], status: int, answer: dict[str, Any]
    ) -> int:
        basic = base64.b64encode(f"{client}:secret-of-{client}".encode()).decode()
        return self.add(
            at,
            "POST",
            TOKEN,
            body=urlencode(form),
            headers={"Authorization": f"Basic {basic}", "Content-Type": FORM},
            status=status,
            answer=json.dumps(answer),
            answer_headers={"Content-Type": "application/json;charset=utf-8"},
        )

    def exchange(
        self, at: float, client: str, code: str, redirect: str, *, ok: bool = False
    ) -> int:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
        if ok:
            issued = {
                "refresh_token": f"RT1-{code}",
                "access_token": f"eyJ{code}",
                "expires_in": 3600,
            }
            return self.token(at, client, form, 200, issued)
        return self.token(at, client, form, 400, {"error": "invalid_grant"})

    def har(self) -> dict[str, Any]:
        har: dict[str, Any] = SaveHar().make_har(self.flows)
        return har
