"""One module per cause id of causes.md; each module's docstring is its user documentation.

A rule module has `CAUSE` (the id), `check(ctx) -> Match | None` (pure), and a docstring whose
first line is the title and whose `What happened:`, `How to confirm:` and `How to fix:`
paragraphs are what `qbtrace explain`, the JSON `explanation`/`fix` and the report print.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from qbtrace.model import Finding, Match
from qbtrace.rules.common import Context

PRECEDENCE: tuple[str, ...] = (
    "client_credentials_malformed",
    "client_secret_wrong",
    "refresh_token_altered",
    "code_altered",
    "redirect_uri_mismatch",
    "code_client_mismatch",
    "refresh_client_mismatch",
    "code_reused",
    "refresh_token_revoked",
    "refresh_race",
    "refresh_response_lost",
    "refresh_token_superseded",
    "grant_poisoned_by_code_reuse",
    "refresh_token_hard_expired",
    "refresh_token_expired",
    "code_expired",
    "provider_outage",
    "code_unknown",
    "refresh_token_unknown",
    "client_credentials_rejected",
    "unexplained",
)
SECTIONS = ("What happened", "How to confirm", "How to fix")


@dataclass(frozen=True, slots=True)
class Rule:
    cause: str
    rank: int
    check: Callable[[Context], Match | None]
    title: str
    happened: str
    confirm: str
    fix: str
    guesses: tuple[str, ...] = ()
    """Causes to list as alternatives when this one is a guess (`LIKELY_CAUSES` of the module)."""

    @property
    def doc(self) -> str:
        return (
            f"{self.cause}: {self.title}\n\nWhat happened: {self.happened}\n\n"
            f"How to confirm: {self.confirm}\n\nHow to fix: {self.fix}\n"
        )


def _sections(module: ModuleType) -> dict[str, str]:
    text = module.__doc__ or ""
    title, _, body = text.strip().partition("\n")
    found = {"title": title.strip()}
    for name in SECTIONS:
        pattern = rf"{name}:(.*?)(?=\n\s*\n(?:{'|'.join(SECTIONS)}):|\Z)"
        hit = re.search(pattern, body, re.S)
        text = " ".join(hit.group(1).split()) if hit else ""
        found[name] = text[:1].upper() + text[1:]
    return found


def _load(cause: str, rank: int) -> Rule:
    module = importlib.import_module(f"qbtrace.rules.{cause}")
    if getattr(module, "CAUSE", None) != cause:
        raise RuntimeError(f"rule module {cause} declares CAUSE={getattr(module, 'CAUSE', None)!r}")
    s = _sections(module)
    return Rule(
        cause,
        rank,
        module.check,
        s["title"],
        s["What happened"],
        s["How to confirm"],
        s["How to fix"],
        tuple(getattr(module, "LIKELY_CAUSES", ())),
    )


RULES: tuple[Rule, ...] = tuple(_load(cause, rank) for rank, cause in enumerate(PRECEDENCE))
BY_CAUSE: dict[str, Rule] = {rule.cause: rule for rule in RULES}


def fix_for(finding: Finding) -> str:
    """The fix a finding's own evidence calls for, else its cause's general fix."""
    return finding.fix or BY_CAUSE[finding.cause].fix


def happened_for(finding: Finding) -> str:
    """What a finding's own evidence says happened, else its cause's general explanation."""
    return finding.happened or BY_CAUSE[finding.cause].happened
