"""qbtrace.toml → `Profile`: provider overrides, custom providers, the app's facts.

    [provider]              # the default provider: any parameter
    rotation_grace = 86400
    [providers.NAME]        # a built-in provider by its name: any parameter
    [providers.acme]        # a custom RFC 6749 provider: token_endpoint is required
    token_endpoint = "https://login.acme.example/oauth/token"
    rotation_grace = 1800
    [app]
    redirect_uris = ["https://app.example.com/callback"]

Every setting that differs from the built-in defaults is recorded in `Profile.overrides`,
so the outputs can say which verdicts a config may have changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec

from qbtrace.errors import ConfigError
from qbtrace.profile import Profile
from qbtrace.providers import BUILTIN, DEFAULT, Provider
from qbtrace.providers.base import (
    BOOL_FIELDS,
    INT_FIELDS,
    NUMBER_FIELDS,
    TEXT_FIELDS,
    URL_FIELDS,
)
from qbtrace.urls import malformed

LOCAL = Path("qbtrace.toml")
TABLES = ("provider", "providers", "app")


def load_profile(path: Path | None, *, local: bool = True) -> Profile:
    """The built-in providers, overridden by `path`, else by ./qbtrace.toml when `local` and it
    exists (`Profile.config_implicit` says so, for the outputs to disclose)."""
    implicit = False
    if path is None:
        if not local or not LOCAL.is_file():
            return Profile()
        path, implicit = LOCAL, True
    import tomllib  # only when there is a config to read: `analyze` starts without it

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("no such config file", source=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", source=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config ({exc.strerror or exc})", source=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("config is not UTF-8 text", source=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from exc
    profile = profile_from_dict(data, str(path))
    return replace(profile, config_file=str(path), config_implicit=implicit)


def profile_from_dict(data: Mapping[str, Any], source: str = "config") -> Profile:
    """Apply `[provider]`, `[providers.*]` and `[app]` tables to the built-in defaults."""
    unknown = set(data) - set(TABLES)
    if unknown:
        raise ConfigError(
            f"unknown table [{sorted(unknown)[0]}]; use [provider], [providers.NAME] or [app]",
            source=source,
        )
    tables = {name: data.get(name, {}) for name in TABLES}
    if not all(isinstance(t, dict) for t in tables.values()):
        raise ConfigError("[provider], [providers] and [app] must be tables", source=source)
    overrides: dict[str, object] = {}
    providers = dict(BUILTIN)
    default = _tuned(DEFAULT, tables["provider"], "provider", "", overrides, source)
    providers[DEFAULT.name] = default
    for name, table in tables["providers"].items():
        providers[name] = _provider(name, table, providers, overrides, source)
    app = _app_settings(tables["app"], source, overrides)
    return Profile(
        providers=tuple(providers.values()), overrides=MappingProxyType(overrides), **app
    )


def _provider(
    name: str,
    table: object,
    known: Mapping[str, Provider],
    overrides: dict[str, object],
    source: str,
) -> Provider:
    where = f"providers.{name}"
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table", source=source)
    prefix = "" if name == DEFAULT.name else f"{name}."
    if name in known:
        return _tuned(known[name], table, where, prefix, overrides, source)
    if not name.isidentifier():
        raise ConfigError(f"[{where}]: a provider name is letters, digits and _", source=source)
    if "token_endpoint" not in table:
        raise ConfigError(
            f"[{where}] is no built-in provider ({', '.join(BUILTIN)}): it needs a "
            "token_endpoint to define a custom one",
            source=source,
        )
    custom = Provider(name=name, token_endpoint=str(table["token_endpoint"]))
    overrides[f"{name}.token_endpoint"] = custom.token_endpoint
    return _tuned(custom, table, where, prefix, overrides, source, always=True)


def _tuned(
    base: Provider,
    table: Mapping[str, Any],
    where: str,
    prefix: str,
    overrides: dict[str, object],
    source: str,
    always: bool = False,
) -> Provider:
    """`base` with the table's settings; those that change it go into `overrides`."""
    changes: dict[str, Any] = {k: _setting(where, k, v, source) for k, v in table.items()}
    for key, value in changes.items():
        if always or getattr(base, key) != value:
            overrides[f"{prefix}{key}"] = value
    return replace(base, **changes)


