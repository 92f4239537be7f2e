"""Readers: each input format becomes `Exchange` records; raw secrets stop here.

`read_input` sniffs the format from the bytes, not the file name: exporters name files
freely (`.har`, `.json`, `.zhar`, `.mitm`, `.flows`, `.jsonl`).
"""

from __future__ import annotations

import contextlib
import mmap
import shutil
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from qbtrace.errors import InputError
from qbtrace.model import Input, Kind
from qbtrace.profile import Profile
from qbtrace.redact import Redactor

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
CAPTURE_MARK = b'"qbtrace_capture"'
CHUNK = 4 << 20


def read_input(path: Path, source: str, profile: Profile, redactor: Redactor) -> Input:
    """Read one input file of any supported format; InputError when it cannot be read at all.
    `-` is standard input, in any of the formats (a flow file too)."""
    if str(path) == "-":
        return _read_stdin(source, profile, redactor)
    kind, data = sniff(path, source)
    got = _read(kind, data, path, source, profile, redactor)
    if kind != "capture" and not any(x.kind == Kind.TOKEN for x in got.exchanges):
        from qbtrace.sources.others import other_providers

        return replace(got, others=other_providers(data, _known_hosts(profile)))
    return got


def _known_hosts(profile: Profile) -> set[str]:
    from qbtrace.providers import host_of

    urls = [
        url
        for p in profile.providers
        for url in (p.token_endpoint, p.authorize_endpoint, p.revoke_endpoint)
        if url
    ]
    return {host_of(url).split(":")[0] for url in urls}


def _read(
    kind: str,
    data: memoryview | bytes,
    path: Path,
    source: str,
    profile: Profile,
    redactor: Redactor,
) -> Input:
    if kind == "capture":
        from qbtrace.sources.capture import read_capture

        return read_capture(bytes(data), source, profile, redactor)
    if kind == "har":
        from qbtrace.sources.har import read_har

        return read_har(data, source, profile, redactor)
    from qbtrace.sources.mitm import read_mitm

    return read_mitm(path, source, profile, redactor)


@contextlib.contextmanager
def stdin_file() -> Iterator[Path]:
    """Standard input spilled to a private (0600) temporary file, removed afterwards: the
    readers map their input, and the flow-file reader opens it by name."""
    with tempfile.NamedTemporaryFile(prefix="qbtrace-stdin-") as spill:
        shutil.copyfileobj(sys.stdin.buffer, spill, CHUNK)
        spill.flush()
        yield Path(spill.name)


def _read_stdin(source: str, profile: Profile, redactor: Redactor) -> Input:
    with stdin_file() as path:
        return read_input(path, source, profile, redactor)


def sniff(path: Path, source: str) -> tuple[str, memoryview | bytes]:
    """The format of an input file (`har`, `capture` or `mitm`) and its bytes, decompressed
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
        return "har", data
    if first.isdigit():
        return "mitm", data
    if data[:1] == b"x":
        try:
            inflated = zlib.decompress(bytes(data))
        except zlib.error:
            pass
        else:
            if not inflated.lstrip()[:1] == b"{":
                raise InputError("compressed data is not a HAR", source=source)
            return "har", inflated
    raise InputError("not a HAR, mitmproxy flow file or qbtrace capture", source=source)


def _load(path: Path, source: str) -> memoryview | bytes:
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
