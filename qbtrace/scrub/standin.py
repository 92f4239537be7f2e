"""Keyed stand-ins of the same shape as the secrets they replace.

The stand-in of a value is built from keyed digests of its canonical form (`redact.canonical`)
eight characters at a time, each block from the digest of the canonical prefix up to that
block's end. So equal values stay equal, a truncated value stays a prefix of its original's
stand-in (the 16/32/64-character heads the rules compare still match), the length is kept,
and the wrapper an app added (surrounding whitespace, quotes, percent-encoding, inner
whitespace) is kept around the stand-in: `analyze(sanitize(x))` names the same causes.
Every other secret (a cookie, an API key, a JWT) gets a stand-in made the same way: its
length and punctuation stay, so it is still a valid cookie, header or URL part, and a JWT
still starts with `eyJ` and keeps its dots.
"""

from __future__ import annotations

import base64
import json
import re

from qbtrace.redact import QUOTES, Redactor, canonical
from qbtrace.sources.claims import subject

BLOCK = 8
KEPT_CHARS = "-._~"
"""Punctuation kept in place: token structure (JWT dots, `RT1-` dashes), not secret."""
PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


class StandIns:
    """Stand-ins made with one key: the same value always gets the same stand-in."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def core(self, canon: str) -> str:
        """The stand-in of a canonical value: keyed hex, kept punctuation, same length."""
        out = []
        for start in range(0, len(canon), BLOCK):
            end = min(start + BLOCK, len(canon))
            digest = self.redactor.hexdigest("sanitize\0" + canon[:end])
            for i in range(start, end):
                out.append(canon[i] if canon[i] in KEPT_CHARS else digest[i - start])
        if canon.startswith("eyJ"):  # a JWT's header prefix: keeps access/refresh swaps visible
            return "eyJ" + "".join(out)[3:]
        return "".join(out)

    def with_user(self, raw: str, fake: str) -> str:
        """An id_token's stand-in `fake` whose payload names the user by a stand-in of its
        `sub`, so the copy still tells users apart (a per-user limit reads the same)."""
        user = subject(raw.strip())
        parts = fake.split(".")
        if user is None or len(parts) != 3:
            return fake
        parts[1] = _payload(self.core(user), len(parts[1])) or parts[1]
        return ".".join(parts)

    def value(self, raw: str) -> str:
        """The raw value with its canonical core replaced and its wrapper kept; a placeholder
        (`undefined`, `null`, empty) is no secret and stays."""
        canon, defects = canonical(raw)
        if not defects:
            return self.core(canon)  # the common case: the value as it was issued
        if "empty" in defects or "placeholder" in defects:
            return raw
        inner = canon.strip(QUOTES)  # quotes left after percent-decoding stay quotes
        a = canon.index(inner) if inner else 0
        fake = canon[:a] + self.core(inner) + canon[a + len(inner) :]
        stripped = raw.strip()
        lead, trail = raw[: len(raw) - len(raw.lstrip())], raw[len(raw.rstrip()) :]
        quotes = 0
        while (
            len(stripped) - 2 * quotes >= 2
            and stripped[quotes] in QUOTES
            and (stripped[-1 - quotes] == stripped[quotes])
        ):
            quotes += 1
        core = stripped[quotes : len(stripped) - quotes]
        closing = stripped[len(stripped) - quotes :] if quotes else ""
        return lead + stripped[:quotes] + _respell(core, fake) + closing + trail


def _respell(core: str, fake: str) -> str:
    """`fake` spelled like `core`: same percent-escapes and inner whitespace at same places."""
    out, i, j = [], 0, 0
    while j < len(core):
        if PERCENT.match(core, j):
            out.append(f"%{ord(fake[i]) if i < len(fake) else 48:02X}")
            i, j = i + 1, j + 3
        elif core[j].isspace():
            out.append(core[j])
            j += 1
        else:
            out.append(fake[i] if i < len(fake) else "")
            i, j = i + 1, j + 1
    return "".join(out) + fake[i:]


def _payload(user: str, width: int) -> str | None:
    """A JWT payload naming `user` whose base64 is `width` characters long, as the original's
    was (lengths are kept); None when it cannot be that short."""
    for pad in range(width):
        claims = json.dumps({"sub": user, "_": "0" * pad}, separators=(",", ":")).encode()
        text = base64.urlsafe_b64encode(claims).decode().rstrip("=")
        if len(text) >= width:
            return text if len(text) == width else None
    return None
