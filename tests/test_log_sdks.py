"""Each SDK module on the lines its SDK writes (tests/logsamples.py), through `read_log`:
what the Exchange shows, the format named, and tokens in clear only as tags."""

from __future__ import annotations

from datetime import UTC

import pytest

from qbtrace.model import TENANT, TOKEN_NOT_LOGGED, Input, Kind
from qbtrace.profile import Profile
from qbtrace.redact import Redactor, Secret
from qbtrace.sources.logs import read_log
from tests import logsamples as s

REDACTOR = Redactor(b"log-sdks")


def read(text: str) -> Input:
    return read_log(text.encode(), "app.log", Profile(), REDACTOR, UTC)


def test_intuitlib_traceback_is_one_refresh_failure_at_its_first_line() -> None:
    item = read(s.NOISE + s.INTUITLIB_TRACEBACK + s.NOISE)
    [x] = item.exchanges
    assert item.format == "intuitlib"
    assert x.ref.index == 2  # the logging line above the traceback
    assert x.kind == Kind.TOKEN and x.status == 400
    assert x.params["grant_type"] == "refresh_token"  # from the `in refresh` frame
    assert x.reply["error"] == "invalid_grant"
    assert x.reply["error_description"] == "Incorrect or invalid refresh token"
    assert x.headers["intuit_tid"] == s.TID_1
    assert x.started == pytest.approx(1764344316.812)
    assert TOKEN_NOT_LOGGED in x.gaps


def test_intuitlib_str_without_traceback_has_no_grant() -> None:
    line = s.INTUITLIB_TRACEBACK.splitlines()[-1].split(": ", 1)[1]
    [x] = read(f"refresh failed: {line}\n").exchanges
    assert "grant_type" not in x.params
    assert x.started is None and x.headers["date"] == "Fri, 28 Nov 2025 15:38:36 GMT"


def test_node_winston_file_success_failure_and_retry() -> None:
    item = read(s.NODE_WINSTON)
    ok, failed, retry = item.exchanges
    assert item.format == "intuit-oauth-node"
    assert ok.status == 200 and isinstance(ok.reply["refresh_token"], Secret)
    assert isinstance(ok.reply["access_token"], Secret)
    assert ok.reply["x_refresh_token_expires_in"] == 8726400
    assert ok.started == pytest.approx(1764344315.1)  # +01:00 honoured
    assert failed.status == 400 and failed.reply["error"] == "invalid_grant"
    assert failed.params["grant_type"] == "refresh_token"
    assert retry.status == 503 and retry.client is not None
    assert retry.client.client_id == s.CLIENT_ID and retry.client.secret is not None
    assert not item.warnings  # every stamp had its offset


def test_pino_error_object_gives_process_tid_and_company() -> None:
    item = read(s.PINO)
    [x] = item.exchanges
    assert item.format == "intuit-oauth-node in pino"
    assert x.process == "worker-2, pid 4411"
    assert x.params[TENANT] == "9341453050298471"
    assert x.headers["intuit_tid"] == s.TID_2
    assert x.params["grant_type"] == "refresh_token"  # refreshUsingToken in the stack
    assert x.started == pytest.approx(1764344317.48)


def test_php_ruby_nango_airbyte() -> None:
    php, ruby, nango, airbyte = read(s.PHP + s.RUBY + s.NANGO + s.AIRBYTE).exchanges
    assert (php.status, php.params["grant_type"], php.reply["error"]) == (
        400,
        "refresh_token",
        "invalid_grant",
    )
    assert ruby.status == 401 and ruby.reply["error"] == "invalid_client"
    assert ruby.process == "pid 4412"
    assert nango.reply["error_description"] == "Token invalid"
    assert airbyte.reply["error"] == "invalid_grant"


def test_dotnet_advanced_logger_lines_are_one_exchange_with_its_secrets_tagged() -> None:
    item = read(s.DOTNET)
    [x] = item.exchanges
    assert item.format == "dotnet-advanced"
    assert x.ref.index == 0 and x.status == 400
    assert isinstance(x.params["refresh_token"], Secret)
    assert x.client is not None and x.client.client_id == s.CLIENT_ID
    assert TOKEN_NOT_LOGGED not in x.gaps


def test_unknown_format_falls_back_with_a_warning() -> None:
    item = read(s.NOISE + s.UNKNOWN)
    [x] = item.exchanges
    assert x.status == 400 and x.reply["error"] == "invalid_grant"
    assert any("does not recognise" in w for w in item.warnings)


def test_noise_alone_reports_nothing() -> None:
    item = read(s.NOISE * 50)
    assert item.exchanges == () and item.entries == 100
    assert item.warnings == ("no token-request lines found in the log",)


def test_no_secret_is_kept_in_any_exchange() -> None:
    text = "".join((s.NODE_WINSTON, s.DOTNET, s.PINO, s.INTUITLIB_TRACEBACK, s.PHP))
    dumped = repr(read(text))
    for secret in s.SECRETS:
        assert secret not in dumped
