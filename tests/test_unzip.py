"""A gzip log inflated in a forked child (`logs/unzip.py`): the same blocks in the same
order, the child's input errors raised in the parent in the same words, a child that dies
reported, and no fork while threads run. The forking cases run in a fresh interpreter
(threads other tests leave running rightly stop the fork)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qbtrace.config import load_profile
from qbtrace.errors import InputError
from qbtrace.redact import Redactor, default_key
from qbtrace.sources import read_input
from qbtrace.sources.logs.unzip import inflated_elsewhere
from tests.conftest import GOLDEN

CHILD = """
import json, os, sys
from qbtrace.errors import InputError
from qbtrace.sources.logs.unzip import inflated_elsewhere

def blocks(how):
    for n in range(5):
        yield f"{os.getpid()} {n} ".encode() * (n * 100_000 + 1)
    if how == "error":
        raise InputError("damaged gzip data (the compressed data ends early)", source="x.gz")
    if how == "die":
        os._exit(3)

got, error = [], None
try:
    for block in inflated_elsewhere(blocks(sys.argv[1]), "x.gz"):
        got.append(bytes(block).decode())
except InputError as exc:
    error = [str(exc), exc.source]
print(json.dumps({"parent": os.getpid(), "got": got, "error": error}))
"""


def run(how: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", CHILD, how], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_the_blocks_come_from_the_child_in_order() -> None:
    result = run("ok")
    got = result["got"]
    assert isinstance(got, list) and len(got) == 5 and result["error"] is None
    child = got[0].split()[0]
    assert child != str(result["parent"])
    assert got == [f"{child} {n} " * (n * 100_000 + 1) for n in range(5)]


def test_an_input_error_of_the_child_is_raised_in_the_same_words() -> None:
    result = run("error")
    assert result["error"] == [
        "x.gz: damaged gzip data (the compressed data ends early)",
        "x.gz",
    ]
    assert isinstance(result["got"], list) and len(result["got"]) == 5


def test_a_child_that_dies_is_reported() -> None:
    result = run("die")
    assert result["error"] == ["x.gz: the process inflating the gzip data stopped", "x.gz"]


def test_with_threads_running_the_blocks_are_inflated_here() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        made: list[int] = []

        def blocks() -> object:
            for n in range(3):
                made.append(n)
                yield bytes([n]) * 10

        got = list(inflated_elsewhere(blocks(), "x.gz"))  # type: ignore[arg-type]
        assert got == [b"\x00" * 10, b"\x01" * 10, b"\x02" * 10] and made == [0, 1, 2]
    finally:
        stop.set()
        worker.join()


@pytest.mark.parametrize("name", ["mixed.python.log", "refresh_race.python.jsonl"])
def test_a_gzip_log_reads_as_its_plain_copy(name: str, tmp_path: Path) -> None:
    plain = GOLDEN / "logs" / name
    packed = tmp_path / f"{name}.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    profile, redactor = load_profile(None, local=False), Redactor(default_key())
    expected = read_input(plain, name, profile, redactor)
    got = read_input(packed, name, profile, redactor)
    assert got == expected and got.exchanges


def test_a_damaged_gzip_log_is_refused(tmp_path: Path) -> None:
    data = gzip.compress((GOLDEN / "logs" / "mixed.python.log").read_bytes() * 50)
    packed = tmp_path / "cut.log.gz"
    packed.write_bytes(data[: len(data) // 2])
    profile, redactor = load_profile(None, local=False), Redactor(default_key())
    with pytest.raises(InputError, match="damaged gzip data"):
        read_input(packed, "cut.log.gz", profile, redactor)
