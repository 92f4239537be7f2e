"""Readers: each input format becomes `Exchange` records; raw secrets stop here.

`read_input` sniffs the format from the bytes, not the file name: exporters name files
freely (`.har`, `.json`, `.zhar`, `.mitm`, `.flows`, `.jsonl`).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import mmap
import re
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from datetime import tzinfo
from pathlib import Path
from typing import BinaryIO

from qbtrace.errors import InputError
from qbtrace.model import Input
from qbtrace.profile import Profile
from qbtrace.redact import Redactor

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
CAPTURE_MARK = b'"qbtrace_capture"'
CHUNK = 4 << 20
FLOW_HEAD = re.compile(rb"\d{1,10}:")
"""A mitmproxy flow file starts with a tnetstring length; a log line with a date does not."""
STDIN = "-"


def read_input(
    path: Path, source: str, profile: Profile, redactor: Redactor, log_tz: tzinfo | None = None
) -> Input:
    """Read one input file of any supported format; InputError when it cannot be read at all.

    `log_tz` is the zone of an application log's timestamps that carry none (UTC if None).
    An application log in a regular file, plain or gzip, is read as a stream: never mapped,
    never inflated whole.
    """
    with _log_stream(path, source) as pieces:
        if pieces is not None:
            from qbtrace.sources.logs import read_log_pieces

            return read_log_pieces(pieces, source, profile, redactor, log_tz)
    kind, data = sniff(path, source)
    if kind == "log":
        from qbtrace.sources.logs import read_log

        return read_log(data, source, profile, redactor, log_tz)
    if kind == "capture":
        from qbtrace.sources.capture import read_capture

        return read_capture(bytes(data), source, profile, redactor)
    if kind == "har":
        from qbtrace.sources.har import read_har

        return read_har(data, source, profile, redactor)
    from qbtrace.sources.mitm import read_mitm

    return read_mitm(path, source, profile, redactor)


def sniff(path: Path, source: str) -> tuple[str, memoryview | bytes]:
    """The format of an input file (`har`, `capture`, `mitm` or `log`) and its bytes, decompressed
    and decoded to UTF-8 without a BOM (a flow file's bytes as they are); InputError when the
    file cannot be read or is none of them."""
    data = _load(path, source)
    if len(data) <= 65536 and not bytes(data).strip():
        raise InputError("the file is empty", source=source)
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, source)
    if data[:3] == UTF8_BOM:
        data = data[3:]
    elif data[:2] in UTF16_BOMS:
        data = _utf16(data, source)
    first = bytes(data[:64]).lstrip()[:1]
    if not first and not bytes(data[:65536]).strip():
        raise InputError("the file is empty once decompressed or decoded", source=source)
    if first == b"{":
        head = bytes(data[:4096])
        if CAPTURE_MARK in head.split(b"\n", 1)[0]:
            return "capture", data
        return ("log" if _is_log(data) else "har"), data
    if first.isdigit():  # a flow file's tnetstring length, or a log line's date
        log = not FLOW_HEAD.match(bytes(data[:64]).lstrip()) and _is_log(data)
        return ("log" if log else "mitm"), data
    if _is_log(data):
        return "log", data
    if data[:1] == b"x":
        try:
            inflated = zlib.decompress(bytes(data))
        except zlib.error:
            pass
        else:
            if not inflated.lstrip()[:1] == b"{":
                raise InputError("compressed data is not a HAR", source=source)
            return "har", inflated
    raise InputError(
        "not a HAR, mitmproxy flow file, qbtrace capture or application log", source=source
    )


@contextlib.contextmanager
def _log_stream(path: Path, source: str) -> Iterator[Iterator[bytes] | None]:
    """The pieces of a regular file (gzip inflated on the way) when it starts like an
    application log, else None (then `sniff` decides, and says what is wrong)."""
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
            raw = handle.read(65536)
        except OSError:
            yield None  # `sniff` reads it again and names the problem
            return
        from qbtrace.sources.logs.driver import file_pieces, newline_pieces

        if raw[:2] == b"\x1f\x8b":
            blocks = _inflate(itertools.chain([raw], _read_blocks(handle, source)), source)
            head = b"".join(_take(blocks, 65536, b""))
            pieces = newline_pieces(blocks, head)
        else:
            head = raw
            pieces = file_pieces(_Reading(handle, source), head)
        yield pieces if _starts_like_log(head) else None


class _Reading:
    """A file whose read errors name it (an InputError, one line on stderr)."""

    def __init__(self, handle: io.BufferedReader, source: str) -> None:
        self.handle, self.source = handle, source

    def read(self, size: int) -> bytes:
        try:
            return self.handle.read(size)
        except OSError as exc:
            raise InputError(f"cannot read ({exc.strerror or exc})", source=self.source) from None


def _read_blocks(handle: BinaryIO, source: str) -> Iterator[bytes]:
    try:
        yield from iter(lambda: handle.read(CHUNK), b"")
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})", source=source) from None


def _take(blocks: Iterator[bytes], size: int, head: bytes) -> Iterator[bytes]:
    """`head`, then blocks until `size` bytes were given."""
    yield head
    got = len(head)
    while got < size:
        block = next(blocks, b"")
        if not block:
            return
        got += len(block)
        yield block


def _starts_like_log(head: bytes) -> bool:
    """What `sniff` would call a log, decided on the first bytes alone."""
    if head[:3] == UTF8_BOM or head[:2] in UTF16_BOMS:
        return False  # `sniff` decodes those first
    first = head.lstrip()[:1]
    if not first or (first == b"{" and CAPTURE_MARK in head.split(b"\n", 1)[0]):
        return False
    if first.isdigit() and FLOW_HEAD.match(head[:64].lstrip()):
        return False
    return _is_log(head)


def _inflate(blocks: Iterator[bytes], source: str) -> Iterator[bytes]:
    """gzip members inflated as they are read, CHUNK bytes of output at a time."""
    unzip = zlib.decompressobj(wbits=31)
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
                    unzip = zlib.decompressobj(wbits=31)
                    block = rest
    except zlib.error as exc:
        raise InputError(f"damaged gzip data ({exc})", source=source) from None
    if not unzip.eof:
        raise InputError("damaged gzip data (the compressed data ends early)", source=source)


def _is_log(data: memoryview | bytes) -> bool:
    from qbtrace.sources.logs import looks_like_log

    return looks_like_log(bytes(data[:65536]))


def _load(path: Path, source: str) -> memoryview | bytes:
    if str(path) == STDIN:
        return _spill(iter(lambda: sys.stdin.buffer.read(CHUNK), b""))
    if path.is_dir():
        raise InputError("is a directory, not a file", source=source)
    try:
        with path.open("rb") as handle:
            try:
                return memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
            except (ValueError, OSError):
                pass  # empty files and pipes cannot be mapped
            return _spill(iter(lambda: handle.read(CHUNK), b""))
    except FileNotFoundError:
        raise InputError("no such file", source=source) from None
    except PermissionError:
        raise InputError("permission denied", source=source) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})", source=source) from None


def _spill(chunks: Iterable[bytes]) -> memoryview | bytes:
    """Stream chunks (a pipe, inflated gzip) into an unlinked temporary file and map it, so
    the reader sees one buffer while the heap holds one chunk at a time."""
    with tempfile.TemporaryFile() as spill:
        for chunk in chunks:
            spill.write(chunk)
        spill.flush()
        if spill.tell() == 0:
            return b""
        return memoryview(mmap.mmap(spill.fileno(), 0, access=mmap.ACCESS_READ))


def _gunzip(data: memoryview | bytes, source: str) -> memoryview | bytes:
    view = memoryview(data)
    problem: list[str] = []

    def inflate() -> Iterator[bytes]:
        pos, end = 0, len(view)
        while pos < end:
            unzip = zlib.decompressobj(wbits=31)
            while not unzip.eof and pos < end:
                chunk = view[pos : pos + CHUNK]
                pos += len(chunk)
                yield unzip.decompress(chunk, CHUNK)  # bounded output: no zip bomb in memory
                while unzip.unconsumed_tail and not unzip.eof:
                    yield unzip.decompress(unzip.unconsumed_tail, CHUNK)
            if not unzip.eof:
                problem.append("the compressed data ends early")
                return
            pos -= len(unzip.unused_data)
            if bytes(view[pos : pos + 2]) != b"\x1f\x8b":
                return  # trailing bytes after the last gzip member are ignored

    try:
        out = _spill(inflate())
    except zlib.error as exc:
        raise InputError(f"damaged gzip data ({exc})", source=source) from None
    if problem:
        raise InputError(f"damaged gzip data ({problem[0]})", source=source)
    return out


def _utf16(data: memoryview | bytes, source: str) -> bytes:
    try:
        return bytes(data).decode("utf-16").encode("utf-8")
    except UnicodeDecodeError:
        raise InputError("UTF-16 text that does not decode", source=source) from None
