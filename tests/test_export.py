"""`qbtrace sanitize` of flow files and captures (qbtrace/export.py, then qbtrace/sanitize.py).

The golden flow files are real-client recordings; their captures are written by the addon
itself (driven by mitmproxy's `taddons`), tags-only and `raw: true`.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.io import FlowReader, FlowWriter
from mitmproxy.test import taddons, tflow

from qbtrace.analysis import Analysis
from qbtrace.capture import CaptureWriter, encode_line, exchange_record, make_header
from qbtrace.config import load_profile
from qbtrace.model import Exchange, Finding, Kind, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor, Secret
from qbtrace.sanitize import sanitize_file
from qbtrace.sources import read_input
from qbtrace.sources.build import RawParts, build_exchange
from qbtrace.spelling import TagSpeller
from tests.conftest import GOLDEN, ROOT, expected, run_cli, scenario_config
from tests.test_capture import BASIC, PLANTED_RT, PLANTED_SECRET, TOKEN_URL, make_parts
from tests.test_report import analyze, planted_secrets

FLOW_FILES = sorted(GOLDEN.glob("*.mitm"))
KEY = "qbtrace-tests"  # the key `analyze` (tests/test_report.py) tags with
LOST_IN_HAR = {"response-not-delivered"}
"""Gaps a HAR has no way to say: the HAR reader cannot give them back."""


def healthy(flows: Path) -> bool:
    """The scenario declares no failure (healthy_*, and consent flows that succeed)."""
    return not expected(flows.stem)["causes"]


def essence(f: Finding, line: dict[int, int] | None = None) -> tuple[object, ...]:
    """Cause, confidence, alternatives, evidence roles and the exchanges they point at."""
    where = (lambda i: i) if line is None else line.__getitem__
    steps = tuple((e.role, None if e.ref is None else where(e.ref.index)) for e in f.evidence)
    index = where(f.ref.index)
    return (index, f.cause, str(f.confidence), f.alternatives, steps, f.status, f.error)


def findings(analysis: Analysis, line: dict[int, int] | None = None) -> list[tuple[object, ...]]:
    return sorted(essence(f, line) for f in analysis.findings)


def entry_lines(har: Path) -> dict[int, int]:
    """HAR entry index → the capture line it came from."""
    entries = json.loads(har.read_text())["log"]["entries"]
    return {i: e["_qbtrace"]["line"] for i, e in enumerate(entries)}


def read(path: Path) -> tuple[Exchange, ...]:
    declared = scenario_config(path)  # a custom provider the scenario's app declares
    profile = load_profile(Path(declared[1])) if declared else Profile()
    return read_input(path, path.name, profile, Redactor(KEY.encode())).exchanges


def shape(exchanges: Iterable[Exchange]) -> list[tuple[object, ...]]:
    """The exchanges with every secret replaced by first-seen numbers of its exact value,
    canonical value and heads (plus its length and defects), and times left out: what
    must be equal between an input and its sanitized HAR for every rule to see the same."""
    ids: dict[str, int] = {}

    def num(digest: str) -> int:
        return ids.setdefault(digest, len(ids))

    def value(v: object) -> object:
        if isinstance(v, Secret):
            heads = tuple((n, num(f"head:{d}")) for n, d in v.heads)
            return (num(f"hex:{v.hex}"), num(f"canon:{v.canon}"), heads, v.length, v.defects)
        return v

    out = []
    for x in exchanges:
        client = x.client
        if client is not None:
            client_shape: object = (
                client.client_id,
                value(client.secret),
                client.via,
                client.defects,
            )
        else:
            client_shape = None
        out.append(
            (
                x.kind,
                x.method,
                x.url,
                tuple((k, value(v)) for k, v in x.params.items()),
                x.status,
                x.failure,
                tuple((k, value(v)) for k, v in x.reply.items()),
                tuple(sorted(x.headers.items())),
                client_shape,
                tuple(g for g in x.gaps if g not in LOST_IN_HAR),
            )
        )
    return out


def times(exchanges: Iterable[Exchange]) -> list[tuple[float | None, float | None]]:
    return [(x.started, x.ended) for x in exchanges]


def assert_same_times(a: Iterable[Exchange], b: Iterable[Exchange]) -> None:
    for (s1, e1), (s2, e2) in zip(times(a), times(b), strict=True):
        assert (s1 is None) == (s2 is None) and (e1 is None) == (e2 is None)
        assert s1 is None or s2 is None or abs(s1 - s2) < 1e-5
        assert e1 is None or e2 is None or abs(e1 - e2) < 1e-5


def assert_valid_har(path: Path) -> dict[str, Any]:
    """The fields HAR 1.2 requires, with their types."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    log = doc["log"]
    assert log["version"] == "1.2" and isinstance(log["creator"]["name"], str)
    assert isinstance(log["creator"]["version"], str)
    for e in log["entries"]:
        assert isinstance(e["startedDateTime"], str) and isinstance(e["time"], int | float)
        assert e["time"] >= 0 and isinstance(e["cache"], dict)
        for k in ("send", "wait", "receive"):
            assert isinstance(e["timings"][k], int | float)
        req, resp = e["request"], e["response"]
        for k in ("method", "url", "httpVersion"):
            assert isinstance(req[k], str)
        for k in ("cookies", "headers", "queryString"):
            assert isinstance(req[k], list)
        assert isinstance(req["headersSize"], int) and isinstance(req["bodySize"], int)
        assert isinstance(resp["status"], int) and isinstance(resp["statusText"], str)
        assert isinstance(resp["httpVersion"], str) and isinstance(resp["redirectURL"], str)
        assert isinstance(resp["cookies"], list) and isinstance(resp["headers"], list)
        assert isinstance(resp["content"]["size"], int)
        assert isinstance(resp["content"]["mimeType"], str)
        assert isinstance(resp["headersSize"], int) and isinstance(resp["bodySize"], int)
        for h in req["headers"] + resp["headers"] + req["queryString"]:
            assert isinstance(h["name"], str) and isinstance(h["value"], str)
    return doc


