"""Rewrite a recorded HAR into the shapes other exporters write, entry for entry.

The traffic stays what the real clients sent; only the file's shape changes. Which shapes in
the goldens are real and which are still rewrites:
- real, written by the tool itself: mitmproxy's `hardump` (every `<name>.har`), Chromium's
  HAR as Playwright records it (`<name>.playwright.har`), Firefox ESR 153's Network panel
  "Save All As HAR" (`<name>.firefox.har`, driven over Marionette);
- rewrites here, following each exporter's writer or documentation:
  `chrome-sanitized` from Chrome DevTools `front_end/models/har/Writer.ts` and the Chrome 130
  change that sanitizes exports by default (no Authorization, Cookie, Set-Cookie; HTTP/2
  pseudo-headers, lowercase names, base64 content); `firefox` from Firefox's HAR builder
  (`devtools/client/netmonitor/src/har/har-builder.js`) and checked against the real Firefox
  goldens by test_exporters (Title-Case request header names, local-offset times, postData
  with text and params, redirect bodies left out with a comment, the page title holding the
  last URL), so every scenario gets Firefox's shape, not only the two Firefox recorded;
  `fiddler` from Fiddler's HTTPArchive v1.2 export (UTF-8 BOM, `postData.params` without
  `text`); `charles` from Charles's HAR export (-1 timings, creator name); and
  `playwright-minimal` from Playwright's `recordHar` `mode: "minimal"` (no timings, sizes or
  cookies).
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


def title_case(name: str) -> str:
    """`user-agent` -> `User-Agent`: how Firefox shows request header names, even over HTTP/2."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def firefox(har: Har) -> Har:
    out = copy.deepcopy(har)
    out["log"]["creator"] = {"name": "Firefox", "version": "153.8.0"}
    out["log"]["browser"] = {"name": "Firefox", "version": "153.8.0"}
    offset = timezone(timedelta(hours=-8))  # a user in California
    entries = _entries(out)
    for entry in entries:
        moment = datetime.fromisoformat(entry["startedDateTime"]).astimezone(offset)
        entry["startedDateTime"] = moment.isoformat(timespec="milliseconds")
        req, resp = entry["request"], entry["response"]
        req["headers"] = [{**h, "name": title_case(h["name"])} for h in req["headers"]]
        req["httpVersion"] = resp["httpVersion"] = "HTTP/2"
        post = req.get("postData")
        if post and "urlencoded" in post.get("mimeType", "") and post.get("text"):
            post["params"] = [{"name": k, "value": v} for k, v in parse_qsl(post["text"])]
        if 300 <= resp["status"] < 400:
            content = resp.setdefault("content", {})
            content.pop("text", None)
            content["comment"] = "Response bodies are not included."
    if entries:
        # Firefox titles the page with the URL the tab was on: after a flow, the callback
        navigations = [
            url
            for e in entries
            for url in (e["request"]["url"], e["response"].get("redirectURL") or "")
            if "code=" in url
        ]
        out["log"]["pages"] = [
            {
                "id": "page_1",
                "startedDateTime": entries[0]["startedDateTime"],
                "title": (navigations or [entries[-1]["request"]["url"]])[-1],
                "pageTimings": {},
            }
        ]
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
