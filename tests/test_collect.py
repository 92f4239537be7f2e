"""Collecting secrets by where they stand (qbtrace/scrub/collect.py): each role's values,
then every occurrence replaced, with OAuth shapes kept."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from qbtrace.redact import Redactor
from qbtrace.scrub.collect import Collector
from qbtrace.scrub.replace import Replacer
from qbtrace.scrub.standin import StandIns


def sanitized(text: str, collect: Callable[[Collector], None]) -> tuple[str, Replacer]:
    c = Collector(StandIns(Redactor(b"k")))
    collect(c)
    r = c.replacer()
    return r.text(text), r


def test_basic_header_keeps_client_id_and_stays_valid_base64() -> None:
    value = "Basic " + base64.b64encode(b"ABclientId123:topsecretvalue99").decode()
    out, r = sanitized(value, lambda c: c.header("Authorization", value))
    client_id, _, secret = base64.b64decode(out[6:], validate=True).decode().partition(":")
    assert client_id == "ABclientId123" and secret != "topsecretvalue99" and len(secret) == 16
    assert r.counts["client_secret"] == 1
    cookie = "sid=abcdefgh12345678; theme=x"
    out, _ = sanitized(cookie, lambda c: c.header("Cookie", cookie))
    assert "abcdefgh12345678" not in out and out.startswith("sid=") and out.endswith("theme=x")


@pytest.mark.parametrize(
    ("header", "value", "secrets"),
    [
        ("Authorization", "Bearer abcDEF123456ghiJKL", ["abcDEF123456ghiJKL"]),
        ("authorization", "bare-token-without-scheme-1234", ["bare-token-without-scheme-1234"]),
        ("Proxy-Authorization", "Negotiate YIIBhgYGKwYBBQUCoIIBejCC", ["YIIBhgYGKwYBBQUCoIIBejCC"]),
        (
            "Authorization",
            'Digest username="me", nonce="dcd98b7102dd2f0e", response="6629fae49393a053"',
            ["dcd98b7102dd2f0e", "6629fae49393a053"],
        ),
        ("Cookie", "a=first111aaa;b=second222bbb ;  c=third333ccc", ["first111aaa", "third333ccc"]),
        (
            "Set-Cookie",
            "sid=one111111aaa; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT, "
            "other=two222222bbb; HttpOnly\nthird=three3333ccc; Secure",
            ["one111111aaa", "two222222bbb", "three3333ccc"],
        ),
        ("X-Api-Key", "AIzaSyD-1234567890abcdef", ["AIzaSyD-1234567890abcdef"]),
        ("x-goog-api-key", "AIzaSyZ-0987654321fedcba", ["AIzaSyZ-0987654321fedcba"]),
        ("Location", "https://app.test/cb#access_token=frag123456tok&x=1", ["frag123456tok"]),
        (
            "Referer",
            "https://user:pa55w0rd99@host.test/p?apikey=zz99zz99zz",
            ["pa55w0rd99", "zz99zz99zz"],
        ),
        ("X-Trace", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", ["c2lnbmF0dXJl"]),
    ],
)
def test_each_role_is_collected_and_replaced(header: str, value: str, secrets: list[str]) -> None:
    def collect(c: Collector) -> None:
        c.header(header, value)
        c.jwts(value)

    out, r = sanitized(value, collect)
    for secret in secrets:
        assert secret not in out, (secret, out)
    assert sum(r.counts.values()) >= 1


def test_cookie_attributes_and_plain_words_stay() -> None:
    value = "sid=one111111aaa; Path=/; Domain=.example.test; SameSite=Lax; theme=darkmode"
    out, _ = sanitized(value, lambda c: c.header("Set-Cookie", value))
    assert "Path=/; Domain=.example.test; SameSite=Lax" in out and "one111111aaa" not in out


def test_client_ids_stay_even_where_random_looking() -> None:
    client_id = "ABq3devKeysXk2N7pLw9Rt4Yv8Zc1Hs6Jd0Fg5Mn3Bq7Ux2Ew9Ti"
    url = f"https://appcenter.intuit.com/connect/oauth2?client_id={client_id}&state=St8t3Value99"
    out, _ = sanitized(url, lambda c: c.url(url))
    assert client_id in out and "St8t3Value99" not in out


def test_fields_in_bodies_of_any_type() -> None:
    body = (
        ')]}\'\n{"data": {"accessToken": "tok-aaaa1111"}, "n": 1\n'
        '<password>xml-pass-2222</password> <input name="csrf" value="csrf-3333cc">'
        "\nX-Api-Key: line-key-4444\n"
        '--b\r\nContent-Disposition: form-data; name="api_key"\r\n\r\nmulti-5555\r\n--b--'
        '\nkey: "header", type: "content-type"'
    )
    out, _ = sanitized(body, lambda c: c.text(body))
    for secret in ("tok-aaaa1111", "xml-pass-2222", "csrf-3333cc", "line-key-4444", "multi-5555"):
        assert secret not in out, secret
    assert 'key: "header", type: "content-type"' in out  # code, not secrets


def test_json_escaped_once_more_in_a_script_or_an_attribute() -> None:
    body = (
        'var cfg = "{\\"apiKey\\":\\"js-escaped-1234\\"}";'
        '<div data-config="{&quot;session_token&quot;:&quot;attr-escaped-5678&quot;}">'
    )
    out, _ = sanitized(body, lambda c: c.text(body))
    assert "js-escaped-1234" not in out and "attr-escaped-5678" not in out


def test_a_cookie_that_holds_a_host_or_a_content_type_leaves_them_alone() -> None:
    url = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    cookie = "last=oauth.platform.intuit.com; kind=application/x-www-form-urlencoded"
    text = f"{url} | content-type: application/x-www-form-urlencoded | {cookie}"

    def collect(c: Collector) -> None:
        c.url(url)
        c.header("Content-Type", "application/x-www-form-urlencoded")
        c.header("Cookie", cookie)

    out, _ = sanitized(text, collect)
    assert out == text


def test_a_word_is_a_secret_where_a_credential_name_says_so_not_in_a_cookie() -> None:
    text = "X-Api-Key: secret-key | theme=darkmode"

    def collect(c: Collector) -> None:
        c.header("X-Api-Key", "secret-key")
        c.header("Cookie", "theme=darkmode")

    out, _ = sanitized(text, collect)
    assert "secret-key" not in out and "darkmode" in out
