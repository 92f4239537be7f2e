"""The Python SDK (`intuitlib.client.AuthClient`) side of the scenarios.

Runs in a subprocess so that HTTPS_PROXY / REQUESTS_CA_BUNDLE apply to the discovery GET the
SDK does in its constructor:  python pyclient.py <part> '<json args>'  prints a JSON result.
Each part is one app's behaviour; the bugs (a stale store, a swapped field, the wrong keys)
are the app's, the HTTP is the SDK's own.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ctl import control, log
from ctl import main as run_parts
from intuit_model import APPS

DEV, PROD, OTHER, TENANT_A, TENANT_B, TENANT_C = list(APPS)
CALLBACK = "https://app.example.test/callback"
DAY = 86_400
APP = logging.getLogger("app.tokens")


class JsonLines(logging.Formatter):
    """A structlog-style JSON line (`event`, `level`, `timestamp`, `exception`) per record."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out = {
            "event": record.getMessage(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "timestamp": f"{stamp}.{int(record.msecs):03d}Z",
            "pid": record.process,
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out)


def app_logging() -> None:
    """With QBT_APP_LOG (a folder), log as an app does: Python `logging`'s plain text to
    python.log and JSON lines to python.jsonl, an exception logged with its traceback."""
    folder = os.environ.get("QBT_APP_LOG")
    if not folder:
        return
    plain = logging.FileHandler(os.path.join(folder, "python.log"))
    plain.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s pid=%(process)d %(name)s: %(message)s")
    )
    lines = logging.FileHandler(os.path.join(folder, "python.jsonl"))
    lines.setFormatter(JsonLines())
    APP.addHandler(plain)
    APP.addHandler(lines)
    APP.setLevel(logging.INFO)


def advance(seconds: float) -> None:
    # through this module's `control`, which emulated_clock.py wraps to follow the shift
    control("/clock/advance", seconds=seconds)


def client(
    app: str = DEV, redirect_uri: str | None = None, secret: str | None = None
) -> AuthClient:
    redirect_uri = redirect_uri or APPS[app].redirect_uris[0]
    env = "sandbox" if APPS[app].environment == "sandbox" else "production"
    return AuthClient(app, APPS[app].secret if secret is None else secret, redirect_uri, env)


def authorize(ac: AuthClient) -> tuple[str, str]:
    """The user's consent for the SDK's authorize URL (see `consent`)."""
    return consent(ac.get_authorization_url([Scopes.ACCOUNTING]))


def consent(url: str) -> tuple[str, str]:
    """The user's consent, without a browser: GET the authorize URL, read the 302 Location."""
    r = requests.get(url, allow_redirects=False, timeout=10)
    q = parse_qs(urlsplit(r.headers["location"]).query)
    return q["code"][0], q["realmId"][0]


def call(op: str, fn: Callable[[], Any], ac: AuthClient) -> bool:
    try:
        fn()
    except AuthClientError as e:
        APP.exception("%s failed", op)
        log.append({"op": op, "status": e.status_code, "body": e.content.decode()})
        return False
    APP.info("%s done", op)
    log.append({"op": op, "status": 200})
    return True


def exchange(ac: AuthClient, code: str, realm: str | None = None) -> bool:
    return call("exchange", lambda: ac.get_bearer_token(code, realm_id=realm), ac)


def refresh(ac: AuthClient, token: str | None = None) -> bool:
    return call("refresh", lambda: ac.refresh(refresh_token=token), ac)


def revoke(ac: AuthClient, token: str | None = None) -> bool:
    return call("revoke", lambda: ac.revoke(token=token), ac)


def connect(app: str = DEV) -> AuthClient:
    ac = client(app)
    exchange(ac, *authorize(ac))
    return ac


# -- parts ---------------------------------------------------------------------------------
def healthy_python(a: dict[str, Any]) -> None:
    ac = connect()
    first = ac.refresh_token
    for hours in (1, 5):  # within a day: the same refresh token comes back
        advance(hours * 3600)
        refresh(ac)
    assert ac.refresh_token == first
    advance(25 * 3600 - 6 * 3600 + 60)  # the token is now > 24 h old: rotation
    refresh(ac)
    assert ac.refresh_token != first
    advance(3600)
    refresh(ac)
    revoke(ac)


def exchange_callback(a: dict[str, Any]) -> None:
    """The app's callback handler: exchange the code of a callback URL, optionally twice."""
    q = parse_qs(urlsplit(a["callback"]).query, keep_blank_values=True)
    ac = client(a.get("app", DEV), a.get("redirect_uri", CALLBACK))
    code = a.get("code_override", q["code"][0])
    for variant in a.get("variants", [code]):
        exchange(ac, variant.format(code=code), q["realmId"][0])
    if a.get("twice"):
        second = client(a.get("app", DEV), a.get("redirect_uri", CALLBACK))
        exchange(second, code, q["realmId"][0])
    if a.get("refresh_after"):
        advance(a["refresh_after"])
        refresh(ac)


