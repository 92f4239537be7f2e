"""Other OAuth providers' authorization servers, recognised by their dedicated host names.

An input with no token request of a provider qbtrace is configured for is often a capture of
another provider's sign-in (a "Sign in with Google" beside the app's connection, or the
wrong HAR). Its redirect back to the app (`?code=…&state=…`) looks like a callback, and
without this the advice would be "capture the server's traffic too", which is wrong: the
note says what the traffic is instead. Only hosts that serve nothing but sign-in are listed,
so one match is enough; hosts of the configured providers are left out (their traffic is
analysed); the scan runs only on inputs without a token request (small, usually).
"""

from __future__ import annotations

import re
from collections.abc import Collection

PROVIDERS: dict[str, tuple[str, ...]] = {
    "Google": (r"accounts\.google\.com", r"oauth2\.googleapis\.com"),
    "Microsoft Entra ID": (
        r"login\.microsoftonline\.com",
        r"login\.microsoftonline\.us",
        r"login\.windows\.net",
        r"login\.live\.com",
    ),
    "Xero": (r"login\.xero\.com", r"identity\.xero\.com"),
    "Apple": (r"appleid\.apple\.com",),
    "Salesforce": (r"login\.salesforce\.com", r"test\.salesforce\.com"),
    "Okta": (r"[a-z0-9-]+\.okta(?:preview)?\.com",),
    "Auth0": (r"[a-z0-9-]+(?:\.[a-z]{2})?\.auth0\.com",),
    "GitHub": (r"github\.com/login/oauth",),
    "Facebook": (r"www\.facebook\.com/v[0-9.]+/dialog/oauth", r"graph\.facebook\.com/oauth"),
}
PATTERN = re.compile(
    b"(?<![A-Za-z0-9.-])(?:"
    + b"|".join(
        f"(?P<p{n}>{'|'.join(hosts)})".encode() for n, hosts in enumerate(PROVIDERS.values())
    )
    + b")(?![A-Za-z0-9-]|\\.[A-Za-z0-9])"
)
NAMES = list(PROVIDERS)
LIMIT = 64 << 20
"""Bytes scanned at most: the answer is in the first entries of any sign-in capture."""


def other_providers(data: bytes | memoryview, known: Collection[str] = ()) -> tuple[str, ...]:
    """The other providers whose sign-in hosts appear in `data` (none of the `known`
    hosts), each once with the first host seen: `("Google (accounts.google.com)",)`."""
    found: dict[str, str] = {}
    for match in PATTERN.finditer(memoryview(data)[:LIMIT]):
        host = match.group(0).decode("ascii").split("/")[0].lower()
        if host in known:
            continue
        found.setdefault(NAMES[int(str(match.lastgroup)[1:])], host)
        if len(found) == len(NAMES):
            break
    return tuple(f"{name} ({host})" for name, host in found.items())
