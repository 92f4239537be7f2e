"""A provider defined only in qbtrace.toml is analysed, with its own grace.

requests-oauthlib (a real RFC 6749 client) runs the authorization code flow and refreshes
against the emulator's generic server on https://localhost:8443, through a real mitmdump
that records the HAR and the flow file. The server rotates the refresh token on every
refresh and accepts a superseded one for 30 minutes. The app replays its first refresh
token 10 minutes after it was superseded (accepted: no failure) and again 50 minutes after
(refused). qbtrace, told of the provider by qbtrace.toml alone, names the refusal
`refresh_token_superseded` because the replay came after the configured grace, and names
nothing of the accepted one; with a longer configured grace it does not call it superseded.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from oauthlib.oauth2 import InvalidGrantError
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from tests.conftest import analyze_json

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import record  # noqa: E402
from intuit_model import APPS  # noqa: E402

BASE = "https://localhost:8443/oauth"
REDIRECT = "http://localhost:8000/callback"
CLIENT = next(a for a in APPS.values() if REDIRECT in a.redirect_uris)
CONFIG = f"""
[providers.local]
title = "Local test server"
token_endpoint = "{BASE}/token"
authorize_endpoint = "{BASE}/authorize"
revoke_endpoint = "{BASE}/revoke"
rotation_grace = {{grace}}
"""


def session(proxy_url: str, ca: str) -> OAuth2Session:
    oauth = OAuth2Session(CLIENT.client_id, redirect_uri=REDIRECT, scope=["openid"])
    oauth.trust_env = False  # the proxy below, whatever the environment says
    oauth.proxies = {"http": proxy_url, "https": proxy_url}
    oauth.verify = ca
    return oauth


def control(proxy_url: str, path: str, **body: Any) -> None:
    proxies = {"http": proxy_url}
    requests.post(f"http://emulator.control{path}", json=body, proxies=proxies, timeout=10)


def run_app(proxy_url: str, ca: str) -> list[int]:
    """The app: connect, refresh, then replay its first refresh token twice; the statuses."""
    oauth = session(proxy_url, ca)
    auth = HTTPBasicAuth(CLIENT.client_id, CLIENT.secret)
    url, _ = oauth.authorization_url(f"{BASE}/authorize")
    browser = requests.Session()  # the user's browser: consent, then the app's callback
    browser.trust_env, browser.proxies, browser.verify = False, oauth.proxies, ca
    callback = browser.get(url, allow_redirects=False, timeout=10).headers["location"]
    browser.get(callback, timeout=10)
    code = callback.split("code=")[1].split("&")[0]
    first = oauth.fetch_token(f"{BASE}/token", code=code, client_secret=CLIENT.secret)
    stale = first["refresh_token"]
    statuses = [200]
    oauth.refresh_token(f"{BASE}/token", refresh_token=stale, auth=auth)  # rotates
    statuses.append(200)
    control(proxy_url, "/clock/advance", seconds=600)
    oauth.refresh_token(f"{BASE}/token", refresh_token=stale, auth=auth)  # within the grace
    statuses.append(200)
    control(proxy_url, "/clock/advance", seconds=2400)
    try:
        oauth.refresh_token(f"{BASE}/token", refresh_token=stale, auth=auth)
        statuses.append(200)
    except InvalidGrantError:
        statuses.append(400)
    return statuses


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, list[int]]]:
    out = tmp_path_factory.mktemp("custom-provider")
    har, flows = out / "local.har", out / "local.mitm"
    args = ["--set", f"hardump={har}", "-w", str(flows), "--set", "save_stream_filter=~d localhost"]
    with record.mitmdump(args) as (proxy_url, ca):
        statuses = run_app(proxy_url, ca)
    yield har, flows, statuses


def config(tmp_path: Path, grace: int) -> Path:
    path = tmp_path / "qbtrace.toml"
    path.write_text(CONFIG.format(grace=grace))
    return path


@pytest.mark.realclients
def test_the_server_honours_its_grace(recording: tuple[Path, Path, list[int]]) -> None:
    har, _, statuses = recording
    assert statuses == [200, 200, 200, 400]
    entries = json.loads(har.read_text())["log"]["entries"]
    tokens = [e for e in entries if e["request"]["url"] == f"{BASE}/token"]
    assert [e["response"]["status"] for e in tokens] == statuses
    headers = {h["name"].lower() for e in tokens for h in e["response"]["headers"]}
    assert "intuit_tid" not in headers  # nothing of Intuit's on this server


@pytest.mark.realclients
def test_a_config_only_provider_is_analysed_with_its_grace(
    recording: tuple[Path, Path, list[int]], tmp_path: Path
) -> None:
    har, flows, _ = recording
    toml = config(tmp_path, 1800)
    for path in (har, flows):
        doc = analyze_json(path, extra=("--config", str(toml)))
        assert doc["summary"] == {  # the accepted replay is no failure
            "token_requests": 4,
            "failures": 1,
            "by_cause": {"refresh_token_superseded": 1},
        }
        (finding,) = doc["findings"]  # type: ignore[misc]
        assert (finding["cause"], finding["confidence"]) == ("refresh_token_superseded", "certain")
        assert finding["provider"] == "local"
        assert finding["request"]["request_id"] is None
        assert finding["request"]["intuit_tid"] is None
        successor = finding["evidence"][0]
        assert successor["role"] == "issued_successor"
        assert successor["note"].endswith(", 50m before this request")
        assert "Intuit" not in finding["explanation"] + finding["fix"]
        assert doc["inputs"][0]["provider"] == "local"  # type: ignore[index]
        assert doc["config"] == {
            "file": str(toml),
            "overrides": {
                "local.token_endpoint": f"{BASE}/token",
                "local.title": "Local test server",
                "local.authorize_endpoint": f"{BASE}/authorize",
                "local.revoke_endpoint": f"{BASE}/revoke",
                "local.rotation_grace": 1800,
            },
        }


@pytest.mark.realclients
def test_the_verdict_follows_the_configured_grace(
    recording: tuple[Path, Path, list[int]], tmp_path: Path
) -> None:
    har, _, _ = recording
    doc = analyze_json(har, extra=("--config", str(config(tmp_path, 3600))))
    (finding,) = doc["findings"]  # type: ignore[misc]
    assert finding["cause"] != "refresh_token_superseded"  # 50 minutes is within an hour


@pytest.mark.realclients
def test_without_the_config_the_server_is_not_oauth_traffic(
    recording: tuple[Path, Path, list[int]],
) -> None:
    har, _, _ = recording
    doc = analyze_json(har, extra=("--no-config",))
    assert doc["summary"]["token_requests"] == 0  # type: ignore[index]
    assert doc["findings"] == []
