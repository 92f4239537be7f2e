"""The recorder's `httpx` hook: Authlib's httpx clients (sync and async) and plain httpx,
against a real local server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client

import qbtrace.record
import qbtrace.record.recorder as recorder_module
from tests.test_hook_requests import PLANTED_RT, SECRET, records
from tests.token_server import ISSUED_AT, ISSUED_RT, Server


def test_authlib_refresh_is_recorded_as_tags_only(server: Server, capture: Path) -> None:
    with OAuth2Client("ABclient", SECRET, token_endpoint_auth_method="client_secret_basic") as c:
        token = c.refresh_token(server.token_url, refresh_token=PLANTED_RT)
    assert token["refresh_token"] == ISSUED_RT
    (seen,) = records(capture)
    assert seen.kind == "token" and seen.status == 200
    assert seen.client is not None and seen.client.via == "basic"
    assert seen.params["grant_type"] == "refresh_token"
    raw = capture.read_text()
    assert all(s not in raw for s in (SECRET, PLANTED_RT, ISSUED_RT, ISSUED_AT))


def test_async_authlib_refresh_is_recorded(server: Server, capture: Path) -> None:
    async def run() -> dict[str, object]:
        async with AsyncOAuth2Client(
            "ABclient", SECRET, token_endpoint_auth_method="client_secret_post"
        ) as client:
            fresh = await client.refresh_token(server.token_url, refresh_token=PLANTED_RT)
            await client.post(server.token_url, data={"grant_type": "refresh_token"})
            return dict(fresh)

    assert asyncio.run(run())["access_token"] == ISSUED_AT
    first, second = records(capture)
    assert first.client is not None and first.client.via == "body"
    assert first.reply["expires_in"] == 3600 and second.status == 200


def test_followed_redirects_record_every_hop(server: Server, capture: Path) -> None:
    response = httpx.get(
        server.base + "/connect/oauth2?client_id=AB&state=x", follow_redirects=True
    )
    assert response.status_code == 200 and len(response.history) == 1
    authorize, callback = records(capture)
    assert (authorize.kind, callback.kind) == ("authorize", "callback")
    assert authorize.started is not None and callback.started is not None
    assert authorize.started <= callback.started
    assert authorize.reply["redirect_to"] == server.base + "/callback"


def test_an_exception_inside_the_recorder_leaves_the_request_intact(
    server: Server, capture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise MemoryError  # the worst an encoder can do short of killing the process

    monkeypatch.setattr(recorder_module, "encode_line", broken)
    form = {"grant_type": "refresh_token", "refresh_token": PLANTED_RT}
    response = httpx.post(server.token_url, data=form, auth=("ABclient", SECRET))
    assert response.json()["refresh_token"] == ISSUED_RT
    assert server.seen[-1].body.decode().endswith(PLANTED_RT)
    assert records(capture) == []


def test_a_connection_failure_is_recorded_and_the_app_gets_its_own_exception(
    tmp_path: Path,
) -> None:
    closed = Server("http://127.0.0.1:9")
    qbtrace.record.install(tmp_path / "t.jsonl", profile=closed.profile())
    try:
        with pytest.raises(httpx.ConnectError):
            httpx.post(closed.token_url, data={"grant_type": "refresh_token"})
    finally:
        qbtrace.record.uninstall()
    (failed,) = records(tmp_path / "t.jsonl")
    assert failed.status is None and (failed.failure or "").startswith("ConnectError")


def test_a_streamed_answer_is_left_to_the_app(server: Server, capture: Path) -> None:
    with httpx.Client() as client, client.stream("POST", server.token_url, data={"a": "b"}) as r:
        assert b"refresh_token" in r.read()
    (seen,) = records(capture)
    assert "response-streamed" in seen.gaps
