"""URL splitting that never raises: inputs and configs hold malformed URLs.

`urllib.parse.urlsplit` raises ValueError for an unclosed IPv6 bracket (`https://[::1/cb`),
and `SplitResult.port` for a port that is not a number below 65536. Here such a URL still
splits (its brackets read as plain characters), so it simply matches no endpoint, and
`malformed` says so for the warning a reader gives.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urljoin, urlsplit


def split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError:
        return urlsplit(url.replace("[", "%5B").replace("]", "%5D"))


def port(parts: SplitResult) -> int | None:
    """The URL's port; None when it has none or the one it has is not a valid port."""
    try:
        return parts.port
    except ValueError:
        return None


def malformed(url: str) -> bool:
    """True when `urlsplit` refuses the URL or its port is not a port."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a bad port)
    except ValueError:
        return True
    return False


def join(base: str, ref: str) -> str:
    """`urljoin`, or `ref` itself when either URL is malformed."""
    try:
        return urljoin(base, ref)
    except ValueError:
        return ref


def without_userinfo(netloc: str) -> str:
    """`host[:port]` of a netloc: `user:password@` is a credential, never an output."""
    return netloc.rpartition("@")[2]
