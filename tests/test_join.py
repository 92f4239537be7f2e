"""Logs joined to captures: by request id, by issued access token, else by time once the
log host's clock is estimated from the pairs already matched; one exchange, seen twice."""

from __future__ import annotations

from datetime import UTC, datetime

from qbtrace.join import join_logs
from qbtrace.model import Input
from qbtrace.profile import Profile
from qbtrace.sources.logs import read_log
from tests.factories import REDACTOR, T0, Capture

SKEWED = 3600.0 + 7.0
"""The log host writes local time (UTC+1) and its clock is 7 s fast."""


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(T0 + at + SKEWED, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _log(text: str) -> Input:
    return read_log(text.encode(), "app.log", Profile(), REDACTOR, UTC)


def _capture() -> Capture:
    cap = Capture("app.har")
    cap.refresh(10.0, "RT-a", issued="RT-b")
    cap.refresh(600.0, "RT-a")  # replayed: fails
    cap.refresh(900.0, "RT-b", status=503, reply={})
    return cap


def _app_log(cap: Capture) -> str:
    ok, failed, _ = cap.exchanges
    at = ok.reply["access_token"]
    assert at is not None
    tid = failed.headers["intuit_tid"]
    return (
        f"{_stamp(10.3)} +00:00 info: Refresh usingToken () response is : "
        '{"refresh_token":"RT-b","access_token":"eyJat-RT-b","token_type":"bearer"}\n'
        f"{_stamp(600.4)} ERROR [worker-1] pid=4411 tokens: HTTP status 400, error message: "
        f'b\'{{"error":"invalid_grant"}}\', intuit_tid {tid} at time x GMT\n'
        f"{_stamp(901.0)} +00:00 error: Refresh Token () threw an exception : "
        "Error: Request failed with status code 503\n"
        f"{_stamp(5000.0)} +00:00 error: Refresh Token () threw an exception : "
        "Error: invalid_grant\n"
    )


def test_matched_records_fold_into_the_capture_and_unmatched_ones_stay() -> None:
    cap = _capture()
    har = Input("app.har", "har", 3, tuple(cap.exchanges))
    log = _log(_app_log(cap).replace(" +00:00", " +01:00"))
    joined_har, joined_log = join_logs((har, log), Profile())
    ok, failed, lost = joined_har.exchanges
    assert [x.ref.index for x in joined_log.exchanges] == [3]  # the late failure: no capture
    assert ok.seen_in[0].index == 0  # by the issued access token
    assert failed.seen_in[0].index == 1 and failed.process == "worker-1, pid 4411"  # by tid
    assert lost.seen_in[0].index == 2  # by time, 7 s of skew learnt from the pairs


def test_without_pairs_a_skewed_log_does_not_join_by_time() -> None:
    cap = _capture()
    har = Input("app.har", "har", 3, tuple(cap.exchanges))
    text = _app_log(cap).replace(" +00:00", " +01:00").splitlines()
    log = _log(text[2] + "\n")
    joined_har, joined_log = join_logs((har, log), Profile())
    assert len(joined_log.exchanges) == 1
    assert all(not x.seen_in for x in joined_har.exchanges)


def test_logs_alone_or_captures_alone_are_unchanged() -> None:
    cap = _capture()
    har = Input("app.har", "har", 3, tuple(cap.exchanges))
    log = _log(_app_log(cap))
    assert join_logs((har,), Profile()) == (har,)
    assert join_logs((log,), Profile()) == (log,)
