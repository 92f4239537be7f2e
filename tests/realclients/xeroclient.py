"""The Xero app's side of the scenarios: `python xeroclient.py <part> '<json args>'`.

xero-python (15.x) has no code exchange of its own, so the app does that leg with
requests-oauthlib's `OAuth2Session` (Basic client auth), as Xero's Python samples do with an
OAuth library; every refresh, revoke and API call is xero-python's own HTTP (form-body client
credentials to identity.xero.com). xero-python ignores HTTPS_PROXY: the proxy and CA go into
its `Configuration`. The user's consent is a plain GET of the authorize URL (no browser).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests_oauthlib import OAuth2Session
from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.identity import IdentityApi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl import advance, control, log, main
from xero_emu import APPS, SCOPE

APP = next(iter(APPS.values()))
AUTHORIZE = "https://login.xero.com/identity/connect/authorize"
TOKEN = "https://identity.xero.com/connect/token"
MINUTE = 60


class XeroApp:
    """One worker process of the app: its own token store and its own xero-python client."""

    def __init__(self, token: dict[str, Any] | None = None) -> None:
        self.token: dict[str, Any] = dict(token or {})
        config = Configuration(oauth2_token=OAuth2Token(APP.client_id, APP.secret))
        config.proxy = os.environ["HTTPS_PROXY"]
        config.ssl_ca_cert = os.environ["REQUESTS_CA_BUNDLE"]
        self.api = ApiClient(
            config,
            pool_threads=1,
            oauth2_token_getter=lambda: self.token,
            oauth2_token_saver=self.save,
        )

    def save(self, token: dict[str, Any]) -> None:
        self.token = dict(token)

    def connect(self) -> None:
        """Consent (a GET of the authorize URL) and the code exchange (requests-oauthlib)."""
        session = OAuth2Session(APP.client_id, redirect_uri=APP.redirect_uri, scope=SCOPE.split())
        url, _state = session.authorization_url(AUTHORIZE)
        r = requests.get(url, allow_redirects=False, timeout=10)
        code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
        self.save(session.fetch_token(TOKEN, code=code, client_secret=APP.secret))
        log.append({"op": "exchange", "status": 200})

    def refresh(self, refresh_token: str | None = None) -> bool:
        if refresh_token:
            self.token["refresh_token"] = refresh_token
        try:
            self.api.refresh_oauth2_token()
        except Exception as e:  # xero-python raises a bare Exception or ApiException
            log.append({"op": "refresh", "status": getattr(e, "status", None), "error": str(e)})
            return False
        log.append({"op": "refresh", "status": 200})
        return True

    def tenant(self) -> str:
        """GET /connections, then the organisation with `xero-tenant-id`, as every Xero app does."""
        tenant_id = str(IdentityApi(self.api).get_connections()[0].tenant_id)
        AccountingApi(self.api).get_organisations(tenant_id)
        return tenant_id

    def revoke(self) -> None:
        self.api.revoke_oauth2_token()
        log.append({"op": "revoke", "status": 200})


def healthy(a: dict[str, Any]) -> None:
    app = XeroApp()
    app.connect()
    app.tenant()
    for wait in (25 * MINUTE, 40 * MINUTE, 2 * 86_400):  # every refresh rotates
        advance(wait)
        app.refresh()
    app.tenant()
    app.revoke()


def superseded(a: dict[str, Any]) -> None:
    app = XeroApp()
    app.connect()
    stale = app.token["refresh_token"]  # a second worker read the store once and keeps it
    advance(10 * MINUTE)
    app.refresh()  # rotates; this worker stores the successor
    advance(45 * MINUTE)  # past the 30-minute grace
    XeroApp(app.token).refresh(stale)


def replay_within_grace(a: dict[str, Any]) -> None:
    app = XeroApp()
    app.connect()
    stale = app.token["refresh_token"]
    advance(5 * MINUTE)
    app.refresh()
    advance(10 * MINUTE)  # inside the grace: Xero accepts the previous token
    worker = XeroApp(app.token)
    worker.refresh(stale)
    advance(20 * MINUTE)
    worker.refresh()  # the worker carries on with what the retry returned


def overlap_within_grace(a: dict[str, Any]) -> None:
    app = XeroApp()
    app.connect()
    token = app.token["refresh_token"]
    advance(20 * MINUTE)
    control("/delay", seconds=1.5, count=1)
    workers = [XeroApp(app.token), XeroApp(app.token)]
    threads = [threading.Thread(target=w.refresh, args=(token,)) for w in workers]
    threads[0].start()
    time.sleep(0.4)
    threads[1].start()
    for t in threads:
        t.join()
    advance(25 * MINUTE)
    workers[1].refresh()


def expired(a: dict[str, Any]) -> None:
    app = XeroApp()
    app.connect()
    advance(3600)
    app.refresh()
    advance(61 * 86_400)  # nobody opened the app for 61 days
    app.refresh()


if __name__ == "__main__":
    main(globals())
