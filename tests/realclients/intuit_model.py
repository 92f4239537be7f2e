"""State and rules of the emulated Intuit OAuth server (no mitmproxy here).

`emulator.py` adapts this to mitmproxy and documents what is modelled and what is assumed.
Every method takes the emulated time `now` (Unix seconds) explicitly, so the model is a pure
function of its inputs plus a seeded random source.
"""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass, field

CODE_LIFETIME = 600
ACCESS_LIFETIME = 3600
ROLLING_LIFETIME = 8_726_400  # 101 days, the value Intuit's SDK mocks and README show
ROTATE_AFTER = 86_400  # the refresh token value changes once the current one is >= 24 h old
HARD_CAP = 5 * 365 * 86_400  # 5 years from the original grant
JWE_HEADER = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0"

_ALNUM = string.ascii_letters + string.digits
_LOWER = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class App:
    client_id: str
    secret: str
    redirect_uris: tuple[str, ...]
    environment: str  # "sandbox" (Development keys) or "production"


# Registered apps. Development and Production keys of one app are two separate clients.
APPS: dict[str, App] = {
    a.client_id: a
    for a in (
        App(
            "ABq3devKeysXk2N7pLw9Rt4Yv8Zc1Hs6Jd0Fg5Mn3Bq7Ux2Ew9Ti",
            "dEvSeCrEt0a1b2c3d4e5f6g7h8i9j0kLmNoPqRs",
            ("https://app.example.test/callback", "http://localhost:8000/callback"),
            "sandbox",
        ),
        App(
            "ABp7prodKeysRm4Tq8Wz2Xc6Vb1Nh5Jk9Lf3Gd7Sa0Pe4Ou8Iy2R",
            "pRoDsEcReT9z8y7x6w5v4u3t2s1r0QpOnMlKjIh",
            ("https://app.example.test/callback", "https://app.example.test/qbo/callback"),
            "production",
        ),
        App(
            "Q0otherAppKq2Wm8Zt4Rx6Cv1Bn5Hj9Lp3Gf7Sd0Ae4Yu8Io2Tw",
            "oThErApPsEcReT5a6b7c8d9e0f1g2h3i4j5k6l7",
            ("https://other.example.test/oauth/callback",),
            "production",
        ),
        App(
            "ABt1tenantA9Ld3Qw7Er1Ty5Ui9Op3As7Df1Gh5Jk9Lz3Xc7Vb1N",
            "tEnAnTaSeCrEt1q2w3e4r5t6y7u8i9o0p1a2s3d",
            ("https://a.example.test/cb",),
            "production",
        ),
        App(
            "ABt2tenantB8Kj2Hg6Fd0Sa4Po8Iu2Yt6Re0Wq4Mn8Bv2Cx6Zl0K",
            "tEnAnTbSeCrEt2w3e4r5t6y7u8i9o0p1a2s3d4f",
            ("https://b.example.test/cb",),
            "production",
        ),
        App(
            "ABt3tenantC7Mn1Bv5Cx9Zl3Kj7Hg1Fd5Sa9Po3Iu7Yt1Re5Wq9L",
            "tEnAnTcSeCrEt3e4r5t6y7u8i9o0p1a2s3d4f5g",
            ("https://c.example.test/cb",),
            "production",
        ),
    )
}


@dataclass
class Code:
    value: str
    client_id: str
    redirect_uri: str
    realm_id: str
    issued_at: float
    grants: list[Grant] = field(default_factory=list)  # grants a successful exchange created


@dataclass
class Grant:
    client_id: str
    realm_id: str
    granted_at: float
    current_rt: str = ""
    rt_issued_at: float = 0.0
    access_tokens: set[str] = field(default_factory=set)
    dead: str = ""  # why every token of the grant is invalid: "revoked", "code_reused"


@dataclass
class Outcome:
    """What the token or revoke endpoint answers: status and JSON body (or None)."""

    status: int
    body: dict[str, object] | None


INVALID_GRANT_BODIES: tuple[dict[str, object], ...] = (
    {"error": "invalid_grant"},
    {"error_description": "Token invalid", "error": "invalid_grant"},
    {"error_description": "Incorrect or invalid refresh token", "error": "invalid_grant"},
)


