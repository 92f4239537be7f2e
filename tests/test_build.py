"""`build_exchange`: raw parts of one exchange → an `Exchange` holding tags, never secrets.

Inputs are the requests QuickBooks apps really send (intuit-oauth for Python and Node, Airbyte
and Nango with credentials in the form body) and the replies Intuit really gives.
"""

from __future__ import annotations

import base64
import json

import pytest

from qbtrace.model import ClientAuth, Exchange, Kind, Ref
from qbtrace.providers.quickbooks import AUTHORIZE as QUICKBOOKS_AUTHORIZE
from qbtrace.providers.quickbooks import REVOKE as QUICKBOOKS_REVOKE
from qbtrace.providers.quickbooks import TOKEN as QUICKBOOKS_TOKEN
from qbtrace.redact import Redactor, Secret
from qbtrace.sources.build import RawParts, build_exchange

REDACTOR = Redactor(b"qbtrace-tests")
REF = Ref("capture.har", 7)
T0 = 1_796_066_774.0485
CLIENT = "ABp7prodKeysRm4Tq8Wz2Xc6Vb1Nh5Jk9Lf3Gd7Sa0Pe4Ou8Iy2R"
SECRET = "pRoDsEcReT9z8y7x6w5v4u3t2s1r0QpOnMlKjIh"
REFRESH = "RT1-78-H0-1804695973zol307gm4ieafvk0ej1l"
CODE = "AB117959695739Whrwb4zSRKuV6wobuAytXNDUBVWMc"
ACCESS = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..ooJ6ug_al9MfGKzYs4cJVw.HLhZ3XXA"
STATE = "0VPfuIXcX1wdNYPoaMyMY6fHyslSHQ"
FORM = "application/x-www-form-urlencoded"
PYTHON_UA = "Intuit-OAuthClient-1.2.7-Python-3.11.7 Linux 6.18.44-fc-v769 x86_64"
TID = "1-6b0dcdd6-85f7795240b64616b1207543"
REFRESH_BODY = f"grant_type=refresh_token&refresh_token={REFRESH}"
CALLBACK = "https%3A%2F%2Fapp.example.test%2Fcallback"


def basic(userpass: str) -> str:
    return "Basic " + base64.b64encode(userpass.encode()).decode()


def token_parts(
    *,
    auth: str | None = basic(f"{CLIENT}:{SECRET}"),
    body: str | None = f"grant_type=refresh_token&refresh_token={REFRESH}",
    content_type: str = FORM,
    status: int | None = 400,
    reply: str | None = '{"error":"invalid_grant"}',
) -> RawParts:
    headers = [("User-Agent", PYTHON_UA), ("Content-Type", content_type)]
    if auth is not None:
        headers.append(("Authorization", auth))
    return RawParts(
        method="post",
        url=QUICKBOOKS_TOKEN,
        started=T0,
        ended=T0 + 0.0013,
        request_headers=headers,
        request_body=body,
        status=status,
        response_headers=[
            ("date", "Mon, 30 Nov 2026 19:26:14 GMT"),
            ("content-type", "application/json;charset=utf-8"),
            ("intuit_tid", TID),
            ("set-cookie", "qbn.ptc.sessionid=abc; Secure"),
        ],
        response_body=reply,
    )


def build(parts: RawParts, kind: Kind = Kind.TOKEN) -> Exchange:
    return build_exchange(REF, kind, parts, REDACTOR)


def assert_no_raw(exchange: Exchange, *planted: str) -> None:
    text = repr(exchange)
    for value in planted:
        assert value not in text, f"raw value {value!r} leaked"


def test_valid_basic_credentials() -> None:
    got = build(token_parts())
    assert got.client == ClientAuth(CLIENT, REDACTOR.secret("secret", SECRET), "basic", ())
    assert got.client.secret is not None and got.client.secret.tag.startswith("secret:")
    assert got.gaps == ()
    assert_no_raw(got, SECRET, basic(f"{CLIENT}:{SECRET}")[6:], REFRESH)


def test_lowercase_basic_scheme_is_read() -> None:
    got = build(token_parts(auth="basic " + basic(f"{CLIENT}:{SECRET}")[6:]))
    assert got.client is not None
    assert got.client.client_id == CLIENT
    assert got.client.via == "basic"


