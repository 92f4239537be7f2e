"""`qbtrace proxy` (qbtrace/proxy.py, qbtrace/mitm_master.py): mitmproxy in-process, started
for real with a real client; startup problems as one line before any banner."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from qbtrace.cli import main
from qbtrace.mitm_master import startup_problem
from qbtrace.proxy import line_count, report_command, setup_text
from tests.test_addon import ADDON, CLIENT_ID, KEY, ROOT, RT, SECRET, TINY_EMULATOR, _refresh

LISTENING = re.compile(r"qbtrace proxy listening on (http://127\.0\.0\.1:(\d+))")


def test_setup_text_names_the_ca_and_the_env_vars(tmp_path: Path) -> None:
    ca = tmp_path / "mitmproxy-ca-cert.pem"
    text = setup_text("http://127.0.0.1:8899", tmp_path / "oauth.jsonl", ca)
    assert "creates it on its first start" in text
    for line in (
        f"export HTTPS_PROXY=http://127.0.0.1:8899 REQUESTS_CA_BUNDLE={ca}",
        f"export HTTPS_PROXY=http://127.0.0.1:8899 NODE_EXTRA_CA_CERTS={ca}",
    ):
        assert line in text


def test_report_command_carries_the_config_and_quotes_paths() -> None:
    assert report_command(Path("/tmp/a b.jsonl"), None) == (
        "qbtrace report '/tmp/a b.jsonl' -o report.html"
    )
    assert report_command(Path("c.jsonl"), Path("my.toml")) == (
        "qbtrace report c.jsonl --config my.toml -o report.html"
    )


def test_line_count_counts_a_cut_short_last_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    assert line_count(path) == 0
    path.write_bytes(b"a\nb\nc")
    assert line_count(path) == 3


def test_bind_errors_say_what_to_do() -> None:
    said = startup_problem(
        "HTTP(S) proxy failed to listen on 127.0.0.1:80 with [Errno 13] error while "
        "attempting to bind on address ('127.0.0.1', 80): permission denied"
    )
    assert said.startswith("not allowed to listen on 127.0.0.1:80") and "--port" in said


def _proxy_cli(tmp: Path, *extra: str) -> list[str]:
    return ["proxy", "--out", str(tmp / "c.jsonl"), "--set", f"confdir={tmp}", *extra]


def _fails_before_banner(args: list[str], cwd: Path) -> str:
    """Run the command in this process (mitmproxy in-process too); its one error line."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, args)
    finally:
        os.chdir(old)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "listening" not in result.stdout and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("qbtrace: error: ")
    return line


def test_a_busy_port_is_one_line_and_no_banner(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _fails_before_banner(_proxy_cli(tmp_path, "--port", str(port)), tmp_path)
    assert f"127.0.0.1:{port} is already in use" in line


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (("--port", "70000"), "'--port': 70000 is not in the range"),
        (("--port", "eighty"), "'--port': 'eighty' is not a valid integer"),
        (("--port", "0", "--set", "listen_prot=9"), "no such mitmproxy option; did you mean"),
        (("--port", "0", "--set", "listen_port=x"), "listen_port"),
        (("--port", "0", "--config", "missing.toml"), "missing.toml: no such config file"),
        (("--port", "0", "--config", "bad.toml"), "bad.toml: provider.code_lifetime must be"),
    ],
)
def test_bad_options_and_configs_are_one_line_before_any_banner(
    tmp_path: Path, extra: tuple[str, ...], said: str
) -> None:
    (tmp_path / "bad.toml").write_text("[provider]\ncode_lifetime = 'ten minutes'\n")
    assert said in _fails_before_banner(_proxy_cli(tmp_path, *extra), tmp_path)
    assert not (tmp_path / "c.jsonl").exists() or line_count(tmp_path / "c.jsonl") <= 1


