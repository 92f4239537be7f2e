"""`qbtrace sanitize app.log`: every planted secret replaced, everything else byte for byte,
and the copy analyzes to the same findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbtrace import sanitize_log
from tests import logsamples as s
from tests.conftest import analyze_json, run_cli

KEYS = ("cause", "confidence", "status", "error", "grant_type")


def _summary(path: Path) -> list[tuple[object, ...]]:
    found = analyze_json(path)["findings"]
    assert isinstance(found, list)
    return [(*(f[k] for k in KEYS), f["request"]["index"], f["request"]["process"]) for f in found]


@pytest.mark.parametrize("window", [sanitize_log.WINDOW, 64])
def test_secrets_replaced_and_findings_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    monkeypatch.setattr(sanitize_log, "WINDOW", window)
    src = tmp_path / "app.log"
    text = s.NOISE + s.NODE_WINSTON + s.DOTNET + s.PINO + s.INTUITLIB_TRACEBACK + s.PHP
    raw = text.encode() + b"latin-1 caf\xe9 stays\n"
    src.write_bytes(raw)
    dst = tmp_path / "clean.log"
    proc = run_cli("sanitize", src, "-o", dst)
    assert proc.returncode == 0 and "values replaced" in proc.stderr
    clean = dst.read_bytes()
    for secret in s.SECRETS:
        assert secret.encode() not in clean
    assert s.CLIENT_ID.encode() in clean  # not a secret: kept (and tagged in reports)
    assert clean.count(b"\n") == raw.count(b"\n") and clean.endswith(b"caf\xe9 stays\n")
    assert clean.splitlines()[:2] == raw.splitlines()[:2]  # noise untouched
    assert _summary(dst) == _summary(src)


def test_short_numbers_and_grant_names_stay() -> None:
    from qbtrace.redact import Redactor
    from qbtrace.scrub.collect import Collector
    from qbtrace.scrub.standin import StandIns

    text = '(code: 400) grant_type=authorization_code "token_type":"bearer" state=2'
    collector = Collector(StandIns(Redactor(b"k")))
    sanitize_log.collect(text, collector)
    assert collector.replacer().text(text) == text