@pytest.mark.parametrize(
    ("auth", "client_id", "defects"),
    [
        # the app forgot to base64-encode: the raw secret is in the header itself
        (f"Basic {CLIENT}:{SECRET}", None, ("not-base64",)),
        (basic(f"{CLIENT}{SECRET}"), None, ("no-colon",)),
        (basic(f":{SECRET}"), "", ("empty-id",)),
        (basic(f"{CLIENT}:"), CLIENT, ("empty-secret",)),
        (basic(f" {CLIENT}\n:{SECRET}"), f" {CLIENT}\n", ("whitespace-id",)),
        (basic(f"{CLIENT}:{SECRET}\n"), CLIENT, ("whitespace-secret",)),
        (basic(f'{CLIENT}:"{SECRET}"'), CLIENT, ("quoted-secret",)),
        # Node with QB_CLIENT_SECRET unset: `${id}:${secret}` gives the string "undefined"
        (basic(f"{CLIENT}:undefined"), CLIENT, ("placeholder-secret",)),
        (basic("undefined:undefined"), "undefined", ("placeholder-id", "placeholder-secret")),
    ],
)
def test_malformed_basic_credentials(
    auth: str, client_id: str | None, defects: tuple[str, ...]
) -> None:
    got = build(token_parts(auth=auth))
    assert got.client is not None
    assert got.client.via == "basic"
    assert got.client.client_id == client_id
    assert got.client.defects == defects
    assert (got.client.secret is None) == (client_id is None)
    assert_no_raw(got, SECRET, auth.removeprefix("Basic "))


def test_form_body_credentials() -> None:
    # Airbyte and Nango send client_secret_post, no Authorization header
    body = f"{REFRESH_BODY}&client_id={CLIENT}&client_secret={SECRET}"
    got = build(token_parts(auth=None, body=body))
    assert got.client == ClientAuth(CLIENT, REDACTOR.secret("secret", SECRET), "body", ())
    assert got.params["client_id"] == CLIENT
    assert got.params["client_secret"] == REDACTOR.secret("secret", SECRET)
    assert "client-auth-missing" not in got.gaps
    assert_no_raw(got, SECRET, REFRESH)


def test_form_body_with_id_but_no_secret() -> None:
    body = f"grant_type=refresh_token&refresh_token={REFRESH}&client_id={CLIENT}"
    got = build(token_parts(auth=None, body=body))
    assert got.client == ClientAuth(CLIENT, None, "body", ("missing-secret",))


def test_form_body_secret_with_trailing_newline_from_env_file() -> None:
    body = f"{REFRESH_BODY}&client_id={CLIENT}&client_secret={SECRET}%0A"
    got = build(token_parts(auth=None, body=body))
    assert got.client is not None
    assert got.client.defects == ("whitespace-secret",)
    assert got.client.secret is not None
    assert got.client.secret.canon == REDACTOR.secret("secret", SECRET).canon
    assert_no_raw(got, SECRET)


def test_basic_header_wins_over_form_body_credentials() -> None:
    body = f"grant_type=refresh_token&refresh_token={REFRESH}&client_id=OTHER&client_secret=x"
    got = build(token_parts(body=body))
    assert got.client is not None
    assert (got.client.client_id, got.client.via) == (CLIENT, "basic")


def test_token_request_without_credentials_is_a_gap() -> None:
    got = build(token_parts(auth=None))
    assert got.client == ClientAuth(None, None, "none")
    assert "client-auth-missing" in got.gaps


def test_bearer_authorization_is_not_client_credentials() -> None:
    got = build(token_parts(auth=f"Bearer {ACCESS}"))
    assert got.client is not None and got.client.via == "none"
    assert_no_raw(got, ACCESS)


def test_revoke_with_json_body() -> None:
    parts = token_parts(
        body=json.dumps({"token": REFRESH}), content_type="application/json", status=200, reply=""
    )
    parts.url = QUICKBOOKS_REVOKE
    got = build(parts, Kind.REVOKE)
    assert got.kind == Kind.REVOKE
    assert got.url == QUICKBOOKS_REVOKE
    token = got.params["token"]
    assert isinstance(token, Secret)
    assert token.tag == REDACTOR.secret("tok", REFRESH).tag
    assert token.hex == REDACTOR.secret("rt", REFRESH).hex  # matchable to the refresh token
    assert got.client is not None and got.client.client_id == CLIENT
    assert_no_raw(got, REFRESH, SECRET)


