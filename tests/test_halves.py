"""A big log read in two halves at once (`qbtrace/sources/logs/halves.py`) reads exactly what
one scan reads, wherever the cut falls: every line start of every log golden and of a log of
every SDK format with tracebacks, multi-line objects and .NET request lines around the cut."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qbtrace.config import load_profile
from qbtrace.model import Input
from qbtrace.redact import Redactor, default_key
from qbtrace.sources import read_input
from qbtrace.sources.logs import Found, Part, halves, read_log_pieces
from qbtrace.sources.logs.driver import file_pieces
from tests import logsamples
from tests.conftest import GOLDEN, ROOT

PROFILE = load_profile(None, local=False)
REDACTOR = Redactor(default_key())
GOLDEN_LOGS = sorted(p for p in (GOLDEN / "logs").iterdir() if p.suffix in (".log", ".jsonl"))
SAMPLES = (
    logsamples.INTUITLIB_TRACEBACK,
    logsamples.NODE_WINSTON,
    logsamples.PINO,
    logsamples.PHP,
    logsamples.RUBY,
    logsamples.DOTNET,
    logsamples.NANGO,
    logsamples.AIRBYTE,
    logsamples.UNKNOWN,
    logsamples.NOISE,
)


def whole(path: Path) -> Input:
    """One scan, as every small log is read."""
    with path.open("rb") as handle:
        return read_log_pieces(file_pieces(handle), path.name, PROFILE, REDACTOR)


def line_starts(path: Path) -> list[int]:
    data = path.read_bytes()
    return [0, *(n + 1 for n, byte in enumerate(data) if byte == ord("\n"))][:-1]


@pytest.fixture(scope="module")
def every_format(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("split") / "every.log"
    path.write_text("".join(s + logsamples.NOISE for s in (*SAMPLES, *reversed(SAMPLES))))
    return path


@pytest.mark.parametrize("path", GOLDEN_LOGS, ids=lambda p: p.name)
def test_a_golden_log_reads_the_same_cut_at_any_line(path: Path) -> None:
    expected = whole(path)
    for cut in line_starts(path):
        got = halves.read_split(path, path.name, PROFILE, REDACTOR, cut=cut, fork=False)
        assert got == expected, f"cut at byte {cut}"


def test_every_format_reads_the_same_cut_at_any_line(every_format: Path) -> None:
    expected = whole(every_format)
    assert len(expected.exchanges) >= 2 * len(SAMPLES) - 2
    for cut in line_starts(every_format):
        got = halves.read_split(every_format, "every.log", PROFILE, REDACTOR, cut=cut, fork=False)
        assert got == expected, f"cut at byte {cut}"


def fresh(case: str, *args: Path) -> None:
    """`case(*args)` of this module in a fresh interpreter: threads that other tests leave
    running rightly stop the fork in this one (then a big log is read as a stream)."""
    script = f"import sys; from tests import test_halves as t; t.{case}(*sys.argv[1:])"
    argv = [sys.executable, "-c", script, *map(str, args)]
    out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]


def test_the_halves_are_read_by_forked_children(every_format: Path) -> None:
    fresh("forked_halves", every_format)


def forked_halves(path: str) -> None:
    every = Path(path)
    cut = line_starts(every)[len(line_starts(every)) // 2]
    assert halves.read_split(every, "every.log", PROFILE, REDACTOR, cut=cut) == whole(every)
    got = halves._Child(lambda: Part(os.getpid(), [])).result()
    assert got is not None and got.lines != os.getpid()  # the work ran in the forked child


def test_with_threads_running_a_big_log_is_read_as_a_stream(
    every_format: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No fork with threads running, and no mapping in this process: the stream reads it."""
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        assert halves._Child(lambda: Part(1, [])).result() is None
        cut = line_starts(every_format)[len(line_starts(every_format)) // 2]
        assert halves.read_split(every_format, "every.log", PROFILE, REDACTOR, cut=cut) is None
        monkeypatch.setattr(halves, "SPLIT_FROM", 1)
        assert read_input(every_format, "every.log", PROFILE, REDACTOR) == whole(every_format)
    finally:
        stop.set()
        worker.join()


def test_a_failing_child_leaves_the_work_to_the_parent() -> None:
    def broken() -> Part:
        raise OSError("gone")

    assert halves._Child(broken).result() is None


def test_a_record_of_the_second_half_reaching_past_the_first_halfs_last_asks_for_a_rescan() -> None:
    first = Part(10, [Found(at=90, stop=120, exchange=None)])
    fits = Part(5, [Found(at=10, stop=20, exchange=None), Found(at=30, stop=40, exchange=None)])
    joined = halves.join(first, fits, cut=100)
    assert joined is not None and joined.lines == 15
    assert [(f.at, f.stop) for f in joined.found] == [(90, 120), (130, 140)]
    reaching = Part(5, [Found(at=10, stop=25, exchange=None)])
    assert halves.join(first, reaching, cut=100) is None


def test_a_big_log_is_read_in_halves_through_the_registry(
    every_format: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.log"
    big.write_bytes(every_format.read_bytes() * 40)
    fresh("registry_halves", big)


def registry_halves(path: str) -> None:
    big = Path(path)
    expected = whole(big)
    halves.SPLIT_FROM = 1
    got = halves.read_split(big, "big.log", PROFILE, REDACTOR)
    assert got == expected and got is not None
    assert read_input(big, "big.log", PROFILE, REDACTOR) == expected


def test_a_cut_inside_a_record_longer_than_a_record_may_be_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A traceback of 450 frames (longer than MAX_LINES) that mention the error: one scan
    ends its record after 400 lines and skips the needles inside; the child, starting in the
    middle, finds a record reaching past that end, so the second half is scanned again."""
    frames = "".join(f'  File "/srv/app/{n}.py", line 1: invalid_grant\n' for n in range(450))
    path = tmp_path / "deep.log"
    path.write_text(logsamples.NOISE + logsamples.INTUITLIB_TRACEBACK + frames + logsamples.PINO)
    expected = whole(path)
    assert len(expected.exchanges) >= 2
    starts = line_starts(path)
    calls: list[Part | None] = []
    join = halves.join

    def counted(first: Part, second: Part, cut: int) -> Part | None:
        calls.append(join(first, second, cut))
        return calls[-1]

    monkeypatch.setattr(halves, "join", counted)
    for cut in starts[len(starts) // 3 : len(starts) // 3 + 20]:
        got = halves.read_split(path, "deep.log", PROFILE, REDACTOR, cut=cut, fork=False)
        assert got == expected, f"cut at byte {cut}"
    assert None in calls


def test_a_log_truncated_while_its_halves_are_read_is_read_again_with_a_warning(
    every_format: Path, tmp_path: Path
) -> None:
    """The children die of SIGBUS (only they map the file); this process lives, reads what
    the file holds now and says why."""
    fresh("truncated_under_the_children", every_format, tmp_path / "app.log")


def truncated_under_the_children(every: str, target: str) -> None:
    every_format, big = Path(every), Path(target)
    big.write_bytes(every_format.read_bytes() * 40)
    keep = line_starts(every_format)[len(line_starts(every_format)) // 2]
    scan = halves.scan_mapped

    def cut_then_scan(*args: object, **kwargs: object) -> Part:
        """As logrotate's copytruncate does under a reader: the scan then touches mapped
        pages past the file's end (SIGBUS)."""
        os.truncate(big, keep)
        return scan(*args, **kwargs)  # type: ignore[arg-type]

    halves.scan_mapped = cut_then_scan  # type: ignore[assignment]
    halves.SPLIT_FROM = 1
    with pytest.raises(halves.Shrunk):  # a library call: this runs in a fresh interpreter
        halves.read_split(big, "app.log", PROFILE, REDACTOR)
    big.write_bytes(every_format.read_bytes() * 40)
    got = read_input(big, "app.log", PROFILE, REDACTOR)
    assert big.stat().st_size == keep
    expected = whole(big)
    assert got.exchanges == expected.exchanges and got.entries == expected.entries
    assert got.warnings == (*expected.warnings, str(halves.Shrunk()))
    assert "shrank while it was read" in got.warnings[-1]


def test_a_log_cut_before_its_halves_are_mapped_is_read_again_too(
    every_format: Path, tmp_path: Path
) -> None:
    """Cut after its size was taken, before a child maps it: no fault, but a shorter file
    than the cut was made for, so it is read again all the same."""
    fresh("cut_before_mapping", every_format, tmp_path / "app.log")


def cut_before_mapping(every: str, target: str) -> None:
    big = Path(target)
    big.write_bytes(Path(every).read_bytes() * 40)
    mapping = halves.mapping

    def cut_first(path: Path) -> object:
        os.truncate(path, 100)
        return mapping(path)

    halves.mapping = cut_first  # type: ignore[assignment]
    halves.SPLIT_FROM = 1
    with pytest.raises(halves.Shrunk):  # a library call: this runs in a fresh interpreter
        halves.read_split(big, "app.log", PROFILE, REDACTOR)
