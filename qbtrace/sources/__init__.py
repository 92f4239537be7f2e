"""The reader registry: each input format becomes `Exchange` records; raw secrets stop here.

A reader (`Reader`) says how it recognises its input from the first bytes, how it reads it
into an `Input`, and how it converts it to a HAR for `qbtrace sanitize`. `read_input` and
`to_har` load the file once (gzip, zlib, BOM and UTF-16 undone: exporters name files freely,
`.har`, `.json`, `.zhar`, `.mitm`, `.flows`, `.jsonl`, so the bytes decide) and hand it to
the first reader of `MODULES` that recognises it.
"""

from __future__ import annotations

import contextlib
import importlib
import mmap
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from qbtrace.errors import InputError
from qbtrace.model import Input, InputKind, Kind
from qbtrace.profile import Profile
from qbtrace.redact import Redactor

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
CHUNK = 4 << 20
STDIN = "-"
"""The input name that reads standard input."""
HEAD = 4096
"""How many leading bytes a reader's `recognise` sees."""
MODULES: tuple[str, ...] = ("capture", "log", "har", "mitm")
"""Reader modules under `qbtrace/sources/`, asked in this order: a stricter `recognise`
first (a capture is JSON too; an application log may be JSON lines or start with a date's
digits, and is recognised only by its log lines). A reader is imported only when its turn
comes, so reading a HAR never imports mitmproxy."""
Har = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Loaded:
    """One input file, loaded: what every reader starts from."""

    path: Path
    source: str
    """The name findings cite (`Ref.source`)."""
    data: memoryview | bytes
    """Decompressed, UTF-8 without a BOM; a flow file's bytes as they are."""
    log_tz: tzinfo | None = None
    """The zone of an application log's timestamps written without one (`--log-tz`)."""


@dataclass(frozen=True, slots=True)
class Reader:
    """One input format. A module `qbtrace/sources/NAME.py` defines `READER`."""

    kind: InputKind
    what: str
    """How the format is named in messages ("a HAR")."""
    recognise: Callable[[bytes], bool]
    """True when the first bytes (up to HEAD, decoded) are this format's."""
    read: Callable[[Loaded, Profile, Redactor], Input]
    """The input's exchanges the profile recognises, built by `sources.build`."""
    to_har: Callable[[Loaded, list[str]], Har]
    """Every entry as a HAR 1.2 document with its raw values, for `qbtrace sanitize`;
    what could not be converted is appended to the list as warnings."""


@cache
def _reader(module: str) -> Reader:
    reader = importlib.import_module(f"qbtrace.sources.{module}").READER
    if not isinstance(reader, Reader):
        raise RuntimeError(f"qbtrace.sources.{module} must define READER, a Reader")
    return reader


def readers() -> Iterator[Reader]:
    """The registered readers in the order they are asked (each imported when reached)."""
    return (_reader(module) for module in MODULES)


def recognise(loaded: Loaded) -> Reader:
    """The reader of a loaded input; InputError naming the formats when none takes it."""
    head = bytes(loaded.data[:HEAD])
    for reader in readers():
        if reader.recognise(head):
            return reader
    order = list(InputKind)
    names = [r.what for r in sorted(readers(), key=lambda r: order.index(r.kind))]
    listed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    raise InputError(f"not {listed}", source=loaded.source)


def read_input(
    path: Path, source: str, profile: Profile, redactor: Redactor, log_tz: tzinfo | None = None
) -> Input:
    """Read one input file of any registered format; InputError when it cannot be read.
    `-` is standard input, in any of the formats (a flow file too). An application log in a
    regular file, plain or gzip, is read as a stream (`sources.log.stream`): never mapped,
    never inflated whole; `log_tz` is the zone of its timestamps written without one."""
    if str(path) == "-":
        return _read_stdin(source, profile, redactor, log_tz)
    from qbtrace.sources.log import stream

    with stream(path, source) as pieces:
        if pieces is not None:
            from qbtrace.sources.logs import read_log_pieces

            return read_log_pieces(pieces, source, profile, redactor, log_tz)
    loaded = replace(load(path, source), log_tz=log_tz)
    reader = recognise(loaded)
    got = reader.read(loaded, profile, redactor)
    if reader.kind != InputKind.CAPTURE and not any(x.kind == Kind.TOKEN for x in got.exchanges):
        from qbtrace.sources.others import other_providers

        return replace(got, others=other_providers(loaded.data, _known_hosts(profile)))
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


@contextlib.contextmanager
def stdin_file() -> Iterator[Path]:
    """Standard input spilled to a private (0600) temporary file, removed afterwards: the
    readers map their input, and the flow-file reader opens it by name."""
    with tempfile.NamedTemporaryFile(prefix="qbtrace-stdin-") as spill:
        shutil.copyfileobj(sys.stdin.buffer, spill, CHUNK)
        spill.flush()
        yield Path(spill.name)


def _read_stdin(
    source: str, profile: Profile, redactor: Redactor, log_tz: tzinfo | None = None
) -> Input:
    with stdin_file() as path:
        return read_input(path, source, profile, redactor, log_tz)


def to_har(path: Path, source: str, warnings: list[str]) -> Har:
    """Any input `read_input` reads, as a HAR document with its raw values (for sanitize)."""
    loaded = load(path, source)
    return recognise(loaded).to_har(loaded, warnings)


def sniff(path: Path, source: str) -> tuple[InputKind, memoryview | bytes]:
    """The format of an input file and its loaded bytes (see `Loaded.data`)."""
    loaded = load(path, source)
    return recognise(loaded).kind, loaded.data


def load(path: Path, source: str) -> Loaded:
    """The file's bytes, decompressed and decoded to UTF-8 without a BOM; InputError when
    it cannot be read or is empty."""
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
    if data[:1] == b"x" and first != b"{":
        data = _inflate(data, source)
    return Loaded(path, source, data)


def _inflate(data: memoryview | bytes, source: str) -> memoryview | bytes:
    """zlib-deflated data: a HAR inside, or an error."""
    try:
        inflated = zlib.decompress(bytes(data))
    except zlib.error:
        return data  # not zlib after all: let the readers decide
    if not inflated.lstrip()[:1] == b"{":
        raise InputError("compressed data is not a HAR", source=source)
    return inflated


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
