"""Shared test helpers: a fixed tag key, the golden captures, running the CLI for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"
os.environ.setdefault("QBTRACE_TAG_KEY", "qbtrace-tests")

# CI runs the property tests on a fixed sequence of examples, so a submission lands or not on
# its own merit; exploration with fresh seeds is benchmarks/fuzz_long.py's job.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def golden_scenarios() -> list[str]:
    return sorted(p.name.removesuffix(".expect.json") for p in GOLDEN.glob("*.expect.json"))


def expected(name: str) -> dict[str, object]:
    return json.loads((GOLDEN / f"{name}.expect.json").read_text())


def on_a_terminal(
    args: list[str], stream: str = "stdout", columns: int = 100, env: dict[str, str] | None = None
) -> tuple[str, int]:
    """`qbtrace ARGS` with `stream` ("stdout" or "stderr") on a real pseudo-terminal
    `columns` wide and the other discarded (a pipe nobody reads would fill and hang the
    child): what the terminal got, and the exit status."""
    import fcntl
    import pty
    import struct
    import termios

    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    streams: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    streams[stream] = child_fd
    proc = subprocess.Popen([sys.executable, "-m", "qbtrace", *args], env=env, **streams)
    os.close(child_fd)
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(main_fd)
    return b"".join(chunks).decode().replace("\r\n", "\n"), proc.returncode


def run_cli(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The installed console entry point, as a user runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "qbtrace", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "QBTRACE_TAG_KEY": "qbtrace-tests"},
    )
    if check and proc.returncode not in (0, 1):
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


def scenario_config(*paths: Path) -> tuple[str, ...]:
    """`--config` of the app's qbtrace.toml kept beside a golden capture (`<name>.qbtrace.toml`,
    for a custom provider), or nothing."""
    for path in paths:
        name = path.name.split(".")[0]
        declared = GOLDEN / f"{name}.qbtrace.toml"  # also for a copy (sanitized, planted)
        if declared.is_file():
            return ("--config", str(declared))
    return ()


def analyze_json(*paths: Path, extra: tuple[str, ...] = ()) -> dict[str, object]:
    """`qbtrace analyze --format json`, run in this process (the same click command), with
    the scenario's config when one sits beside a golden capture."""
    from click.testing import CliRunner

    from qbtrace.cli import main

    args = ["analyze", *map(str, paths), "--format", "json", *scenario_config(*paths), *extra]
    result = CliRunner().invoke(main, args)
    if result.exit_code not in (0, 1):
        raise AssertionError(f"exit {result.exit_code}: {result.stderr} {result.exception!r}")
    data: dict[str, object] = json.loads(result.stdout)
    return data


@pytest.fixture
def golden() -> Path:
    return GOLDEN


@pytest.fixture
def server() -> Iterator[Any]:
    """A real token endpoint on 127.0.0.1 (tests/token_server.py), for the recorder's tests."""
    from tests.token_server import token_server

    with token_server() as s:
        yield s


@pytest.fixture
def capture(server: Any, tmp_path: Path) -> Iterator[Path]:
    """The in-app recorder installed on `server`'s endpoints, writing this capture."""
    import qbtrace.record

    path = tmp_path / "tokens.jsonl"
    qbtrace.record.install(path, profile=server.profile())
    yield path
    qbtrace.record.uninstall()
