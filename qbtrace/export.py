"""Flow files and qbtrace captures → HAR 1.2 dicts, for `qbtrace sanitize` to clean and share.

Nothing here removes a secret: a flow file or a `raw: true` capture session becomes a HAR
with its raw values, which `qbtrace.sanitize` then replaces. A tags-only capture holds no
raw value, so its HAR is spelled from the tags (see `TagSpeller`).

- **Flow files**: every HTTP flow, related to OAuth or not, through mitmproxy's own HAR export
  (`SaveHar.flow_entry`). Two corrections keep the HAR telling what qbtrace reads from the
  flow: `time` is the flow's own span (request start to response end or error, as
  `sources.mitm.flow_parts` takes it; SaveHar also counts connection setup), and a flow that
  has a response and an error (the response never reached the client) is written unanswered:
  status 0 with the error in `_error` (as every unanswered flow, with the `content` fields
  HAR 1.2 requires, which SaveHar leaves out there). Damaged flows are skipped with a
  warning, as are flows that are not HTTP (SaveHar has no form for them).
- **Captures**: one entry per record, in file order (header lines give none). Each entry's
  `_qbtrace` field holds the record's `line` (the index `qbtrace analyze` gives the capture's
  exchanges) and `flow_id`. A raw record becomes an entry from its raw parts. A tags-only
  record becomes a request and response that `qbtrace analyze` reads back to the same
  exchange: the URL with its query (authorize, callback, disconnect) or a form body (token,
  revoke) of `params`; client credentials as `Authorization: Basic` (`via: basic`) or form
  fields (`via: body`); the token response's `reply` as a JSON body, or a redirect's as its
  `Location`; the kept headers; `failure` as `_error` with status 0.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from qbtrace import __version__
from qbtrace.capture import ExchangeRecord, RawRecord
from qbtrace.model import ClientAuth, Kind, RawParts
from qbtrace.redact import Secret
from qbtrace.spelling import TagSpeller

Har = dict[str, Any]
ALL = re.compile(b"")
"""Matches every request path: `qbtrace sanitize` converts every flow, not only OAuth ones."""
REQUEST_HEADERS = ("user-agent", "x-include-refresh-token-hard-expires-in")
"""Kept headers a client sends; the others (a request id, `date`...) go on the response."""
FORM = "application/x-www-form-urlencoded"


def har_document(entries: list[Har], comment: str) -> Har:
    """A HAR 1.2 log around `entries`; `comment` says what it was converted from."""
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "qbtrace", "version": __version__, "comment": comment},
            "pages": [],
            "entries": entries,
        }
    }


# --- mitmproxy flow files ---------------------------------------------------------------------


def flows_to_har(path: Path, source: str, warnings: list[str]) -> Har:
    """Every HTTP flow of a flow file as a HAR entry, by mitmproxy's HAR export."""
    from mitmproxy import http
    from mitmproxy.addons.savehar import SaveHar

    from qbtrace.sources.mitm import flows

    saver = SaveHar()
    servers_seen: set[Any] = set()
    entries: list[Har] = []
    skipped = 0
    unconvertible: list[int] = []
    warned = len(warnings)
    for index, flow in flows(path, source, ALL, warnings):
        if not isinstance(flow, http.HTTPFlow):
            skipped += len(warnings) == warned  # else damaged, and warned of
            warned = len(warnings)
            continue
        try:
            entry = saver.flow_entry(flow, servers_seen)
        except Exception:  # SaveHar fails on flows it cannot model (a str WebSocket message)
            unconvertible.append(index)
            continue
        _as_qbtrace_reads_it(entry, flow)
        entries.append(_clean(entry))
    if skipped:
        warnings.append(f"{skipped} flows that are not HTTP (tcp, udp, dns) have no HAR form")
    if unconvertible:
        shown = ", ".join(map(str, unconvertible[:5])) + (", ..." if len(unconvertible) > 5 else "")
        warnings.append(
            f"{len(unconvertible)} flows that mitmproxy's HAR export cannot convert were "
            f"skipped (flows {shown}, counting from 0)"
        )
    return har_document(entries, "a mitmproxy flow file, by mitmproxy's HAR export")


