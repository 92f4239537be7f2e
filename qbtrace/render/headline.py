"""Which cause to fix first, decided once for the text and the HTML outputs.

A developer reads the headline and acts on it, so it must not favour a guess: causes the
capture shows (`certain`, `likely`) rank before causes that are only `possible`, then by how
many failures they explain, how sure the findings are, and finally the precedence of
causes.md. When several causes share the top place the headline says so instead of picking
one silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from qbtrace.model import Confidence, Finding
from qbtrace.providers import Provider
from qbtrace.rules import BY_CAUSE, fix_for

ProviderOf = Callable[[Finding], Provider]

SURENESS = {Confidence.CERTAIN: 2, Confidence.LIKELY: 1, Confidence.POSSIBLE: 0}


@dataclass(frozen=True, slots=True)
class CauseRank:
    """One cause's place in the ranking."""

    cause: str
    count: int
    """Findings with this cause."""
    confidence: Confidence
    """The surest confidence among them."""
    fix: str
    """Their fix: the one their evidence names when all share it, else the cause's own."""

    @property
    def guess(self) -> bool:
        """Every finding of this cause is only a ranked guess."""
        return self.confidence == Confidence.POSSIBLE

    def key(self) -> tuple[bool, int, int, int]:
        return (self.guess, -self.count, -SURENESS[self.confidence], BY_CAUSE[self.cause].rank)


@dataclass(frozen=True, slots=True)
class Headline:
    top: CauseRank
    tied: tuple[CauseRank, ...]
    """Other causes as common and as shown (or as guessed) as `top`."""
    outnumbering_guesses: tuple[CauseRank, ...]
    """Guesses more frequent than `top`, ranked below it because the capture shows `top`."""

    @property
    def guesses_only(self) -> bool:
        return self.top.guess


def ranked(
    findings: Iterable[Finding], provider_of: ProviderOf | None = None
) -> tuple[CauseRank, ...]:
    """Causes in the order to fix them; fixes in the words of each finding's provider."""
    by_cause: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_cause[f.cause].append(f)
    ranks = [_rank(cause, items, provider_of) for cause, items in by_cause.items()]
    return tuple(sorted(ranks, key=CauseRank.key))


def _rank(cause: str, items: list[Finding], provider_of: ProviderOf | None) -> CauseRank:
    surest = max((f.confidence for f in items), key=SURENESS.__getitem__)
    fixes = {fix_for(f, provider_of(f) if provider_of else None) for f in items}
    first = provider_of(items[0]) if provider_of else None
    fix = fixes.pop() if len(fixes) == 1 else BY_CAUSE[cause].texts(first).fix
    return CauseRank(cause, len(items), surest, fix)


def headline(findings: Iterable[Finding], provider_of: ProviderOf | None = None) -> Headline | None:
    """The cause to fix first, the causes tied with it, and the guesses it outranks."""
    ranks = ranked(findings, provider_of)
    if not ranks:
        return None
    top = ranks[0]
    tied = tuple(r for r in ranks[1:] if r.guess == top.guess and r.count == top.count)
    louder = tuple(r for r in ranks if r.guess and not top.guess and r.count > top.count)
    return Headline(top, tied, louder)


def sentence(h: Headline) -> str:
    """The headline in words, without the fix (each output places that itself)."""
    top = h.top
    kind = "guessed" if top.guess else "shown"
    if h.tied:
        names = ", ".join(r.cause for r in (top, *h.tied))
        why = _tie_break(top, h.tied[0])
        text = (
            f"{len(h.tied) + 1} {kind} causes tie at {top.count} each ({names}); "
            f"fix first {top.cause}, {why}"
        )
    else:
        text = f"{top.cause} ({top.count} {'failure' if top.count == 1 else 'failures'})"
    if h.guesses_only and top.cause == "unexplained" and not h.tied:
        text += "; no known cause fits: each finding says what the answer showed"
    elif h.guesses_only:
        text += "; only guessed (possible): the input lacks the deciding evidence"
    elif h.outnumbering_guesses:
        guesses = ", ".join(f"{r.cause} {r.count}" for r in h.outnumbering_guesses)
        text += f"; more frequent but only guessed: {guesses}"
    return text


def _tie_break(top: CauseRank, runner_up: CauseRank) -> str:
    if SURENESS[top.confidence] > SURENESS[runner_up.confidence]:
        return f"the surest ({top.confidence})"
    return "first in precedence"
