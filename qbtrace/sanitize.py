"""`qbtrace sanitize`: a HAR with every secret replaced by a keyed stand-in.

The input is anything `qbtrace analyze` reads: a HAR is sanitized as it is (a damaged one as
far as it can be read); a mitmproxy flow file or a qbtrace capture is first converted to a
HAR (`qbtrace.export`). Secrets are found by value (`qbtrace.scrub`): everything the capture
shows in a secret's role is collected, then every occurrence of it, in any spelling, is
replaced wherever it stands. OAuth values get same-shape stand-ins, so the copy analyzes to
the same causes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from qbtrace.outfile import write_output
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.scrub import walk
from qbtrace.scrub.collect import Collector
from qbtrace.scrub.standin import StandIns
from qbtrace.sources import to_har


@dataclass
class Summary:
    """What a sanitize run did, for the CLI to print."""

    replaced: dict[str, int] = field(default_factory=dict)
    """Occurrences replaced, per kind of secret (`refresh_token`, `cookie`, `jwt`...)."""
    dropped: dict[str, int] = field(default_factory=dict)
    """What `--strict` dropped: `exchanges`, `bodies`, `query values`, `websocket messages`."""
    entries: int = 0
    """Entries written."""


def sanitize_har(har: Any, redactor: Redactor, strict: Profile | None = None) -> Summary:
    """Sanitize a HAR document in place. With `strict`, entries that profile does not
    analyse first lose their bodies and query values."""
    collector = Collector(StandIns(redactor))
    walk.collect(har, collector)  # before dropping: copies elsewhere of what is dropped go too
    dropped = walk.drop_unanalysed(har, strict) if strict is not None else Counter()
    replacer = collector.replacer()
    walk.replace(har, replacer)
    return Summary(
        dict(sorted(replacer.counts.items())),
        dict(dropped),
        len(har["log"]["entries"]),
    )


def load_har(src: Path, warnings: list[str]) -> Any:
    """Any input `qbtrace analyze` reads, as a HAR document with its raw values: the reader
    that recognises it converts it (`Reader.to_har`); a damaged HAR gives the entries that
    still parse, with a warning, and errors read as `analyze`'s do."""
    return to_har(src, src.name, warnings)


def sanitize_file(
    src: Path,
    dst: Path,
    redactor: Redactor,
    warnings: list[str] | None = None,
    strict: Profile | None = None,
) -> Summary:
    """Write a sanitized HAR of `src` (a HAR, flow file or capture) to `dst`; an application
    log is copied as a log instead (`sanitize_log`).

    What could not be read or converted is appended to `warnings`.
    """
    from qbtrace.sanitize_log import is_log, sanitize_log_file

    if is_log(src):
        return sanitize_log_file(src, dst, redactor)
    har = load_har(src, [] if warnings is None else warnings)
    summary = sanitize_har(har, redactor, strict)
    write_output(dst, _encoded(har))  # never through a link planted since the CLI checked
    return summary


def _encoded(har: Any) -> bytes:
    """The HAR as indented JSON, by msgspec (fast) unless a string holds a lone surrogate
    (a `\\udXXX` escape in the input), which then stays that escape, not invalid UTF-8."""
    try:
        return msgspec.json.format(msgspec.json.encode(har), indent=1) + b"\n"
    except UnicodeEncodeError:
        text = json.dumps(har, indent=1, ensure_ascii=False) + "\n"
        return text.encode("utf-8", "backslashreplace")
