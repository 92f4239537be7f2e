"""An app on an Auth0 tenant with rotation: `python auth0client.py <part> '<json args>'`.

requests-oauthlib's `OAuth2Session` does every leg (authorize URL, code exchange, refresh),
as a Flask or Django app using it against Auth0 would. The consent is a plain GET.
"""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from auth0_emu import APPS, HOST
from ctl import advance, log, main

APP = next(iter(APPS.values()))
TOKEN = f"https://{HOST}/oauth/token"


def connect() -> str:
    session = OAuth2Session(
        APP.client_id, redirect_uri=APP.redirect_uri, scope=["openid", "offline_access"]
    )
    url, _state = session.authorization_url(f"https://{HOST}/authorize")
    r = requests.get(url, allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    token = session.fetch_token(TOKEN, code=code, client_secret=APP.secret)
    log.append({"op": "exchange", "status": 200})
    return str(token["refresh_token"])


def refresh(token: str) -> str | None:
    session = OAuth2Session(APP.client_id)
    try:
        new = session.refresh_token(
            TOKEN, refresh_token=token, client_id=APP.client_id, client_secret=APP.secret
        )
    except OAuth2Error as e:
        log.append({"op": "refresh", "error": e.error})
        return None
    log.append({"op": "refresh", "status": 200})
    return str(new["refresh_token"])


def family_revoked(a: dict[str, Any]) -> None:
    first = connect()
    advance(3600)
    live = refresh(first)  # worker A rotates and stores the successor
    advance(300)
    refresh(first)  # worker B replays the spent token: Auth0 revokes the family
    advance(3600)
    refresh(live or "")  # worker A's live token now fails too


if __name__ == "__main__":
    main(globals())
