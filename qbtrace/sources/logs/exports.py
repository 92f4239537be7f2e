"""Whole-document log exports: CloudWatch `aws logs filter-log-events` (`{"events": […]}`,
pretty-printed by the AWS CLI), GCP `gcloud logging read --format=json` (a JSON array of
LogEntry), Datadog's API (`{"data": [{"attributes": {…}}]}`) or any JSON array of records.

Exports are decoded whole (they are bounded by the API's page size); each event is a record
whose index is the line of its opening brace.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import tzinfo
from typing import Any

import msgspec

from qbtrace.errors import InputError
from qbtrace.sources.logs.hits import Record
from qbtrace.sources.logs.wrappers import from_object

LIST_KEYS = ("events", "entries", "data", "logs", "records")


def is_document(head: bytes) -> bool:
    """A JSON document rather than JSON lines: an array, an object spread over several lines
    (the AWS CLI's pretty print), or one object holding a list of events."""
    stripped = head.lstrip()
    if stripped[:1] == b"[":  # an array of records, not a Monolog `[2026-…]` prefix
        return stripped[1:].lstrip()[:1] in (b"{", b"]")
    if stripped[:1] != b"{":
        return False
    first = stripped.split(b"\n", 1)[0]
    try:
        obj = msgspec.json.decode(first)
    except msgspec.DecodeError:
        return True
    return isinstance(obj, dict) and any(isinstance(obj.get(k), list) for k in LIST_KEYS)


def events(data: bytes, source: str) -> tuple[str, list[Any]]:
    """The export's name and its list of events; InputError when it is not one."""
    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise InputError(f"not a JSON log export ({exc})", source=source) from None
    if isinstance(doc, list):
        return "json-array", doc
    if isinstance(doc, Mapping):
        for key in LIST_KEYS:
            if isinstance(doc.get(key), list):
                return ("cloudwatch" if key == "events" else "export"), doc[key]
    raise InputError("a JSON document with no list of log events", source=source)


def records(data: bytes, source: str, zone: tzinfo) -> Iterator[Record]:
    """Each event as a record; Datadog's `attributes` are the record itself."""
    _, items = events(data, source)
    starts = _object_lines(data)
    for n, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        if isinstance(item.get("attributes"), Mapping) and "message" not in item:
            item = item["attributes"]
        yield from_object(starts[n] if n < len(starts) else n, item, zone)


def _object_lines(data: bytes) -> list[int]:
    """Line of each top-level event's `{`, for pretty-printed exports (one event per block)."""
    lines: list[int] = []
    target = 2 if data.lstrip()[:1] == b"[" else 3
    depth = 0
    line = 0
    in_string = escape = False
    for byte in data:
        if in_string:
            if escape:
                escape = False
            elif byte == 0x5C:
                escape = True
            elif byte == 0x22:
                in_string = False
            elif byte == 0x0A:
                line += 1
            continue
        if byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):
            depth += 1
            if byte == 0x7B and depth == target:
                lines.append(line)
        elif byte in (0x7D, 0x5D):
            depth -= 1
        elif byte == 0x0A:
            line += 1
    return lines
