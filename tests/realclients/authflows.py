"""Authorization-code flows as browsers and clients other than Intuit's SDKs produce them.

Issue 8 point 5: the authorize request by GET and by the consent page's form POST; the
callback seen by the proxy or not (Chromium sends localhost past its proxy); the app's own
server redirecting its callback; redirect_uri strings that differ by a trailing slash, a
scheme or an explicit port; a double-submitted callback; and healthy flows of Authlib,
python-quickbooks and simple-oauth2. Same `Scenario` contract as scenarios.py.

Clients: `authlib` and `python-quickbooks` run `pyapps.py`, `simple-oauth2` runs
`node/simple_oauth2.js`, `python-sdk` runs intuitlib in `pyclient.py`; `chromium+X` is
Chromium (browser.py) for the user's part and X for the app's.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from scenarios import CALLBACK, DEV, PROD, Ctx, Scenario  # noqa: E402

PORT_CALLBACK = "https://app.example.test:443/callback"
QBO_CALLBACK = "https://app.example.test/qbo/callback"


class _AppHandler(BaseHTTPRequestHandler):
    """The developer's app on localhost: its callback page (the code is read by the runner)."""

    def do_GET(self) -> None:
        page = (
            b"<html><head><title>Connected to QuickBooks</title></head>"
            b"<body><h1>Connected</h1></body></html>"
        )
        self.send_response(200)
        self.send_header("content-type", "text/html;charset=utf-8")
        self.send_header("content-length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def local_app(ctx: Ctx, client_id: str = DEV) -> Iterator[str]:
    """Run the app on 127.0.0.1:<free port>; yield its callback URL, registered for the app."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AppHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        callback = f"http://localhost:{server.server_address[1]}/callback"
        ctx.control("/register", client_id=client_id, redirect_uri=callback)
        yield callback
    finally:
        server.shutdown()
        server.server_close()


def apps(ctx: Ctx, part: str, **args: Any) -> dict[str, Any]:
    return ctx._run([sys.executable, str(HERE / "pyapps.py"), part, json.dumps(args)], HERE)


def simple_oauth2(ctx: Ctx, part: str, **args: Any) -> dict[str, Any]:
    return ctx._run(["node", "simple_oauth2.js", part, json.dumps(args)], HERE / "node")


def intuit_authorize_url(redirect_uri: str = CALLBACK) -> str:
    from browser import authorize_url

    return authorize_url(DEV, redirect_uri, os.urandom(12).hex())


def browse(ctx: Ctx, url: str, **kw: Any) -> str:
    from browser import consent

    return consent(ctx.proxy_url, ctx.ca_path, url, ctx.browser_har, **kw)


# -- runs ------------------------------------------------------------------------------------
def app_part(kind: str, part: str) -> Callable[[Ctx], object]:
    run = {"py": apps, "node": simple_oauth2}[kind]
    return lambda ctx: run(ctx, part)


def consent_then_authlib(
    form: bool = True, redirects: tuple[str, ...] = (), registered: str = CALLBACK, **args: Any
) -> Callable[[Ctx], None]:
    """The Authlib app's Connect link, Chromium's consent, the app's callback handler."""

    def run(ctx: Ctx) -> None:
        ctx.control("/consent", mode="form" if form else "auto")
        ctx.control("/app", redirects=list(redirects))
        if registered != CALLBACK:
            ctx.control("/register", client_id=DEV, redirect_uri=registered)
        link = apps(ctx, "authlib_authorize_url", redirect_uri=registered)["result"]
        callback = browse(ctx, link["url"], submit=form)
        apps(ctx, "authlib_callback", callback=callback, state=link["state"], **args)

    return run


def consent_to_localhost(exchange: Callable[[Ctx, str, str], object]) -> Callable[[Ctx], None]:
    """Consent by form POST; the browser goes to the app on localhost, past the proxy."""

    def run(ctx: Ctx) -> None:
        ctx.control("/consent", mode="form")
        with local_app(ctx) as local:
            callback = browse(ctx, intuit_authorize_url(local), submit=True)
            if not callback.startswith(local):
                raise RuntimeError(f"the browser did not reach the local app: {callback}")
            exchange(ctx, callback, local)

    return run


def firefox_to_localhost(ctx: Ctx) -> None:
    """Firefox consents; its callback goes to the app on localhost, past the proxy."""
    from firefox import firefox, save_all_as_har

    ctx.control("/consent", mode="form")
    with local_app(ctx) as local, firefox(ctx.proxy_url, ctx.ca_path) as ff:
        ff.navigate(intuit_authorize_url(local))
        ff.click("#connect")
        ff.wait_for_title("Connected")
        callback = ff.url()
        if ctx.browser_har:
            save_all_as_har(ff, ctx.browser_har)
    ctx.py("exchange_callback", callback=callback, redirect_uri=local)


def late_exchange(ctx: Ctx, callback: str, local: str) -> None:
    """The app's handler queues the code; a worker exchanges it 15 minutes later."""
    ctx.control("/clock/advance", seconds=900)
    ctx.py("exchange_callback", callback=callback, redirect_uri=local)


def chromium_get_then_simple_oauth2(redirect_uri: str) -> Callable[[Ctx], None]:
    def run(ctx: Ctx) -> None:
        callback = browse(ctx, intuit_authorize_url())
        simple_oauth2(ctx, "exchange_callback", callback=callback, redirect_uri=redirect_uri)

    return run


def double_submitted_callback(ctx: Ctx) -> None:
    """The callback page is loaded twice (a reload); the app's handler exchanges each time."""

    def handler(url: str) -> None:
        ctx.py("exchange_callback", callback=url)

    browse(ctx, intuit_authorize_url(), on_callback=handler, reloads=1)


def interleaved_tabs(ctx: Ctx) -> None:
    """Two Connect tabs of the Production app, each with another registered redirect_uri."""
    from browser import authorize_url, tabs

    ctx.control("/consent", mode="form")
    urls = [authorize_url(PROD, uri, os.urandom(12).hex()) for uri in (QBO_CALLBACK, CALLBACK)]
    first, second = tabs(ctx.proxy_url, ctx.ca_path, urls, ctx.browser_har, order=[1, 0])
    # The app's handler is configured with /callback; it handles the older tab's callback first.
    for callback in (first, second):
        ctx.py("exchange_callback", callback=callback, app=PROD, redirect_uri=CALLBACK)


def firefox_spa(redirects: tuple[str, ...] = (), ends: str = "200 400") -> Callable[[Ctx], None]:
    """Firefox: consent by form POST; the SPA's callback route exchanges the code twice."""

    def run(ctx: Ctx) -> None:
        from firefox import firefox, save_all_as_har

        spa = "https://app.example.test/spa/callback"
        ctx.control("/consent", mode="form")
        ctx.control("/app", redirects=list(redirects))
        ctx.control("/register", client_id=DEV, redirect_uri=spa)
        with firefox(ctx.proxy_url, ctx.ca_path) as ff:
            ff.navigate(intuit_authorize_url(spa))
            ff.click("#connect")
            title = ff.wait_for_title("exchanged")
            if ctx.browser_har:
                save_all_as_har(ff, ctx.browser_har)
        if sorted(title.split()[1:]) != sorted(ends.split()):  # the two fetches race
            raise RuntimeError(f"the SPA's exchanges ended as {title!r}")

    return run


S = Scenario
AUTH_FLOWS: dict[str, Scenario] = {
    s.name: s
    for s in [
        S(
            "healthy_authlib",
            "authlib",
            [],
            [200] * 4,
            app_part("py", "healthy_authlib"),
            notes="Authlib OAuth2Session: authorize by GET, fetch_token, data calls; the session "
            "refreshes by itself 2 h and 26 h after the grant (update_token stores the rotated "
            "token), a restored session refreshes once more, then revokes (form body)",
        ),
        S(
            "healthy_python_quickbooks",
            "python-quickbooks",
            [],
            [200] * 4,
            app_part("py", "healthy_python_quickbooks"),
            notes="intuitlib connects; three python-quickbooks sync jobs (3 h, 25 h, 29 h after "
            "the grant) each build QuickBooks(auth_client, refresh_token), which refreshes, "
            "query customers and keep the refresh token they got (the 25 h one rotates)",
        ),
        S(
            "healthy_simple_oauth2",
            "simple-oauth2",
            [],
            [200] * 4,
            app_part("node", "healthy_simple_oauth2"),
            notes="simple-oauth2 5.1.0 (Basic auth, form body): authorize by GET, getToken, "
            "refreshes 1 h and 25 h after the grant (the second rotates), one more from a "
            "token restored from the app's store",
        ),
        S(
            "authlib_update_token_missing",
            "authlib",
            ["refresh_token_superseded"],
            [200, 200, 400],
            app_part("py", "authlib_update_token_missing"),
            notes="an Authlib app with no update_token hook: the session rotates the token 25 h "
            "after the grant and nobody stores it; 2 h later another handler loads the first "
            "token from the database and its automatic refresh fails",
        ),
        S(
            "python_quickbooks_store_not_written",
            "python-quickbooks",
            ["refresh_token_superseded"],
            [200, 200, 200, 400],
            app_part("py", "python_quickbooks_store_not_written"),
            notes="python-quickbooks sync jobs: the 25 h job rotates the refresh token but does "
            "not save qb.refresh_token; 2 h later the next job refreshes with the old one",
        ),
        S(
            "healthy_consent_post_callback_present",
            "chromium+authlib",
            [],
            [200],
            consent_then_authlib(),
            time_shifted=False,
            notes="Authlib builds the authorize URL; Chromium gets the consent page and submits "
            "its form (POST to the authorize endpoint, 302 with code, state, realmId); the "
            "callback goes through the proxy; the app exchanges and calls the data API",
        ),
        S(
            "healthy_consent_post_callback_absent",
            "chromium+python-sdk",
            [],
            [200],
            consent_to_localhost(
                lambda ctx, callback, local: ctx.py(
                    "exchange_callback", callback=callback, redirect_uri=local
                )
            ),
            time_shifted=False,
            notes="consent by form POST; redirect_uri is the app on http://localhost:<port>/"
            "callback, which Chromium reaches without its proxy: the capture has the 302 "
            "Location with the code but no callback request; intuitlib exchanges it",
        ),
        S(
            "code_expired_callback_absent",
            "chromium+python-sdk",
            ["code_expired"],
            [400],
            consent_to_localhost(late_exchange),
            notes="consent by form POST to the app on localhost (no callback in the capture: the "
            "code shows only in the 302 Location); the app exchanges it 900 s later (emulated "
            "code lifetime 600 s)",
        ),
        S(
            "healthy_firefox_callback_absent",
            "firefox",
            [],
            [200],
            firefox_to_localhost,
            time_shifted=False,
            notes="Firefox ESR consents by form POST; the callback goes to the app on "
            "localhost, which Firefox does not send through its proxy "
            "(network.proxy.allow_hijacking_localhost is false); intuitlib exchanges the code. "
            "<name>.firefox.har has the localhost callback, mitmproxy's HAR does not",
        ),
        S(
            "redirect_uri_trailing_slash_callback_absent",
            "chromium+simple-oauth2",
            ["redirect_uri_mismatch"],
            [400],
            consent_to_localhost(
                lambda ctx, callback, local: simple_oauth2(
                    ctx, "exchange_callback", callback=callback, redirect_uri=local + "/"
                )
            ),
            time_shifted=False,
            notes="consent by form POST to the app on localhost (no callback in the capture); "
            "the simple-oauth2 app is configured with the same URI plus a trailing slash",
        ),
        S(
            "redirect_uri_explicit_port",
            "chromium+simple-oauth2",
            ["redirect_uri_mismatch"],
            [400],
            chromium_get_then_simple_oauth2(PORT_CALLBACK),
            time_shifted=False,
            notes="authorize by GET with https://app.example.test/callback (callback through "
            "the proxy); the simple-oauth2 app sends https://app.example.test:443/callback",
        ),
        S(
            "callback_redirected_slash",
            "chromium+authlib",
            ["redirect_uri_mismatch"],
            [400],
            consent_then_authlib(redirects=("slash",), redirect_uri_from_request=True),
            time_shifted=False,
            notes="consent by form POST; the app's server answers /callback with a 301 to "
            "/callback/ (APPEND_SLASH); the handler passes the URL it was reached on, "
            "https://app.example.test/callback/, as redirect_uri",
        ),
        S(
            "callback_redirected_https",
            "chromium+authlib",
            ["redirect_uri_mismatch"],
            [400],
            consent_then_authlib(
                redirects=("https",),
                registered="http://app.example.test/callback",
                redirect_uri_from_request=True,
            ),
            time_shifted=False,
            notes="the app is registered and authorizes with http://app.example.test/callback; "
            "its load balancer 301s the callback to https; the handler passes "
            "https://app.example.test/callback as redirect_uri",
        ),
        S(
            "callback_redirected_healthy",
            "chromium+authlib",
            [],
            [200],
            consent_then_authlib(redirects=("slash",)),
            time_shifted=False,
            notes="as callback_redirected_slash, but the handler sends the configured "
            "redirect_uri (https://app.example.test/callback): the exchange succeeds",
        ),
        S(
            "code_reused_double_submit",
            "chromium+python-sdk",
            ["code_reused"],
            [200, 400],
            double_submitted_callback,
            time_shifted=False,
            notes="authorize by GET; the callback page is loaded, then reloaded: the callback "
            "request is in the capture twice and the app's handler exchanges the code each time",
        ),
        S(
            "interleaved_tabs",
            "chromium+python-sdk",
            ["redirect_uri_mismatch"],
            [400, 200],
            interleaved_tabs,
            time_shifted=False,
            notes="two tabs open the Production app's consent page, one authorizing with "
            "/qbo/callback, the other with /callback (both registered); the second tab "
            "consents first; the app (configured with /callback) exchanges the first tab's "
            "code (mismatch), then the second's (accepted)",
        ),
        S(
            "firefox_spa_double_exchange",
            "firefox",
            ["code_reused"],
            [200, 400],
            firefox_spa(),
            time_shifted=False,
            racy=True,
            notes="Firefox ESR: consent by form POST; the single-page app's callback route "
            "exchanges the code with fetch() from an effect React's StrictMode runs twice, so "
            "two exchanges (each after a CORS preflight) start together; the second is "
            "refused. <name>.firefox.har is Firefox's own Save All As HAR",
        ),
        S(
            "firefox_spa_callback_redirected",
            "firefox",
            ["redirect_uri_mismatch", "redirect_uri_mismatch"],
            [400, 400],
            firefox_spa(redirects=("slash",), ends="400 400"),
            time_shifted=False,
            racy=True,
            notes="as firefox_spa_double_exchange, but the app's server 301s /spa/callback to "
            "/spa/callback/ and the SPA sends location.origin + location.pathname as "
            "redirect_uri: both exchanges carry the trailing slash",
        ),
    ]
}
