"""The secrets a careful reviewer would list in a HAR, written apart from the sanitizer's
collector (qbtrace/scrub/) so the two can disagree: if the sanitizer misses a value this
list holds, the realworld test fails.

A reviewer lists: Authorization and Proxy-Authorization credentials (and a Basic password);
every cookie value of Cookie, Set-Cookie and `cookies[]`; values of headers, query, fragment,
form and JSON fields whose names mean a secret; URL passwords; every JWT in the file. Values
shorter than 8 characters, placeholders, plain words and URLs are no secrets.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

SECRET_NAME = re.compile(
    r"(?i)(token|secret|passw|pwd|api[-_]?key|session|sessid|^sid$|^sig$|signature|^key$"
    r"|^auth|csrf|xsrf|jwt|credential|^code$|^state$|^x-api-key$)"
)
NOT_SECRET_NAME = re.compile(r"(?i)(type$|expires|_in$|client_?id$|redirect|:authority|url$|uri$)")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]+")
PLACEHOLDERS = {"undefined", "null", "none", "nil", "true", "false", "[object object]"}
URL_HEADERS = ("location", "referer", "content-location")


def meaningful(value: str) -> bool:
    text = value.strip().strip("\"'")
    return (
        len(text) >= 8
        and text.lower() not in PLACEHOLDERS
        and "://" not in text
        and text.count(" ") < 3
        and not re.fullmatch(r"[A-Za-z_-]{1,15}", text)
    )


def secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name)) and not NOT_SECRET_NAME.search(name)


def candidates(har: dict[str, Any], file_text: str) -> set[str]:
    found: set[str] = set(JWT.findall(file_text))
    for entry in har["log"]["entries"]:
        if isinstance(entry, dict):
            found.update(_entry(entry))
    return {v.strip().strip("\"'") for v in found if meaningful(v)}


def _entry(entry: dict[str, Any]) -> Iterator[str]:
    req, resp = entry.get("request") or {}, entry.get("response") or {}
    yield from _url(req.get("url") or "")
    yield from _url(resp.get("redirectURL") or "")
    for message in (req, resp):
        for h in message.get("headers") or []:
            if isinstance(h, dict):
                yield from _header(str(h.get("name", "")), str(h.get("value", "")))
        for c in message.get("cookies") or []:
            if isinstance(c, dict):
                yield str(c.get("value", ""))
    post = req.get("postData") or {}
    for p in [*(req.get("queryString") or []), *(post.get("params") or [])]:
        if isinstance(p, dict) and secret_name(str(p.get("name", ""))):
            yield str(p.get("value", ""))
    for holder in (post, resp.get("content") or {}):
        yield from _body(_text(holder))
    for message in entry.get("_webSocketMessages") or []:
        if isinstance(message, dict):
            yield from _body(str(message.get("data", "")))


def _header(name: str, value: str) -> Iterator[str]:
    low = name.lower()
    if low in ("authorization", "proxy-authorization"):
        scheme, _, cred = value.partition(" ")
        yield cred or value
        if scheme.lower() == "basic":
            yield _basic_password(cred.strip())
    elif low == "cookie":
        for pair in value.split(";"):
            yield pair.partition("=")[2]
    elif low == "set-cookie":
        for line in re.split(r"\n|, (?=[^;,= ]+=)", value):
            yield line.split(";")[0].partition("=")[2]
    elif low in URL_HEADERS:
        yield from _url(value)
    elif secret_name(name):
        yield value


def _basic_password(cred: str) -> str:
    try:
        return base64.b64decode(cred).decode().partition(":")[2]
    except (binascii.Error, ValueError):
        return ""


def _url(url: str) -> Iterator[str]:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return
    if password:
        yield password
    for query in (parts.query, parts.fragment):
        for name, value in parse_qsl(query):
            if secret_name(name):
                yield value


def _text(holder: dict[str, Any]) -> str:
    text = holder.get("text")
    if not isinstance(text, str):
        return ""
    if holder.get("encoding") == "base64":
        try:
            return base64.b64decode(text).decode("utf-8")
        except (binascii.Error, ValueError):
            return ""
    return text


def _body(text: str) -> Iterator[str]:
    stripped = text.strip()
    try:
        data = json.loads(stripped)
    except (ValueError, RecursionError):
        if "=" in stripped and " " not in stripped:
            for name, value in parse_qsl(stripped):
                if secret_name(name):
                    yield value
        return
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and secret_name(str(key)):
                    yield value
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))


def spellings(value: str) -> tuple[str, ...]:
    """How a value may be found in a copy: raw, URL-encoded, JSON-escaped, base64."""
    raw = value.encode("utf-8", "surrogatepass")
    return (
        value,
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value)[1:-1],
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    )


def leaked(secrets: set[str], text: str) -> list[str]:
    """The secrets found in `text` in any of their spellings (one scan for all of them)."""
    import ahocorasick_rs

    forms = {form: value for value in secrets for form in spellings(value)}
    if not forms:
        return []
    patterns = list(forms)
    found = ahocorasick_rs.AhoCorasick(patterns).find_matches_as_indexes(text)
    return sorted({forms[patterns[index]] for index, _, _ in found})


def readable_text(har: dict[str, Any]) -> str:
    """Every string of a HAR, base64 bodies decoded, as a reviewer reads the copy."""
    out: list[str] = []
    stack: list[Any] = [har]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("encoding") == "base64":
                out.append(_text(node))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            out.append(node)
    return "\n".join(out)
