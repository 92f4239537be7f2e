"""The capture format: writer and reader (qbtrace/capture.py, qbtrace/sources/capture.py)."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qbtrace.capture import (
    CaptureWriter,
    Header,
    RawRecord,
    decode_exchange_line,
    decode_line,
    encode_line,
    exchange_record,
    make_header,
)
from qbtrace.errors import InputError
from qbtrace.model import Kind, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources import read_input
from qbtrace.sources.build import RawParts, build_exchange

TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
PLANTED_RT = "RT1-PLANTED-9f8e7d6c5b4a39281706"
PLANTED_SECRET = "planted-client-secret-0123"
BASIC = "Basic " + __import__("base64").b64encode(f"ABclient:{PLANTED_SECRET}".encode()).decode()


def make_parts(**overrides: object) -> RawParts:
    values: dict[str, object] = {
        "method": "POST",
        "url": TOKEN_URL,
        "started": 1_800_000_000.25,
        "ended": 1_800_000_000.75,
        "request_headers": [
            ("Authorization", BASIC),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "request_body": f"grant_type=refresh_token&refresh_token={PLANTED_RT}",
        "status": 400,
        "response_headers": [("intuit_tid", "1-6b49d200-0a1b2c3d4e5f60718293a4b5")],
        "response_body": '{"error":"invalid_grant"}',
    }
    values.update(overrides)
    return RawParts(**values)  # type: ignore[arg-type]


def write_capture(path: Path, redactor: Redactor, parts: list[RawParts], raw: bool = False) -> None:
    writer = CaptureWriter.open(path)
    writer.write(encode_line(make_header(redactor, raw)))
    for p in parts:
        index = writer.next_index
        if raw:
            writer.write(encode_line(RawRecord(Kind.TOKEN, p, "flow-id")))
        else:
            exchange = build_exchange(Ref(path.name, index), Kind.TOKEN, p, redactor)
            writer.write(encode_line(exchange_record(exchange, "flow-id")))
    writer.close()


def read(path: Path, redactor: Redactor) -> object:
    return read_input(path, path.name, Profile(), redactor)


def test_round_trip_gives_the_same_exchange_as_building_it(tmp_path: Path) -> None:
    redactor = Redactor(b"k1")
    path = tmp_path / "cap.jsonl"
    write_capture(path, redactor, [make_parts(), make_parts(status=200, response_body="{}")])
    got = read_input(path, "cap.jsonl", Profile(), redactor)
    assert got.kind == "capture" and got.entries == 3 and not got.warnings
    want = build_exchange(Ref("cap.jsonl", 1), Kind.TOKEN, make_parts(), redactor)
    assert got.exchanges[0] == want
    assert [x.ref.index for x in got.exchanges] == [1, 2]
    assert got.exchanges[0].started == 1_800_000_000.25


def test_the_one_pass_decode_reads_every_line_as_decode_line_does(tmp_path: Path) -> None:
    """The bulk path decodes its neighbourhoods' lines straight into records; a header, a
    raw record and a broken line still read (or fail) as `decode_line` reads them."""
    path, raw = tmp_path / "cap.jsonl", tmp_path / "raw.jsonl"
    parts = [
        make_parts(),
        make_parts(status=200, response_body='{"refresh_token":"RT2-x","expires_in":3600}'),
        make_parts(status=None, response_body=None, response_headers=[]),
    ]
    write_capture(path, Redactor(b"k1"), parts)
    write_capture(raw, Redactor(b"k1"), parts[:1], raw=True)
    lines = [*path.read_bytes().splitlines(), *raw.read_bytes().splitlines()]
    assert [decode_exchange_line(line) for line in lines] == [decode_line(line) for line in lines]
    assert isinstance(decode_exchange_line(lines[0]), Header)
    assert isinstance(decode_exchange_line(lines[-1]), RawRecord)
    with pytest.raises(ValueError, match="not a capture record"):
        decode_exchange_line(b'{"kind":"token","started":"soon"}')


def test_default_capture_holds_no_raw_secret(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    write_capture(path, Redactor(b"k1"), [make_parts()])
    text = path.read_text()
    assert PLANTED_RT not in text and PLANTED_SECRET not in text and BASIC not in text
    assert json.loads(text.splitlines()[0])["raw"] is False


def test_raw_capture_is_redacted_by_the_reader_with_its_own_key(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    write_capture(path, Redactor(b"proxy-key"), [make_parts()], raw=True)
    assert PLANTED_RT in path.read_text()
    reader = Redactor(b"analysis-key")
    got = read_input(path, "cap.jsonl", Profile(), reader)
    assert got.exchanges[0] == build_exchange(Ref("cap.jsonl", 1), Kind.TOKEN, make_parts(), reader)
    assert not got.warnings  # raw values correlate under any key


def test_cut_short_last_line_and_garbage_lines_are_skipped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    redactor = Redactor(b"k1")
    write_capture(path, redactor, [make_parts(), make_parts(), make_parts()])
    lines = path.read_bytes().split(b"\n")
    broken = b"\n".join([lines[0], lines[1], b"\x00garbage{", lines[2], lines[3][:40]])
    path.write_bytes(broken)
    got = read_input(path, "cap.jsonl", Profile(), redactor)
    assert [x.ref.index for x in got.exchanges] == [1, 3]
    assert len(got.warnings) == 1
    assert "2 unreadable lines" in got.warnings[0] and "line 5: cut short" in got.warnings[0]


def test_unknown_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    header = Header(2, "2026-11-29T00:00:00Z", "9.9", "abc")
    path.write_bytes(encode_line(header))
    with pytest.raises(InputError, match=r"version 2 is not supported.*newer qbtrace"):
        read_input(path, "cap.jsonl", Profile(), Redactor(b"k"))


def test_another_key_warns_that_tags_will_not_correlate(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    write_capture(path, Redactor(b"proxy-key"), [make_parts()])
    got = read_input(path, "cap.jsonl", Profile(), Redactor(b"analysis-key"))
    assert len(got.exchanges) == 1
    assert any("will not correlate" in w for w in got.warnings)


def test_writer_appends_and_ends_a_cut_short_line_first(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    redactor = Redactor(b"k1")
    write_capture(path, redactor, [make_parts()])
    path.write_bytes(path.read_bytes() + b'{"kind":"tok')  # a session killed mid-line
    write_capture(path, redactor, [make_parts()])
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 6 and lines[-1] == b""  # header, record, cut, header, record
    got = read_input(path, "cap.jsonl", Profile(), redactor)
    assert [x.ref.index for x in got.exchanges] == [1, 4]
    assert "line 3" in got.warnings[0]


def test_writer_counts_existing_lines_for_the_next_index(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    path.write_bytes(b"a\nb\nc\n")
    writer = CaptureWriter.open(path)
    assert writer.write(b"d\n") == 3
    writer.close()


def test_header_only_capture_has_no_exchanges(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    path.write_bytes(encode_line(make_header(Redactor(b"k"), False)))
    got = read_input(path, "cap.jsonl", Profile(), Redactor(b"k"))
    assert got.exchanges == () and got.entries == 1


# --- the fast paths of build_exchange give what the stdlib calls they skip give -----------------


@given(
    st.lists(st.sampled_from(["a", "=", "&", "%", "%2F", "+", " ", "é", "code", ";"]), max_size=20)
)
def test_form_fields_are_parse_qsl_with_blank_values(pieces: list[str]) -> None:
    from urllib.parse import parse_qsl

    from qbtrace.sources.build import _form

    text = "".join(pieces)
    assert _form(text) == parse_qsl(text, keep_blank_values=True)


@given(st.text(max_size=40) | st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode()))
def test_basic_credentials_decode_as_b64decode_validate(token: str) -> None:
    from qbtrace.sources.build import _basic

    redactor = Redactor(b"test-capture-key")
    defect = None
    try:
        expected = base64.b64decode(token, validate=True).decode("utf-8")
    except UnicodeDecodeError:
        expected, defect = None, "not-utf8"
    except (binascii.Error, ValueError):
        expected, defect = None, "not-base64"
    got = _basic(token, redactor)
    if expected is None:
        assert got.defects == (defect,)
    else:
        assert "not-base64" not in got.defects


@pytest.mark.parametrize("started", [1e300, -1e300, -62135596800.0, 253402300799.0])
def test_times_no_calendar_holds_are_dropped_with_a_warning(tmp_path: Path, started: float) -> None:
    """A capture is written by the addon, the recorder or another language's snippet: its
    times and lifetimes are checked as a HAR's are."""
    redactor = Redactor(b"k")
    path = tmp_path / "cap.jsonl"
    write_capture(path, redactor, [make_parts(), make_parts()])
    lines = path.read_bytes().splitlines()
    record = json.loads(lines[1])
    record.update(started=started, reply={"error": "invalid_grant", "expires_in": -1e300})
    lines[1] = json.dumps(record).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")
    got = read_input(path, path.name, Profile(), redactor)
    first, second = got.exchanges
    assert first.started is None and "expires_in" not in first.reply
    assert {"time-out-of-range", "invalid-lifetime"} <= set(first.gaps)
    assert second.started == 1_800_000_000.25
    assert any("cannot be real" in w for w in got.warnings)


def test_a_deeply_nested_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    redactor = Redactor(b"k")
    path = tmp_path / "cap.jsonl"
    write_capture(path, redactor, [make_parts()])
    with path.open("ab") as out:
        out.write(b"[" * 200_000 + b"]" * 200_000 + b"\n")
    got = read_input(path, path.name, Profile(), redactor)
    assert len(got.exchanges) == 1
    assert any("JSON nested too deeply" in w for w in got.warnings)
