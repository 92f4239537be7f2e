"""Bounded decompression: compressed bytes become their content a chunk at a time, never past
a cap, so a compression bomb (1 KB of gzip that inflates to gigabytes) costs a clear error,
not the machine's memory or disk.

Every reader of compressed data calls this: input files (gzip, zlib), the proxy addon and the
flow-file reader (a token answer's `Content-Encoding`). Nothing here imports beyond the
standard library and the codecs mitmproxy already brings (brotli, zstandard), lazily.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

CHUNK = 4 << 20
"""Input consumed and output produced per step (zlib and zstd)."""
BROTLI_STEP = 16
"""brotli 1.1 (pinned by mitmproxy) cannot limit its output: feed it a few bytes at a time,
so one step can produce at most a couple of its 16 MB meta-blocks before the cap is seen."""
ZSTD_STEP = 64
ENCODINGS = ("gzip", "x-gzip", "zlib", "deflate", "br", "zstd", "identity")


class TooLarge(ValueError):
    """The content is larger than the cap once decompressed."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"more than {size_text(cap)} once decompressed")
        self.cap = cap


class Damaged(ValueError):
    """The compressed data is not valid (or ends early)."""


def inflate(data: bytes | memoryview, encoding: str, cap: int) -> bytes:
    """The whole content; TooLarge past `cap` bytes, Damaged when it does not decompress."""
    return b"".join(inflate_chunks(data, encoding, cap))


def inflate_chunks(data: bytes | memoryview, encoding: str, cap: int) -> Iterator[bytes]:
    """The content a chunk at a time (each at most CHUNK bytes, except brotli's); TooLarge
    once more than `cap` bytes came out, Damaged when the data is not valid."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        chunks: Iterator[bytes] = iter([bytes(data)])
    elif name in ("gzip", "x-gzip"):
        chunks = _zlib(memoryview(data), wbits=31, members=True)
    elif name == "zlib":
        chunks = _zlib(memoryview(data), wbits=15, members=False)
    elif name == "deflate":  # RFC 9110 says zlib; some servers send raw deflate
        raw = bytes(data[:1]) != b"x"
        chunks = _zlib(memoryview(data), wbits=-15 if raw else 15, members=False)
    elif name == "zstd":
        chunks = _zstd(memoryview(data))
    elif name == "br":
        chunks = _brotli(memoryview(data))
    else:
        raise Damaged(f"unknown content encoding {encoding[:40]!r}")
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > cap:
            raise TooLarge(cap)
        if chunk:
            yield chunk


def _zlib(view: memoryview, wbits: int, members: bool) -> Iterator[bytes]:
    pos, end = 0, len(view)
    while True:
        unzip = zlib.decompressobj(wbits=wbits)
        try:
            while not unzip.eof and pos < end:
                piece = view[pos : pos + CHUNK]
                pos += len(piece)
                yield unzip.decompress(piece, CHUNK)
                while unzip.unconsumed_tail and not unzip.eof:
                    yield unzip.decompress(unzip.unconsumed_tail, CHUNK)
        except zlib.error as exc:
            raise Damaged(f"damaged compressed data ({exc})") from None
        if not unzip.eof:
            raise Damaged("the compressed data ends early")
        pos -= len(unzip.unused_data)
        # gzip files may hold several members (`cat a.gz b.gz`); bytes after the last are ignored
        if not members or bytes(view[pos : pos + 2]) != b"\x1f\x8b":
            return


def _zstd(view: memoryview) -> Iterator[bytes]:
    """Fed a few bytes at a time: a zstd block holds at most 128 KB, so one step yields a
    few blocks at most; frames follow one another like gzip members."""
    import zstandard

    pos, end = 0, len(view)
    try:
        while pos < end:
            unz = zstandard.ZstdDecompressor().decompressobj()
            while not unz.eof and pos < end:
                yield unz.decompress(bytes(view[pos : pos + ZSTD_STEP]))
                pos += ZSTD_STEP
            if not unz.eof:
                raise Damaged("the compressed data ends early")
            pos -= len(unz.unused_data)
    except zstandard.ZstdError as exc:
        raise Damaged(f"damaged zstd data ({exc})") from None


def _brotli(view: memoryview) -> Iterator[bytes]:
    import brotli

    unbr = brotli.Decompressor()
    try:
        for pos in range(0, len(view), BROTLI_STEP):
            yield unbr.process(bytes(view[pos : pos + BROTLI_STEP]))
    except brotli.error as exc:
        raise Damaged(f"damaged brotli data ({exc})") from None
    if not unbr.is_finished():
        raise Damaged("the compressed data ends early")


def size_text(n: int) -> str:
    """`4 GB`, `100 MB`, `512 bytes`."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"
