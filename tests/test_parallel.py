"""Several processes decoding a capture's chunks (`parallel`) give what one process gives:
the same columns, unreadable lines, session headers and exchanges decoded in full."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from benchmarks import capture_mix
from qbtrace import skeleton
from qbtrace.bulk_capture import with_clock
from qbtrace.capture import RawRecord, encode_line, make_header
from qbtrace.config import load_profile
from qbtrace.errors import InputError
from qbtrace.model import Kind
from qbtrace.redact import Redactor
from qbtrace.skeleton import CaptureSkeleton, HeaderOf
from tests.test_capture import make_parts

KEY = Redactor(b"parallel-key")


def read(path: Path, jobs: int, clock: bool = False) -> tuple[CaptureSkeleton, object]:
    reader = CaptureSkeleton(path, path.name, KEY, HeaderOf({}, "intuit_tid"), ("intuit_tid",))
    reader.jobs = jobs
    if clock:  # what the bulk path keeps of each chunk, done where the chunk is decoded
        reader.kept = functools.partial(with_clock, profile=load_profile(None, local=False))
    return reader, reader.read()


def damaged(tmp_path: Path) -> Path:
    path = tmp_path / "big.jsonl"
    capture_mix.write(path, 3000, 150, "k", boost=10)
    lines = path.read_bytes().split(b"\n")[:-1]
    raw = encode_line(RawRecord(Kind.TOKEN, make_parts(), "flow")).rstrip(b"\n")
    odd = json.loads(lines[2000])
    odd["params"]["grant_type"] = 7
    lines[700:700] = [b"{broken", b"", encode_line(make_header(KEY, True)).rstrip(b"\n"), raw]
    lines[2100:2100] = [json.dumps(odd).encode(), raw]
    path.write_bytes(b"\n".join([*lines, lines[5][:30]]))
    return path


def in_small_ranges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A capture of 3,000 requests, read in ranges of 200 kB (many units, both processes)."""
    path = tmp_path / "big.jsonl"
    capture_mix.write(path, 3000, 150, "k")
    monkeypatch.setattr(skeleton, "CHUNK", 200_000)
    return path


@pytest.mark.parametrize("jobs, clock", [(2, False), (3, False), (2, True)])
def test_workers_find_what_one_process_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int, clock: bool
) -> None:
    path = damaged(tmp_path)
    monkeypatch.setattr(skeleton, "CHUNK", 200_000)  # many ranges, a damaged line in several
    one, alone = read(path, 1, clock)
    many, together = read(path, jobs, clock)  # two workers take ranges from one shared front
    assert together.equals(alone)
    assert ("diff" in together.columns) == clock == ("request_id" not in together.columns)
    assert many.parsed.bad == one.parsed.bad and len(one.parsed.bad) == 2
    assert many.parsed.lines == one.parsed.lines
    assert len(many.parsed.headers) == len(one.parsed.headers) == 2
    assert many.full == one.full and len(one.full) == 3  # two raw records, one odd line
    assert many.nonsense == one.nonsense


def later_version(tmp_path: Path) -> Path:
    """A capture with a later session's header of an unknown version in its middle."""
    path = tmp_path / "big.jsonl"
    capture_mix.write(path, 2000, 100, "k")
    lines = path.read_bytes().split(b"\n")
    lines[1500:1500] = [b'{"qbtrace_capture":9,"created":"","qbtrace_version":"9","key_id":"k"}']
    path.write_bytes(b"\n".join(lines))
    return path


def test_a_later_session_of_an_unknown_version_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = later_version(tmp_path)
    monkeypatch.setattr(skeleton, "CHUNK", 200_000)
    with pytest.raises(InputError, match="version 9"):
        read(path, 2)


def test_the_skeleton_is_not_copied_whole_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the columns stay a chunk per range (a copy into one would double the memory at 10M
    # rows): a range is read in one chunk, and times are made sane a range at a time
    path = in_small_ranges(tmp_path, monkeypatch)
    for jobs in (1, 2):
        _, rows = read(path, jobs)
        assert isinstance(rows, pl.DataFrame)
        chunks = dict(zip(rows.columns, rows.n_chunks("all"), strict=True))
        assert chunks["line"] == chunks["started"] == chunks["rt"] > 5


def test_workers_columns_come_back_as_files_that_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # through the pool's pipe a range's columns waited on this process's busy thread
    from qbtrace import parallel

    path = in_small_ranges(tmp_path, monkeypatch)
    spills = tmp_path / "tmp"
    spills.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(spills))
    seen: list[Path] = []
    unspilled = parallel._unspilled

    def spy(part: parallel.Part) -> parallel.Part:
        if part.spilled is not None:  # a worker's (this process keeps its own ranges)
            assert part.frame is None and part.spilled.exists()
            seen.append(part.spilled)
        return unspilled(part)

    monkeypatch.setattr(parallel, "_unspilled", spy)
    take = parallel._take

    def after_the_worker(ends: Any, front: bool) -> int | None:
        # this process waits for the spawned worker's first range (its start is slower
        # than this whole small read): the patch lives in this process only
        deadline = time.monotonic() + 60
        while not front and ends[0] <= skeleton.UNITS and time.monotonic() < deadline:
            time.sleep(0.01)
        return take(ends, front)

    monkeypatch.setattr(parallel, "_take", after_the_worker)
    _, alone = read(path, 1)
    _, together = read(path, 2)
    assert together.equals(alone)
    assert len(seen) >= 1  # the worker's ranges, each read back from its file
    assert list(spills.iterdir()) == []  # the files and their folder are gone


def test_a_refused_read_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = later_version(tmp_path)
    monkeypatch.setattr(skeleton, "CHUNK", 200_000)
    spills = tmp_path / "tmp"
    spills.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(spills))
    with pytest.raises(InputError, match="version 9"):
        read(path, 2)
    assert list(spills.iterdir()) == []


def test_claims_shrink_to_a_unit_at_the_end_and_cover_every_unit_once() -> None:
    # whole chunks left one process waiting for the other's last; now the last claims
    # are a unit each, from both ends, and no unit is read twice or skipped
    import multiprocessing

    from qbtrace import parallel

    ends = multiprocessing.get_context("spawn").Array("q", [skeleton.UNITS, 130])
    claims: list[tuple[int, int]] = []
    front = True
    while (got := parallel._take(ends, front)) is not None:
        claims.append(got)
        front = not front
    sizes = [b - a for a, b in claims]
    assert max(sizes) == skeleton.UNITS and sizes[-4:] == [1, 1, 1, 1]
    covered = sorted(u for a, b in claims for u in range(a, b))
    assert covered == list(range(skeleton.UNITS, 130))


def test_without_a_temporary_folder_the_columns_come_through_the_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no folder can be made (the temporary directory is a file's child): the read is the
    # same, only slower; and a worker whose file cannot be written sends the columns along
    from qbtrace import parallel

    path = in_small_ranges(tmp_path, monkeypatch)
    _, alone = read(path, 1)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr("tempfile.tempdir", str(blocker / "tmp"))
    _, together = read(path, 2)
    assert together.equals(alone)
    profile = load_profile(None, local=False)
    hosts, default = profile.request_id_headers()
    task = parallel.Task(
        path, "big.jsonl", HeaderOf(hosts, default), ("intuit_tid",), 0, 400_000,
        spill=tmp_path / "gone" / "0",
    )  # fmt: skip
    part = parallel.work(task)
    assert part.spilled is None and part.frame is not None and part.frame.height > 100