def test_revoke_without_credentials_is_not_flagged_as_a_token_gap() -> None:
    parts = token_parts(auth=None, body=json.dumps({"token": REFRESH}), status=200, reply="")
    parts.url = QUICKBOOKS_REVOKE
    got = build(parts, Kind.REVOKE)
    assert got.client == ClientAuth(None, None, "none")
    assert "client-auth-missing" not in got.gaps


def test_json_body_without_json_content_type_is_still_read() -> None:
    got = build(
        token_parts(body=json.dumps({"grant_type": "refresh_token", "refresh_token": REFRESH}))
    )
    assert got.params["grant_type"] == "refresh_token"
    assert got.params["refresh_token"] == REDACTOR.secret("rt", REFRESH)


@pytest.mark.parametrize("body", ["[1, 2]", '{"token": '])
def test_json_body_that_is_not_an_object_gives_no_params(body: str) -> None:
    got = build(token_parts(body=body, content_type="application/json"))
    assert got.params == {}


@pytest.mark.parametrize(
    ("name", "value", "kind"),
    [
        ("code", CODE, "code"),
        ("refresh_token", REFRESH, "rt"),
        ("access_token", ACCESS, "at"),
        ("id_token", ACCESS + "id", "id"),
        ("state", STATE, "state"),
        ("client_secret", SECRET, "secret"),
        ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "secret"),
    ],
)
def test_secret_params_become_tags(name: str, value: str, kind: str) -> None:
    body = f"grant_type=authorization_code&{name}={value}&redirect_uri={CALLBACK}"
    got = build(token_parts(body=body))
    tagged = got.params[name]
    assert isinstance(tagged, Secret)
    assert tagged.kind == kind
    assert tagged == REDACTOR.secret(kind, value)
    assert got.params["grant_type"] == "authorization_code"
    assert got.params["redirect_uri"] == "https://app.example.test/callback"
    assert_no_raw(got, value)


def test_token_reply_secrets_become_tags_and_lifetimes_stay_numbers() -> None:
    reply = {
        "x_refresh_token_expires_in": 8726400,
        "refresh_token": REFRESH,
        "access_token": ACCESS,
        "id_token": ACCESS + "-id",
        "token_type": "bearer",
        "expires_in": 3600,
    }
    got = build(token_parts(status=200, reply=json.dumps(reply)))
    assert got.reply == {
        "access_token": REDACTOR.secret("at", ACCESS),
        "refresh_token": REDACTOR.secret("rt", REFRESH),
        "id_token": REDACTOR.secret("id", ACCESS + "-id"),
        "token_type": "bearer",
        "expires_in": 3600,
        "x_refresh_token_expires_in": 8726400,
    }
    assert got.ok
    assert_no_raw(got, REFRESH, ACCESS)


def test_authorize_redirect_location_query_is_the_reply() -> None:
    query = (
        f"client_id={CLIENT}&response_type=code&scope=com.intuit.quickbooks.accounting"
        f"&redirect_uri=https%3A%2F%2Fapp.example.test%2Fcallback&state={STATE}"
    )
    parts = RawParts(
        method="GET",
        url=f"{QUICKBOOKS_AUTHORIZE}?{query}",
        started=T0,
        ended=T0 + 0.0016,
        request_headers=[("User-Agent", "python-requests/2.34.2")],
        request_body=None,
        status=302,
        response_headers=[
            (
                "location",
                f"https://app.example.test/callback?code={CODE}&state={STATE}&realmId=9341453050298471",
            ),
            ("intuit_tid", "1-6b0c5225-1b807d298fc84da59efd5d1b"),
        ],
        response_body="",
    )
    got = build(parts, Kind.AUTHORIZE)
    assert got.url == QUICKBOOKS_AUTHORIZE
    assert got.params["client_id"] == CLIENT
    assert got.params["state"] == REDACTOR.secret("state", STATE)
    assert got.reply == {
        "code": REDACTOR.secret("code", CODE),
        "state": REDACTOR.secret("state", STATE),
        "realmId": "9341453050298471",
        "redirect_to": "https://app.example.test/callback",
    }
    assert got.client is None
    assert "request-body-missing" not in got.gaps
    assert_no_raw(got, CODE, STATE)


