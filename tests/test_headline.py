"""The "most common" / "fix first" line: shown causes before guesses, then count, sureness and
precedence; ties are said, not hidden. Checked on recorded captures (four causes once each,
a Chrome-sanitized export where only guesses remain) and on findings stated directly."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from qbtrace.cli import main
from qbtrace.model import Confidence, Finding, Ref
from qbtrace.render.headline import headline, ranked, sentence
from tests.conftest import GOLDEN
from tests.exporters import chrome_sanitized, write

BASE = Finding(
    ref=Ref("app.har", 0),
    time=None,
    cause="code_reused",
    confidence=Confidence.CERTAIN,
    grant_type="authorization_code",
    status=400,
    error="invalid_grant",
    error_description=None,
    request_id=None,
    evidence=(),
    alternatives=(),
    token=None,
    client_id=None,
)


def finding(cause: str, confidence: Confidence = Confidence.CERTAIN) -> Finding:
    return replace(BASE, cause=cause, confidence=confidence)


def text(*paths: Path) -> str:
    result = CliRunner().invoke(main, ["analyze", *map(str, paths)])
    assert result.exit_code == 0, result.output
    return result.stdout


def headline_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("  most common: "))


def test_four_causes_once_each_are_said_to_tie_and_precedence_breaks_it() -> None:
    # mixed.har: superseded, client mismatch, revoked and wrong secret, one failure each
    line = headline_line(text(GOLDEN / "mixed.har"))
    assert "4 shown causes tie at 1 each" in line
    for cause in (
        "client_secret_wrong",
        "refresh_client_mismatch",
        "refresh_token_revoked",
        "refresh_token_superseded",
    ):
        assert cause in line
    assert "fix first client_secret_wrong, first in precedence" in line
    assert "Fix: Deploy the current secret" in line


def test_sanitized_capture_with_only_guesses_says_so(tmp_path: Path) -> None:
    har = json.loads((GOLDEN / "refresh_client_mismatch.har").read_text())
    path = tmp_path / "chrome.har"
    write(chrome_sanitized(har), path)
    line = headline_line(text(path))
    assert line.startswith("  most common: refresh_client_mismatch (1 failure)")
    assert "only guessed (possible)" in line


def test_a_frequent_guess_never_outranks_a_shown_cause() -> None:
    findings = [finding("code_unknown", Confidence.POSSIBLE)] * 3 + [finding("code_reused")]
    h = headline(findings)
    assert h is not None and h.top.cause == "code_reused"
    assert [r.cause for r in h.outnumbering_guesses] == ["code_unknown"]
    assert sentence(h) == "code_reused (1 failure); more frequent but only guessed: code_unknown 3"


def test_count_ranks_first_among_shown_causes() -> None:
    findings = [finding("refresh_token_expired", Confidence.LIKELY)] * 2 + [finding("code_reused")]
    assert [r.cause for r in ranked(findings)] == ["refresh_token_expired", "code_reused"]


def test_equal_counts_the_surer_cause_first_then_precedence() -> None:
    findings = [finding("code_reused", Confidence.LIKELY), finding("refresh_token_expired")]
    h = headline(findings)
    assert h is not None and h.top.cause == "refresh_token_expired"
    assert "fix first refresh_token_expired, the surest (certain)" in sentence(h)
    same = [finding("refresh_token_expired"), finding("code_reused")]
    assert [r.cause for r in ranked(same)] == ["code_reused", "refresh_token_expired"]


def test_guesses_tie_among_themselves_only() -> None:
    findings = [
        finding("code_unknown", Confidence.POSSIBLE),
        finding("refresh_token_unknown", Confidence.POSSIBLE),
        finding("code_reused"),
    ]
    h = headline(findings)
    assert h is not None and h.top.cause == "code_reused" and h.tied == ()


def test_a_cause_whose_findings_share_a_narrower_fix_shows_that_fix() -> None:
    lost = replace(finding("unexplained", Confidence.POSSIBLE), fix="retry idempotently")
    h = headline([lost, lost])
    assert h is not None and h.top.fix == "retry idempotently"
    other = replace(lost, fix=None)
    mixed = headline([lost, other])
    assert mixed is not None and mixed.top.fix.startswith("Depends on the error")


def test_no_failures_no_headline() -> None:
    assert headline([]) is None


def test_unexplained_alone_is_not_called_a_guess() -> None:
    h = headline([finding("unexplained", Confidence.POSSIBLE)] * 2)
    assert h is not None
    assert sentence(h) == (
        "unexplained (2 failures); no known cause fits: each finding says what the answer showed"
    )
