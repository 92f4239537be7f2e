"""Candidate secrets in any text (qbtrace/scrub/find.py): JWTs, random-looking values, and
fields in every syntax a body comes in."""

from __future__ import annotations

import pytest

from qbtrace.scrub.find import fields, jwts, opaque, secret_fields

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0T"


def test_jwts_wherever_they_stand() -> None:
    text = f"at Object.f (https://x.test/a.js?t={JWT}:1:2) and 'Bearer {JWT}'"
    assert list(jwts(text)) == [JWT, JWT]
    assert not list(jwts("eyJ alone. not.a.jwt"))


@pytest.mark.parametrize(
    ("value", "random"),
    [
        ("AKIA4EXAMPLE7QWERTY12345ZXCV", True),
        ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", True),
        ("d41d8cd98f00b204e9800998ecf8427e", True),  # a hex digest is replaced too: harmless
        ("com.intuit.quickbooks.accounting", False),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa11", False),
        ("/static/js/main.chunk.js/more/path", False),
        ("2024-01-01T00:00:00.000Z-2024-01-02", False),
        ("short1A", False),
    ],
)
def test_random_looking_values(value: str, random: bool) -> None:
    assert opaque(value) is random


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ('while(1);{"api_key":"k-123456"}', ("api_key", "k-123456")),
        ('{"a": {"session_id" : "s\\u002d1234567"}}', ("session_id", "s-1234567")),
        ("{'sig': 'abc123def'}", ("sig", "abc123def")),
        ('config = {apiKey: "AIza-123456"}', ("apiKey", "AIza-123456")),
        ("a=1&access_token=at%2B123456&b=2", ("access_token", "at+123456")),
        ("<SessionToken>tok123456</SessionToken>", ("SessionToken", "tok123456")),
        (
            '<input type="hidden" name="authenticity_token" value="AbC123==">',
            ("authenticity_token", "AbC123=="),
        ),
        ('<meta content="mtok123456" name="csrf-token">', ("csrf-token", "mtok123456")),
        (
            'Content-Disposition: form-data; name="password"\r\n\r\nhunter2hunter\r\n',
            ("password", "hunter2hunter"),
        ),
        ("X-Api-Key: line123456", ("X-Api-Key", "line123456")),
        ('{"event":"x"}\n{"token":"nd-json-123456"}\n', ("token", "nd-json-123456")),
    ],
)
def test_fields_in_every_syntax(text: str, pair: tuple[str, str]) -> None:
    assert pair in list(fields(text))
    assert pair in list(secret_fields(text))


def test_only_secret_names_or_random_values_are_secret_fields() -> None:
    text = '{"name": "widget123", "color": "blue", "id": "Zq8xK2mP9vL4nR7tY1wB3cD6"}'
    assert list(secret_fields(text)) == [("id", "Zq8xK2mP9vL4nR7tY1wB3cD6")]
