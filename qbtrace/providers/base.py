"""The provider interface: what qbtrace must know about one OAuth server, and nothing else.

A provider is a frozen `Provider`: its endpoints, its parameters (lifetimes, rotation grace),
the fields and headers its answers carry, and the words the explanations use. The generic
values here describe any RFC 6749 server, which is what a provider defined only in
`qbtrace.toml` gets; a provider module (`quickbooks.py`) subclasses `Provider` to read what
its server says beyond RFC 6749 (a request id that carries the server's clock, say).

Every number is a parameter that `qbtrace.toml` can override per provider: the rules never
hold a provider's facts as constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import TYPE_CHECKING

from qbtrace.model import Kind
from qbtrace.urls import port as port_of
from qbtrace.urls import split

if TYPE_CHECKING:
    import polars as pl

    from qbtrace.model import Exchange, Value

DEFAULT_PORTS = {"https": 443, "http": 80}

GENERIC_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "provider": "the provider",
        "provider_s": "the provider's",
        "support": "the provider's support",
        "request_id": "request id",
        "status_page": "the provider's status page",
        "keys_page": "the app's registration at the provider",
        "keys_portal": "the app's registration at the provider",
        "secret_page": "the app's registration at the provider",
        "key_sets": "",
        "tenant": "connection",
        "disconnect_place": "at the provider",
        "reconnect": "the authorization flow again",
        "rotation_note": "",
        "grace_note": "",
        "code_lifetime_note": "",
        "refresh_lifetime_short": "",
        "refresh_after": "",
        "refresh_refused_note": "",
        "refresh_lifetime": "the time the provider allows from the response that returned it",
        "hard_cap": "the provider's absolute lifetime cap",
        "hard_cap_rule": "a grant lives at most a fixed time from the original consent",
        "hard_cap_field": "its answer",
        "hard_cap_fix": "send the user through the authorization flow again and warn users "
        "ahead of the date",
        "sdk_redirect_note": "",
        "sdk_retry_note": "",
        "clock_sources": "Date",
        "client_hint": "an error_description the provider is known to give for it",
    }
)
"""The phrases rule docstrings and notes take from a provider (`{provider}` and so on), as
they read for a generic RFC 6749 server. `{Provider}` is `provider` capitalised."""


def host_path(url: str) -> str:
    """`host[:port]/path`, host lowercased, default port and trailing slash dropped: how
    endpoints are compared (a mock on localhost:8080 is not the one on :9090)."""
    parts = split(url.strip())
    return f"{host_of(url)}{parts.path.rstrip('/')}"


def host_of(url: str) -> str:
    """`host[:port]` of a URL as `host_path` writes it: how a provider is recognised."""
    parts = split(url.strip())
    port = port_of(parts)
    where = (parts.hostname or "").lower()
    if port is not None and port != DEFAULT_PORTS.get(parts.scheme.lower()):
        where += f":{port}"
    return where


@dataclass(frozen=True, slots=True)
class Stated:
    """A cause named by the provider's answer itself."""

    cause: str
    """The cause id the code means."""
    code: str
    """The provider's code as it writes it (`AADSTS50173`)."""
    meaning: str
    """What the provider says the code means."""


@dataclass(frozen=True, slots=True)
class ErrorHint:
    """What one `error_description` of the provider points at, from community reports:
    a hint that narrows a guess, never proof by itself."""

    causes: tuple[str, ...]
    """The cause ids it points at."""
    meaning: str
    """What it is reported to mean, for the evidence line."""