def _start(tmp: Path, *extra: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    """`qbtrace proxy` with the tiny Intuit emulator loaded, until its banner names the port."""
    emulator = tmp / "tiny_intuit.py"
    emulator.write_text(TINY_EMULATOR)
    args = [*_proxy_cli(tmp, "--port", "0"), "--set", "connection_strategy=lazy"]
    args += ["--set", f"scripts={emulator}", *extra]
    env = {**os.environ, "QBTRACE_TAG_KEY": KEY, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qbtrace", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        cwd=tmp,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, f"proxy exited: {seen}"
        seen.append(line)
        if found := LISTENING.search(line):
            return proc, found[1], seen
    raise AssertionError(f"no banner: {seen}")


def _stop(proc: subprocess.Popen[str], seen: list[str]) -> str:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C does
    assert proc.stdout is not None
    try:
        # read() rather than communicate(): readline() may have buffered more than a line
        rest = proc.stdout.read()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return "".join(seen) + rest


@pytest.mark.realclients
def test_proxy_explains_live_and_summarises_on_ctrl_c(tmp_path: Path) -> None:
    config = tmp_path / "qbtrace.toml"
    config.write_text('[app]\nredirect_uris = ["https://app.example.test/callback"]\n')
    proc, url, seen = _start(tmp_path, "--config", str(config))
    ca = str(tmp_path / "mitmproxy-ca-cert.pem")
    first = _refresh(url, ca, RT)
    _refresh(url, ca, RT)
    output = _stop(proc, seen)
    print(output)
    assert first.status_code == 200 and proc.returncode == 0, output
    assert f"REQUESTS_CA_BUNDLE={ca}" in output, output
    assert "Exception" not in output and "Traceback" not in output
    assert output.count("qbtrace proxy listening on") == 1
    assert "refresh_token_superseded (" in output  # the live line
    assert "qbtrace: 2 exchanges captured" in output
    assert "token requests: 2, failed: 1" in output
    assert "refresh_token_superseded: 1" in output
    out = tmp_path / "c.jsonl"
    assert f"qbtrace report {out} --config {config} -o report.html" in output
    # mitmproxy's own per-flow and connection lines are quiet by default
    assert "client connect" not in output and "POST https://" not in output
    for planted in (RT, SECRET, CLIENT_ID + ":"):
        assert planted not in output


@pytest.mark.realclients
@pytest.mark.parametrize(
    ("flag", "mitm_lines", "setup"),
    [("--mitmproxy-log", True, True), ("-q", False, False)],
)
def test_flags_bring_back_mitmproxys_lines_or_quiet_everything_but_qbtrace(
    tmp_path: Path, flag: str, mitm_lines: bool, setup: bool
) -> None:
    proc, url, seen = _start(tmp_path, flag)
    ca = str(tmp_path / "mitmproxy-ca-cert.pem")
    first = _refresh(url, ca, RT)
    _refresh(url, ca, RT)
    _refresh(url, ca, first.json()["refresh_token"])
    time.sleep(0.5)  # the live line is told off the event loop
    output = _stop(proc, seen)
    assert ("POST https://oauth.platform.intuit.com" in output) is mitm_lines, output
    assert ("REQUESTS_CA_BUNDLE" in output) is setup
    assert "refresh_token_superseded (" in output  # qbtrace's own line shows either way


def test_the_addon_in_a_mitmproxy_without_qbtrace_says_how_to_fix_it(tmp_path: Path) -> None:
    # mitmdump as pipx installs it: its Python cannot import qbtrace
    run = (
        "import sys; sys.modules['qbtrace'] = None; "
        "from mitmproxy.tools.main import mitmdump; mitmdump(sys.argv[1:])"
    )
    argv = [sys.executable, "-c", run, "--listen-port", "0", "--set", f"confdir={tmp_path}"]
    proc = subprocess.run(
        [*argv, "-s", str(ADDON)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0
    (line,) = [x for x in said.splitlines() if "cannot import qbtrace" in x]
    assert "pipx inject mitmproxy qbtrace" in line and "Traceback" not in said


def test_a_raw_capture_readable_by_others_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    out.write_text("")
    out.chmod(0o644)
    args = [*_proxy_cli(tmp_path, "--port", "0"), "--set", "qbtrace_keep_raw=true"]
    line = _fails_before_banner(args, tmp_path)
    assert "readable by others (mode 0644)" in line and "chmod 600" in line
    assert out.read_text() == ""


def test_a_raw_capture_is_created_private(tmp_path: Path) -> None:
    from qbtrace.capture import CaptureWriter

    writer = CaptureWriter.open(tmp_path / "raw.jsonl", raw=True)
    writer.close()
    assert (tmp_path / "raw.jsonl").stat().st_mode & 0o777 == 0o600
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "raw.jsonl")
    with pytest.raises(OSError, match="symbolic link"):
        CaptureWriter.open(tmp_path / "link.jsonl")
