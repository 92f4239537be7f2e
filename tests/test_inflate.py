"""Bounded decompression with the real codecs (zlib, gzip, zstandard, brotli): content comes
out whole under the cap, a bomb stops at the cap with its memory bounded, damage is Damaged.
"""

from __future__ import annotations

import gzip
import os
import tracemalloc
import zlib

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from qbtrace.inflate import CHUNK, Damaged, TooLarge, inflate, inflate_chunks, size_text

CONTENT = b'{"error":"invalid_grant","error_description":"Token invalid"}' * 50


def deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-15)
    return packer.compress(data) + packer.flush()


FAST = {  # bombs are made quickly: the lowest level of each codec still packs zeros tightly
    "gzip": lambda data: gzip.compress(data, 1),
    "zlib": lambda data: zlib.compress(data, 1),
    "zstd": zstandard.ZstdCompressor(level=1).compress,
    "br": lambda data: brotli.compress(data, quality=1),
}
ENCODERS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "zlib": zlib.compress,
    "deflate": zlib.compress,
    "zstd": zstandard.ZstdCompressor().compress,
    "br": brotli.compress,
    "identity": bytes,
}


@pytest.mark.parametrize("encoding", list(ENCODERS))
def test_content_comes_out_whole(encoding: str) -> None:
    assert inflate(ENCODERS[encoding](CONTENT), encoding, 1 << 20) == CONTENT


def test_raw_deflate_and_concatenated_gzip_members() -> None:
    assert inflate(deflate_raw(CONTENT), "deflate", 1 << 20) == CONTENT
    both = gzip.compress(b"first ") + gzip.compress(b"second") + b"\x00\x00"
    assert inflate(both, "gzip", 100) == b"first second"


@pytest.mark.parametrize("encoding", ["gzip", "zlib", "zstd", "br"])
def test_a_bomb_stops_at_the_cap_with_bounded_memory(encoding: str) -> None:
    bomb = FAST[encoding](bytes(64 << 20))  # 64 MB of zeros, at most a few hundred KB packed
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge, match="more than 4 MB once decompressed"):
            inflate(bomb, encoding, 4 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * CHUNK  # the cap plus a chunk or two, never the 64 MB


def test_chunks_are_bounded_for_streaming_readers() -> None:
    sizes = [len(c) for c in inflate_chunks(gzip.compress(bytes(3 * CHUNK)), "gzip", 1 << 30)]
    assert sum(sizes) == 3 * CHUNK and max(sizes) <= CHUNK


@pytest.mark.parametrize("encoding", ["gzip", "zlib", "deflate", "zstd", "br"])
def test_damaged_and_cut_short_data_is_damaged(encoding: str) -> None:
    packed = ENCODERS[encoding](os.urandom(4096))
    with pytest.raises(Damaged):
        inflate(packed[: len(packed) // 2], encoding, 1 << 20)
    with pytest.raises(Damaged):
        inflate(b"\x00garbage that is no compressed stream" * 3, encoding, 1 << 20)


def test_unknown_encoding_is_damaged() -> None:
    with pytest.raises(Damaged, match="unknown content encoding 'compress'"):
        inflate(b"x", "compress", 10)


def test_sizes_read_well() -> None:
    assert [size_text(n) for n in (512, 2048, 8 << 20, 4 << 30)] == [
        "512 bytes",
        "2 KB",
        "8 MB",
        "4 GB",
    ]


@settings(max_examples=60, deadline=None)
@given(
    content=st.binary(max_size=20_000),
    encoding=st.sampled_from(["gzip", "zlib", "zstd", "br"]),
    cap=st.integers(0, 30_000),
)
def test_under_the_cap_whole_over_it_too_large(content: bytes, encoding: str, cap: int) -> None:
    packed = ENCODERS[encoding](content)
    if len(content) <= cap:
        assert inflate(packed, encoding, cap) == content
    else:
        with pytest.raises(TooLarge):
            inflate(packed, encoding, cap)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=2000), encoding=st.sampled_from(list(ENCODERS)))
def test_any_bytes_are_content_damaged_or_too_large(data: bytes, encoding: str) -> None:
    try:
        out = inflate(data, encoding, 1 << 16)
    except (Damaged, TooLarge):
        return
    assert len(out) <= 1 << 16
