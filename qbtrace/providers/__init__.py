"""The built-in providers, one module each; `qbtrace.toml` may add custom RFC 6749 ones.

A provider module defines `PROVIDER`, an instance of `Provider` (or of a subclass that reads
what its server says beyond RFC 6749), named like the module. Every module of this package
but `base` is one: adding a provider is that module, its tests and its goldens. The default
provider (`DEFAULT_NAME`) is the one `[provider]` of qbtrace.toml tunes, and the one an
exchange belongs to when its host is no provider's (the app's own callback, say).
"""

from __future__ import annotations

import importlib
import pkgutil

from qbtrace.providers.base import GENERIC_WORDS, Provider, Stated, host_of, host_path

DEFAULT_NAME = "quickbooks"
MODULES: tuple[str, ...] = (
    DEFAULT_NAME,
    *sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in ("base", DEFAULT_NAME)),
)
"""Built-in provider modules under `qbtrace/providers/`, found there; the default first."""


def _load(module: str) -> Provider:
    provider = importlib.import_module(f"qbtrace.providers.{module}").PROVIDER
    if not isinstance(provider, Provider) or provider.name != module:
        raise RuntimeError(f"provider module {module} must define PROVIDER named {module!r}")
    return provider


BUILTIN: dict[str, Provider] = {name: _load(name) for name in MODULES}
DEFAULT: Provider = BUILTIN[MODULES[0]]

KEPT_HEADERS: tuple[str, ...] = tuple(
    dict.fromkeys(h for p in BUILTIN.values() for h in p.kept_headers)
)
"""Headers some built-in provider's rules read; every reader keeps them."""
REPLY_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(f for p in BUILTIN.values() for f in p.reply_fields)
)
"""Answer fields beyond RFC 6749's that some built-in provider announces lifetimes in."""
REFRESH_LIFETIME_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            *(p.refresh_expires_field for p in BUILTIN.values() if p.refresh_expires_field),
            "refresh_token_expires_in",
        ]
    )
)
"""Answer fields announcing a refresh token's lifetime: the built-in providers', then the
name several servers use beyond RFC 6749 (what a custom provider gets)."""
HARD_LIFETIME_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(p.hard_expires_field for p in BUILTIN.values() if p.hard_expires_field)
)
TENANT_PARAMS: tuple[str, ...] = tuple(
    dict.fromkeys(p.tenant_param for p in BUILTIN.values() if p.tenant_param)
)


def tenant_in(url: str) -> str | None:
    """The tenant a built-in provider's endpoint URL names in its path (Microsoft's): a
    public id, which the sanitizer keeps."""
    for provider in BUILTIN.values():
        found = provider.tenant_in(url)
        if found:
            return found
    return None


__all__ = [
    "BUILTIN",
    "DEFAULT",
    "GENERIC_WORDS",
    "HARD_LIFETIME_FIELDS",
    "KEPT_HEADERS",
    "MODULES",
    "REFRESH_LIFETIME_FIELDS",
    "REPLY_FIELDS",
    "TENANT_PARAMS",
    "Provider",
    "Stated",
    "host_of",
    "host_path",
    "tenant_in",
]
