"""Walking a HAR (qbtrace/scrub/walk.py): what is collected where, base64 and gzip bodies,
structural strings kept, untouched bodies byte for byte, and `--strict`."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from typing import Any

from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.scrub import walk
from qbtrace.scrub.collect import Collector
from qbtrace.scrub.standin import StandIns

SECRET = "sess-9f8e7d6c5b4a3f2e1d"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"


def entry(url: str = "https://app.test/api", **response: Any) -> dict[str, Any]:
    return {
        "startedDateTime": "2024-05-01T10:00:00.000Z",
        "time": 1,
        "request": {
            "method": "GET",
            "url": url,
            "headers": [{"name": "Cookie", "value": f"sid={SECRET}"}],
            "cookies": [],
            "queryString": [],
        },
        "response": {
            "status": 200,
            "headers": [],
            "content": {"mimeType": "text/plain"},
            **response,
        },
    }


def sanitize(har: dict[str, Any]) -> dict[str, int]:
    c = Collector(StandIns(Redactor(b"k")))
    walk.collect(har, c)
    r = c.replacer()
    walk.replace(har, r)
    return dict(r.counts)


def doc(*entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "log": {
            "version": "1.2",
            "pages": [{"title": f"page {SECRET}", "id": "p"}],
            "entries": list(entries),
        }
    }


def test_gzip_inside_base64_is_opened_replaced_and_packed_again() -> None:
    body = gzip.compress(f'{{"echo": "{SECRET}"}}'.encode())
    har = doc(
        entry(
            content={
                "mimeType": "application/json",
                "encoding": "base64",
                "text": base64.b64encode(body).decode(),
            }
        )
    )
    sanitize(har)
    text = har["log"]["entries"][0]["response"]["content"]["text"]
    plain = gzip.decompress(base64.b64decode(text)).decode()
    assert SECRET not in plain and json.loads(plain)["echo"]
    assert SECRET not in har["log"]["pages"][0]["title"]


def test_bodies_without_secrets_keep_their_exact_text_and_names_stay() -> None:
    original = '{ "a" :1,\n  "b": [1, 2.50, "x"] }'
    encoded = base64.b64encode(b"\x89PNG\r\n\x1a\n binary").decode()
    har = doc(
        entry(content={"mimeType": "application/json", "text": original}),
        entry(content={"mimeType": "image/png", "encoding": "base64", "text": encoded}),
    )
    counts = sanitize(har)
    first, second = har["log"]["entries"]
    assert first["response"]["content"]["text"] == original
    assert second["response"]["content"]["text"] == encoded
    assert first["request"]["headers"][0]["name"] == "Cookie"
    assert counts == {"cookie": 3}  # two Cookie headers and the page title


def test_strict_drops_bodies_and_query_values_of_unanalysed_exchanges_only() -> None:
    token = entry(TOKEN_URL, content={"mimeType": "application/json", "text": '{"x": 1}'})
    token["request"]["method"] = "POST"
    other = entry(
        "https://app.test/api?q=private-words&page=2",
        content={"mimeType": "text/html", "text": "<p>private</p>"},
    )
    other["request"]["queryString"] = [{"name": "q", "value": "private-words"}]
    other["_webSocketMessages"] = [{"type": "send", "data": "hello"}]
    har = doc(token, other)
    kept = copy.deepcopy(token)
    dropped = walk.drop_unanalysed(har, Profile())
    assert har["log"]["entries"][0] == kept
    assert other["request"]["url"] == "https://app.test/api?q=&page="
    assert "text" not in other["response"]["content"] and "_webSocketMessages" not in other
    assert dropped == {"exchanges": 1, "bodies": 1, "query values": 1, "websocket messages": 1}
