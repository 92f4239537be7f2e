"""The provider profile (QuickBooks defaults) and the app's config that overrides it.

Facts the domain notes mark UNVERIFIED (code lifetime, rotation grace) are parameters here,
never constants in the rules.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl

from qbtrace.errors import ConfigError
from qbtrace.model import Kind
from qbtrace.urls import malformed, split
from qbtrace.urls import port as port_of

QUICKBOOKS_TOKEN = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
QUICKBOOKS_AUTHORIZE = "https://appcenter.intuit.com/connect/oauth2"
QUICKBOOKS_REVOKE = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"


DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_SETTING = 1e10
"""Lifetimes and windows above this (three centuries of seconds) are typing errors, as are
`nan` and `inf`, which TOML allows and every comparison would silently get wrong."""


def host_path(url: str) -> str:
    """`host[:port]/path`, host lowercased, default port and trailing slash dropped: how
    endpoints are compared (a mock on localhost:8080 is not the one on :9090)."""
    parts = split(url.strip())
    port = port_of(parts)
    where = (parts.hostname or "").lower()
    if port is not None and port != DEFAULT_PORTS.get(parts.scheme.lower()):
        where += f":{port}"
    return f"{where}{parts.path.rstrip('/')}"


def query_names(query: str) -> set[str]:
    return {name for name, _ in parse_qsl(query, keep_blank_values=True)}


@dataclass(frozen=True)
class Profile:
    """Endpoints, lifetimes and the app's registered facts; every field can be overridden."""

    token_endpoint: str = QUICKBOOKS_TOKEN
    authorize_endpoint: str = QUICKBOOKS_AUTHORIZE
    revoke_endpoint: str = QUICKBOOKS_REVOKE
    access_token_lifetime: float = 3600
    refresh_token_lifetime: float = 8_726_400
    """Rolling lifetime used when the issuing response has no x_refresh_token_expires_in."""
    rotation_grace: float = 0
    """How long a superseded refresh token is still accepted (Intuit today: 0)."""
    legacy_rotation_grace: float = 86_400
    """The 24 h grace of older Intuit documents: replays sooner than this are only `likely`."""
    code_lifetime: float = 600
    outage_window: float = 300
    outage_min_lineages: int = 3
    race_window: float = 0
    """Extra seconds around an in-flight refresh that still count as overlapping."""
    redirect_uris: tuple[str, ...] = ()
    client_ids: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Known client id -> environment name (development, production)."""
    disconnect_urls: tuple[str, ...] = ()
    _token: str = field(init=False, repr=False, compare=False, default="")
    _authorize: str = field(init=False, repr=False, compare=False, default="")
    _revoke: str = field(init=False, repr=False, compare=False, default="")
    _disconnect: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    _needles: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_token", host_path(self.token_endpoint))
        object.__setattr__(self, "_authorize", host_path(self.authorize_endpoint))
        object.__setattr__(self, "_revoke", host_path(self.revoke_endpoint))
        object.__setattr__(self, "_disconnect", tuple(host_path(u) for u in self.disconnect_urls))
        # a URL's path; "/" (every request: slower, still right) for one at the root of its
        # host, since the flow-file reader and the addon pre-filter on the path alone
        needles = [
            split(u).path.rstrip("/") or "/"
            for u in (
                self.token_endpoint,
                self.authorize_endpoint,
                self.revoke_endpoint,
                *self.disconnect_urls,
            )
        ]
        object.__setattr__(self, "_needles", (*(n for n in needles if n), "code=", "realmId="))

    def kind_of(self, method: str, url: str) -> Kind | None:
        """The OAuth role of a request, or None for unrelated traffic (the common, fast case)."""
        if not any(n in url for n in self._needles):
            return None
        where = host_path(url)
        if where == self._token:
            return Kind.TOKEN if method.upper() == "POST" else None
        if where == self._revoke:
            return Kind.REVOKE if method.upper() == "POST" else None
        if where == self._authorize:
            return Kind.AUTHORIZE
        if where in self._disconnect:
            return Kind.DISCONNECT
        parts = split(url)
        names = query_names(parts.query)
        if method.upper() == "GET" and "code" in names and ("state" in names or "realmId" in names):
            return Kind.CALLBACK
        if "realmId" in names and "disconnect" in parts.path.lower():
            # an unconfigured Disconnect URL, recognised by its usual name and Intuit's realmId
            return Kind.DISCONNECT
        return None

    @property
    def needles(self) -> tuple[str, ...]:
        """Substrings one of which every URL `kind_of` accepts contains: the fast pre-filter."""
        return self._needles

    def is_configured_disconnect(self, url: str) -> bool:
        return host_path(url) in self._disconnect

    def environment_of(self, client_id: str | None) -> str | None:
        return self.client_ids.get(client_id or "")


NUMBER_FIELDS = {f.name for f in fields(Profile) if f.init and f.type in ("float", "int")}


def load_profile(path: Path | None) -> Profile:
    """The QuickBooks profile, overridden by `path` or by ./qbtrace.toml when it exists."""
    if path is None:
        local = Path("qbtrace.toml")
        if not local.is_file():
            return Profile()
        path = local
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read config: {exc.__class__.__name__}", source=str(path)
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from exc
    return profile_from_dict(data, str(path))


def profile_from_dict(data: Mapping[str, Any], source: str = "config") -> Profile:
    """Apply `[provider]` and `[app]` tables to the QuickBooks defaults."""
    changes: dict[str, Any] = {}
    unknown = set(data) - {"provider", "app"}
    if unknown:
        raise ConfigError(
            f"unknown table [{sorted(unknown)[0]}]; use [provider] or [app]", source=source
        )
    provider = data.get("provider", {})
    app = data.get("app", {})
    if not isinstance(provider, dict) or not isinstance(app, dict):
        raise ConfigError("[provider] and [app] must be tables", source=source)
    for key, value in provider.items():
        if key in NUMBER_FIELDS:
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not 0 <= value <= MAX_SETTING
            ):
                raise ConfigError(
                    f"provider.{key} must be a number from 0 to {MAX_SETTING:.0e}", source=source
                )
            changes[key] = value
        elif key in ("token_endpoint", "authorize_endpoint", "revoke_endpoint"):
            if not isinstance(value, str) or malformed(value) or not split(value).hostname:
                raise ConfigError(f"provider.{key} must be an absolute URL", source=source)
            changes[key] = value
        else:
            raise ConfigError(f"unknown setting provider.{key}", source=source)
    changes.update(_app_settings(app, source))
    return replace(Profile(), **changes)


def _app_settings(app: Mapping[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("redirect_uris", "disconnect_urls"):
        value = app.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"app.{key} must be a list of URLs", source=source)
        bad = next((v for v in value if malformed(v)), None)
        if bad is not None:
            raise ConfigError(f"app.{key}: {bad[:100]!r} is not a valid URL", source=source)
        out[key] = tuple(value)
    if "disconnect_url" in app:
        if not isinstance(app["disconnect_url"], str) or malformed(app["disconnect_url"]):
            raise ConfigError("app.disconnect_url must be a URL", source=source)
        out["disconnect_urls"] = (*out["disconnect_urls"], app["disconnect_url"])
    ids = app.get("client_ids", {})
    if not isinstance(ids, dict):
        raise ConfigError("app.client_ids must be a table: environment = [ids]", source=source)
    known: dict[str, str] = {}
    for env, values in ids.items():
        listed = [values] if isinstance(values, str) else values
        if not isinstance(listed, list) or not all(isinstance(v, str) for v in listed):
            raise ConfigError(f"app.client_ids.{env} must list strings", source=source)
        for value in listed:
            known[value] = env
    out["client_ids"] = MappingProxyType(known)
    unknown = set(app) - {"redirect_uris", "disconnect_urls", "disconnect_url", "client_ids"}
    if unknown:
        raise ConfigError(f"unknown setting app.{sorted(unknown)[0]}", source=source)
    return out