class IntuitModel:
    """Intuit's server by default. `grace`, `rotate_after` and `intuit_fields=False` make it
    a plain RFC 6749 server instead (the custom-provider test: rotation on every refresh,
    a superseded token still accepted for `grace` seconds, no Intuit-only answer fields)."""

    def __init__(
        self,
        seed: int | None = None,
        grace: float = 0.0,
        rotate_after: float = ROTATE_AFTER,
        intuit_fields: bool = True,
    ) -> None:
        self.rng = random.Random(seed)
        self.grace = grace
        self.rotate_after = rotate_after
        self.intuit_fields = intuit_fields
        self.codes: dict[str, Code] = {}
        self.refresh_tokens: dict[str, Grant] = {}  # every refresh token ever issued
        self.access_tokens: dict[str, Grant] = {}
        self.access_expires: dict[str, float] = {}
        self.registered: dict[str, set[str]] = {}  # redirect URIs added at run time
        self.superseded: dict[str, float] = {}  # refresh token -> when its successor came
        self._bad_grant_turn = 0

    # -- token formats -------------------------------------------------------------------
    def _rand(self, n: int, alphabet: str = _ALNUM) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def new_code(self, now: float) -> str:
        return f"AB1{int(now)}{self._rand(30)}"

    def new_refresh_token(self, expires_at: float) -> str:
        return f"RT1-{self.rng.randint(10, 99)}-H0-{int(expires_at)}{self._rand(20, _LOWER)}"

    def new_access_token(self) -> str:
        def seg(n: int) -> str:
            raw = bytes(self.rng.getrandbits(8) for _ in range(n))
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        return f"{JWE_HEADER}..{seg(16)}.{seg(150)}.{seg(16)}"

    def invalid_grant(self) -> Outcome:
        body = INVALID_GRANT_BODIES[self._bad_grant_turn % len(INVALID_GRANT_BODIES)]
        self._bad_grant_turn += 1
        return Outcome(400, dict(body))

    # -- authorize -----------------------------------------------------------------------
    def register(self, client_id: str, redirect_uri: str) -> None:
        """The developer adds a redirect URI on the app's keys tab."""
        if client_id not in APPS:
            raise KeyError(client_id)
        self.registered.setdefault(client_id, set()).add(redirect_uri)

    def is_registered(self, client_id: str, redirect_uri: str) -> bool:
        """Exact string match against the keys tab, as Intuit compares."""
        app = APPS.get(client_id)
        return app is not None and (
            redirect_uri in app.redirect_uris or redirect_uri in self.registered.get(client_id, ())
        )

    def authorize(self, client_id: str, redirect_uri: str, realm_id: str, now: float) -> str | None:
        """Issue a code, or None when the client or redirect URI is not registered."""
        if not self.is_registered(client_id, redirect_uri):
            return None
        code = self.new_code(now)
        self.codes[code] = Code(code, client_id, redirect_uri, realm_id, now)
        return code

    # -- token endpoint ------------------------------------------------------------------
    def exchange(
        self, client_id: str, code: str, redirect_uri: str, now: float, hard: bool
    ) -> Outcome:
        c = self.codes.get(code)
        if c is None or c.client_id != client_id or c.redirect_uri != redirect_uri:
            return self.invalid_grant()
        if now - c.issued_at > CODE_LIFETIME:
            return self.invalid_grant()
        if c.grants:
            # A second exchange of a code is treated as an attack: it fails, and the tokens
            # of the first exchange are invalidated too.
            for g in c.grants:
                g.dead = g.dead or "code_reused"
            return self.invalid_grant()
        grant = Grant(client_id, c.realm_id, now)
        c.grants.append(grant)
        return self._issue(grant, now, hard, rotate=True)

    def refresh(self, client_id: str, token: str, now: float, hard: bool) -> Outcome:
        grant = self.refresh_tokens.get(token)
        if grant is None or grant.client_id != client_id or grant.dead:
            return self.invalid_grant()
        if token in self.superseded:
            if now - self.superseded[token] >= self.grace:  # Intuit's grace is 0 s
                return self.invalid_grant()
            return self._issue(grant, now, hard, rotate=False)  # within the grace: accepted
        if now >= grant.rt_issued_at + ROLLING_LIFETIME or now >= grant.granted_at + HARD_CAP:
            return self.invalid_grant()
        return self._issue(grant, now, hard, rotate=now - grant.rt_issued_at >= self.rotate_after)

    def _issue(self, grant: Grant, now: float, hard: bool, rotate: bool) -> Outcome:
        if rotate:
            if grant.current_rt:
                self.superseded[grant.current_rt] = now
            grant.current_rt = self.new_refresh_token(now + ROLLING_LIFETIME)
            grant.rt_issued_at = now
            self.refresh_tokens[grant.current_rt] = grant
        access = self.new_access_token()
        grant.access_tokens.add(access)
        self.access_tokens[access] = grant
        self.access_expires[access] = now + ACCESS_LIFETIME
        body: dict[str, object] = {
            "x_refresh_token_expires_in": int(grant.rt_issued_at + ROLLING_LIFETIME - now),
            "refresh_token": grant.current_rt,
            "access_token": access,
            "token_type": "bearer",
            "expires_in": ACCESS_LIFETIME,
        }
        if not self.intuit_fields:
            del body["x_refresh_token_expires_in"]
        elif hard:
            body["x_refresh_token_hard_expires_in"] = int(grant.granted_at + HARD_CAP - now)
        return Outcome(200, body)

    def access_ok(self, token: str, now: float) -> bool:
        """A data-API call with this bearer token is accepted: issued, unexpired, grant alive."""
        grant = self.access_tokens.get(token)
        return grant is not None and not grant.dead and now < self.access_expires[token]

    # -- revoke, seeding -----------------------------------------------------------------
    def revoke(self, client_id: str, token: str) -> Outcome:
        grant = self.refresh_tokens.get(token) or self.access_tokens.get(token)
        if grant is not None and grant.client_id == client_id:
            grant.dead = "revoked"
            return Outcome(200, None)
        return Outcome(400, {"error": "invalid_request"})

    def revoke_realm(self, realm_id: str) -> int:
        """The user disconnected the app in QuickBooks: every grant of the realm dies."""
        grants = {id(g): g for g in self.refresh_tokens.values() if g.realm_id == realm_id}
        for g in grants.values():
            g.dead = "revoked"
        return len(grants)

    def seed(
        self, client_id: str, realm_id: str, grant_age: float, rt_age: float, now: float
    ) -> str:
        """Create a grant that began before the capture; return its current refresh token."""
        grant = Grant(client_id, realm_id, now - grant_age)
        grant.rt_issued_at = now - rt_age
        grant.current_rt = self.new_refresh_token(grant.rt_issued_at + ROLLING_LIFETIME)
        self.refresh_tokens[grant.current_rt] = grant
        return grant.current_rt
