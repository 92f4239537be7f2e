"""`--format json`: exactly the contract of findings-json.md (format qbtrace.findings/1)."""

from __future__ import annotations

import json

from qbtrace import __version__
from qbtrace.analysis import Analysis
from qbtrace.model import Input, Kind
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
        "token_requests": sum(1 for x in item.exchanges if x.kind == Kind.TOKEN),
        "warnings": list(item.warnings),
        "provider": analysis.providers_of(item)[0],
        "providers": analysis.providers_of(item),
    }
    if item.format is not None:
        out["format"] = item.format
    return out


def render(analysis: Analysis, presenter: Presenter) -> str:
    return json.dumps(document(analysis, presenter), indent=2, ensure_ascii=False) + "\n"
