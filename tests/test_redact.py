"""Keyed tags (qbtrace/redact.py): the fast paths give exactly what the plain definitions give."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qbtrace.redact import (
    HEAD_LENGTHS,
    PLACEHOLDERS,
    QUOTES,
    TAG_HEX,
    Redactor,
    canonical,
    redact_text,
)

KEY = b"test-redact-key"
SPACE = re.compile(r"\s")


def plain_canonical(value: str) -> tuple[str, tuple[str, ...]]:
    """`canonical` as first written: every step on every value."""
    defects: list[str] = []
    text = value
    if text != text.strip():
        defects.append("whitespace")
        text = text.strip()
    while len(text) >= 2 and text[0] in QUOTES and text[-1] == text[0]:
        defects.append("quoted")
        text = text[1:-1].strip()
    for _ in range(3):
        decoded = unquote(text) if "%" in text else text
        if decoded == text:
            break
        defects.append("percent-encoded")
        text = decoded
    if SPACE.search(text):
        defects.append("inner-whitespace")
        text = SPACE.sub("", text)
    if not text:
        defects.append("empty")
    elif text.lower() in PLACEHOLDERS:
        defects.append("placeholder")
    return text, tuple(dict.fromkeys(defects))


def plain_digest(value: str) -> str:
    key = hashlib.blake2b(KEY, digest_size=32).digest()
    data = value.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, key=key, digest_size=8).hexdigest()[:TAG_HEX]


# tokens as issued, and the ways apps damage them (quotes, spaces, %, placeholders, non-ASCII)
pieces = st.sampled_from(
    ["eyJ", "RT1-", "AB11", "x" * 40, " ", "\t", "\n", "\u00a0", '"', "'", "`", "%", "%20",
     "%2520", "+", "é", "\ud800", "null", "Undefined", "[object Object]", "=", "."]
)  # fmt: skip
values = st.one_of(
    st.text(max_size=80),
    st.lists(pieces, max_size=12).map("".join),
    st.sampled_from([*PLACEHOLDERS, "NULL", " none ", "'undefined'", "İ" * 8, ""]),
)


@given(values)
def test_canonical_matches_the_plain_definition(value: str) -> None:
    assert canonical(value) == plain_canonical(value)


@given(values, st.sampled_from(["rt", "at", "code", "secret", "id"]))
def test_secret_digests_match_one_hash_per_value(value: str, kind: str) -> None:
    made = Redactor(KEY).secret(kind, value)
    canon, _ = plain_canonical(value)
    assert made.tag == f"{kind}:{plain_digest(value)}"
    assert made.canon == plain_digest(canon)
    assert made.heads == tuple(
        (n, plain_digest(canon[:n])) for n in HEAD_LENGTHS if n <= len(canon)
    )
    assert made.length == len(canon)


def test_long_token_gets_every_head_and_equal_tags_for_equal_values() -> None:
    redactor = Redactor(KEY)
    token = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + "a" * 900
    made = redactor.secret("at", token)
    assert [n for n, _ in made.heads] == list(HEAD_LENGTHS)
    assert made.hex == made.canon and not made.defects
    assert Redactor(KEY).secret("at", token) == made
    quoted = redactor.secret("at", f'"{token}"')
    assert quoted.canon == made.canon and quoted.hex != made.hex and quoted.defects == ("quoted",)


def test_the_ascii_alterable_characters_are_exactly_what_canonical_may_undo() -> None:
    from qbtrace.redact import ASCII_ALTERABLE

    undone = {
        chr(c)
        for c in range(128)
        if chr(c).isspace() or SPACE.match(chr(c)) or chr(c) in QUOTES or chr(c) == "%"
    }
    assert set(ASCII_ALTERABLE) == undone


def test_remember_makes_a_value_once_per_raw_input() -> None:
    redactor = Redactor(KEY)
    made: list[str] = []

    def make(value: str) -> str:
        made.append(value)
        return value.upper()

    assert redactor.remember("basic", "abc", lambda: make("abc")) == "ABC"
    assert redactor.remember("basic", "abc", lambda: make("abc")) == "ABC"
    assert redactor.remember("other", "abc", lambda: make("abc")) == "ABC"
    assert made == ["abc", "abc"]


LETTERS_ONLY = "QwErTyUiOpAsDfGhJkLzXcVbNmQwErTyUiOpAsDf"
MIXED = "RT1-78-H0-1804695973zol307gm4ieafvk0ej1l"


@pytest.mark.parametrize(
    "text, planted",
    [
        (f"Refresh token not found: {MIXED}", MIXED),
        (f"token {LETTERS_ONLY} expired", LETTERS_ONLY),
        (f"token {LETTERS_ONLY.lower()} expired", LETTERS_ONLY.lower()),
        ("token AB11cd34 ef56gh78\nij90kl12mn34 is bad", "ef56gh78"),
        (f"token%3A%20{quote(MIXED, safe='')}%20refused", "1804695973"),
        (f"url /callback?code={MIXED}&state=x", MIXED),
        ("proxy https://app:hunter2@proxy.example.test:3128 refused", "hunter2"),
    ],
)
def test_free_text_loses_its_secrets(text: str, planted: str) -> None:
    said = redact_text(text)
    assert planted not in said and "[redacted]" in said


@pytest.mark.parametrize(
    "text",
    [
        "Token invalid",
        "Incorrect or invalid refresh token",
        "Authentication failed: AuthorizationCodeExpired",
        "see https://developer.example.test/app/docs/develop/authentication-and-authorization",
        "invalid_grant at 2026-12-02T01:27:09Z (x_refresh_token_hard_expires_in)",
        "scope com.example.accounting openid profile email",
    ],
)
def test_provider_words_and_urls_stay_readable(text: str) -> None:
    assert redact_text(text) == text


def test_a_cut_leaves_no_prefix_of_a_token() -> None:
    for pad in range(0, 60, 7):
        text = "x" * (2000 - pad) + " " + MIXED * 20
        said = redact_text(text)
        assert "RT1" not in said and said.endswith("[...]") and len(said) <= 500
    assert redact_text("q" * 5000) == "[...]"


@settings(max_examples=100, deadline=None)
@given(
    before=st.text(alphabet=" abcdefgh.,:", max_size=600),
    after=st.text(alphabet=" abcdefgh.,:", max_size=600),
    sep=st.sampled_from(["", " ", "\n"]),
)
def test_a_planted_token_never_survives_nor_its_prefix(before: str, after: str, sep: str) -> None:
    token = "AB11" + "Zq9x" * 8
    said = redact_text(f"{before} {token[:18]}{sep}{token[18:]} {after}")
    assert "AB11Zq9x" not in said and token[-12:] not in said
    assert len(said) <= 500