def _as_qbtrace_reads_it(entry: Har, flow: Any) -> None:
    req, resp, err = flow.request, flow.response, flow.error
    ended = err.timestamp if err is not None else resp.timestamp_end if resp is not None else None
    if ended is not None and req.timestamp_start is not None:
        entry["time"] = max(0.0, 1000 * (ended - req.timestamp_start))
    if resp is None or err is not None:
        # SaveHar's response of an unanswered flow lacks `content.size`/`mimeType` (HAR 1.2)
        entry["response"] = _unanswered(err.msg if err is not None else None)


def _unanswered(failure: str | None) -> Har:
    response: Har = {
        "status": 0,
        "statusText": "",
        "httpVersion": "",
        "cookies": [],
        "headers": [],
        "content": {"size": 0, "mimeType": ""},
        "redirectURL": "",
        "headersSize": -1,
        "bodySize": -1,
    }
    if failure is not None:
        response["_error"] = failure
    return response


def _clean(data: Any) -> Any:
    """Strings with mitmproxy's lone surrogates (undecodable bytes) made valid UTF-8."""
    if isinstance(data, str):
        from qbtrace.sources.mitm import valid_utf8  # mitmproxy only where flows are read

        return valid_utf8(data)
    if isinstance(data, dict):
        return {_clean(k): _clean(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_clean(v) for v in data]
    return data


# --- qbtrace captures -------------------------------------------------------------------------


def capture_to_har(data: bytes, source: str, warnings: list[str]) -> Har:
    """Every record of a capture as a HAR entry: raw records from their parts, tagged ones
    spelled from their tags. Parsed by the reader's own parser (`parse_capture`)."""
    from qbtrace.sources.capture import parse_capture

    parsed = parse_capture(data, source)
    warnings.extend(parsed.warnings())
    records = parsed.records
    speller = TagSpeller(
        s for _, r in records if isinstance(r, ExchangeRecord) for s in record_secrets(r)
    )
    entries = []
    for index, record in records:
        if isinstance(record, RawRecord):
            entry = parts_entry(record.raw)
        else:
            entry = record_entry(record, speller)
        entry["_qbtrace"] = {"line": index, "flow_id": record.flow_id}
        entries.append(entry)
    return har_document(entries, "a qbtrace capture")


def record_secrets(record: ExchangeRecord) -> Iterator[Secret]:
    for value in (*record.params.values(), *record.reply.values()):
        if isinstance(value, Secret):
            yield value
    if record.client is not None and record.client.secret is not None:
        yield record.client.secret


def _time(started: float | None) -> str:
    # HAR requires a date; an exchange without one gets an empty string, which readers
    # (qbtrace's too) take as "no time"
    return "" if started is None else datetime.fromtimestamp(started, UTC).isoformat()


def _elapsed(started: float | None, ended: float | None) -> float:
    return max(0.0, 1000 * (ended - started)) if started is not None and ended else 0.0


def _pairs(headers: list[tuple[str, str]]) -> list[Har]:
    return [{"name": n, "value": v} for n, v in headers]


def _message(
    method: str, url: str, headers: list[tuple[str, str]], body: str | None, mime: str
) -> Har:
    from urllib.parse import parse_qsl

    from qbtrace.urls import split

    request: Har = {
        "method": method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _pairs(headers),
        "queryString": [
            {"name": n, "value": v} for n, v in parse_qsl(split(url).query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": -1 if body is None else len(body.encode()),
    }
    if body is not None:
        request["postData"] = {"mimeType": mime, "text": body}
    return request


def _response(
    status: int | None,
    failure: str | None,
    headers: list[tuple[str, str]],
    body: str | None,
) -> Har:
    if status is None:
        return _unanswered(failure)
    mime = next((v for n, v in headers if n.lower() == "content-type"), "")
    content: Har = {"size": 0 if body is None else len(body.encode()), "mimeType": mime}
    if body is not None:
        content["text"] = body
    location = next((v for n, v in headers if n.lower() == "location"), "")
    return {
        "status": status,
        "statusText": "",
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _pairs(headers),
        "content": content,
        "redirectURL": location,
        "headersSize": -1,
        "bodySize": -1 if body is None else content["size"],
    }


def _entry(started: float | None, ended: float | None, request: Har, response: Har) -> Har:
    elapsed = _elapsed(started, ended)
    return {
        "startedDateTime": _time(started),
        "time": elapsed,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"send": 0, "wait": elapsed, "receive": 0},
    }


def parts_entry(parts: RawParts) -> Har:
    """A HAR entry of the raw parts of one exchange (a `raw: true` capture record)."""
    mime = next((v for n, v in parts.request_headers if n.lower() == "content-type"), "")
    request = _message(parts.method, parts.url, parts.request_headers, parts.request_body, mime)
    response = _response(parts.status, parts.failure, parts.response_headers, parts.response_body)
    return _entry(parts.started, parts.ended, request, response)


def record_entry(record: ExchangeRecord, speller: TagSpeller) -> Har:
    """A HAR entry that `qbtrace analyze` reads back to the exchange of a tags-only record."""
    r = record
    answered = r.status is not None
    req_headers: list[tuple[str, str]] = []
    resp_headers: list[tuple[str, str]] = []
    for name, value in r.headers.items():
        on_request = name in REQUEST_HEADERS or not answered
        (req_headers if on_request else resp_headers).append((name, value))
    fields = {name: speller.value(v) for name, v in r.params.items()}
    body: str | None = None
    url = r.url
    if r.kind in (Kind.TOKEN, Kind.REVOKE):
        # no content-type is made up: it is one of the headers the rules see
        mime = dict(req_headers).get("content-type", "")
        if "request-body-missing" not in r.gaps:
            body = json.dumps(fields) if "json" in mime else _form(fields)
        mime = mime or FORM
        auth = _authorization(r.client, speller)
        if auth is not None:
            req_headers.insert(0, ("authorization", auth))
    else:
        mime = ""
        if fields:
            url = f"{url}?{_form(fields)}"
    reply = dict(r.reply)
    reply_body: str | None = None
    if r.kind in (Kind.AUTHORIZE, Kind.CALLBACK):
        target = reply.pop("redirect_to", None)
        if isinstance(target, str):
            where = target[3:] if target.startswith("://") else target
            query = _form({n: speller.value(v) for n, v in reply.items()})
            resp_headers.append(("location", f"{where}?{query}" if query else where))
    elif answered and "response-body-missing" not in r.gaps:
        if "response-not-json" in r.gaps:
            reply_body = "(not JSON; the capture kept only the fields qbtrace reads)"
        else:
            reply_body = json.dumps({n: speller.value(v) for n, v in reply.items()})
    request = _message(r.method, url, req_headers, body, mime)
    response = _response(r.status, r.failure, resp_headers, reply_body)
    return _entry(r.started, r.ended, request, response)


def _form(fields: Mapping[str, object]) -> str:
    return urlencode([(n, "" if v is None else str(v)) for n, v in fields.items()], quote_via=quote)


def _authorization(client: ClientAuth | None, speller: TagSpeller) -> str | None:
    if client is None or client.via != "basic":
        return None  # `body` credentials are among the params already
    if "not-base64" in client.defects:
        return "Basic (not base64)"
    if client.secret is None or client.client_id is None:
        return "Basic " + base64.b64encode(b"qbtrace-no-colon").decode()
    pair = f"{client.client_id}:{speller.value(client.secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()
