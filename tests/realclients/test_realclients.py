"""Live run of a few scenarios through a real mitmdump: one per kind of real client.

Intuit's Python and Node SDKs, Chromium (authorize by GET; consent POST to an app on
localhost, which Chromium reaches past its proxy), simple-oauth2, Firefox ESR with its
own Save All As HAR, and the other providers' SDKs: xero-python, msal, google-auth. The
Authlib and python-quickbooks goldens are only re-recorded by record.py (they run the same
subprocess path as the Python SDK), to keep the suite short.

Each records into a temporary directory exactly as record.py does, then checks the HAR that
mitmproxy exported: the token requests and their statuses are the ones the scenario declares,
and the failures pair up with the causes of the committed golden expectation.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import record  # noqa: E402

NODE_MODULES = HERE / "node" / "node_modules" / "intuit-oauth"
LIVE = {
    "refresh_token_superseded": "python-sdk",
    "refresh_response_lost": "node-sdk",
    "code_reused": "chromium+python-sdk",
    "healthy_consent_post_callback_absent": "chromium+python-sdk",
    "healthy_simple_oauth2": "simple-oauth2",
    "firefox_spa_double_exchange": "firefox",
    "xero_superseded": "xero-python",
    "interaction_required": "msal",
    "google_testing_expired": "google-auth",
}
SIMPLE_OAUTH2 = HERE / "node" / "node_modules" / "simple-oauth2"
# the hosts a recording may hold: the providers' and the apps' own
RECORDED_HOSTS = (
    "intuit.com",
    "xero.com",
    "login.microsoftonline.com",
    "accounts.google.com",
    "oauth2.googleapis.com",
    "example.test",
)


def missing_tool(client: str) -> str | None:
    if client == "node-sdk":
        if shutil.which("node") is None:
            return "node is not installed"
        if not NODE_MODULES.exists():
            return "npm intuit-oauth is not installed: run `npm ci` in tests/realclients/node"
    if client.endswith("simple-oauth2") and not SIMPLE_OAUTH2.exists():
        return "npm simple-oauth2 is not installed: run `npm ci` in tests/realclients/node"
    if client.startswith("chromium") and not Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium is not installed (apt-get install chromium)"
    if client.startswith("firefox") and not (
        shutil.which("firefox-esr") and shutil.which("certutil")
    ):
        return "firefox-esr or certutil is missing (apt-get install firefox-esr libnss3-tools)"
    return None


@pytest.fixture(scope="module")
def confdir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="qbt-conf-") as d:
        yield d  # one mitmproxy CA for the module


@pytest.mark.realclients
@pytest.mark.parametrize("name", list(LIVE))
def test_scenario_records_expected_token_requests(name: str, confdir: str, tmp_path: Path):
    reason = missing_tool(LIVE[name])
    if reason:
        pytest.skip(reason)
    result = record.record(name, confdir, out=tmp_path)  # raises if statuses differ

    har = json.loads((tmp_path / f"{name}.har").read_text())
    entries = record.token_entries(har)
    same = sorted if result["racy"] else list
    assert same([e["response"]["status"] for e in entries]) == same(result["statuses"])
    assert record.check(har, result) == []
    golden = json.loads((record.GOLDEN / f"{name}.expect.json").read_text())
    live = json.loads((tmp_path / f"{name}.expect.json").read_text())
    # evidence indices follow the entries' order, which concurrent requests may change
    assert {k: v for k, v in live.items() if k != "evidence"} == {
        k: v for k, v in golden.items() if k != "evidence"
    }
    assert (tmp_path / f"{name}.mitm").stat().st_size > 0
    hosts = {e["request"]["url"].split("/")[2] for e in har["log"]["entries"]}
    assert all(h.endswith(RECORDED_HOSTS) for h in hosts), hosts
    if LIVE[name].startswith("firefox"):
        ff = json.loads((tmp_path / f"{name}.firefox.har").read_text())
        assert ff["log"]["creator"]["name"] == "Firefox"
        methods = [(e["request"]["method"], e["request"]["url"]) for e in ff["log"]["entries"]]
        assert ("OPTIONS", record.TOKEN_URL) in methods  # the CORS preflight
    if LIVE[name].startswith("chromium"):
        pw = json.loads((tmp_path / f"{name}.playwright.har").read_text())
        urls = [e["request"]["url"] for e in pw["log"]["entries"]]
        assert any(u.startswith("https://appcenter.intuit.com/connect/oauth2?") for u in urls)
        assert any("/callback?code=" in u for u in urls)
