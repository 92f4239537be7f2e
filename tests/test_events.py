"""Exchanges of several inputs on one timeline, and token requests reduced to their fields."""

from __future__ import annotations

from dataclasses import replace

from qbtrace.events import DUPLICATE_WINDOW, timeline, token_request
from qbtrace.model import Exchange, Input
from qbtrace.providers import DEFAULT
from tests.factories import CLIENT, SECRET, T0, Capture

RT_A = "RT1-39-H0-1790000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
RT_B = "RT1-39-H0-1790086400bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
CODE = "AB11790000000codecodecodecodecodecodecodecode"
REDIRECT = "https://app.example.com/callback"


def as_input(capture: Capture, kind: str = "har") -> Input:
    return Input(capture.source, kind, len(capture.exchanges), tuple(capture.exchanges))


def untimed(capture: Capture, x: Exchange) -> Exchange:
    """`x` as an exporter that wrote no time for it would give it."""
    bare = replace(x, started=None, ended=None)
    capture.exchanges[x.ref.index] = bare
    return bare


def refs(exchanges: list[Exchange]) -> list[tuple[str, int]]:
    return [(x.ref.source, x.ref.index) for x in exchanges]


def test_inputs_merge_in_time_order() -> None:
    server, browser = Capture("server.har"), Capture("browser.har")
    server.refresh(0, RT_A, issued=RT_B)
    server.refresh(100, RT_B, issued=RT_A)
    browser.authorize(50, REDIRECT, CODE)
    browser.authorize(150, REDIRECT, CODE)
    merged = timeline([as_input(server), as_input(browser)])
    assert refs(merged) == [
        ("server.har", 0),
        ("browser.har", 0),
        ("server.har", 1),
        ("browser.har", 1),
    ]
    # the order of the inputs on the command line does not change the timeline
    assert refs(timeline([as_input(browser), as_input(server)])) == refs(merged)


def test_an_exchange_without_a_time_stays_after_its_predecessor() -> None:
    server, browser = Capture("server.har"), Capture("browser.har")
    server.refresh(0, RT_A, issued=RT_B)
    untimed(server, server.refresh(200, RT_B, issued=RT_A))
    server.refresh(300, RT_A, issued=RT_B)
    browser.authorize(100, REDIRECT, CODE)
    assert refs(timeline([as_input(server), as_input(browser)])) == [
        ("server.har", 0),
        ("server.har", 1),
        ("browser.har", 0),
        ("server.har", 2),
    ]


def test_an_untimed_first_exchange_comes_first() -> None:
    c, other = Capture("a.har"), Capture("b.har")
    untimed(c, c.refresh(10, RT_A, issued=RT_B))
    c.refresh(20, RT_B, issued=RT_A)
    other.refresh(15, "RT1-other-" + "o" * 40, issued=RT_A)
    assert refs(timeline([as_input(other), as_input(c)])) == [
        ("a.har", 0),
        ("b.har", 0),
        ("a.har", 1),
    ]


def test_the_same_exchange_in_two_inputs_counts_once_within_the_window() -> None:
    proxy, browser = Capture("proxy.har"), Capture("browser.har")
    proxy.authorize(10, REDIRECT, CODE)
    browser.authorize(10 + DUPLICATE_WINDOW, REDIRECT, CODE)  # the browser's clock lags
    merged = timeline([as_input(proxy), as_input(browser)])
    assert refs(merged) == [("proxy.har", 0)]


def test_the_same_exchange_in_two_inputs_farther_apart_counts_twice() -> None:
    proxy, browser = Capture("proxy.har"), Capture("browser.har")
    proxy.authorize(10, REDIRECT, CODE)
    browser.authorize(10 + DUPLICATE_WINDOW + 0.5, REDIRECT, CODE)
    assert len(timeline([as_input(proxy), as_input(browser)])) == 2


def test_different_exchanges_at_the_same_moment_in_two_inputs_both_count() -> None:
    a, b = Capture("a.har"), Capture("b.har")
    a.refresh(10, RT_A)
    b.refresh(10, RT_B)
    c, d = Capture("c.har"), Capture("d.har")
    c.refresh(10, RT_A)
    d.refresh(10, RT_A, status=500, reply={})
    assert len(timeline([as_input(a), as_input(b)])) == 2
    assert len(timeline([as_input(c), as_input(d)])) == 2


