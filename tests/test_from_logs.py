"""Log-only analysis (causes.md, "Application logs as evidence") and logs through the CLI:
every failure a log reports gets a finding; without token values a per-token cause is at most
`possible` and cites the log's evidence; with them (the .NET AdvancedLogger) the full rules
apply; joined to a capture, one finding per failure with its process; no planted secret in
any output."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import logsamples as s
from tests.conftest import analyze_json, run_cli

REALM = "9341453050298471"


def pino(time_ms: int, host: str, pid: int, *, ok: bool, description: str = "") -> str:
    base = {
        "level": 30 if ok else 50,
        "time": time_ms,
        "pid": pid,
        "hostname": host,
        "realmId": REALM,
    }
    if ok:
        base["msg"] = (
            'Refresh usingToken () response is : {"token_type":"bearer",'
            '"refresh_token":"RT1-x","access_token":"eyJx"}'
        )
    else:
        base["msg"] = "refresh failed"
        base["err"] = {
            "message": "invalid_grant",
            "error": "invalid_grant",
            "error_description": description or "Incorrect or invalid refresh token",
            "originalMessage": "Request failed with status code 400",
            "stack": "Error: invalid_grant\n    at OAuthClient.refreshUsingToken",
        }
    return json.dumps(base) + "\n"


def findings(path: Path, *extra: str) -> list[dict[str, Any]]:
    found = analyze_json(path, extra=extra)["findings"]
    assert isinstance(found, list)
    return found


def test_two_workers_at_once_is_a_possible_race_naming_the_winner(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        pino(1764344317000, "web-1", 11, ok=True) + pino(1764344317400, "web-2", 22, ok=False)
    )
    [f] = findings(log)
    assert (f["cause"], f["confidence"]) == ("refresh_race", "possible")
    assert f["request"]["process"] == "web-2, pid 22"
    [winner] = f["evidence"]
    assert winner["role"] == "winner" and winner["process"] == "web-1, pid 11"
    assert f"web-1, pid 11 refreshed company {REALM} 0.4s earlier and succeeded" in winner["note"]


def test_a_failure_after_another_process_refreshed_is_a_possible_supersession(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        pino(1764344317000, "web-1", 11, ok=True)
        + pino(1764344317000 + 3_600_000, "web-2", 22, ok=False)
    )
    [f] = findings(log)
    assert (f["cause"], f["confidence"]) == ("refresh_token_superseded", "possible")
    assert "1.0h" not in f["evidence"][0]["note"] and "60m earlier" in f["evidence"][0]["note"]


def test_incorrect_token_type_hints_at_a_client_mismatch(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        pino(1764344317000, "web-2", 22, ok=False, description="Incorrect Token type or clientID")
    )
    [f] = findings(log)
    assert (f["cause"], f["confidence"]) == ("refresh_client_mismatch", "possible")


def test_every_failure_of_a_mixed_log_gets_one_finding(tmp_path: Path) -> None:
    text = (
        s.NOISE
        + s.INTUITLIB_TRACEBACK
        + s.NODE_WINSTON
        + s.PINO
        + s.PHP
        + s.RUBY
        + s.NANGO
        + s.AIRBYTE
        + s.UNKNOWN
    )
    log = tmp_path / "mixed.log"
    log.write_text(text)
    doc = analyze_json(log)
    [item] = doc["inputs"]  # type: ignore[misc]
    assert item["kind"] == "log" and item["format"].startswith("intuit")
    found = doc["findings"]
    assert isinstance(found, list)
    assert len(found) == item["token_requests"] - 1  # all but the Node success line
    for f in found:
        tokenless_guess = f["token"] is None and f["cause"].startswith("refresh_")
        assert not tokenless_guess or f["confidence"] == "possible"


def test_dotnet_log_with_tokens_supports_the_full_rules(tmp_path: Path) -> None:
    def exchange(at: str, sent: str, status: str, body: str) -> str:
        return (
            f"2025-11-28 {at}.001 +00:00 [INF] Request url- "
            "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer\n"
            f"2025-11-28 {at}.002 +00:00 [INF] Authorization Header: Basic {s.BASIC}\n"
            f"2025-11-28 {at}.003 +00:00 [INF] Request Body: grant_type=refresh_token"
            f"&refresh_token={sent}\n"
            f"2025-11-28 {at}.300 +00:00 [INF] Response Intuit_Tid header - -, Response Status "
            f"Code- {status}, Response Body- {body}\n"
        )

    issued = (
        f'{{"refresh_token":"{s.RT_SECRET}","access_token":"{s.AT_SECRET}",'
        '"token_type":"bearer","x_refresh_token_expires_in":8726400}'
    )
    log = tmp_path / "dotnet.log"
    log.write_text(
        exchange("09:00:00", s.DOTNET_RT, "OK", issued)
        + exchange("15:38:43", s.DOTNET_RT, "BadRequest", '{"error":"invalid_grant"}')
    )
    [f] = findings(log)
    assert (f["cause"], f["confidence"]) == ("refresh_token_superseded", "likely")
    assert f["token"].startswith("rt:") and f["client"].startswith("client:")


def test_secrets_in_a_log_reach_no_output(tmp_path: Path) -> None:
    log = tmp_path / "secrets.log"
    log.write_text(s.NODE_WINSTON + s.DOTNET + s.PINO)
    for fmt in ("json", "text", "csv"):
        out = run_cli("analyze", log, "--format", fmt)
        for secret in (*s.SECRETS, s.CLIENT_ID):
            assert secret not in out.stdout + out.stderr, (fmt, secret)


def test_gzip_stdin_and_log_tz(tmp_path: Path) -> None:
    text = s.INTUITLIB_TRACEBACK
    plain_log = tmp_path / "a.log"
    plain_log.write_text(text)
    packed = tmp_path / "a.log.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    unzipped, read = findings(packed), findings(plain_log)
    for f in (*unzipped, *read):
        del f["request"]["source"]
    assert unzipped == read
    piped = subprocess.run(
        [sys.executable, "-m", "qbtrace", "analyze", "-", "--format", "json"],
        input=text.encode(),
        capture_output=True,
        check=True,
        env={**os.environ, "QBTRACE_TAG_KEY": "qbtrace-tests"},
    )
    [f] = json.loads(piped.stdout)["findings"]
    assert f["request"]["source"] == "stdin" and f["cause"] == read[0]["cause"]
    # with a request id, the server's second puts a wrongly zoned log back on Intuit's clock
    shifted = findings(plain_log, "--log-tz", "+01:00")[0]
    assert shifted["request"]["time"] == "2025-11-28T15:38:36.000Z"
    assert any("Intuit's clock" in w for w in shifted["warnings"])
    php = tmp_path / "php.log"
    php.write_text(s.PHP)  # Monolog's naive stamp and no request id: the zone decides
    assert findings(php, "--log-tz", "Europe/Berlin")[0]["request"]["time"] == (
        "2025-11-28T14:38:41.000Z"
    )
    warnings = analyze_json(php)["inputs"][0]["warnings"]  # type: ignore[index]
    assert "timestamps without a zone were read as UTC (--log-tz to change)" in warnings


def test_a_bad_log_tz_is_one_line(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(s.INTUITLIB_TRACEBACK)
    proc = run_cli("analyze", log, "--log-tz", "Mars/Olympus", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Mars/Olympus" in proc.stderr


@pytest.mark.parametrize("sample", ["NOISE"])
def test_a_text_file_without_log_lines_is_still_refused(tmp_path: Path, sample: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("dear diary, nothing happened today\n")
    proc = run_cli("analyze", path, check=False)
    assert proc.returncode == 2 and "application log" in proc.stderr


def test_a_gzip_log_stops_at_the_input_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log inflated as it is read stops at QBTRACE_MAX_INPUT_MB like any compressed input
    (a bomb would otherwise be read for ever): one line, exit 2; under the cap it reads."""
    packed = tmp_path / "big.log.gz"
    packed.write_bytes(gzip.compress((s.NOISE * 20_000 + s.INTUITLIB_TRACEBACK).encode()))
    assert len(s.NOISE) * 20_000 > 1 << 20
    monkeypatch.setenv("QBTRACE_MAX_INPUT_MB", "1")
    proc = run_cli("analyze", packed, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "larger than 1 MB once decompressed" in proc.stderr
    assert "QBTRACE_MAX_INPUT_MB" in proc.stderr
    monkeypatch.setenv("QBTRACE_MAX_INPUT_MB", "64")
    plain_log = tmp_path / "small.log"
    plain_log.write_text(s.INTUITLIB_TRACEBACK)
    assert [f["cause"] for f in findings(packed)] == [f["cause"] for f in findings(plain_log)]


def test_the_company_index_finds_what_the_walk_finds(tmp_path: Path) -> None:
    """`classify` visits a company's requests through `from_logs.index`; the same findings
    as walking every request within LOOK_BACK (what a live session does), on a log of three
    companies, two workers, races, successes far back and an intuitlib traceback."""
    import random

    from qbtrace.classify import classify, explain
    from qbtrace.config import load_profile
    from qbtrace.events import timeline
    from qbtrace.lineage import build
    from qbtrace.redact import Redactor
    from qbtrace.rules import from_logs
    from qbtrace.rules.common import Context
    from qbtrace.sources.logs import read_log

    rng = random.Random(7)
    lines, t = [], 1764344317000
    for n in range(600):
        t += rng.choice([300, 900, 2500, 400_000])
        line = pino(t, f"web-{n % 2}", 10 + n % 2, ok=rng.random() < 0.3)
        lines.append(line.replace(REALM, rng.choice([REALM, "123456789012", "555566667777"])))
    lines.insert(300, s.INTUITLIB_TRACEBACK)
    # the edges of the walk: a success exactly LOOK_BACK requests back, another process at
    # exactly the race window after the failure
    edge = t + 10**9
    lines.append(pino(edge, "web-9", 99, ok=True).replace(REALM, "424242424242"))
    lines += [pino(edge + 1000 + n, "web-8", 88, ok=False) for n in range(from_logs.LOOK_BACK - 1)]
    failed = edge + 400_000
    lines.append(pino(failed, "web-9", 99, ok=False).replace(REALM, "424242424242"))
    lines.append(
        pino(failed + int(from_logs.AT_ONCE * 1000), "web-7", 77, ok=False).replace(
            REALM, "424242424242"
        )
    )
    profile = load_profile(None, local=False)
    item = read_log("".join(lines).encode(), "app.log", profile, Redactor(b"k"))
    lineage = build(timeline([item]))
    assert from_logs.index(lineage) is not None
    indexed = classify(lineage, profile)
    walked = [explain(Context(lineage, profile, f)) for f in lineage.requests if not f.ok]
    first_pass = [f for f in indexed if f.cause != "provider_outage"]
    assert len(indexed) > 300 and {f.cause for f in indexed} >= {"refresh_race"}
    edges = [f for f in indexed if f.time is not None and f.time >= (failed - 1) / 1000]
    assert {"refresh_race", "refresh_token_superseded"} <= {edges[0].cause, *edges[0].alternatives}
    assert first_pass == [w for w in walked if any(w.ref == f.ref for f in first_pass)]