def disconnected_by_user(a: dict[str, Any]) -> dict[str, Any]:
    ac = connect(PROD)
    advance(2 * 3600)
    refresh(ac)
    return {"refresh_token": ac.refresh_token}


def refresh_after_disconnect(a: dict[str, Any]) -> None:
    refresh(client(PROD), a["refresh_token"])


def code_unknown(a: dict[str, Any]) -> None:
    ac = client(PROD)
    pasted = f"AB1{int(time.time()) - 7200}Pl4ygr0undC0deXq8Zt2Wm6Rv0Hs4Jk8Ln"
    exchange(ac, pasted, "9341453050298471")


def refresh_token_superseded(a: dict[str, Any]) -> None:
    ac = connect()
    stale = ac.refresh_token  # a second worker read this once and keeps it
    advance(25 * 3600)
    refresh(ac)  # rotation; the first worker stores the successor
    advance(2 * 3600)
    refresh(client(), stale)


def refresh_race(a: dict[str, Any]) -> None:
    ac = connect()
    token = ac.refresh_token
    advance(25 * 3600)
    control("/delay", seconds=1.5, count=1)
    workers = [client(), client()]
    threads = [threading.Thread(target=refresh, args=(w, token)) for w in workers]
    threads[0].start()
    time.sleep(0.4)
    threads[1].start()
    for t in threads:
        t.join()


def refresh_token_expired(a: dict[str, Any]) -> None:
    ac = connect()
    advance(3600)
    refresh(ac)
    advance(102 * DAY)  # the app was not used for 102 days
    refresh(ac)


def refresh_token_revoked(a: dict[str, Any]) -> None:
    ac = connect()
    token = ac.refresh_token
    advance(600)
    revoke(ac, token)  # "disconnect" button in the app
    advance(3600)
    refresh(client(), token)  # a background job still holds the token


def refresh_client_mismatch(a: dict[str, Any]) -> None:
    ac = connect(DEV)  # connected with Development keys
    advance(3600)
    refresh(client(PROD), ac.refresh_token)  # deployed with Production keys


def refresh_token_altered(a: dict[str, Any]) -> None:
    ac = connect()
    advance(3600)
    refresh(client(), ac.access_token)  # access and refresh token swapped in storage
    refresh(client(), "undefined")  # a template string over a missing field
    refresh(ac)


def grant_poisoned_by_code_reuse(a: dict[str, Any]) -> None:
    exchange_callback({**a, "twice": True, "refresh_after": 3600})


def refresh_token_unknown(a: dict[str, Any]) -> None:
    refresh(client(PROD), "RT1-57-H0-1799123456q8w4e2r6t0y3u7i1o5p9")  # from an old backup


def client_secret_wrong(a: dict[str, Any]) -> None:
    ac = connect(PROD)
    advance(3600)
    worker = client(PROD, secret=APPS[PROD].secret[:-1] + "X")  # a worker with a stale secret
    refresh(worker, ac.refresh_token)


def client_credentials_rejected(a: dict[str, Any]) -> None:
    gone = "ABdeletedAppKw3Ne7Rt1Yu5Io9Pa3Sd7Fg1Hj5Kl9Zx3Cv7Bn1M"  # an app deleted from the portal
    ac = AuthClient(gone, "d3l3t3dS3cr3tXq8Zt2Wm6Rv0Hs4Jk8Ln2Bv6Cx0", CALLBACK, "production")
    refresh(ac, "RT1-42-H0-1801234567z9x8c7v6b5n4m3a2s1d0")


def unexplained(a: dict[str, Any]) -> None:
    ac = connect(PROD)
    advance(3600)
    control(
        "/inject",
        status=429,
        count=1,
        body={"error": "rate_limit_exceeded", "error_description": "Too many requests"},
    )
    refresh(ac)
    advance(60)
    control("/inject", status=400, count=1, body={"error": "invalid_request"})
    refresh(ac)
    advance(60)
    refresh(ac)


def outage_invalid_grant(a: dict[str, Any]) -> None:
    """Three unrelated apps refresh valid tokens during the outage's invalid_grant phase."""
    tokens = a["tokens"]
    for app, token in tokens.items():
        refresh(client(app), token)


def mixed(a: dict[str, Any]) -> None:
    dev, prod, other = connect(DEV), connect(PROD), connect(OTHER)
    advance(2 * 3600)
    refresh(dev)
    advance(25 * 3600)
    stale_prod = prod.refresh_token
    refresh(prod)  # rotates
    refresh(dev)  # rotates
    refresh(client(PROD), stale_prod)  # superseded
    revoke(other)
    refresh(client(PROD), dev.refresh_token)  # refresh_client_mismatch
    refresh(client(OTHER), other.refresh_token or "")  # revoked (SDK cleared nothing)
    advance(600)
    refresh(client(PROD, secret="pRoDsEcReT-old-0000000000000000000000"), prod.refresh_token)
    refresh(dev)
    refresh(prod)


def main() -> None:
    """Run the part named on the command line (`emulated_clock.py` calls this too)."""
    run_parts(globals())


if __name__ == "__main__":
    app_logging()
    main()
