"""What every emulated provider shares: client auth, token shapes, answers, the plug-in shape.

`emulator.py` is the one mitmproxy addon; it owns the clock, the control API and the knobs for
slow and dropped answers, and hands the hosts of each other provider to that provider's
emulator (`xero_emu.py`, `microsoft_emu.py`, `google_emu.py`), which builds the answers.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import string
from dataclasses import dataclass
from email.utils import formatdate
from typing import Protocol

from mitmproxy import http

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
HEX_UPPER = "0123456789ABCDEF"


@dataclass(frozen=True)
class App:
    """A registered client: id, secret and its one redirect URI."""

    client_id: str
    secret: str
    redirect_uri: str


def client_auth(req: http.Request) -> tuple[str, str] | None:
    """(client_id, secret) from the Basic header, else from the form body; None if malformed."""
    header = req.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        cid, sep, secret = decoded.partition(":")
        return (cid, secret) if sep else None
    form = req.urlencoded_form
    return form.get("client_id", ""), form.get("client_secret", "")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def rand(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def jwt_like(rng: random.Random, header: dict[str, object], claims: dict[str, object]) -> str:
    """A JWT with real header and claims and a random 256-byte RS256-sized signature.

    The SDKs used here decode id_tokens without checking the signature (msal, requests-
    oauthlib, google-auth-oauthlib do not fetch the JWKS for a code exchange)."""
    sig = bytes(rng.getrandbits(8) for _ in range(256))
    parts = (json.dumps(header).encode(), json.dumps(claims).encode())
    return ".".join((*(b64url(p) for p in parts), b64url(sig)))


def content_of(body: object) -> bytes:
    """The bytes of an answer: none, a text, or compact JSON of a dict or list."""
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, separators=(",", ":")).encode()


def respond(
    status: int,
    body: object,
    now: float,
    headers: dict[str, str] | None = None,
    ctype: str = "application/json; charset=utf-8",
) -> http.Response:
    """An answer with `date` on the emulated clock."""
    base = {"date": formatdate(now, usegmt=True), "content-type": ctype}
    return http.Response.make(status, content_of(body), {**base, **(headers or {})})


def redirect(location: str, now: float, headers: dict[str, str] | None = None) -> http.Response:
    return respond(302, "", now, {"location": location, **(headers or {})}, "text/html")


class ProviderEmulator(Protocol):
    """One provider's hosts, answered from its own state; `emulator.py` drives it."""

    name: str  # the control API's prefix: http://emulator.control/<name>/<op>
    hosts: tuple[str, ...]

    def is_token(self, req: http.Request) -> bool:
        """A token-endpoint request (the delay and drop knobs apply to these)."""
        ...

    def handle(self, req: http.Request, now: float) -> http.Response: ...

    def control(self, op: str, args: dict[str, object], now: float) -> dict[str, object] | None:
        """A control call `/<name>/<op>`; None when `op` is unknown."""
        ...
