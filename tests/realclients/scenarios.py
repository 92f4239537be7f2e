"""One scenario per cause id (tests/spec causes.md), plus healthy and mixed ones.

Each scenario drives real clients through a running mitmdump with `emulator.py`:
- `python-sdk`: intuitlib's AuthClient in a subprocess (`pyclient.py <part>`);
- `node-sdk`: npm intuit-oauth 4.2.5 (`node/driver.js <part>`), whose retries stay on;
- `chromium+python-sdk`: Chromium opens the authorize URL and lands on the app's callback,
  then the app's Python SDK code exchanges the code.
A scenario declares the causes of its failed token requests and the HTTP status of every
token request (0: no response), both in the order the requests started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from intuit_model import APPS  # noqa: E402

REALM_ID = "9341453050298471"

DEV, PROD, OTHER, *_ = list(APPS)
CALLBACK = "https://app.example.test/callback"


@dataclass
class Ctx:
    """What a running scenario needs: the proxy, its CA, and where to put a Playwright HAR."""

    proxy_url: str
    ca_path: str
    browser_har: str | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    py_prefix: tuple[str, ...] = ()
    """Put before `pyclient.py` on its command line (the in-app recorder's tests wrap it)."""
    node_prefix: tuple[str, ...] = ()
    """Node options before `driver.js` (`--require` of the docs' axios recorder)."""

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        apps = {
            k: {"secret": a.secret, "redirect_uris": a.redirect_uris, "environment": a.environment}
            for k, a in APPS.items()
        }
        return {
            **env,
            "HTTPS_PROXY": self.proxy_url,
            "HTTP_PROXY": self.proxy_url,
            "REQUESTS_CA_BUNDLE": self.ca_path,
            "NODE_EXTRA_CA_CERTS": self.ca_path,
            "QBT_APPS": json.dumps(apps),
        }

    def control(self, path: str, **body: Any) -> dict[str, Any]:
        proxies = {"http": self.proxy_url}
        r = requests.post(f"http://emulator.control{path}", json=body, proxies=proxies, timeout=10)
        r.raise_for_status()
        result: dict[str, Any] = r.json()
        return result

    def _run(self, argv: list[str], cwd: Path) -> dict[str, Any]:
        proc = subprocess.run(
            argv, cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=120, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[:3]} failed:\n{proc.stderr[-3000:]}")
        out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        self.logs.append(out)
        return out

    def py(self, part: str, **args: Any) -> dict[str, Any]:
        script = [str(HERE / "pyclient.py"), part, json.dumps(args)]
        return self._run([sys.executable, *self.py_prefix, *script], HERE)

    def client(self, script: str, part: str, **args: Any) -> dict[str, Any]:
        """Another provider's SDK driver (`xeroclient.py`, `msclient.py`, `googleclient.py`)."""
        return self._run([sys.executable, str(HERE / script), part, json.dumps(args)], HERE)

    def node(self, part: str, **args: Any) -> dict[str, Any]:
        argv = ["node", *self.node_prefix, "driver.js", part, json.dumps(args)]
        return self._run(argv, HERE / "node")

    def browser(self, client_id: str = DEV, redirect_uri: str = CALLBACK) -> str:
        """Chromium opens the authorize URL; returns the callback URL it lands on."""
        from browser import authorize_url

        return self.browser_get(authorize_url(client_id, redirect_uri, os.urandom(12).hex()))

    def browser_get(self, url: str) -> str:
        from browser import consent

        return consent(self.proxy_url, self.ca_path, url, self.browser_har)


@dataclass(frozen=True)
class Scenario:
    name: str
    client: str  # "python-sdk" | "node-sdk" | "chromium+python-sdk"
    causes: list[str]  # causes of the failed token requests, in the order they started
    statuses: list[int]  # status of every token request, in order; 0 = no response
    run: Callable[[Ctx], object]
    time_shifted: bool = True
    # the token requests start together (a browser's concurrent fetches): which one reaches
    # the server first is a race, so re-recordings compare their statuses in any order
    racy: bool = False
    notes: str = ""
    providers: tuple[str, ...] = ("quickbooks",)
    """Whose hosts the recording keeps (`record.record_filter`)."""


def py_part(part: str, **args: Any) -> Callable[[Ctx], object]:
    return lambda ctx: ctx.py(part, **args)


def node_part(part: str) -> Callable[[Ctx], object]:
    return lambda ctx: ctx.node(part)


def browser_then_py(client_id: str = DEV, advance: float = 0, **args: Any) -> Callable[[Ctx], None]:
    def run(ctx: Ctx) -> None:
        callback = ctx.browser(client_id)
        if advance:
            ctx.control("/clock/advance", seconds=advance)
        ctx.py("exchange_callback", callback=callback, **args)

    return run


def disconnected_by_user(ctx: Ctx) -> None:
    token = ctx.py("disconnected_by_user")["result"]["refresh_token"]
    ctx.control("/clock/advance", seconds=3600)
    # The user disconnects the app in QuickBooks: Intuit kills the grant and sends the browser
    # to the app's Disconnect URL.
    ctx.control("/disconnect", realm_id=REALM_ID)
    ctx.browser_get(f"https://app.example.test/disconnect?realmId={REALM_ID}")
    ctx.control("/clock/advance", seconds=1800)
    ctx.py("refresh_after_disconnect", refresh_token=token)


def provider_outage(ctx: Ctx) -> None:
    first = ctx.node("outage_connect")["result"]
    second = ctx.node("outage_connect")["result"]
    ctx.control("/clock/advance", seconds=3600)
    ctx.control("/outage", mode="503")
    ctx.node("outage_refresh", tokens=first)  # the SDK retries each 503 three times
    ctx.control("/outage", mode="invalid_grant")
    ctx.node("outage_refresh", tokens=second)
    ctx.control("/clock/advance", seconds=600)
    ctx.control("/outage", mode="off")
    ctx.node("outage_refresh", tokens=first)
    ctx.node("outage_refresh", tokens=second)


CB = "chromium+python-sdk"
S = Scenario
SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        S(
            "healthy_python",
            "python-sdk",
            [],
            [200] * 5,
            py_part("healthy_python"),
            notes="code exchange; refreshes 1 h and 6 h later return the same refresh token; one "
            "25 h after the grant rotates it; one more refresh; revoke",
        ),
        S(
            "healthy_node",
            "node-sdk",
            [],
            [200] * 4,
            node_part("healthy_node"),
            notes="like healthy_python with the Node SDK and includeRefreshTokenHardExpiresIn, so "
            "every 200 carries x_refresh_token_hard_expires_in",
        ),
        S(
            "redirect_uri_mismatch",
            CB,
            ["redirect_uri_mismatch"],
            [400],
            browser_then_py(redirect_uri=CALLBACK + "/"),
            time_shifted=False,
            notes="authorized with https://app.example.test/callback, exchanged with a "
            "trailing slash",
        ),
        S(
            "code_reused",
            CB,
            ["code_reused"],
            [200, 400],
            browser_then_py(twice=True),
            time_shifted=False,
            notes="the callback handler runs twice (page reload)",
        ),
        S(
            "code_expired",
            CB,
            ["code_expired"],
            [400],
            browser_then_py(advance=900),
            notes="the code is exchanged 900 s after the callback (emulated lifetime 600 s)",
        ),
        S(
            "code_client_mismatch",
            CB,
            ["code_client_mismatch"],
            [400],
            browser_then_py(app=PROD),
            time_shifted=False,
            notes="authorized with the Development client_id, exchanged with the Production keys "
            "(both have the same redirect URI registered)",
        ),
        S(
            "code_altered",
            CB,
            ["code_altered"] * 3,
            [400, 400, 400, 200],
            browser_then_py(variants=["{code} ", '"{code}"', "{code:.40}", "{code}"]),
            time_shifted=False,
            notes="exchanged with a trailing space, wrapped in double quotes, truncated to 40 "
            "characters, then as issued (accepted)",
        ),
        S(
            "code_unknown",
            "python-sdk",
            ["code_unknown"],
            [400],
            py_part("code_unknown"),
            time_shifted=False,
            notes="a code pasted from the OAuth Playground; no authorize request",
        ),
        S(
            "refresh_token_superseded",
            "python-sdk",
            ["refresh_token_superseded"],
            [200, 200, 400],
            py_part("refresh_token_superseded"),
            notes="rotation 25 h after the grant; 2 h later another worker replays the old token",
        ),
        S(
            "refresh_race",
            "python-sdk",
            ["refresh_race"],
            [200, 200, 400],
            py_part("refresh_race"),
            notes="25 h after the grant two workers refresh the same token 0.4 s apart; the "
            "first is "
            "answered 1.5 s late (it rotated), the second fails while the first is in flight",
        ),
        S(
            "refresh_response_lost",
            "node-sdk",
            ["refresh_response_lost"],
            [200, 0, 400],
            node_part("refresh_response_lost"),
            notes="25 h after the grant Intuit rotates but the connection drops before the answer "
            "(token request with no response); the Node SDK retries after 1 s with the old "
            "token. causes lists only answered failures; the unanswered request has status 0",
        ),
        S(
            "refresh_token_expired",
            "python-sdk",
            ["refresh_token_expired"],
            [200, 200, 400],
            py_part("refresh_token_expired"),
            notes="refreshed 1 h after the grant, then 102 days idle",
        ),
        S(
            "refresh_token_hard_expired",
            "node-sdk",
            ["refresh_token_hard_expired"],
            [200, 400],
            node_part("refresh_token_hard_expired"),
            notes="a grant made before the capture, 5 years minus 2 h ago; the first "
            "refresh returns "
            "x_refresh_token_hard_expires_in of about 7200; the next, 3 h later, fails",
        ),
        S(
            "refresh_token_revoked",
            "python-sdk",
            ["refresh_token_revoked"],
            [200, 400],
            py_part("refresh_token_revoked"),
            notes="the app revokes the refresh token; a job later refreshes with it",
        ),
        S(
            "refresh_token_revoked_by_user",
            "chromium+python-sdk",
            ["refresh_token_revoked"],
            [200, 200, 400],
            disconnected_by_user,
            notes="the user disconnects the app in QuickBooks: no revoke call, but Chromium "
            "hits the app's Disconnect URL (https://app.example.test/disconnect?realmId=..); "
            "30 min later the app's refresh fails",
        ),
        S(
            "refresh_client_mismatch",
            "python-sdk",
            ["refresh_client_mismatch"],
            [200, 400],
            py_part("refresh_client_mismatch"),
            notes="token issued to the Development client_id, refreshed with the Production keys",
        ),
        S(
            "refresh_token_altered",
            "python-sdk",
            ["refresh_token_altered", "refresh_token_altered"],
            [200, 400, 400, 200],
            py_part("refresh_token_altered"),
            notes="the access token sent as refresh token, then the literal 'undefined', then the "
            "real refresh token (accepted)",
        ),
        S(
            "grant_poisoned_by_code_reuse",
            CB,
            ["code_reused", "grant_poisoned_by_code_reuse"],
            [200, 400, 400],
            browser_then_py(twice=True, refresh_after=3600),
            notes="the code is exchanged twice (200 then 400); 1 h later the first exchange's "
            "refresh token fails",
        ),
        S(
            "refresh_token_unknown",
            "python-sdk",
            ["refresh_token_unknown"],
            [400],
            py_part("refresh_token_unknown"),
            time_shifted=False,
            notes="a refresh token restored from an old backup; never issued in the capture",
        ),
        S(
            "provider_outage",
            "node-sdk",
            ["provider_outage"] * 15,
            [200] * 6 + [503] * 12 + [400] * 3 + [200] * 6,
            provider_outage,
            notes="three unrelated apps (two lineages each); during the outage each app's first "
            "refresh gets 503 four times (the Node SDK's 3 retries), then the other lineages "
            "get invalid_grant; 10 min later the same tokens all refresh fine",
        ),
        S(
            "client_credentials_malformed",
            "node-sdk",
            ["client_credentials_malformed", "client_credentials_malformed"],
            [401, 401, 200],
            node_part("client_credentials_malformed"),
            time_shifted=False,
            notes="clientSecret from an unset variable ('undefined'), then empty; then the "
            "right one",
        ),
        S(
            "client_secret_wrong",
            "python-sdk",
            ["client_secret_wrong"],
            [200, 401],
            py_part("client_secret_wrong"),
            notes="the Production client succeeds, then a worker with a stale secret fails",
        ),
        S(
            "client_credentials_rejected",
            "python-sdk",
            ["client_credentials_rejected"],
            [401],
            py_part("client_credentials_rejected"),
            time_shifted=False,
            notes="keys of an app deleted from the developer portal",
        ),
        S(
            "unexplained",
            "python-sdk",
            ["unexplained", "unexplained"],
            [200, 429, 400, 200],
            py_part("unexplained"),
            notes="a 429 and a 400 invalid_request (injected by the emulator), then the same token "
            "refreshes fine",
        ),
        S(
            "mixed",
            "python-sdk",
            [
                "refresh_token_superseded",
                "refresh_client_mismatch",
                "refresh_token_revoked",
                "client_secret_wrong",
            ],
            [200] * 6 + [400, 400, 400, 401, 200, 200],
            py_part("mixed"),
            notes="three lineages (Development, Production, another app) interleaved: two "
            "rotations, a stale replay, a Dev token with Prod keys, a revoked lineage, a "
            "wrong secret, then healthy refreshes",
        ),
    ]
}

from provider_scenarios import PROVIDER_SCENARIOS  # noqa: E402

SCENARIOS.update({s.name: s for s in PROVIDER_SCENARIOS})
