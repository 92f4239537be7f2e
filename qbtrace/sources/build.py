"""Raw HTTP parts → an `Exchange`: the one place where raw secrets are turned into tags.

Every reader (HAR, mitmproxy flows, qbtrace captures written by the addon) hands the parts
of a matching exchange to `build_exchange`, so all formats redact and parse alike.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import get_args
from urllib.parse import parse_qsl

import msgspec

from qbtrace import providers
from qbtrace.model import ClientAuth, CredentialDefect, Exchange, Gap, Kind, RawParts, Ref, Value
from qbtrace.providers import BUILTIN
from qbtrace.redact import Redactor, canonical, redact_text
from qbtrace.sources.claims import subject
from qbtrace.urls import join, split, without_userinfo

SECRET_PARAMS = {
    "code": "code",
    "refresh_token": "rt",
    "access_token": "at",
    "id_token": "id",
    "client_secret": "secret",
    "token": "tok",
    "state": "state",
    "session_state": "state",  # OpenID session management (Xero's, Microsoft's callbacks)
    "client_assertion": "secret",
    "code_verifier": "secret",
    "code_challenge": "secret",  # PKCE: derived from the verifier (google-auth-oauthlib)
    "password": "secret",
}
REPLY_FIELDS = tuple(
    dict.fromkeys(
        (
            "error",
            "error_description",
            "token_type",
            "expires_in",
            *providers.REPLY_FIELDS,
            *providers.TENANT_PARAMS,
            "scope",
        )
    )
)
"""RFC 6749's answer fields, and those the built-in providers add (lifetimes, tenant)."""
KEPT_HEADERS = tuple(
    dict.fromkeys(
        (
            *(p.request_id_header.lower() for p in BUILTIN.values() if p.request_id_header),
            "date",
            "user-agent",
            *providers.KEPT_HEADERS,
            "content-type",
            "x-amzn-trace-id",
        )
    )
)
"""The headers of every built-in provider's rules, and those any provider's answers carry."""
WANTED_HEADERS = frozenset((*KEPT_HEADERS, "authorization", "location"))
"""The only headers `build_exchange` reads; the others are not even put in a dict."""
CRED_DEFECTS: dict[tuple[str, str], CredentialDefect] = {
    (defect.removesuffix(f"-{part}"), part): defect
    for defect in get_args(CredentialDefect)
    for part in ("id", "secret")
    if defect.endswith(f"-{part}")
}
"""(value defect or `missing`, `id`/`secret`) → the credential defect it makes."""
TIME_RANGE = (0.0, 7_258_118_400.0)
"""1970 to 2200: a time outside (year 1 or 9999 from a broken exporter, `1e300`) is dropped,
so no rule adds a lifetime to it and no renderer formats a date no calendar holds."""
LIFETIMES = frozenset(
    ("expires_in", *providers.REFRESH_LIFETIME_FIELDS, *providers.HARD_LIFETIME_FIELDS)
)
MAX_LIFETIME = 1e10
NONSENSE_GAPS: tuple[Gap, ...] = ("time-out-of-range", "invalid-lifetime", "invalid-number")


def build_exchange(ref: Ref, kind: Kind, raw: RawParts, redactor: Redactor) -> Exchange:
    """Parse and redact the parts of one exchange of a known kind."""
    req_headers = _lower(raw.request_headers)
    resp_headers = _lower(raw.response_headers)
    parts = split(raw.url)
    fields = _request_fields(kind, raw, parts.query, req_headers.get("content-type", ""))
    params = _tagged(fields, redactor)
    reply: dict[str, Value] = {}
    location = resp_headers.get("location")
    if not location and kind == Kind.AUTHORIZE and raw.status is not None:
        location = _target_in_json(raw.response_body)
    if location and kind in (Kind.AUTHORIZE, Kind.CALLBACK):
        reply = _redirect(raw.url, location, redactor)
    elif raw.status is not None and (
        kind == Kind.TOKEN or (kind == Kind.REVOKE and (raw.response_body or "").strip())
    ):
        # a successful revoke may be answered with an empty body: nothing is missing there
        reply = _reply_fields(raw.response_body, redactor, raw.gaps)
    headers = {k: v for k in KEPT_HEADERS if (v := resp_headers.get(k) or req_headers.get(k))}
    client = _client_auth(req_headers.get("authorization"), fields, redactor)
    if kind == Kind.TOKEN and client.via == "none":
        raw.gaps.append("client-auth-missing")
    return Exchange(
        ref=ref,
        kind=kind,
        started=sane_time(raw.started, raw.gaps),
        ended=sane_time(raw.ended, raw.gaps),
        method=raw.method.upper(),
        url=f"{parts.scheme}://{without_userinfo(parts.netloc)}{parts.path}",
        params=params,
        status=raw.status,
        failure=redact_text(raw.failure) if raw.failure else raw.failure,
        reply=reply,
        headers=headers,
        client=client if kind in (Kind.TOKEN, Kind.REVOKE) else None,
        gaps=tuple(dict.fromkeys(raw.gaps)),
    )


