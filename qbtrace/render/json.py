"""`--format json`: exactly the contract of findings-json.md (format qbtrace.findings/1)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import msgspec

from qbtrace import __version__
from qbtrace.analysis import Analysis
from qbtrace.collector import paused_gc
from qbtrace.model import Finding, Input
from qbtrace.render.view import Presenter

FORMAT = "qbtrace.findings/1"


def document(
    analysis: Analysis, presenter: Presenter, with_findings: bool = True
) -> dict[str, object]:
    """The document as values (`with_findings=False`: an empty list in their place)."""
    findings = analysis.findings if with_findings else ()
    return {
        "format": FORMAT,
        "qbtrace_version": __version__,
        "inputs": [_input(item, analysis) for item in analysis.inputs],
        "findings": [presenter.finding(f) for f in findings],
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


BATCH = 1000
"""Findings turned into text at a time: the document is written as it is made, so 100k
findings never exist at once as dicts and one text (at 10M requests: 117k findings, 200 MB)."""
PLACE = '\n  "findings": []'
"""Where the findings go in the indented document without them (`json.dumps` writes no
other line at two spaces of indentation holding that key: its strings escape quotes)."""


def render(analysis: Analysis, presenter: Presenter) -> str:
    """The document indented by two spaces (`chunks` joined)."""
    return "".join(chunks(analysis, presenter))


def chunks(analysis: Analysis, presenter: Presenter, batch: int = BATCH) -> Iterator[str]:
    """The text of the document, in pieces: `json.dumps(document(...), indent=2,
    ensure_ascii=False)` and a newline, byte for byte, with the findings made and indented
    `batch` at a time."""
    doc = document(analysis, presenter, with_findings=False)
    head, tail = _indented(doc).split(PLACE, 1)
    found = analysis.findings
    if not found:
        yield head + PLACE + tail + "\n"
        return
    yield head + '\n  "findings": [\n'
    for at in range(0, len(found), batch):
        yield ("  " if at == 0 else ",\n  ") + _batch(found[at : at + batch], presenter)
    yield "\n  ]" + tail + "\n"


def _batch(found: Sequence[Finding], presenter: Presenter) -> str:
    """Findings' text, indented as in the document, with the cyclic collector paused: their
    dicts are thousands of small acyclic objects, and next to a big analysis's exchanges
    its scans took half the rendering's time."""
    with paused_gc():
        some = [presenter.finding(f) for f in found]
        body = _encoded(some, found)[2:-2]  # "[\n" and "\n]": each finding's lines are left
    return body.replace("\n", "\n  ")


def _encoded(some: list[dict[str, object]], found: Sequence[Finding]) -> str:
    """`_indented(some)`, encoded by msgspec (8x faster than `json.dumps`) when the findings
    hold no float: a finding's view holds strings, None, and integers only in `status`
    and the refs' `index` (checked here), and for those msgspec writes the same bytes as
    `json.dumps` with `ensure_ascii=False`. Floats it writes otherwise (`1e16` for `1e+16`;
    nan as null): those go to `_indented`, and so does anything it refuses."""
    if not all(map(_integral, found)):
        return _indented(some)
    try:
        return msgspec.json.format(_ENCODER.encode(some), indent=2).decode()
    except (TypeError, ValueError, OverflowError):
        return _indented(some)


def _integral(f: Finding) -> bool:
    """The finding's numbers are not floats (a reader that let one through: `json.dumps`)."""
    return (
        type(f.status) is not float
        and type(f.ref.index) is not float
        and not any(e.ref is not None and type(e.ref.index) is float for e in f.evidence)
        and not any(type(r.index) is float for r in f.seen_in)
    )


_ENCODER = msgspec.json.Encoder()


def _indented(value: object) -> str:
    """`json.dumps(value, indent=2, ensure_ascii=False)`. The standard library's indenting
    encoder is pure Python (a third of a big log's analysis); its C encoder writes the value
    compact and msgspec indents that text, byte for byte the same."""
    try:
        compact = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or infinity, which msgspec cannot re-read: the slow way
        return json.dumps(value, indent=2, ensure_ascii=False)
    return msgspec.json.format(compact, indent=2)
