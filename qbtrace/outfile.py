"""Writing an output file safely: never through a symbolic link qbtrace did not create,
never over one of the inputs, `-` meaning standard output.

A report written through a planted link (`report.html -> ~/.bashrc`) would overwrite
whatever the link names; `-o app.har` given the input `app.har` would destroy the only
copy of the evidence. Both are refused before anything is read.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from qbtrace.errors import QbtraceError

STDIO = "-"


class OutputError(QbtraceError):
    """An output path qbtrace will not write to."""

    slug = "bad-output"


def is_stdio(path: Path | str | None) -> bool:
    return path is not None and str(path) == STDIO


def check_output(output: Path, inputs: Iterable[Path]) -> None:
    """OutputError when `output` is a symbolic link, a directory or one of `inputs`."""
    if is_stdio(output):
        return
    if output.is_symlink():
        raise OutputError(
            "is a symbolic link; qbtrace does not write through links (remove it or name "
            "another file)",
            source=str(output),
        )
    if output.is_dir():
        raise OutputError("is a directory; name a file", source=str(output))
    for item in inputs:
        if not is_stdio(item) and _same_file(output, item):
            raise OutputError(
                f"is the input {item}; writing it would destroy the evidence: name another file",
                source=str(output),
            )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False  # one of them does not exist (yet): not the same file


def open_output(output: Path, mode: int = 0o644) -> IO[bytes]:
    """A new or truncated regular file opened for writing without following a link in its
    last component (O_NOFOLLOW: a link planted after `check_output` is refused too)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(output, flags, mode)
    except OSError as exc:
        if output.is_symlink():
            raise OutputError(
                "is a symbolic link; qbtrace does not write through links", source=str(output)
            ) from None
        raise OutputError(f"cannot write ({exc.strerror or exc})", source=str(output)) from None
    return os.fdopen(fd, "wb")


def write_output(output: Path, data: bytes) -> None:
    """Write `data` to `output` (or standard output for `-`) with the checks above."""
    write_pieces(output, (data,))


def write_pieces(output: Path, pieces: Iterable[bytes]) -> None:
    """`write_output` of a text made piece by piece (a big JSON document is written as its
    findings are made, never held whole). A failure while the pieces are made leaves no
    half-written file behind: the file is removed and the error goes on."""
    if is_stdio(output):
        sys.stdout.flush()
        for piece in pieces:
            sys.stdout.buffer.write(piece)
        sys.stdout.buffer.flush()
        return
    with open_output(output) as handle:
        try:
            for piece in pieces:
                handle.write(piece)
        except BaseException:
            output.unlink(missing_ok=True)
            raise
