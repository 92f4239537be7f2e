"""A gzip log inflated in a forked child while this process scans what it has inflated.

Inflating is about half of the CPU of a gzip log's analysis (ISA-L: 2.1 s a GB here; zlib
3.9 s); the scan after it is the other half. So the child runs the inflating generator
(the file read, the bomb cap, the damaged-data checks of `sources.log`) and sends each block
through a pipe; this process scans them as they come, the two cores each doing one half.
A block is a frame: a tag (`D` data, `E` an input error, `Z` the end) and a length. An
`InputError` in the child is raised here, the same words; when fork cannot be used (threads
running, no fork), the blocks are inflated here, one after another.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import struct
import threading
from collections.abc import Iterator

from qbtrace.errors import InputError

HEADER = struct.Struct("<cQ")
PIPE_SIZE = 1 << 20
"""Bytes the kernel buffers between the two processes (Linux's default is 64 KB)."""


def inflated_elsewhere(blocks: Iterator[bytes], source: str) -> Iterator[bytes | bytearray]:
    """The blocks of `blocks`, produced by a forked child (or here when it cannot fork)."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        yield from blocks  # forking a process with threads can leave their locks held
        return
    fd, out = os.pipe()
    with contextlib.suppress(OSError, AttributeError):  # a bigger pipe: fewer switches
        fcntl.fcntl(out, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    try:
        pid = os.fork()
    except OSError:
        os.close(fd)
        os.close(out)
        yield from blocks
        return
    if pid == 0:
        os.close(fd)
        _serve(blocks, out)
    os.close(out)
    pipe = io.FileIO(fd, "rb")
    try:
        yield from _frames(pipe, source)
    finally:
        pipe.close()  # a child still writing gets EPIPE and exits
        os.waitpid(pid, 0)


def _frames(pipe: io.FileIO, source: str) -> Iterator[bytes | bytearray]:
    while True:
        header = _exactly(pipe, HEADER.size)
        if len(header) < HEADER.size:
            raise InputError("the process inflating the gzip data stopped", source=source)
        tag, size = HEADER.unpack(header)
        body = _exactly(pipe, size)
        if len(body) < size:
            raise InputError("the process inflating the gzip data stopped", source=source)
        if tag == b"Z":
            return
        if tag == b"E":
            raise InputError(body.decode("utf-8", "replace"), source=source)
        yield body


def _exactly(pipe: io.FileIO, size: int) -> bytearray:
    """`size` bytes from the pipe (fewer at its end), read into one buffer (not copied
    again: `newline_pieces` joins the blocks into its pieces)."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = pipe.readinto(view[got:])
        if not n:
            break
        got += n
    view.release()
    return buffer if got == size else buffer[:got]


def _serve(blocks: Iterator[bytes], out: int) -> None:
    """The child's whole life: send every block, then the end (or the input's error), and
    exit without running the parent's exit handlers or flushing its buffers."""
    try:
        with os.fdopen(out, "wb") as pipe:
            try:
                for block in blocks:
                    pipe.write(HEADER.pack(b"D", len(block)))
                    pipe.write(block)
            except InputError as exc:
                text = str(exc)
                prefix = f"{exc.source}: " if exc.source else ""
                said = text[len(prefix) :] if text.startswith(prefix) else text
                message = said.encode("utf-8")
                pipe.write(HEADER.pack(b"E", len(message)) + message)
                return
            pipe.write(HEADER.pack(b"Z", 0))
    except BaseException:  # the parent finds the frames cut short and says so
        pass
    finally:
        os._exit(0)
