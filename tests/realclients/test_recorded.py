"""The in-app recorder around the real Python SDK: the same run, seen from inside the app
and by the proxy, analyzes the same.

One mitmdump runs the emulator and the capture addon; each Python-SDK scenario runs its
app under `python -m qbtrace.record` (intuitlib over requests, unchanged), so the app's
only proxy is the emulator. The proxy's capture of each scenario (the lines it appended
while the scenario ran) and the recorder's capture must give the same findings.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qbtrace.live import POLL
from tests.conftest import analyze_json

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import record  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

ROOT = HERE.parent.parent
ADDON = ROOT / "addons" / "qbtrace_capture.py"
NODE_MODULES = HERE / "node" / "node_modules"
PYTHON_SCENARIOS = [n for n, s in SCENARIOS.items() if s.client == "python-sdk"]


@pytest.fixture(scope="module")
def proxy() -> Iterator[tuple[str, str, Path]]:
    with tempfile.TemporaryDirectory(prefix="qbt-rec-") as tmp:
        capture = Path(tmp, "proxy.jsonl")
        args = ["-s", str(ADDON), "--set", f"qbtrace_capture={capture}"]
        with record.mitmdump(args) as (url, ca):
            yield url, ca, capture


def written(capture: Path) -> int:
    """The proxy capture's size once the addon's recording thread has caught up: it writes
    each exchange within POLL of its end, so a size unchanged for ten POLLs is complete (a
    wait for the file, not a check of anyone's speed)."""
    size, since = capture.stat().st_size, time.monotonic()
    deadline = since + 60
    while time.monotonic() - since < 10 * POLL and time.monotonic() < deadline:
        time.sleep(POLL / 2)
        now = capture.stat().st_size
        if now != size:
            size, since = now, time.monotonic()
    return size


DURATION = re.compile(r"\b(\d+\.\d)s\b")
TOLERANCE = 0.35
"""Seconds two views of one duration may differ by: the app times a request from before it
sends to after it read the answer, the proxy from when the bytes reached it (tens of
milliseconds apart on a loaded machine, enough to move a figure to the next tenth)."""


def comparable(report: dict[str, Any]) -> tuple[list[dict[str, Any]], list[float]]:
    """Findings without where they were read (file names and line indexes differ) and with
    their durations taken out of the notes (`<d>s`), and those durations in order, to be
    compared within TOLERANCE."""
    out, durations = [], []
    for f in sorted(
        report["findings"], key=lambda f: (f["request"]["intuit_tid"] or "", f["cause"])
    ):
        kept = {k: v for k, v in f.items() if k not in ("request", "evidence", "warnings")}
        kept["tid"] = f["request"]["intuit_tid"]
        kept["evidence"] = [(e["role"], DURATION.sub("<d>s", e["note"])) for e in f["evidence"]]
        durations += [float(d) for e in f["evidence"] for d in DURATION.findall(e["note"])]
        out.append(kept)
    return out, durations


def assert_same_findings(a: dict[str, Any], b: dict[str, Any]) -> None:
    (found_a, durations_a), (found_b, durations_b) = comparable(a), comparable(b)
    assert found_a == found_b
    assert len(durations_a) == len(durations_b)
    assert all(abs(x - y) <= TOLERANCE for x, y in zip(durations_a, durations_b, strict=True))


@pytest.mark.realclients
@pytest.mark.parametrize("name", PYTHON_SCENARIOS)
def test_recorder_capture_analyzes_like_the_proxy_capture(
    name: str, proxy: tuple[str, str, Path], tmp_path: Path
) -> None:
    url, ca, capture = proxy
    inside = tmp_path / "tokens.jsonl"
    wrapper = [str(HERE / "emulated_clock.py")]
    prefix = ["-m", "qbtrace.record", "-o", str(inside), "--", *wrapper]
    before = written(capture)
    result = record.run_scenario(name, url, ca, py_prefix=prefix)
    written(capture)
    data = capture.read_bytes()
    seen = tmp_path / "proxy.jsonl"
    seen.write_bytes(data.split(b"\n", 1)[0] + b"\n" + data[before:])

    from_app, from_proxy = analyze_json(inside), analyze_json(seen)
    assert [f["cause"] for f in from_proxy["findings"]] == result["causes"]
    assert_same_findings(from_app, from_proxy)
    assert from_app["summary"] == from_proxy["summary"]
    assert from_app["inputs"][0]["warnings"] == []


def proxy_part(capture: Path, before: int, out: Path) -> Path:
    """The proxy capture's header and the lines appended since offset `before`."""
    written(capture)
    data = capture.read_bytes()
    out.write_bytes(data.split(b"\n", 1)[0] + b"\n" + data[before:])
    return out


@pytest.mark.realclients
def test_the_docs_axios_snippet_records_the_node_sdk_like_the_proxy(
    proxy: tuple[str, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("node") is None or not (NODE_MODULES / "blakejs").exists():
        pytest.skip("node or the npm packages are missing: run `npm ci` in tests/realclients/node")
    docs = (ROOT / "docs" / "recorder.md").read_text()
    (code,) = re.findall(r"```js\n(.*?)```", docs, re.S)
    snippet = tmp_path / "qbtrace-record.js"
    snippet.write_text(code)
    inside = tmp_path / "tokens.jsonl"
    monkeypatch.setenv("QBTRACE_CAPTURE", str(inside))
    monkeypatch.setenv("NODE_PATH", str(NODE_MODULES))
    url, ca, capture = proxy
    before = written(capture)
    name = "client_credentials_malformed"  # a Node scenario on the real clock
    result = record.run_scenario(name, url, ca, node_prefix=["--require", str(snippet)])
    seen = proxy_part(capture, before, tmp_path / "proxy.jsonl")

    from_app, from_proxy = analyze_json(inside), analyze_json(seen)
    assert [f["cause"] for f in from_proxy["findings"]] == result["causes"]
    assert_same_findings(from_app, from_proxy)
    assert from_app["summary"] == from_proxy["summary"]
    assert from_app["inputs"][0]["warnings"] == []
    assert os.environ["QBTRACE_TAG_KEY"] not in inside.read_text()
