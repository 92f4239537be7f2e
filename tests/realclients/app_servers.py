"""The apps' own web servers (*.example.test, localhost) as the emulator answers them.

What the emulator's docstring says under "*.example.test and localhost": a callback and a
disconnect page, the single-page app's callback route, and the redirects an app's own server
makes before its handler runs ("slash", "https"). Answers are built with the emulator's
`make`, so they carry its clock.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Callable

from mitmproxy import http

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from intuit_model import APPS

Make = Callable[..., http.Response]


class AppServers:
    """Every app's server; `redirects` is what the `/app` control call set."""

    def __init__(self, make: Make) -> None:
        self.make = make
        self.redirects: frozenset[str] = frozenset()

    def page(self, req: http.Request) -> http.Response:
        if req.path.startswith("/favicon"):
            return self.make(404, "", ctype="text/plain")
        target = self.redirect(req)
        if target:
            extra = {"location": target, "server": "app"}
            return self.make(301, "", ctype="text/html", extra=extra)
        if req.path.startswith("/spa/callback"):
            return self.make(
                200, spa_page(), ctype="text/html;charset=utf-8", extra={"server": "app"}
            )
        title = "Disconnected" if "disconnect" in req.path else "Connected to QuickBooks"
        return self.make(
            200,
            f"<html><body><h1>{title}</h1></body></html>",
            ctype="text/html;charset=utf-8",
            extra={"server": "app"},
        )

    def redirect(self, req: http.Request) -> str | None:
        """Where the app's own server sends this request first, if anywhere."""
        path, sep, query = req.path.partition("?")
        if "https" in self.redirects and req.scheme == "http":
            return f"https://{req.pretty_host}{req.path}"
        if "slash" in self.redirects and path.endswith("/callback"):
            return f"{req.scheme}://{req.host_header or req.pretty_host}{path}/{sep}{query}"
        return None


def spa_page() -> str:
    """A single-page app's callback route (Development keys built into the page).

    It exchanges the code from its own URL with fetch(); the exchange runs in an effect that
    React's StrictMode mounts twice in development, so two requests with the same code start
    together. The title becomes "exchanged <statuses>" when both are answered.
    """
    app = next(iter(APPS.values()))
    basic = base64.b64encode(f"{app.client_id}:{app.secret}".encode()).decode()
    return (
        "<html><head><title>Connecting...</title></head><body><script>\n"
        "const code = new URLSearchParams(location.search).get('code');\n"
        "const body = new URLSearchParams({grant_type: 'authorization_code', code,\n"
        "  redirect_uri: location.origin + location.pathname});\n"
        "const exchange = () => fetch('https://oauth.platform.intuit.com/oauth2/v1/tokens/"
        "bearer', {method: 'POST', headers: {Accept: 'application/json', Authorization:\n"
        f"  'Basic {basic}'}}, body}}).then(r => r.status, () => 0);\n"
        "Promise.all([exchange(), exchange()]).then(s => { document.title = 'exchanged ' +"
        " s.join(' '); });\n"
        "</script></body></html>"
    )