def sanitized(src: Path, tmp_path: Path, warnings: list[str] | None = None) -> Path:
    out = tmp_path / f"{src.name}.har"
    sanitize_file(src, out, Redactor(b"sanitize-key"), warnings)
    return out


# --- flow files -----------------------------------------------------------------------------


@pytest.mark.parametrize("flows", FLOW_FILES, ids=[p.stem for p in FLOW_FILES])
def test_sanitized_flow_file_gives_the_same_findings_and_holds_no_secret(
    flows: Path, tmp_path: Path
) -> None:
    out = sanitized(flows, tmp_path)
    doc = assert_valid_har(out)
    with flows.open("rb") as handle:
        assert len(doc["log"]["entries"]) == len(list(FlowReader(handle).stream()))
    before, _ = analyze(flows)
    after, _ = analyze(out)
    assert findings(after) == findings(before) and (before.findings or healthy(flows))
    assert after.token_requests == before.token_requests
    assert shape(read(out)) == shape(read(flows))
    assert_same_times(read(out), read(flows))
    text = out.read_text()
    secrets = planted_secrets(flows.with_suffix(".har"))
    assert secrets
    leaked = [s for s in secrets if s in text]
    assert not leaked, leaked[:3]


def test_every_flow_is_converted_and_a_response_never_delivered_stays_undelivered(
    tmp_path: Path,
) -> None:
    """Unrelated traffic is kept (a whole-file HAR is what users share); a token request
    whose response mitmproxy saw but the client did not (flow with response and error) is
    written without a response, as qbtrace reads the flow."""
    lost = tflow.tflow(resp=True, err=True)
    lost.request = http.Request.make(
        "POST",
        TOKEN_URL,
        f"grant_type=refresh_token&refresh_token={PLANTED_RT}".encode(),
        {"content-type": "application/x-www-form-urlencoded", "authorization": BASIC},
    )
    lost.request.timestamp_start = 1_800_000_000.0
    lost.response = http.Response.make(
        200, b'{"refresh_token":"RT1-NEVER-DELIVERED-000000000000"}', {}
    )
    assert lost.error is not None
    lost.error.timestamp = 1_800_000_002.5
    unrelated = tflow.tflow(resp=True)
    unrelated.request.headers["cookie"] = "session=abcdef0123456789abcdef"
    path = tmp_path / "f.mitm"
    with path.open("wb") as handle:
        writer = FlowWriter(handle)
        for f in (unrelated, lost, tflow.ttcpflow()):
            writer.add(f)
    warnings: list[str] = []
    out = sanitized(path, tmp_path, warnings)
    doc = assert_valid_har(out)
    assert warnings == ["1 flows that are not HTTP (tcp, udp, dns) have no HAR form"]
    first, second = doc["log"]["entries"]
    assert first["request"]["url"] == unrelated.request.pretty_url
    assert "abcdef0123456789abcdef" not in out.read_text()
    assert second["response"]["status"] == 0 and second["response"]["_error"]
    assert second["time"] == pytest.approx(2500)
    assert shape(read(out)) == shape(read(path))
    assert_same_times(read(out), read(path))
    for planted in (PLANTED_RT, PLANTED_SECRET, "RT1-NEVER-DELIVERED"):
        assert planted not in out.read_text()


