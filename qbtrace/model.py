"""The records every layer shares: exchanges read from inputs, and the findings made of them.

Everything here is frozen and holds no raw secret: tokens, codes and client secrets appear
only as `Secret` tags (see `redact`). Client ids are kept raw (they are not secrets) so
they can be matched against the config; renderers tag them unless asked not to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from qbtrace.redact import Secret

Value = str | int | float | bool | Secret | None
TOKEN_NOT_LOGGED = "token-not-in-log"
"""Gap of an exchange read from an application log that does not show which code or refresh
token it presented: the per-token causes can then only be guessed (causes.md, "Application
logs as evidence")."""


class Kind(StrEnum):
    """What part of the OAuth dance an exchange is."""

    TOKEN = "token"
    AUTHORIZE = "authorize"
    CALLBACK = "callback"
    REVOKE = "revoke"
    DISCONNECT = "disconnect"


class Confidence(StrEnum):
    CERTAIN = "certain"
    LIKELY = "likely"
    POSSIBLE = "possible"


@dataclass(frozen=True, slots=True, order=True)
class Ref:
    """Where an exchange sits: the input as named on the command line and its 0-based index."""

    source: str
    index: int


@dataclass(frozen=True, slots=True)
class ClientAuth:
    """The client credentials of a request, from the Basic header or the form body."""

    client_id: str | None
    """The client id as sent (not a secret); None when it could not be read."""
    secret: Secret | None
    """The client secret, tagged."""
    via: str
    """`basic`, `body`, or `none` when the request carried no credentials we could see."""
    defects: tuple[str, ...] = ()
    """What is wrong with the credentials' form (`not-base64`, `no-colon`, `empty-secret`...)."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP exchange that matters to OAuth, from any input format."""

    ref: Ref
    kind: Kind
    started: float | None
    """Request start, Unix seconds UTC; None when the input had no usable time."""
    ended: float | None
    """Response end (or failure), Unix seconds UTC."""
    method: str
    url: str
    """scheme://host/path of the request, without the query (its fields are in `params`)."""
    params: Mapping[str, Value]
    """The request's fields: query for a GET, form or JSON body for a POST; secrets tagged."""
    status: int | None
    """HTTP status, or None when no response arrived."""
    failure: str | None = None
    """How the exchange ended without a response (timeout, reset), as the input said."""
    reply: Mapping[str, Value] = field(default_factory=dict)
    """Fields of the answer: token-response JSON, or the query of a redirect's Location."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers the rules use (intuit_tid, date, user-agent, location), lowercase names."""
    client: ClientAuth | None = None
    gaps: tuple[str, ...] = ()
    """What the exporter left out that the rules might have needed."""
    process: str | None = None
    """Who made the request, when an input says so (a log's hostname, pid or worker)."""
    seen_in: tuple[Ref, ...] = ()
    """The same exchange as other inputs show it (a log record joined to a capture)."""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class Evidence:
    """One earlier (or config) fact a finding rests on."""

    role: str
    note: str
    ref: Ref | None = None
    time: float | None = None
    process: str | None = None
    """Who made the cited request, when an input says so."""


@dataclass(frozen=True, slots=True)
class Match:
    """What one rule says about one failure."""

    cause: str
    confidence: Confidence
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """The explanation of one failed token request."""

    ref: Ref
    time: float | None
    cause: str
    confidence: Confidence
    grant_type: str | None
    status: int | None
    error: str | None
    error_description: str | None
    intuit_tid: str | None
    evidence: tuple[Evidence, ...]
    alternatives: tuple[str, ...]
    token: str | None
    """Tag of the code or refresh token the request presented."""
    client_id: str | None
    warnings: tuple[str, ...] = ()
    process: str | None = None
    """Who made the failed request (a log's hostname, pid or worker), when known."""
    seen_in: tuple[Ref, ...] = ()
    """Other inputs showing the same failed request (a log record joined to a capture)."""


@dataclass(frozen=True, slots=True)
class Input:
    """What one input file yielded: its matching exchanges and what could not be read."""

    source: str
    kind: str
    """`har`, `mitm`, `capture` or `log`."""
    entries: int
    """All entries or flows in the file, matching or not (a log: its lines)."""
    exchanges: tuple[Exchange, ...]
    warnings: tuple[str, ...] = ()
    format: str | None = None
    """For a log, what was recognised (`intuitlib in pino`, `intuit-oauth-node`, …)."""
