"""`--format json` is written by the C encoder and indented by msgspec: the text must be the
one `json.dumps(indent=2, ensure_ascii=False)` writes, whatever the values hold."""

from __future__ import annotations

import json
from dataclasses import replace

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
