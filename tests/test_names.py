"""Which names mean a secret (qbtrace/scrub/names.py): every spelling and case of a secret's
name, and none of the names that only describe one."""

from __future__ import annotations

import pytest

from qbtrace.scrub.names import is_secret_name

SECRET = [
    "api_key",
    "apikey",
    "apiKey",
    "API-KEY",
    "key",
    "sig",
    "sid",
    "session_id",
    "sessionId",
    "accessToken",
    "access_token",
    "X-Api-Key",
    "x-goog-api-key",
    "X-Auth-Token",
    "x-csrf-token",
    "X-XSRF-TOKEN",
    "JSESSIONID",
    "PHPSESSID",
    "connect.sid",
    "password",
    "client_secret",
    "refresh_token",
    "id_token",
    "code",
    "state",
    "Authorization",
    "Proxy-Authorization",
    "x-amz-security-token",
    "secretKey",
    "private_key",
    "jwt",
    "signature",
    "auth",
]
NOT_SECRET = [
    "token_type",
    "expires_in",
    "x_refresh_token_expires_in",
    "client_id",
    "redirect_uri",
    ":authority",
    "author",
    "scope",
    "grant_type",
    "content-type",
    "user-agent",
    "name",
    "page",
    "token_endpoint",
    "keywords",
    "realmId",
    "auth_method",
]


@pytest.mark.parametrize("name", SECRET)
def test_names_that_mean_a_secret(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", NOT_SECRET)
def test_names_that_only_describe_one(name: str) -> None:
    assert not is_secret_name(name)
