"""`qbtrace analyze` imports only what its input and its format use: start-up is most of a
small run and a visible part of a 1 GB one (polars alone is 0.1-0.2 s). Behaviour, not time:
the command runs for real in a child process and the test reads its `sys.modules`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GOLDEN

SCRIPT = """
import atexit, json, sys
listing = sys.argv.pop(1)
atexit.register(lambda: open(listing, "w").write(json.dumps(sorted(sys.modules))))
from qbtrace.cli import main
main()
"""
HEAVY = (
    "polars",
    "jinja2",
    "mitmproxy",
    "qbtrace.table",
    "qbtrace.render.html",
    "concurrent.futures.process",
)
"""What `analyze --format json|text` never needs: frames, templates, flow files, the
process pool of `--jobs`."""
LOG_READER = "qbtrace.sources.logs"
SUPERSEDED = GOLDEN / "refresh_token_superseded.har"


def imported(tmp: Path, *args: str | Path) -> set[str]:
    """The modules `qbtrace analyze ARGS` had imported when it exited."""
    listing, out = tmp / "modules.json", tmp / "out"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(listing), "analyze", *map(str, args), "-o", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "QBTRACE_TAG_KEY": "qbtrace-tests"},
        cwd=tmp,  # no ./qbtrace.toml
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert out.stat().st_size > 0
    return set(json.loads(listing.read_text()))


def loaded(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(f"{name}.") for m in modules)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_har_imports_neither_polars_nor_templates_nor_mitmproxy_nor_the_log_reader(
    tmp_path: Path, fmt: str
) -> None:
    modules = imported(tmp_path, SUPERSEDED, "--format", fmt)
    assert "qbtrace.sources.har" in modules
    assert [m for m in (*HEAVY, LOG_READER, "tomllib") if loaded(modules, m)] == []


def test_a_log_imports_the_log_reader_and_nothing_heavy(tmp_path: Path) -> None:
    modules = imported(tmp_path, GOLDEN / "logs" / "mixed.python.log", "--format", "json")
    assert loaded(modules, LOG_READER)
    assert [m for m in HEAVY if loaded(modules, m)] == []


def test_formats_that_need_frames_or_flow_files_still_import_them(tmp_path: Path) -> None:
    """The other side: the lazy imports happen where they are used."""
    assert loaded(imported(tmp_path, SUPERSEDED, "--format", "csv"), "polars")
    mitm = imported(tmp_path, GOLDEN / "refresh_token_superseded.mitm", "--format", "json")
    assert loaded(mitm, "mitmproxy")