def test_damaged_flows_are_skipped_with_a_warning(tmp_path: Path) -> None:
    good = (GOLDEN / "mixed.mitm").read_bytes()
    path = tmp_path / "cut.mitm"
    path.write_bytes(good[: len(good) - 40])
    warnings: list[str] = []
    out = sanitized(path, tmp_path, warnings)
    assert len(json.loads(out.read_text())["log"]["entries"]) == 22
    assert warnings and "cut short" in warnings[0]


# --- captures -------------------------------------------------------------------------------


def record_capture(flows: Path, out: Path, raw: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the flows of a flow file through the capture addon, as a live proxy would."""
    monkeypatch.setenv("QBTRACE_TAG_KEY", KEY)
    spec = importlib.util.spec_from_file_location(
        "qbtrace_capture_for_export", ROOT / "addons" / "qbtrace_capture.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    addon = module.QbtraceCapture()
    with taddons.context(addon) as tctx, flows.open("rb") as handle:
        declared = scenario_config(flows)  # the app's own providers (a custom one)
        config = {"qbtrace_config": declared[1]} if declared else {}
        tctx.configure(addon, qbtrace_capture=str(out), qbtrace_keep_raw=raw, **config)
        for f in FlowReader(handle).stream():
            assert isinstance(f, http.HTTPFlow)
            (addon.error if f.error is not None else addon.response)(f)
        addon.done()


@pytest.mark.parametrize("raw", [False, True], ids=["tags", "raw"])
@pytest.mark.parametrize("flows", FLOW_FILES, ids=[p.stem for p in FLOW_FILES])
def test_sanitized_capture_gives_the_same_findings_as_the_capture(
    flows: Path, raw: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = tmp_path / f"{flows.stem}.jsonl"
    record_capture(flows, capture, raw, monkeypatch)
    out = sanitized(capture, tmp_path)
    assert_valid_har(out)
    before, _ = analyze(capture)
    after, _ = analyze(out)
    assert findings(after, entry_lines(out)) == findings(before) and (
        before.findings or healthy(flows)
    )
    assert after.token_requests == before.token_requests
    assert shape(read(out)) == shape(read(capture))
    assert_same_times(read(out), read(capture))
    text = out.read_text()
    leaked = [s for s in planted_secrets(flows.with_suffix(".har")) if s in text]
    assert not leaked, leaked[:3]


TRICKY = [
    "RT1-51-H0-18046958812h4z97xdc8twnc6d8qzrABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh",
    "RT1-51-H0-18046958812h4z97xdc8twnc6d8qzrABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh"[:40],
    "RT1-51-H0-18046958812h4z97xdc8twnc6d8qzrABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh"[:16],
    " RT1-51-H0-18046958812h4z97xdc8twnc6d8qzrABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh",
    "RT1-51-H0-18046958812h4z97xdc8twnc6d8qzrABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh\n",
    '"RT1-51-H0-18046958812h4z97xdc8twnc6d8qzrABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh"',
    "'RT1-51-H0-18046958812h4z97xdc8twnc6d8qzrABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh'",
    "RT1-51-H0-18046958812h4z97xdc8twnc6d8qzr ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh",
    "RT1-51-H0-18046958812h4z97xdc8twnc6d8qzrABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef%3D",
    "RT1-51-H0-18046958812h4z97xdc8twnc6d8qzrABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef=",
    "eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0..PLANTED-access-token-as-refresh",
    "eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0..PLANTED-access-token-as-refresh"[:32],
    "undefined",
    "null",
    "",
    "   ",
    "short",
]


def tricky_parts() -> Iterator[RawParts]:
    for i, rt in enumerate(TRICKY):
        issued = TRICKY[(i + 1) % len(TRICKY)]
        yield make_parts(
            started=1_800_000_000.0 + i,
            ended=1_800_000_000.5 + i,
            request_body=f"grant_type=refresh_token&refresh_token={quote(rt)}",
            status=200 if i % 2 else 400,
            response_body=json.dumps(
                {"refresh_token": issued, "access_token": TRICKY[-7], "expires_in": 3600}
                if i % 2
                else {"error": "invalid_grant", "error_description": "Token invalid"}
            ),
        )
    basic_body = "grant_type=authorization_code&code=AB11&client_id=ABc&client_secret=%20s3cr3t%20"
    yield make_parts(request_headers=[], request_body=basic_body, response_body="<html>")
    yield make_parts(request_headers=[("Authorization", "Basic ???")], response_body=None)
    yield make_parts(
        request_headers=[("Authorization", "Basic bm9jb2xvbg==")],
        status=None,
        failure="Connection reset by peer",
        response_body=None,
    )
    yield make_parts(
        request_headers=[("Content-Type", "application/json")],
        request_body=json.dumps({"grant_type": "refresh_token", "refresh_token": TRICKY[0]}),
    )
    yield make_parts(request_body=None)


def quote(text: str) -> str:
    from urllib.parse import quote as q

    return q(text, safe="")


def test_tags_only_records_read_back_to_the_same_exchanges(tmp_path: Path) -> None:
    """Truncations, wrappers (whitespace, quotes, percent-encoding, inner space), JWT-shaped
    refresh tokens, placeholders, empty values, missing and malformed credentials, JSON
    bodies, responses that are not JSON or missing: the HAR spelled from the tags reads back
    to the same exchanges, secrets in the same relations."""
    redactor = Redactor(KEY.encode())
    capture = tmp_path / "tricky.jsonl"
    writer = CaptureWriter.open(capture)
    writer.write(encode_line(make_header(redactor, raw=False)))
    for parts in tricky_parts():
        x = build_exchange(Ref("x", writer.next_index), Kind.TOKEN, parts, redactor)
        writer.write(encode_line(exchange_record(x, "flow")))
    writer.close()
    out = sanitized(capture, tmp_path)
    assert_valid_har(out)
    assert shape(read(out)) == shape(read(capture))
    assert_same_times(read(out), read(capture))
    before, _ = analyze(capture)
    after, _ = analyze(out)
    assert findings(after, entry_lines(out)) == findings(before) and before.findings
    text = out.read_text()
    for planted in (*TRICKY[:2], TRICKY[10], PLANTED_SECRET, "s3cr3t"):
        assert planted.strip() not in text


def test_distinct_values_with_one_canonical_form_stay_distinct() -> None:
    redactor = Redactor(b"k")
    speller = TagSpeller(iter(()))
    spelled = {
        speller.value(redactor.secret("rt", v))
        for v in (" RT1-abcdefgh12345678", "  RT1-abcdefgh12345678", "RT1-abcdefgh12345678 ")
    }
    assert len(spelled) == 3


def test_cli_sanitizes_a_capture_and_a_flow_file(tmp_path: Path) -> None:
    proc = run_cli("sanitize", GOLDEN / "mixed.mitm", "-o", tmp_path / "m.har")
    assert proc.returncode == 0, proc.stderr
    assert "refresh_token" in proc.stderr and "client_secret" in proc.stderr
    report = run_cli("analyze", tmp_path / "m.har")
    assert "client_secret_wrong" in report.stdout
