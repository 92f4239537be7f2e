"""Readers: each input format becomes `Exchange` records; raw secrets stop here.

`read_input` sniffs the format from the bytes, not the file name: exporters name files
freely (`.har`, `.json`, `.zhar`, `.mitm`, `.flows`, `.jsonl`).
"""

from __future__ import annotations

import codecs
import math
import mmap
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from qbtrace.errors import InputError
from qbtrace.inflate import Damaged, TooLarge, inflate_chunks, size_text
from qbtrace.model import Input
from qbtrace.profile import Profile
from qbtrace.redact import Redactor

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
CAPTURE_MARK = b'"qbtrace_capture"'
CHUNK = 4 << 20
DEFAULT_MAX_INPUT_MB = 4096.0


def read_input(path: Path, source: str, profile: Profile, redactor: Redactor) -> Input:
    """Read one input file of any supported format; InputError when it cannot be read at all."""
    return _note_nonsense(_read(path, source, profile, redactor))


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


def _read(path: Path, source: str, profile: Profile, redactor: Redactor) -> Input:
    kind, data = sniff(path, source)
    if kind == "capture":
        from qbtrace.sources.capture import read_capture

        return read_capture(bytes(data), source, profile, redactor)
    if kind == "har":
        from qbtrace.sources.har import read_har

        return read_har(data, source, profile, redactor)
    from qbtrace.sources.mitm import read_mitm

    return read_mitm(path, source, profile, redactor)


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
        inflated = _inflate_zlib(data, source)
        if inflated is not None:
            if not bytes(inflated[:64]).lstrip()[:1] == b"{":
                raise InputError("compressed data is not a HAR", source=source)
            return "har", inflated
    raise InputError("not a HAR, mitmproxy flow file or qbtrace capture", source=source)


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
                return memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
            except (ValueError, OSError):
                pass  # empty files, pipes and devices cannot be mapped
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
            raise InputError(_too_large(what, exc), source=source) from None
        spill.flush()
        if spill.tell() == 0:
            return b""
        return memoryview(mmap.mmap(spill.fileno(), 0, access=mmap.ACCESS_READ))


def _too_large(what: str, exc: TooLarge) -> str:
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
