"""Who an id_token names: its `sub` claim, read at the edge and kept only as a tag.

Providers that limit live refresh tokens per user and client (Google) can only be reasoned
about per user; the user is visible on the wire only inside the id_token an OpenID Connect
code exchange returns. The token itself is a credential and is tagged whole; its subject is
an account id (personal data, not a credential), which the reader tags as `user:` so rules
can compare users without any output holding one.
"""

from __future__ import annotations

import binascii

import msgspec

MAX_PAYLOAD = 16_384
"""Longer payloads are not decoded (no id_token comes near it; the work stays bounded)."""
MAX_SUBJECT = 255


def subject(id_token: str) -> str | None:
    """The `sub` claim of a JWT's payload, unverified (only to tell users apart), or None."""
    parts = id_token.split(".")
    if len(parts) != 3 or not parts[1] or len(parts[1]) > MAX_PAYLOAD:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        raw = binascii.a2b_base64(payload.replace("-", "+").replace("_", "/"), strict_mode=True)
        claims = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) and 0 < len(sub) <= MAX_SUBJECT else None
