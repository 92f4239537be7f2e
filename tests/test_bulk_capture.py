"""`qbtrace analyze` of a big capture by the bulk path (`bulk_capture`) writes the document the
reference pipeline writes: same findings, counts, warnings and notes, on damaged captures,
on a wrong clock, on raw records and on every golden input written as a capture."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from benchmarks import capture_mix
from qbtrace import bulk_capture
from qbtrace.analysis import Analysis, analyze_reference, read_all
from qbtrace.capture import RawRecord, encode_line, exchange_record, key_id, make_header
from qbtrace.cli import main
from qbtrace.config import load_profile
from qbtrace.model import Kind
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.render import json as json_render
from qbtrace.render import text as text_render
from qbtrace.render.view import Presenter
from tests.conftest import analyze_json, on_a_terminal, run_cli
from tests.regold import TAG_KEY, golden_inputs, scenario_of
from tests.test_capture import make_parts

KEY = Redactor(TAG_KEY.encode())


def documents(path: Path, profile: Profile, halves: bool = False) -> tuple[str, str]:
    """(reference, bulk) JSON documents of one capture; with `halves`, the bulk path folds
    every capture's failures in two halves (`bulk_halves`), the second on a thread: what a
    process does with the same calls (tests/test_bulk_halves.py)."""
    presenter = Presenter(KEY, False, profile)
    reference = analyze_reference(read_all([path], profile, KEY), profile)
    with ThreadPoolExecutor(1) as pool:
        found = bulk_capture.analyze_capture(
            path, path.name, profile, KEY, pool=pool if halves else None, halves_from=0
        )
    return json_render.render(reference, presenter), json_render.render(found, presenter)


def assert_same(
    path: Path, profile: Profile | None = None, halves: bool = False
) -> dict[str, object]:
    reference, found = documents(path, profile or load_profile(None, local=False), halves)
    assert found == reference
    doc: dict[str, object] = json.loads(found)
    return doc


def platform(tmp_path: Path, total: int = 4000, seed: int = 2) -> Path:
    path = tmp_path / "platform.jsonl"
    capture_mix.write(path, total, 200, key_id(KEY), seed, boost=10)
    return path


@pytest.mark.parametrize("halves", [False, True], ids=["one fold", "halves"])
def test_platform_traffic(tmp_path: Path, halves: bool) -> None:
    doc = assert_same(platform(tmp_path), halves=halves)
    summary = doc["summary"]
    assert isinstance(summary, dict)
    assert summary["token_requests"] >= 4000
    assert len(summary["by_cause"]) >= 8


@pytest.mark.parametrize("halves", [False, True], ids=["one fold", "halves"])
def test_damaged_capture_says_what_the_reader_says(tmp_path: Path, halves: bool) -> None:
    """A broken line mid-file, blank lines, a second session's header, a raw record, a
    line the light decoder cannot take, a cut-short last line: same warnings, same lines."""
    path = platform(tmp_path, 1500)
    lines = path.read_bytes().split(b"\n")[:-1]
    raw = encode_line(RawRecord(Kind.TOKEN, make_parts(), "flow")).rstrip(b"\n")
    second = encode_line(make_header(KEY, raw=True)).rstrip(b"\n")
    odd = json.loads(lines[10])
    odd["params"]["grant_type"] = 5  # a number where a name belongs: decoded in full
    damaged = [
        *lines[:300],
        b'{"kind": "token", "started": ',
        b"",
        *lines[300:700],
        b"   ",
        second,
        raw,
        json.dumps(odd).encode(),
        *lines[700:],
        lines[900][:40],
    ]
    path.write_bytes(b"\n".join(damaged))
    doc = assert_same(path, halves=halves)
    inputs = doc["inputs"]
    assert isinstance(inputs, list)
    assert "unreadable lines skipped" in inputs[0]["warnings"][0]
    assert "cut short" in inputs[0]["warnings"][0]


@pytest.mark.parametrize("halves", [False, True], ids=["one fold", "halves"])
def test_a_wrong_clock_is_corrected_as_the_reference_corrects_it(
    tmp_path: Path, halves: bool
) -> None:
    path = platform(tmp_path, 1500)
    text = path.read_text()
    shifted = []
    for line in text.splitlines():
        record = json.loads(line)
        if "started" in record:  # the recording machine ran 7 minutes fast
            record["started"] += 420
            record["ended"] += 420
        shifted.append(json.dumps(record))
    path.write_text("\n".join(shifted) + "\n")
    doc = assert_same(path, halves=halves)
    inputs = doc["inputs"]
    assert isinstance(inputs, list)
    assert any("were corrected" in w for w in inputs[0]["warnings"])


def test_text_output_counts_from_the_skeleton(tmp_path: Path) -> None:
    path = platform(tmp_path, 1500)
    profile = load_profile(None, local=False)
    presenter = Presenter(KEY, False, profile)
    reference = analyze_reference(read_all([path], profile, KEY), profile)
    found: Analysis = bulk_capture.analyze_capture(path, path.name, profile, KEY)
    assert len(found.inputs[0].exchanges) < len(reference.inputs[0].exchanges) / 2
    assert text_render.render(found, presenter) == text_render.render(reference, presenter)


GOLDEN = golden_inputs()


@pytest.mark.parametrize("halves", [False, True], ids=["one fold", "halves"])
@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden_inputs_written_as_captures(path: Path, tmp_path: Path, halves: bool) -> None:
    toml = path.with_name(f"{scenario_of(path)}.qbtrace.toml")
    profile = load_profile(toml if toml.is_file() else None, local=False)
    (item,) = read_all([path], profile, KEY)
    capture = tmp_path / f"{path.name}.jsonl"
    lines = [encode_line(make_header(KEY, raw=False))]
    lines += [encode_line(exchange_record(x)) for x in item.exchanges]
    capture.write_bytes(b"".join(lines))
    assert_same(capture, profile, halves)


def test_the_cli_takes_the_bulk_path_for_a_big_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = platform(tmp_path, 3000)
    assert bulk_capture.takes(path, smallest=1)
    assert not bulk_capture.takes(path)  # below BULK_FROM: read whole, as before
    assert not bulk_capture.takes(tmp_path / "missing.jsonl", smallest=1)
    before = analyze_json(path, extra=("--no-config",))
    taken: list[Path] = []
    real = bulk_capture.analyze_capture

    def spy(where: Path, *args: Any) -> Analysis:
        taken.append(where)
        return real(where, *args)

    monkeypatch.setattr(bulk_capture, "BULK_FROM", 1)
    monkeypatch.setattr(bulk_capture, "analyze_capture", spy)
    assert analyze_json(path, extra=("--no-config",)) == before
    assert taken == [path]
    report = tmp_path / "r.html"
    CliRunner().invoke(main, ["report", str(path), "--no-config", "-o", str(report)])
    assert report.stat().st_size
    assert taken == [path]  # the report charts every exchange: not the bulk path


@pytest.mark.parametrize("size", [0, 1, 7, 100_003])
def test_positions_are_the_order_inverted(size: int) -> None:
    """A row's timeline position is where it stands in the timeline order: what sorting the
    order again gives, scattered in one pass."""
    import polars as pl

    order = pl.select(pl.int_range(size, dtype=pl.UInt32).shuffle(seed=size)).to_series()
    pos = bulk_capture.positions(order)
    assert pos.name == "pos" and pos.equals(order.arg_sort().alias("pos"))
    assert pos.gather(order).to_list() == list(range(size))


def test_a_big_capture_says_each_stage_on_a_terminal(tmp_path: Path) -> None:
    # minutes of work at 10M requests: each stage is said as it ends, on a terminal only
    path = tmp_path / "big.jsonl"
    capture_mix.write(path, 36_000, 1_800, key_id(Redactor(TAG_KEY.encode())))
    assert path.stat().st_size >= bulk_capture.BULK_FROM  # the bulk path, and its progress
    env = {**os.environ, "QBTRACE_TAG_KEY": TAG_KEY}
    said, code = on_a_terminal(
        ["analyze", str(path), "--format", "json", "-o", "-"], "stderr", env=env
    )
    assert code == 0
    lines = said.splitlines()
    assert lines[0].startswith("qbtrace: reading big.jsonl (")
    stages = [line.split(": ", 2)[2] for line in lines[1:] if " s: " in line]
    assert stages[0].startswith("read 36,") and stages[0].endswith(" exchanges (1 process)")
    assert stages[-2] == "failures explained" and stages[-1].startswith("writing ")
    found = int(stages[-1].split()[1].replace(",", ""))
    assert found > 100 and stages[-1] == f"writing {found:,} findings"
    piped = run_cli("analyze", path, "--format", "json", "-o", tmp_path / "out.json")
    assert piped.returncode == 0 and "s: read " not in piped.stderr  # not on a pipe
