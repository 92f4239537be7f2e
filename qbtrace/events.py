"""Exchanges → token events on one timeline: who asked for what, with what, and what came back.

Inputs may overlap (a Playwright HAR of the browser and a mitmproxy HAR of the same run), so
an exchange seen in two inputs at the same moment counts once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from qbtrace.model import Exchange, Input
from qbtrace.providers import HARD_LIFETIME_FIELDS, REFRESH_LIFETIME_FIELDS
from qbtrace.redact import Secret

DUPLICATE_WINDOW = 2.0


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A POST to the token endpoint, reduced to what the rules reason about."""

    seq: int
    """Position on the merged timeline."""
    x: Exchange
    grant: str | None
    code: Secret | None
    refresh: Secret | None
    redirect_uri: str | None
    client_id: str | None
    client_secret: Secret | None
    issued_rt: Secret | None
    issued_at: Secret | None
    rt_expires_in: float | None
    rt_hard_expires_in: float | None
    error: str | None
    error_description: str | None
    user: Secret | None = None
    """Tag of the account the answer's id_token names (`user:`), when it carries one."""

    @property
    def ok(self) -> bool:
        return self.x.ok

    @property
    def start(self) -> float:
        return self.x.started if self.x.started is not None else float("-inf")

    @property
    def end(self) -> float:
        """When the answer (or the failure) arrived; the start when the input has no end."""
        if self.x.ended is not None:
            return self.x.ended
        return self.start

    @property
    def presented(self) -> Secret | None:
        return self.code if self.grant == "authorization_code" else self.refresh

    @property
    def client_known(self) -> bool:
        return self.x.client is not None and self.x.client.via != "none"


def timeline(inputs: Iterable[Input]) -> list[Exchange]:
    """All exchanges of all inputs in time order, each real exchange once."""
    keyed: list[tuple[float, int, int, Exchange]] = []
    for number, item in enumerate(inputs):
        last = float("-inf")
        for x in item.exchanges:
            last = x.started if x.started is not None else last
            keyed.append((last, number, x.ref.index, x))
    keyed.sort(key=lambda k: k[:3])
    return _without_duplicates([k[3] for k in keyed])


def _identity(x: Exchange) -> tuple[object, ...]:
    return (x.kind, x.method, x.url, tuple(sorted(map(str, x.params.items()))), x.status)


def _without_duplicates(exchanges: list[Exchange]) -> list[Exchange]:
    recent: dict[tuple[object, ...], Exchange] = {}
    out: list[Exchange] = []
    for x in exchanges:
        key = _identity(x)
        seen = recent.get(key)
        if (
            seen is not None
            and seen.ref.source != x.ref.source
            and seen.started is not None
            and x.started is not None
            and abs(x.started - seen.started) <= DUPLICATE_WINDOW
        ):
            continue
        recent[key] = x
        out.append(x)
    return out


def token_request(seq: int, x: Exchange) -> TokenRequest:
    p, r = x.params, x.reply
    client = x.client
    return TokenRequest(
        seq=seq,
        x=x,
        grant=_text(p.get("grant_type")),
        code=_secret(p.get("code")),
        refresh=_secret(p.get("refresh_token")),
        redirect_uri=_text(p.get("redirect_uri")),
        client_id=client.client_id if client else None,
        client_secret=client.secret if client else None,
        issued_rt=_secret(r.get("refresh_token")) if x.ok else None,
        issued_at=_secret(r.get("access_token")) if x.ok else None,
        rt_expires_in=_first_number(r, REFRESH_LIFETIME_FIELDS),
        rt_hard_expires_in=_first_number(r, HARD_LIFETIME_FIELDS),
        error=_text(r.get("error")),
        error_description=_text(r.get("error_description")),
        user=_secret(r.get("id_subject")) if x.ok else None,
    )


def _first_number(reply: Mapping[str, object], names: tuple[str, ...]) -> float | None:
    """The first of the providers' lifetime fields the answer carries (each provider's
    answers carry only its own)."""
    for name in names:
        if name in reply:
            return _number(reply[name])
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _secret(value: object) -> Secret | None:
    return value if isinstance(value, Secret) else None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
