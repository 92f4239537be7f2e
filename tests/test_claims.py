"""The id_token subject: read from real-looking JWTs, tagged at the edge, never kept raw."""

from __future__ import annotations

import base64
import json

from qbtrace.model import Kind, Ref
from qbtrace.redact import Redactor, Secret
from qbtrace.sources.build import RawParts, build_exchange
from qbtrace.sources.claims import MAX_PAYLOAD, subject

GOOGLE_SUB = "108234567890123456789"


def jwt(claims: object, pad: bool = False) -> str:
    def part(data: bytes) -> str:
        text = base64.urlsafe_b64encode(data).decode()
        return text if pad else text.rstrip("=")

    header = part(json.dumps({"alg": "RS256", "kid": "a50f6e70", "typ": "JWT"}).encode())
    return f"{header}.{part(json.dumps(claims).encode())}.{part(b'signature' * 28)}"


def test_subject_of_an_id_token_with_url_safe_unpadded_base64() -> None:
    claims = {"iss": "https://accounts.google.com", "sub": GOOGLE_SUB, "aud": "x?>~"}
    assert subject(jwt(claims)) == GOOGLE_SUB
    assert subject(jwt(claims, pad=True)) == GOOGLE_SUB


def test_no_subject_from_anything_else() -> None:
    for bad in (
        "not-a-jwt",
        "a.b",
        "a..c",
        "eyJhbGciOiJSUzI1NiJ9.!!!.sig",
        jwt(["sub"]),
        jwt({"sub": 42}),
        jwt({"sub": ""}),
        jwt({"sub": "x" * 300}),
        "h." + "A" * (MAX_PAYLOAD + 4) + ".s",
        "ya29.a0AfH6SMBx-opaque-access-token.value",
    ):
        assert subject(bad) is None, bad


def test_build_tags_the_subject_and_keeps_no_raw_value() -> None:
    token = jwt({"sub": GOOGLE_SUB, "email": "ada@example.test"})
    parts = RawParts(
        method="POST",
        url="https://oauth2.googleapis.com/token",
        started=1.0,
        ended=1.1,
        request_headers=[("Content-Type", "application/x-www-form-urlencoded")],
        request_body="grant_type=authorization_code&code=4/0Aabc",
        status=200,
        response_headers=[],
        response_body=json.dumps({"access_token": "ya29.a0x", "id_token": token}),
    )
    x = build_exchange(Ref("g.har", 0), Kind.TOKEN, parts, Redactor(b"k"))
    user = x.reply["id_subject"]
    assert isinstance(user, Secret) and user.tag.startswith("user:")
    assert GOOGLE_SUB not in repr(x) and "ada@" not in repr(x)
    from qbtrace.events import token_request

    assert token_request(0, x).user == user  # the token event carries who consented
