"""Keyed same-shape stand-ins (qbtrace/scrub/standin.py)."""

from __future__ import annotations

from qbtrace.redact import Redactor, canonical
from qbtrace.scrub.standin import StandIns

TOKEN = "RT1-51-H0-18046958812h4z97xdc8twnc6d8qzrABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def test_equal_values_stay_equal_and_truncations_stay_prefixes() -> None:
    s = StandIns(Redactor(b"k"))
    fake = s.value(TOKEN)
    assert fake == s.value(TOKEN) and fake != TOKEN and len(fake) == len(TOKEN)
    assert s.value(TOKEN[:40]) == fake[:40]
    assert s.value(f' "{TOKEN}"\n') == f' "{fake}"\n'
    assert canonical(s.value(TOKEN + "%3D"))[1] == ("percent-encoded",)
    assert s.value("undefined") == "undefined"
    assert s.value("eyJhbGciOi.xyz").startswith("eyJ")


def test_the_key_decides_the_stand_in_and_punctuation_stays() -> None:
    one, other = StandIns(Redactor(b"one")), StandIns(Redactor(b"other"))
    assert one.core(TOKEN) != other.core(TOKEN)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVl"
    fake = one.core(jwt)
    assert fake.startswith("eyJ") and fake.count(".") == 2 and len(fake) == len(jwt)
    assert [i for i, c in enumerate(fake) if c == "."] == [i for i, c in enumerate(jwt) if c == "."]
