"""The live session without mitmdump: exchanges recorded as they come, each failure told once
in one line, the capture readable by `qbtrace analyze`, and the cheap path filter."""

from __future__ import annotations

import json
from pathlib import Path

from qbtrace.config import profile_from_dict
from qbtrace.live import LiveSession
from qbtrace.model import Kind, RawParts
from qbtrace.profile import Profile
from qbtrace.providers.quickbooks import TOKEN
from qbtrace.redact import Redactor
from qbtrace.sources import read_input
from qbtrace.sources.prefilter import PathFilter

KEY = Redactor(b"test-live-key")
BASIC = "Basic QUJjbGllbnQ6c2VjcmV0LWEtMDEyMzQ1Njc4OQ=="  # ABclient:secret-a-0123456789
T0 = 1_800_000_000.0


def refresh(at: float, token: str, status: int, issued: str | None = None) -> RawParts:
    body = {"error": "invalid_grant"} if status != 200 else {"refresh_token": issued}
    return RawParts(
        method="POST",
        url=TOKEN,
        started=T0 + at,
        ended=T0 + at + 0.2,
        request_headers=[("Authorization", BASIC)],
        request_body=f"grant_type=refresh_token&refresh_token={token}",
        status=status,
        response_headers=[("content-type", "application/json")],
        response_body=json.dumps(body),
    )


def test_a_replayed_token_is_told_once_and_the_capture_reads_back(tmp_path: Path) -> None:
    told: list[str] = []
    session = LiveSession(Profile(), KEY, told.append)
    capture = tmp_path / "oauth.jsonl"
    session.open(str(capture))
    session.record(Kind.TOKEN, refresh(0, "RT1-old-0001112223334445", 200, "RT1-new-99988877766"))
    session.record(Kind.TOKEN, refresh(2 * 86_400, "RT1-old-0001112223334445", 400), "f2")
    session.settle()
    assert len(told) == 1
    assert "invalid_grant: refresh_token_superseded (certain)" in told[0]
    assert told[0].endswith("[oauth.jsonl#2]")
    assert "RT1-old" not in told[0] and "RT1-old" not in capture.read_text()
    assert session.close() == "qbtrace: 2 exchanges recorded, 1 failed token requests"
    got = read_input(capture, capture.name, Profile(), KEY)
    assert [x.status for x in got.exchanges] == [200, 400]


def test_a_session_without_a_capture_still_diagnoses() -> None:
    told: list[str] = []
    session = LiveSession(Profile(), KEY, told.append)
    session.record(Kind.TOKEN, refresh(0, "RT1-xyz-0001112223334445", 400))
    assert session.close().endswith("1 exchanges recorded, 1 failed token requests")
    assert len(told) == 1 and "refresh_token_unknown" in told[0]


def test_the_path_filter_lets_every_providers_endpoints_through() -> None:
    profile = profile_from_dict(
        {"providers": {"local": {"token_endpoint": "https://localhost:8443/idp/token"}}}
    )
    session = LiveSession(profile, KEY, lambda line: None)
    assert session.wants(b"/oauth2/v1/tokens/bearer") and session.wants(b"/idp/token")
    assert session.wants(b"/callback?code=AB11&state=x")
    assert not session.wants(b"/v3/company/1/query?query=select")
    many = profile_from_dict(
        {"app": {"disconnect_urls": [f"https://a.example/{n}/x" for n in "abcde"]}}
    )
    assert PathFilter(many).anchors is None and PathFilter(many).may_match(b"/c/x")
