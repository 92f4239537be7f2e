"""`qbtrace sanitize`: no secret survives, and the sanitized HAR analyzes to the same findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qbtrace.model import Finding
from qbtrace.redact import Redactor
from qbtrace.sanitize import sanitize_file
from tests.conftest import GOLDEN, run_cli
from tests.test_bad_input import REFUSED
from tests.test_report import HARS, analyze, planted_secrets


def essence(f: Finding) -> tuple[object, ...]:
    """What must not change: cause, confidence, alternatives, and evidence roles and requests."""
    steps = tuple((e.role, e.ref) for e in f.evidence)
    return (f.ref, f.cause, str(f.confidence), f.alternatives, steps, f.status, f.error)


@pytest.mark.parametrize("har", HARS, ids=[p.name for p in HARS])
def test_sanitized_har_gives_the_same_findings_and_holds_no_secret(
    har: Path, tmp_path: Path
) -> None:
    out = tmp_path / har.name
    sanitize_file(har, out, Redactor(b"sanitize-key"))
    doc = json.loads(out.read_text())
    assert len(doc["log"]["entries"]) == len(json.loads(har.read_text())["log"]["entries"])
    before, _ = analyze(har)
    after, _ = analyze(out)
    assert [essence(f) for f in after.findings] == [essence(f) for f in before.findings]
    assert after.token_requests == before.token_requests
    text = out.read_text()
    leaked = [s for s in planted_secrets(har) if s in text]
    assert not leaked, leaked[:3]


def test_cli_prints_counts_per_kind(tmp_path: Path) -> None:
    out = tmp_path / "clean.har"
    proc = run_cli("sanitize", GOLDEN / "mixed.har", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "refresh_token" in proc.stderr and "client_secret" in proc.stderr
    assert not proc.stdout  # standard output stays free for the HAR itself
    assert json.loads(out.read_text())["log"]["entries"]


def cli(*args: str | Path) -> tuple[int, str]:
    from click.testing import CliRunner

    from qbtrace.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_inputs_get_analyzes_own_one_line_error(case: str, tmp_path: Path) -> None:
    src = tmp_path / f"{case}.har"
    src.write_bytes(REFUSED[case]())
    status, said = cli("sanitize", src, "-o", tmp_path / "out.har")
    assert status == 2 and len(said.strip().splitlines()) == 1, said
    assert "Error" not in said and "Traceback" not in said  # no Python exception names
    assert cli("analyze", src) == (2, said)
    assert not (tmp_path / "out.har").exists()


def test_a_damaged_har_is_sanitized_as_far_as_it_reads(tmp_path: Path) -> None:
    data = (GOLDEN / "mixed.har").read_bytes()
    src = tmp_path / "cut.har"
    src.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "out" / "cut.har"
    out.parent.mkdir()
    status, said = cli("sanitize", src, "-o", out)
    assert status == 0 and "warning: cut.har: the file is damaged" in said, said
    entries = json.loads(out.read_text())["log"]["entries"]
    before, _ = analyze(src)
    assert len(entries) == before.inputs[0].entries > 0
    after, _ = analyze(out)
    assert [essence(f)[1:] for f in after.findings] == [essence(f)[1:] for f in before.findings]
    assert not [s for s in planted_secrets(GOLDEN / "mixed.har") if s in out.read_text()]


def test_json_bodies_keep_their_text_where_nothing_was_replaced(tmp_path: Path) -> None:
    src = GOLDEN / "mixed.har"
    out = tmp_path / src.name
    sanitize_file(src, out, Redactor(b"sanitize-key"))
    pairs = zip(
        json.loads(src.read_text())["log"]["entries"],
        json.loads(out.read_text())["log"]["entries"],
        strict=True,
    )
    kept = changed = 0
    for before, after in pairs:
        old = before["response"]["content"].get("text") or ""
        new = after["response"]["content"].get("text") or ""
        if not [s for s in planted_secrets(src) if s in old]:
            assert new == old
            kept += 1
        else:
            assert new != old and len(new) == len(old)  # same-shape stand-ins, same layout
            changed += 1
    assert kept and changed


@pytest.mark.parametrize("packing", ["gzip", "zhar", "bom"])
def test_compressed_and_bom_hars_are_sniffed_as_analyze_does(packing: str, tmp_path: Path) -> None:
    import gzip
    import zlib

    har = GOLDEN / "mixed.har"
    data = har.read_bytes()
    packed = {
        "gzip": gzip.compress(data),
        "zhar": zlib.compress(data),
        "bom": b"\xef\xbb\xbf" + data,
    }[packing]
    src = tmp_path / "in.bin"
    src.write_bytes(packed)
    out = tmp_path / har.name
    sanitize_file(src, out, Redactor(b"sanitize-key"))
    before, _ = analyze(har)
    after, _ = analyze(out)
    assert [essence(f) for f in after.findings] == [essence(f) for f in before.findings]
    text = out.read_text()
    assert not [s for s in planted_secrets(har) if s in text]


def test_sanitized_firefox_har_keeps_no_code_in_its_page_title(tmp_path: Path) -> None:
    """Firefox's own HAR titles its page with the last URL: the callback, code included."""
    har = GOLDEN / "firefox_spa_double_exchange.firefox.har"
    titles = [p["title"] for p in json.loads(har.read_text())["log"]["pages"]]
    assert any("code=" in t for t in titles)  # the shape the test is about
    out = tmp_path / har.name
    sanitize_file(har, out, Redactor(b"sanitize-key"))
    codes = {s for s in planted_secrets(har) if s.startswith("AB11")}
    pages = json.loads(out.read_text())["log"]["pages"]
    assert not [p["title"] for p in pages if any(c in p["title"] for c in codes)]


def test_lone_surrogates_in_secrets_are_no_traceback(tmp_path: Path) -> None:
    src = tmp_path / "surrogates.har"
    src.write_text(
        '{"log": {"version": "1.2", "entries": [{"request": {"method": "GET", '
        '"url": "https://a.test/x?api_key=abc\\ud800defghij123", "headers": '
        '[{"name": "Cookie", "value": "sid=xyz\\udc00abcdefgh123"}]}, '
        '"response": {"status": 200, "headers": [], "content": '
        '{"text": "{\\"token\\": \\"tt\\ud801tttttt123\\"}"}}}]}}'
    )
    out = tmp_path / "out" / src.name
    out.parent.mkdir()
    status, said = cli("sanitize", src, "-o", out)
    assert status == 0, said
    text = out.read_text()
    assert "defghij123" not in text and "abcdefgh123" not in text and "tttttt123" not in text
