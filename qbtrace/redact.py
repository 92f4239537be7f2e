"""Keyed tags for secrets: the only form in which a token, code or secret leaves a reader.

A tag is `kind:` plus hex of a keyed BLAKE2b digest, so equal values get equal tags within a
run (and across runs on one machine, since the key is kept), while the value cannot be read
back. Besides the exact tag, a `Secret` carries tags of a canonical form and of prefixes, so
the rules can still recognise an altered value (whitespace, quotes, percent-encoding,
truncation) without ever holding the raw value.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar, cast
from urllib.parse import unquote

T = TypeVar("T")
Defect = Literal[
    "whitespace",
    "quoted",
    "percent-encoded",
    "inner-whitespace",
    "empty",
    "placeholder",
    "access-token-shape",
]
"""How a value departs from the form it was issued in (what `canonical` undid), or why it
cannot be a token at all; `access-token-shape`: a refresh token that looks like a JWT."""
TAG_HEX = 12
HEAD_LENGTHS = (16, 32, 64)
PLACEHOLDERS = frozenset(
    {"undefined", "null", "none", "nil", "nan", "false", "true", "[object object]", "<nil>"}
)
PLACEHOLDER_MAX = max(len(p) for p in PLACEHOLDERS)
QUOTES = "\"'`"
SPACE = re.compile(r"\s")
ASCII_ALTERABLE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\"'`%"
"""Every ASCII character `canonical` may undo: whitespace (as `str.strip` and `\\s` see it),
quotes and `%`. An ASCII value without any of them is its own canonical form."""
CACHE_LIMIT = 1_000_000
MEMO_LIMIT = 10_000
CACHED_LENGTH = 256
"""Values up to this length are memoised (client secrets, codes, refresh tokens come back);
a 1 KB access token is rarely seen twice, and hashing it as a dict key costs as much as the
digest it would save."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret seen on the wire, as tags only."""

    tag: str
    """`kind:hex` of the exact value; equal values, equal tags."""
    canon: str
    """Hex tag of the canonical value (trimmed, unquoted, percent-decoded)."""
    heads: tuple[tuple[int, str], ...]
    """(n, hex tag of the first n canonical characters) for n in HEAD_LENGTHS up to the length."""
    length: int
    """Length of the canonical value, to tell a truncation from an extension."""
    defects: tuple[Defect, ...] = ()
    """How the exact value departs from its canonical form, or why it is malformed."""

    @property
    def hex(self) -> str:
        """The exact value's digest without the kind, to match a value across roles."""
        return self.tag.partition(":")[2]

    @property
    def kind(self) -> str:
        return self.tag.partition(":")[0]

    @property
    def malformed(self) -> bool:
        return any(d in ("empty", "placeholder") for d in self.defects)


def canonical(value: str) -> tuple[str, tuple[Defect, ...]]:
    """The value as it was most likely issued, and the alterations that were undone."""
    if value and _plain(value):
        # `lower()` never shortens a string, so only short values can be placeholders
        if len(value) <= PLACEHOLDER_MAX and value.lower() in PLACEHOLDERS:
            return value, ("placeholder",)
        return value, ()
    defects: list[Defect] = []
    text = value
    if text != text.strip():
        defects.append("whitespace")
        text = text.strip()
    while len(text) >= 2 and text[0] in QUOTES and text[-1] == text[0]:
        defects.append("quoted")
        text = text[1:-1].strip()
    for _ in range(3):
        decoded = unquote(text) if "%" in text else text
        if decoded == text:
            break
        defects.append("percent-encoded")
        text = decoded
    if SPACE.search(text):
        defects.append("inner-whitespace")
        text = SPACE.sub("", text)
    if not text:
        defects.append("empty")
    elif text.lower() in PLACEHOLDERS:
        defects.append("placeholder")
    return text, tuple(dict.fromkeys(defects))


def _plain(value: str) -> bool:
    """True for the common case, a token as issued: ASCII with nothing `canonical` would undo.

    A few substring searches (memchr) instead of a regex scan: about 0.5 µs on a 1 KB token
    instead of 3.5.
    """
    if not value.isascii():
        return False
    for char in ASCII_ALTERABLE:  # noqa: SIM110 (a generator in all() costs a third more)
        if char in value:
            return False
    return True


class Redactor:
    """Turns raw values into tags with one key."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the tag key must not be empty")
        self._key = hashlib.blake2b(key, digest_size=32).digest()
        # keyed state after the key block: `copy()` of it is cheaper than keying anew each time
        self._keyed = hashlib.blake2b(key=self._key, digest_size=8)
        self._cache: dict[tuple[str, str], Secret] = {}
        self._memo: dict[tuple[str, str], object] = {}

    def hexdigest(self, value: str) -> str:
        hasher = self._keyed.copy()
        hasher.update(value.encode("utf-8", "surrogatepass"))
        return hasher.hexdigest()[:TAG_HEX]

    def tag(self, kind: str, value: str) -> str:
        return f"{kind}:{self.hexdigest(value)}"

    def secret(self, kind: str, value: str) -> Secret:
        if len(value) > CACHED_LENGTH:
            return self._secret(kind, value)
        cached = self._cache.get((kind, value))
        if cached is not None:
            return cached
        made = self._secret(kind, value)
        if len(self._cache) < CACHE_LIMIT:
            self._cache[(kind, value)] = made
        return made

    def remember(self, kind: str, value: str, make: Callable[[], T]) -> T:
        """`make()`, memoised under a raw value like the tags (kept here with them, bounded)."""
        key = (kind, value)
        if key in self._memo:
            return cast(T, self._memo[key])
        made = make()
        if len(self._memo) < MEMO_LIMIT:
            self._memo[key] = made
        return made

    def _secret(self, kind: str, value: str) -> Secret:
        canon, defects = canonical(value)
        if kind == "rt" and canon.startswith("eyJ"):
            defects = (*defects, "access-token-shape")
        heads, canon_hex = self._heads_and_digest(canon)
        exact = canon_hex if canon == value else self.hexdigest(value)
        return Secret(f"{kind}:{exact}", canon_hex, heads, len(canon), defects)

    def _heads_and_digest(self, text: str) -> tuple[tuple[tuple[int, str], ...], str]:
        """Digests of the HEAD_LENGTHS prefixes and of the whole text, in one hashing pass.

        The same as `hexdigest` of each prefix: the hash state after a prefix is copied before
        the next piece goes in (UTF-8 encodes piece by piece to the same bytes as the whole).
        """
        hasher = self._keyed.copy()
        heads: list[tuple[int, str]] = []
        done = 0
        for n in HEAD_LENGTHS:
            if n > len(text):
                break
            hasher.update(text[done:n].encode("utf-8", "surrogatepass"))
            heads.append((n, hasher.copy().hexdigest()[:TAG_HEX]))
            done = n
        hasher.update(text[done:].encode("utf-8", "surrogatepass"))
        return tuple(heads), hasher.hexdigest()[:TAG_HEX]


def default_key() -> bytes:
    """QBTRACE_TAG_KEY if set, else a random key kept in the user's config folder.

    A kept key makes tags stable across runs on one machine, so reports can be compared; if
    the folder is not writable the key lives for this run only.
    """
    env = os.environ.get("QBTRACE_TAG_KEY")
    if env:
        return env.encode()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "qbtrace"
    path = base / "tag.key"
    try:
        return path.read_bytes()
    except OSError:
        pass
    key = secrets.token_bytes(32)
    try:
        base.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
    except OSError:
        pass
    return key
