"""The HAR reader on a real-client capture edited into each exporter's quirks.

Every test starts from the golden `mixed.har` (mitmproxy `hardump` of real Python and Node
clients) and changes only what the named exporter changes, then checks the `Exchange` the
reader makes of it against the one it makes of the untouched file.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from qbtrace.model import Exchange, Input, Kind
from qbtrace.profile import Profile
from qbtrace.redact import Redactor, Secret
from qbtrace.sources import read_input
from tests.conftest import GOLDEN
from tests.exporters import chrome_sanitized, fiddler, firefox, write

MIXED = GOLDEN / "mixed.har"
AUTHORIZE = 1
CODE_EXCHANGE = 2  # authorization_code grant, 200, Basic credentials, form body
FAILED_REFRESH = 13  # refresh_token grant, 400 invalid_grant
REVOKE = 14  # JSON body {"token": ...}
MATCHING = [1, 2, 4, 5, 7, 8, 9, 10, 11, 13, 14, 16, 18, 20, 21, 22]
KEY = b"qbtrace-tests"


def mixed() -> dict[str, Any]:
    har: dict[str, Any] = json.loads(MIXED.read_text())
    return har


def read(tmp_path: Path, har: dict[str, Any] | bytes, *, bom: bool = False) -> Input:
    path = tmp_path / "input.har"
    if isinstance(har, bytes):
        path.write_bytes(har)
    else:
        write(har, path, bom=bom)
    return read_input(path, "input.har", Profile(), Redactor(KEY))


def at(got: Input, index: int) -> Exchange:
    (found,) = [e for e in got.exchanges if e.ref.index == index]
    return found


@pytest.fixture(scope="module")
def original() -> Input:
    return read_input(MIXED, "input.har", Profile(), Redactor(KEY))


def entry(har: dict[str, Any], index: int) -> dict[str, Any]:
    found: dict[str, Any] = har["log"]["entries"][index]
    return found


def test_golden_capture_reads_every_oauth_entry_in_place(original: Input) -> None:
    assert original.kind == "har"
    assert original.entries == 23  # the OpenID discovery GETs count, though none is kept
    assert [e.ref.index for e in original.exchanges] == MATCHING
    assert original.warnings == ()
    refresh = at(original, FAILED_REFRESH)
    assert refresh.kind == Kind.TOKEN
    assert refresh.status == 400
    assert refresh.reply == {"error": "invalid_grant"}
    assert refresh.params["grant_type"] == "refresh_token"
    assert isinstance(refresh.params["refresh_token"], Secret)
    assert refresh.client is not None
    assert refresh.client.client_id == "ABp7prodKeysRm4Tq8Wz2Xc6Vb1Nh5Jk9Lf3Gd7Sa0Pe4Ou8Iy2R"
    assert refresh.headers["intuit_tid"] == "1-6b0dcdd6-85f7795240b64616b1207543"


def test_index_is_the_position_in_log_entries_not_among_matches(
    tmp_path: Path, original: Input
) -> None:
    har = mixed()
    unrelated = copy.deepcopy(entry(har, 0))  # an OpenID discovery GET
    har["log"]["entries"][:0] = [unrelated, copy.deepcopy(unrelated)]
    got = read(tmp_path, har)
    assert got.entries == 25
    assert [e.ref.index for e in got.exchanges] == [i + 2 for i in MATCHING]
    assert at(got, FAILED_REFRESH + 2).params == at(original, FAILED_REFRESH).params


def test_unrelated_and_wrong_method_entries_are_skipped_silently(tmp_path: Path) -> None:
    har = mixed()
    # a GET on the token endpoint is not a token request (a browser poking the URL)
    entry(har, CODE_EXCHANGE)["request"]["method"] = "GET"
    got = read(tmp_path, har)
    assert got.entries == 23
    assert CODE_EXCHANGE not in [e.ref.index for e in got.exchanges]
    assert len(got.exchanges) == len(MATCHING) - 1
    assert got.warnings == ()


def test_chrome_pseudo_headers_lowercase_names_and_base64_content(
    tmp_path: Path, original: Input
) -> None:
    shaped = chrome_sanitized(mixed())
    content = entry(shaped, CODE_EXCHANGE)["response"]["content"]
    assert content["encoding"] == "base64"  # the shape under test really is there
    # Chrome "with sensitive data": Authorization kept, lowercase, after the pseudo-headers
    basic = next(
        h["value"]
        for h in entry(mixed(), CODE_EXCHANGE)["request"]["headers"]
        if h["name"] == "Authorization"
    )
    entry(shaped, CODE_EXCHANGE)["request"]["headers"].append(
        {"name": "authorization", "value": basic}
    )
    got = at(read(tmp_path, shaped), CODE_EXCHANGE)
    want = at(original, CODE_EXCHANGE)
    assert got.reply == want.reply  # base64 JSON decoded: tokens tagged, expiry kept
    assert got.reply["expires_in"] == 3600
    assert got.params == want.params
    assert got.headers == want.headers
    assert not any(name.startswith(":") for name in got.headers)
    assert got.client == want.client
    assert got.url == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"


def test_chrome_sanitized_export_warns_that_client_ids_are_unknown(tmp_path: Path) -> None:
    got = read(tmp_path, chrome_sanitized(mixed()))
    tokens = [e for e in got.exchanges if e.kind == Kind.TOKEN]
    assert tokens
    assert all(e.client is not None and e.client.via == "none" for e in tokens)
    assert all("client-auth-missing" in e.gaps for e in tokens)
    (warning,) = got.warnings
    assert "authorization headers are missing from all token requests" in warning
    assert "Chrome's sanitized export" in warning


def test_credentials_missing_elsewhere_warns_without_blaming_chrome(tmp_path: Path) -> None:
    har = mixed()
    for item in har["log"]["entries"]:
        headers = item["request"]["headers"]
        headers[:] = [h for h in headers if h["name"] != "Authorization"]
    (warning,) = read(tmp_path, har).warnings
    assert "authorization headers are missing" in warning
    assert "Chrome" not in warning


def test_no_sanitized_warning_while_one_token_request_has_credentials(tmp_path: Path) -> None:
    har = chrome_sanitized(mixed())
    basic = next(
        h
        for h in entry(mixed(), FAILED_REFRESH)["request"]["headers"]
        if h["name"] == "Authorization"
    )
    entry(har, FAILED_REFRESH)["request"]["headers"].append(basic)
    got = read(tmp_path, har)
    assert got.warnings == ()
    assert "client-auth-missing" not in at(got, FAILED_REFRESH).gaps
    assert "client-auth-missing" in at(got, CODE_EXCHANGE).gaps


def test_fiddler_params_without_text_and_bom(tmp_path: Path, original: Input) -> None:
    shaped = fiddler(mixed())
    post = entry(shaped, FAILED_REFRESH)["request"]["postData"]
    assert "text" not in post
    got = read(tmp_path, shaped, bom=True)
    for index in (CODE_EXCHANGE, FAILED_REFRESH):
        assert at(got, index).params == at(original, index).params
        assert "request-body-missing" not in at(got, index).gaps
    # the redirect_uri was percent-encoded in text; params hold it decoded, as sent
    assert at(got, CODE_EXCHANGE).params["redirect_uri"] == "https://app.example.test/callback"


def test_firefox_text_and_params_both_set_count_once(tmp_path: Path, original: Input) -> None:
    got = at(read(tmp_path, firefox(mixed())), CODE_EXCHANGE)
    assert got.params == at(original, CODE_EXCHANGE).params
    assert list(got.params) == ["grant_type", "code", "redirect_uri"]


def test_text_wins_over_params_that_disagree(tmp_path: Path) -> None:
    har = mixed()
    post = entry(har, FAILED_REFRESH)["request"]["postData"]
    post["params"] = [{"name": "grant_type", "value": "client_credentials"}]
    got = at(read(tmp_path, har), FAILED_REFRESH)
    assert got.params["grant_type"] == "refresh_token"


def test_firefox_local_offset_time_is_the_same_instant(tmp_path: Path) -> None:
    har = mixed()
    entry(har, FAILED_REFRESH)["startedDateTime"] = "2026-11-30T19:26:14.048Z"
    entry(har, FAILED_REFRESH)["time"] = 250
    utc = at(read(tmp_path, har), FAILED_REFRESH)
    entry(har, FAILED_REFRESH)["startedDateTime"] = "2026-11-30T20:26:14.048+01:00"
    local = at(read(tmp_path, har), FAILED_REFRESH)
    assert local.started == utc.started == pytest.approx(1_796_066_774.048)
    assert local.ended == pytest.approx(1_796_066_774.298)


def test_firefox_shape_keeps_times_to_the_millisecond(tmp_path: Path, original: Input) -> None:
    got = read(tmp_path, firefox(mixed()))
    for index in MATCHING:
        want = at(original, index).started
        assert want is not None
        assert at(got, index).started == pytest.approx(want, abs=1e-3)


@pytest.mark.parametrize("time", [None, "fast", -1])
def test_missing_or_unusable_time_leaves_no_end(tmp_path: Path, time: object) -> None:
    har = mixed()
    if time is None:
        del entry(har, FAILED_REFRESH)["time"]
    else:
        entry(har, FAILED_REFRESH)["time"] = time
    got = at(read(tmp_path, har), FAILED_REFRESH)
    assert got.started == pytest.approx(1_796_066_774.04851)
    assert got.ended is None
    assert got.status == 400


def test_naive_start_time_is_unknown_not_guessed(tmp_path: Path) -> None:
    har = mixed()
    entry(har, FAILED_REFRESH)["startedDateTime"] = "2026-11-30T19:26:14.048"
    got = at(read(tmp_path, har), FAILED_REFRESH)
    assert got.started is None
    assert got.ended is None


def test_base64_post_data_with_encoding(tmp_path: Path, original: Input) -> None:
    # HAR 1.3 `postData.encoding`; Reqable writes plain form bodies this way (reqable-app#767)
    har = mixed()
    post = entry(har, FAILED_REFRESH)["request"]["postData"]
    post["text"] = base64.b64encode(post["text"].encode()).decode()
    post["encoding"] = "base64"
    del post["params"]
    got = at(read(tmp_path, har), FAILED_REFRESH)
    assert got.params == at(original, FAILED_REFRESH).params


def test_post_data_that_claims_base64_but_is_not_is_a_gap(tmp_path: Path) -> None:
    har = mixed()
    post = entry(har, FAILED_REFRESH)["request"]["postData"]
    post["encoding"] = "base64"  # the text is a plain form body
    got = at(read(tmp_path, har), FAILED_REFRESH)
    assert got.params == {}
    assert "request-body-bad-base64" in got.gaps
    assert got.status == 400


def test_response_content_that_claims_base64_but_is_not_warns(tmp_path: Path) -> None:
    har = mixed()
    entry(har, FAILED_REFRESH)["response"]["content"]["encoding"] = "base64"
    got = read(tmp_path, har)
    refresh = at(got, FAILED_REFRESH)
    assert refresh.reply == {}
    assert "response-body-bad-base64" in refresh.gaps
    assert f"entry {FAILED_REFRESH}: response body is not valid base64; ignored" in got.warnings


def test_playwright_attachments_are_gaps_not_crashes(tmp_path: Path, original: Input) -> None:
    # Playwright `content: "attach"` moves bodies into files beside the HAR
    har = mixed()
    item = entry(har, FAILED_REFRESH)
    item["request"]["postData"] = {
        "mimeType": "application/x-www-form-urlencoded",
        "_file": "3f1c0e5a9b7d.txt",
    }
    item["response"]["content"] = {
        "size": 25,
        "mimeType": "application/json;charset=utf-8",
        "_file": "9a8b7c6d5e4f.json",
    }
    got = at(read(tmp_path, har), FAILED_REFRESH)
    assert got.status == 400
    assert got.params == {}
    assert got.reply == {}
    assert "request-body-in-attachment" in got.gaps
    assert "response-body-in-attachment" in got.gaps
    assert got.headers == at(original, FAILED_REFRESH).headers


@pytest.mark.parametrize(
    ("where", "field"),
    [("entry", "_error"), ("entry", "_failureText"), ("response", "_error")],
)
def test_failed_exchange_has_no_response_and_says_why(
    tmp_path: Path, where: str, field: str
) -> None:
    # mitmproxy hardump writes `_error` with status 0; Playwright writes `_failureText`
    har = mixed()
    item = entry(har, FAILED_REFRESH)
    item["response"].update(status=0, statusText="", headers=[], content={"size": 0, "text": ""})
    (item if where == "entry" else item["response"])[field] = "Connection killed."
    got = at(read(tmp_path, har), FAILED_REFRESH)
    assert got.status is None
    assert got.failure == "Connection killed."
    assert got.reply == {}
    assert not got.ok
    assert isinstance(got.params["refresh_token"], Secret)


def test_error_field_beside_a_real_response_is_not_a_failure(tmp_path: Path) -> None:
    har = mixed()
    entry(har, FAILED_REFRESH)["_error"] = "stale note from the exporter"
    got = at(read(tmp_path, har), FAILED_REFRESH)
    assert got.status == 400
    assert got.failure is None
    assert got.reply == {"error": "invalid_grant"}


def test_header_pairs_as_lists(tmp_path: Path, original: Input) -> None:
    # Slack's HAR exports write headers as [name, value]
    har = mixed()
    for part in ("request", "response"):
        item = entry(har, FAILED_REFRESH)[part]
        item["headers"] = [[h["name"], h["value"]] for h in item["headers"]]
    got = at(read(tmp_path, har), FAILED_REFRESH)
    want = at(original, FAILED_REFRESH)
    assert got.headers == want.headers
    assert got.client == want.client


def test_truncated_file_is_salvaged_with_a_warning(tmp_path: Path, original: Input) -> None:
    data = json.dumps(mixed(), indent=1).encode()
    # cut inside entry 14, the revoke
    cut = data.index(b'"url": "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"')
    got = read(tmp_path, data[:cut])
    assert got.entries == REVOKE  # entries 0..13 parse
    assert [e.ref.index for e in got.exchanges] == [i for i in MATCHING if i < REVOKE]
    (warning,) = got.warnings
    assert warning.startswith("the file is damaged")
    assert "read the 14 entries that still parse" in warning
    assert at(got, FAILED_REFRESH) == at(original, FAILED_REFRESH)


@pytest.mark.parametrize(
    "request_head",
    [
        {"method": 7},
        {"method": None},
        {"url": ["https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"]},
    ],
)
def test_entries_with_a_wrong_type_method_or_url_are_skipped_with_a_warning(
    tmp_path: Path, request_head: dict[str, object]
) -> None:
    har = mixed()
    entry(har, FAILED_REFRESH)["request"].update(request_head)
    har["log"]["entries"].append("not an entry")
    got = read(tmp_path, har)
    assert got.entries == 24
    assert FAILED_REFRESH not in [e.ref.index for e in got.exchanges]
    assert len(got.exchanges) == len(MATCHING) - 1
    assert "2 entries have no readable request method/url and were skipped" in got.warnings


@pytest.mark.parametrize(
    "wrap",
    [
        lambda text: b"onInputData(" + text + b");",  # HAR Viewer's HARP, as its examples are
        lambda text: b"onInputData (\n" + text + b"\n)\n",
        lambda text: b"  harp.cb(" + text + b")",
    ],
)
def test_harp_padding_reads_like_the_bare_har(tmp_path: Path, original: Input, wrap: Any) -> None:
    got = read(tmp_path, wrap(MIXED.read_bytes()))
    assert got.entries == original.entries and got.exchanges == original.exchanges


def test_harp_padding_never_closed_is_read_as_a_damaged_har(
    tmp_path: Path, original: Input
) -> None:
    got = read(tmp_path, b"onInputData(" + MIXED.read_bytes())
    assert got.exchanges == original.exchanges
    assert any(w.startswith("the file is damaged") for w in got.warnings)


def _both_ways(data: bytes) -> tuple[Input, Input]:
    """The one-pass reading of a HAR and the entry-by-entry one it falls back to."""
    from qbtrace.config import load_profile
    from qbtrace.redact import default_key
    from qbtrace.sources import har

    profile, redactor = load_profile(None, local=False), Redactor(default_key())
    one_pass = har.read_har(data, "x.har", profile, redactor)
    return one_pass, har._read_spans(data, "x.har", profile, redactor)


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.har")), ids=lambda p: p.name)
def test_the_one_pass_reading_reads_what_the_entry_by_entry_one_reads(path: Path) -> None:
    one_pass, by_entry = _both_ways(path.read_bytes().removeprefix(b"\xef\xbb\xbf"))
    assert one_pass == by_entry


def test_the_one_pass_reading_of_awkward_entries() -> None:
    """Bytes that are not UTF-8 in a token answer, explicit nulls, a repeated key, unknown
    fields: the same as decoding each entry whole; an entry without a request (which the
    one-pass decoding refuses) is skipped with the warning, as before."""
    har = json.loads(MIXED.read_text())
    entries = har["log"]["entries"]
    entries[FAILED_REFRESH]["_error"] = None
    entries[FAILED_REFRESH]["_custom"] = {"request": {"method": "GET", "url": "x"}}
    text = json.dumps(har).encode()
    assert b"invalid_grant" in text
    text = text.replace(b"invalid_grant", b"invalid_\xff_grant")
    text = text.replace(b'"request": {', b'"request": {"method": "PUT"}, "request": {', 1)
    one_pass, by_entry = _both_ways(text)
    assert one_pass == by_entry and len(one_pass.exchanges) == len(MATCHING)
    del entries[0]["request"]
    one_pass, by_entry = _both_ways(json.dumps(har).encode())
    assert one_pass == by_entry
    assert "1 entries have no readable request method/url and were skipped" in one_pass.warnings
