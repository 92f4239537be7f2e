"""The authorization flow however a capture shows it, read from HAR files in the shapes real
exporters write: mitmproxy's own `hardump` (SaveHar, as is), and the Firefox and
Chrome-sanitized rewrites of `tests/exporters.py` (Firefox: local-offset times and postData
params beside the text; Chrome: no Authorization header, HTTP/2 pseudo-headers, base64
bodies). The recorded goldens cover the single-tab cases from real clients; these cover what
a recording cannot stage reliably: interleaved tabs, redirect chains on the authorize host
without parameters, relative Locations and a HAR that keeps only `redirectURL`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import analyze_json
from tests.exporters import chrome_sanitized, firefox, write
from tests.flows import AUTHORIZE, Dance

APP_A = "ABdevKeys00000000000000000000000000000000000000AA"
APP_B = "ABprodKeys0000000000000000000000000000000000000BB"
CB = "https://app.example.com/callback"
CODE_1 = "AB11790000001code1code1code1code1code1code1code1"
CODE_2 = "AB11790000002code2code2code2code2code2code2code2"
REALM = "9341453050298471"

Shape = Callable[[dict[str, Any]], dict[str, Any]]
SHAPES: dict[str, Shape] = {"hardump": lambda har: har, "firefox": firefox}
WITH_CHROME: dict[str, Shape] = {**SHAPES, "chrome-sanitized": chrome_sanitized}


def findings(tmp_path: Path, dance: Dance, shape: Shape) -> list[dict[str, Any]]:
    path = tmp_path / "capture.har"
    write(shape(dance.har()), path)
    result = analyze_json(path)["findings"]
    assert isinstance(result, list)
    return result


def only(tmp_path: Path, dance: Dance, shape: Shape) -> dict[str, Any]:
    (finding,) = findings(tmp_path, dance, shape)
    return finding


def linked(finding: dict[str, Any]) -> list[tuple[str, int]]:
    return [(e["role"], e["index"]) for e in finding["evidence"] if "index" in e]


def back(code: str, state: str | None, to: str = CB) -> str:
    fields = [f"code={code}", *([f"state={state}"] if state else []), f"realmId={REALM}"]
    return f"{to}?{'&'.join(fields)}"


@pytest.mark.parametrize("shape", WITH_CHROME.values(), ids=WITH_CHROME)
def test_consent_post_without_callback_and_an_explicit_port(tmp_path: Path, shape: Shape) -> None:
    d = Dance()
    fields = {"client_id": APP_A, "redirect_uri": CB, "state": "s1", "response_type": "code"}
    d.authorize(0, APP_A, CB, "s1")  # answered with the consent page (200)
    post = d.consent(5, AUTHORIZE, fields, back(CODE_1, "s1"))
    d.add(6, "OPTIONS", "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer", status=204)
    d.exchange(7, APP_A, CODE_1, "https://app.example.com:443/callback")
    f = only(tmp_path, d, shape)
    assert (f["cause"], f["confidence"]) == ("redirect_uri_mismatch", "certain")
    assert linked(f) == [("authorize", post)]
    assert "port: no port vs explicit :443" in f["evidence"][0]["note"]


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES)
@pytest.mark.parametrize("with_state", [True, False], ids=["state", "no-state"])
def test_a_redirect_chain_on_the_authorize_host_leads_back_to_the_authorize(
    tmp_path: Path, shape: Shape, with_state: bool
) -> None:
    """authorize → 302 to the consent page → its POST (no client_id, no redirect_uri) →
    302 with the code: the code belongs to the first request, by state or by the chain."""
    d = Dance()
    page = "https://appcenter.intuit.com/app/connect/oauth2/consent"
    first = d.authorize(
        0, APP_A, CB, "s1", status=302, answer_headers={"Location": f"{page}?sid=7"}
    )
    d.add(1, "GET", f"{page}?sid=7")
    d.consent(5, page, {"sid": "7", "approve": "true"}, back(CODE_1, "s1" if with_state else None))
    d.exchange(7, APP_B, CODE_1, CB)
    f = only(tmp_path, d, shape)
    assert (f["cause"], f["confidence"]) == ("code_client_mismatch", "certain")
    assert linked(f) == [("authorize", first)]


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES)
def test_interleaved_tabs_are_told_apart_by_state(tmp_path: Path, shape: Shape) -> None:
    """Two tabs, one per key set; the second consents first. Each code is judged against the
    authorize of its own tab, not against the latest one."""
    d = Dance()
    d.authorize(0, APP_A, CB, "tab-a")
    d.authorize(2, APP_B, CB, "tab-b")
    tab_b = {"client_id": APP_B, "redirect_uri": CB, "state": "tab-b"}
    post_b = d.consent(4, AUTHORIZE, tab_b, back(CODE_2, "tab-b"))
    tab_a = {"client_id": APP_A, "redirect_uri": CB, "state": "tab-a"}
    d.consent(5, AUTHORIZE, tab_a, back(CODE_1, "tab-a"))
    d.add(5.5, "GET", back(CODE_1, "tab-a"))
    d.add(6, "GET", back(CODE_2, "tab-b"))
    d.exchange(7, APP_A, CODE_1, CB, ok=True)
    d.exchange(8, APP_A, CODE_2, CB)  # the app exchanged tab B's code with tab A's keys
    f = only(tmp_path, d, shape)
    assert (f["cause"], f["confidence"]) == ("code_client_mismatch", "certain")
    assert linked(f) == [("authorize", post_b)]


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES)
def test_a_code_from_the_authorize_location_is_judged_by_that_authorize_not_the_latest(
    tmp_path: Path, shape: Shape
) -> None:
    d = Dance()
    other = "https://other.example.com/cb"
    first = d.authorize(
        0, APP_A, CB, "s1", status=302, answer_headers={"Location": back(CODE_1, None)}
    )
    d.authorize(1, APP_A, other, "s2")  # a later attempt elsewhere, never completed
    d.add(2, "GET", back(CODE_1, None))
    d.exchange(3, APP_A, CODE_1, other)
    f = only(tmp_path, d, shape)
    assert (f["cause"], f["confidence"]) == ("redirect_uri_mismatch", "certain")
    assert linked(f) == [("authorize", first)]


@pytest.mark.parametrize("shape", WITH_CHROME.values(), ids=WITH_CHROME)
def test_the_app_servers_relative_redirect_is_named_and_is_no_second_delivery(
    tmp_path: Path, shape: Shape
) -> None:
    d = Dance()
    fields = {"client_id": APP_A, "redirect_uri": CB, "state": "s1"}
    post = d.consent(0, AUTHORIZE, fields, back(CODE_1, "s1"))
    hop = d.add(
        1,
        "GET",
        back(CODE_1, "s1"),
        status=301,
        answer_headers={"Location": f"/callback/?code={CODE_1}&state=s1&realmId={REALM}"},
    )
    d.add(2, "GET", back(CODE_1, "s1", to=f"{CB}/"))
    d.exchange(3, APP_A, CODE_1, f"{CB}/")
    d.exchange(4, APP_A, CODE_1, f"{CB}/")  # the app retried: the code was not spent, still wrong
    mismatch, again = findings(tmp_path, d, shape)
    assert mismatch["cause"] == again["cause"] == "redirect_uri_mismatch"
    assert linked(mismatch) == [("authorize", post), ("app_redirect", hop)]
    assert "trailing slash" in mismatch["evidence"][0]["note"]
    assert mismatch["fix"].startswith("Send the redirect_uri of the authorize request from config")
    assert "code_reused" in again["alternatives"]
    assert all(e["role"] != "callback_delivery" for e in again["evidence"])


@pytest.mark.parametrize("name", WITH_CHROME)
def test_a_double_submitted_callback_is_evidence_of_the_reuse(tmp_path: Path, name: str) -> None:
    d = Dance()
    fields = {"client_id": APP_A, "redirect_uri": CB, "state": "s1"}
    d.consent(0, AUTHORIZE, fields, back(CODE_1, "s1"))
    one = d.add(1, "GET", back(CODE_1, "s1"))
    first = d.exchange(2, APP_A, CODE_1, CB, ok=True)
    two = d.add(3, "GET", back(CODE_1, "s1"))
    d.exchange(4, APP_A, CODE_1, CB)
    f = only(tmp_path, d, WITH_CHROME[name])
    # without the Authorization header (Chrome's sanitized export) a client mismatch
    # cannot be ruled out, so the shown reuse is only likely
    sure = "likely" if name == "chrome-sanitized" else "certain"
    assert (f["cause"], f["confidence"]) == ("code_reused", sure)
    assert linked(f) == [
        ("earlier_exchange", first),
        ("callback_delivery", one),
        ("callback_delivery", two),
    ]


def test_a_har_that_keeps_only_redirect_url_still_gives_the_code(tmp_path: Path) -> None:
    d = Dance()
    fields = {"client_id": APP_A, "redirect_uri": CB, "state": "s1"}
    post = d.consent(0, AUTHORIZE, fields, back(CODE_1, "s1"))
    d.exchange(1, APP_B, CODE_1, CB)
    har = d.har()
    response = har["log"]["entries"][post]["response"]
    response["headers"] = [h for h in response["headers"] if h["name"].lower() != "location"]
    assert response["redirectURL"]
    f = only(tmp_path, d, lambda _: har)
    assert (f["cause"], f["confidence"]) == ("code_client_mismatch", "certain")
    assert linked(f) == [("authorize", post)]


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES)
def test_attempts_sharing_one_constant_state_are_told_apart_by_where_the_code_arrived(
    tmp_path: Path, shape: Shape
) -> None:
    """An app that sends the same `state` on every attempt: the callback belongs to the
    attempt that asked to be sent back to the URL the code arrived at."""
    d = Dance()
    other = "https://app.example.com/other/callback"
    first = d.authorize(0, APP_A, CB, "constant")
    d.authorize(1, APP_B, other, "constant")
    d.add(2, "GET", back(CODE_1, "constant"))
    d.exchange(3, APP_B, CODE_1, CB)
    f = only(tmp_path, d, shape)
    assert (f["cause"], f["confidence"]) == ("code_client_mismatch", "certain")
    assert linked(f) == [("authorize", first)]


def test_a_callback_without_state_goes_to_the_attempt_that_asked_for_its_url(
    tmp_path: Path,
) -> None:
    d = Dance()
    other = "https://app.example.com/other/callback"
    first = d.authorize(0, APP_A, CB, "s1")
    d.authorize(1, APP_B, other, "s2")
    d.add(2, "GET", back(CODE_1, None))
    d.exchange(3, APP_B, CODE_1, CB)
    f = only(tmp_path, d, SHAPES["hardump"])
    assert (f["cause"], f["confidence"]) == ("code_client_mismatch", "certain")
    assert linked(f) == [("authorize", first)]


@pytest.mark.parametrize("shape", WITH_CHROME.values(), ids=WITH_CHROME)
def test_a_script_driven_consent_whose_answer_names_the_callback_in_json(
    tmp_path: Path, shape: Shape
) -> None:
    """The consent page posts by XHR and navigates itself: the code is only in the JSON
    answer of that XHR, and the callback (on localhost) never passed the proxy."""
    d = Dance()
    page = "https://appcenter.intuit.com/app/connect/oauth2/v1/consent"
    first = d.authorize(0, APP_A, CB, "s1")
    d.add(
        4,
        "POST",
        page,
        body='{"approve": true}',
        headers={"Content-Type": "application/json"},
        answer=json.dumps({"status": "ok", "data": {"redirectUrl": back(CODE_1, "s1")}}),
        answer_headers={"Content-Type": "application/json"},
    )
    d.exchange(6, APP_A, CODE_1, f"{CB}/")
    f = only(tmp_path, d, shape)
    assert (f["cause"], f["confidence"]) == ("redirect_uri_mismatch", "certain")
    assert linked(f) == [("authorize", first)]
