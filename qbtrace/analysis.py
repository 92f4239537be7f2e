"""The analysis pipeline in one call: inputs → timeline → lineage → findings.

The CLI, the report, the sanitizer's self-check and the capture addon's live diagnosis all go
through here, so they can never disagree.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from pathlib import Path

from qbtrace import lineage as lineage_mod
from qbtrace.classify import SCAN_LIMIT, classify, explain_new
from qbtrace.clocks import on_provider_clock
from qbtrace.collector import paused_gc
from qbtrace.events import timeline
from qbtrace.join import join, without
from qbtrace.lineage import Lineage
from qbtrace.model import Confidence, Exchange, Finding, Input, Kind
from qbtrace.profile import Profile
from qbtrace.providers import Provider
from qbtrace.redact import Redactor
from qbtrace.replay import Replay
from qbtrace.sources import read_input

OPEN_LIMIT = 4 * SCAN_LIMIT
SETTLE = 2.0
"""Seconds a failure the rules can only guess about waits for exchanges still in flight (a
refresh race's winner may answer after its loser) before it is told anyway."""


@dataclass(frozen=True, slots=True)
class ProviderCount:
    provider: Provider
    token_requests: int
    failures: int


@dataclass(frozen=True, slots=True)
class Counts:
    """What the bulk path (`bulk`) counted in the skeleton: its inputs hold only the
    exchanges the rules needed, so the counts cannot come from them."""

    token_requests: int
    by_provider: dict[str, int]
    """Provider name → token requests."""
    by_input: dict[str, tuple[int, list[str]]]
    """Input source → (token requests, providers of its exchanges, most exchanges first)."""


@dataclass(frozen=True, slots=True)
class Analysis:
    inputs: tuple[Input, ...]
    findings: tuple[Finding, ...]
    lineage: Lineage
    profile: Profile
    counts: Counts | None = None
    """Set by the bulk path, whose inputs and lineage hold the failures' neighbourhoods only."""

    @property
    def token_requests(self) -> int:
        return self.counts.token_requests if self.counts else len(self.lineage.requests)

    def token_requests_of(self, item: Input) -> int:
        """Token requests of one input."""
        if self.counts is not None and item.source in self.counts.by_input:
            return self.counts.by_input[item.source][0]
        return sum(1 for x in item.exchanges if x.kind == Kind.TOKEN)

    @property
    def notes(self) -> tuple[str, ...]:
        """What the user should know about the inputs as a whole, beyond the findings."""
        if self.token_requests:
            return ()
        others = {o: None for item in self.inputs for o in item.others}
        if others:
            known = " or ".join(p.title or p.name for p in self.profile.providers)
            return (
                f"no {known} token requests in the input; it holds the sign-in traffic of "
                f"another OAuth provider: {', '.join(others)}, which qbtrace is not "
                "configured for: is this the right capture?",
            )
        browser = self.lineage.saw_browser()
        where = (
            "the input shows the browser's authorize and callback, but the token requests "
            "are made by the app's server: capture them too (`qbtrace proxy`, or a HAR of "
            "the server's traffic) and analyze both files together"
            if browser
            else f"no {self._titles()} token, authorize or callback traffic either: is this "
            "the right capture, or does the app use other endpoints (see qbtrace.toml)?"
        )
        return (f"no token-endpoint requests in the input; {where}",)

    def providers_of(self, item: Input) -> list[str]:
        """The providers of an input's OAuth exchanges, most exchanges first (the default
        provider's alone when it has none): one capture may hold several."""
        if self.counts is not None and self.counts.by_input.get(item.source, (0, []))[1]:
            return self.counts.by_input[item.source][1]
        counts = Counter(self.profile.provider_for(x).name for x in item.exchanges)
        if not counts:
            return [self.profile.default.name]
        return [name for name, _ in counts.most_common()]

    def per_provider(self) -> list[ProviderCount]:
        """Token requests and failures of each provider the inputs hold, in the profile's
        order: how the text and the report group a capture with several providers."""
        requests = (
            Counter(self.counts.by_provider)
            if self.counts is not None
            else Counter(self.profile.provider_for(r.x).name for r in self.lineage.requests)
        )
        failed = Counter(f.provider for f in self.findings)
        return [
            ProviderCount(p, requests[p.name], failed[p.name])
            for p in self.profile.providers
            if requests[p.name] or failed[p.name]
        ]

    def summary(self) -> dict[str, object]:
        """The contract's summary: token requests, failures, failures by cause in precedence
        order (here rather than in `table`, so JSON and text never import polars)."""
        from qbtrace.rules import PRECEDENCE

        counts = Counter(f.cause for f in self.findings)
        return {
            "token_requests": self.token_requests,
            "failures": len(self.findings),
            "by_cause": {cause: counts[cause] for cause in PRECEDENCE if counts[cause]},
        }

    @property
    def config(self) -> dict[str, object]:
        """Which config was read and what it changed (findings-json.md's `config`)."""
        return {"file": self.profile.config_file, "overrides": dict(self.profile.overrides)}

    def _titles(self) -> str:
        """The providers by the names people use (the first word of each title)."""
        names = list(dict.fromkeys(p.label.split()[0] for p in self.profile.providers))
        return " or ".join(filter(None, (", ".join(names[:-1]), names[-1])))


def source_names(paths: Sequence[Path]) -> list[str]:
    """Base names when they are unambiguous, else the paths as given; `-` is `stdin`."""
    bases = ["stdin" if str(p) == "-" else p.name for p in paths]
    if len(set(bases)) == len(bases):
        return bases
    return [str(p) for p in paths]


def read_all(
    paths: Sequence[Path],
    profile: Profile,
    redactor: Redactor,
    on_input: Callable[[Input], None] | None = None,
    before: Callable[[Path, str], None] | None = None,
    log_tz: tzinfo | None = None,
) -> list[Input]:
    inputs = []
    for path, name in zip(paths, source_names(paths), strict=True):
        if before is not None:
            before(path, name)
        item = read_input(path, name, profile, redactor, log_tz)
        if on_input is not None:
            on_input(item)
        inputs.append(item)
    return inputs


Classifier = Callable[[Sequence[Exchange], Profile], list[Finding]]
"""What finds the failures' causes on a timeline, when not `classify` on one process (a
split run: `passes.findings` on an engine)."""


def analyze_inputs(
    inputs: Iterable[Input], profile: Profile, classifier: Classifier | None = None
) -> Analysis:
    """The reference pipeline: every exchange of every input folded and classified."""
    inputs, exchanges = prepared(inputs, profile)
    order = {item.source: n for n, item in enumerate(inputs)}
    state, found = analyze_timeline(exchanges, profile, classifier)
    findings = [clock_said(f, inputs, profile) for f in found]
    findings.sort(key=lambda f: (order.get(f.ref.source, 0), f.ref.index))
    return Analysis(inputs, tuple(findings), state, profile)


def prepared(inputs: Iterable[Input], profile: Profile) -> tuple[tuple[Input, ...], list[Exchange]]:
    """The inputs on the providers' clock with logs joined to captures, and their timeline:
    what the lineage is built from."""
    joined, folded = join(tuple(on_provider_clock(item, profile) for item in inputs), profile)
    return joined, timeline(without(joined, folded))


analyze_reference = analyze_inputs
"""What `qbtrace analyze` runs on inputs the bulk path (`bulk`) does not take; the
reference the bulk path is tested against."""


def clock_said(finding: Finding, inputs: tuple[Input, ...], profile: Profile) -> Finding:
    """A finding whose times came from a corrected clock says so."""
    sources = {finding.ref.source} | {e.ref.source for e in finding.evidence if e.ref}
    clock = profile.named(finding.provider).phrases()["provider_s"]
    notes = [
        f"times from {item.source} were put on {clock} clock"
        for item in inputs
        if item.source in sources and any("were corrected" in w for w in item.warnings)
    ]
    return replace(finding, warnings=(*finding.warnings, *notes)) if notes else finding


def analyze_exchanges(exchanges: list[Exchange], profile: Profile) -> list[Finding]:
    """Findings for exchanges already in time order, all at once."""
    return analyze_timeline(exchanges, profile)[1]


def analyze_timeline(
    exchanges: list[Exchange], profile: Profile, classifier: Classifier | None = None
) -> tuple[Lineage, list[Finding]]:
    """Lineage and findings of a time-ordered list, with the cyclic GC paused (the findings
    from `classifier` when given: the lineage is still built here, for the outputs).

    Building the indexes allocates millions of small objects and no cycles; the collector's
    repeated scans of them were most of the time on big inputs (100k requests: 3.2 s → 1.5 s).
    """
    with paused_gc():
        state = lineage_mod.build(exchanges)
        if classifier is not None:
            return state, classifier(exchanges, profile)
        return state, classify(state, profile)


@dataclass
class LiveAnalysis:
    """The analysis as exchanges arrive (the capture addon's live diagnosis): one `Lineage`
    for the session, and each new failure explained once, on the state seen so far.

    `add` folds an exchange in its place by start time, even when it finishes late
    (`Replay.add`). `explain` runs the rules for one failed token request; when they leave
    it unexplained, its outage cluster is formed from the unexplained failures that started
    at most two outage windows before the newest one, all that is kept of them. So the work
    per failure does not grow with the session. A failure is explained before later
    exchanges are seen (a cluster that forms after it, a revoke recorded late): `qbtrace
    analyze` on the capture accounts for those.
    """

    profile: Profile
    replay: Replay = field(default_factory=Replay)
    held: list[tuple[Exchange, float]] = field(default_factory=list)
    """Failures whose finding is still a guess, with when they arrived (see `tell`)."""
    _open: list[Exchange] = field(default_factory=list)
    """Recent failures left unexplained (the candidates for an outage cluster), by start."""
    _newest: float = float("-inf")

    @property
    def lineage(self) -> Lineage:
        """The indexes of every exchange added so far, in start order."""
        return self.replay.lineage

    def add(self, exchange: Exchange) -> None:
        self.replay.add(exchange)

    def tell(
        self, arrived: Sequence[Exchange], now: float, force: bool = False
    ) -> list[tuple[Exchange, Finding]]:
        """Add `arrived` and return the findings ready to tell: each new failure's, and those
        of failures held back. A finding that is only a guess (`possible`, `unexplained`) is
        held up to SETTLE seconds after `now` of its arrival and explained again whenever
        more exchanges arrive, unless `force`: an exchange it depends on may be in flight."""
        for exchange in arrived:
            self.add(exchange)
        waiting = all(now < seen + SETTLE for _, seen in self.held)
        if not arrived and not force and waiting:
            return []  # nothing new, and no held failure is due
        ready: list[tuple[Exchange, Finding]] = []
        new = [(x, now) for x in arrived if x.kind == Kind.TOKEN and not x.ok]
        held, self.held = self.held, []
        for exchange, seen in [*held, *new]:
            finding = self.explain(exchange)
            if finding is None:
                continue
            guess = finding.confidence == Confidence.POSSIBLE or finding.cause == "unexplained"
            if guess and not force and now < seen + SETTLE:
                self.held.append((exchange, seen))
            else:
                ready.append((exchange, finding))
        return ready

    def explain(self, exchange: Exchange) -> Finding | None:
        """The finding for a failed token request already added; None for anything else."""
        failure = self.replay.request_of(exchange)
        if failure is None or failure.ok:
            return None
        # a cluster scan reaches at most SCAN_LIMIT failures either side in start order
        at = bisect.bisect_left(self._open, failure.start, key=lambda x: x.started or 0.0)
        near = self._open[max(at - SCAN_LIMIT - 1, 0) : at + SCAN_LIMIT + 1]
        recent = [r for x in near if (r := self.replay.request_of(x)) is not None]
        finding, unexplained = explain_new(self.lineage, self.profile, failure, recent)
        if unexplained and exchange.started is not None:
            self._keep_open(exchange, exchange.started)
        return finding

    def _keep_open(self, exchange: Exchange, started: float) -> None:
        if any(x is exchange for x in self._open):
            return  # explained again after a wait (the capture addon holds guesses)
        bisect.insort(self._open, exchange, key=lambda x: x.started or 0.0)
        self._newest = max(self._newest, started)
        oldest = self._newest - 2 * self.profile.outage_window
        drop = bisect.bisect_left(self._open, oldest, key=lambda x: x.started or 0.0)
        drop = max(drop, len(self._open) - OPEN_LIMIT)
        del self._open[:drop]
