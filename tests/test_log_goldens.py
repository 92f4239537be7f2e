"""Logs the real SDKs wrote in real-client runs (tests/realclients/record_logs.py), each
analyzed alone and joined to the capture of the same run; and the CloudWatch, PHP and .NET
shapes, built from those runs as the SDK sources format them.

Alone, every failure a log reports has a finding, and a per-token cause the log cannot show
the token for is only `possible`. Joined, the findings are the capture's, one per failure,
each log record seen in the capture's finding, with the processes the logs name.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qbtrace.cli import main
from tests.conftest import GOLDEN, analyze_json

LOGS = GOLDEN / "logs"
FORMATS = {
    "python.log": "intuitlib",
    "python.jsonl": "intuitlib in structlog",
    "oAuthClient-log.log": "intuit-oauth-node",
    "pino.log": "intuit-oauth-node in pino",
}
RECORDED = sorted(
    p.name for p in LOGS.iterdir() if p.name.endswith(tuple(FORMATS)) and p.stat().st_size
)
SCENARIOS = sorted({name.split(".", 1)[0] for name in RECORDED})
KEY = ("cause", "confidence", "status", "error", "grant_type", "token", "client")


def cli(*args: str | Path) -> str:
    """The qbtrace command in this process (as `analyze_json` does): its standard output."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def _findings(*paths: Path) -> list[dict[str, Any]]:
    found = analyze_json(*paths)["findings"]
    assert isinstance(found, list)
    return found


@pytest.mark.parametrize("name", RECORDED)
def test_a_recorded_log_alone(name: str) -> None:
    doc = analyze_json(LOGS / name)
    [item] = doc["inputs"]  # type: ignore[misc]
    assert item["kind"] == "log"
    if not item["token_requests"]:  # the app logged its successes without token details
        assert item["warnings"] == ["no token-request lines found in the log"]
        return
    assert item["format"] == FORMATS[name.split(".", 1)[1]]
    har = analyze_json(LOGS / f"{name.split('.', 1)[0]}.har")
    failures = [f for f in doc["findings"]]  # type: ignore[attr-defined]
    assert len(failures) <= len(har["findings"])  # type: ignore[arg-type]
    for f in failures:
        assert f["request"]["source"] == name
        if f["token"] is None and f["cause"].startswith("refresh_"):
            assert f["confidence"] == "possible", f
        assert f["request"]["process"] is not None or name.endswith("oAuthClient-log.log")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_logs_joined_to_their_capture_give_the_captures_findings(scenario: str) -> None:
    har = LOGS / f"{scenario}.har"
    logs = [LOGS / n for n in RECORDED if n.startswith(f"{scenario}.")]
    alone = _findings(har)
    joined = _findings(har, *logs)
    assert [{k: f[k] for k in KEY} for f in joined] == [{k: f[k] for k in KEY} for f in alone]
    assert all(f["request"]["source"] == har.name for f in joined)
    seen = {(r["source"], r["index"]) for f in joined for r in f["request"]["seen_in"]}
    for log in logs:
        reported = {(log.name, f["request"]["index"]) for f in _findings(log)}
        assert reported <= seen, (log.name, reported - seen)
    for f in joined:  # a record of a log that names its processes names the request's
        sources = {r["source"] for r in f["request"]["seen_in"]}
        if any(not s.endswith("oAuthClient-log.log") for s in sources):
            assert f["request"]["process"], f


# -- shapes built from the runs ------------------------------------------------------------


def _token_entries(
    scenario: str, ends: tuple[str, ...] = ("/tokens/bearer",)
) -> list[dict[str, Any]]:
    har = json.loads((LOGS / f"{scenario}.har").read_text())
    entries = [
        e
        for e in har["log"]["entries"]
        if e["request"]["method"] == "POST" and e["request"]["url"].endswith(ends)
    ]
    return sorted(entries, key=lambda e: e["startedDateTime"])


def _header(message: dict[str, Any], name: str) -> str:
    return next((h["value"] for h in message["headers"] if h["name"].lower() == name), "")


def _stamp(entry: dict[str, Any], fmt: str) -> str:
    moment = datetime.fromisoformat(entry["startedDateTime"].replace("Z", "+00:00"))
    return moment.astimezone(UTC).strftime(fmt)


STATUS_NAMES = {200: "OK", 400: "BadRequest", 401: "Unauthorized", 503: "ServiceUnavailable"}


def dotnet_log(scenario: str) -> str:
    """The .NET SDK's AdvancedLogger lines for each token request of the run, as
    TokenClient.cs and OAuthAdvancedLogging.cs write them through Serilog."""
    lines = []
    for e in _token_entries(scenario, ("/tokens/bearer", "/tokens/revoke")):
        at = _stamp(e, "%Y-%m-%d %H:%M:%S.%f")[:-3] + " +00:00 [INF]"
        answer = e["response"]
        lines += [
            f"{at} Request url- {e['request']['url']}",
            f"{at} Request Headers: ",
            f"{at} Authorization Header: {_header(e['request'], 'authorization')}",
            f"{at} ContentType header: application/x-www-form-urlencoded",
            f"{at} Request Body: {e['request']['postData']['text']}",
            f"{at} Response Intuit_Tid header - {_header(answer, 'intuit_tid')}, Response Status "
            f"Code- {STATUS_NAMES[answer['status']]}, Response Body- "
            f"{answer['content'].get('text', '')}",
        ]
    return "\n".join(lines) + "\n"


