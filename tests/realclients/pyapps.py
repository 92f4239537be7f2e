"""Python apps built on clients other than intuitlib's AuthClient alone, run as a subprocess.

    python pyapps.py <part> '<json args>'   prints {"part", "log", "result"} as JSON

- Authlib (`authlib.integrations.requests_client.OAuth2Session`): the app builds the authorize
  URL, exchanges the callback with `fetch_token(authorization_response=...)`, and calls the
  data API through the session, which refreshes on its own when the access token is expired
  and hands the new token to `update_token`. Authlib decides expiry on the real clock while
  the emulator's clock is moved, so an app "waits" by marking its stored access token expired.
- python-quickbooks (`quickbooks.QuickBooks` on intuitlib): every `QuickBooks(auth_client=...,
  refresh_token=...)` built without an access token refreshes first (quickbooks-oauth.md §6.4).
The bugs (a redirect_uri taken from the URL a request arrived on, a store that is not
written) are the apps'; the HTTP is the libraries' own.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from intuitlib.exceptions import AuthClientError
from pyclient import APPS, DEV, PROD, advance, authorize, client, consent, exchange, log
from quickbooks import QuickBooks
from quickbooks.objects.customer import Customer

AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
SCOPE = "com.intuit.quickbooks.accounting"
CALLBACK = "https://app.example.test/callback"
REALM_ID = "9341453050298471"


# -- Authlib ---------------------------------------------------------------------------------
class Store:
    """The app's token store; `update_token` is Authlib's hook for a refreshed token."""

    def __init__(self) -> None:
        self.token: dict[str, Any] = {}
        self.updates = 0

    def update_token(
        self, token: dict[str, Any], refresh_token: str | None = None, **_: Any
    ) -> None:
        self.token = dict(token)
        self.updates += 1


def session(
    app: str = DEV, redirect_uri: str = CALLBACK, store: Store | None = None, **kw: Any
) -> OAuth2Session:
    return OAuth2Session(
        app,
        APPS[app].secret,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        token_endpoint=TOKEN_URL,
        update_token=store.update_token if store else None,
        **kw,
    )


def authlib_call(op: str, fn: Any) -> bool:
    try:
        fn()
    except OAuthError as e:
        log.append({"op": op, "error": e.error, "description": e.description})
        return False
    log.append({"op": op, "status": 200})
    return True


def data_call(s: OAuth2Session, realm: str = REALM_ID) -> int:
    """A data-API request through the session (Authlib refreshes first if it must)."""
    url = f"https://sandbox-quickbooks.api.intuit.com/v3/company/{realm}/companyinfo/{realm}"
    status = s.get(url, timeout=10).status_code
    log.append({"op": "companyinfo", "status": status})
    return int(status)


def expire(s: OAuth2Session) -> None:
    """The access token is past its hour (on the emulator's clock): tell Authlib so."""
    s.token["expires_at"] = int(time.time()) - 120


def authlib_authorize_url(a: dict[str, Any]) -> dict[str, str]:
    """What the app's "Connect to QuickBooks" button links to."""
    s = session(a.get("app", DEV), a.get("redirect_uri", CALLBACK))
    url, state = s.create_authorization_url(AUTHORIZE_URL)
    return {"url": url, "state": state}


def landing_uri(url: str) -> str:
    """The URL a request arrived on, without its query: what `url_for(_external=True)` gives."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def authlib_callback(a: dict[str, Any]) -> dict[str, Any]:
    """The app's callback handler: exchange the code of the URL it was called on.

    With `redirect_uri_from_request` the app passes the URL its handler was reached on as
    redirect_uri (after any redirect of its own server), not the one it authorized with.
    """
    redirect_uri = a.get("redirect_uri", CALLBACK)
    if a.get("redirect_uri_from_request"):
        redirect_uri = landing_uri(a["callback"])
    store = Store()
    s = session(a.get("app", DEV), redirect_uri, store, state=a["state"])
    ok = authlib_call(
        "exchange", lambda: s.fetch_token(TOKEN_URL, authorization_response=a["callback"])
    )
    if ok:
        data_call(s)
    return {"ok": ok}  # never the tokens: results are kept with the logs


def healthy_authlib(a: dict[str, Any]) -> None:
    """Connect, then the app's data calls over 26 hours; Authlib refreshes on its own."""
    store = Store()
    s = session(store=store)
    url, state = s.create_authorization_url(AUTHORIZE_URL)
    code, realm = consent(url)
    authlib_call("exchange", lambda: s.fetch_token(TOKEN_URL, code=code, state=state))
    store.token = dict(s.token)
    data_call(s, realm)
    first = store.token["refresh_token"]
    for hours in (2, 24):  # the second wait puts the refresh token past a day: rotation
        advance(hours * 3600)
        expire(s)
        data_call(s, realm)
    assert store.updates == 2 and store.token["refresh_token"] != first, store.token
    # A later process restores the stored token and goes on with it.
    advance(3600)
    restored = session(store=store, token=store.token)
    expire(restored)
    data_call(restored, realm)
    authlib_call(
        "revoke",
        lambda: restored.revoke_token(REVOKE_URL, store.token["refresh_token"], "refresh_token"),
    )


# -- python-quickbooks -----------------------------------------------------------------------
def qb_job(app: str, refresh_token: str, realm: str) -> QuickBooks:
    """One run of the app's sync job: a new AuthClient and QuickBooks client, one query."""
    ac = client(app)
    qb = QuickBooks(auth_client=ac, refresh_token=refresh_token, company_id=realm, minorversion=75)
    log.append({"op": "refresh", "status": 200})
    Customer.all(qb=qb, max_results=10)
    log.append({"op": "query", "status": 200})
    return qb


def healthy_python_quickbooks(a: dict[str, Any]) -> None:
    """Connect with intuitlib, then three sync jobs; each keeps the refresh token it got."""
    ac = client(PROD)
    code, realm = authorize(ac)
    exchange(ac, code, realm)
    stored = ac.refresh_token
    for hours in (3, 22, 4):  # the second job runs 25 h after the grant: rotation
        advance(hours * 3600)
        stored = qb_job(PROD, stored, realm).refresh_token
    assert stored != ac.refresh_token


def authlib_update_token_missing(a: dict[str, Any]) -> None:
    """The app gives Authlib no `update_token` hook: its database keeps the first token."""
    s = session()
    url, state = s.create_authorization_url(AUTHORIZE_URL)
    code, realm = consent(url)
    authlib_call("exchange", lambda: s.fetch_token(TOKEN_URL, code=code, state=state))
    database = dict(s.token)
    advance(25 * 3600)
    expire(s)
    data_call(s, realm)  # the session refreshes (rotation); nobody writes the new token down
    advance(2 * 3600)
    worker = session(token=database)  # another request handler loads the token from the db
    expire(worker)
    authlib_call("refresh", lambda: data_call(worker, realm))


def python_quickbooks_store_not_written(a: dict[str, Any]) -> None:
    """Sync jobs start from the stored refresh token; one job forgets to store the new one."""
    ac = client(PROD)
    code, realm = authorize(ac)
    exchange(ac, code, realm)
    stored = ac.refresh_token
    advance(3 * 3600)
    stored = qb_job(PROD, stored, realm).refresh_token
    advance(22 * 3600)
    qb_job(PROD, stored, realm)  # rotates; the job crashes before it saves qb.refresh_token
    advance(2 * 3600)
    try:
        qb_job(PROD, stored, realm)
    except AuthClientError as e:
        log.append({"op": "refresh", "status": e.status_code, "body": e.content.decode()})


PARTS = {
    f.__name__: f
    for f in (
        authlib_authorize_url,
        authlib_callback,
        healthy_authlib,
        healthy_python_quickbooks,
        authlib_update_token_missing,
        python_quickbooks_store_not_written,
    )
}


def main() -> None:
    part, args = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
    result = PARTS[part](args)
    print(json.dumps({"part": part, "log": log, "result": result}))


if __name__ == "__main__":
    main()
