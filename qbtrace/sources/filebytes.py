"""A file's bytes for a reader: read into memory when small, mapped when big.

A mapped file that shrinks under its reader (an exporter rewriting the HAR in place, a flow
file truncated while mitmdump writes it) kills the process with SIGBUS on the first page
past the new end, with no message. Nearly every HAR and flow file is a few megabytes, read
whole in milliseconds: those are read, and a cut then only shortens what was read (the
readers say it is cut short). Only files of READ_BELOW and more are mapped, where reading
them would cost a second a gigabyte (the 1 GB HAR at the parse limit, issue 14).
"""

from __future__ import annotations

import mmap
import os
import stat
from typing import BinaryIO

READ_BELOW = 64 << 20


def file_bytes(handle: BinaryIO) -> bytes | mmap.mmap:
    """The regular file's bytes (read when under READ_BELOW, else mapped read-only). Raises
    ValueError or OSError where a file cannot be mapped (empty, a pipe, a device)."""
    info = os.fstat(handle.fileno())
    if stat.S_ISREG(info.st_mode) and 0 < info.st_size < READ_BELOW:
        data = handle.read(READ_BELOW)
        if len(data) < READ_BELOW:
            return data
        handle.seek(0)  # it grew past the limit since: mapped after all
    return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
