"""Property tests of the bounded readers and of hostile numbers (issue 9 point 3).

A generated capture is packed the ways exporters and attackers pack it (gzip, zlib, UTF-16
inside gzip, gzip members, padding that inflates past the cap) and read under a random
`QBTRACE_MAX_INPUT_MB`: it reads exactly as the plain file, or, when its content is larger
than the cap, is refused with the one-line cap error; nothing else. Hostile numbers and
times in the token answers are read, analyzed and rendered without an exception.
`benchmarks/fuzz_long.py` runs both properties for minutes with fresh seeds.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbtrace.analysis import analyze_inputs
from qbtrace.config import load_profile
from qbtrace.errors import InputError
from qbtrace.redact import Redactor
from qbtrace.render.view import Presenter
from qbtrace.run import render
from qbtrace.sources import read_input
from tests.strategies import scenario

PROFILE = load_profile(None)
REDACTOR = Redactor(b"fuzz-bounded")
SETTINGS = settings(
    max_examples=int(os.environ.get("QBTRACE_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PACKINGS = ("plain", "gzip", "zlib", "gzip-utf16", "utf16", "gzip-members")
MB = 1 << 20


def pack(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, 1)
    if how == "zlib":
        return zlib.compress(data, 1)
    if how == "gzip-utf16":
        return gzip.compress(b"\xff\xfe" + data.decode("utf-8").encode("utf-16-le"), 1)
    if how == "utf16":
        return b"\xff\xfe" + data.decode("utf-8").encode("utf-16-le")
    if how == "gzip-members":
        cut = len(data) // 2
        return gzip.compress(data[:cut], 1) + gzip.compress(data[cut:], 1)
    return data


def spilled(data: bytes, how: str) -> int:
    """The most the reader holds in a spill file for this packing: a plain file is mapped,
    not spilled; UTF-16 inside gzip is twice the UTF-8 content once inflated."""
    if how == "plain":
        return 0
    return 2 * len(data) + 2 if how == "gzip-utf16" else len(data)


@contextmanager
def cap(megabytes: float) -> Iterator[None]:
    before = os.environ.get("QBTRACE_MAX_INPUT_MB")
    os.environ["QBTRACE_MAX_INPUT_MB"] = repr(megabytes)
    try:
        yield
    finally:
        if before is None:
            del os.environ["QBTRACE_MAX_INPUT_MB"]
        else:
            os.environ["QBTRACE_MAX_INPUT_MB"] = before


def check_bounded(data: bytes, how: str, megabytes: float, folder: Path) -> str:
    """'read' (the same exchanges as the plain file) or 'capped'; raises on a broken
    property."""
    plain = folder / "plain.har"
    plain.write_bytes(data)
    expected = read_input(plain, "in.har", PROFILE, REDACTOR).exchanges
    packed = folder / "packed.har"
    packed.write_bytes(pack(data, how))
    with cap(megabytes):
        try:
            got = read_input(packed, "in.har", PROFILE, REDACTOR)
        except InputError as exc:
            message = str(exc)
            assert "larger than" in message and "QBTRACE_MAX_INPUT_MB" in message, message
            assert "\n" not in message
            assert spilled(data, how) > megabytes * MB, (len(data), megabytes)
            return "capped"
    assert spilled(data, how) <= megabytes * MB + 4 * MB  # stopped within a chunk of the cap
    assert got.exchanges == expected
    return "read"


@SETTINGS
@given(
    seed=st.integers(0, 2**32),
    how=st.sampled_from(PACKINGS),
    padding=st.sampled_from([0, 0, 1, 3, 6]),
    megabytes=st.sampled_from([0.05, 0.5, 2.0, 4.0, 4096.0]),
)
def test_packed_inputs_read_as_plain_or_stop_at_the_cap(
    seed: int, how: str, padding: int, megabytes: float
) -> None:
    """Padding is whitespace inside the JSON (a bomb's shape: megabytes that pack to a few
    KB); the reader holds it in its spill file only up to the cap."""
    data = json.dumps(scenario(seed, noise=1).har()).encode()
    data = data[:-2] + b" " * (padding * MB) + data[-2:]
    with tempfile.TemporaryDirectory() as folder:
        check_bounded(data, how, megabytes, Path(folder))


LIFETIMES = ("expires_in", "x_refresh_token_expires_in", "x_refresh_token_hard_expires_in")
HOSTILE_NUMBERS = st.one_of(
    st.sampled_from([1e300, -1e300, -1.0, 0.0, 1e20, -3600, 2**63, -(2**63)]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**70), 2**70),
)
HOSTILE_TIMES = st.sampled_from(
    [
        "0001-01-01T00:00:00.000Z",
        "9999-12-31T23:59:59.999Z",
        "1969-12-31T23:59:59Z",
        "2200-01-02T00:00:00+14:00",
        "nan",
        "",
        "2026-02-30T25:61:61Z",
    ]
)


def hostile(built: Any, draw: st.DrawFn) -> bytes:
    """The scenario with lifetimes, times and durations of some entries replaced."""
    for entry in built.entries:
        if draw(st.booleans()):
            entry["startedDateTime"] = draw(HOSTILE_TIMES)
        if draw(st.booleans()):
            entry["time"] = draw(HOSTILE_NUMBERS)
        content = entry.get("response", {}).get("content", {})
        text = content.get("text")
        if isinstance(text, str) and text.startswith("{") and draw(st.booleans()):
            answer = json.loads(text)
            for name in LIFETIMES:
                if draw(st.booleans()):
                    answer[name] = draw(HOSTILE_NUMBERS)
            content["text"] = json.dumps(answer)
    return json.dumps(built.har()).encode()


def check_hostile(data: bytes, folder: Path) -> None:
    """Read, analyze and render in every format: no exception, finite times in the JSON."""
    path = folder / "hostile.har"
    path.write_bytes(data)
    item = read_input(path, path.name, PROFILE, REDACTOR)
    for x in item.exchanges:
        for t in (x.started, x.ended):
            assert t is None or math.isfinite(t)
    analysis = analyze_inputs([item], PROFILE)
    presenter = Presenter(REDACTOR, False)
    for fmt in ("json", "text", "csv"):
        assert render(analysis, presenter, fmt)


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**32))
def test_hostile_numbers_and_times_never_raise(data: st.DataObject, seed: int) -> None:
    raw = hostile(scenario(seed, noise=1), data.draw)
    with tempfile.TemporaryDirectory() as folder:
        check_hostile(raw, Path(folder))
