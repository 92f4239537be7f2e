"""A token request as one log record reports it, and its `Exchange`.

An SDK module fills a `Hit` with what its line shows, raw; `to_exchange` hands it to
`build_exchange` like any captured request, so tokens in clear (the Node SDK's success lines,
the .NET AdvancedLogger's request body and Basic header) are tagged there and never kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from qbtrace.model import TENANT, TOKEN_NOT_LOGGED, ClientAuth, Exchange, Kind, RawParts, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources.build import build_exchange


@dataclass(slots=True)
class Record:
    """One log record: its first line, its text (unwrapped from JSON), time and process."""

    index: int
    text: str
    time: float | None = None
    naive: bool = False
    process: str | None = None
    wrapper: str = "plain"


@dataclass(slots=True)
class Hit:
    """What one record says about a token request. Raw: lives only inside `sources.logs`."""

    sdk: str
    kind: Kind = Kind.TOKEN
    grant: str | None = None
    status: int | None = None
    failure: str | None = None
    response_body: str | None = None
    """The answer's JSON text when the log has it (a success line's token response)."""
    error: str | None = None
    description: str | None = None
    request_body: str | None = None
    authorization: str | None = None
    tid: str | None = None
    server_date: str | None = None
    client_id: str | None = None
    realm: str | None = None
    time: float | None = None
    """A time the line itself states, when the record has none (intuitlib's server time)."""
    notes: list[str] = field(default_factory=list)


def to_exchange(hit: Hit, rec: Record, ref: Ref, profile: Profile, redactor: Redactor) -> Exchange:
    moment = rec.time if rec.time is not None else hit.time
    body = hit.response_body
    if body is None and hit.status is not None:
        answer = {"error": hit.error, "error_description": hit.description}
        body = json.dumps({k: v for k, v in answer.items() if v is not None})
    request_body = hit.request_body
    if request_body is None and hit.grant is not None:
        request_body = f"grant_type={hit.grant}"
    headers = [("intuit_tid", hit.tid)] if hit.tid else []
    if hit.server_date:
        headers.append(("date", hit.server_date))
    provider = profile.default  # the SDKs of these formats talk to the default provider
    revoke = provider.revoke_endpoint or provider.token_endpoint
    url = provider.token_endpoint if hit.kind == Kind.TOKEN else revoke
    raw = RawParts(
        method="POST",
        url=url,
        started=moment,
        ended=moment,
        request_headers=[("authorization", hit.authorization)] if hit.authorization else [],
        request_body=request_body,
        status=hit.status,
        response_headers=headers,
        response_body=body if hit.status is not None else None,
        failure=hit.failure if hit.status is None else None,
    )
    x = build_exchange(ref, hit.kind, raw, redactor)
    return _logged(x, hit, rec)


def _logged(x: Exchange, hit: Hit, rec: Record) -> Exchange:
    """The log's own view: what it cannot show is one gap, not a missing capture part."""
    presented = x.params.get("refresh_token") or x.params.get("code") or x.params.get("token")
    gaps = [g for g in x.gaps if g not in ("request-body-missing", "client-auth-missing")]
    if presented is None:
        gaps.append(TOKEN_NOT_LOGGED)
    params = dict(x.params)
    if hit.realm:
        params[TENANT] = hit.realm
    client = x.client
    if hit.client_id and (client is None or client.via == "none"):
        client = ClientAuth(hit.client_id, None, "log")
    return replace(x, params=params, client=client, gaps=tuple(gaps), process=rec.process)
