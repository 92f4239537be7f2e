"""The terminal format: summary first, the most common cause's fix, who failed, each failure."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from qbtrace.cli import main
from tests.conftest import GOLDEN


def text_of(*names: str) -> str:
    paths = [str(GOLDEN / f"{name}.har") for name in names]
    result = CliRunner().invoke(main, ["analyze", *paths])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_summary_names_the_most_common_cause_and_its_fix() -> None:
    out = text_of("provider_outage", "refresh_token_superseded", "code_reused")
    first = out.splitlines()[0]
    assert first.startswith("qbtrace: ") and "failed" in first
    assert "most common: provider_outage (15 failures). Fix: Retry later" in out


def test_failures_are_broken_down_by_client_and_hour_when_there_are_several() -> None:
    out = text_of("provider_outage")
    assert "failures by client and company:" in out
    assert out.count("client:") >= 3


def test_each_failure_shows_cause_evidence_and_fix() -> None:
    out = text_of("refresh_token_superseded")
    # replayed 2 h after the rotation: older Intuit docs allowed 24 h, so only likely
    assert "cause: refresh_token_superseded (likely)" in out
    assert "evidence: refresh_token_superseded.har #" in out and "issued_successor" in out
    assert "fix: After every refresh, persist the refresh_token" in out


def test_healthy_capture_says_nothing_failed() -> None:
    out = text_of("healthy_python")
    assert ", 0 failed" in out.splitlines()[0]
    assert "cause:" not in out


def test_a_browser_only_capture_says_where_the_token_requests_are() -> None:
    out = text_of("code_reused.playwright")
    assert "0 token requests" in out.splitlines()[0]
    assert "note: no token-endpoint requests in the input" in out
    assert "qbtrace proxy" in out


def test_control_characters_from_the_input_cannot_reach_the_terminal(tmp_path: Path) -> None:
    har = json.loads((GOLDEN / "unexplained.har").read_text())
    for entry in har["log"]["entries"]:
        content = entry["response"].get("content", {})
        if '"error"' in content.get("text", ""):
            content["text"] = json.dumps(
                {"error": "invalid_request", "error_description": "bad\x1b[2J\x1b]0;pwned\x07"}
            )
            content.pop("encoding", None)
    path = tmp_path / "hostile.har"
    path.write_text(json.dumps(har))
    result = CliRunner().invoke(main, ["analyze", str(path)])
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "bad\\x1b[2J\\x1b]0;pwned\\x07" in result.stdout


def test_error_description_is_shown_as_in_the_html() -> None:
    out = text_of("unexplained")
    assert "HTTP 429 rate_limit_exceeded: Too many requests" in out


def test_a_request_without_an_answer_gets_a_fix_about_retries_not_the_generic_one() -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "response-lost.mitm"
    result = CliRunner().invoke(main, ["analyze", str(example)])
    assert result.exit_code == 0, result.output
    lost = result.stdout.split("\n\n")[1]
    assert "no response" in lost and "cause: unexplained" in lost
    assert "what happened: The request got no answer at all (Connection killed.)" in lost
    assert "fix: Treat a token call without an answer as possibly done" in lost
    assert "Depends on the error" not in lost
