"""`qbtrace proxy` (qbtrace/proxy.py): the mitmdump command, the setup text, the exit summary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qbtrace.proxy import (
    addon_path,
    confdir_of,
    line_count,
    listen_host_of,
    mitmdump_command,
    setup_text,
)
from tests.test_addon import (
    CLIENT_ID,
    KEY,
    ROOT,
    RT,
    SECRET,
    TINY_EMULATOR,
    _free_port,
    _ready,
    _refresh,
)


def test_command_runs_the_addon_on_loopback_with_user_arguments_last(tmp_path: Path) -> None:
    out, config = tmp_path / "oauth.jsonl", tmp_path / "qbtrace.toml"
    argv = mitmdump_command(8899, out, config, ["--set", "confdir=/x"])
    assert Path(argv[0]).name == "mitmdump"
    assert argv[argv.index("-s") + 1] == str(addon_path())
    assert argv[argv.index("--listen-host") + 1] == "127.0.0.1"
    assert argv[argv.index("--listen-port") + 1] == "8899"
    assert f"qbtrace_capture={out}" in argv and f"qbtrace_config={config}" in argv
    assert argv[-2:] == ["--set", "confdir=/x"]
    assert not any("connection_strategy" in a for a in argv)  # lazy is for tests only
    assert "qbtrace_config" not in " ".join(mitmdump_command(8899, out, None))


def test_confdir_and_listen_host_follow_the_user_arguments() -> None:
    assert confdir_of([]) == Path("~/.mitmproxy").expanduser()
    assert confdir_of(["--set", "confdir=/tmp/mc"]) == Path("/tmp/mc")
    assert listen_host_of([]) == "127.0.0.1"
    assert listen_host_of(["--listen-host", "10.0.0.5"]) == "10.0.0.5"
    assert listen_host_of(["--set", "listen_host=::1"]) == "::1"


def test_setup_text_names_the_proxy_the_ca_and_the_env_vars(tmp_path: Path) -> None:
    ca = tmp_path / "mitmproxy-ca-cert.pem"
    text = setup_text(8899, tmp_path / "oauth.jsonl", ca)
    assert "http://127.0.0.1:8899" in text and "creates it on its first start" in text
    for line in (
        f"export HTTPS_PROXY=http://127.0.0.1:8899 REQUESTS_CA_BUNDLE={ca}",
        f"export HTTPS_PROXY=http://127.0.0.1:8899 NODE_EXTRA_CA_CERTS={ca}",
    ):
        assert line in text


def test_line_count_counts_a_cut_short_last_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    assert line_count(path) == 0
    path.write_bytes(b"a\nb\nc")
    assert line_count(path) == 3


RUN = (
    "import sys; from qbtrace.cli import main; "
    "main(['proxy', '--port', sys.argv[1], '--out', sys.argv[2], '--', *sys.argv[3:]])"
)


@pytest.mark.realclients
def test_proxy_captures_and_summarises_on_ctrl_c(tmp_path: Path) -> None:
    emulator = tmp_path / "tiny_intuit.py"
    emulator.write_text(TINY_EMULATOR)
    out, port = tmp_path / "oauth.jsonl", _free_port()
    extra = [
        "--set",
        f"confdir={tmp_path}",
        "--set",
        "connection_strategy=lazy",
        "-s",
        str(emulator),
    ]
    env = {**os.environ, "QBTRACE_TAG_KEY": KEY, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, str(port), str(out), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        ca = tmp_path / "mitmproxy-ca-cert.pem"
        deadline = time.monotonic() + 20
        while not _ready(port, ca):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        first = _refresh(f"http://127.0.0.1:{port}", str(ca), RT)
        _refresh(f"http://127.0.0.1:{port}", str(ca), RT)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert first.status_code == 200 and proc.returncode == 0, output
    assert f"REQUESTS_CA_BUNDLE={ca}" in output
    assert "qbtrace: 2 exchanges captured" in output
    assert "token requests: 2, failed: 1" in output
    assert "refresh_token_superseded: 1" in output
    assert f"qbtrace analyze {out} --format html -o report.html" in output
    for planted in (RT, SECRET, CLIENT_ID + ":"):
        assert planted not in output
