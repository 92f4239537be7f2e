"""`qbtrace sanitize`: a HAR with every secret replaced by a keyed stand-in of the same shape.

The input is anything `qbtrace analyze` reads: a HAR is sanitized as it is; a mitmproxy flow
file or a qbtrace capture is first converted to a HAR (`qbtrace.export`).

The stand-in of a value is built from keyed digests of its canonical form (`redact.canonical`)
eight characters at a time, each block from the digest of the canonical prefix up to that
block's end. So equal values stay equal, a truncated value stays a prefix of its original's
stand-in (the 16/32/64-character heads the rules compare still match), the length is kept,
and the wrapper an app added (surrounding whitespace, quotes, percent-encoding, inner
whitespace) is kept around the stand-in: `analyze(sanitize(x))` names the same causes.
Placeholders (`undefined`, `null`, empty) are not secrets and stay as they are.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from qbtrace.redact import QUOTES, Redactor, canonical
from qbtrace.sources import to_har
from qbtrace.sources.build import SECRET_PARAMS
from qbtrace.sources.har import body_text

BLOCK = 8
KEPT_CHARS = "-._~"
"""Punctuation kept in place: token structure (JWT dots, `RT1-` dashes), not secret."""
URL_HEADERS = frozenset({"location", "referer", ":path", "content-location", "refresh"})
"""Headers that may carry a URL with a code or token in its query (`:path`: Chrome's HTTP/2)."""
PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


class Sanitizer:
    """Replaces secrets with keyed stand-ins and counts what it replaced, per kind."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.counts: Counter[str] = Counter()

    def stand_in(self, canon: str) -> str:
        out = []
        for start in range(0, len(canon), BLOCK):
            end = min(start + BLOCK, len(canon))
            digest = self.redactor.hexdigest("sanitize\0" + canon[:end])
            for i in range(start, end):
                out.append(canon[i] if canon[i] in KEPT_CHARS else digest[i - start])
        if canon.startswith("eyJ"):  # a JWT's header prefix: keeps access/refresh swaps visible
            return "eyJ" + "".join(out)[3:]
        return "".join(out)

    def value(self, kind: str, raw: str) -> str:
        """The raw value with its canonical core replaced and its wrapper kept."""
        canon, defects = canonical(raw)
        if "empty" in defects or "placeholder" in defects:
            return raw
        self.counts[kind] += 1
        inner = canon.strip(QUOTES)  # quotes left after percent-decoding stay quotes
        a = canon.index(inner) if inner else 0
        fake = canon[:a] + self.stand_in(inner) + canon[a + len(inner) :]
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

    def field(self, name: str, raw: str) -> str:
        return self.value(name, raw) if name in SECRET_PARAMS else raw


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


def _form(text: str, sanitize: Callable[[str, str], str]) -> str:
    """A form or query string with secret fields replaced; other fields byte for byte."""
    parts = []
    for pair in text.split("&"):
        name, eq, raw = pair.partition("=")
        key = unquote_plus(name)
        if eq and key in SECRET_PARAMS:
            raw = quote(sanitize(key, unquote_plus(raw)), safe="")
        parts.append(f"{name}{eq}{raw}")
    return "&".join(parts)


def _json(data: Any, s: Sanitizer) -> Any:
    if isinstance(data, dict):
        return {k: s.field(k, v) if isinstance(v, str) else _json(v, s) for k, v in data.items()}
    if isinstance(data, list):
        return [_json(v, s) for v in data]
    return data


def _body(text: str, s: Sanitizer) -> str:
    if text.strip().startswith(("{", "[")):
        try:
            return json.dumps(_json(json.loads(text), s), ensure_ascii=False)
        except ValueError:
            pass
    return _form(text, s.field)


def _url(url: str, s: Sanitizer) -> str:
    parts = urlsplit(url)
    if not parts.query and not parts.fragment:
        return url
    query, fragment = _form(parts.query, s.field), _form(parts.fragment, s.field)
    return urlunsplit(parts._replace(query=query, fragment=fragment))


def _basic(cred: str, s: Sanitizer) -> str:
    try:
        decoded = base64.b64decode(cred, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return s.value("authorization", cred)  # keeps its defect: same length, same punctuation
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return base64.b64encode(s.value("authorization", decoded).encode()).decode()
    secret = s.value("client_secret", secret)
    return base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _header(name: str, value: str, s: Sanitizer) -> str:
    low = name.lower()
    if low == "authorization":
        scheme, space, cred = value.partition(" ")
        if scheme.lower() == "basic":
            return f"{scheme}{space}{_basic(cred.strip(), s)}"
        return f"{scheme}{space}{s.value('authorization', cred)}" if space else value
    if low == "cookie":
        return "; ".join(_cookie(c, s) for c in value.split("; "))
    if low == "set-cookie":
        first, semi, rest = value.partition(";")
        return _cookie(first, s) + semi + rest
    if low in URL_HEADERS:
        return _url(value, s)
    return value


def _cookie(pair: str, s: Sanitizer) -> str:
    name, eq, value = pair.partition("=")
    return f"{name}{eq}{s.value('cookie', value)}" if eq else pair


def _content(holder: dict[str, Any], s: Sanitizer) -> None:
    body = body_text(holder, strict=True)
    if not body.text:
        return
    text = _body(body.text, s)
    holder["text"] = base64.b64encode(text.encode()).decode() if body.base64 else text


def _message(msg: dict[str, Any], s: Sanitizer) -> None:
    for h in msg.get("headers") or []:
        if isinstance(h, dict) and isinstance(h.get("value"), str):
            h["value"] = _header(str(h.get("name", "")), h["value"], s)
    for c in msg.get("cookies") or []:
        if isinstance(c, dict) and isinstance(c.get("value"), str):
            c["value"] = s.value("cookie", c["value"])
    for p in msg.get("queryString") or []:
        if isinstance(p, dict) and isinstance(p.get("value"), str):
            p["value"] = s.field(str(p.get("name")), p["value"])


def sanitize_entry(entry: dict[str, Any], s: Sanitizer) -> None:
    req, resp = entry.get("request") or {}, entry.get("response") or {}
    if isinstance(req.get("url"), str):
        req["url"] = _url(req["url"], s)
    _message(req, s)
    post = req.get("postData") or {}
    _content(post, s)
    for p in post.get("params") or []:
        if isinstance(p, dict) and isinstance(p.get("value"), str):
            p["value"] = s.field(str(p.get("name")), p["value"])
    _message(resp, s)
    if isinstance(resp.get("redirectURL"), str):
        resp["redirectURL"] = _url(resp["redirectURL"], s)
    _content(resp.get("content") or {}, s)


def sanitize_har(har: Any, redactor: Redactor) -> dict[str, int]:
    """Sanitize a HAR document in place; counts of replaced values per kind."""
    s = Sanitizer(redactor)
    for entry in har["log"]["entries"]:
        if isinstance(entry, dict):
            sanitize_entry(entry, s)
    return dict(sorted(s.counts.items()))


def load_har(src: Path, warnings: list[str]) -> Any:
    """Any input `qbtrace analyze` reads, as a HAR document with its raw values: the reader
    that recognises it converts it (`Reader.to_har`)."""
    return to_har(src, src.name, warnings)


def sanitize_file(
    src: Path, dst: Path, redactor: Redactor, warnings: list[str] | None = None
) -> dict[str, int]:
    """Write a sanitized HAR of `src` (a HAR, flow file or capture) to `dst`.

    Returns the counts of replaced values per kind; what could not be converted is appended
    to `warnings`.
    """
    har = load_har(src, [] if warnings is None else warnings)
    counts = sanitize_har(har, redactor)
    text = json.dumps(har, indent=1, ensure_ascii=False) + "\n"
    # a lone surrogate (a `\udXXX` escape in the input) stays that escape, not invalid UTF-8
    dst.write_bytes(text.encode("utf-8", "backslashreplace"))
    return counts
