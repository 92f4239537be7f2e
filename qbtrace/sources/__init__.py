"""The reader registry: each input format becomes `Exchange` records; raw secrets stop here.

A reader (`Reader`) says how it recognises its input from the first bytes, how it reads it
into an `Input`, and how it converts it to a HAR for `qbtrace sanitize`. `read_input` and
`to_har` load the file once (gzip, zlib, BOM and UTF-16 undone: exporters name files freely,
`.har`, `.json`, `.zhar`, `.mitm`, `.flows`, `.jsonl`, so the bytes decide) and hand it to
the first reader of `MODULES` that recognises it.
"""

from __future__ import annotations

import codecs
import contextlib
import importlib
import math
import mmap
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from qbtrace.errors import InputError
from qbtrace.inflate import Damaged, TooLarge, inflate_chunks, size_text
from qbtrace.model import Input, InputKind, Kind
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources.filebytes import file_bytes

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
CHUNK = 4 << 20
STDIN = "-"
"""The input name that reads standard input."""
DEFAULT_MAX_INPUT_MB = 4096.0
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
    from qbtrace.sources.log import read_streamed

    streamed = read_streamed(path, source, profile, redactor, log_tz)
    if streamed is not None:
        return streamed
    loaded = replace(load(path, source), log_tz=log_tz)
    reader = recognise(loaded)
    got = reader.read(loaded, profile, redactor)
    if reader.kind != InputKind.CAPTURE and not any(x.kind == Kind.TOKEN for x in got.exchanges):
        from qbtrace.sources.others import other_providers

        got = replace(got, others=other_providers(loaded.data, _known_hosts(profile)))
    return _note_nonsense(got)


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
def stdin_file(source: str = "stdin") -> Iterator[Path]:
    """Standard input spilled to a private (0600) temporary file, removed afterwards: the
    readers map their input, and the flow-file reader opens it by name."""
    cap = max_input()
    with tempfile.NamedTemporaryFile(prefix="qbtrace-stdin-") as spill:
        while chunk := sys.stdin.buffer.read(CHUNK):
            spill.write(chunk)
            if spill.tell() > cap:  # an endless pipe must not fill the disk
                raise InputError(too_large("the input", TooLarge(cap)), source=source)
        spill.flush()
        yield Path(spill.name)


def _read_stdin(
    source: str, profile: Profile, redactor: Redactor, log_tz: tzinfo | None = None
) -> Input:
    with stdin_file(source) as path:
        return read_input(path, source, profile, redactor, log_tz)


def _note_nonsense(item: Input) -> Input:
    """One warning for the exchanges whose times or lifetimes could not be real (every reader
    drops those values in `build_exchange`, with a gap)."""
    from qbtrace.sources.build import NONSENSE_GAPS

    count = sum(1 for x in item.exchanges if any(g in NONSENSE_GAPS for g in x.gaps))
    if not count:
        return item
    note = (
        f"{count} exchanges hold times or lifetimes that cannot be real (a year before 1970 "
        "or after 2200, nan, negative or centuries-long lifetimes); those values were ignored"
    )
    return replace(item, warnings=(*item.warnings, note))


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
        inflated = _inflate_zlib(data, source)
        if inflated is not None:  # else not zlib after all: the readers decide
            if not bytes(inflated[:64]).lstrip()[:1] == b"{":
                raise InputError("compressed data is not a HAR", source=source)
            data = inflated
    return Loaded(path, source, data)


def max_input() -> int:
    """Bytes an input may hold once decompressed or read from a pipe (QBTRACE_MAX_INPUT_MB,
    4 GB by default): past it reading stops, so a compression bomb or an endless stream
    (`/dev/zero`, a pipe that never closes) cannot fill the disk with a spill file."""
    text = os.environ.get("QBTRACE_MAX_INPUT_MB", "")
    try:
        megabytes = float(text) if text else DEFAULT_MAX_INPUT_MB
    except ValueError:
        megabytes = DEFAULT_MAX_INPUT_MB
    if not math.isfinite(megabytes) or megabytes <= 0:
        megabytes = DEFAULT_MAX_INPUT_MB
    return int(min(megabytes, 1 << 40) * (1 << 20))


