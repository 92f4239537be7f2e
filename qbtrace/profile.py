"""What one analysis is configured with: the providers, and the app's registered facts.

The providers are the built-in ones (`qbtrace.providers`), tuned and extended by
`qbtrace.toml` (see `qbtrace.config`). `Profile` answers the two questions every reader asks
of a request, fast: is it OAuth traffic, and of which role (`kind_of`); and whose
(`provider_of`, by host: one capture may hold several providers).
"""

from __future__ import annotations

import copyreg
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl

from qbtrace.model import Exchange, Kind
from qbtrace.providers import BUILTIN, Provider, host_of, host_path
from qbtrace.urls import split

SEEN_LIMIT = 4096


def read_only(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _proxy(mapping: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return read_only, (dict(mapping),)


# A profile and its providers keep their tables read-only (MappingProxyType), which pickle
# refuses; a profile goes to other processes (a parallel read's workers, a split analysis's),
# so its tables travel as the dicts they wrap.
copyreg.pickle(MappingProxyType, _proxy)


def query_names(query: str) -> set[str]:
    return {name for name, _ in parse_qsl(query, keep_blank_values=True)}


@dataclass(frozen=True)
class Profile:
    """The providers (the default first) and the app's facts; `qbtrace.config` builds it."""

    providers: tuple[Provider, ...] = tuple(BUILTIN.values())
    redirect_uris: tuple[str, ...] = ()
    client_ids: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Known client id -> environment name (development, production)."""
    disconnect_urls: tuple[str, ...] = ()
    config_file: str | None = None
    """The qbtrace.toml read, as named; None when none was."""
    config_implicit: bool = False
    """The config was picked up from the current folder rather than named by `--config`."""
    overrides: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    """Settings of the config that differ from the built-in defaults (see `qbtrace.config`)."""
    _endpoints: dict[str, tuple[Kind, Provider]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _hosts: dict[str, Provider] = field(init=False, repr=False, compare=False, default_factory=dict)
    _seen: dict[str, Provider] = field(init=False, repr=False, compare=False, default_factory=dict)
    _disconnect: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    _needles: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    _tenants: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    _authorize_steps: tuple[tuple[str, str], ...] = field(
        init=False, repr=False, compare=False, default=()
    )

    def __post_init__(self) -> None:
        for provider in self.providers:
            for where, kind in provider.endpoints.items():
                self._endpoints.setdefault(where, (kind, provider))
            for host in provider.hosts:
                self._hosts.setdefault(host, provider)
        object.__setattr__(self, "_disconnect", tuple(host_path(u) for u in self.disconnect_urls))
        tenants = tuple(dict.fromkeys(p.tenant_param for p in self.providers if p.tenant_param))
        object.__setattr__(self, "_tenants", tenants)
        steps = [host_path(p.authorize_endpoint) for p in self.providers if p.authorize_endpoint]
        object.__setattr__(self, "_authorize_steps", tuple(_split(w) for w in steps))
        object.__setattr__(self, "_needles", self._make_needles())

    def _make_needles(self) -> tuple[str, ...]:
        # a URL's path; "/" (every request: slower, still right) for one at the root of its
        # host, since the flow-file reader and the addon pre-filter on the path alone
        urls = [
            u
            for p in self.providers
            for u in (p.token_endpoint, p.authorize_endpoint, p.revoke_endpoint)
            if u
        ]
        paths = [split(u).path.rstrip("/") or "/" for u in (*urls, *self.disconnect_urls)]
        patterns = [n for p in self.providers for n in p.needles]
        found = (*paths, *patterns, "code=", *(f"{t}=" for t in self._tenants))
        return tuple(dict.fromkeys(n for n in found if n))

    @property
    def outage_window(self) -> float:
        """The widest outage window of the providers: how far back failures are kept live."""
        return max(p.outage_window for p in self.providers)

    @property
    def default(self) -> Provider:
        """The provider `[provider]` tunes, and of exchanges on no provider's host."""
        return self.providers[0]

    def tuned(self, **changes: Any) -> Profile:
        """This profile with the default provider's parameters changed (tests, benchmarks)."""
        return replace(self, providers=(replace(self.default, **changes), *self.providers[1:]))

    def kind_of(self, method: str, url: str) -> Kind | None:
        """The OAuth role of a request, or None for unrelated traffic (the common, fast case)."""
        if not any(n in url for n in self._needles):
            return None
        where = host_path(url)
        hit = self._endpoints.get(where)
        if hit is None and self._authorize_step(where):
            return Kind.AUTHORIZE
        if hit is None and where in self._disconnect:
            return Kind.DISCONNECT
        kind = hit[0] if hit is not None else self._pattern_kind(where)
        if kind is not None:
            posted = kind not in (Kind.TOKEN, Kind.REVOKE) or method.upper() == "POST"
            return kind if posted else None
        parts = split(url)
        names = query_names(parts.query)
        tenant = any(t in names for t in self._tenants)
        if method.upper() == "GET" and "code" in names and ("state" in names or tenant):
            return Kind.CALLBACK
        if tenant and "disconnect" in parts.path.lower():
            # an unconfigured Disconnect URL, recognised by its usual name and a tenant id
            return Kind.DISCONNECT
        return None

    def _pattern_kind(self, where: str) -> Kind | None:
        """The role a provider gives a URL of its host that no endpoint names exactly."""
        owner = self._hosts.get(where.split("/", 1)[0])
        return owner.endpoint_kind(where) if owner is not None else None

    def _authorize_step(self, where: str) -> bool:
        """A step of the consent flow on an authorize host: a path that contains the
        authorize endpoint's (`/app/connect/oauth2`, `/connect/oauth2/consent`), whose 3xx
        answers may carry the code when the callback itself is not in the capture."""
        here, there = _split(where)
        return any(
            path and here == host and f"/{path}/" in f"/{there}/"
            for host, path in self._authorize_steps
        )

    def provider_of(self, url: str) -> Provider:
        """The provider whose endpoints are on the URL's host; the default one otherwise."""
        found = self._seen.get(url)
        if found is None:
            if len(self._seen) >= SEEN_LIMIT:
                self._seen.clear()  # exchange URLs carry no query: few distinct ones
            found = self._seen[url] = self._hosts.get(host_of(url), self.default)
        return found

    def request_id_headers(self) -> tuple[dict[str, str], str]:
        """Host → the header carrying its provider's request id, and the default provider's:
        `provider_of(url).request_id_header` for a process that has no profile."""
        hosts = {host: p.request_id_header or "" for host, p in self._hosts.items()}
        return hosts, self.default.request_id_header or ""

    def provider_for(self, x: Exchange) -> Provider:
        return self.provider_of(x.url)

    def named(self, name: str) -> Provider:
        """A provider of this profile by name (a built-in one when not configured here)."""
        for provider in self.providers:
            if provider.name == name:
                return provider
        return BUILTIN.get(name, self.default)

    def tenant_of(self, fields: Mapping[str, object]) -> object:
        """The tenant id among a callback's or Disconnect URL's fields, or None."""
        for name in self._tenants:
            if name in fields:
                return fields[name]
        return None

    @property
    def needles(self) -> tuple[str, ...]:
        """Substrings one of which every URL `kind_of` accepts contains: the fast pre-filter."""
        return self._needles

    def is_configured_disconnect(self, url: str) -> bool:
        return host_path(url) in self._disconnect

    def environment_of(self, client_id: str | None) -> str | None:
        return self.client_ids.get(client_id or "")


def _split(where: str) -> tuple[str, str]:
    """`host[:port]/path` → (host[:port], path without its leading slash)."""
    host, _, path = where.partition("/")
    return host, path


def __getattr__(name: str) -> Any:
    """`load_profile` and `profile_from_dict` moved to `qbtrace.config`; the old imports of
    branches written before keep working."""
    if name in ("load_profile", "profile_from_dict"):
        from qbtrace import config

        return getattr(config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
