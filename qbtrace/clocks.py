"""Put every input on Intuit's clock when the machine that recorded it disagreed.

Inputs come from different machines (the browser's HAR, the server's capture), and a client
clock that is minutes off turns a fast code exchange into an "expired" one or hides a race.
Intuit's answers carry its own time: the 8 hex digits of `intuit_tid` (`1-<unix second>-…`)
and the `Date` header. The median difference between those and the recorded request start
is the input's clock offset; past a threshold, the input's times are shifted and we say so.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from email.utils import parsedate_to_datetime

from qbtrace.model import Exchange, Input, Kind

THRESHOLD = 30.0
"""Offsets below this are latency and second-rounding, not a wrong clock."""
INTUIT_KINDS = (Kind.TOKEN, Kind.AUTHORIZE, Kind.REVOKE)


def server_time(x: Exchange) -> float | None:
    """When Intuit handled the request, by its own clock; None when the answer does not say."""
    tid = x.headers.get("intuit_tid", "")
    parts = tid.split("-")
    if len(parts) == 3 and parts[0] == "1" and len(parts[1]) == 8:
        try:
            return float(int(parts[1], 16))
        except ValueError:
            pass
    date = x.headers.get("date")
    if date and x.kind in INTUIT_KINDS and x.status is not None:
        try:
            return parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return None


def offset_of(item: Input) -> tuple[float, int]:
    """The input's clock offset from Intuit's (seconds to add) and how many answers said so."""
    diffs = []
    for x in item.exchanges:
        said = server_time(x)
        if said is not None and x.started is not None:
            diffs.append(said - x.started)
    if not diffs:
        return 0.0, 0
    return statistics.median(diffs), len(diffs)


def on_intuit_clock(item: Input) -> Input:
    """The input with its times shifted to Intuit's clock, or unchanged when it agreed."""
    offset, count = offset_of(item)
    if abs(offset) < THRESHOLD:
        return item
    shifted = tuple(
        replace(
            x,
            started=None if x.started is None else x.started + offset,
            ended=None if x.ended is None else x.ended + offset,
        )
        for x in item.exchanges
    )
    direction = "behind" if offset > 0 else "ahead of"
    note = (
        f"the recording machine's clock was {_duration(offset)} {direction} Intuit's "
        f"(from intuit_tid and Date of {count} answers); its times were corrected"
    )
    return replace(item, exchanges=shifted, warnings=(*item.warnings, note))


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
