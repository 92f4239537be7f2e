"""A HAR or flow file cut while it is read: small files are read, not mapped, so the cut
cannot kill the process with SIGBUS (a mapped page past the new end); big ones are mapped."""

from __future__ import annotations

import mmap
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from qbtrace.sources import filebytes
from qbtrace.sources.filebytes import file_bytes

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"
CUT = """
import os, sys
from pathlib import Path
import qbtrace.sources as sources
import qbtrace.sources.mitm as mitm
from qbtrace.config import load_profile
from qbtrace.redact import Redactor

path, copy, where = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
if sys.argv[4] == "mapped":  # the control: what mapping every file did
    import qbtrace.sources.filebytes as filebytes
    filebytes.READ_BELOW = 0
owner = sources if where == "har" else mitm
plain = owner.file_bytes

def cut_after_reading(handle):
    got = plain(handle)
    os.truncate(handle.name, 5000)  # an exporter rewriting the file in place
    return got

owner.file_bytes = cut_after_reading
profile, key = load_profile(None, local=False), Redactor(b"k")
cut = sources.read_input(path, "in", profile, key)
owner.file_bytes = plain
whole = sources.read_input(copy, "in", profile, key)
assert os.path.getsize(path) == 5000
assert cut.exchanges == whole.exchanges and len(whole.exchanges) > 0, (cut, whole)
print(len(cut.exchanges))
"""


FILES = [("refresh_token_superseded.har", "har"), ("code_reused.mitm", "mitm")]


def cut_while_read(
    tmp_path: Path, name: str, where: str, how: str
) -> subprocess.CompletedProcess[str]:
    """The file read, cut to 5,000 bytes (past its first page), then parsed, in a fresh
    interpreter (a SIGBUS there kills only it)."""
    path, copy = tmp_path / name, tmp_path / f"copy-{name}"
    data = (GOLDEN / name).read_bytes()
    path.write_bytes(data * 20 if where == "mitm" else data)  # pages past the cut's
    copy.write_bytes(path.read_bytes())
    return subprocess.run(
        [sys.executable, "-c", CUT, str(path), str(copy), where, how],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


@pytest.mark.parametrize("name, where", FILES, ids=["har", "mitm"])
def test_a_file_cut_after_it_is_read_is_analyzed_as_it_was(
    tmp_path: Path, name: str, where: str
) -> None:
    out = cut_while_read(tmp_path, name, where, "read")
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout) > 0


@pytest.mark.parametrize("name, where", FILES, ids=["har", "mitm"])
def test_mapped_the_same_cut_kills_the_process(tmp_path: Path, name: str, where: str) -> None:
    # why small files are read: the control, with every file mapped as before
    out = cut_while_read(tmp_path, name, where, "mapped")
    assert out.returncode == -signal.SIGBUS


def test_small_files_are_read_and_big_ones_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filebytes, "READ_BELOW", 1000)
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(b"x" * 999)
    big.write_bytes(b"y" * 1000)
    with small.open("rb") as handle:
        got = file_bytes(handle)
        assert isinstance(got, bytes) and got == b"x" * 999
    with big.open("rb") as handle:
        mapped = file_bytes(handle)
        assert isinstance(mapped, mmap.mmap) and mapped[:] == b"y" * 1000
        mapped.close()


def test_pipes_and_empty_files_are_not_read_here(tmp_path: Path) -> None:
    # the caller streams those (with its size cap): an endless pipe is never read whole
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with empty.open("rb") as handle, pytest.raises((ValueError, OSError)):
        file_bytes(handle)
    read_end, write_end = os.pipe()
    os.write(write_end, b"endless")
    with os.fdopen(read_end, "rb") as handle, pytest.raises((ValueError, OSError)):
        file_bytes(handle)
    os.close(write_end)
