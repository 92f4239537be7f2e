"""Whole-document exports: the AWS CLI's pretty-printed `filter-log-events`, a GCP array,
Datadog's API shape; each event a record at the line of its opening brace."""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from qbtrace.errors import InputError
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources.logs import read_log
from qbtrace.sources.logs.exports import is_document, records
from tests import logsamples as s

LINE = s.INTUITLIB_TRACEBACK


def cloudwatch() -> bytes:
    events = [
        {
            "logStreamName": "2025/11/28/[$LATEST]abc",
            "timestamp": 1764344300000 + n,
            "message": msg,
            "ingestionTime": 1764344300100 + n,
            "eventId": str(n),
        }
        for n, msg in enumerate(["START RequestId: 1", LINE, s.PINO.strip()])
    ]
    # the AWS CLI prints its JSON output with a 4-space indent
    return json.dumps({"events": events, "searchedLogStreams": []}, indent=4).encode()


def test_cloudwatch_export_events_are_records() -> None:
    data = cloudwatch()
    assert is_document(data)
    item = read_log(data, "cw.json", Profile(), Redactor(b"k"), UTC)
    first, second = item.exchanges
    assert item.format == "intuitlib in cloudwatch, intuit-oauth-node in cloudwatch"
    assert first.process == "2025/11/28/[$LATEST]abc"
    assert first.started == pytest.approx(1764344300.001)
    lines = data.decode().splitlines()
    assert lines[first.ref.index].strip() == "{" and '"eventId": "1"' in "".join(
        lines[first.ref.index : first.ref.index + 8]
    )
    assert first.ref.index < second.ref.index


def test_gcp_array_and_datadog_api() -> None:
    gcp = [{"severity": "ERROR", "timestamp": "2025-11-28T15:38:36Z", "textPayload": LINE}]
    datadog = {
        "data": [
            {
                "attributes": {
                    "date": "2025-11-28T15:38:36Z",
                    "host": "h1",
                    "service": "api",
                    "message": LINE,
                }
            }
        ]
    }
    for doc in (gcp, datadog):
        [rec] = list(records(json.dumps(doc, indent=2).encode(), "x.json", UTC))
        assert "AuthClientError" in rec.text and rec.index == (1 if doc is gcp else 2)


def test_a_document_without_events_is_refused() -> None:
    with pytest.raises(InputError, match="no list of log events"):
        list(records(b'{"a": 1}', "x.json", UTC))


def test_json_lines_and_monolog_are_not_documents() -> None:
    assert not is_document(s.PINO.encode())
    assert not is_document(s.PHP.encode())
    assert is_document(b"[\n  {}\n]")