def _request_fields(
    kind: Kind, raw: RawParts, query: str, content_type: str
) -> list[tuple[str, str]]:
    """The request's fields: the body of a token or revoke POST, else the query. The consent
    page's form POST to the authorize endpoint carries client_id, redirect_uri and state in
    its body; there the body's fields win over the query's of the same name."""
    if kind in (Kind.TOKEN, Kind.REVOKE):
        if raw.request_body is None:
            raw.gaps.append("request-body-missing")
        return _body_fields(raw.request_body, content_type)
    fields = _form(query)
    if kind == Kind.AUTHORIZE and raw.method.upper() == "POST":
        body = _body_fields(raw.request_body, content_type)
        named = {name for name, _ in body}
        fields = [*(f for f in fields if f[0] not in named), *body]
    return fields


def _target_in_json(body: str | None) -> str | None:
    """Where a script-driven consent page sends the browser: an absolute URL carrying a `code`
    among the string values of a JSON answer (top level or one level down), as a consent
    XHR answers before the page navigates; None for anything else."""
    text = (body or "").strip()
    if not text.startswith("{") or len(text) > 65536:
        return None
    try:
        data = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    if not isinstance(data, dict):
        return None
    values = [
        *data.values(),
        *(v for d in data.values() if isinstance(d, dict) for v in d.values()),
    ]
    urls = [v for v in values if isinstance(v, str) and v.startswith(("https://", "http://"))]
    return next((u for u in urls if any(n == "code" for n, _ in _form(split(u).query))), None)


def _redirect(url: str, location: str, redactor: Redactor) -> dict[str, Value]:
    """The fields of a redirect's target and where it points (scheme://host:port/path as
    written there); a relative Location (an app server's `/callback/`) is resolved first."""
    target = split(join(url, location.strip()))
    reply = _tagged(_form(target.query), redactor)
    reply["redirect_to"] = f"{target.scheme}://{without_userinfo(target.netloc)}{target.path}"
    return reply


