"""The same real-client traffic in every exporter's HAR shape gives the same findings.

tests/exporters.py says which shapes are real recordings and which are still rewrites, and
from what documentation; the Firefox rewrite is checked here against Firefox's own HARs.

A Chrome sanitized export has no Authorization headers, so causes that need the client
credentials cannot be seen there: the finding then names the closest cause it can with lower
confidence and a warning, never a wrong `certain`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import GOLDEN, analyze_json, golden_scenarios
from tests.exporters import SHAPES, write

CREDENTIAL_CAUSES = {
    "client_credentials_malformed",
    "client_secret_wrong",
    "code_client_mismatch",
    "refresh_client_mismatch",
    "client_credentials_rejected",
}
RANK = {"possible": 0, "likely": 1, "certain": 2}


def findings(path: Path) -> list[dict[str, object]]:
    doc = analyze_json(path)
    result = doc["findings"]
    assert isinstance(result, list)
    return result


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("name", golden_scenarios())
def test_exporter_shape_gives_the_same_causes(tmp_path: Path, name: str, shape: str) -> None:
    har = json.loads((GOLDEN / f"{name}.har").read_text())
    path = tmp_path / f"{name}.{shape}.har"
    write(SHAPES[shape](har), path, bom=shape == "fiddler")
    original = findings(GOLDEN / f"{name}.har")
    shaped = findings(path)

    def where(f: dict[str, object]) -> tuple[object, ...]:
        request = f["request"]
        assert isinstance(request, dict)
        return request["index"], request["time"], request["intuit_tid"]

    assert [where(f) for f in shaped] == [where(f) for f in original]
    if shape != "chrome-sanitized":
        assert [(f["cause"], f["confidence"]) for f in shaped] == [
            (f["cause"], f["confidence"]) for f in original
        ]
        return
    for before, after in zip(original, shaped, strict=True):
        assert RANK[str(after["confidence"])] <= RANK[str(before["confidence"])]
        if before["cause"] in CREDENTIAL_CAUSES:
            # the deciding evidence (Authorization) is gone: a guess, said as such
            assert after["confidence"] != "certain" or after["cause"] == before["cause"]
            continue
        assert after["cause"] == before["cause"]
        if after["confidence"] != before["confidence"]:
            assert after["warnings"], "a weaker finding must say what was missing"


def test_sanitized_export_warns_that_credentials_are_missing(tmp_path: Path) -> None:
    har = json.loads((GOLDEN / "refresh_token_superseded.har").read_text())
    path = tmp_path / "sanitized.har"
    write(SHAPES["chrome-sanitized"](har), path)
    doc = analyze_json(path)
    warnings = doc["inputs"][0]["warnings"]  # type: ignore[index]
    assert any("authorization headers are missing" in w for w in warnings)
    (finding,) = doc["findings"]  # type: ignore[misc]
    assert finding["cause"] == "refresh_token_superseded"
    assert finding["confidence"] == "likely"


def firefox_quirks(har: dict[str, object]) -> dict[str, object]:
    """What sets Firefox's HAR apart, as the reader must take it (issue 8 point 5)."""
    log = har["log"]
    assert isinstance(log, dict)
    entries = log["entries"]
    posts = [
        e["request"]["postData"]
        for e in entries
        if "urlencoded" in (e["request"].get("postData") or {}).get("mimeType", "")
    ]
    redirects = [e["response"]["content"] for e in entries if 300 <= e["response"]["status"] < 400]
    return {
        "creator": log["creator"]["name"],
        "title_case_request_headers": all(
            h["name"][:1].isupper() for e in entries for h in e["request"]["headers"]
        ),
        "http2_to_intuit": {
            e["request"]["httpVersion"] for e in entries if "intuit.com/" in e["request"]["url"]
        },
        "local_offset": {e["startedDateTime"][-6:] for e in entries},
        "form_params_and_text": bool(posts) and all("params" in p and "text" in p for p in posts),
        "redirect_bodies_left_out": bool(redirects)
        and all("text" not in c and c.get("comment") for c in redirects),
        "title_is_the_callback_url": "code=" in log["pages"][-1]["title"],
    }


@pytest.mark.parametrize(
    "name", [n for n in golden_scenarios() if (GOLDEN / f"{n}.firefox.har").exists()]
)
def test_firefox_rewrite_has_the_quirks_of_firefox_own_har(name: str) -> None:
    real = json.loads((GOLDEN / f"{name}.firefox.har").read_text())
    rewrite = SHAPES["firefox"](json.loads((GOLDEN / f"{name}.har").read_text()))
    assert firefox_quirks(rewrite) == firefox_quirks(real)
