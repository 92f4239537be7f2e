"""mitmproxy flow files (qbtrace/sources/mitm.py), written by mitmproxy's own FlowWriter."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from mitmproxy import flow as mflow
from mitmproxy import http, io, version
from mitmproxy.io import tnetstring
from mitmproxy.test import tflow

from qbtrace.errors import InputError
from qbtrace.model import Kind, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources import read_input
from qbtrace.sources.build import build_exchange
from qbtrace.sources.mitm import flow_parts

TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
PLANTED_RT = "RT1-PLANTED-0011223344556677"


def token_flow(status: int = 400, body: bytes = b'{"error":"invalid_grant"}') -> http.HTTPFlow:
    f = tflow.tflow(resp=True)
    f.request = http.Request.make(
        "POST",
        TOKEN_URL,
        f"grant_type=refresh_token&refresh_token={PLANTED_RT}".encode(),
        {
            "content-type": "application/x-www-form-urlencoded",
            "authorization": "Basic YWJjOmRlZg==",
        },
    )
    f.request.timestamp_start, f.request.timestamp_end = 1_800_000_000.0, 1_800_000_000.1
    f.response = http.Response.make(status, body, {"content-type": "application/json"})
    f.response.timestamp_start, f.response.timestamp_end = 1_800_000_000.2, 1_800_000_000.3
    return f


def write_flows(path: Path, flows: list[mflow.Flow]) -> None:
    with path.open("wb") as out:
        writer = io.FlowWriter(out)
        for f in flows:
            writer.add(f)


def read(path: Path, redactor: Redactor | None = None):  # type: ignore[no-untyped-def]
    return read_input(path, path.name, Profile(), redactor or Redactor(b"k"))


def test_matching_flows_become_exchanges_with_their_position(tmp_path: Path) -> None:
    path = tmp_path / "app.mitm"
    flows: list[mflow.Flow] = [
        tflow.tflow(resp=True),
        token_flow(),
        tflow.ttcpflow(),
        token_flow(200),
    ]
    write_flows(path, flows)
    got = read(path)
    assert got.kind == "mitm" and got.entries == 4 and not got.warnings
    assert [x.ref.index for x in got.exchanges] == [1, 3]
    assert [x.status for x in got.exchanges] == [400, 200]
    first = got.exchanges[0]
    assert first.kind == Kind.TOKEN and first.started == 1_800_000_000.0
    assert first.ended == 1_800_000_000.3 and first.reply["error"] == "invalid_grant"


def test_same_exchange_as_from_mitmproxys_flow_reader(tmp_path: Path) -> None:
    path = tmp_path / "app.mitm"
    write_flows(path, [tflow.tflow(resp=True), token_flow()])
    redactor = Redactor(b"k")
    with path.open("rb") as handle:
        loaded = list(io.FlowReader(handle).stream())[1]
    assert isinstance(loaded, http.HTTPFlow)
    want = build_exchange(Ref("app.mitm", 1), Kind.TOKEN, flow_parts(loaded), redactor)
    assert read(path, redactor).exchanges == (want,)


def test_failed_flow_has_no_status_and_ends_at_the_error(tmp_path: Path) -> None:
    f = token_flow()
    f.response = None
    f.error = mflow.Error("Connection reset by peer", 1_800_000_005.0)
    path = tmp_path / "app.mitm"
    write_flows(path, [f])
    (x,) = read(path).exchanges
    assert x.status is None and x.failure == "Connection reset by peer"
    assert x.ended == 1_800_000_005.0


def test_killed_after_answer_counts_as_unanswered(tmp_path: Path) -> None:
    f = token_flow(200, b'{"refresh_token":"RT1-NEW","access_token":"eyJ"}')
    f.error = mflow.Error("Connection killed.", 1_800_000_001.0)
    path = tmp_path / "app.mitm"
    write_flows(path, [f])
    (x,) = read(path).exchanges
    assert x.status is None and "response-not-delivered" in x.gaps


def test_compressed_response_body_is_decoded(tmp_path: Path) -> None:
    f = token_flow()
    assert f.response is not None
    f.response.headers["content-encoding"] = "gzip"
    f.response.raw_content = gzip.compress(b'{"error":"invalid_client"}')
    path = tmp_path / "app.mitm"
    write_flows(path, [f])
    assert read(path).exchanges[0].reply["error"] == "invalid_client"


def test_cut_short_last_flow_keeps_the_readable_ones(tmp_path: Path) -> None:
    path = tmp_path / "app.mitm"
    write_flows(path, [token_flow(), tflow.tflow(resp=True), token_flow()])
    path.write_bytes(path.read_bytes()[:-200])
    got = read(path)
    assert got.entries == 2 and len(got.exchanges) == 1
    assert "cut short" in got.warnings[0] and "read the 2 flows" in got.warnings[0]


def test_garbage_is_not_a_flow_file(tmp_path: Path) -> None:
    path = tmp_path / "app.mitm"
    path.write_bytes(b"12 this is not a flow file")
    with pytest.raises(InputError, match="not a mitmproxy flow file"):
        read(path)


def _with_version(f: mflow.Flow, number: int, quic: bool = False) -> bytes:
    state = f.get_state()
    state["version"] = number
    if quic:
        state["client_conn"]["tls_version"] = "QUIC"  # what convert_20_21 rewrites
    return tnetstring.dumps(state)


def test_newer_flow_format_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "app.mitm"
    newer = version.FLOW_FORMAT_VERSION + 1
    path.write_bytes(_with_version(tflow.tflow(resp=True), newer))
    with pytest.raises(InputError, match=f"version {newer}.*upgrade mitmproxy"):
        read(path)


def test_older_flow_format_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "app.mitm"
    older = _with_version(tflow.tflow(resp=True), 20) + _with_version(token_flow(), 20, quic=True)
    path.write_bytes(older)
    got = read(path)
    assert got.entries == 2 and [x.ref.index for x in got.exchanges] == [1]


def test_no_raw_secret_leaves_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "app.mitm"
    write_flows(path, [token_flow()])
    assert PLANTED_RT not in repr(read(path))
