"""`qbtrace sanitize app.log`: the log with every secret replaced by its keyed stand-in.

The log is copied line for line through the same value-replacement core as a HAR
(`qbtrace.scrub`): a first pass collects every secret the text shows (secret-named fields in
any syntax: JSON, JSON escaped in a string, Node's `util.inspect`, form bodies and URLs;
`Basic` and `Bearer` credentials, the client id kept; cookies; JWTs), a second replaces every
spelling of each in one Aho-Corasick pass. Equal values stay equal, so the copy analyzes the
same. Both passes stream the file in windows: memory stays bounded by the secrets, not the
file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from qbtrace.outfile import open_output
from qbtrace.redact import Redactor
from qbtrace.sanitize import Summary
from qbtrace.scrub.collect import Collector
from qbtrace.scrub.standin import StandIns
from qbtrace.sources import load

WINDOW = 8 << 20
CREDENTIAL = re.compile(r"\b(?:Basic|Bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
COOKIE = re.compile(r"(?i)\b((?:set-)?cookie)[\"']?\s*[:=]\s*[\"']?([^\"'\n]+)")


def is_log(path: Path) -> bool:
    from qbtrace.sources import recognise
    from qbtrace.sources.log import READER

    return recognise(load(path, path.name)) is READER


def sanitize_log_file(src: Path, dst: Path, redactor: Redactor) -> Summary:
    """Write the sanitized copy of the log `src` to `dst`."""
    data = load(src, src.name).data
    collector = Collector(StandIns(redactor))
    for text in _texts(data):
        collect(text, collector)
    replacer = collector.replacer()
    lines = 0
    with open_output(dst) as out:  # never through a link planted since the CLI checked
        for text in _texts(data):
            lines += text.count("\n")
            # surrogateescape: bytes that are not UTF-8 are written back exactly as they were
            out.write(replacer.text(text).encode("utf-8", "surrogateescape"))
    return Summary(dict(sorted(replacer.counts.items())), {}, lines)


def collect(text: str, collector: Collector) -> None:
    """Every secret of a stretch of log text: its fields and JWTs, credentials, cookies."""
    collector.text(text)
    for credential in CREDENTIAL.finditer(text):
        collector.credential(credential.group(0))
    for cookie in COOKIE.finditer(text):
        collector.header(cookie.group(1), cookie.group(2))


def _texts(data: memoryview | bytes) -> Iterator[str]:
    """The data in pieces that end at a newline (a secret never spans two), decoded."""
    start, total = 0, len(data)
    while start < total:
        end = min(start + WINDOW, total)
        chunk = bytes(data[start:end])
        if end < total:
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                chunk = chunk[: cut + 1]
        start += len(chunk)
        yield chunk.decode("utf-8", "surrogateescape")
