"""Property tests of the HAR reader and the analysis on generated valid and near-valid HARs.

Properties: nothing but `InputError` escapes `read_input` + `analyze_inputs` + rendering; the
CLI exits 0 or 2 only; every readable failed token request gets a finding; no planted raw
secret appears in any output. `benchmarks/fuzz_long.py` runs the same checks for minutes.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbtrace.analysis import analyze_inputs
from qbtrace.config import load_profile
from qbtrace.errors import InputError
from qbtrace.redact import Redactor
from qbtrace.render.view import Presenter
from qbtrace.run import render
from qbtrace.sources import read_input
from tests.conftest import run_cli
from tests.strategies import PLANT, Built, hars

PROFILE = load_profile(None)
FAST = settings(
    max_examples=int(os.environ.get("QBTRACE_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def wrap(data: bytes, how: str) -> bytes:
    """The same bytes as an exporter might have written them."""
    if how == "gzip":
        return gzip.compress(data, compresslevel=1)
    if how == "utf8-bom":
        return b"\xef\xbb\xbf" + data
    if how == "utf16":
        try:
            return b"\xff\xfe" + data.decode("utf-8").encode("utf-16-le")
        except UnicodeDecodeError:
            return data
    return data


WRAPS = st.sampled_from(["plain", "plain", "plain", "gzip", "utf8-bom", "utf16"])


def check_in_process(data: bytes, built: Built, folder: Path) -> str:
    """Read and analyze `data` in this process; returns 'ok' or 'refused'. Raises on a
    broken property."""
    path = folder / "fuzz.har"
    path.write_bytes(data)
    redactor = Redactor(b"qbtrace-fuzz")
    try:
        item = read_input(path, path.name, PROFILE, redactor)
    except InputError as exc:
        message = str(exc)
        assert PLANT not in message, message
        assert "\n" not in message, message
        return "refused"
    analysis = analyze_inputs([item], PROFILE)
    found = {f.ref.index for f in analysis.findings}
    missing = built.failed - found
    assert not missing, f"failed token requests without a finding: {sorted(missing)}"
    presenter = Presenter(redactor, False)
    for fmt in ("json", "text", "csv"):
        out = render(analysis, presenter, fmt)
        assert PLANT not in out, f"planted secret in {fmt} output"
    for warning in item.warnings:
        assert PLANT not in warning, warning
    return "ok"


@FAST
@given(hars(), WRAPS)
def test_reader_and_analysis_properties(case: tuple[bytes, Built], how: str) -> None:
    data, built = case
    with tempfile.TemporaryDirectory() as folder:
        check_in_process(wrap(data, how), built, Path(folder))


@FAST
@given(st.binary(max_size=2000), st.sampled_from([b"", b"{", b'{"log":', b'{"log":{"entries":[']))
def test_arbitrary_bytes_only_input_error(blob: bytes, prefix: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        check_in_process(prefix + blob, Built(), Path(folder))


@settings(
    max_examples=int(os.environ.get("QBTRACE_FUZZ_CLI_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hars(), WRAPS)
def test_cli_exit_status_and_outputs(case: tuple[bytes, Built], how: str) -> None:
    data, built = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.har"
        path.write_bytes(wrap(data, how))
        events = Path(folder) / "events.parquet"
        proc = run_cli("analyze", path, "--format", "json", "--events", events, check=False)
        assert proc.returncode in (0, 2), proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        assert PLANT not in proc.stdout + proc.stderr
        if proc.returncode == 2:
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            return
        findings = json.loads(proc.stdout)["findings"]
        found = {f["request"]["index"] for f in findings}
        assert built.failed <= found
        assert PLANT.encode() not in events.read_bytes()
