"""The recorder's `requests` hook, with real `requests` sessions against a real local server.

The profile points the token and authorize endpoints at the server, so the traffic is what
intuitlib or requests-oauthlib would send, over a real socket.
"""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path

import pytest
import requests

import qbtrace.record
import qbtrace.record.recorder as recorder_module
from qbtrace.capture import ExchangeRecord, Header, decode_line
from qbtrace.record.bodies import MAX_FAILURE, body_text, failure_text
from tests.conftest import analyze_json
from tests.token_server import ISSUED_AT, ISSUED_RT, Server

SECRET = "planted-client-secret-5a5a5a5a"
STALE_FORM = {"grant_type": "refresh_token", "refresh_token": "stale"}
PLANTED_RT = "RT1-planted-0a1b2c3d4e5f6a7b8c9d"


def records(path: Path) -> list[ExchangeRecord]:
    lines = [decode_line(line) for line in path.read_bytes().splitlines()]
    assert isinstance(lines[0], Header)
    return [r for r in lines[1:] if isinstance(r, ExchangeRecord)]


def refresh(server: Server, token: str = PLANTED_RT, **kwargs: object) -> requests.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token}
    return requests.post(server.token_url, data=form, auth=("ABclient", SECRET), **kwargs)


def test_token_requests_are_recorded_as_tags_only(server: Server, capture: Path) -> None:
    assert refresh(server).status_code == 200
    assert refresh(server, "stale").status_code == 400
    raw = capture.read_text()
    for planted in (SECRET, PLANTED_RT, ISSUED_RT, ISSUED_AT):
        assert planted not in raw
    first, second = records(capture)
    assert first.status == 200 and first.client is not None
    assert first.client.client_id == "ABclient" and first.client.via == "basic"
    assert second.reply == {"error": "invalid_grant"}
    assert first.started is not None and first.ended is not None
    assert first.started <= first.ended
    assert first.headers["intuit_tid"].startswith("1-")
    report = analyze_json(capture, extra=("--config", str(write_config(server, capture))))
    assert report["summary"]["token_requests"] == 2
    assert report["summary"]["failures"] == 1


def write_config(server: Server, beside: Path) -> Path:
    config = beside.with_name("qbtrace.toml")
    config.write_text(f'[provider]\ntoken_endpoint = "{server.token_url}"\n')
    return config


def test_unrelated_requests_are_not_recorded(server: Server, capture: Path) -> None:
    requests.get(server.base + "/api/v3/company/1/query")
    assert records(capture) == []


def wire(server: Server) -> list[tuple[str, str, list[tuple[str, str]], bytes]]:
    return [(s.method, s.path, s.headers, s.body) for s in server.seen]


def test_the_app_sends_and_receives_the_same_with_the_recorder(
    server: Server, tmp_path: Path
) -> None:
    def session_run() -> list[object]:
        with requests.Session() as session:
            ok = session.post(server.token_url, data=STALE_FORM, auth=("ABclient", SECRET))
            hop = session.get(server.base + "/connect/oauth2?client_id=AB&state=x")
            return [ok.status_code, ok.content, dict(ok.headers), hop.url, hop.content]

    bare = session_run()
    bare_wire = wire(server)
    server.seen.clear()
    qbtrace.record.install(tmp_path / "t.jsonl", profile=server.profile())
    try:
        recorded = session_run()
    finally:
        qbtrace.record.uninstall()
    assert scrub(recorded) == scrub(bare)
    assert wire(server) == bare_wire
    assert len(records(tmp_path / "t.jsonl")) == 3  # token, authorize, callback


def scrub(result: list[object]) -> list[object]:
    headers = result[2]
    assert isinstance(headers, dict)
    return [*result[:2], {k: v for k, v in headers.items() if k != "Date"}, *result[3:]]


def test_each_redirect_hop_is_recorded_once(server: Server, capture: Path) -> None:
    response = requests.get(server.base + "/connect/oauth2?client_id=AB&state=st4te")
    assert response.status_code == 200 and len(response.history) == 1
    kinds = sorted(r.kind for r in records(capture))
    assert kinds == ["authorize", "callback"]