def _lower(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The wanted headers by lowercase name, the first value winning (HTTP/2 pseudo-headers
    such as Chrome's `:authority` are never wanted)."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key in WANTED_HEADERS and key not in out:
            out[key] = value
    return out


def _body_fields(body: str | None, content_type: str) -> list[tuple[str, str]]:
    if not body:
        return []
    text = body.strip()
    if "json" in content_type or text.startswith("{"):
        try:
            data = msgspec.json.decode(text)
        except (msgspec.DecodeError, RecursionError):  # msgspec raises the latter when deep
            return []
        if isinstance(data, dict):
            return [(str(k), _field_text(v)) for k, v in data.items()]
        return []
    return _form(body)


def _field_text(value: object) -> str:
    """A JSON body field as form text; an array or object (nested how deep it likes) is not
    a credential or a token and is not turned into text."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return ""
    return str(value)


def _form(text: str) -> list[tuple[str, str]]:
    """`parse_qsl(text, keep_blank_values=True)`; without `%` or `+` nothing is to be decoded,
    so the common token request skips its per-field unquoting."""
    if "%" in text or "+" in text:
        return parse_qsl(text, keep_blank_values=True)
    out = []
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            out.append((name, value))
    return out


def _tagged(fields: Iterable[tuple[str, str]], redactor: Redactor) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for name, value in fields:
        kind = SECRET_PARAMS.get(name)
        out[name] = redactor.secret(kind, value) if kind else value
    return out


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _reply_fields(body: str | None, redactor: Redactor, gaps: list[Gap]) -> dict[str, Value]:
    if body is None:
        gaps.append("response-body-missing")
        return {}
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        gaps.append("response-not-json")
        return {}
    except RecursionError:  # what msgspec raises for JSON nested past its depth limit
        gaps.append("response-too-deep")
        return {}
    if not isinstance(data, dict):
        gaps.append("response-not-json")
        return {}
    out: dict[str, Value] = {}
    for name in ("access_token", "refresh_token", "id_token"):
        if isinstance(data.get(name), str):
            out[name] = redactor.secret(SECRET_PARAMS[name], data[name])
    user = subject(data["id_token"]) if isinstance(data.get("id_token"), str) else None
    if user is None and isinstance(data.get("id_subject"), str):
        # a HAR exported from a tags-only capture spells the user here: the id_token it
        # came from cannot be rebuilt from its tag (no provider sends this field)
        user = data["id_subject"]
    if user is not None:
        out["id_subject"] = redactor.secret("user", user)
    for name in REPLY_FIELDS:
        value = data.get(name)
        if isinstance(value, str):
            # provider text may quote the token it refused, whole, split or percent-encoded
            out[name] = redact_text(value) if len(value) >= 16 else value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            _keep_number(out, name, value, gaps)
        elif isinstance(value, list) and value and all(_integer(v) for v in value[:8]):
            out[name] = ",".join(str(v) for v in value[:8])  # codes, such as error_codes
    for name, value in data.items():
        # lifetimes a custom provider announces (`refresh_token_expires_in`...): its config
        # may name them as `refresh_expires_field`
        lifetime = isinstance(value, int | float) and not isinstance(value, bool)
        if lifetime and isinstance(name, str) and name.endswith("expires_in") and name not in out:
            _keep_number(out, name, value, gaps)
    return out


def _keep_number(out: dict[str, Value], name: str, value: float, gaps: list[Gap]) -> None:
    if sane_number(name, value):
        out[name] = value
    else:
        gaps.append("invalid-lifetime" if _lifetime(name) else "invalid-number")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _lifetime(name: str) -> bool:
    return name in LIFETIMES or name.endswith("expires_in")


def sane_time(value: float | None, gaps: list[Gap]) -> float | None:
    """The time when it can be one (finite, 1970 to 2200), else None and a gap."""
    if value is None or TIME_RANGE[0] <= value <= TIME_RANGE[1]:
        return value
    gaps.append("time-out-of-range")  # nan fails both comparisons and lands here too
    return None


def sane_number(name: str, value: float) -> bool:
    """Finite, and for a lifetime 0 to MAX_LIFETIME seconds (`nan`, `-5`, `1e300` are not)."""
    if _lifetime(name):
        return 0 <= value <= MAX_LIFETIME
    return math.isfinite(value)


def sane_exchange(x: Exchange) -> Exchange:
    """An exchange read as it was stored (a capture record) checked like a built one."""
    gaps = list(x.gaps)
    started, ended = sane_time(x.started, gaps), sane_time(x.ended, gaps)
    bad = [n for n, v in x.reply.items() if _is_number(v) and not sane_number(n, float(v))]  # type: ignore[arg-type]
    reply = {n: v for n, v in x.reply.items() if n not in bad} if bad else x.reply
    gaps += ["invalid-lifetime" if _lifetime(n) else "invalid-number" for n in bad]
    if len(gaps) == len(x.gaps):
        return x
    return replace(x, started=started, ended=ended, reply=reply, gaps=tuple(dict.fromkeys(gaps)))


def _client_auth(
    authorization: str | None, fields: list[tuple[str, str]], redactor: Redactor
) -> ClientAuth:
    """Client credentials from `Authorization: Basic`, else from the form body (Airbyte, Nango)."""
    if authorization is not None and authorization[:6].lower() == "basic ":
        # an app sends the same header on every request: decode and tag it once
        token = authorization[6:].strip()
        return redactor.remember("basic", token, lambda: _basic(token, redactor))
    body = dict(fields)
    if "client_id" in body or "client_secret" in body:
        client_id = body.get("client_id")
        secret = body.get("client_secret")
        defects = _cred_defects("id", client_id) + _cred_defects("secret", secret)
        tagged = redactor.secret("secret", secret) if secret is not None else None
        return ClientAuth(client_id, tagged, "body", defects)
    return ClientAuth(None, None, "none")


def _basic(token: str, redactor: Redactor) -> ClientAuth:
    try:
        # what base64.b64decode(token, validate=True) does, without its Python wrapper
        raw = binascii.a2b_base64(token.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError):
        return ClientAuth(None, None, "basic", ("not-base64",))
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:  # e.g. a latin-1 secret, or an encrypted value never decrypted
        return ClientAuth(None, None, "basic", ("not-utf8",))
    if ":" not in decoded:
        return ClientAuth(None, None, "basic", ("no-colon",))
    client_id, _, secret = decoded.partition(":")
    defects = _cred_defects("id", client_id) + _cred_defects("secret", secret)
    return ClientAuth(client_id, redactor.secret("secret", secret), "basic", defects)


def _cred_defects(part: str, value: str | None) -> tuple[CredentialDefect, ...]:
    if value is None:
        return (CRED_DEFECTS["missing", part],)
    _, defects = canonical(value)
    if not defects:
        return ()
    return tuple(CRED_DEFECTS[d, part] for d in defects if (d, part) in CRED_DEFECTS)


def header_pairs(items: object) -> list[tuple[str, str]]:
    """HAR headers as (name, value): `{name, value}` objects or `[name, value]` pairs (Slack)."""
    out: list[tuple[str, str]] = []
    if not isinstance(items, list):
        return out
    for item in items:
        if isinstance(item, Mapping):
            name, value = item.get("name"), item.get("value")
        elif isinstance(item, list | tuple) and len(item) == 2:
            name, value = item
        else:
            continue
        if isinstance(name, str) and isinstance(value, str | int | float):
            out.append((name, str(value)))
    return out
