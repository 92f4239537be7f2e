"""Walking a HAR document: collect what every entry shows, then replace in every string.

Collection reads each entry where roles are plain (URLs, headers, cookies, query and form
fields, bodies, WebSocket messages); replacement then runs over every string of the document
(comments, page titles, `_initiator` stacks, WebPageTest's `_full_url`...), except the
structural ones (header names, methods, MIME types, times). A base64 body is decoded (and
gunzipped, within a cap) so secrets inside it are found and replaced, then encoded again;
a body in which nothing was replaced keeps its exact original text.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from qbtrace.profile import Profile
from qbtrace.scrub.collect import URL_HEADERS, Collector
from qbtrace.scrub.replace import Replacer
from qbtrace.sources.build import header_pairs
from qbtrace.sources.har import body_text as har_body_text

STRUCTURAL = frozenset(
    {
        "method",
        "httpVersion",
        "mimeType",
        "encoding",
        "startedDateTime",
        "version",
        "pageref",
        "id",
        "serverIPAddress",
        "connection",
        "_resourceType",
        "_priority",
    }
)
"""Keys whose string values are never secrets and must stay as they are. Names are not among
them: Fiddler writes a JSON body as a form parameter's name, some exporters a cookie as a
header's name."""
INFLATED_MAX = 64 << 20
"""A compressed body larger than this once inflated is left as it is (its raw base64 is still
searched): no decompression bomb fills memory."""


def entries(har: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for entry in har["log"]["entries"]:
        if isinstance(entry, dict):
            yield entry


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


# --- collection ---------------------------------------------------------------------------


def collect(har: Mapping[str, Any], c: Collector) -> None:
    """Collect the secrets of every entry, then JWTs from every string of the document."""
    for entry in entries(har):
        _collect_entry(entry, c)
    for text in _strings(har):
        c.jwts(text)


def _collect_entry(entry: dict[str, Any], c: Collector) -> None:
    req, resp = _map(entry.get("request")), _map(entry.get("response"))
    for url in (req.get("url"), resp.get("redirectURL")):
        if isinstance(url, str):
            c.url(url)
    for message in (req, resp):
        for name, value in header_pairs(message.get("headers")):
            c.header(name, value)
        for cookie in _dicts(message.get("cookies")):
            if isinstance(cookie.get("value"), str):
                c.secret("cookie", cookie["value"])
    post = _map(req.get("postData"))
    for param in (*_dicts(req.get("queryString")), *_dicts(post.get("params"))):
        if isinstance(param.get("value"), str):
            c.field(str(param.get("name", "")), param["value"])
    for holder in (post, _map(resp.get("content"))):
        text = body_text(holder)
        if text:
            c.text(text)
    for message in _dicts(entry.get("_webSocketMessages")):
        if isinstance(message.get("data"), str):
            c.text(message["data"])
    for key in ("_error", "comment"):
        if isinstance(entry.get(key), str):
            c.text(entry[key])


def _strings(doc: Any) -> Iterator[str]:
    """Every string value of a JSON document, without recursion (deep bodies come nested)."""
    stack = [doc]
    while stack:
        node = stack.pop()
        items = node.values() if isinstance(node, dict) else node
        for value in items:
            if isinstance(value, str):
                yield value
            elif isinstance(value, dict | list):
                stack.append(value)


# --- bodies -------------------------------------------------------------------------------


def body_text(holder: Mapping[str, Any]) -> str | None:
    """A body's text: as it is, or decoded from base64 (and gzip or zlib) when that is text."""
    text = holder.get("text")
    if not isinstance(text, str) or holder.get("encoding") != "base64":
        return text if isinstance(text, str) else None
    decoded = _decode(text)
    return None if decoded is None else decoded[0]


def _decode(text: str) -> tuple[str, str] | None:
    """(text, packing) of a base64 body that holds UTF-8 text, raw or compressed. The
    reader's decoder first; bytes it cannot read as text may be gzip or zlib of text."""
    body = har_body_text({"text": text, "encoding": "base64"}, strict=True)
    if body.text is not None:
        return body.text, "plain"
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    wbits = 31 if raw[:2] == b"\x1f\x8b" else 15 if raw[:1] == b"x" else 0
    inflated = _inflate(raw, wbits) if wbits else None
    if inflated is None:
        return None
    try:
        return inflated.decode("utf-8"), "gzip" if wbits == 31 else "zlib"
    except UnicodeDecodeError:
        return None


def _inflate(raw: bytes, wbits: int) -> bytes | None:
    unzip = zlib.decompressobj(wbits=wbits)
    try:
        out = unzip.decompress(raw, INFLATED_MAX)
    except zlib.error:
        return None
    return out if unzip.eof and not unzip.unconsumed_tail else None


def _encode(text: str, packing: str) -> str:
    raw = text.encode("utf-8")
    if packing == "gzip":
        raw = gzip.compress(raw, mtime=0)
    elif packing == "zlib":
        raw = zlib.compress(raw)
    return base64.b64encode(raw).decode("ascii")


# --- replacement --------------------------------------------------------------------------


def replace(doc: Any, r: Replacer) -> None:
    """Replace every collected secret in every string of the document, in place."""
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("encoding") == "base64" and isinstance(node.get("text"), str):
                node["text"] = _replace_base64(node["text"], r)
            for key, value in node.items():
                if isinstance(value, str):
                    if key not in STRUCTURAL and not (key == "text" and "encoding" in node):
                        node[key] = r.text(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, str):
                    node[index] = r.text(value)
                elif isinstance(value, dict | list):
                    stack.append(value)


def _replace_base64(text: str, r: Replacer) -> str:
    decoded = _decode(text)
    if decoded is None:
        return r.text(text)  # binary: secrets base64-encoded inside it at any alignment
    plain, packing = decoded
    replaced = r.text(plain)
    return text if replaced is plain else _encode(replaced, packing)


# --- --strict -----------------------------------------------------------------------------


def drop_unanalysed(har: Mapping[str, Any], profile: Profile) -> Counter[str]:
    """Drop bodies and query values of every entry qbtrace does not analyse; counts."""
    dropped: Counter[str] = Counter()
    for entry in entries(har):
        req, resp = _map(entry.get("request")), _map(entry.get("response"))
        method, url = str(req.get("method") or "GET"), str(req.get("url") or "")
        if profile.kind_of(method, url) is not None:
            continue
        dropped["exchanges"] += 1
        for holder in (_map(req.get("postData")), _map(resp.get("content"))):
            text, params = holder.pop("text", None), holder.pop("params", None)
            if text or params:
                dropped["bodies"] += 1
            holder.pop("encoding", None)
        for param in _dicts(req.get("queryString")):
            if param.get("value"):
                param["value"] = ""
                dropped["query values"] += 1
        for holder, key in ((req, "url"), (resp, "redirectURL")):
            if isinstance(holder.get(key), str):
                holder[key] = _without_query_values(holder[key])
        for message in (req, resp):
            for header in _dicts(message.get("headers")):
                if str(header.get("name", "")).lower() in URL_HEADERS:
                    header["value"] = _without_query_values(str(header.get("value", "")))
        dropped["websocket messages"] += len(list(_dicts(entry.pop("_webSocketMessages", []))))
    return dropped


def _without_query_values(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("?", 1)[0]

    def names(query: str) -> str:
        return "&".join(pair.partition("=")[0] + "=" for pair in query.split("&")) if query else ""

    return urlunsplit(parts._replace(query=names(parts.query), fragment=names(parts.fragment)))
