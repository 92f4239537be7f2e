"""The light capture reader (`skeleton.CaptureSkeleton`) gives the columns the exchanges give
(`skeleton.from_exchanges`), without making an `Exchange` per line."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from benchmarks import capture_mix
from qbtrace import skeleton
from qbtrace.config import load_profile
from qbtrace.model import Input
from qbtrace.redact import Redactor
from qbtrace.skeleton import CaptureSkeleton, from_exchanges
from qbtrace.sources import read_input


def light_and_full(path: Path) -> tuple[CaptureSkeleton, pl.DataFrame, Input]:
    """The capture's skeleton read the light way, and the capture read whole."""
    key = Redactor(b"k")
    reader = CaptureSkeleton(path, path.name, key)
    light = reader.read()
    item = read_input(path, path.name, load_profile(None, local=False), key)
    full = from_exchanges(list(item.exchanges))
    assert light.drop("offset", "length").equals(full.drop("offset", "length"))
    return reader, light, item


def test_light_columns_equal_the_exchanges_columns(tmp_path: Path) -> None:
    path = tmp_path / "mix.jsonl"
    capture_mix.write(path, 2000, 100, "k", boost=10)
    reader, light, item = light_and_full(path)
    assert not reader.full  # every record took the light way
    assert light.filter(pl.col("rt").is_not_null()).height > 1000
    # each row's offset and length are its line's: the line decodes to the same exchange
    picked = light.filter(pl.col("status") == 400).head(5)
    got = reader.exchanges(picked)
    assert got == [x for x in item.exchanges if x.ref.index in set(picked["line"])]


def test_nulls_where_tokens_and_secrets_usually_are(tmp_path: Path) -> None:
    # a public client sends no secret (`"secret": null`); a form field without a value
    path = tmp_path / "mix.jsonl"
    capture_mix.write(path, 1000, 50, "k", boost=10)
    lines = path.read_bytes().splitlines()
    for n in range(1, len(lines), 7):
        record = json.loads(lines[n])
        if record.get("client"):
            record["client"]["secret"] = None
        record["params"]["code"] = None
        if n % 3 == 0 and "refresh_token" in record.get("reply", {}):
            record["reply"]["refresh_token"] = None
        lines[n] = json.dumps(record).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")
    reader, light, _ = light_and_full(path)
    assert not reader.full  # nulls take the light way too
    assert light["secret"].null_count() > 100


def test_lines_longer_than_a_chunk_and_a_last_line_cut_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mix.jsonl"
    capture_mix.write(path, 600, 30, "k", boost=10)
    text = path.read_bytes()
    path.write_bytes(text + text.splitlines()[-1][:40])  # a record cut short, no newline
    _, whole, _ = light_and_full(path)
    for size in (700, 5000):  # every line longer than a chunk; a few lines a chunk
        monkeypatch.setattr(skeleton, "CHUNK", size)
        reader, light, _ = light_and_full(path)
        assert light.equals(whole)
        assert reader.parsed.bad == [f"line {len(text.splitlines()) + 1}: cut short"]
