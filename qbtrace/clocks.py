"""Put every input on the providers' clock when the machine that recorded it disagreed.

Inputs come from different machines (the browser's HAR, the server's capture), and a client
clock that is minutes off turns a fast code exchange into an "expired" one or hides a race.
A provider's answers carry its own time (`Provider.server_time`: the `Date` header, or a
request id that holds the second, as some providers' do). The median difference
between those and the recorded request start is the input's clock offset; past a threshold,
the input's times are shifted and we say so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from qbtrace.model import Input
from qbtrace.profile import Profile
from qbtrace.providers import Provider

THRESHOLD = 30.0
"""Offsets below this are latency and second-rounding, not a wrong clock."""


def offset_of(item: Input, profile: Profile) -> tuple[float, int, Provider]:
    """The input's clock offset from its providers' (seconds to add), how many answers said
    so, and the provider most of them came from."""
    diffs = []
    said_by: Counter[str] = Counter()
    for x in item.exchanges:
        provider = profile.provider_for(x)
        said = provider.server_time(x)
        if said is not None and x.started is not None:
            diffs.append(said - x.started)
            said_by[provider.name] += 1
    if not diffs:
        return 0.0, 0, profile.default
    import statistics  # only when answers state a time: a few ms of start-up otherwise

    return statistics.median(diffs), len(diffs), profile.named(said_by.most_common(1)[0][0])


def on_provider_clock(item: Input, profile: Profile) -> Input:
    """The input with its times shifted to the providers' clock, or unchanged when it agreed."""
    offset, count, provider = offset_of(item, profile)
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
    note = corrected_note(offset, count, provider)
    return replace(item, exchanges=shifted, warnings=(*item.warnings, note))


def corrected_note(offset: float, count: int, provider: Provider) -> str:
    """The warning of an input whose times were shifted by `offset`."""
    direction = "behind" if offset > 0 else "ahead of"
    words = provider.phrases()
    return (
        f"the recording machine's clock was {_duration(offset)} {direction} "
        f"{words['provider_s']} (from {words['clock_sources']} of {count} answers); "
        "its times were corrected"
    )


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
