"""The command line as a user and a CI job drive it: exit codes, formats, config, exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import polars as pl

from tests.conftest import GOLDEN, analyze_json, run_cli

SUPERSEDED = GOLDEN / "refresh_token_superseded.har"


def test_fail_on_sets_exit_status_for_ci_gates() -> None:
    assert run_cli("analyze", SUPERSEDED, "--fail-on", "refresh_token_superseded").returncode == 1
    assert run_cli("analyze", SUPERSEDED, "--fail-on", "code_reused").returncode == 0
    assert run_cli("analyze", GOLDEN / "healthy_python.har", "--fail-on", "any").returncode == 0
    assert run_cli("analyze", SUPERSEDED, "--fail-on", "any").returncode == 1


def test_unknown_cause_in_fail_on_is_a_usage_error() -> None:
    proc = run_cli("analyze", SUPERSEDED, "--fail-on", "made_up", check=False)
    assert proc.returncode == 2
    assert "unknown cause 'made_up'" in proc.stderr and "Traceback" not in proc.stderr


def test_json_follows_the_contract() -> None:
    doc = analyze_json(SUPERSEDED)
    assert doc["format"] == "qbtrace.findings/1"
    (finding,) = doc["findings"]  # type: ignore[misc]
    assert set(finding) >= {
        "cause",
        "confidence",
        "error",
        "status",
        "grant_type",
        "request",
        "evidence",
        "alternatives",
        "token",
        "client",
        "explanation",
        "fix",
    }
    assert finding["request"]["time"].endswith("Z")
    assert finding["token"].startswith("rt:") and finding["client"].startswith("client:")
    assert doc["summary"] == {
        "token_requests": 3,
        "failures": 1,
        "by_cause": {"refresh_token_superseded": 1},
    }
    evidence = finding["evidence"][0]
    assert {"role", "source", "index", "time", "note"} <= set(evidence)


def test_show_client_ids_prints_them_raw() -> None:
    doc = analyze_json(SUPERSEDED, extra=("--show-client-ids",))
    client = doc["findings"][0]["client"]  # type: ignore[index]
    assert not client.startswith("client:") and len(client) > 20


def test_csv_and_parquet_exports(tmp_path: Path) -> None:
    events = tmp_path / "events.parquet"
    proc = run_cli("analyze", GOLDEN / "mixed.har", "--format", "csv", "--events", events)
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["cause"] for r in rows] == [
        "refresh_token_superseded",
        "refresh_client_mismatch",
        "refresh_token_revoked",
        "client_secret_wrong",
    ]
    frame = pl.read_parquet(events)
    assert frame.height == 12 and frame.schema["time"] == pl.Datetime("ms", "UTC")
    assert set(frame["grant_type"].drop_nulls()) == {"authorization_code", "refresh_token"}


def test_config_supplies_the_disconnect_url_and_a_bad_config_is_one_line(tmp_path: Path) -> None:
    name = "refresh_token_revoked_by_user"
    plain = analyze_json(GOLDEN / f"{name}.har")["findings"][0]  # type: ignore[index]
    config = tmp_path / "qbtrace.toml"
    config.write_text('[app]\ndisconnect_url = "https://app.example.test/disconnect"\n')
    told = analyze_json(GOLDEN / f"{name}.har", extra=("--config", str(config)))
    assert plain["confidence"] == "likely"
    assert told["findings"][0]["confidence"] == "certain"  # type: ignore[index]
    config.write_text("[provider]\ncode_lifetime = 'ten minutes'\n")
    proc = run_cli("analyze", SUPERSEDED, "--config", config, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "code_lifetime must be a non-negative number" in proc.stderr


def test_causes_lists_the_whole_vocabulary() -> None:
    out = run_cli("causes").stdout
    assert out.splitlines()[0].startswith("client_credentials_malformed")
    from qbtrace.rules import PRECEDENCE

    assert len(out.splitlines()) == len(PRECEDENCE) == 24


def test_output_file(tmp_path: Path) -> None:
    out = tmp_path / "findings.json"
    proc = run_cli("analyze", SUPERSEDED, "--format", "json", "-o", out)
    assert proc.stdout == ""
    assert json.loads(out.read_text())["summary"]["failures"] == 1


def test_causes_say_which_providers_each_arises_with() -> None:
    lines = {line.split()[0]: line for line in run_cli("causes").stdout.splitlines()}
    assert lines["code_reused"].endswith("[every provider]")
    assert "[google (and any provider" in lines["refresh_token_evicted"]
    assert (
        "[no built-in provider; one set up for it in qbtrace.toml]"
        in lines["refresh_token_family_revoked"]
    )
    assert "microsoft" not in lines["refresh_token_superseded"]  # old tokens live on


def test_explain_in_a_providers_words() -> None:
    xero = run_cli("explain", "refresh_token_superseded", "--provider", "xero").stdout
    assert "Xero rotates it on every refresh and accepts the previous value for 30 minutes" in xero
    assert "Intuit" not in xero and "Arises with: quickbooks, xero" in xero
    google = run_cli("explain", "refresh_token_superseded", "--provider", "google").stdout
    assert "Not with Google as qbtrace knows it" in google
    bad = run_cli("explain", "code_reused", "--provider", "nope", check=False)
    assert bad.returncode == 2 and "unknown provider 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_dash_reads_standard_input_in_every_format(tmp_path: Path) -> None:
    import subprocess
    import sys

    from qbtrace.redact import Redactor
    from tests.test_capture import make_parts, write_capture

    capture = tmp_path / "live.jsonl"
    write_capture(capture, Redactor(b"k"), [make_parts()])
    for path in (SUPERSEDED, GOLDEN / "refresh_token_superseded.mitm", capture):
        proc = subprocess.run(
            [sys.executable, "-m", "qbtrace", "analyze", "-", "--format", "json"],
            input=path.read_bytes(),
            capture_output=True,
        )
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["summary"]["token_requests"] >= 1, path.name
        if path.suffix != ".jsonl":
            assert doc["findings"][0]["request"]["source"] == "stdin"


def test_fail_on_repeats_and_takes_comma_lists() -> None:
    gate = ("--fail-on", "code_reused", "--fail-on", "refresh_race,refresh_token_superseded")
    assert run_cli("analyze", SUPERSEDED, *gate).returncode == 1
    assert run_cli("analyze", SUPERSEDED, "--fail-on", "code_reused,refresh_race").returncode == 0


def test_a_misspelled_cause_suggests_the_right_one() -> None:
    proc = run_cli("analyze", SUPERSEDED, "--fail-on", "refresh_token_supersede", check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "did you mean refresh_token_superseded" in proc.stderr
    explain = run_cli("explain", "code_reuse", check=False)
    assert explain.returncode == 2 and "did you mean code_reused" in explain.stderr


def test_shell_completion_offers_cause_ids() -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "_QBTRACE_COMPLETE": "bash_complete",
        "COMP_WORDS": "qbtrace analyze x.har --fail-on code_reused,refresh_r",
        "COMP_CWORD": "4",
    }
    proc = subprocess.run(
        [sys.executable, "-c", "from qbtrace.cli import main; main(prog_name='qbtrace')"],
        env=env,
        capture_output=True,
        text=True,
    )
    offered = {line.split(",", 1)[1] for line in proc.stdout.split()}  # bash: "type,value"
    assert {"code_reused,refresh_race", "code_reused,refresh_response_lost"} == offered
    env["COMP_WORDS"], env["COMP_CWORD"] = "qbtrace explain code_", "2"
    proc = subprocess.run(
        [sys.executable, "-c", "from qbtrace.cli import main; main(prog_name='qbtrace')"],
        env=env,
        capture_output=True,
        text=True,
    )
    offered = {line.split(",", 1)[1] for line in proc.stdout.split()}
    assert {"code_reused", "code_expired", "code_altered"} <= offered


def test_a_missing_config_is_one_plain_line(tmp_path: Path) -> None:
    proc = run_cli("analyze", SUPERSEDED, "--config", tmp_path / "nope.toml", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"qbtrace: error: {tmp_path / 'nope.toml'}: no such config file"


def test_usage_errors_are_one_line() -> None:
    for args in (("analyze",), ("analyze", SUPERSEDED, "--format", "yaml"), ("analyse",)):
        proc = run_cli(*args, check=False)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, args
        assert proc.stderr.startswith("qbtrace: error: ")


def test_csv_times_are_in_the_jsons_z_form() -> None:
    rows = list(
        csv.DictReader(io.StringIO(run_cli("analyze", SUPERSEDED, "--format", "csv").stdout))
    )
    doc = analyze_json(SUPERSEDED)
    assert rows[0]["time"] == doc["findings"][0]["request"]["time"]  # type: ignore[index]
    assert rows[0]["time"].endswith("Z") and "T" in rows[0]["time"]


def test_a_config_in_the_current_folder_is_disclosed_everywhere_and_can_be_ignored(
    tmp_path: Path,
) -> None:
    """A stale qbtrace.toml must never change a verdict silently: here a day of grace turns
    the superseded replay (a day after its rotation) into something else, and every output
    says which file did it."""
    import os
    import subprocess
    import sys

    (tmp_path / "qbtrace.toml").write_text("[provider]\nrotation_grace = 172800\n")
    env = {**os.environ, "QBTRACE_TAG_KEY": "qbtrace-tests"}

    def analyze(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "qbtrace", "analyze", str(SUPERSEDED), *args]
        return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)

    found = analyze("--format", "json")
    doc = json.loads(found.stdout)
    assert doc["config"] == {"file": "qbtrace.toml", "overrides": {"rotation_grace": 172800}}
    assert doc["findings"][0]["cause"] != "refresh_token_superseded"
    assert "qbtrace: note: config: qbtrace.toml (found in the current folder" in found.stderr
    said = "config: qbtrace.toml (found in the current folder; --no-config ignores it) "
    assert said + "overrides rotation_grace=172800" in analyze().stdout
    report = tmp_path / "report.html"
    analyze("--format", "html", "-o", str(report))
    assert "overrides rotation_grace=172800" in report.read_text()
    ignored = analyze("--format", "json", "--no-config")
    assert json.loads(ignored.stdout)["config"] == {"file": None, "overrides": {}}
    assert json.loads(ignored.stdout)["findings"][0]["cause"] == "refresh_token_superseded"
    assert "config" not in ignored.stderr
