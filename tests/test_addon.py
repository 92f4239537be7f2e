"""The capture addon (addons/qbtrace_capture.py), driven by mitmproxy itself.

Unit cases use mitmproxy's `taddons`/`tflow`; the end-to-end case starts a real `mitmdump`
with a tiny Intuit token-endpoint emulator and the addon, sends real HTTPS requests through
it, kills it with SIGKILL mid-request and reads the capture back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import importlib
import importlib.util
import logging
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import brotli
import pytest
import requests
from mitmproxy import ctx, eventsequence, exceptions, http
from mitmproxy import flow as mflow
from mitmproxy.test import taddons, tflow

from qbtrace.analysis import analyze_inputs
from qbtrace.live import POLL
from qbtrace.model import Exchange, Input, Kind
from qbtrace.profile import Profile
from qbtrace.providers import DEFAULT
from qbtrace.redact import Redactor
from qbtrace.sources import read_input
from qbtrace.sources.mitm import flow_parts
from qbtrace.sources.prefilter import PathFilter, path_anchors

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "addons" / "qbtrace_capture.py"
MITMDUMP = Path(sys.executable).with_name("mitmdump")
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
KEY = "test-tag-key"
CLIENT_ID, SECRET = "ABtestclient", "planted-secret-5a5a5a5a5a"
RT = "RT1-PLANTED-a1b2c3d4e5f6a7b8c9d0"
AT = "eyJPLANTED-access-token-0f0e0d0c"


def load_addon() -> ModuleType:
    spec = importlib.util.spec_from_file_location("qbtrace_capture_under_test", ADDON)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def addon(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("QBTRACE_TAG_KEY", KEY)
    return load_addon().QbtraceCapture()


def token_flow(
    status: int = 400, body: bytes = b'{"error":"invalid_grant"}', rt: str = RT
) -> http.HTTPFlow:
    f = tflow.tflow(resp=True)
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    f.request = http.Request.make(
        "POST",
        TOKEN_URL,
        f"grant_type=refresh_token&refresh_token={rt}".encode(),
        {"content-type": "application/x-www-form-urlencoded", "authorization": f"Basic {basic}"},
    )
    f.response = http.Response.make(status, body, {"content-type": "application/json"})
    return f


def test_unwritable_capture_path_is_an_options_error(addon: Any, tmp_path: Path) -> None:
    with taddons.context(addon) as tctx, pytest.raises(exceptions.OptionsError, match="cannot"):
        tctx.configure(addon, qbtrace_capture=str(tmp_path / "no-such-dir" / "cap.jsonl"))


def test_existing_capture_is_appended_to_never_truncated(addon: Any, tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    path.write_bytes(b'{"earlier": "session"}\n')
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(path))
        addon.response(token_flow())
        addon.done()  # the recording thread writes by then (mitmproxy calls done at exit)
    lines = path.read_bytes().splitlines()
    assert lines[0] == b'{"earlier": "session"}'
    assert b'"qbtrace_capture":1' in lines[1] and b'"kind":"token"' in lines[2]


def test_records_only_oauth_flows_with_the_flows_own_timestamps(addon: Any, tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    f = token_flow(200, b'{"refresh_token":"RT1-next","access_token":"eyJx","expires_in":3600}')
    assert f.response is not None
    f.request.timestamp_start, f.response.timestamp_end = 1_800_000_000.5, 1_800_000_001.5
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(path))
        addon.response(tflow.tflow(resp=True))
        addon.response(f)
        addon.error(tflow.tflow(err=True))
        addon.done()
    got = read_input(path, "cap.jsonl", Profile(), Redactor(KEY.encode()))
    assert not got.warnings
    (x,) = got.exchanges
    assert (x.ref.index, x.status, x.started, x.ended) == (1, 200, 1_800_000_000.5, 1_800_000_001.5)


def test_failed_token_request_in_error_hook_is_recorded(addon: Any, tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    f = token_flow()
    f.response = None
    f.error = mflow.Error("Connection reset by peer", 1_800_000_009.0)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(path))
        addon.error(f)
        addon.done()
    (x,) = read_input(path, "cap.jsonl", Profile(), Redactor(KEY.encode())).exchanges
    assert x.status is None and x.failure == "Connection reset by peer"


def test_a_flow_with_a_response_then_an_error_is_recorded_once_by_mitmdump_r(
    tmp_path: Path,
) -> None:
    """Such a flow (the client hung up after the answer) reaches both the `response` and
    the `error` hook: a flow file read back by a real `mitmdump -r` held it twice, and the
    analysis then saw two failures where there was one."""
    from mitmproxy import io

    hung_up = token_flow()
    assert hung_up.response is not None
    hung_up.error = mflow.Error("Connection reset by peer", hung_up.response.timestamp_end + 1)
    answered = token_flow(200, b'{"access_token":"a","refresh_token":"r","expires_in":3600}')
    flows, capture = tmp_path / "flows.mitm", tmp_path / "cap.jsonl"
    with flows.open("wb") as handle:
        writer = io.FlowWriter(handle)
        writer.add(hung_up)
        writer.add(answered)
    env = {**os.environ, "QBTRACE_TAG_KEY": KEY, "PYTHONPATH": str(ROOT)}
    argv = [str(MITMDUMP), "-q", "-n", "-r", str(flows), "--set", f"confdir={tmp_path}"]
    argv += ["-s", str(ADDON), "--set", f"qbtrace_capture={capture}"]
    subprocess.run(argv, env=env, check=True, timeout=120, capture_output=True)
    got = read_input(capture, capture.name, Profile(), Redactor(KEY.encode()))
    # once each, read as `flow_parts` reads a flow file's flow (its error wins)
    assert [x.failure for x in got.exchanges] == ["Connection reset by peer", None]
    analysis = analyze_inputs([got], Profile())
    assert len(analysis.findings) == 1


@pytest.mark.parametrize(
    "body, headers",
    [
        (b"<html>502 Bad Gateway</html>", {"content-type": "text/html"}),
        (b'\xff\xfe{"error": "invalid_grant"}\x80', {"content-type": "application/json"}),
        (b"not gzip at all", {"content-encoding": "gzip", "content-type": "application/json"}),
        (b'{"error": ', {"content-type": "application/json; charset=no-such-charset"}),
    ],
    ids=["html", "bad-utf8", "bad-gzip", "cut-json"],
)
def test_malformed_token_response_leaves_the_flow_untouched(
    addon: Any, tmp_path: Path, body: bytes, headers: dict[str, str]
) -> None:
    f = token_flow()
    f.response = http.Response.make(400, b"", headers)
    f.response.raw_content = body
    before = f.get_state()
    path = tmp_path / "cap.jsonl"
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(path))
        addon.response(f)
        addon.done()
    assert f.get_state() == before
    (x,) = read_input(path, "cap.jsonl", Profile(), Redactor(KEY.encode())).exchanges
    assert x.status == 400


def test_exception_inside_the_addon_is_logged_and_the_flow_passes(
    addon: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise ValueError(f"internal bug while holding {RT}")

    monkeypatch.setitem(type(addon.session).record.__globals__, "build_exchange", broken)
    f = token_flow()
    before = f.get_state()
    with taddons.context(addon) as tctx, caplog.at_level(logging.WARNING):
        tctx.configure(addon, qbtrace_capture=str(tmp_path / "cap.jsonl"))
        addon.response(f)
        addon.response(tflow.tflow(resp=True))
        addon.done()
    assert f.get_state() == before
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "ValueError" in errors[0].getMessage()
    assert errors[0].threadName == "qbtrace-recorder"  # redaction runs off the event loop
    assert RT not in caplog.text


def _http2_flow() -> http.HTTPFlow:
    f = token_flow()
    f.request.http_version = "HTTP/2.0"
    f.request.authority = "oauth.platform.intuit.com"
    assert "host" not in f.request.headers  # pretty_url comes from the authority
    return f


def _unanswered_flow() -> http.HTTPFlow:
    f = token_flow()
    f.error = mflow.Error("Connection reset by peer", 1_800_000_009.0)  # answer not delivered
    return f


def _no_response_flow() -> http.HTTPFlow:
    f = _unanswered_flow()
    f.response = None
    return f


def _oversized_flow() -> http.HTTPFlow:
    f = encoded_token_flow("gzip", b'{"error":"invalid_grant"}')
    assert f.response is not None
    f.response.raw_content = os.urandom(1 << 20) + b"more than the cap"
    return f


@pytest.mark.parametrize(
    "make",
    [token_flow, _http2_flow, _unanswered_flow, _oversized_flow, _no_response_flow],
    ids=["token", "http2", "unanswered", "oversized", "no-response"],
)
def test_the_copy_gives_the_parts_of_the_flow_itself(
    addon: Any, make: Callable[[], http.HTTPFlow]
) -> None:
    flow = make()
    module = load_addon()
    copied, _ = module.copy_flow(flow)
    unpack = addon.session.unpack
    for _ in range(2):  # the unpacker reuses its messages: nothing of one copy stays
        got = unpack(copied, Profile())
        assert got is not None
        assert got[1] == flow_parts(flow) and got[2] == flow.id
        unpack(module.copy_flow(token_flow(200, b"{}", rt="RT1-other"))[0], Profile())


def test_the_hook_only_hands_over_and_done_writes_what_is_queued(
    addon: Any, tmp_path: Path
) -> None:
    path = tmp_path / "cap.jsonl"
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(path))
        with addon.session.lock:  # the recording thread cannot start a round
            addon.response(token_flow())
            assert len(path.read_bytes().splitlines()) == 1  # the header: nothing written
        addon.done()
    (x,) = read_input(path, "cap.jsonl", Profile(), Redactor(KEY.encode())).exchanges
    assert (x.status, x.reply.get("error")) == (400, "invalid_grant")


def test_what_happens_to_a_flow_after_the_copy_does_not_reach_the_capture(
    addon: Any, tmp_path: Path
) -> None:
    path = tmp_path / "cap.jsonl"
    f = token_flow()
    assert f.response is not None
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(path))
        addon.response(f)
        addon.settle()  # the thread's round copied it: an edit in mitmweb or a replay after it
        f.request.path = "/v3/company/1/query"
        f.request.headers["authorization"] = "Basic b3RoZXI6b3RoZXI="
        f.request.content = b"grant_type=authorization_code&code=AB11"
        f.response.status_code = 200
        f.response.headers["content-type"] = "text/html"
        f.response.content = b"<html>changed</html>"
        f.error = mflow.Error("killed later", 1_800_000_009.0)
        addon.done()
    (x,) = read_input(path, "cap.jsonl", Profile(), Redactor(KEY.encode())).exchanges
    assert (x.url, x.status, x.failure) == (TOKEN_URL, 400, None)
    assert x.reply.get("error") == "invalid_grant" and x.params["grant_type"] == "refresh_token"
    assert x.client is not None and x.client.client_id == CLIENT_ID and not x.gaps


def test_what_a_later_addon_changes_before_the_copy_is_in_the_capture(
    addon: Any, tmp_path: Path
) -> None:
    """The copy is made on the thread: the capture holds a flow as mitmproxy's addons left
    it (what the client got), not as it was when this addon's hook ran."""
    path = tmp_path / "cap.jsonl"
    f = token_flow()
    assert f.response is not None
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(path))
        with addon.session.lock:  # the thread cannot start a round
            addon.response(f)
            f.response.status_code = 401  # an addon after this one, in the same `response`
            f.response.content = b'{"error":"invalid_client"}'
        addon.done()
    (x,) = read_input(path, "cap.jsonl", Profile(), Redactor(KEY.encode())).exchanges
    assert (x.status, x.reply.get("error")) == (401, "invalid_client")


