"""The wrapper around the SDK text: a plain line's timestamp prefix, or a JSON log record.

Plain: Python `logging`, winston printf, Monolog `[…]`, Ruby `Logger` (`E, [… #4411]`),
gunicorn (`[4411]`), Celery (`[…: ERROR/ForkPoolWorker-2]`), Heroku (`app[web.1]:`).
JSON: pino (`level` number, `msg`, `pid`, `hostname`, `time` epoch ms, `err`), winston JSON
(`level`, `message`), bunyan (`v`, `name`, `msg`), structlog (`event`, `timestamp`), Elastic
ECS (`@timestamp`, `log.level`, `error.*`), GCP LogEntry (`severity`, `jsonPayload` or
`textPayload`), Datadog (`date`, `host`, `service`, `attributes`), Docker (`log`, `stream`),
CloudWatch events (`timestamp`, `message`, `logStreamName`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

import msgspec

from qbtrace.sources.logs.hits import Record
from qbtrace.sources.logs.stamps import STAMP, from_match, parse_value

PREFIX = 48
"""A line's timestamp starts within this many characters (after `E, [`, `[`, a level)."""
MESSAGE_KEYS = ("msg", "message", "event", "textPayload", "log", "@message")
TIME_KEYS = ("time", "timestamp", "@timestamp", "date", "ts", "asctime", "eventTime")
NESTED = ("err", "error", "exception", "jsonPayload", "attributes", "data", "exc_info")
PLAIN_PROCESS = (
    re.compile(r"#(\d+)\]"),  # Ruby Logger: E, [2026-… #4411] ERROR -- :
    re.compile(r"\]\s*\[(\d+)\]"),  # gunicorn: [2026-… +0000] [4411] [ERROR]
    re.compile(r"\bpid[=: ](\d+)"),
)
PLAIN_WORKER = (
    re.compile(r"/((?:ForkPool)?Worker-\d+|MainProcess)\]"),  # Celery
    re.compile(r"\bapp\[([\w.-]+)\]:"),  # Heroku
    re.compile(r"\bworker[=: ]([\w.-]+)"),
    re.compile(r"\[(worker-\d+)\]"),
)
MAX_DEPTH = 4


def plain(index: int, text: str, zone: tzinfo) -> Record:
    """A plain-text record: the stamp and process of its first line's prefix."""
    head = text[: text.find("\n")] if "\n" in text else text
    moment, naive = None, False
    hit = STAMP.search(head, 0, PREFIX + 40)
    if hit is not None and hit.start() <= PREFIX:
        moment, naive = from_match(hit, zone)
    return Record(index, text, moment, naive, _plain_process(head[:200]), "plain")


def _plain_process(head: str) -> str | None:
    worker = next((m.group(1) for p in PLAIN_WORKER if (m := p.search(head))), None)
    pid = next((m.group(1) for p in PLAIN_PROCESS if (m := p.search(head))), None)
    return process_name(worker, None, pid)


def process_name(worker: object, host: object, pid: object) -> str | None:
    """`worker-2, pid 4411`: the names a log gives, most specific first."""
    parts = [str(v) for v in (worker, host) if isinstance(v, str | int) and str(v)]
    if isinstance(pid, int | str) and not isinstance(pid, bool) and str(pid):
        parts.append(f"pid {pid}")
    return ", ".join(dict.fromkeys(parts)) or None


def json_line(index: int, line: str, zone: tzinfo) -> Record | None:
    """A JSON-lines record, or None when the line is not a JSON object."""
    try:
        obj = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    return from_object(index, obj, zone, line)


def from_object(index: int, obj: Mapping[str, Any], zone: tzinfo, raw: str = "") -> Record:
    """A record from a decoded log object: its messages first, then the whole object (so
    the SDK's fields inside `err` or `data` are in the text either way)."""
    messages: list[str] = []
    _messages(obj, messages, 0)
    whole = raw or msgspec.json.encode(obj).decode("utf-8", "replace")
    moment, naive = _time(obj, zone)
    record = Record(index, "\n".join([*messages, whole]), moment, naive, _process(obj))
    record.wrapper = wrapper_of(obj)
    if record.time is None and messages:  # a plain line shipped as-is (Docker `log`)
        inner = plain(index, messages[0], zone)
        record.time, record.naive = inner.time, inner.naive
        record.process = record.process or inner.process
    return record


def _messages(obj: Mapping[str, Any], out: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        return
    for key in MESSAGE_KEYS:
        value = obj.get(key)
        if isinstance(value, str) and value:
            out.append(value)
    for key in ("stack", "stack_trace", "traceback"):
        value = obj.get(key)
        if isinstance(value, str):
            out.append(value)
    for key in NESTED:
        value = obj.get(key)
        if isinstance(value, Mapping):
            _messages(value, out, depth + 1)
        elif isinstance(value, str) and key != "error":
            out.append(value)


def _time(obj: Mapping[str, Any], zone: tzinfo) -> tuple[float | None, bool]:
    for key in TIME_KEYS:
        if key in obj:
            moment, naive = parse_value(obj[key], zone)
            if moment is not None:
                return moment, naive
    return None, False


def _get(obj: Mapping[str, Any], *path: str) -> object:
    value: object = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _process(obj: Mapping[str, Any]) -> str | None:
    worker = next(
        (
            v
            for k in ("worker", "worker_id", "workerName", "processName", "logStreamName")
            if isinstance(v := obj.get(k), str | int)
        ),
        None,
    )
    host = next(
        (
            v
            for v in (obj.get("hostname"), obj.get("host"), _get(obj, "host", "name"))
            if isinstance(v, str)
        ),
        None,
    )
    pid = obj.get("pid") or _get(obj, "process", "pid") or obj.get("process_id")
    return process_name(worker, host, pid)


def wrapper_of(obj: Mapping[str, Any]) -> str:
    """Which logger wrote the object, by the keys each one always writes."""
    level = obj.get("level")
    checks = (
        ("cloudwatch", "logStreamName" in obj),
        ("bunyan", "v" in obj and "msg" in obj and "name" in obj),
        ("pino", isinstance(level, int) and "msg" in obj),
        ("gcp", "severity" in obj and ("jsonPayload" in obj or "textPayload" in obj)),
        ("ecs", "@timestamp" in obj and ("log.level" in obj or "ecs" in obj or "log" in obj)),
        ("datadog", "attributes" in obj or ("date" in obj and "service" in obj)),
        ("docker", "log" in obj and "stream" in obj),
        ("structlog", "event" in obj),
        ("winston", isinstance(level, str) and "message" in obj),
    )
    return next((name for name, ok in checks if ok), "json")
