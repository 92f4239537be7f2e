"""The Google app's side of the scenarios: `python googleclient.py <part> '<json args>'`.

google-auth-oauthlib's `Flow` builds the authorize URL and redeems the code (form-body client
credentials); google-auth's `Credentials.refresh` does every refresh, as an installed app or a
backend job holding a stored refresh token does. Both go through requests, so HTTPS_PROXY and
REQUESTS_CA_BUNDLE apply. The user's consent is a plain GET of the authorize URL.
"""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import google.auth.transport.requests
import requests
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl import advance, control, log, main
from google_emu import APPS

PRODUCTION, TESTING = list(APPS)
SCOPES = ["openid", "https://www.googleapis.com/auth/drive.readonly"]
TOKEN_URI = "https://oauth2.googleapis.com/token"
DAY = 86_400
# The loopback redirect of an installed app is plain http; google-auth-oauthlib's own
# InstalledAppFlow sets this too.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def flow(client_id: str) -> Flow:
    app = APPS[client_id]
    config = {
        "installed": {
            "client_id": app.client_id,
            "client_secret": app.secret,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": TOKEN_URI,
            "redirect_uris": [app.redirect_uri],
        }
    }
    f = Flow.from_client_config(config, scopes=SCOPES, redirect_uri=app.redirect_uri)
    return f


def connect(client_id: str) -> str:
    """Consent and code redemption; returns the refresh token."""
    f = flow(client_id)
    url, _state = f.authorization_url(access_type="offline", prompt="consent")
    r = requests.get(url, allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    f.fetch_token(code=code)
    log.append({"op": "exchange", "status": 200})
    return str(f.credentials.refresh_token)


def refresh(client_id: str, token: str) -> bool:
    app = APPS[client_id]
    creds = Credentials(
        None,
        refresh_token=token,
        token_uri=TOKEN_URI,
        client_id=app.client_id,
        client_secret=app.secret,
    )
    try:
        creds.refresh(google.auth.transport.requests.Request())
    except RefreshError as e:
        log.append({"op": "refresh", "error": str(e)})
        return False
    log.append({"op": "refresh", "status": 200})
    return True


def healthy(a: dict[str, Any]) -> None:
    token = connect(PRODUCTION)
    for wait in (3600, 8 * DAY, 30 * DAY):  # Google does not rotate: the same token each time
        advance(wait)
        refresh(PRODUCTION, token)


def testing_expired(a: dict[str, Any]) -> None:
    token = connect(TESTING)  # the consent screen is still in Testing
    advance(2 * DAY)
    refresh(TESTING, token)
    advance(6 * DAY)  # 8 days after the consent
    refresh(TESTING, token)


def evicted(a: dict[str, Any]) -> None:
    limit = int(control("/google/state")["limit"])
    first = connect(PRODUCTION)  # the nightly sync job's token
    advance(3600)
    refresh(PRODUCTION, first)
    newest = first
    for _ in range(limit):  # the app asks for consent on every login, storing a new token
        advance(600)
        newest = connect(PRODUCTION)
    advance(3600)
    refresh(PRODUCTION, first)  # the oldest token was evicted by the limit-th new one
    refresh(PRODUCTION, newest)


if __name__ == "__main__":
    main(globals())
