"""The recorder itself: forked workers and threads sharing one capture, `install` and
`python -m qbtrace.record` run as a user runs them."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

import qbtrace.record
from qbtrace.capture import Header, decode_line
from tests.test_hook_requests import PLANTED_RT, SECRET, records
from tests.token_server import Server

WORKERS, PER_WORKER = 4, 15


def refresh(url: str) -> int:
    form = {"grant_type": "refresh_token", "refresh_token": PLANTED_RT}
    return requests.post(url, data=form, auth=("ABclient", SECRET), timeout=10).status_code


def worker(url: str) -> int:
    return sum(refresh(url) == 200 for _ in range(PER_WORKER))


def test_forked_workers_append_whole_records_to_one_capture(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "tokens.jsonl"
    qbtrace.record.install(path, profile=server.profile())
    try:
        refresh(server.token_url)  # the parent records too, before and after the fork
        with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
            done = pool.map(worker, [server.token_url] * WORKERS)
        pid = os.fork()
        if pid == 0:  # a bare fork, as gunicorn and Celery prefork do
            os._exit(0 if refresh(server.token_url) == 200 else 1)
        assert os.waitpid(pid, 0)[1] == 0
        refresh(server.token_url)
    finally:
        qbtrace.record.uninstall()
    assert done == [PER_WORKER] * WORKERS
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # every record ends its own line: nothing cut or interleaved
    decoded = [decode_line(line) for line in lines[:-1]]
    assert sum(isinstance(d, Header) for d in decoded) == 1
    assert len(records(path)) == WORKERS * PER_WORKER + 3


def test_threads_share_the_recorder(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "tokens.jsonl"
    qbtrace.record.install(path, profile=server.profile())
    try:
        threads = [threading.Thread(target=worker, args=(server.token_url,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        qbtrace.record.uninstall()
    assert len(records(path)) == 4 * PER_WORKER


def test_install_again_switches_files_and_uninstall_restores_the_libraries(
    server: Server, tmp_path: Path
) -> None:
    import httpx

    originals = (requests.Session.send, httpx.Client.send, httpx.AsyncClient.send)
    qbtrace.record.install(tmp_path / "a.jsonl", profile=server.profile())
    qbtrace.record.install(tmp_path / "b.jsonl", profile=server.profile())
    refresh(server.token_url)
    qbtrace.record.uninstall()
    refresh(server.token_url)
    assert (requests.Session.send, httpx.Client.send, httpx.AsyncClient.send) == originals
    assert records(tmp_path / "a.jsonl") == [] and len(records(tmp_path / "b.jsonl")) == 1
    assert qbtrace.record.active() is None


def test_the_capture_is_private_and_an_unwritable_one_fails_at_install(tmp_path: Path) -> None:
    path = tmp_path / "tokens.jsonl"
    qbtrace.record.install(path)
    qbtrace.record.uninstall()
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(OSError):
        qbtrace.record.install(tmp_path / "missing" / "tokens.jsonl")
    assert qbtrace.record.active() is None


APP = """
import sys, requests
print(__name__, sys.argv[1:], sys.path[0] == {folder!r})
requests.post({url!r}, data={{"grant_type": "refresh_token", "refresh_token": "stale"}})
sys.exit(3)
"""


def run_recorder(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qbtrace.record", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def config(server: Server, folder: Path) -> Path:
    path = folder / "qbtrace.toml"
    path.write_text(f'[provider]\ntoken_endpoint = "{server.token_url}"\n')
    return path


def test_running_a_script_like_coverage_run(server: Server, tmp_path: Path) -> None:
    app = tmp_path / "app" / "app.py"
    app.parent.mkdir()
    app.write_text(APP.format(folder=str(app.parent), url=server.token_url))
    out = tmp_path / "tokens.jsonl"
    cfg = config(server, tmp_path)
    proc = run_recorder("-o", out, "--config", cfg, "--", app, "--port", "8", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.strip() == "__main__ ['--port', '8'] True"
    (seen,) = records(out)
    assert seen.reply == {"error": "invalid_grant"}


def test_running_a_module(server: Server, tmp_path: Path) -> None:
    (tmp_path / "appmod.py").write_text(APP.format(folder=str(tmp_path), url=server.token_url))
    out = tmp_path / "tokens.jsonl"
    cfg = config(server, tmp_path)
    proc = run_recorder("-o", out, "--config", cfg, "--", "-m", "appmod", "x", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.strip() == "__main__ ['x'] True"
    assert len(records(out)) == 1


@pytest.mark.parametrize(
    "args, said",
    [
        (("-o", "missing/t.jsonl", "--", "app.py"), "missing/t.jsonl: cannot write the capture"),
        (("-o", "t.jsonl", "--config", "bad.toml", "--", "app.py"), "bad.toml: not valid TOML"),
        (("-o", "t.jsonl", "--", "nowhere.py"), "nowhere.py: no such file"),
    ],
)
def test_problems_before_the_program_starts_are_one_line(
    args: tuple[str, ...], said: str, tmp_path: Path
) -> None:
    (tmp_path / "bad.toml").write_text("[provider\n")
    (tmp_path / "app.py").write_text("print('ran')\n")
    proc = run_recorder(*args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"qbtrace.record: error: {said}"), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_the_one_line_shows_control_characters_as_escapes(tmp_path: Path) -> None:
    """A capture path from the shell or the environment may hold an ANSI escape or a
    newline: the recorder's line shows them (`\\x1b`, `\\n`) as the CLI's lines do."""
    hostile = "missing\x1b[2J\u202e\nx/t.jsonl"
    proc = run_recorder("-o", hostile, "--", "app.py", cwd=tmp_path)
    assert proc.returncode == 2
    line = proc.stderr.removesuffix("\n")
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line
    assert line.startswith("qbtrace.record: error: missing\\x1b[2J\\u202e\\nx/t.jsonl: ")
    started = subprocess.run(
        [sys.executable, "-c", "import qbtrace.record as r; print(r.process_startup())"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={**os.environ, "QBTRACE_RECORD": hostile},
    )
    assert started.returncode == 0 and started.stdout == "None\n"
    line = started.stderr.removesuffix("\n")
    assert line.startswith("qbtrace.record: not recording in this process (")
    assert "\n" not in line and "\x1b" not in line and "\\x1b[2J\\u202e\\nx" in line


SPAWNING_APP = """
import multiprocessing, requests

def refresh(_):
    form = {{"grant_type": "refresh_token", "refresh_token": "stale"}}
    return requests.post({url!r}, data=form).status_code

if __name__ == "__main__":
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        print(sorted(pool.map(refresh, range(4))))
"""


def test_spawned_interpreters_record_through_process_startup(
    server: Server, tmp_path: Path
) -> None:
    """multiprocessing's spawn starts fresh interpreters: a sitecustomize (or a .pth line)
    calling process_startup picks up what `python -m qbtrace.record` put in the environment."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import qbtrace.record\nqbtrace.record.process_startup()\n"
    )
    app = tmp_path / "app.py"
    app.write_text(SPAWNING_APP.format(url=server.token_url))
    out = tmp_path / "tokens.jsonl"
    cfg = config(server, tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "qbtrace.record", "-o", out, "--config", cfg, "--", app],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[400, 400, 400, 400]"
    lines = [decode_line(line) for line in out.read_bytes().splitlines()]
    headers = [d for d in lines if isinstance(d, Header)]
    assert len(headers) >= 2  # the parent's and at least one spawned worker's
    assert len(records(out)) == 4
