"""`--format json` is written by the C encoder and indented by msgspec: the text must be the
one `json.dumps(indent=2, ensure_ascii=False)` writes, whatever the values hold."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from qbtrace.analysis import analyze_inputs, read_all
from qbtrace.config import load_profile
from qbtrace.redact import Redactor, default_key
from qbtrace.render import json as render_json
from qbtrace.render.view import Presenter
from tests.conftest import GOLDEN


def test_the_fast_indentation_is_the_standard_one_on_awkward_text() -> None:
    profile = load_profile(None, local=False)
    redactor = Redactor(default_key())
    (item,) = read_all([GOLDEN / "refresh_token_superseded.har"], profile, redactor)
    odd = ('caf\u00e9 "q" \\ / \u2028 \x01\t\n', "\U0001f600", "{}", "[]", "")
    item = replace(item, warnings=(*item.warnings, *odd), source="s\u00e9ance 1.5e-07.har")
    analysis = analyze_inputs([item], profile)
    text = render_json.render(analysis, Presenter(redactor, False))
    doc = json.loads(text)
    assert text == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    assert doc["inputs"][0]["warnings"][-len(odd) :] == list(odd)
    assert doc["findings"] and "\u00e9" in text and "\\u00e9" not in text


@pytest.mark.parametrize("batch", [1, 2, 1000])
@pytest.mark.parametrize(
    "name", ["refresh_token_superseded.har", "provider_outage.har", "healthy_node.har"]
)
def test_the_document_written_in_pieces_is_the_whole_one(name: str, batch: int) -> None:
    """`chunks` makes the findings a batch at a time; joined, they are the document
    `json.dumps(indent=2)` writes whole, whether a batch holds one finding, some or all."""
    profile = load_profile(None, local=False)
    redactor = Redactor(default_key())
    analysis = analyze_inputs(read_all([GOLDEN / name], profile, redactor), profile)
    presenter = Presenter(redactor, False, profile)
    whole = json.dumps(render_json.document(analysis, presenter), indent=2, ensure_ascii=False)
    pieces = list(render_json.chunks(analysis, presenter, batch))
    assert "".join(pieces) == whole + "\n"
    found = len(analysis.findings)
    assert len(pieces) == (2 + -(-found // batch) if found else 1)


ODD = ('caf\u00e9 "q" \\ / \u2028 \x01\x1f\x7f\t\n', "\U0001f600", "{}", "")


@pytest.mark.parametrize(
    "change",
    [
        {"error_description": ODD[0], "warnings": ODD},  # msgspec writes the findings
        {"status": 400.0},  # a float: json.dumps writes them
    ],
    ids=["awkward-text", "float-status"],
)
def test_findings_are_written_as_json_dumps_writes_them(change: dict[str, object]) -> None:
    """Whichever encoder writes a batch of findings, the text is `json.dumps`'s."""
    profile = load_profile(None, local=False)
    redactor = Redactor(default_key())
    (item,) = read_all([GOLDEN / "provider_outage.har"], profile, redactor)
    analysis = analyze_inputs([item], profile)
    found = tuple(replace(f, **change) for f in analysis.findings)  # type: ignore[arg-type]
    analysis = replace(analysis, findings=found)
    presenter = Presenter(redactor, False, profile)
    whole = json.dumps(render_json.document(analysis, presenter), indent=2, ensure_ascii=False)
    assert found and render_json.render(analysis, presenter) == whole + "\n"