def test_an_exception_inside_the_recorder_leaves_the_request_intact(
    server: Server, capture: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError(f"recorder bug holding {PLANTED_RT}")

    monkeypatch.setattr(recorder_module, "build_exchange", broken)
    with caplog.at_level(logging.ERROR, logger="qbtrace.record"):
        response = refresh(server)
    assert response.status_code == 200 and response.json()["refresh_token"] == ISSUED_RT
    assert server.seen[-1].body.decode().endswith(PLANTED_RT)
    assert records(capture) == []
    assert "RuntimeError" in caplog.text and PLANTED_RT not in caplog.text


def test_a_broken_clock_or_closed_capture_never_reaches_the_app(
    server: Server, capture: Path
) -> None:
    recorder = qbtrace.record.active()
    assert recorder is not None

    def clock() -> float:
        raise OSError("clock gone")

    recorder.clock = clock
    recorder.writer.close()
    recorder.writer.fd = os.open("/dev/full", os.O_WRONLY)  # a full disk: ENOSPC
    full = os.fstat(recorder.writer.fd)
    recorder.writer.ident = (full.st_dev, full.st_ino)
    assert refresh(server).status_code == 200
    assert recorder.problems == 3 and recorder.recorded == 0  # two clock reads, one write


def test_a_capture_whose_descriptor_was_closed_starts_again(server: Server, capture: Path) -> None:
    recorder = qbtrace.record.active()
    assert recorder is not None
    os.close(recorder.writer.fd)  # a daemonizing app closes every descriptor it inherited
    assert refresh(server).status_code == 200
    headers = [line for line in capture.read_bytes().splitlines() if b"qbtrace_capture" in line]
    assert len(headers) == 2 and len(records(capture)) == 1


def test_a_connection_failure_is_recorded_and_the_app_gets_its_own_exception(
    server: Server, tmp_path: Path
) -> None:
    closed = Server("http://127.0.0.1:9")  # discard port: nothing listens
    qbtrace.record.install(tmp_path / "t.jsonl", profile=closed.profile())
    try:
        with pytest.raises(requests.ConnectionError):
            refresh(closed, timeout=2)
    finally:
        qbtrace.record.uninstall()
    (failed,) = records(tmp_path / "t.jsonl")
    assert failed.status is None and failed.failure is not None
    assert failed.failure.startswith("ConnectionError")


def test_a_streamed_answer_is_recorded_once_the_app_is_done_with_it(
    server: Server, capture: Path
) -> None:
    """Read whole by the app (`.json()`): recorded with its body when the response goes;
    read in chunks or not at all: recorded without it. The recorder never reads it."""
    response = refresh(server, stream=True)
    assert not response._content_consumed and records(capture) == []
    assert response.json()["refresh_token"] == ISSUED_RT
    del response
    gc.collect()
    (read,) = records(capture)
    assert "response-streamed" not in read.gaps and read.status == 200
    assert read.reply["refresh_token"] and ISSUED_RT not in capture.read_text()
    with requests.Session() as session:
        chunked = session.post(server.token_url, data=STALE_FORM, stream=True)
        assert next(chunked.iter_content(4)) == b'{"er'  # the app reads a little of it
        chunked.close()
        del chunked
        gc.collect()
    unread = records(capture)[1]
    assert "response-streamed" in unread.gaps and unread.reply == {}
    assert unread.status == 400


def test_a_streamed_answer_after_uninstall_is_not_written(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "tokens.jsonl"
    qbtrace.record.install(path, profile=server.profile())
    response = refresh(server, stream=True)
    qbtrace.record.uninstall()
    assert response.json()["refresh_token"] == ISSUED_RT
    del response
    gc.collect()
    assert records(path) == []


def test_bodies_and_failures_as_text() -> None:
    assert body_text(b"a=1") == "a=1" and body_text("x") == "x"
    assert body_text(iter([b"a"])) is None
    assert body_text(b"\xff") == "\ufffd"
    long = failure_text(ValueError("word " * 1000 + PLANTED_RT * 10))
    assert len(long) <= MAX_FAILURE + 6 and PLANTED_RT[:10] not in long
    assert failure_text(TimeoutError()) == "TimeoutError"
