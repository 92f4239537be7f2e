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

import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from qbtrace.errors import ConfigError
from qbtrace.profile import Profile
from qbtrace.providers import BUILTIN, DEFAULT, Provider
from qbtrace.providers.base import NUMBER_FIELDS, TEXT_FIELDS, URL_FIELDS

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
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read config: {exc.__class__.__name__}", source=str(path)
        ) from exc
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


def _setting(where: str, key: str, value: object, source: str) -> object:
    if key in NUMBER_FIELDS:
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}.{key} must be a non-negative number", source=source)
        return value
    if key in URL_FIELDS:
        if not isinstance(value, str) or not urlsplit(value).hostname:
            raise ConfigError(f"{where}.{key} must be an absolute URL", source=source)
        return value
    if key in TEXT_FIELDS:
        if not isinstance(value, str):
            raise ConfigError(f"{where}.{key} must be a string", source=source)
        return value
    raise ConfigError(f"unknown setting {where}.{key}", source=source)


def _app_settings(
    app: Mapping[str, Any], source: str, overrides: dict[str, object]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("redirect_uris", "disconnect_urls"):
        value = app.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"app.{key} must be a list of URLs", source=source)
        out[key] = tuple(value)
    if "disconnect_url" in app:
        if not isinstance(app["disconnect_url"], str):
            raise ConfigError("app.disconnect_url must be a URL", source=source)
        out["disconnect_urls"] = (*out["disconnect_urls"], app["disconnect_url"])
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
        listed = [values] if isinstance(values, str) else values
        if not isinstance(listed, list) or not all(isinstance(v, str) for v in listed):
            raise ConfigError(f"app.client_ids.{env} must list strings", source=source)
        for value in listed:
            known[value] = env
    return known
