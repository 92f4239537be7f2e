"""Damaged flow files and captures: read what can be read, warn, and never crash.

Each example starts from real recorded traffic (a golden `.mitm` flow file, and a capture
written from it) and damages it the ways files get damaged: cut short, bytes flipped, garbage
spliced in, lines duplicated or dropped, a wrong format version. Properties: reading raises
nothing but `InputError`; what is read analyzes; indexes stay inside the file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbtrace.analysis import analyze_inputs
from qbtrace.capture import encode_line, exchange_record, make_header
from qbtrace.errors import InputError
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources import read_input
from tests.conftest import GOLDEN

PROFILE = Profile()
REDACTOR = Redactor(b"fuzz-readers")
FLOWS = sorted(GOLDEN.glob("*.mitm"))
SETTINGS = settings(
    max_examples=int(os.environ.get("QBTRACE_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def capture_bytes(flow_file: Path) -> bytes:
    """A qbtrace capture of the same traffic as a golden flow file, as the addon writes it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / flow_file.name
        path.write_bytes(flow_file.read_bytes())
        exchanges = read_input(path, path.name, PROFILE, REDACTOR).exchanges
    lines = [encode_line(make_header(REDACTOR, False))]
    lines += [encode_line(exchange_record(x, f"flow-{n}")) for n, x in enumerate(exchanges)]
    return b"".join(lines)


def damage(data: bytes, draw: st.DrawFn) -> bytes:
    how = draw(st.sampled_from(["cut", "flip", "splice", "repeat", "drop", "version", "none"]))
    if how == "cut":
        return data[: draw(st.integers(0, len(data)))]
    if how == "flip":
        buf = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, max(len(buf) - 1, 0)))
            if buf:
                buf[at] = draw(st.integers(0, 255))
        return bytes(buf)
    if how == "splice":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    lines = data.split(b"\n")
    if how == "repeat" and lines:
        at = draw(st.integers(0, len(lines) - 1))
        lines.insert(at, lines[at])
    elif how == "drop" and len(lines) > 1:
        del lines[draw(st.integers(0, len(lines) - 1))]
    elif how == "version":
        return data.replace(b'"qbtrace_capture":1', b'"qbtrace_capture":99', 1).replace(
            b"7:version;2:21#", b"7:version;2:99#"
        )
    return b"\n".join(lines)


@st.composite
def damaged_inputs(draw: st.DrawFn) -> tuple[str, bytes]:
    flow_file = draw(st.sampled_from(FLOWS))
    if draw(st.booleans()):
        return "mitm", damage(flow_file.read_bytes(), draw)
    return "capture", damage(capture_bytes(flow_file), draw)


@SETTINGS
@given(damaged_inputs())
def test_damaged_flow_files_and_captures_never_crash(case: tuple[str, bytes]) -> None:
    kind, data = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"damaged.{kind}"
        path.write_bytes(data)
        try:
            item = read_input(path, path.name, PROFILE, REDACTOR)
        except InputError as exc:
            assert "damaged." in str(exc)
            return
    limit = item.entries if kind == "mitm" else data.count(b"\n") + 1
    assert all(0 <= x.ref.index < max(limit, 1) for x in item.exchanges)
    analysis = analyze_inputs([item], PROFILE)
    failed = [r for r in analysis.lineage.requests if not r.ok]
    assert len(analysis.findings) == len(failed)
