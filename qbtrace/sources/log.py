"""The application-log reader of the registry (`qbtrace/sources/logs/` does the reading).

`recognise` takes a head whose lines are log lines (a timestamp prefix, a JSON log record or
export, or a token-request line of a known SDK); `read` reads a loaded log. `stream` is the
fast path `read_input` tries first: a regular file (plain, or gzip inflated on the way) that
starts like a log is read in windows, never mapped and never inflated whole. A log has no
HAR form: `qbtrace sanitize` copies it as a log (`qbtrace.sanitize_log`).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import tzinfo
from pathlib import Path
from typing import Any

from qbtrace.errors import InputError
from qbtrace.inflate import TooLarge
from qbtrace.model import Input, InputKind
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources import (
    CHUNK,
    HEAD,
    STDIN,
    UTF8_BOM,
    UTF16_BOMS,
    Har,
    Loaded,
    Reader,
    max_input,
    readers,
    too_large,
)

INFLATE: Any = zlib
try:  # ISA-L's inflate reads the same streams about twice as fast as zlib's (200 MB log:
    # 0.42 vs 0.78 s of CPU), which gives the gzip path its margin over 100 MB/s
    from isal import isal_zlib

    INFLATE = isal_zlib
except ImportError:  # pragma: no cover - the dependency is declared; zlib anyway
    pass
INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, INFLATE.error)


def _inflater() -> Any:
    return INFLATE.decompressobj(wbits=31)


SNIFF = 65536
"""Bytes of a file's start that decide whether it is a log."""


HAR_HEAD = re.compile(rb'"log"\s*:\s*\{')
FLOW_HEAD = re.compile(rb"\s*\d{1,10}:")
"""A mitmproxy flow file starts with a tnetstring length; a log line with a date does not."""


def _recognise(head: bytes) -> bool:
    if HAR_HEAD.search(head) or FLOW_HEAD.match(head):
        return False  # a HAR or a flow file, told without importing the log reader
    from qbtrace.sources.logs import looks_like_log

    return looks_like_log(head)


def _read(loaded: Loaded, profile: Profile, redactor: Redactor) -> Input:
    from qbtrace.sources.logs import read_log

    return read_log(loaded.data, loaded.source, profile, redactor, loaded.log_tz)


def _to_har(loaded: Loaded, warnings: list[str]) -> Har:
    raise InputError(
        "an application log has no HAR form; `qbtrace sanitize` copies it as a log",
        source=loaded.source,
    )


READER = Reader(InputKind.LOG, "an application log", _recognise, _read, _to_har)


def read_streamed(
    path: Path, source: str, profile: Profile, redactor: Redactor, zone: tzinfo | None = None
) -> Input | None:
    """A regular file that starts like an application log: a plain one scanned on its
    mapping (a big one in two halves at once, `logs.halves`), else read as a stream; None
    when it is not one (then `load` and the registry decide, and say what is wrong)."""
    with stream(path, source) as pieces:
        if pieces is None:
            return None
        from qbtrace.sources.logs import read_log_pieces
        from qbtrace.sources.logs.halves import Shrunk, read_split

        try:
            got = read_split(path, source, profile, redactor, zone)
        except Shrunk as shrunk:
            return _read_again(path, source, profile, redactor, zone, str(shrunk))
        if got is not None:
            return got
        return read_log_pieces(pieces, source, profile, redactor, zone)


def _read_again(
    path: Path,
    source: str,
    profile: Profile,
    redactor: Redactor,
    zone: tzinfo | None,
    why: str,
) -> Input:
    """The log as a stream from its start, as it is now, with `why` among its warnings."""
    from qbtrace.sources.logs import read_log_pieces
    from qbtrace.sources.logs.driver import file_pieces

    try:
        with path.open("rb") as handle:
            got = read_log_pieces(file_pieces(handle), source, profile, redactor, zone)
    except OSError as exc:
        again = f"{why}, and it cannot be read again ({exc.strerror})"
        raise InputError(again, source=source) from None
    return replace(got, warnings=(*got.warnings, why))


@contextlib.contextmanager
def stream(path: Path, source: str) -> Iterator[Iterator[bytes] | None]:
    """The pieces of a regular file (gzip inflated on the way) when it starts like an
    application log, else None (then `load` and the registry decide, and say what is wrong)."""
    if str(path) == STDIN or not path.is_file():
        yield None
        return
    try:
        handle = path.open("rb")
    except OSError:
        yield None
        return
    with handle:
        try:
            raw = handle.read(SNIFF)
        except OSError:
            yield None  # `load` reads it again and names the problem
            return
        zipped = raw[:2] == b"\x1f\x8b"
        blocks = _inflate(itertools.chain([raw], _blocks(handle, source)), source)
        head = b"".join(_take(blocks, SNIFF)) if zipped else raw
        if not _is_log(head):
            yield None
            return
        from qbtrace.sources.logs.driver import file_pieces, newline_pieces

        if zipped:
            from qbtrace.sources.logs.unzip import inflated_elsewhere

            yield newline_pieces(inflated_elsewhere(blocks, source), head)
        else:
            yield file_pieces(_Reading(handle, source), head)


def _is_log(head: bytes) -> bool:
    """What the registry would take the file for, decided on its first bytes."""
    if head[:3] == UTF8_BOM or head[:2] in UTF16_BOMS or not head.strip():
        return False  # `load` decodes those first, or says the file is empty
    first = next((r for r in readers() if r.recognise(head[:HEAD])), None)
    return first is READER and _recognise(head)


class _Reading:
    """A file whose read errors name it (an InputError: one line on stderr)."""

    def __init__(self, handle: io.BufferedReader, source: str) -> None:
        self.handle, self.source = handle, source

    def read(self, size: int) -> bytes:
        try:
            return self.handle.read(size)
        except OSError as exc:
            raise InputError(f"cannot read ({exc.strerror or exc})", source=self.source) from None


def _blocks(handle: io.BufferedReader, source: str) -> Iterator[bytes]:
    return iter(lambda: _Reading(handle, source).read(CHUNK), b"")


def _take(blocks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Blocks until `size` bytes were given."""
    got = 0
    while got < size:
        block = next(blocks, b"")
        if not block:
            return
        got += len(block)
        yield block


def _inflate(blocks: Iterator[bytes], source: str) -> Iterator[bytes]:
    """gzip members inflated as they are read, CHUNK bytes of output at a time, up to
    `max_input()` bytes (a bomb read as a stream would otherwise run for ever)."""
    left = max_input()
    for out in _members(blocks, source):
        left -= len(out)
        if left < 0:
            raise InputError(too_large("the gzip data", TooLarge(max_input())), source=source)
        yield out


def _members(blocks: Iterator[bytes], source: str) -> Iterator[bytes]:
    unzip = _inflater()
    try:
        for block in blocks:
            while block:
                yield unzip.decompress(block, CHUNK)
                while unzip.unconsumed_tail and not unzip.eof:
                    yield unzip.decompress(unzip.unconsumed_tail, CHUNK)
                block = b""
                if unzip.eof:
                    rest = unzip.unused_data
                    if rest[:2] != b"\x1f\x8b":
                        return  # trailing bytes after the last member are ignored
                    unzip = _inflater()
                    block = rest
    except INFLATE_ERRORS as exc:
        raise InputError(f"damaged gzip data ({exc})", source=source) from None
    if not unzip.eof:
        raise InputError("damaged gzip data (the compressed data ends early)", source=source)
