"""No secret of any provider reaches an output: each provider's golden capture, with secrets
planted where that provider's traffic carries them (session cookies on its sign-in host, a
token quoted back in an error description, a client assertion, the user in an id_token),
through text, JSON, CSV, HTML, the events file, stderr and a sanitized copy."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from qbtrace.redact import Redactor
from qbtrace.sanitize import sanitize_file
from tests.conftest import GOLDEN, scenario_config
from tests.strategies import PLANT
from tests.test_secrets import har_secrets, leaks, outputs

SIGN_IN_COOKIES = {
    "xero_superseded": "XERO_SESSION",
    "microsoft_revoked": "ESTSAUTHPERSISTENT",
    "google_testing_expired": "__Secure-3PSID",
    "refresh_token_family_revoked": "auth0",
}
USER = "108234567890123456789"  # the account the planted id_token names
EMAIL = "ada.lovelace@example.test"


def planted(kind: str) -> str:
    return f"{PLANT}{kind}Kq8Wm2Zt6Rv0Hs4Jk8Ln2Bv6Cx0Lp4"


def jwt(claims: dict[str, Any]) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    head = part(b'{"alg":"RS256","typ":"JWT"}')
    return f"{head}.{part(json.dumps(claims).encode())}.{part(PLANT.encode() * 40)}"


def plant(entries: list[dict[str, Any]], cookie: str) -> set[str]:
    """Secrets where real traffic of the provider carries them; returns the raw values."""
    values = {planted("cookie"), planted("setcookie"), planted("assert")}
    first, failed = entries[0], next(e for e in entries if e["response"]["status"] >= 400)
    first["request"]["headers"].append({"name": "Cookie", "value": f"{cookie}={planted('cookie')}"})
    first["response"]["headers"].append(
        {"name": "Set-Cookie", "value": f"{cookie}={planted('setcookie')}; Secure; HttpOnly"}
    )
    post = failed["request"]["postData"]
    post["text"] += "&client_assertion=" + planted("assert")
    body = json.loads(failed["response"]["content"].get("text") or "{}")
    sent = dict(parse_qsl(post["text"]))
    refused = sent.get("refresh_token") or sent.get("code", "")
    body["error_description"] = f"{body.get('error_description', 'Bad Request')} ({refused})"
    failed["response"]["content"]["text"] = json.dumps(body)
    signed_in = [e for e in entries if '"id_token"' in (e["response"]["content"].get("text") or "")]
    for ok in signed_in[:1]:  # the Auth0 tenant's answers carry none
        answer = json.loads(ok["response"]["content"]["text"])
        answer["id_token"] = jwt({"sub": USER, "email": EMAIL, "nonce": planted("nonce")})
        ok["response"]["content"]["text"] = json.dumps(answer)
        values |= {answer["id_token"], planted("nonce")}
    return values


@pytest.mark.parametrize("name", list(SIGN_IN_COOKIES))
def test_no_planted_provider_secret_in_any_output(name: str, tmp_path: Path) -> None:
    har = json.loads((GOLDEN / f"{name}.har").read_text())
    secrets = plant(har["log"]["entries"], SIGN_IN_COOKIES[name])
    path = tmp_path / f"{name}.har"
    path.write_text(json.dumps(har))
    secrets |= har_secrets(path)
    found = outputs([path], tmp_path, "--show-client-ids", *scenario_config(path))
    doc = json.loads(found["json"])
    assert doc["findings"], "the planted copy still has its failures"
    assert {f["provider"] for f in doc["findings"]} != {"quickbooks"}
    assert not leaks(found, secrets | {USER, EMAIL})
    copy = tmp_path / "sanitized.har"
    sanitize_file(path, copy, Redactor(b"sanitize-key"))
    text = copy.read_text()
    assert not [s[:12] for s in secrets | {USER, EMAIL} if s in text]
