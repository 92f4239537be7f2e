"""Log timestamps → Unix seconds UTC, and which zone was assumed for the naive ones.

Python `logging`'s default `asctime` (`2026-12-01 21:28:32,480`) and most printf formats
carry no zone; winston's `YYYY-MM-DD HH:mm:ss.SSS Z` (the Node SDK's own file) carries the
host's local offset; pino and bunyan write epoch milliseconds or ISO strings in UTC. A naive
stamp is read in the zone given by `--log-tz` (UTC by default), and the reader says so.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qbtrace.errors import ConfigError

STAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"\s?(Z|[+-]\d{2}:?\d{2}|UTC|GMT)?"
)
OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})$")
EPOCH_MS_FROM = 1e11
"""Numbers above this are epoch milliseconds (pino, CloudWatch), below it seconds."""


def parse_zone(text: str) -> tzinfo:
    """`--log-tz`: an IANA name (`Europe/Berlin`), `UTC`, or an offset (`+02:00`, `-0500`)."""
    text = text.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return UTC
    hit = OFFSET.match(text)
    if hit:
        return _offset(hit)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--log-tz: unknown time zone {text!r}") from None


def _offset(hit: re.Match[str]) -> tzinfo:
    sign = -1 if hit.group(1) == "-" else 1
    minutes = int(hit.group(2)) * 60 + int(hit.group(3))
    return timezone(sign * timedelta(minutes=minutes))


def from_match(hit: re.Match[str], zone: tzinfo) -> tuple[float | None, bool]:
    """Seconds of a STAMP match and whether it was naive (read in `zone`)."""
    year, month, day, hour, minute, second = (int(hit.group(i)) for i in range(1, 7))
    fraction = hit.group(7) or ""
    micro = int((fraction + "000000")[:6]) if fraction else 0
    mark = hit.group(8)
    naive = mark is None
    if naive:
        tz = zone
    elif mark in ("Z", "UTC", "GMT"):
        tz = UTC
    else:
        found = OFFSET.match(mark)
        tz = _offset(found) if found else UTC
    try:
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return None, naive
    return moment.timestamp(), naive


def parse_text(text: str, zone: tzinfo) -> tuple[float | None, bool]:
    """A stamp written as text: ISO 8601 in any of its log spellings, or an HTTP date."""
    hit = STAMP.match(text.strip())
    if hit:
        return from_match(hit, zone)
    from email.utils import parsedate_to_datetime  # HTTP dates are rare: no import otherwise

    try:
        return parsedate_to_datetime(text).timestamp(), False
    except (TypeError, ValueError, IndexError, OverflowError):
        return None, False


def parse_value(value: object, zone: tzinfo) -> tuple[float | None, bool]:
    """A JSON time field: epoch seconds or milliseconds, or text."""
    if isinstance(value, bool):
        return None, False
    if isinstance(value, int | float):
        seconds = value / 1000 if value > EPOCH_MS_FROM else float(value)
        return (seconds, False) if 0 < seconds < 1e10 else (None, False)
    if isinstance(value, str):
        return parse_text(value, zone)
    return None, False


def zone_name(zone: tzinfo) -> str:
    if zone is UTC:
        return "UTC"
    return str(getattr(zone, "key", None) or zone.tzname(None) or zone)
