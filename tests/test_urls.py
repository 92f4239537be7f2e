"""URLs that `urllib.parse` refuses still split, match nothing and are said to be malformed."""

from __future__ import annotations

import pytest

from qbtrace.profile import Profile
from qbtrace.urls import join, malformed, port, split, without_userinfo

BAD = [
    "https://[::1/oauth2/v1/tokens/bearer",
    "https://u:p@[oauth.platform.intuit.com/oauth2/v1/tokens/bearer?x=1",
    "https://oauth.platform.intuit.com]/oauth2/v1/tokens/bearer",
]


@pytest.mark.parametrize("url", BAD)
def test_an_unclosed_bracket_splits_and_matches_no_endpoint(url: str) -> None:
    assert malformed(url)
    assert split(url).path.endswith("/oauth2/v1/tokens/bearer")
    assert Profile().kind_of("POST", url) is None
    assert join(url, "/callback") == "/callback"


def test_a_port_that_is_no_port() -> None:
    url = "https://oauth.platform.intuit.com:99999999/oauth2/v1/tokens/bearer"
    assert malformed(url) and port(split(url)) is None
    assert port(split("https://[::1]:8443/x")) == 8443 and not malformed("https://[::1]:8443/x")


def test_userinfo_is_dropped_from_a_netloc() -> None:
    assert without_userinfo("user:pa@ss@host:8443") == "host:8443"
    assert without_userinfo("host") == "host"
