"""Wrappers: the time, zone and process of plain prefixes and of each JSON logger's record."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

import pytest

from qbtrace.sources.logs.wrappers import json_line, plain

PLUS2 = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("line", "process"),
    [
        ("E, [2025-11-28T15:38:42.480906 #4412] ERROR -- : x", "pid 4412"),
        ("[2025-11-28 15:38:42 +0000] [4411] [ERROR] x", "pid 4411"),
        ("[2025-11-28 15:38:42,480: ERROR/ForkPoolWorker-2] x", "ForkPoolWorker-2"),
        ("2025-11-28T15:38:42+00:00 app[web.1]: x", "web.1"),
        ("2025-11-28 15:38:42,480 ERROR x", None),
    ],
)
def test_plain_prefixes(line: str, process: str | None) -> None:
    rec = plain(0, line, UTC)
    assert rec.process == process
    assert rec.time is not None and int(rec.time) == 1764344322


def test_naive_stamp_is_read_in_the_given_zone() -> None:
    utc = plain(0, "2025-11-28 15:38:42,480 ERROR x", UTC)
    berlin = plain(0, "2025-11-28 15:38:42,480 ERROR x", PLUS2)
    assert utc.naive and utc.time is not None and berlin.time is not None
    assert utc.time - berlin.time == 7200


@pytest.mark.parametrize(
    ("line", "wrapper", "process"),
    [
        (
            '{"level":50,"time":1764344322480,"pid":7,"hostname":"h1","msg":"m"}',
            "pino",
            "h1, pid 7",
        ),
        (
            '{"name":"app","hostname":"h1","pid":7,"level":50,"msg":"m",'
            '"time":"2025-11-28T15:38:42.480Z","v":0}',
            "bunyan",
            "h1, pid 7",
        ),
        ('{"level":"error","message":"m","timestamp":"2025-11-28T15:38:42.480Z"}', "winston", None),
        ('{"event":"m","level":"error","timestamp":"2025-11-28T15:38:42.480Z"}', "structlog", None),
        (
            '{"@timestamp":"2025-11-28T15:38:42.480Z","log.level":"error","message":"m",'
            '"host":{"name":"h1"},"process":{"pid":7}}',
            "ecs",
            "h1, pid 7",
        ),
        (
            '{"severity":"ERROR","timestamp":"2025-11-28T15:38:42.480Z","textPayload":"m"}',
            "gcp",
            None,
        ),
        (
            '{"date":"2025-11-28T15:38:42.480Z","host":"h1","service":"api","message":"m"}',
            "datadog",
            "h1",
        ),
        ('{"log":"m\\n","stream":"stderr","time":"2025-11-28T15:38:42.480Z"}', "docker", None),
    ],
)
def test_json_loggers(line: str, wrapper: str, process: str | None) -> None:
    rec = json_line(3, line, UTC)
    assert rec is not None
    assert (rec.wrapper, rec.process, rec.index) == (wrapper, process, 3)
    assert rec.time == pytest.approx(1764344322.48)
    assert rec.text.startswith("m")


def test_a_line_that_is_not_json_is_not_a_json_record() -> None:
    assert json_line(0, "{not json", UTC) is None
    assert json_line(0, "[1, 2]", UTC) is None
