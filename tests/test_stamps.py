"""Timestamps in every spelling logs use, and `--log-tz`."""

from __future__ import annotations

from datetime import UTC

import pytest

from qbtrace.errors import ConfigError
from qbtrace.sources.logs.stamps import parse_text, parse_value, parse_zone, zone_name

AT = 1764344322.48


@pytest.mark.parametrize(
    "text",
    [
        "2025-11-28T15:38:42.480Z",
        "2025-11-28 15:38:42.480 +00:00",
        "2025-11-28 16:38:42.480 +01:00",
        "2025-11-28T10:38:42.480-0500",
        "2025-11-28 15:38:42,480",
        "2025-11-28T15:38:42.480000000Z",
    ],
)
def test_iso_spellings(text: str) -> None:
    moment, _ = parse_text(text, UTC)
    assert moment == pytest.approx(AT)


def test_epoch_seconds_and_milliseconds() -> None:
    assert parse_value(1764344322480, UTC)[0] == pytest.approx(AT)
    assert parse_value(1764344322.48, UTC)[0] == pytest.approx(AT)
    assert parse_value(True, UTC) == (None, False)


def test_http_date() -> None:
    assert parse_text("Fri, 28 Nov 2025 15:38:42 GMT", UTC)[0] == 1764344322


def test_zones() -> None:
    assert parse_zone("utc") is UTC
    berlin = parse_zone("Europe/Berlin")
    assert zone_name(berlin) == "Europe/Berlin"
    assert parse_text("2025-11-28 16:38:42,480", berlin)[0] == pytest.approx(AT)
    assert parse_text("2025-11-28 10:38:42,480", parse_zone("-05:00"))[0] == pytest.approx(AT)
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        parse_zone("Mars/Olympus")
