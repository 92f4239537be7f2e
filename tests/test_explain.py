"""The recorder's live diagnosis: one line per failed token request, with its cause, from
the process that made it (forked workers too); nothing when off; never raising into the app."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import qbtrace.record
from qbtrace.record import ENV_EXPLAIN
from tests.conftest import analyze_json
from tests.test_recorder import config
from tests.token_server import Server

FORKING_APP = """
import os, sys, requests
URL = sys.argv[1]

def refresh(rt):
    form = {"grant_type": "refresh_token", "refresh_token": rt}
    return requests.post(URL, data=form, auth=("ABclient", "s3cret-0000")).status_code

print(os.getpid(), refresh("first-token-0001"), refresh("stale"), flush=True)
child = os.fork()
if child == 0:  # a bare fork, as gunicorn and Celery prefork do
    print(os.getpid(), refresh("stale"), refresh("stale"), flush=True)
    sys.exit(0)
os.waitpid(child, 0)
print(os.getpid(), refresh("stale"), flush=True)
"""
LINE = re.compile(
    r"qbtrace: invalid_grant: (?P<cause>\w+) \((?P<confidence>\w+)\): .+ "
    r"\[tokens\.jsonl, pid (?P<pid>\d+), (?P<time>\d{4}-\d\d-\d\dT[\d:.]+Z)\]"
)


def _run(server: Server, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    app = tmp_path / "app.py"
    app.write_text(FORKING_APP)
    cfg = config(server, tmp_path)
    recorder = [sys.executable, "-m", "qbtrace.record", "-o", "tokens.jsonl", "--config", cfg]
    return subprocess.run(
        [*recorder, *flags, "--", app, server.token_url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != ENV_EXPLAIN},
    )


def test_each_failure_is_told_once_by_the_process_that_made_it(
    server: Server, tmp_path: Path
) -> None:
    proc = _run(server, tmp_path, "--explain")
    assert proc.returncode == 0, proc.stderr
    parent, child, again = (line.split() for line in proc.stdout.splitlines())
    assert parent[0] == again[0] != child[0]
    told = [LINE.fullmatch(line) for line in proc.stderr.splitlines()]
    assert told and all(told), proc.stderr
    pids = sorted(m["pid"] for m in told if m)
    assert pids == sorted([parent[0], child[0], child[0], parent[0]])
    findings = analyze_json(
        tmp_path / "tokens.jsonl", extra=("--config", str(tmp_path / "qbtrace.toml"))
    )["findings"]
    assert isinstance(findings, list) and len(findings) == len(told) == 4
    # each process explains what it saw itself; the whole capture explains the same here
    assert {(m["cause"], m["confidence"]) for m in told if m} == {
        (f["cause"], f["confidence"]) for f in findings
    }
    assert "s3cret" not in proc.stderr and "stale" not in proc.stderr


def test_nothing_is_told_when_it_is_off(server: Server, tmp_path: Path) -> None:
    proc = _run(server, tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    assert len(proc.stdout.splitlines()) == 3


def test_the_environment_turns_it_on(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for value, on in (("1", True), ("0", False), ("", False)):
        monkeypatch.setenv(ENV_EXPLAIN, value)
        recorder = qbtrace.record.install(tmp_path / "t.jsonl", profile=server.profile())
        try:
            assert (recorder.explainer is not None) == on, value
        finally:
            qbtrace.record.uninstall()
    monkeypatch.setenv(ENV_EXPLAIN, "1")
    recorder = qbtrace.record.install(tmp_path / "t.jsonl", explain=False)
    assert recorder.explainer is None
    qbtrace.record.uninstall()


def test_a_failing_diagnosis_never_reaches_the_app(
    server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = qbtrace.record.install(tmp_path / "t.jsonl", profile=server.profile(), explain=True)
    assert recorder.explainer is not None

    def closed(line: str) -> None:
        raise OSError("stderr closed")

    recorder.explainer.tell = closed
    form = {"grant_type": "refresh_token", "refresh_token": "stale"}
    try:
        with caplog.at_level(logging.ERROR, logger="qbtrace.record"):
            answer = requests.post(server.token_url, data=form, timeout=10)
            recorder.explainer.settle()
    finally:
        qbtrace.record.uninstall()
    assert answer.status_code == 400 and answer.json() == {"error": "invalid_grant"}
    assert "live diagnosis failed (OSError)" in caplog.text
    assert recorder.recorded == 1


def test_in_process_lines_go_where_told_and_uninstall_tells_what_is_held(
    server: Server, tmp_path: Path
) -> None:
    recorder = qbtrace.record.install(tmp_path / "t.jsonl", profile=server.profile(), explain=True)
    assert recorder.explainer is not None
    lines: list[str] = []
    recorder.explainer.tell = lines.append
    form = {"grant_type": "refresh_token", "refresh_token": "stale"}
    requests.post(server.token_url, data=form, timeout=10)
    requests.post(server.token_url, data={**form, "refresh_token": "fresh-0001"}, timeout=10)
    qbtrace.record.uninstall()  # a guess is held for late answers: uninstall tells it
    [line] = lines
    assert line.startswith("qbtrace: invalid_grant: ") and f"pid {os.getpid()}" in line
