"""qbtrace captures (JSON Lines written by `addons/qbtrace_capture.py`) → `Exchange` records.

A capture is written while a proxy runs, so its end may be cut short (SIGKILL mid-line) and
a full disk can leave a broken line in the middle: such lines are skipped with a warning.
Each proxy session appends its own header, so one file can mix sessions; redacted records
are taken as they are, raw records (`qbtrace_keep_raw`) are redacted here like any input.
`parse_capture` is the one parser: reading (`read`) and the HAR conversion for sanitize
(`qbtrace.export.capture_to_har`) both start from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qbtrace.capture import (
    CAPTURE_VERSION,
    HEADER_KEY,
    ExchangeRecord,
    Header,
    RawRecord,
    decode_line,
    key_id,
    record_exchange,
)
from qbtrace.errors import InputError
from qbtrace.model import Exchange, Input, InputKind, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources import Har, Loaded, Reader
from qbtrace.sources.build import build_exchange, sane_exchange

MAX_LISTED = 5
CAPTURE_MARK = f'"{HEADER_KEY}"'.encode()


@dataclass
class CaptureFile:
    """A capture's records by line index, its session headers, and the lines that failed."""

    records: list[tuple[int, ExchangeRecord | RawRecord]] = field(default_factory=list)
    headers: list[Header] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    lines: int = 0
    """Non-blank lines: the input's `entries`."""

    def warnings(self, redactor: Redactor | None = None) -> tuple[str, ...]:
        """The unreadable lines, and (given the analysing key) sessions tagged with another."""
        out: list[str] = []
        if self.bad:
            listed = "; ".join(self.bad[:MAX_LISTED]) + (
                "; ..." if len(self.bad) > MAX_LISTED else ""
            )
            out.append(f"{len(self.bad)} unreadable lines skipped ({listed})")
        mine = key_id(redactor) if redactor is not None else None
        foreign = sorted({h.key_id for h in self.headers if not h.raw and h.key_id != mine})
        if redactor is not None and foreign:
            out.append(
                f"the capture was tagged with another key (key_id {', '.join(foreign)}): its "
                "tags will not correlate with other inputs; set QBTRACE_TAG_KEY to the proxy "
                "machine's key to compare them"
            )
        return tuple(out)


def parse_capture(data: bytes, source: str) -> CaptureFile:
    """Every line of a capture decoded; InputError when it has no valid header first."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    parsed = CaptureFile()
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        parsed.lines += 1
        try:
            item = decode_line(line)
        except ValueError as exc:
            if not parsed.headers:
                raise InputError(f"line {index + 1}: {exc}", source=source) from None
            truncated = index == len(lines) - 1 and not data.endswith(b"\n")
            parsed.bad.append(f"line {index + 1}: {'cut short' if truncated else exc}")
            continue
        if isinstance(item, Header):
            parsed.headers.append(_checked(item, source))
        elif not parsed.headers:
            raise InputError("the first line is not a qbtrace capture header", source=source)
        else:
            parsed.records.append((index, item))
    if not parsed.headers:
        raise InputError("no qbtrace capture header", source=source)
    return parsed


def _checked(header: Header, source: str) -> Header:
    if header.qbtrace_capture != CAPTURE_VERSION:
        newer = header.qbtrace_capture > CAPTURE_VERSION
        hint = " (written by a newer qbtrace; upgrade qbtrace)" if newer else ""
        raise InputError(
            f"capture format version {header.qbtrace_capture} is not supported "
            f"(this qbtrace reads version {CAPTURE_VERSION}){hint}",
            source=source,
        )
    return header


def read_capture(data: bytes, source: str, profile: Profile, redactor: Redactor) -> Input:
    """Decode a whole capture; `index` of an exchange is its line index in the file."""
    parsed = parse_capture(data, source)
    exchanges: list[Exchange] = []
    for index, item in parsed.records:
        ref = Ref(source, index)
        if isinstance(item, RawRecord):
            exchanges.append(build_exchange(ref, item.kind, item.raw, redactor))
        else:
            exchanges.append(sane_exchange(record_exchange(item, ref)))
    return Input(
        source, InputKind.CAPTURE, parsed.lines, tuple(exchanges), parsed.warnings(redactor)
    )


def _recognise(head: bytes) -> bool:
    """A JSON object whose first line names the capture format."""
    return head.lstrip()[:1] == b"{" and CAPTURE_MARK in head.split(b"\n", 1)[0]


def _read(loaded: Loaded, profile: Profile, redactor: Redactor) -> Input:
    return read_capture(bytes(loaded.data), loaded.source, profile, redactor)


def _to_har(loaded: Loaded, warnings: list[str]) -> Har:
    from qbtrace.export import capture_to_har

    return capture_to_har(bytes(loaded.data), loaded.source, warnings)


READER = Reader(InputKind.CAPTURE, "a qbtrace capture", _recognise, _read, _to_har)
