"""Inputs recorded on machines whose clocks disagree are put on Intuit's clock."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

from tests.conftest import GOLDEN, analyze_json


def shifted(src: Path, dst: Path, seconds: float) -> Path:
    """The same HAR as if recorded on a machine whose clock was off by `seconds`."""
    har = json.loads(src.read_text())
    for entry in har["log"]["entries"]:
        moment = datetime.fromisoformat(entry["startedDateTime"]) + timedelta(seconds=seconds)
        entry["startedDateTime"] = moment.isoformat(timespec="milliseconds")
    dst.write_text(json.dumps(har))
    return dst


def test_a_browser_clock_half_an_hour_slow_is_corrected(tmp_path: Path) -> None:
    browser = shifted(GOLDEN / "code_reused.playwright.har", tmp_path / "browser.har", -1800)
    doc = analyze_json(browser, GOLDEN / "code_reused.har")
    (finding,) = doc["findings"]  # type: ignore[misc]
    assert finding["cause"] == "code_reused"
    # uncorrected, the callback would look 30 minutes older than the exchange: code_expired
    assert "code_expired" not in finding["alternatives"]
    warnings = doc["inputs"][0]["warnings"]  # type: ignore[index]
    # intuit_tid counts whole seconds: the offset found is within a second of the truth
    assert any(re.search(r"(29m59s|30m00s) behind Intuit's", w) for w in warnings), warnings


def test_without_intuit_answers_nothing_is_shifted(tmp_path: Path) -> None:
    har = json.loads((GOLDEN / "code_reused.playwright.har").read_text())
    for entry in har["log"]["entries"]:
        entry["response"]["headers"] = []
    path = tmp_path / "browser.har"
    path.write_text(json.dumps(har))
    browser = shifted(path, tmp_path / "browser-slow.har", -1800)
    doc = analyze_json(browser, GOLDEN / "code_reused.har")
    (finding,) = doc["findings"]  # type: ignore[misc]
    assert "code_expired" in finding["alternatives"]
    assert not doc["inputs"][0]["warnings"]  # type: ignore[index]


def test_agreeing_clocks_are_left_alone() -> None:
    doc = analyze_json(GOLDEN / "code_reused.playwright.har", GOLDEN / "code_reused.har")
    assert all(not item["warnings"] for item in doc["inputs"])  # type: ignore[union-attr]
