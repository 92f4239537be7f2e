"""`qbtrace sanitize app.log`: the log with every secret replaced by its keyed stand-in.

Lines are copied byte for byte except the values of secret fields, in whichever spelling
the log has them: JSON (`"refresh_token":"RT1-…"`), JSON escaped in a string, Node's
`util.inspect` (`refresh_token: 'RT1-…'`), form bodies and URLs (`refresh_token=…&`),
`Authorization: Basic …` (the client id stays, the secret is replaced) and `Bearer …`, and
cookies. Each value goes through the HAR sanitizer's `Sanitizer`, so equal values stay equal
and the copy analyzes the same. The file is streamed in windows: memory stays bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from qbtrace.redact import Redactor
from qbtrace.sanitize import Sanitizer, _basic, _cookie
from qbtrace.sources import sniff
from qbtrace.sources.build import SECRET_PARAMS

WINDOW = 8 << 20
CAMEL = {
    "refreshToken": "refresh_token",
    "accessToken": "access_token",
    "idToken": "id_token",
    "clientSecret": "client_secret",
    "authCode": "code",
}
NAMES = "|".join(sorted((*SECRET_PARAMS, *CAMEL), key=len, reverse=True))
FIELD = re.compile(
    rf"(?P<pre>\b(?P<name>{NAMES})\\*[\"']?\s*[:=]\s*\\*[\"']?)(?P<value>[^\"'\\\s,;&{{}}\[\]()<>]+)"
)
BASIC = re.compile(r"\b(Basic\s+)([A-Za-z0-9+/=]{8,})")
BEARER = re.compile(r"\b(Bearer\s+)([A-Za-z0-9._~+/=-]{8,})")
COOKIE = re.compile(r"(?i)\b((?:set-)?cookie[\"']?\s*[:=]\s*[\"']?)([^\"'\n]+)")
SHORT_NUMBER = 8
"""`code: 400` (an exception code) and `state=2` are no secrets: short numbers stay."""


def is_log(path: Path) -> bool:
    kind, _ = sniff(path, path.name)
    return kind == "log"


def sanitize_log_file(src: Path, dst: Path, redactor: Redactor) -> dict[str, int]:
    """Write the sanitized copy of the log `src` to `dst`; counts of replaced values by kind."""
    _, data = sniff(src, src.name)
    s = Sanitizer(redactor)
    with dst.open("wb") as out:
        sanitize_stream(_windows(data), out, s)
    return dict(sorted(s.counts.items()))


def _windows(data: memoryview | bytes) -> Iterator[bytes]:
    """The data in pieces that end at a newline (a secret never spans two pieces)."""
    start, total = 0, len(data)
    while start < total:
        end = min(start + WINDOW, total)
        chunk = bytes(data[start:end])
        if end < total:
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                chunk = chunk[: cut + 1]
        start += len(chunk)
        yield chunk


def sanitize_stream(chunks: Iterator[bytes], out: BinaryIO, s: Sanitizer) -> None:
    for chunk in chunks:
        # surrogateescape: bytes that are not UTF-8 are written back exactly as they were
        text = chunk.decode("utf-8", "surrogateescape")
        out.write(sanitize_text(text, s).encode("utf-8", "surrogateescape"))


def sanitize_text(text: str, s: Sanitizer) -> str:
    text = BASIC.sub(lambda m: m.group(1) + _basic(m.group(2), s), text)
    text = BEARER.sub(lambda m: m.group(1) + s.value("authorization", m.group(2)), text)
    text = COOKIE.sub(lambda m: m.group(1) + _cookies(m.group(2), s), text)
    return FIELD.sub(lambda m: _field(m, s), text)


def _field(hit: re.Match[str], s: Sanitizer) -> str:
    name = CAMEL.get(hit.group("name"), hit.group("name"))
    value = hit.group("value")
    if value.isdigit() and len(value) < SHORT_NUMBER:
        return hit.group(0)
    return hit.group("pre") + s.field(name, value)


def _cookies(text: str, s: Sanitizer) -> str:
    return "; ".join(_cookie(pair, s) for pair in text.split("; "))