NUMBER = Annotated[float, msgspec.Meta(ge=0, le=1e12)]
"""Seconds or a count: never negative, NaN or infinite (TOML allows `nan` and `inf`)."""
COUNT = Annotated[int, msgspec.Meta(ge=0, le=10**9)]
URL = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]+")]
"""An absolute URL: a scheme and a host (the host is checked once more by `_url`)."""
URLS = list[URL] | URL


def _setting(where: str, key: str, value: object, source: str) -> object:
    name = f"{where}.{key}"
    if key in NUMBER_FIELDS:
        if key in INT_FIELDS:
            return _typed(value, COUNT, name, "must be a non-negative whole number", source)
        return _typed(value, NUMBER, name, "must be a non-negative number", source)
    if key in BOOL_FIELDS:
        return _typed(value, bool, name, "must be true or false", source)
    if key in URL_FIELDS:
        return _url(_typed(value, URL, name, "must be an absolute URL", source), name, source)
    if key in TEXT_FIELDS:
        return _typed(value, str, name, "must be a string", source)
    raise ConfigError(f"unknown setting {name}", source=source)


def _typed(value: object, form: Any, name: str, must: str, source: str) -> Any:
    """`value` validated by type and form (msgspec); ConfigError naming the setting (and
    the item of a list or table) otherwise."""
    try:
        return msgspec.convert(value, form, strict=True)
    except msgspec.ValidationError as exc:
        at = str(exc).rpartition(" - at `$")[2].rstrip("`") if " - at `$" in str(exc) else ""
        raise ConfigError(f"{name}{at} {must}", source=source) from None


def _url(value: str, name: str, source: str) -> str:
    """urlsplit raises on an unclosed IPv6 bracket, and a host can still be empty."""
    try:
        host = urlsplit(value).hostname
    except ValueError as exc:
        raise ConfigError(f"{name} is not a valid URL ({exc})", source=source) from None
    if malformed(value):  # a port that is no port (`:99999999`)
        raise ConfigError(f"{name} is not a valid URL (its port)", source=source)
    if not host:
        raise ConfigError(f"{name} must be an absolute URL", source=source)
    return value


def _app_settings(
    app: Mapping[str, Any], source: str, overrides: dict[str, object]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("redirect_uris", "disconnect_urls"):
        value = _typed(app.get(key, []), URLS, f"app.{key}", "must be a list of URLs", source)
        listed = [value] if isinstance(value, str) else value
        out[key] = tuple(_url(url, f"app.{key}", source) for url in listed)
    if "disconnect_url" in app:
        url = _typed(app["disconnect_url"], URL, "app.disconnect_url", "must be a URL", source)
        out["disconnect_urls"] = (*out["disconnect_urls"], _url(url, "app.disconnect_url", source))
    out["client_ids"] = MappingProxyType(_client_ids(app.get("client_ids", {}), source))
    unknown = set(app) - {"redirect_uris", "disconnect_urls", "disconnect_url", "client_ids"}
    if unknown:
        raise ConfigError(f"unknown setting app.{sorted(unknown)[0]}", source=source)
    for key in ("redirect_uris", "disconnect_urls"):
        if out[key]:
            overrides[f"app.{key}"] = list(out[key])
    if out["client_ids"]:
        # how many per environment: the ids themselves are shown only as tags elsewhere
        envs = list(out["client_ids"].values())
        overrides["app.client_ids"] = {env: envs.count(env) for env in dict.fromkeys(envs)}
    return out


def _client_ids(ids: object, source: str) -> dict[str, str]:
    if not isinstance(ids, dict):
        raise ConfigError("app.client_ids must be a table: environment = [ids]", source=source)
    known: dict[str, str] = {}
    for env, values in ids.items():
        name = f"app.client_ids.{env}"
        listed = _typed(values, list[str] | str, name, "must list strings", source)
        for value in [listed] if isinstance(listed, str) else listed:
            known[value] = env
    return known
