"""`qbtrace sanitize`: no secret survives, and the sanitized HAR analyzes to the same findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qbtrace.model import Finding
from qbtrace.redact import Redactor
from qbtrace.sanitize import sanitize_file
from tests.conftest import GOLDEN, run_cli
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


def test_cli_refuses_what_is_not_a_har(tmp_path: Path) -> None:
    bad = tmp_path / "x.har"
    bad.write_text("not json")
    proc = run_cli("sanitize", bad, "-o", tmp_path / "y.har", check=False)
    assert proc.returncode == 2 and "not a HAR" in proc.stderr


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
