"""Rewrite a recorded HAR into the shapes other exporters write, entry for entry.

The traffic stays what the real clients sent; only the file's shape changes, following each
exporter's writer: Chrome DevTools `front_end/models/har/Writer.ts` (sanitized by default since
Chrome 130: no Authorization, Cookie, Set-Cookie; HTTP/2 pseudo-headers, lowercase names,
base64 content), Firefox's HAR builder (local-offset times, postData with text and params),
Fiddler (UTF-8 BOM, `postData.params` without `text`), Charles (-1 timings, creator name) and
Playwright's minimal mode (no timings, sizes or cookies).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Har = dict[str, Any]
SENSITIVE = {"authorization", "cookie", "set-cookie"}


def _entries(har: Har) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = har["log"]["entries"]
    return entries


def chrome_sanitized(har: Har) -> Har:
    out = copy.deepcopy(har)
    out["log"]["creator"] = {"name": "WebInspector", "version": "537.36"}
    out["log"]["pages"] = []
    for entry in _entries(out):
        req, resp = entry["request"], entry["response"]
        parts = urlsplit(req["url"])
        pseudo = [
            {"name": ":authority", "value": parts.netloc},
            {"name": ":method", "value": req["method"]},
            {"name": ":path", "value": parts.path + (f"?{parts.query}" if parts.query else "")},
            {"name": ":scheme", "value": parts.scheme},
        ]
        req["headers"] = pseudo + [
            {"name": h["name"].lower(), "value": h["value"]}
            for h in req["headers"]
            if h["name"].lower() not in SENSITIVE
        ]
        req["httpVersion"] = resp["httpVersion"] = "http/2.0"
        resp["headers"] = [
            {"name": h["name"].lower(), "value": h["value"]}
            for h in resp["headers"]
            if h["name"].lower() not in SENSITIVE
        ]
        req["cookies"], resp["cookies"] = [], []
        content = resp.get("content", {})
        if isinstance(content.get("text"), str) and content.get("encoding") != "base64":
            content["text"] = base64.b64encode(content["text"].encode()).decode()
            content["encoding"] = "base64"
        entry["_initiator"] = {"type": "other"}
        entry["_priority"] = "High"
        entry["_resourceType"] = "fetch"
        entry["timings"]["_blocked_queueing"] = 0.5
    return out


def firefox(har: Har) -> Har:
    out = copy.deepcopy(har)
    out["log"]["creator"] = {"name": "Firefox", "version": "145.0"}
    out["log"]["browser"] = {"name": "Firefox", "version": "145.0"}
    offset = timezone(timedelta(hours=1))
    for entry in _entries(out):
        moment = datetime.fromisoformat(entry["startedDateTime"]).astimezone(offset)
        entry["startedDateTime"] = moment.isoformat(timespec="milliseconds")
        post = entry["request"].get("postData")
        if post and "urlencoded" in post.get("mimeType", "") and post.get("text"):
            post["params"] = [{"name": k, "value": v} for k, v in parse_qsl(post["text"])]
    return out


def fiddler(har: Har) -> Har:
    out = copy.deepcopy(har)
    out["log"]["creator"] = {"name": "Fiddler", "version": "5.0.20244"}
    for entry in _entries(out):
        post = entry["request"].get("postData")
        if post and "urlencoded" in post.get("mimeType", "") and post.get("text"):
            post["params"] = [{"name": k, "value": v} for k, v in parse_qsl(post["text"])]
            del post["text"]
    return out


def charles(har: Har) -> Har:
    out = copy.deepcopy(har)
    out["log"]["creator"] = {"name": "Charles Proxy", "version": "5.0"}
    for entry in _entries(out):
        entry["timings"] = {
            "blocked": -1,
            "dns": -1,
            "connect": -1,
            "ssl": -1,
            "send": 1,
            "wait": max(entry.get("time", 1) - 2, 0),
            "receive": 1,
        }
    return out


def playwright_minimal(har: Har) -> Har:
    out = copy.deepcopy(har)
    out["log"]["creator"] = {"name": "Playwright", "version": "1.65.1"}
    for entry in _entries(out):
        for key in ("timings", "serverIPAddress", "cache"):
            entry.pop(key, None)
        for part in ("request", "response"):
            for key in ("cookies", "headersSize", "bodySize"):
                entry[part].pop(key, None)
    return out


SHAPES: dict[str, Callable[[Har], Har]] = {
    "chrome-sanitized": chrome_sanitized,
    "firefox": firefox,
    "fiddler": fiddler,
    "charles": charles,
    "playwright-minimal": playwright_minimal,
}


def write(har: Har, path: Any, bom: bool = False) -> None:
    text = json.dumps(har, indent=1)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