@dataclass(frozen=True)
class Provider:
    """One OAuth server. Every field but `name` can be set in `qbtrace.toml`."""

    name: str
    """The id in JSON `provider` and in `[providers.<name>]` of qbtrace.toml."""
    token_endpoint: str
    """The URL token requests are POSTed to (scheme, host, port and path are compared)."""
    authorize_endpoint: str | None = None
    revoke_endpoint: str | None = None
    title: str = ""
    """How people name the provider ("QuickBooks Online"); the name when empty."""
    access_token_lifetime: float = 3600
    refresh_token_lifetime: float | None = None
    """Rolling lifetime assumed when the issuing answer does not announce one; None: unknown,
    so an unannounced lifetime never makes a token expired."""
    rotation_grace: float = 0
    """How long a superseded refresh token is still accepted after its successor was issued."""
    legacy_rotation_grace: float = 0
    """A longer grace some documents of the provider announced: replays sooner are `likely`."""
    code_lifetime: float = 600
    """How long an authorization code can be exchanged (RFC 6749 recommends at most 600 s)."""
    outage_window: float = 300
    outage_min_lineages: int = 3
    race_window: float = 0
    """Extra seconds around an in-flight refresh that still count as overlapping."""
    refresh_expires_field: str | None = None
    """The answer's field announcing the refresh token's lifetime in seconds."""
    hard_expires_field: str | None = None
    """The answer's field announcing the grant's absolute end, in seconds from the answer."""
    request_id_header: str | None = None
    """The answer header carrying the provider's id of the exchange."""
    tenant_param: str | None = None
    """The callback (and Disconnect URL) query parameter naming the tenant (company)."""
    extra_headers: tuple[str, ...] = ()
    """Further headers (lowercase) readers keep for this provider's rules."""
    extra_reply_fields: tuple[str, ...] = ()
    """Further answer fields readers keep for this provider (a list of numbers is kept as
    their comma-joined text: Microsoft's `error_codes`)."""
    extra_hosts: tuple[str, ...] = ()
    """Hosts of the provider beyond its endpoints' (aliases, older endpoint hosts)."""
    rotates: bool = True
    """Refreshes may return a new refresh token in place of the one spent (Google's never do)."""
    reuse_detection: bool = False
    """A replay of a spent refresh token makes the provider revoke the whole family (Auth0's
    breach detection, Okta), so the live successor fails too."""
    token_limit: int | None = None
    """Live refresh tokens the provider keeps per user and client; a newer authorization past
    it evicts the oldest (Google 100, Salesforce 5, Zoho 20). None: no limit known."""
    consent_lifetime: float | None = None
    """Seconds a grant lives from the consent whatever its refreshes (Google: 7 days while
    the app's consent screen is in Testing). None: no such cap."""
    words: Mapping[str, str] = field(default_factory=lambda: GENERIC_WORDS, compare=False)
    """Phrases for the explanations; missing keys fall back to `GENERIC_WORDS`."""
    error_hints: Mapping[str, ErrorHint] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )
    """Lowercase `error_description` → the causes it points at (community evidence)."""

    @property
    def label(self) -> str:
        return self.title or self.name

    @property
    def endpoints(self) -> dict[str, Kind]:
        """host_path → the role of requests to it."""
        out = {host_path(self.token_endpoint): Kind.TOKEN}
        if self.revoke_endpoint:
            out[host_path(self.revoke_endpoint)] = Kind.REVOKE
        if self.authorize_endpoint:
            out[host_path(self.authorize_endpoint)] = Kind.AUTHORIZE
        return out

    @property
    def hosts(self) -> tuple[str, ...]:
        """`host[:port]` of every endpoint: an exchange with one of these is this provider's."""
        urls = (self.token_endpoint, self.authorize_endpoint, self.revoke_endpoint)
        found = (*(host_of(u) for u in urls if u), *(h.lower() for h in self.extra_hosts))
        return tuple(dict.fromkeys(found))

    @property
    def needles(self) -> tuple[str, ...]:
        """Extra substrings of this provider's endpoint URLs for the readers' fast pre-filter,
        beyond the configured endpoints' paths (a pattern's fixed part)."""
        return ()

    def endpoint_kind(self, where: str) -> Kind | None:
        """The role of a `host_path` on this provider's hosts that no configured endpoint
        names exactly (Microsoft's tenant in the path, Google's older paths); None: none."""
        return None

    def tenant_in(self, url: str) -> str | None:
        """The tenant an endpoint URL names (Microsoft's path segment), or None."""
        return None

    @property
    def stated_causes(self) -> frozenset[str]:
        """The causes this provider's answers can name by themselves (see `stated`)."""
        return frozenset()

    def stated(self, reply: Mapping[str, Value], grant: str | None) -> Stated | None:
        """The cause an error answer to a `grant` request names by itself (Microsoft's AADSTS
        codes), or None."""
        return None

    @property
    def kept_headers(self) -> tuple[str, ...]:
        found = (self.request_id_header, *self.extra_headers)
        return tuple(h.lower() for h in found if h)

    @property
    def reply_fields(self) -> tuple[str, ...]:
        """Answer fields beyond RFC 6749's that readers keep for this provider."""
        found = (self.refresh_expires_field, self.hard_expires_field, *self.extra_reply_fields)
        return tuple(f for f in found if f)

    def phrases(self) -> dict[str, str]:
        """The words, complete: generic ones where the provider has none, `{Provider}` too."""
        out = {**GENERIC_WORDS, **self.words}
        out["Provider"] = out["provider"][:1].upper() + out["provider"][1:]
        out["code_lifetime"] = f"{self.code_lifetime:,.0f}"
        return out

    def hint_for(self, description: str | None, cause: str) -> ErrorHint | None:
        """The hint an answer's error_description gives towards `cause`, if any."""
        hint = self.error_hints.get((description or "").strip().lower())
        return hint if hint is not None and cause in hint.causes else None

    def request_id(self, x: Exchange) -> str | None:
        """The provider's own id of the exchange, or None."""
        return x.headers.get(self.request_id_header) if self.request_id_header else None

    def server_time(self, x: Exchange) -> float | None:
        """When the provider handled the request by its own clock: its `Date` header."""
        date = x.headers.get("date")
        if date and x.kind in (Kind.TOKEN, Kind.AUTHORIZE, Kind.REVOKE) and x.status is not None:
            return _date_seconds(date)
        return None

    def server_times(self, rows: pl.DataFrame) -> pl.Series:
        """`server_time` of every row of a skeleton (columns kind, status, request_id, date)
        at once: the bulk path checks the clock of millions of exchanges this way."""
        import polars as pl

        dated = (
            (pl.col("date").fill_null("") != "")
            & pl.col("kind").is_in([Kind.TOKEN.value, Kind.AUTHORIZE.value, Kind.REVOKE.value])
            & pl.col("status").is_not_null()
        )
        dates = rows.filter(dated)["date"].unique().to_list()
        seconds = {d: _date_seconds(d) for d in dates}  # a date repeats: parse each once
        column = pl.col("date").replace_strict(seconds, default=None, return_dtype=pl.Float64)
        return rows.select(pl.when(dated).then(column).alias("server")).to_series()


def _date_seconds(date: str) -> float | None:
    from email.utils import parsedate_to_datetime  # email: a few ms of start-up

    try:
        return parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


NUMBER_FIELDS = frozenset(
    f.name
    for f in fields(Provider)
    if f.type in ("float", "int", "float | None", "int | None") and f.name != "name"
)
"""Settings of qbtrace.toml that take a non-negative number."""
BOOL_FIELDS = frozenset(("rotates", "reuse_detection"))
"""Settings of qbtrace.toml that take true or false."""
INT_FIELDS = frozenset(f.name for f in fields(Provider) if f.type in ("int", "int | None"))
"""The number settings that are counts (whole numbers)."""
URL_FIELDS = frozenset(("token_endpoint", "authorize_endpoint", "revoke_endpoint"))
TEXT_FIELDS = frozenset(("title",))
"""Answer fields and headers are a provider module's to name: readers keep only those."""
