"""Synthetic HARs for the hostile-input tests: realistic OAuth traffic with planted secrets,
and Hypothesis strategies that bend it into valid and near-valid shapes.

Every raw secret this module writes starts with `PLANT` so a test can search all outputs for
it; `failed_token_indices` says which entries are token requests a reader can see failed.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
API_URL = "https://quickbooks.api.intuit.com/v3/company/9130350000000001/query"
REDIRECT = "https://app.example.com/callback"
PLANT = "PLANTz"
"""Prefix of every planted secret: long enough never to occur by chance in an output."""


@dataclass
class Built:
    entries: list[Any] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    """Indices of entries that are readable, failed token requests."""

    def har(self, creator: str = "qbtrace-tests") -> dict[str, Any]:
        return {"log": {"version": "1.2", "creator": {"name": creator}, "entries": self.entries}}

    def bytes(self) -> bytes:
        return json.dumps(self.har()).encode()


def stamp(moment: float, offset_minutes: int = 0) -> str:
    zone = timezone(timedelta(minutes=offset_minutes))
    return datetime.fromtimestamp(moment, UTC).astimezone(zone).isoformat(timespec="milliseconds")


def secret(rng: random.Random, kind: str) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return f"{PLANT}{kind}" + "".join(rng.choice(alphabet) for _ in range(28))


def basic(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


def entry(
    moment: float,
    method: str,
    url: str,
    status: int,
    *,
    req_headers: list[tuple[str, str]] = (),  # type: ignore[assignment]
    body: str | None = None,
    resp_body: str = "",
    resp_headers: list[tuple[str, str]] = (),  # type: ignore[assignment]
    mime: str = "application/json",
    encoding: str | None = None,
    offset: int = 0,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": [{"name": n, "value": v} for n, v in req_headers],
        "queryString": [],
        "headersSize": -1,
        "bodySize": len(body or ""),
    }
    if body is not None:
        request["postData"] = {"mimeType": "application/x-www-form-urlencoded", "text": body}
    content: dict[str, Any] = {"size": len(resp_body), "mimeType": mime, "text": resp_body}
    if encoding:
        content["encoding"] = encoding
    return {
        "startedDateTime": stamp(moment, offset),
        "time": 120.5,
        "request": request,
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": n, "value": v} for n, v in resp_headers],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(resp_body),
        },
        "cache": {},
        "timings": {"send": 1, "wait": 100, "receive": 19.5},
    }


class Traffic:
    """Builds one app's OAuth traffic: connect, refreshes, rotations and failures."""

    def __init__(self, rng: random.Random, start: float = 1_790_000_000.0) -> None:
        self.rng = rng
        self.now = start
        self.out = Built()
        self.client_id = "AB" + "".join(
            rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(24)
        )
        self.client_secret = secret(rng, "cs")
        self.out.secrets.add(self.client_secret)
        self.offset = rng.choice([0, 0, 60, -300, 330])

    def tick(self, seconds: float = 1.0) -> float:
        self.now += seconds
        return self.now

    def _token(self, form: str, status: int, reply: dict[str, Any]) -> dict[str, Any]:
        headers = [
            ("Authorization", basic(self.client_id, self.client_secret)),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
            ("Cookie", f"qbn.sid={self.plant('ck')}"),
        ]
        return entry(
            self.tick(),
            "POST",
            TOKEN_URL,
            status,
            req_headers=headers,
            body=form,
            resp_body=json.dumps(reply),
            resp_headers=[
                ("intuit_tid", f"1-{self.rng.getrandbits(64):016x}"),
                ("Set-Cookie", f"sid={self.plant('sc')}"),
            ],
            offset=self.offset,
        )

    def plant(self, kind: str) -> str:
        value = secret(self.rng, kind)
        self.out.secrets.add(value)
        return value

    def add(self, item: dict[str, Any], failed: bool = False) -> None:
        if failed:
            self.out.failed.add(len(self.out.entries))
        self.out.entries.append(item)

    def issued(self) -> tuple[str, dict[str, Any]]:
        rt = self.plant("rt")
        reply = {
            "access_token": self.plant("at"),
            "refresh_token": rt,
            "token_type": "bearer",
            "expires_in": 3600,
            "x_refresh_token_expires_in": 8726400,
        }
        return rt, reply

    def connect(self) -> str:
        """Authorize → callback → code exchange; returns the refresh token issued."""
        state = self.plant("st")
        code = self.plant("code")
        query = (
            f"client_id={self.client_id}&response_type=code"
            f"&scope=com.intuit.quickbooks.accounting&redirect_uri={REDIRECT}&state={state}"
        )
        location = f"{REDIRECT}?code={code}&state={state}&realmId=9130350000000001"
        self.add(
            entry(
                self.tick(),
                "GET",
                f"{AUTHORIZE_URL}?{query}",
                302,
                resp_headers=[("Location", location)],
                mime="text/html",
                offset=self.offset,
            )
        )
        self.add(
            entry(
                self.tick(5),
                "GET",
                location,
                200,
                mime="text/html",
                resp_body="<html>ok</html>",
                offset=self.offset,
            )
        )
        rt, reply = self.issued()
        form = f"grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}"
        self.add(self._token(form, 200, reply))
        self.last_code = code
        return rt

    def refresh(self, rt: str, ok: bool = True, error: str = "invalid_grant") -> str:
        form = f"grant_type=refresh_token&refresh_token={rt}"
        if ok:
            new, reply = self.issued()
            self.add(self._token(form, 200, reply))
            return new
        self.add(self._token(form, 400, {"error": error}), failed=True)
        return rt

    def reuse_code(self) -> None:
        form = f"grant_type=authorization_code&code={self.last_code}&redirect_uri={REDIRECT}"
        self.add(self._token(form, 400, {"error": "invalid_grant"}), failed=True)

    def outage(self, rt: str) -> None:
        form = f"grant_type=refresh_token&refresh_token={rt}"
        self.add(self._token(form, 503, {"error": "server_error"}), failed=True)

    def noise(self, size: int = 2000) -> None:
        body = json.dumps(
            {
                "QueryResponse": {
                    "Invoice": [{"Id": str(i), "Line": "x" * 40} for i in range(size // 60)]
                }
            }
        )
        self.add(
            entry(
                self.tick(0.2),
                "GET",
                f"{API_URL}?q=select%20{self.rng.randint(0, 10**6)}",
                200,
                req_headers=[("Authorization", f"Bearer {self.plant('bearer')}")],
                resp_body=body,
                offset=self.offset,
            )
        )


def scenario(seed: int, noise: int = 3) -> Built:
    """A plausible capture: connect, rotations, a superseded token reused, a code reused,
    a failed outage request, noise between; all secrets planted."""
    t = Traffic(random.Random(seed))
    for _ in range(noise):
        t.noise()
    rt1 = t.connect()
    t.reuse_code()
    rt2 = t.refresh(rt1)
    t.noise()
    rt3 = t.refresh(rt2)
    t.refresh(rt1, ok=False)
    t.tick(86400 * 2)
    t.refresh(rt3, ok=False, error="invalid_client")
    t.outage(rt3)
    for _ in range(noise):
        t.noise()
    return t.out


# ---------------------------------------------------------------- Hypothesis strategies

JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)


def nested(depth: int) -> str:
    """JSON text nested `depth` levels deep (json.dumps would hit the recursion limit)."""
    opens = "".join('{"k":' if n % 2 else "[" for n in range(depth))
    closes = "".join("}" if n % 2 else "]" for n in reversed(range(depth)))
    return f'{opens}"bottom"{closes}'


MUTATIONS = (
    "drop_request", "drop_response", "drop_started", "drop_method", "drop_url", "drop_headers",
    "headers_wrong_type", "status_string", "status_negative", "bad_base64", "base64_ok",
    "nul_in_body", "latin1_in_body", "many_headers", "deep_json_body", "duplicate",
    "time_other_zone", "time_garbage", "content_wrong_type", "entry_not_object", "postdata_params",
    "response_null", "started_naive", "url_wrong_type", "body_not_string", "huge_time",
)  # fmt: skip


@st.composite
def hars(draw: st.DrawFn) -> tuple[bytes, Built]:
    """A scenario HAR with some entries mutated; `Built.failed` lists the entries that must
    still get a finding (failed token requests the mutations left readable)."""
    built = scenario(draw(st.integers(0, 2**32)), noise=draw(st.integers(0, 3)))
    entries: list[Any] = built.entries
    count = draw(st.integers(0, 6))
    touched: set[int] = set()
    for _ in range(count):
        index = draw(st.integers(0, len(entries) - 1))
        how = draw(st.sampled_from(MUTATIONS))
        item = entries[index]
        if not isinstance(item, dict):
            continue
        if how == "duplicate":  # a copy at the end: indices stay put, the copy fails too
            if index in built.failed:
                built.failed.add(len(entries))
            if index in touched:  # a copy of an already mutated entry
                touched.add(len(entries))
            entries.append(json.loads(json.dumps(item)))
            continue
        touched.add(index)
        _mutate(draw, entries, index, how)
    if draw(st.booleans()):
        draw(st.randoms(use_true_random=False)).shuffle(entries)
        built.failed = set()  # order changed: only check that no secret leaks and no crash
    else:
        built.failed -= touched
    text = json.dumps(built.har(), ensure_ascii=draw(st.booleans())).encode()
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
        built.failed = set()
    return text, built


def _mutate(draw: st.DrawFn, entries: list[Any], index: int, how: str) -> None:
    item = entries[index]
    request = item.get("request") if isinstance(item.get("request"), dict) else {}
    response = item.get("response") if isinstance(item.get("response"), dict) else {}
    content = response.get("content") if isinstance(response.get("content"), dict) else {}
    if how == "drop_request":
        item.pop("request", None)
    elif how == "drop_response":
        item.pop("response", None)
    elif how == "drop_started":
        item.pop("startedDateTime", None)
    elif how == "drop_method":
        request.pop("method", None)
    elif how == "drop_url":
        request.pop("url", None)
    elif how == "drop_headers":
        request.pop("headers", None)
    elif how == "headers_wrong_type":
        request["headers"] = draw(st.one_of(JSON_LEAF, st.lists(JSON_LEAF, max_size=3)))
    elif how == "status_string":
        response["status"] = str(response.get("status"))
    elif how == "status_negative":
        response["status"] = -1
    elif how == "bad_base64":
        content["encoding"] = "base64"
        content["text"] = draw(st.text(max_size=30)) + "!*"
    elif how == "base64_ok":
        raw = content.get("text")
        if isinstance(raw, str):
            content["text"] = base64.b64encode(raw.encode()).decode()
            content["encoding"] = "base64"
    elif how == "nul_in_body" and isinstance(content.get("text"), str):
        content["text"] += "\x00\x00"
    elif how == "latin1_in_body" and isinstance(content.get("text"), str):
        content["text"] += "caf\xe9 \udcff".encode("utf-8", "surrogateescape").decode("latin-1")
    elif how == "many_headers":
        count = draw(st.integers(100, 3000))
        old = request.get("headers")
        request["headers"] = (old if isinstance(old, list) else []) + [
            {"name": f"x-h{n}", "value": "v" * (n % 50)} for n in range(count)
        ]
    elif how == "deep_json_body":
        content["text"] = nested(draw(st.integers(50, 5000)))
    elif how == "time_other_zone" and isinstance(item.get("startedDateTime"), str):
        try:
            moment = datetime.fromisoformat(item["startedDateTime"])
        except ValueError:
            return
        zone = timezone(timedelta(minutes=draw(st.integers(-720, 840))))
        item["startedDateTime"] = moment.astimezone(zone).isoformat()
    elif how == "time_garbage":
        item["startedDateTime"] = draw(st.one_of(JSON_LEAF, st.just("2026-13-45T99:99:99Z")))
    elif how == "content_wrong_type":
        response["content"] = draw(JSON_LEAF)
    elif how == "entry_not_object":
        entries[index] = draw(JSON_LEAF)
    elif how == "postdata_params" and isinstance(request.get("postData"), dict):
        from urllib.parse import parse_qsl

        post = request["postData"]
        text = post.pop("text", "")
        pairs = parse_qsl(text) if isinstance(text, str) else []
        post["params"] = [{"name": n, "value": v} for n, v in pairs]
    elif how == "response_null":
        item["response"] = None
    elif how == "started_naive":
        item["startedDateTime"] = "2026-01-02T03:04:05"
    elif how == "url_wrong_type":
        request["url"] = draw(JSON_LEAF)
    elif how == "body_not_string" and isinstance(request.get("postData"), dict):
        request["postData"]["text"] = draw(JSON_LEAF)
    elif how == "huge_time":
        item["time"] = draw(st.one_of(st.just(1e308), st.just(-5), st.just("soon")))
