"""Chromium (Debian's /usr/bin/chromium, driven by Playwright) for the authorize -> callback leg.

Never runs `playwright install`: it uses the system Chromium. Chromium's background traffic
to Google hosts is kept out of the Playwright HAR by a URL filter, and out of mitmproxy's
recording by the `save_stream_filter` that record.py sets.

The proxy is given as Chromium's own `--proxy-server` switch, not Playwright's `proxy` option:
Playwright adds `--proxy-bypass-list=<-loopback>`, which sends localhost through the proxy
too. With the switch alone Chromium does what it does for users: requests to localhost and
127.0.0.1 go straight to the local server, so a `http://localhost:<port>/callback` never
reaches mitmproxy.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import BrowserContext, sync_playwright

CHROMIUM = "/usr/bin/chromium"
AUTHORIZE = "https://appcenter.intuit.com/connect/oauth2"
HAR_URL_FILTER = re.compile(
    r"^https?://(([^/]*\.)?(intuit\.com|example\.test)|localhost)(:\d+)?/(?!favicon)"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def spki_hash(ca_path: str) -> str:
    """base64(sha256(SubjectPublicKeyInfo)) of the mitmproxy CA, for Chromium's SPKI flag."""
    cert = x509.load_pem_x509_certificate(Path(ca_path).read_bytes())
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def authorize_url(client_id: str, redirect_uri: str, state: str) -> str:
    """The URL intuitlib's get_authorization_url builds (same parameters, same order)."""
    return (
        AUTHORIZE
        + "?"
        + urlencode(
            {
                "client_id": client_id,
                "response_type": "code",
                "scope": "com.intuit.quickbooks.accounting",
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
    )


def consent(
    proxy_url: str,
    ca_path: str,
    url: str,
    har_path: str | None,
    submit: bool = False,
    on_callback: Callable[[str], object] | None = None,
    reloads: int = 0,
) -> str:
    """Open the authorize URL and consent; return the callback URL the browser lands on.

    `submit` clicks "Connect" on the consent page (a form POST to the authorize endpoint).
    `on_callback(url)` is the app's handler running for each load of the callback page;
    `reloads` reloads that page (a double-submitted callback), running the handler again.
    """
    with _context(proxy_url, ca_path, har_path) as context:
        page = context.new_page()
        page.goto(url, wait_until="load")
        if submit:
            with page.expect_navigation(wait_until="load"):
                page.click("#connect")
        callback = page.url
        for load in range(reloads + 1):
            if on_callback:
                on_callback(page.url)
            if load < reloads:
                page.reload(wait_until="load")
    return callback


def tabs(
    proxy_url: str, ca_path: str, urls: list[str], har_path: str | None, order: list[int]
) -> list[str]:
    """Open each authorize URL in its own tab, then consent in the tabs in `order`.

    Returns the callback URL each tab lands on, in the order of `urls`.
    """
    with _context(proxy_url, ca_path, har_path) as context:
        pages = [context.new_page() for _ in urls]
        for page, url in zip(pages, urls, strict=True):
            page.goto(url, wait_until="load")
        for i in order:
            with pages[i].expect_navigation(wait_until="load"):
                pages[i].click("#connect")
        return [page.url for page in pages]


@contextlib.contextmanager
def _context(proxy_url: str, ca_path: str, har_path: str | None) -> Iterator[BrowserContext]:
    """A fresh Chromium context through the proxy; closing it writes the HAR."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                *CHROMIUM_ARGS,
                f"--proxy-server={proxy_url}",
                f"--ignore-certificate-errors-spki-list={spki_hash(ca_path)}",
            ],
        )
        try:
            context = (
                browser.new_context(
                    record_har_path=har_path,
                    record_har_content="embed",
                    record_har_url_filter=HAR_URL_FILTER,
                )
                if har_path
                else browser.new_context()
            )
            yield context
            context.close()  # writes the HAR
        finally:
            browser.close()
