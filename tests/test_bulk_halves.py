"""The bulk path's fold in two halves (`bulk_halves`): the read's worker process folds half
the failures from the file itself and the document is the reference's; when the worker
fails, in either round, this process folds its half and nothing changes. Every golden input
and the damaged and shifted-clock captures are folded in halves in tests/test_bulk_capture.py.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qbtrace import bulk, bulk_capture, bulk_halves, skeleton
from qbtrace.analysis import analyze_reference, read_all
from qbtrace.capture import RawRecord, encode_line
from qbtrace.config import load_profile
from qbtrace.model import Kind
from qbtrace.render import json as json_render
from qbtrace.render.view import Presenter
from tests.test_bulk_capture import KEY, platform
from tests.test_capture import make_parts


def reference_document(path: Path) -> str:
    profile = load_profile(None, local=False)
    reference = analyze_reference(read_all([path], profile, KEY), profile)
    return json_render.render(reference, Presenter(KEY, False, profile))


def test_halves_fold_in_the_read_s_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A capture read by two processes: the read's worker then folds half the failures,
    decoding its half's lines from the file itself, a raw record (decoded here while
    reading) sent along."""
    path = platform(tmp_path, 3000)
    lines = path.read_bytes().split(b"\n")
    raw = encode_line(RawRecord(Kind.TOKEN, make_parts(), "flow")).rstrip(b"\n")
    path.write_bytes(b"\n".join([*lines[:2000], raw, *lines[2000:]]))
    monkeypatch.setattr(skeleton, "CHUNK", 200_000)  # ranges for the worker to read
    monkeypatch.setattr(bulk_capture, "PARALLEL_FROM", 1)
    profile = load_profile(None, local=False)
    stages: list[str] = []
    found = bulk_capture.analyze_capture(path, path.name, profile, KEY, stages.append, None, 1)
    assert json_render.render(found, Presenter(KEY, False, profile)) == reference_document(path)
    assert stages[0].startswith("read ") and stages[0].endswith(" exchanges (2 processes)")
    assert stages[-1] == "failures explained (two halves)"
    assert sum(f.cause != "unexplained" for f in found.findings) > 100


def test_the_halves_split_the_failures_by_lineage(tmp_path: Path) -> None:
    """Each failure is explained in exactly one half, and a lineage's failures in one."""
    path = platform(tmp_path, 3000)
    profile = load_profile(None, local=False)
    picked: list[bulk.Picked] = []
    real = bulk.pick

    def spy(*args: object, **kwargs: object) -> bulk.Picked:
        picked.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return picked[-1]

    with pytest.MonkeyPatch.context() as patch, ThreadPoolExecutor(1) as pool:
        patch.setattr(bulk, "pick", spy)
        found = bulk_capture.analyze_capture(path, path.name, profile, KEY, None, pool, 1)
    (one,) = picked
    here, there = one.halves
    assert here.own and there.own and not here.own & there.own
    assert len(here.own | there.own) == len(found.findings)
    assert 0.3 < len(here.own) / len(found.findings) < 0.7
    by_token: dict[str | None, set[bool]] = {}
    for f in found.findings:  # a token's failures: one lineage's
        by_token.setdefault(f.token, set()).add(f.ref.index in _lines(here))
    assert all(len(sides) == 1 for token, sides in by_token.items() if token is not None)


def _lines(half: bulk.Half) -> set[int]:
    return set(half.rows.filter(half.rows["pos"].is_in(list(half.own)))["line"].to_list())


@pytest.mark.parametrize("failing", ["work_first", "work_second"])
def test_a_failing_worker_leaves_its_half_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = platform(tmp_path, 3000)
    calls: list[str] = []

    def broken(sent: object) -> bytes:
        calls.append(failing)
        raise MemoryError("the worker ran out of memory")

    monkeypatch.setattr(bulk_halves, failing, broken)
    profile = load_profile(None, local=False)
    with ThreadPoolExecutor(1) as pool:
        found = bulk_capture.analyze_capture(path, path.name, profile, KEY, None, pool, 1)
    assert calls == [failing]
    assert json_render.render(found, Presenter(KEY, False, profile)) == reference_document(path)
