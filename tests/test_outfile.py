"""Output files (qbtrace/outfile.py) as the CLI uses them: `-` is standard output, a link
is never written through, an input is never overwritten."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GOLDEN, run_cli

SUPERSEDED = GOLDEN / "refresh_token_superseded.har"


def _one_error(proc_stderr: str) -> str:
    (line,) = proc_stderr.strip().splitlines()
    assert line.startswith("qbtrace: error: ") and "Traceback" not in proc_stderr
    return line


def test_dash_writes_standard_output() -> None:
    proc = run_cli("analyze", SUPERSEDED, "--format", "json", "-o", "-")
    assert json.loads(proc.stdout)["summary"]["failures"] == 1
    report = run_cli("report", SUPERSEDED, "-o", "-")
    assert report.stdout.startswith("<!DOCTYPE html>") and not Path("-").exists()


@pytest.mark.parametrize("command", ["analyze", "report", "sanitize"])
def test_an_output_that_is_an_input_is_refused_and_left_alone(tmp_path: Path, command: str) -> None:
    har = tmp_path / "app.har"
    har.write_bytes(SUPERSEDED.read_bytes())
    alias = tmp_path / "same.har"
    os.link(har, alias)  # another name for the same file
    for target in (har, alias):
        proc = run_cli(command, har, "-o", target, check=False)
        assert proc.returncode == 2
        assert "is the input" in _one_error(proc.stderr)
    assert har.read_bytes() == SUPERSEDED.read_bytes()


@pytest.mark.parametrize("command", ["analyze", "report", "sanitize"])
def test_an_output_that_is_a_symlink_is_refused(tmp_path: Path, command: str) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    link = tmp_path / "report.html"
    link.symlink_to(victim)
    proc = run_cli(command, SUPERSEDED, "-o", link, check=False)
    assert proc.returncode == 2 and "symbolic link" in _one_error(proc.stderr)
    assert victim.read_text() == "keep me" and link.is_symlink()


def test_events_file_is_checked_like_the_output(tmp_path: Path) -> None:
    link = tmp_path / "events.parquet"
    link.symlink_to(tmp_path / "elsewhere")
    proc = run_cli("analyze", SUPERSEDED, "--events", link, check=False)
    assert proc.returncode == 2 and "symbolic link" in _one_error(proc.stderr)
    assert not (tmp_path / "elsewhere").exists()


def test_sanitize_reads_and_writes_standard_streams() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "qbtrace", "sanitize", "-", "-o", "-"],
        input=SUPERSEDED.read_bytes(),
        capture_output=True,
    )
    assert proc.returncode == 0, proc.stderr
    har = json.loads(proc.stdout)  # the HAR alone on standard output; counts on stderr
    assert len(har["log"]["entries"]) == len(json.loads(SUPERSEDED.read_text())["log"]["entries"])
    assert b"values replaced" in proc.stderr


@pytest.mark.parametrize("source", [SUPERSEDED, GOLDEN / "logs" / "mixed.python.log"])
def test_sanitize_refuses_a_link_planted_after_the_check(tmp_path: Path, source: Path) -> None:
    """The CLI checks the output before the (long) sanitize; a link planted at that path
    while it runs must still not be written through (HAR and log sanitizers alike)."""
    from qbtrace.outfile import OutputError
    from qbtrace.redact import Redactor
    from qbtrace.sanitize import sanitize_file

    victim = tmp_path / "victim"
    victim.write_text("keep me")
    link = tmp_path / "shareable"
    link.symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        sanitize_file(source, link, Redactor(b"k" * 32))
    assert victim.read_text() == "keep me"


def test_a_failure_while_the_pieces_are_made_leaves_no_half_file(tmp_path: Path) -> None:
    from qbtrace.outfile import write_pieces

    out = tmp_path / "findings.json"
    out.write_text("an older document")

    def pieces() -> Iterator[bytes]:
        yield b'{\n  "findings": [\n'
        raise RuntimeError("a finding that cannot be rendered")

    with pytest.raises(RuntimeError, match="cannot be rendered"):
        write_pieces(out, pieces())
    assert not out.exists()
    write_pieces(out, iter([b"{", b"}\n"]))
    assert out.read_bytes() == b"{}\n"