def test_the_same_request_twice_in_one_input_counts_twice() -> None:
    """An app that retries at once really sent two requests (a refresh race, a double click)."""
    c = Capture()
    c.refresh(10, RT_A)
    c.refresh(10.5, RT_A)
    assert refs(timeline([as_input(c)])) == [("test.har", 0), ("test.har", 1)]


def test_token_request_of_a_refresh() -> None:
    c = Capture()
    x = c.refresh(10, RT_A, issued=RT_B)
    r = token_request(7, x)
    assert (r.seq, r.x, r.grant) == (7, x, "refresh_token")
    assert r.refresh is not None and r.refresh.kind == "rt"
    assert r.code is None and r.redirect_uri is None
    assert r.presented is r.refresh
    assert r.issued_rt is not None and r.issued_rt.kind == "rt"
    assert r.issued_rt.tag != r.refresh.tag
    assert r.issued_at is not None and r.issued_at.kind == "at"
    assert r.rt_expires_in == 8_726_400.0 and r.rt_hard_expires_in is None
    assert (r.client_id, r.client_known) == (CLIENT, True)
    assert r.client_secret is not None and r.client_secret.kind == "secret"
    assert (r.error, r.error_description) == (None, None)
    assert r.ok and (r.start, r.end) == (T0 + 10, T0 + 10.2)
    assert DEFAULT.request_id(r.x) == f"1-{int(T0 + 10):08x}-000000000000000000000000"
    text = repr(r)
    assert all(raw not in text for raw in (RT_A, RT_B, SECRET, f"eyJat-{RT_B}"))


def test_token_request_of_a_code_exchange() -> None:
    c = Capture()
    r = token_request(0, c.exchange_code(5, CODE, REDIRECT, issued=RT_A))
    assert r.grant == "authorization_code"
    assert r.code is not None and r.code.kind == "code"
    assert r.refresh is None and r.presented is r.code
    assert r.redirect_uri == REDIRECT
    assert r.issued_rt is not None
    # the same value tags alike in the request that spends it
    assert token_request(1, c.refresh(60, RT_A)).refresh == r.issued_rt


def test_a_failed_request_issues_nothing_and_keeps_the_error() -> None:
    c = Capture()
    x = c.refresh(
        10,
        RT_A,
        status=400,
        reply={
            "error": "invalid_grant",
            "error_description": "Token invalid",
            "refresh_token": RT_B,
            "access_token": "eyJat-stale",
        },
    )
    r = token_request(0, x)
    assert not r.ok
    assert (r.issued_rt, r.issued_at) == (None, None)
    assert (r.error, r.error_description) == ("invalid_grant", "Token invalid")


def test_refresh_token_lifetimes_as_numbers_or_strings() -> None:
    c = Capture()
    for value, seconds in (
        (8_726_400, 8_726_400.0),
        ("8726400", 8_726_400.0),
        (" 86400.5 ", 86_400.5),
        ("in 100 days", None),
        (None, None),
    ):
        reply = {"refresh_token": RT_B, "x_refresh_token_expires_in": value}
        reply["x_refresh_token_hard_expires_in"] = value
        r = token_request(0, c.refresh(10, RT_A, status=200, reply=reply))
        assert (r.rt_expires_in, r.rt_hard_expires_in) == (seconds, seconds), value


def test_an_unanswered_request_ends_when_it_failed_or_when_it_started() -> None:
    c = Capture()
    lost = token_request(0, c.refresh(10, RT_A, status=None, took=30))
    assert (lost.x.status, lost.ok, lost.end) == (None, False, T0 + 40)
    no_end = token_request(1, replace(c.refresh(50, RT_A), ended=None))
    assert no_end.end == no_end.start == T0 + 50
    no_time = token_request(2, replace(c.refresh(60, RT_A), started=None, ended=None))
    assert no_time.start == no_time.end == float("-inf")


def test_credentials_not_in_the_input_leave_the_client_unknown() -> None:
    c = Capture()
    r = token_request(0, c.refresh(10, RT_A, basic=""))
    assert (r.client_id, r.client_secret, r.client_known) == (None, None, False)
