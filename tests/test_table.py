"""The events and findings frames: declared schemas, tags only, and the summaries made of them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import polars as pl

from qbtrace.analysis import Analysis, analyze_inputs
from qbtrace.model import Input
from qbtrace.profile import Profile
from qbtrace.render.view import Presenter
from qbtrace.rules import PRECEDENCE
from qbtrace.table import (
    EVENT_SCHEMA,
    FINDING_SCHEMA,
    breakdowns,
    events_frame,
    findings_frame,
    summary,
)
from tests.factories import CLIENT, REDACTOR, SECRET, T0, Capture

DAY = 86_400.0
RT_A = "RT1-39-H0-1790000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
RT_B = "RT1-39-H0-1790086400bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
RT_OLD = "RT1-39-H0-1789000000oooooooooooooooooooooooooooooooooooooooooooo"
CODE = "AB11790000000codecodecodecodecodecodecodecode"
REDIRECT = "https://app.example.com/callback"
OTHER = "ABclientProduction00000000000000000000000000000"
OTHER_SECRET = "secret-production-0000000000000000000000"
RAW = (RT_A, RT_B, RT_OLD, CODE, SECRET, OTHER_SECRET, CLIENT, OTHER, f"eyJat-{RT_B}")
PRESENTER = Presenter(REDACTOR)


def analysis_of(*captures: Capture) -> Analysis:
    inputs = [Input(c.source, "har", len(c.exchanges), tuple(c.exchanges)) for c in captures]
    return analyze_inputs(inputs, Profile())


def two_clients() -> Analysis:
    """Client one: a superseded token replayed twice, then its code reused (realm 1234);
    client two: a token from before the capture, an hour later."""
    c = Capture("server.har")
    c.authorize(0, REDIRECT, CODE)
    c.exchange_code(1, CODE, REDIRECT, issued=RT_A)
    c.refresh(DAY, RT_A, issued=RT_B)
    c.refresh(3 * DAY, RT_A)
    c.refresh(3 * DAY + 10, RT_A)
    c.exchange_code(3 * DAY + 20, CODE, REDIRECT)
    c.refresh(3 * DAY + 3600, RT_OLD, client=OTHER, secret=OTHER_SECRET)
    return analysis_of(c)


def test_frames_have_the_declared_schemas() -> None:
    analysis = two_clients()
    assert dict(events_frame(analysis, PRESENTER).schema) == EVENT_SCHEMA
    assert dict(findings_frame(analysis, PRESENTER).schema) == FINDING_SCHEMA
    empty = analysis_of(Capture())
    assert dict(events_frame(empty, PRESENTER).schema) == EVENT_SCHEMA
    assert findings_frame(empty, PRESENTER).is_empty()
    assert dict(findings_frame(empty, PRESENTER).schema) == FINDING_SCHEMA


def test_frames_hold_tags_and_never_a_raw_value_from_the_input() -> None:
    analysis = two_clients()
    events = events_frame(analysis, PRESENTER)
    findings = findings_frame(analysis, PRESENTER)
    for frame in (events, findings):
        text = frame.write_csv()
        assert all(raw not in text for raw in RAW), [raw for raw in RAW if raw in text]
    assert events["token"].drop_nulls().str.contains(r"^(rt|code):[0-9a-f]+$").all()
    assert events["issued_refresh_token"].drop_nulls().str.starts_with("rt:").all()
    assert events["client"].str.starts_with("client:").all()
    assert findings["client"].str.starts_with("client:").all()
    shown = Presenter(REDACTOR, show_client_ids=True)
    assert set(findings_frame(analysis, shown)["client"]) == {CLIENT, OTHER}


def test_events_frame_has_one_row_per_token_request() -> None:
    events = events_frame(two_clients(), PRESENTER)
    assert events["index"].to_list() == [1, 2, 3, 4, 5, 6]
    assert events["grant_type"].to_list() == ["authorization_code"] + ["refresh_token"] * 3 + [
        "authorization_code",
        "refresh_token",
    ]
    assert events["status"].to_list() == [200, 200, 400, 400, 400, 400]
    assert events["time"][0] == datetime.fromtimestamp(T0 + 1, UTC)
    # the first refresh spends what the code exchange issued: one lineage, in realm 1234
    assert events["token"][1] == events["issued_refresh_token"][0]
    assert events["lineage"][1] == events["lineage"][0] is not None
    assert events["realm"].to_list()[:5] == ["1234"] * 5
    assert events["realm"][5] is None
    assert events["lineage"][5] != events["lineage"][0]


def test_an_untimed_request_has_no_time_in_the_frames() -> None:
    c = Capture()
    x = c.refresh(10, RT_OLD)
    c.exchanges[0] = replace(x, started=None, ended=None)
    analysis = analysis_of(c)
    assert events_frame(analysis, PRESENTER)["time"].to_list() == [None]
    assert findings_frame(analysis, PRESENTER)["time"].to_list() == [None]
    assert breakdowns(analysis, PRESENTER)["per_hour"].is_empty()


def test_findings_frame_says_cause_confidence_and_alternatives() -> None:
    findings = findings_frame(two_clients(), PRESENTER)
    assert findings["index"].to_list() == [3, 4, 5, 6]
    assert findings["cause"].to_list() == [
        "refresh_token_superseded",
        "refresh_token_superseded",
        "code_reused",
        "refresh_token_unknown",
    ]
    assert findings["confidence"][3] == "possible"
    assert findings["alternatives"][3] == (
        "refresh_token_superseded,refresh_token_expired,refresh_token_revoked"
    )
    assert findings["evidence"][0].startswith("server.har#2: ")


def test_summary_counts_failures_by_cause_in_precedence_order() -> None:
    got = summary(two_clients())
    assert got == {
        "token_requests": 6,
        "failures": 4,
        "by_cause": {
            "code_reused": 1,
            "refresh_token_superseded": 2,
            "refresh_token_unknown": 1,
        },
    }
    by_cause = got["by_cause"]
    assert isinstance(by_cause, dict)
    # code_reused failed last but comes first: its rank in causes.md is higher
    assert list(by_cause) == sorted(by_cause, key=PRECEDENCE.index)


def test_summary_of_a_capture_without_failures() -> None:
    c = Capture()
    c.refresh(0, RT_OLD, issued=RT_A)
    assert summary(analysis_of(c)) == {"token_requests": 1, "failures": 0, "by_cause": {}}
    assert breakdowns(analysis_of(c), PRESENTER) == {}


def rows(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return [tuple(r) for r in frame.iter_rows()]


def test_breakdowns_by_cause_client_realm_and_hour() -> None:
    got = breakdowns(two_clients(), PRESENTER)
    assert set(got) == {"by_cause", "by_client", "per_hour"}
    assert rows(got["by_cause"]) == [
        ("refresh_token_superseded", 2),
        ("code_reused", 1),
        ("refresh_token_unknown", 1),
    ]
    one, two = REDACTOR.tag("client", CLIENT), REDACTOR.tag("client", OTHER)
    assert sorted(rows(got["by_client"]), key=str) == sorted(
        [
            (one, "1234", "refresh_token_superseded", 2),
            (one, "1234", "code_reused", 1),
            (two, None, "refresh_token_unknown", 1),
        ],
        key=str,
    )
    assert rows(got["by_client"])[0] == (one, "1234", "refresh_token_superseded", 2)
    start = datetime.fromtimestamp(T0 + 3 * DAY, UTC).replace(minute=0, second=0)
    later = datetime.fromtimestamp(T0 + 3 * DAY + 3600, UTC).replace(minute=0, second=0)
    assert rows(got["per_hour"]) == [
        (start, "code_reused", 1),
        (start, "refresh_token_superseded", 2),
        (later, "refresh_token_unknown", 1),
    ]


def test_summary_order_is_precedence_not_time_nor_name() -> None:
    c = Capture()
    c.authorize(0, REDIRECT, CODE)
    c.exchange_code(3600, CODE, REDIRECT)  # expired, failing first
    c.refresh(DAY, RT_OLD, issued=RT_A)
    c.refresh(2 * DAY, RT_A, issued=RT_B)
    c.refresh(4 * DAY, RT_A)  # superseded, failing later
    by_cause = summary(analysis_of(c))["by_cause"]
    assert by_cause == {"refresh_token_superseded": 1, "code_expired": 1}
    assert isinstance(by_cause, dict)
    assert list(by_cause) == ["refresh_token_superseded", "code_expired"]


def test_csv_cells_that_a_spreadsheet_would_run_are_defused() -> None:
    import polars as pl

    from qbtrace.table import csv_safe

    frame = pl.DataFrame({"error": ["=HYPERLINK(1)", "+1", "@SUM(A1)", "invalid_grant", None]})
    assert csv_safe(frame)["error"].to_list() == [
        "'=HYPERLINK(1)",
        "'+1",
        "'@SUM(A1)",
        "invalid_grant",
        None,
    ]


def test_csv_defuses_the_triggers_spreadsheets_skip_to_or_fold() -> None:
    import polars as pl

    from qbtrace.table import csv_safe

    risky = [" =1+1", "\t=cmd", "\u3000=1", "\uff1dSUM(A1)", "|calc", "%0A", "-2+3", "\n=x"]
    frame = pl.DataFrame({"error": [*risky, "invalid_grant", "a=b", "rt:3fa9"]})
    out = csv_safe(frame)["error"].to_list()
    assert out[: len(risky)] == [f"'{cell}" for cell in risky]
    assert out[len(risky) :] == ["invalid_grant", "a=b", "rt:3fa9"]
