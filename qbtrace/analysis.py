"""The analysis pipeline in one call: inputs → timeline → lineage → findings.

The CLI, the report, the sanitizer's self-check and the capture addon's live diagnosis all go
through here, so they can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from qbtrace import lineage as lineage_mod
from qbtrace.classify import classify
from qbtrace.clocks import on_intuit_clock
from qbtrace.events import timeline
from qbtrace.lineage import Lineage
from qbtrace.model import Exchange, Finding, Input
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources import read_input


@dataclass(frozen=True, slots=True)
class Analysis:
    inputs: tuple[Input, ...]
    findings: tuple[Finding, ...]
    lineage: Lineage
    profile: Profile

    @property
    def token_requests(self) -> int:
        return len(self.lineage.requests)


def source_names(paths: Sequence[Path]) -> list[str]:
    """Base names when they are unambiguous, else the paths as given."""
    bases = [p.name for p in paths]
    if len(set(bases)) == len(bases):
        return bases
    return [str(p) for p in paths]


def read_all(
    paths: Sequence[Path],
    profile: Profile,
    redactor: Redactor,
    on_input: Callable[[Input], None] | None = None,
    before: Callable[[Path, str], None] | None = None,
) -> list[Input]:
    inputs = []
    for path, name in zip(paths, source_names(paths), strict=True):
        if before is not None:
            before(path, name)
        item = read_input(path, name, profile, redactor)
        if on_input is not None:
            on_input(item)
        inputs.append(item)
    return inputs


def analyze_inputs(inputs: Iterable[Input], profile: Profile) -> Analysis:
    inputs = tuple(on_intuit_clock(item) for item in inputs)
    order = {item.source: n for n, item in enumerate(inputs)}
    state = lineage_mod.build(timeline(inputs))
    findings = [_clock_said(f, inputs) for f in classify(state, profile)]
    findings.sort(key=lambda f: (order.get(f.ref.source, 0), f.ref.index))
    return Analysis(inputs, tuple(findings), state, profile)


def _clock_said(finding: Finding, inputs: tuple[Input, ...]) -> Finding:
    """A finding whose times came from a corrected clock says so."""
    sources = {finding.ref.source} | {e.ref.source for e in finding.evidence if e.ref}
    notes = [
        f"times from {item.source} were put on Intuit's clock"
        for item in inputs
        if item.source in sources and any("were corrected" in w for w in item.warnings)
    ]
    return replace(finding, warnings=(*finding.warnings, *notes)) if notes else finding


def analyze_exchanges(exchanges: list[Exchange], profile: Profile) -> list[Finding]:
    """Findings for exchanges already in time order (the capture addon's live state)."""
    return classify(lineage_mod.build(exchanges), profile)
