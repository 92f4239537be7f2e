"""The records every layer shares: exchanges read from inputs, and the findings made of them.

Everything here but `RawParts` is frozen and holds no raw secret: tokens, codes and client
secrets appear only as `Secret` tags (see `redact`). Client ids are kept raw (they are not
secrets) so they can be matched against the config; renderers tag them unless asked not to.
`RawParts` is what a reader found before redaction: only readers, `sources.build` (which
turns it into an `Exchange`) and the raw capture records hold one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Literal

from qbtrace.redact import Secret

Value = str | int | float | bool | Secret | None
TENANT = "tenant"
"""Param of an exchange read from a log: the tenant (company) the line names."""
TOKEN_NOT_LOGGED: Final = "token-not-in-log"
"""Gap of an exchange read from an application log that does not show which code or refresh
token it presented: the per-token causes can then only be guessed (causes.md, "Application
logs as evidence")."""

Gap = Literal[
    "request-body-missing",
    "request-body-in-attachment",
    "request-body-bad-base64",
    "response-body-missing",
    "response-body-in-attachment",
    "response-body-bad-base64",
    "response-not-json",
    "response-not-delivered",
    "client-auth-missing",
    "request-too-large",
    "response-too-large",
    "response-too-deep",
    "response-streamed",
    "time-out-of-range",
    "invalid-lifetime",
    "invalid-number",
    "token-not-in-log",
]
"""What an exporter left out (or could not deliver) that the rules might have needed; the
last seven: a body past the readers' cap or nested past msgspec's depth, an answer the app
streamed (the in-app recorder does not read it), and times or lifetimes that cannot be
real (dropped)."""
Via = Literal["basic", "body", "none", "log"]
"""Where a request's client credentials were: the Basic header, the form body, nowhere, or
only the client id an application log names."""
CredentialDefect = Literal[
    "not-base64",
    "not-utf8",
    "no-colon",
    "missing-id",
    "missing-secret",
    "whitespace-id",
    "whitespace-secret",
    "quoted-id",
    "quoted-secret",
    "inner-whitespace-id",
    "inner-whitespace-secret",
    "empty-id",
    "empty-secret",
    "placeholder-id",
    "placeholder-secret",
]
"""What is wrong with the form of client credentials."""
Role = Literal[
    "app_redirect",
    "token_not_logged",
    "authorize",
    "callback",
    "callback_delivery",
    "cluster",
    "code_exchange",
    "code_redirect",
    "config",
    "consent",
    "credential_defect",
    "disconnect",
    "earlier_exchange",
    "error_description",
    "earlier_success",
    "first_spent",
    "issued_access_token",
    "issued_live_token",
    "issued_original",
    "issued_successor",
    "issuing_request",
    "issuing_response",
    "lost_response",
    "malformed",
    "missing_credentials",
    "newer_authorization",
    "not_in_capture",
    "overlapping",
    "provider_code",
    "replay",
    "response",
    "revoke",
    "winner",
]
"""What an evidence item is to the finding it supports (JSON `evidence[].role`)."""


class Kind(StrEnum):
    """What part of the OAuth dance an exchange is."""

    TOKEN = "token"
    AUTHORIZE = "authorize"
    CALLBACK = "callback"
    REVOKE = "revoke"
    DISCONNECT = "disconnect"


class InputKind(StrEnum):
    """The format of an input file, as the reader that recognised it names it."""

    HAR = "har"
    MITM = "mitm"
    CAPTURE = "capture"
    LOG = "log"


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
    via: Via
    """`none` when the request carried no credentials we could see."""
    defects: tuple[CredentialDefect, ...] = ()
    """What is wrong with the credentials' form."""


@dataclass(slots=True)
class RawParts:
    """What a reader found for one exchange, raw (secrets included): the input of
    `sources.build.build_exchange`, which redacts it into an `Exchange`."""

    method: str
    url: str
    started: float | None
    ended: float | None
    request_headers: list[tuple[str, str]]
    request_body: str | None
    status: int | None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: str | None = None
    failure: str | None = None
    gaps: list[Gap] = field(default_factory=list)


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
    """Headers the rules use (the provider's request id, date, user-agent), lowercase names."""
    client: ClientAuth | None = None
    gaps: tuple[Gap, ...] = ()
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

    role: Role
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
    happened: str | None = None
    """What happened, when this evidence says more than the rule's general text."""
    fix: str | None = None
    """The fix this evidence calls for, when it is narrower than the rule's general one."""


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
    request_id: str | None
    """The provider's own id of the failed exchange (see `Provider.request_id`)."""
    evidence: tuple[Evidence, ...]
    alternatives: tuple[str, ...]
    token: str | None
    """Tag of the code or refresh token the request presented."""
    client_id: str | None
    warnings: tuple[str, ...] = ()
    happened: str | None = None
    """This finding's own explanation, else the rule's (`Match.happened`)."""
    fix: str | None = None
    """This finding's own fix, else the rule's (`Match.fix`)."""
    provider: str = ""
    """Name of the provider the request went to; empty: the profile's default."""
    process: str | None = None
    """Who made the failed request (a log's hostname, pid or worker), when known."""
    seen_in: tuple[Ref, ...] = ()
    """Other inputs showing the same failed request (a log record joined to a capture)."""


@dataclass(frozen=True, slots=True)
class Input:
    """What one input file yielded: its matching exchanges and what could not be read."""

    source: str
    kind: InputKind
    entries: int
    """All entries or flows in the file, matching or not (a log: its lines)."""
    exchanges: tuple[Exchange, ...]
    warnings: tuple[str, ...] = ()
    format: str | None = None
    """For a log, the SDK formats recognised and their wrappers (`<sdk> in pino`, …)."""
    others: tuple[str, ...] = ()
    """Other OAuth providers whose sign-in hosts appear in a file without token requests of
    the configured ones, as `Google (accounts.google.com)`."""