def php_log(scenario: str) -> str:
    """The PHP SDK's ServiceException for each failed refresh of the run, as
    OAuth2LoginHelper.php words it, logged by Laravel's Monolog."""
    lines = []
    for e in _token_entries(scenario):
        body = e["response"]["content"].get("text", "")
        if (
            e["response"]["status"] == 200
            or "refresh_token" not in e["request"]["postData"]["text"]
        ):
            continue
        lines.append(
            f"[{_stamp(e, '%Y-%m-%d %H:%M:%S')}] production.ERROR: Refresh OAuth 2 Access token "
            f"with Refresh Token failed. Body: [{body}]. "
            f'{{"exception":"[object] (QuickBooksOnline\\\\API\\\\Exception\\\\ServiceException'
            f"(code: {e['response']['status']}): Refresh OAuth 2 Access token with Refresh "
            'Token failed.)"}'
        )
    return "\n".join(lines) + "\n"


def cloudwatch_export(scenario: str) -> str:
    """`aws logs filter-log-events` output (the CLI's 4-space JSON) of the run's Python log,
    one event per record, as the Lambda runtime ships each logging call."""
    text = (LOGS / f"{scenario}.python.log").read_text()
    records: list[str] = []
    for line in text.splitlines():
        if line[:4].isdigit() or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    events = [
        {
            "logStreamName": "2026/12/02/[$LATEST]0f3c",
            "timestamp": 1796000000000 + n,
            "message": r,
            "ingestionTime": 1796000000100 + n,
            "eventId": f"{n:056d}",
        }
        for n, r in enumerate(records)
    ]
    return json.dumps({"events": events, "searchedLogStreams": []}, indent=4)


def test_dotnet_log_alone_analyzes_like_the_capture(tmp_path: Path) -> None:
    log = tmp_path / "mixed.dotnet.log"
    log.write_text(dotnet_log("mixed"))
    mine, theirs = _findings(log), _findings(LOGS / "mixed.har")
    key = ("cause", "confidence", "status", "token", "client")
    assert [{k: f[k] for k in key} for f in mine] == [{k: f[k] for k in key} for f in theirs]
    joined = _findings(LOGS / "mixed.har", log)
    assert [{k: f[k] for k in key} for f in joined] == [{k: f[k] for k in key} for f in theirs]
    out = cli("analyze", log, "--format", "json")
    for e in _token_entries("mixed"):
        assert _header(e["request"], "authorization").split()[-1] not in out


def test_php_log_reports_every_failed_refresh(tmp_path: Path) -> None:
    log = tmp_path / "mixed.php.log"
    log.write_text(php_log("mixed"))
    mine = _findings(log)
    refreshes = [f for f in _findings(LOGS / "mixed.har") if f["grant_type"] == "refresh_token"]
    assert [f["status"] for f in mine] == [f["status"] for f in refreshes]
    assert all(f["confidence"] == "possible" or not f["cause"].startswith("refresh_") for f in mine)


def test_cloudwatch_export_reads_like_the_log_it_ships(tmp_path: Path) -> None:
    export = tmp_path / "mixed.cloudwatch.json"
    export.write_text(cloudwatch_export("mixed"))
    doc = analyze_json(export)
    assert doc["inputs"][0]["format"] == "intuitlib in cloudwatch"  # type: ignore[index]
    mine, plain = _findings(export), _findings(LOGS / "mixed.python.log")
    assert [(f["cause"], f["status"]) for f in mine] == [(f["cause"], f["status"]) for f in plain]
    assert all(f["request"]["process"] == "2026/12/02/[$LATEST]0f3c" for f in mine)
    joined = _findings(LOGS / "mixed.har", export)
    assert len(joined) == len(_findings(LOGS / "mixed.har"))


def test_no_token_from_a_recorded_log_reaches_any_output(tmp_path: Path) -> None:
    """The Node SDK's success lines and the pino error objects carry tokens and Basic
    credentials in clear; none reaches the JSON, the text, or `sanitize`'s copy."""
    import re

    secrets: set[str] = set()
    for name in RECORDED:
        text = (LOGS / name).read_text()
        secrets |= set(re.findall(r'"(?:refresh|access)_token":"([^"]+)"', text))
        secrets |= set(re.findall(r"refresh_token=([A-Za-z0-9-]+)", text))
        secrets |= set(re.findall(r"Basic ([A-Za-z0-9+/=]{16,})", text))
    secrets = {s for s in secrets if len(s) >= 20}  # not `refresh_token=token` in a traceback
    assert len(secrets) > 10
    for name in RECORDED:
        path = LOGS / name
        outputs = [cli("analyze", path, "--format", f) for f in ("json", "text")]
        clean = tmp_path / name
        cli("sanitize", path, "-o", clean)
        outputs.append(clean.read_text())
        for out in outputs:
            assert not [s for s in secrets if s in out], name
        assert [(f["cause"], f["status"]) for f in _findings(clean)] == [
            (f["cause"], f["status"]) for f in _findings(path)
        ]
