"""qbtrace captures (JSON Lines written by `addons/qbtrace_capture.py`) → `Exchange` records.

A capture is written while a proxy runs, so its end may be cut short (SIGKILL mid-line) and
a full disk can leave a broken line in the middle: such lines are skipped with a warning.
Each proxy session appends its own header, so one file can mix sessions; redacted records
are taken as they are, raw records (`qbtrace_keep_raw`) are redacted here like any input.
"""

from __future__ import annotations

from qbtrace.capture import (
    CAPTURE_VERSION,
    ExchangeRecord,
    Header,
    RawRecord,
    decode_line,
    key_id,
    record_exchange,
)
from qbtrace.errors import InputError
from qbtrace.model import Exchange, Input, Ref
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources.build import build_exchange, sane_exchange

MAX_LISTED = 5


def read_capture(data: bytes, source: str, profile: Profile, redactor: Redactor) -> Input:
    """Decode a whole capture; `index` of an exchange is its line index in the file."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    exchanges: list[Exchange] = []
    bad: list[str] = []
    foreign_keys: set[str] = set()
    header: Header | None = None
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            item = decode_line(line)
        except ValueError as exc:
            if header is None:
                raise InputError(f"line {index + 1}: {exc}", source=source) from None
            truncated = index == len(lines) - 1 and not data.endswith(b"\n")
            bad.append(f"line {index + 1}: {'cut short' if truncated else exc}")
            continue
        if isinstance(item, Header):
            header = _check_header(item, source, redactor, foreign_keys)
        elif header is None:
            raise InputError("the first line is not a qbtrace capture header", source=source)
        elif isinstance(item, RawRecord):
            exchanges.append(build_exchange(Ref(source, index), item.kind, item.raw, redactor))
        else:
            exchanges.append(_redacted(item, Ref(source, index)))
    if header is None:
        raise InputError("no qbtrace capture header", source=source)
    records = sum(1 for line in lines if line.strip())
    return Input(source, "capture", records, tuple(exchanges), _warnings(bad, foreign_keys))


def _check_header(
    header: Header, source: str, redactor: Redactor, foreign_keys: set[str]
) -> Header:
    if header.qbtrace_capture != CAPTURE_VERSION:
        newer = header.qbtrace_capture > CAPTURE_VERSION
        hint = " (written by a newer qbtrace; upgrade qbtrace)" if newer else ""
        raise InputError(
            f"capture format version {header.qbtrace_capture} is not supported "
            f"(this qbtrace reads version {CAPTURE_VERSION}){hint}",
            source=source,
        )
    if not header.raw and header.key_id != key_id(redactor):
        foreign_keys.add(header.key_id)
    return header


def _redacted(record: ExchangeRecord, ref: Ref) -> Exchange:
    return sane_exchange(record_exchange(record, ref))


def _warnings(bad: list[str], foreign_keys: set[str]) -> tuple[str, ...]:
    out: list[str] = []
    if bad:
        listed = "; ".join(bad[:MAX_LISTED]) + ("; ..." if len(bad) > MAX_LISTED else "")
        out.append(f"{len(bad)} unreadable lines skipped ({listed})")
    if foreign_keys:
        out.append(
            "the capture was tagged with another key (key_id "
            f"{', '.join(sorted(foreign_keys))}): its tags will not correlate with other inputs; "
            "set QBTRACE_TAG_KEY to the proxy machine's key to compare them"
        )
    return tuple(out)