def test_authorize_error_redirect() -> None:
    parts = RawParts(
        method="GET",
        url=f"{QUICKBOOKS_AUTHORIZE}?client_id={CLIENT}&state={STATE}",
        started=T0,
        ended=None,
        request_headers=[],
        request_body=None,
        status=302,
        response_headers=[
            ("Location", f"https://app.example.test/callback?error=access_denied&state={STATE}")
        ],
    )
    got = build(parts, Kind.AUTHORIZE)
    assert got.reply["error"] == "access_denied"
    assert isinstance(got.reply["state"], Secret)


def test_relative_redirect_location_is_resolved_against_the_request() -> None:
    parts = RawParts(
        method="GET",
        url="http://127.0.0.1:8000/connect/oauth2?client_id=AB&state=x",
        started=T0,
        ended=None,
        request_headers=[],
        request_body=None,
        status=302,
        response_headers=[("Location", f"/callback?code={CODE}&state=x")],
    )
    got = build(parts, Kind.AUTHORIZE)
    assert got.reply["redirect_to"] == "http://127.0.0.1:8000/callback"
    assert got.reply["code"] == REDACTOR.secret("code", CODE)


def test_location_on_a_token_response_is_not_read_as_a_redirect() -> None:
    parts = token_parts()
    parts.response_headers.append(("Location", f"https://evil.example.test/?code={CODE}"))
    got = build(parts)
    assert got.reply == {"error": "invalid_grant"}


@pytest.mark.parametrize(
    ("description", "kept"),
    [
        ("Token invalid", "Token invalid"),
        ("Incorrect or invalid refresh token", "Incorrect or invalid refresh token"),
        ("Too many requests", "Too many requests"),
        (f"Refresh token not found: {REFRESH}", "Refresh token not found: [redacted]"),
    ],
)
def test_error_description_keeps_intuits_words_but_not_tokens(description: str, kept: str) -> None:
    reply = json.dumps({"error": "invalid_grant", "error_description": description})
    got = build(token_parts(reply=reply))
    assert got.reply == {"error": "invalid_grant", "error_description": kept}
    assert_no_raw(got, REFRESH)


def test_very_long_error_description_is_cut() -> None:
    description = "The request is missing a required parameter. " * 40
    got = build(
        token_parts(
            reply=json.dumps({"error": "invalid_request", "error_description": description})
        )
    )
    kept = got.reply["error_description"]
    assert isinstance(kept, str)
    assert 400 < len(kept) <= 500 and kept.endswith(" [...]")
    assert description.startswith(kept.removesuffix(" [...]"))


def test_transport_errors_and_urls_lose_their_secrets() -> None:
    parts = token_parts()
    parts.url = "https://app:hunter2@oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    parts.status, parts.response_body = None, None
    parts.failure = f"ConnectionError: /oauth2/v1/tokens/bearer?refresh_token={REFRESH} reset"
    got = build(parts)
    assert got.url == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    assert got.failure == "ConnectionError: /oauth2/v1/tokens/bearer?[redacted] reset"
    assert_no_raw(got, REFRESH, "hunter2")


@pytest.mark.parametrize(
    "body",
    [
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
        '["invalid_grant"]',
        "",
    ],
)
def test_non_json_token_response_is_a_gap(body: str) -> None:
    got = build(token_parts(status=502, reply=body))
    assert got.status == 502
    assert got.reply == {}
    assert "response-not-json" in got.gaps


def test_response_without_body_is_a_gap() -> None:
    got = build(token_parts(status=400, reply=None))
    assert got.reply == {}
    assert "response-body-missing" in got.gaps


def test_no_response_at_all_is_not_a_body_gap() -> None:
    parts = token_parts(status=None, reply=None)
    parts.failure = "Connection killed."
    got = build(parts)
    assert got.status is None
    assert got.failure == "Connection killed."
    assert "response-body-missing" not in got.gaps


def test_missing_request_body_is_a_gap() -> None:
    got = build(token_parts(body=None))
    assert got.params == {}
    assert "request-body-missing" in got.gaps