def _load(path: Path, source: str) -> memoryview | bytes:
    if path.is_dir():
        raise InputError("is a directory, not a file", source=source)
    try:
        with path.open("rb") as handle:
            try:
                contents = file_bytes(handle)
            except (ValueError, OSError):
                pass  # empty files, pipes and devices cannot be mapped
            else:
                return contents if isinstance(contents, bytes) else memoryview(contents)
            return _spill(iter(lambda: handle.read(CHUNK), b""), source, "the input")
    except FileNotFoundError:
        raise InputError("no such file", source=source) from None
    except PermissionError:
        raise InputError("permission denied", source=source) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})", source=source) from None


def _spill(chunks: Iterable[bytes], source: str, what: str) -> memoryview | bytes:
    """Stream chunks (a pipe, inflated gzip) into an unlinked temporary file and map it, so
    the reader sees one buffer while the heap holds one chunk at a time; InputError past
    `max_input()` bytes."""
    cap = max_input()
    with tempfile.TemporaryFile() as spill:
        try:
            for chunk in chunks:
                spill.write(chunk)
                if spill.tell() > cap:
                    raise TooLarge(cap)
        except TooLarge as exc:
            raise InputError(too_large(what, exc), source=source) from None
        spill.flush()
        if spill.tell() == 0:
            return b""
        return memoryview(mmap.mmap(spill.fileno(), 0, access=mmap.ACCESS_READ))


def too_large(what: str, exc: TooLarge) -> str:
    size = size_text(exc.cap)
    if what == "the input":
        why = f"the input is larger than {size} (an endless stream or a device?)"
    else:
        why = f"{what} is larger than {size} once decompressed (a compression bomb?)"
    return f"{why}; set QBTRACE_MAX_INPUT_MB to read more"


def _gunzip(data: memoryview | bytes, source: str) -> memoryview | bytes:
    try:
        # the spill applies the cap; inflate's own cap only stops an endless output
        return _spill(inflate_chunks(data, "gzip", 1 << 62), source, "the gzip data")
    except Damaged as exc:
        raise InputError(f"damaged gzip data ({_why(exc)})", source=source) from None


def _inflate_zlib(data: memoryview | bytes, source: str) -> memoryview | bytes | None:
    """zlib-compressed content (Charles and some exporters' `.zhar`); None when the bytes are
    not zlib at all (the header check byte says so before anything is inflated)."""
    head = bytes(data[:2])
    if len(head) < 2 or head[0] & 0x0F != 8 or (head[0] << 8 | head[1]) % 31 != 0:
        return None
    try:
        return _spill(inflate_chunks(data, "zlib", 1 << 62), source, "the zlib data")
    except Damaged:
        return None


def _why(exc: Damaged) -> str:
    text = str(exc)
    return text.removeprefix("damaged compressed data (").removesuffix(")")


def _utf16(data: memoryview | bytes, source: str) -> memoryview | bytes:
    """UTF-16 text (Fiddler and some Windows tools) re-encoded as UTF-8, streamed."""
    decoder = codecs.getincrementaldecoder("utf-16")()
    view = memoryview(data)

    def utf8() -> Iterator[bytes]:
        for pos in range(0, len(view), CHUNK):
            yield decoder.decode(view[pos : pos + CHUNK]).encode("utf-8", "surrogatepass")
        yield decoder.decode(b"", final=True).encode("utf-8", "surrogatepass")

    try:
        return _spill(utf8(), source, "the UTF-16 text")
    except UnicodeDecodeError:
        raise InputError("UTF-16 text that does not decode", source=source) from None
