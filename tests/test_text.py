"""The terminal format: summary first, the most common cause's fix, who failed, each failure."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from qbtrace.cli import main
from tests.conftest import GOLDEN, on_a_terminal


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


def test_a_capture_of_two_providers_is_grouped_per_provider() -> None:
    out = text_of("mixed_quickbooks_xero")
    assert (
        "  providers: QuickBooks Online 3 token requests, 1 failed; Xero 7 token requests, "
        "1 failed" in out
    )
    quickbooks = out.index("== QuickBooks Online: 3 token requests, 1 failed")
    xero = out.index("== Xero: 7 token requests, 1 failed")
    assert quickbooks < out.index("[1] ") < xero < out.index("[2] ")
    assert "intuit_tid 1-" in out[quickbooks:xero]
    assert "xero-correlation-id " in out[xero:]
    assert "45m before this request" in out[xero:]  # past Xero's 30-minute grace


def test_one_provider_gets_no_provider_headings() -> None:
    for name in ("refresh_token_superseded", "interaction_required"):
        out = text_of(name)
        assert "\n== " not in out and "providers:" not in out


def in_terminal(args: list[str], columns: int, env: dict[str, str] | None = None) -> str:
    """`qbtrace ARGS` with standard output on a real pseudo-terminal `columns` wide."""
    import os

    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    environ = {**environ, "TERM": "xterm-256color", **(env or {})}
    return on_a_terminal(args, "stdout", columns, environ)[0]


def test_a_terminal_gets_emphasis_and_lines_wrapped_at_its_width() -> None:
    import re

    out = in_terminal(["analyze", str(GOLDEN / "refresh_token_superseded.har")], columns=72)
    assert "\x1b[" in out  # click styling on a terminal
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "cause: refresh_token_superseded (likely)" in plain
    assert all(len(line) <= 72 for line in plain.splitlines() if " " in line.strip())
    tags = re.findall(r"\b(?:rt|client):[0-9a-f]{12}\b", plain)
    assert tags and all(len(t.split(":")[1]) == 12 for t in tags)  # no tag split by wrapping
    assert not re.search(r"\b(?:rt|client):[0-9a-f]{1,11}$", plain, re.M)


def test_no_color_and_pipes_are_plain() -> None:
    args = ["analyze", str(GOLDEN / "refresh_token_superseded.har")]
    assert "\x1b" not in in_terminal(args, columns=100, env={"NO_COLOR": "1"})
    piped = CliRunner().invoke(main, args, color=False).stdout
    assert "\x1b" not in piped
    # a pipe is not wrapped: one evidence line stays one line, for grep
    assert any(len(line) > 100 for line in piped.splitlines())


def test_counts_are_english() -> None:
    out = text_of("healthy_python")
    assert re.search(r"\b1 entry\b|\b\d+ entries\b", out)
    assert "1 token requests" not in out and "1 entries" not in out


def test_an_outage_is_one_block_listing_its_members() -> None:
    out = text_of("provider_outage")
    assert out.count("cause: provider_outage") == 1
    assert "[1-15] outage: 15 failures of 3 clients from " in out
    assert out.count("    member: provider_outage.har #") == 15
    assert out.count("fix: Retry later") == 1


def test_each_warning_is_said_once(tmp_path: Path) -> None:
    data = (GOLDEN / "refresh_token_superseded.har").read_text()
    cut = tmp_path / "cut.har"
    cut.write_text(data[: len(data) * 2 // 3])  # a damaged HAR: read what can be, warn once
    result = CliRunner().invoke(main, ["analyze", str(cut)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "warning:" in line]
    assert len(warnings) == len(set(warnings)) >= 1
    assert result.stderr.count("warning") == 0  # the terminal text said it already
    to_file = CliRunner().invoke(main, ["analyze", str(cut), "-o", str(tmp_path / "o.txt")])
    assert to_file.stderr.count("qbtrace: warning:") == 1


def test_stderr_escapes_control_and_bidi_characters(tmp_path: Path) -> None:
    name = tmp_path / "evil\u202etxt.har\x1b[2J"
    result = CliRunner().invoke(main, ["analyze", str(name)])
    assert result.exit_code == 2
    assert "\u202e" not in result.stderr and "\x1b" not in result.stderr
    assert "\\u202e" in result.stderr and "\\x1b[2J" in result.stderr


def test_another_providers_sign_in_is_named_not_sent_to_capture_the_server(
    tmp_path: Path,
) -> None:
    # the Playwright capture of a browser sign-in, with Okta's authorization server where
    # Intuit's was (an OIDC callback: code, scope and state, no realmId)
    har = (GOLDEN / "code_reused.playwright.har").read_text()
    har = har.replace("https://appcenter.intuit.com/connect/oauth2", OKTA_AUTHORIZE)
    har = re.sub(r"&realmId=\d+", "&scope=openid%20email", har)
    path = tmp_path / "okta-sign-in.har"
    path.write_text(har)
    out = CliRunner().invoke(main, ["analyze", str(path)]).stdout
    assert "another OAuth provider: Okta (dev-123456.okta.com)" in out
    assert "capture them too" not in out and "qbtrace proxy" not in out
    quickbooks = text_of("code_reused.playwright")
    assert "another OAuth provider" not in quickbooks
    # Google is a built-in provider: its browser sign-in alone asks for the server's side
    google = path.with_name("google-sign-in.har")
    google.write_text(har.replace(OKTA_AUTHORIZE, "https://accounts.google.com/o/oauth2/v2/auth"))
    assert "capture them too" in CliRunner().invoke(main, ["analyze", str(google)]).stdout


OKTA_AUTHORIZE = "https://dev-123456.okta.com/oauth2/v1/authorize"


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