def test_kept_headers_and_the_rest_dropped() -> None:
    parts = token_parts()
    parts.request_headers += [
        ("Cookie", "qbn.tkt=abc"),
        ("x-include-refresh-token-hard-expires-in", "true"),
    ]
    got = build(parts)
    assert got.headers == {
        "intuit_tid": TID,
        "date": "Mon, 30 Nov 2026 19:26:14 GMT",
        "user-agent": PYTHON_UA,
        "x-include-refresh-token-hard-expires-in": "true",
        # the response's content type is the one kept when both sides have one
        "content-type": "application/json;charset=utf-8",
    }
    assert_no_raw(got, SECRET, "qbn.tkt", "qbn.ptc.sessionid")


def test_first_header_of_a_name_wins_whatever_its_case() -> None:
    parts = token_parts()
    parts.response_headers = [("Intuit_TID", TID), ("intuit_tid", "1-duplicate")]
    got = build(parts)
    assert got.headers["intuit_tid"] == TID


def test_exchange_shape_method_url_times_and_ref() -> None:
    parts = token_parts()
    parts.url = QUICKBOOKS_TOKEN + "?minorversion=75"
    got = build(parts)
    assert got.ref == REF
    assert got.method == "POST"
    assert got.url == QUICKBOOKS_TOKEN
    assert (got.started, got.ended) == (T0, T0 + 0.0013)
    assert got.status == 400
    assert not got.ok


def test_gaps_are_not_repeated() -> None:
    parts = token_parts(auth=None, body=None, reply=None)
    parts.gaps = ["request-body-missing"]
    got = build(parts)
    assert got.gaps == ("request-body-missing", "response-body-missing", "client-auth-missing")


def test_basic_credentials_that_are_not_utf8_say_so() -> None:
    from qbtrace.sources.build import _basic

    token = base64.b64encode("ABclient:s\xe9cret".encode("latin-1")).decode()
    auth = _basic(token, REDACTOR)
    assert auth.defects == ("not-utf8",) and auth.secret is None


def test_consent_post_reads_the_authorize_fields_from_its_body_over_the_query() -> None:
    body = "client_id=ABbody&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&state=st-1&scope=a+b"
    parts = RawParts(
        "POST",
        f"{QUICKBOOKS_AUTHORIZE}?client_id=ABquery&locale=en-us",
        1.0,
        2.0,
        [("Content-Type", "application/x-www-form-urlencoded")],
        body,
        302,
        [("Location", "https://app.test/cb?code=c-1&state=st-1&realmId=42")],
    )
    got = build(parts, Kind.AUTHORIZE)
    assert got.params["client_id"] == "ABbody" and got.params["locale"] == "en-us"
    assert got.params["redirect_uri"] == "https://app.test/cb" and got.params["scope"] == "a b"
    assert isinstance(got.params["state"], Secret) and isinstance(got.reply["code"], Secret)
    assert got.reply["redirect_to"] == "https://app.test/cb" and got.reply["realmId"] == "42"


def test_an_authorize_get_ignores_any_body_and_a_relative_location_is_resolved() -> None:
    parts = RawParts(
        "GET",
        "https://app.test/callback?code=c-1&state=st-1",
        1.0,
        2.0,
        [],
        "client_id=ignored",
        301,
        [("Location", "/callback/?code=c-1&state=st-1")],
    )
    got = build(parts, Kind.CALLBACK)
    assert "client_id" not in got.params
    assert got.reply["redirect_to"] == "https://app.test/callback/"


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ('{"redirectUrl": "https://app.test/cb?code=c-1&state=s"}', True),
        ('{"data": {"location": "https://app.test/cb?state=s&code=c-1"}}', True),
        ('{"next": "https://app.test/cb?state=s"}', False),
        ('{"next": "/cb?code=c-1"}', False),
        ("<html>https://app.test/cb?code=c-1</html>", False),
        ('{"a": {"b": {"c": "https://app.test/cb?code=c-1"}}}', False),
    ],
)
def test_a_consent_xhrs_json_answer_gives_the_code_only_from_an_absolute_url(
    body: str, found: bool
) -> None:
    parts = RawParts("POST", f"{QUICKBOOKS_AUTHORIZE}/consent", 1.0, 2.0, [], "{}", 200, [], body)
    got = build(parts, Kind.AUTHORIZE)
    assert isinstance(got.reply.get("code"), Secret) is found
    if found:
        assert got.reply["redirect_to"] == "https://app.test/cb"
