"""`--format json`: exactly the contract of findings-json.md (format qbtrace.findings/1)."""

from __future__ import annotations

import json

import msgspec

from qbtrace import __version__
from qbtrace.analysis import Analysis
from qbtrace.model import Input
from qbtrace.render.view import Presenter

FORMAT = "qbtrace.findings/1"


def document(analysis: Analysis, presenter: Presenter) -> dict[str, object]:
    return {
        "format": FORMAT,
        "qbtrace_version": __version__,
        "inputs": [_input(item, analysis) for item in analysis.inputs],
        "findings": [presenter.finding(f) for f in analysis.findings],
        "summary": analysis.summary(),
        "notes": list(analysis.notes),
        "config": analysis.config,
    }


def _input(item: Input, analysis: Analysis) -> dict[str, object]:
    out: dict[str, object] = {
        "source": item.source,
        "kind": item.kind,
        "entries": item.entries,
        "token_requests": analysis.token_requests_of(item),
        "warnings": list(item.warnings),
        "provider": analysis.providers_of(item)[0],
        "providers": analysis.providers_of(item),
    }
    if item.format is not None:
        out["format"] = item.format
    return out


def render(analysis: Analysis, presenter: Presenter) -> str:
    """The document indented by two spaces. The standard library's indenting encoder is
    pure Python (a third of a big log's analysis); its C encoder writes the document
    compact and msgspec indents that text, byte for byte the same."""
    doc = document(analysis, presenter)
    try:
        compact = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or infinity, which msgspec cannot re-read: the slow way
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return msgspec.json.format(compact, indent=2) + "\n"
