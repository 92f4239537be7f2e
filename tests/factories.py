"""Small builders of exchanges for rule tests: `token_post(**overrides)` rather than fixtures.

They go through the same `build_exchange` as every reader, from raw parts, so a test states
traffic the way it looks on the wire.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

from qbtrace.model import Exchange, Kind, Ref
from qbtrace.providers.quickbooks import AUTHORIZE as QUICKBOOKS_AUTHORIZE
from qbtrace.providers.quickbooks import REVOKE as QUICKBOOKS_REVOKE
from qbtrace.providers.quickbooks import TOKEN as QUICKBOOKS_TOKEN
from qbtrace.redact import Redactor
from qbtrace.sources.build import RawParts, build_exchange

REDACTOR = Redactor(b"factories")
T0 = 1_790_000_000.0
CLIENT = "ABclientDevelopment0000000000000000000000000000"
SECRET = "secret-development-0000000000000000000000"


class Capture:
    """A growing list of exchanges with indexes, as one input file would hold them."""

    def __init__(self, source: str = "test.har") -> None:
        self.source = source
        self.exchanges: list[Exchange] = []

    def add(self, kind: Kind, parts: RawParts) -> Exchange:
        ref = Ref(self.source, len(self.exchanges))
        made = build_exchange(ref, kind, parts, REDACTOR)
        self.exchanges.append(made)
        return made

    def token(
        self,
        at: float,
        form: dict[str, str],
        *,
        status: int | None = 200,
        reply: dict[str, object] | None = None,
        client: str = CLIENT,
        secret: str = SECRET,
        took: float = 0.2,
        basic: str | None = None,
        url: str = QUICKBOOKS_TOKEN,
        headers: list[tuple[str, str]] | None = None,
    ) -> Exchange:
        """A token POST; `basic=""` sends no Authorization header (credentials in the body);
        `url` another provider's token endpoint, `headers` its answer's headers."""
        auth = basic if basic is not None else base64.b64encode(f"{client}:{secret}".encode())
        header = auth if isinstance(auth, str) else auth.decode()
        parts = RawParts(
            method="POST",
            url=url,
            started=T0 + at,
            ended=T0 + at + took,
            request_headers=[
                *([("Authorization", f"Basic {header}")] if basic != "" else []),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            request_body=urlencode(form),
            status=status,
            response_headers=headers
            if headers is not None
            else [("intuit_tid", f"1-{int(T0 + at):08x}-000000000000000000000000")],
            response_body=json.dumps(reply or {}) if status is not None else None,
            failure=None if status is not None else "Connection killed.",
        )
        return self.add(Kind.TOKEN, parts)

    def refresh(
        self, at: float, token: str, *, issued: str | None = None, **kw: object
    ) -> Exchange:
        if issued is not None:
            kw.setdefault(
                "reply",
                {
                    "refresh_token": issued,
                    "access_token": f"eyJat-{issued}",
                    "x_refresh_token_expires_in": 8_726_400,
                    "expires_in": 3600,
                },
            )
            kw.setdefault("status", 200)
        else:
            kw.setdefault("status", 400)
            kw.setdefault("reply", {"error": "invalid_grant"})
        return self.token(at, {"grant_type": "refresh_token", "refresh_token": token}, **kw)  # type: ignore[arg-type]

    def exchange_code(
        self, at: float, code: str, redirect: str, *, issued: str | None = None, **kw: object
    ) -> Exchange:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
        if issued is not None:
            kw.setdefault(
                "reply",
                {
                    "refresh_token": issued,
                    "access_token": f"eyJat-{issued}",
                    "x_refresh_token_expires_in": 8_726_400,
                },
            )
            kw.setdefault("status", 200)
        else:
            kw.setdefault("status", 400)
            kw.setdefault("reply", {"error": "invalid_grant"})
        return self.token(at, form, **kw)  # type: ignore[arg-type]

    def authorize(self, at: float, redirect: str, code: str, *, client: str = CLIENT) -> Exchange:
        query = urlencode(
            {
                "client_id": client,
                "redirect_uri": redirect,
                "state": "s1",
                "response_type": "code",
                "scope": "com.intuit.quickbooks.accounting",
            }
        )
        location = f"{redirect}?{urlencode({'code': code, 'state': 's1', 'realmId': '1234'})}"
        parts = RawParts(
            "GET",
            f"{QUICKBOOKS_AUTHORIZE}?{query}",
            T0 + at,
            T0 + at + 0.1,
            [],
            None,
            302,
            [("Location", location)],
        )
        return self.add(Kind.AUTHORIZE, parts)

    def revoke(self, at: float, token: str) -> Exchange:
        auth = base64.b64encode(f"{CLIENT}:{SECRET}".encode()).decode()
        parts = RawParts(
            "POST",
            QUICKBOOKS_REVOKE,
            T0 + at,
            T0 + at + 0.1,
            [("Authorization", f"Basic {auth}"), ("Content-Type", "application/json")],
            json.dumps({"token": token}),
            200,
            [],
            "",
        )
        return self.add(Kind.REVOKE, parts)
