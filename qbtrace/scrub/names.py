"""Which field, header and cookie names mean a secret, in any spelling or case.

Names are compared folded: lower case without `-`, `_`, `.` or spaces, so `X-Api-Key`,
`api_key`, `apiKey` and `APIKEY` are one name. A name means a secret when it is one of the
short names apps use for keys and sessions (`key`, `sig`, `sid`...) or contains a word that
only secrets are named with (`token`, `secret`, `password`...), unless it names something
about a secret rather than the secret itself (`token_type`, `expires_in`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from qbtrace.sources.build import SECRET_PARAMS

EXACT = frozenset(
    {
        "key",
        "sig",
        "sid",
        "ssid",
        "sess",
        "session",
        "sessid",
        "pass",
        "pwd",
        "pin",
        "otp",
        "auth",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "code",
        "state",
        "nonce",
        "ticket",
        "hash",
        "jwt",
        "bearer",
        "assertion",
        "signature",
        "credential",
        "credentials",
        "xauth",
        "xsignature",
        "saml",
        "samlresponse",
        "samlrequest",
    }
)
"""Whole names that mean a secret (a `key`, a signed `sig`, a session `sid`)."""
WORDS = (
    "token",
    "secret",
    "passw",
    "apikey",
    "accesskey",
    "privatekey",
    "secretkey",
    "sessionkey",
    "session",
    "sessid",
    "credential",
    "signature",
    "jwt",
    "bearer",
    "csrf",
    "xsrf",
    "auth",
)
"""Parts of a name that mean a secret wherever they stand (`x-goog-api-key`, `accessToken`,
`JSESSIONID`, `x-csrf-token`, `x-amz-security-token`)."""
NOT_SECRET = re.compile(
    r"(type|expiresin|expires|expiry|expiration|ttl|url|uri|endpoint|path|name|id|kind|length"
    r"|method|methods|scheme|hint|format|supported|version|mode|enabled|required|status)$"
)
"""Endings that name something about a secret (`token_type`, `refresh_token_expires_in`,
`token_endpoint`, `auth_method`), never the secret itself."""
NEVER = frozenset(
    {
        "authority",
        "author",
        "authors",
        "authored",
        "oauth",
        "clientid",
        "redirecturi",
        "scope",
        "granttype",
        "responsetype",
        "keywords",
        "keyword",
        "keys",
    }
)
"""Names the word rules would catch that hold no secret (`:authority` is the host)."""
FOLD = re.compile(r"[\s_.:\-\[\]]+")


def fold(name: str) -> str:
    """The name as compared: lower case, without separators."""
    return FOLD.sub("", name.lower())


def oauth_kind(name: str) -> str | None:
    """The tag kind of an OAuth field qbtrace analyzes (`refresh_token` → `rt`), else None."""
    return SECRET_PARAMS.get(name)


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """True when a field, header or cookie of this name holds a secret."""
    if name in SECRET_PARAMS:
        return True
    folded = fold(name)
    if not folded or folded in NEVER:
        return False
    if folded in EXACT:
        return True
    if folded.endswith(("sessionid", "sessid", "sid")):
        return True  # `JSESSIONID`, `PHPSESSID`, `connect.sid`: a session, despite the `id`
    if NOT_SECRET.search(folded):
        return False
    return folded.endswith("key") or any(w in folded for w in WORDS)