def test_a_full_queue_makes_the_proxy_wait_for_the_capture_never_drop(
    addon: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("qbtrace.live.MAX_PENDING", 3)
    path = tmp_path / "cap.jsonl"
    seen: list[int] = []

    def fourth() -> None:  # as the event loop would: the hook, the addon's timer, the next thing
        addon.response(token_flow(rt=f"{RT}-3"))
        addon.session.keep_up()
        seen.append(len(path.read_bytes().splitlines()))

    with taddons.context(addon) as tctx, caplog.at_level(logging.WARNING):
        tctx.configure(addon, qbtrace_capture=str(path))
        loop = threading.Thread(target=fourth)
        with addon.session.lock:  # a stalled disk: the recording thread is stuck
            for n in range(3):
                addon.response(token_flow(rt=f"{RT}-{n}"))
            loop.start()
            loop.join(0.5)  # the timer waits for the thread, which waits for us
        loop.join()
        assert seen == [5]  # the timer returned only once all four were written
        addon.done()
    assert "the capture is 4 flows behind; proxying waits for it" in caplog.text
    got = read_input(path, "cap.jsonl", Profile(), Redactor(KEY.encode()))
    assert len(got.exchanges) == 4 and not got.warnings


def test_big_bodies_waiting_for_the_thread_make_the_proxy_wait_too(
    addon: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("qbtrace.live.MAX_PENDING", 32)  # bytes are asked past 2 flows
    monkeypatch.setattr("qbtrace.live.MAX_PENDING_BYTES", 1 << 20)
    flows = [tflow.tflow(resp=True) for _ in range(4)]
    for f in flows:
        assert f.response is not None
        f.response.content = b"x" * (400 << 10)  # unrelated downloads: 1.6 MB kept alive
    done: list[bool] = []

    def timer() -> None:  # the addon's timer on the event loop
        addon.session.keep_up(load_addon().held_bytes)
        done.append(True)

    with taddons.context(addon) as tctx, caplog.at_level(logging.WARNING):
        tctx.configure(addon, qbtrace_capture=str(tmp_path / "cap.jsonl"))
        loop = threading.Thread(target=timer)
        with addon.session.lock:  # a stalled disk: the recording thread is stuck
            for f in flows:
                addon.response(f)
            loop.start()
            loop.join(0.5)
            assert not done  # the timer waits for the thread
        loop.join()
        assert done and not addon.session.ended
        addon.done()
    assert "the capture is 4 flows behind; proxying waits for it" in caplog.text


def test_a_recording_thread_that_ended_is_started_again(addon: Any, tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(path))
        addon.response(token_flow())
        addon.settle()
        ended = addon.session.worker
        addon.session.requests.put(None)  # as a log handler's sys.exit on the thread would
        ended.join()
        addon.response(token_flow(rt=f"{RT}-2"))
        addon.session.keep_up()  # the addon's timer, every POLL on the event loop
        assert addon.session.worker is not ended and addon.session.worker.is_alive()
        addon.done()
    got = read_input(path, "cap.jsonl", Profile(), Redactor(KEY.encode()))
    assert len(got.exchanges) == 2


def test_the_timer_on_the_event_loop_starts_an_ended_thread_again(
    addon: Any, tmp_path: Path
) -> None:
    async def proxying() -> None:
        addon.running()
        ended = addon.session.worker
        addon.session.requests.put(None)  # as a log handler's sys.exit on the thread would
        ended.join()
        addon.response(token_flow())
        await asyncio.sleep(4 * POLL)
        assert addon.session.worker is not ended and addon.session.worker.is_alive()
        assert addon.session.recorded == 1  # written by the new thread, before `done`
        addon.done()
        assert addon.timer is None

    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(tmp_path / "cap.jsonl"))
        asyncio.run(proxying())


def test_write_failure_is_logged_loudly_and_proxying_goes_on(
    addon: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with taddons.context(addon) as tctx, caplog.at_level(logging.WARNING):
        tctx.configure(addon, qbtrace_capture=str(tmp_path / "cap.jsonl"))
        os.close(addon.session.writer.fd)
        addon.session.writer.fd = os.open("/dev/full", os.O_WRONLY)  # the disk is full: ENOSPC
        full = os.fstat(addon.session.writer.fd)
        addon.session.writer.ident = (full.st_dev, full.st_ino)
        addon.response(token_flow(200, b"{}"))
        addon.response(token_flow(200, b"{}"))
        addon.done()
    failed = [r for r in caplog.records if "CAPTURE WRITE FAILED" in r.getMessage()]
    assert len(failed) == 2 and failed[-1].levelno == logging.ERROR
    assert "2 exchanges not saved" in failed[-1].getMessage()


def encoded_token_flow(encoding: str, content: bytes) -> http.HTTPFlow:
    packers = {"gzip": lambda d: gzip.compress(d, 1), "br": lambda d: brotli.compress(d, quality=1)}
    flow = token_flow()
    assert flow.response is not None
    flow.response.raw_content = packers[encoding](content)
    flow.response.headers["content-encoding"] = encoding
    return flow


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_compressed_token_answers_are_read_and_a_bomb_is_left_out(
    addon: Any, tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "cap.jsonl"
    bomb = b'{"error":"invalid_grant","pad":"' + b"0" * (64 << 20) + b'"}'
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(path))
        addon.response(encoded_token_flow(encoding, b'{"error":"invalid_grant"}'))
        addon.settle()
        tracemalloc.start()  # it traces every thread: the recording thread inflates
        try:
            addon.response(encoded_token_flow(encoding, bomb))
            addon.settle()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 16 << 20  # bounded by the 1 MB cap, never the 64 MB answer
    read, bombed = read_input(path, "cap.jsonl", Profile(), Redactor(KEY.encode())).exchanges
    assert read.reply == {"error": "invalid_grant"}
    assert "response-too-large" in bombed.gaps and bombed.reply == {}


def test_deeply_nested_json_bodies_are_recorded_without_recursion_errors(
    addon: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cap.jsonl"
    deep = b"[" * 200_000 + b"]" * 200_000
    flow = token_flow(400, b'{"error":' * 100_000 + b'"x"' + b"}" * 100_000)
    flow.request.content = deep
    flow.request.headers["content-type"] = "application/json"
    with taddons.context(addon) as tctx, caplog.at_level(logging.ERROR):
        tctx.configure(addon, qbtrace_capture=str(path))
        addon.response(flow)
        addon.done()
    (x,) = read_input(path, "cap.jsonl", Profile(), Redactor(KEY.encode())).exchanges
    assert "response-too-deep" in x.gaps and x.params == {}
    assert "could not record" not in caplog.text


def test_capture_deleted_while_recording_is_started_again_loudly(
    addon: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cap.jsonl"
    with taddons.context(addon) as tctx, caplog.at_level(logging.WARNING):
        tctx.configure(addon, qbtrace_capture=str(path))
        addon.response(token_flow(200, b"{}"))
        addon.settle()  # written, and then the file is removed
        path.unlink()
        addon.response(token_flow(200, b"{}"))
        addon.done()
    assert "WAS REMOVED" in caplog.text
    got = read_input(path, "cap.jsonl", Profile(), Redactor(KEY.encode()))
    assert [x.ref.index for x in got.exchanges] == [1]


def test_failed_refresh_gets_one_live_diagnosis_line_without_secrets(
    addon: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ok = token_flow(200, f'{{"refresh_token":"RT1-successor-77","access_token":"{AT}"}}'.encode())
    replay = token_flow()
    assert ok.response is not None and replay.response is not None
    replay.request.timestamp_start = ok.response.timestamp_end + 60
    replay.response.timestamp_end = replay.request.timestamp_start + 0.2
    path = tmp_path / "cap.jsonl"
    with taddons.context(addon) as tctx, caplog.at_level(logging.INFO):
        tctx.configure(addon, qbtrace_capture=str(path))
        addon.response(ok)
        addon.response(replay)
        addon.settle()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("qbtrace: invalid_grant: refresh_token_superseded (")
    for planted in (RT, SECRET, AT, "RT1-successor-77"):
        assert planted not in caplog.text and planted not in path.read_text()


def test_refresh_race_loser_answered_first_is_explained_once_the_winner_lands(
    addon: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    winner = token_flow(200, b'{"refresh_token":"RT1-successor-88","access_token":"eyJw"}')
    loser = token_flow()
    assert winner.response is not None and loser.response is not None
    winner.request.timestamp_start, winner.response.timestamp_end = 1_800_000_000.0, 1_800_000_000.9
    loser.request.timestamp_start, loser.response.timestamp_end = 1_800_000_000.1, 1_800_000_000.3
    with taddons.context(addon) as tctx, caplog.at_level(logging.WARNING):
        tctx.configure(addon, qbtrace_capture=str(tmp_path / "cap.jsonl"))
        addon.response(loser)  # the loser's answer comes first
        addon.response(winner)
        addon.settle()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and ": refresh_race (certain)" in warnings[0]


def test_live_line_is_logged_without_waiting_for_exit(
    addon: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ok = token_flow(200, b'{"refresh_token":"RT1-successor-99","access_token":"eyJx"}')
    replay = token_flow()
    assert ok.response is not None and replay.response is not None
    replay.request.timestamp_start = ok.response.timestamp_end + 60
    replay.response.timestamp_end = replay.request.timestamp_start + 0.2
    with taddons.context(addon) as tctx, caplog.at_level(logging.WARNING):
        tctx.configure(addon, qbtrace_capture=str(tmp_path / "cap.jsonl"))
        addon.response(ok)
        addon.response(replay)
        deadline = time.monotonic() + 10
        while "refresh_token_superseded" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "refresh_token_superseded" in caplog.text
        addon.done()


def test_hook_times_are_kept_only_when_asked_for(addon: Any, tmp_path: Path) -> None:
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(tmp_path / "cap.jsonl"))
        addon.response(token_flow())
        addon.response(tflow.tflow(resp=True))
        assert not addon.session.times.matching and not addon.session.times.unrelated
        tctx.configure(addon, qbtrace_timing=True)
        addon.response(token_flow())
        addon.response(tflow.tflow(resp=True))
        addon.settle()
    times = addon.session.times
    assert len(times.matching) == 1 and len(times.unrelated) == 1
    assert addon.session.recorded == 2 and len(times.recording) >= 1 and len(times.diagnosis) >= 1


@pytest.mark.parametrize(
    "disconnect",
    [(), ("https://app.example/qbo/disconnect",)],
)
def test_path_anchors_let_every_wanted_path_through(disconnect: tuple[str, ...]) -> None:
    for profile in (Profile(disconnect_urls=disconnect), Profile(providers=(DEFAULT,))):
        needles = profile.needles
        anchors = path_anchors(needles)
        assert anchors is not None
        assert all(any(a in n for a in anchors) for n in needles)
    quickbooks = path_anchors(Profile(providers=(DEFAULT,)).needles)
    assert quickbooks is not None
    assert set(quickbooks) == {"/oauth2", "code=", "realmId="}


UNRELATED_PATHS = [
    b"/",
    b"/v3/company/4620816365/query?query=select+%2A+from+Invoice&minorversion=65",
    b"/api/v2/users?id=3&fields=name",
    b"/static/tok/en.js",
    b"/\xff\xfe/caf\xc3\xa9?q=%00",
]
MANY_DISCONNECTS = tuple(f"https://{c}.example/{c * 6}" for c in "vwxyz")


@pytest.mark.parametrize(
    "disconnect", [(), ("https://app.example/qbo/disconnect",), MANY_DISCONNECTS]
)
def test_the_sieve_copies_exactly_the_flows_whose_path_may_match(
    disconnect: tuple[str, ...],
) -> None:
    test = PathFilter(Profile(disconnect_urls=disconnect))
    assert (test.anchors is None) == (disconnect == MANY_DISCONNECTS)  # both branches run
    paths = [*UNRELATED_PATHS]
    for needle in Profile(disconnect_urls=disconnect).needles:
        raw = needle.encode()
        paths += [raw, b"/pre" + raw + b"?x=1", b"/a?b=" + raw[1:], raw[:-1]]
    flows = []
    for path in paths:
        flow = tflow.tflow(resp=True)
        flow.request.data.path = path
        flows.append(flow)
    sieve = load_addon().sieve
    copied = [f for f in flows if sieve(f, test) is not None]
    expected = [f for f in flows if test.may_match(f.request.data.path)]
    assert copied == expected
    assert len(UNRELATED_PATHS) <= len(flows) - len(expected) < len(flows)


def test_a_new_config_rebinds_the_hook_to_its_paths(addon: Any, tmp_path: Path) -> None:
    config = tmp_path / "qbtrace.toml"
    config.write_text('[app]\ndisconnect_urls = ["https://app.example/qbo/zzzzzz"]\n')
    disconnect = tflow.tflow(resp=True)
    disconnect.request = http.Request.make("GET", "https://app.example/qbo/zzzzzz?realmId=1")
    disconnect.request.data.path = b"/qbo/zzzzzz"
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_capture=str(tmp_path / "cap.jsonl"), qbtrace_timing=True)
        addon.response(disconnect)  # no needle of the built-in profile: not even copied
        assert not addon.session.pending and len(addon.session.times.unrelated) == 1
        tctx.configure(addon, qbtrace_config=str(config))
        addon.error(disconnect)
        addon.settle()
    assert addon.session.recorded == 1 and len(addon.session.times.matching) == 1


def test_the_benchmark_probe_records_like_the_addon_and_tells_every_span(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """benchmarks/hook_probe.py reaches into the addon (`path_hook`, the session's filter):
    it must keep loading, recording every OAuth flow and telling each span it times."""
    monkeypatch.setenv("QBTRACE_TAG_KEY", KEY)
    spec = importlib.util.spec_from_file_location("hook_probe", ROOT / "benchmarks/hook_probe.py")
    assert spec is not None and spec.loader is not None
    probe_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe_module)
    probe = probe_module.addons[1]
    with taddons.context(probe) as tctx, caplog.at_level(logging.INFO, "qbtrace"):
        tctx.configure(probe, qbtrace_capture=str(tmp_path / "cap.jsonl"), qbtrace_timing=True)
        for n in range(4 * len(probe_module.SPANS)):
            f = token_flow(rt=f"RT1-{n}") if n % 5 == 0 else tflow.tflow(resp=True)
            for event in eventsequence.iterate(f):  # as `mitmdump -s hook_probe.py` would
                for one in probe_module.addons:
                    ctx.master.addons.invoke_addon_sync(one, event)
        probe.done()
    told = re.search(r"qbtrace probe \(p50 µs, n>=(\d+)\): (.*)", caplog.text)
    assert told is not None and int(told[1]) >= 1
    assert [item.split()[0] for item in told[2].split(", ")] == list(probe_module.SPANS)
    assert probe.capture.session.recorded == len(range(0, 4 * len(probe_module.SPANS), 5))


def test_more_than_six_anchors_fall_back_to_the_needle_pattern(addon: Any, tmp_path: Path) -> None:
    urls = [f"https://{c}.example/{c * 6}" for c in "vwxyz"]
    config = tmp_path / "qbtrace.toml"
    config.write_text(f"[app]\ndisconnect_urls = {urls!r}\n".replace("'", '"'))
    with taddons.context(addon) as tctx:
        tctx.configure(addon, qbtrace_config=str(config))
        assert addon.session.filter.anchors is None
        tctx.configure(addon, qbtrace_capture=str(tmp_path / "cap.jsonl"))
        addon.response(tflow.tflow(resp=True))
        addon.response(token_flow())
        addon.settle()
    assert addon.session.recorded == 1


# --- end to end: a real mitmdump --------------------------------------------------------------

TINY_EMULATOR = '''
import asyncio, gzip, hashlib, json
import brotli
from mitmproxy import http

class TinyIntuit:
    """Answers Intuit's token endpoint: a refresh token works once, then is superseded.

    Suffixes of the refresh token ask for awkward answers: -SLOW (60 s), -GZ and -BR
    (compressed invalid_grant), -CHUNKED (chunked invalid_grant), -HTML (a 502 page).
    """

    def __init__(self):
        self.spent = set()

    async def request(self, flow):
        if flow.request.pretty_host != "oauth.platform.intuit.com":
            flow.response = http.Response.make(404, b"", {})
            return
        rt = flow.request.urlencoded_form.get("refresh_token", "")
        if rt.endswith("-SLOW"):
            await asyncio.sleep(60)
        headers = {"content-type": "application/json;charset=utf-8",
                   "intuit_tid": "1-6b49d200-0a1b2c3d4e5f60718293a4b5"}
        refused = b'{"error":"invalid_grant"}'
        if rt.endswith(("-GZ", "-BR")):
            gz = rt.endswith("-GZ")
            encoded = gzip.compress(refused) if gz else brotli.compress(refused)
            flow.response = http.Response.make(400, b"", {**headers,
                                               "content-encoding": "gzip" if gz else "br"})
            flow.response.raw_content = encoded  # `make` would encode it once more
            flow.response.headers["content-length"] = str(len(encoded))
        elif rt.endswith("-CHUNKED"):
            flow.response = http.Response.make(400, refused,
                                               {**headers, "transfer-encoding": "chunked"})
        elif rt.endswith("-HTML"):
            flow.response = http.Response.make(502, b"<html>Bad Gateway</html>",
                                               {"content-type": "text/html"})
        elif rt in self.spent:
            flow.response = http.Response.make(400, refused, headers)
        else:
            self.spent.add(rt)
            successor = "RT1-" + hashlib.sha256(rt.encode()).hexdigest()[:32]
            body = {"access_token": "eyJ-AT-" + rt, "refresh_token": successor,
                    "expires_in": 3600, "x_refresh_token_expires_in": 8726400,
                    "token_type": "bearer"}
            flow.response = http.Response.make(200, json.dumps(body).encode(), headers)

addons = [TinyIntuit()]
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_mitmdump(
    tmp: Path, capture: Path, max_file_size: int | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """mitmdump with the tiny emulator and the addon; `max_file_size` fakes a full disk."""
    emulator = tmp / "tiny_intuit.py"
    emulator.write_text(TINY_EMULATOR)
    port = _free_port()
    env = {**os.environ, "QBTRACE_TAG_KEY": KEY, "PYTHONPATH": str(ROOT)}
    argv = [
        str(MITMDUMP),
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        str(port),
        "--set",
        f"confdir={tmp}",
        "--set",
        "connection_strategy=lazy",
        "-s",
        str(emulator),
        "-s",
        str(ADDON),
        "--set",
        f"qbtrace_capture={capture}",
    ]
    with (tmp / "mitmdump.log").open("wb") as log:
        # RLIMIT_FSIZE makes writes past the size fail with EFBIG, as a full disk would
        # (SIGXFSZ stays ignored: Python ignores it and exec keeps ignored signals)
        limit = None if max_file_size is None else _limit_file_size(max_file_size)
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=limit
        )
    try:
        ca = tmp / "mitmproxy-ca-cert.pem"
        deadline = time.monotonic() + 20
        while not _ready(port, ca):
            assert proc.poll() is None, (tmp / "mitmdump.log").read_text()
            assert time.monotonic() < deadline, "mitmdump did not start"
            time.sleep(0.05)
        yield proc, f"http://127.0.0.1:{port}", str(ca)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # as Ctrl-C: `done` writes what is still queued
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait()


def _limit_file_size(size: int) -> Callable[[], None]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def _ready(port: int, ca: Path) -> bool:
    if not ca.exists():
        return False
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
    except OSError:
        return False
    return True


def _refresh(proxy: str, ca: str, rt: str, timeout: float = 10) -> requests.Response:
    return requests.post(
        TOKEN_URL,
        data={"grant_type": "refresh_token", "refresh_token": rt},
        auth=(CLIENT_ID, SECRET),
        proxies={"https": proxy},
        verify=ca,
        timeout=timeout,
    )


def _refresh_quietly(proxy: str, ca: str, rt: str) -> None:
    with contextlib.suppress(requests.RequestException):
        _refresh(proxy, ca, rt, timeout=5)


@pytest.mark.realclients
def test_capture_of_a_proxy_killed_with_sigkill_holds_every_completed_exchange(
    tmp_path: Path,
) -> None:
    capture = tmp_path / "live.jsonl"
    with running_mitmdump(tmp_path, capture) as (proc, proxy, ca):
        first = _refresh(proxy, ca, RT)
        second = _refresh(proxy, ca, first.json()["refresh_token"])
        replay = _refresh(proxy, ca, RT)
        assert [r.status_code for r in (first, second, replay)] == [200, 200, 400]
        slow = threading.Thread(
            target=_refresh_quietly, args=(proxy, ca, RT + "-SLOW"), daemon=True
        )
        slow.start()
        time.sleep(1.0)  # the slow refresh is in flight inside mitmdump
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    text = capture.read_text()
    assert text.endswith("\n")
    got = read_input(capture, capture.name, Profile(), Redactor(KEY.encode()))
    assert not got.warnings
    assert [x.status for x in got.exchanges] == [200, 200, 400]
    analysis = analyze_inputs([got], Profile())
    assert [f.cause for f in analysis.findings] == ["refresh_token_superseded"]
    log = (tmp_path / "mitmdump.log").read_text()
    assert "refresh_token_superseded" in log
    for planted in (RT, SECRET, "eyJ-AT-"):
        assert planted not in text and planted not in log


# --- real SDKs: the capture and mitmproxy's own HAR of the same run agree ----------------------

REALCLIENTS = ROOT / "tests" / "realclients"


def _comparable(x: Exchange) -> tuple[object, ...]:
    def plain(values: Mapping[str, object]) -> tuple[tuple[str, object], ...]:
        return tuple(sorted((k, getattr(v, "tag", v)) for k, v in values.items()))

    client = x.client.client_id if x.client else None
    return (x.kind, x.method, x.url, x.status, plain(x.params), plain(x.reply), client)


@pytest.mark.realclients
@pytest.mark.parametrize(
    "scenario",
    [
        "refresh_token_superseded",
        "refresh_response_lost",
        # the other providers' SDKs (xero-python, msal, google-auth), and one capture of two
        "xero_superseded",
        "interaction_required",
        "google_testing_expired",
        "mixed_quickbooks_xero",
    ],
)
def test_capture_and_hardump_of_a_real_sdk_run_agree(
    scenario: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(REALCLIENTS))
    record = importlib.import_module("record")
    missing = [tool for tool in ("node",) if shutil.which(tool) is None]
    if record.SCENARIOS[scenario].client == "node-sdk" and missing:
        pytest.skip("node is not installed")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    capture, har = tmp_path / "live.jsonl", tmp_path / "run.har"
    extra = ["-s", str(ADDON), "--set", f"qbtrace_capture={capture}", "--set", f"hardump={har}"]
    with record.mitmdump(extra, confdir=str(tmp_path)) as (proxy, ca):
        record.run_scenario(scenario, proxy, ca)
    redactor, profile = Redactor(os.environ["QBTRACE_TAG_KEY"].encode()), Profile()
    from_capture = read_input(capture, capture.name, profile, redactor)
    from_har = read_input(har, har.name, profile, redactor)
    assert not from_capture.warnings
    ordered = sorted(from_capture.exchanges, key=lambda x: x.started or 0)
    assert [_comparable(x) for x in ordered] == [
        _comparable(x) for x in sorted(from_har.exchanges, key=lambda x: x.started or 0)
    ]
    statuses = [x.status or 0 for x in ordered if x.kind == Kind.TOKEN]
    assert statuses == record.SCENARIOS[scenario].statuses

    def findings(got: Input) -> list[tuple[str, str, int | None]]:
        return [(f.cause, f.confidence, f.status) for f in analyze_inputs([got], profile).findings]

    assert findings(from_capture) == findings(from_har)
    answered = [c for c, _, status in findings(from_capture) if status is not None]
    assert answered == record.SCENARIOS[scenario].causes  # scenarios declare answered ones


# --- faults and awkward traffic through a real mitmdump ----------------------------------------


def _curl_refresh(proxy: str, ca: str, rt: str, http: str) -> tuple[str, bytes]:
    """(HTTP version and status, body bytes as the client received them)."""
    proc = subprocess.run(
        [
            "curl",
            "-sS",
            http,
            "--proxy",
            proxy,
            "--cacert",
            ca,
            "-u",
            f"{CLIENT_ID}:{SECRET}",
            "-d",
            f"grant_type=refresh_token&refresh_token={rt}",
            "-w",
            "\n%{http_version} %{http_code}",
            TOKEN_URL,
        ],
        capture_output=True,
        timeout=30,
        check=True,
    )
    body, _, status = proc.stdout.rpartition(b"\n")
    return status.decode(), body


@pytest.mark.realclients
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_compressed_chunked_html_and_http2_answers_are_recorded_and_pass_untouched(
    tmp_path: Path,
) -> None:
    capture = tmp_path / "live.jsonl"
    cases = [
        ("-GZ", "--http2"),
        ("-BR", "--http1.1"),
        ("-CHUNKED", "--http1.1"),
        ("-HTML", "--http2"),
        ("", "--http2"),
    ]
    with running_mitmdump(tmp_path, capture) as (_, proxy, ca):
        seen = {suffix: _curl_refresh(proxy, ca, RT + suffix, http) for suffix, http in cases}
    refused = b'{"error":"invalid_grant"}'
    assert seen["-GZ"][0] == "2 400"
    assert gzip.decompress(seen["-GZ"][1]) == refused  # still compressed: passed untouched
    assert brotli.decompress(seen["-BR"][1]) == refused
    assert seen["-CHUNKED"] == ("1.1 400", refused)
    assert seen[""][0] == "2 200"
    got = read_input(capture, capture.name, Profile(), Redactor(KEY.encode()))
    assert not got.warnings
    answers = [(x.status, x.reply.get("error")) for x in got.exchanges]
    invalid = (400, "invalid_grant")
    assert answers == [invalid, invalid, invalid, (502, None), (200, None)]
    assert "response-not-json" in got.exchanges[3].gaps


@pytest.mark.realclients
def test_full_disk_is_reported_loudly_and_proxying_goes_on(tmp_path: Path) -> None:
    capture = tmp_path / "live.jsonl"
    earlier = b'{"qbtrace_capture":1,"created":"x","qbtrace_version":"0","key_id":"k"}\n'
    capture.write_bytes(earlier + b" " * 20_000 + b"\n")
    with running_mitmdump(tmp_path, capture, max_file_size=capture.stat().st_size + 2_500) as (
        _,
        proxy,
        ca,
    ):
        statuses = [_refresh(proxy, ca, f"{RT}-{n}").status_code for n in range(8)]
    assert statuses == [200] * 8
    log = (tmp_path / "mitmdump.log").read_text()
    assert "CAPTURE WRITE FAILED" in log and "proxying continues" in log
    got = read_input(capture, capture.name, Profile(), Redactor(KEY.encode()))
    assert 1 <= len(got.exchanges) < 8  # what fitted, then nothing half-written is taken
    assert all(x.status == 200 for x in got.exchanges)


CLIENT_PROCESS = """
import sys, requests
proxy, ca, prefix = sys.argv[1:4]
for n in range(25):
    r = requests.post({url!r}, data={{"grant_type": "refresh_token",
                      "refresh_token": f"{{prefix}}-{{n}}"}}, auth=("c", "s"),
                      proxies={{"https": proxy}}, verify=ca, timeout=20)
    assert r.status_code == 200, r.status_code
"""


@pytest.mark.realclients
def test_concurrent_clients_in_several_processes_get_one_whole_line_each(tmp_path: Path) -> None:
    capture = tmp_path / "live.jsonl"
    script = CLIENT_PROCESS.format(url=TOKEN_URL)
    with running_mitmdump(tmp_path, capture) as (_, proxy, ca):
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        procs = [
            subprocess.Popen([sys.executable, "-c", script, proxy, ca, f"RT1-p{n}"], env=env)
            for n in range(4)
        ]
        assert [p.wait(120) for p in procs] == [0, 0, 0, 0]
    got = read_input(capture, capture.name, Profile(), Redactor(KEY.encode()))
    assert not got.warnings and len(got.exchanges) == 100
    assert len({x.params["refresh_token"] for x in got.exchanges}) == 100
