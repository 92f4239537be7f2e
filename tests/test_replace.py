"""Every spelling of every collected value, replaced in one pass (qbtrace/scrub/replace.py)."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from qbtrace.scrub.replace import Replacer


def test_every_spelling_of_a_value_is_replaced_in_one_pass() -> None:
    secret = "s3cr3t/Value+with=odd&chars"
    spelled = [
        secret,
        quote(secret, safe=""),
        re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
        quote_plus(secret),
        quote(quote(secret, safe=""), safe=""),
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode(),
        base64.b64encode(b"xy" + secret.encode() + b"tail").decode(),  # inside a longer run
    ]
    text = " | ".join(spelled)
    r = Replacer()
    r.add(secret, "f" * len(secret), "cookie")
    out = r.text(text)
    for form in spelled[:-1]:
        assert form not in out, form
    assert base64.b64encode(secret.encode()).decode()[:8] not in out
    assert sum(r.counts.values()) == len(spelled)


def test_longest_match_wins_and_lone_surrogates_are_kept() -> None:
    r = Replacer()
    r.add("abcdef123", "XXXXXXXXX", "a")
    r.add("abcdef123456", "YYYYYYYYYYYY", "b")
    assert r.text("_abcdef123456_abcdef123_") == "_YYYYYYYYYYYY_XXXXXXXXX_"
    assert r.text("\ud800abcdef123\udfff") == "\ud800XXXXXXXXX\udfff"
    unchanged = "nothing to see here"
    assert r.text(unchanged) is unchanged


TOKENS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-._~+/=%", min_size=6, max_size=40
)


def spelled(value: str, how: int) -> str:
    forms = (
        value,
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value)[1:-1],
        base64.b64encode(value.encode()).decode(),
    )
    return forms[how]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(TOKENS, min_size=1, max_size=8, unique=True),
    st.text(max_size=200),
    st.data(),
)
def test_no_collected_value_survives_in_any_spelling(
    secrets: list[str], noise: str, data: st.DataObject
) -> None:
    r = Replacer()
    for s in secrets:
        r.add(s, "#" * len(s), "x")
    pieces = [noise]
    for s in secrets:
        pieces.append(spelled(s, data.draw(st.integers(0, 4))))
        pieces.append(data.draw(st.text(alphabet=" ,;&", min_size=1, max_size=3)))
    out = r.text("".join(pieces))
    for s in secrets:
        # a value can only survive as part of the noise, never where it was spelled
        assert out.count(s) <= noise.count(s), (s, out)


def test_a_value_holding_a_lone_surrogate_is_replaced_piece_by_piece() -> None:
    r = Replacer()
    r.add("abc\ud800defghij123", "XYZ\ud800QRSTUVW999", "cookie")
    assert r.text("sid=abc\ud800defghij123;") == "sid=abc\ud800QRSTUVW999;"
