"""`qbtrace sanitize` on every file of the real-world corpus (../shared/realworld, 130 HARs
and flow files from Chrome, Firefox, Safari, Charles, Fiddler, Insomnia, Playwright,
Polly.JS, WebPageTest, mitmproxy and others; SOURCES.md there says where each comes from).

For each file: no candidate secret of the original, as `tests/reviewer.py` lists them, is
left in the copy in any spelling; every entry is kept; the copy is as readable by haralyzer
as the original; and it analyzes to the same findings. Files that `analyze` refuses are
refused by `sanitize` with the same message.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from qbtrace.errors import InputError
from qbtrace.redact import Redactor
from qbtrace.sanitize import load_har, sanitize_file
from tests import reviewer
from tests.conftest import ROOT
from tests.test_report import analyze

SHARED = Path(os.environ.get("QBTRACE_SHARED") or ROOT.parent / "shared")
"""CI lays shared/ beside the checkout; QBTRACE_SHARED points elsewhere (a worktree)."""
CORPUS = SHARED / "realworld"
FILES = sorted(p for p in CORPUS.glob("*") if p.is_file() and p.name != "SOURCES.md")


def haralyzer_reads(har: dict[str, Any]) -> bool:
    from haralyzer import HarEntry, HarParser

    try:
        parser = HarParser(har)
        for raw in har["log"]["entries"]:
            e = HarEntry(raw)
            assert e.url is not None and e.request.method and e.response.status is not None
            assert isinstance(e.request.headers, list)
        assert isinstance(parser.pages, list)  # haralyzer builds its pages on access
    except (KeyError, TypeError, ValueError, AttributeError, AssertionError):
        return False
    return True


def causes(path: Path) -> list[tuple[object, ...]]:
    analysis, _ = analyze(path)
    return [
        (f.cause, str(f.confidence), f.alternatives, f.status, f.error) for f in analysis.findings
    ]


@pytest.mark.skipif(not FILES, reason="shared/realworld is not beside this checkout")
@pytest.mark.parametrize("src", FILES, ids=[p.name[:80] for p in FILES])
def test_sanitized_copy_holds_no_secret_keeps_entries_and_analyzes_the_same(
    src: Path, tmp_path: Path
) -> None:
    out = tmp_path / src.name
    try:
        original = load_har(src, [])
    except InputError as refused:
        with pytest.raises(InputError) as again:
            analyze(src)
        assert str(again.value) == str(refused)
        return
    text = json.dumps(original, ensure_ascii=False)
    secrets = reviewer.candidates(original, text)
    sanitize_file(src, out, Redactor(b"realworld"), [])
    copy = json.loads(out.read_text())
    readable = reviewer.readable_text(copy)
    leaked = reviewer.leaked(secrets, readable)
    assert not leaked, leaked[:5]
    assert len(copy["log"]["entries"]) == len(original["log"]["entries"])
    assert haralyzer_reads(copy) or not haralyzer_reads(original)
    assert causes(out) == causes(src)


@pytest.mark.skipif(not FILES, reason="shared/realworld is not beside this checkout")
def test_a_flow_mitmproxys_har_export_cannot_convert_is_skipped_with_a_warning(
    tmp_path: Path,
) -> None:
    # mitmproxy 7's WebSocket flows hold `str` messages, on which SaveHar's export fails
    src = CORPUS / "mitmproxy_mitmproxy__test_mitmproxy_data_dumpfile-7-websocket.mitm"
    warnings: list[str] = []
    summary = sanitize_file(src, tmp_path / "out.har", Redactor(b"realworld"), warnings)
    assert warnings == [
        "3 flows that mitmproxy's HAR export cannot convert were skipped "
        "(flows 1, 2, 4, counting from 0)"
    ]
    assert summary.entries == 3
