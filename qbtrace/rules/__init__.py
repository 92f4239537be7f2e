"""One module per cause id of causes.md; each module's docstring is its user documentation.

A rule module has `CAUSE` (the id), `check(ctx) -> Match | None` (pure), and a docstring whose
first line is the title and whose `What happened:`, `How to confirm:` and `How to fix:`
paragraphs are what `qbtrace explain`, the JSON `explanation`/`fix` and the report print.
The docstring speaks of "the provider" through placeholders (`{Provider} answers
`invalid_grant``, `the {tenant}`) that each finding fills with its provider's words.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass, field
from types import ModuleType
from typing import Literal, get_args

from qbtrace.model import Finding, Match
from qbtrace.providers import DEFAULT, Provider
from qbtrace.rules.common import Context

Cause = Literal[
    "client_credentials_malformed",
    "client_secret_wrong",
    "refresh_token_altered",
    "code_altered",
    "redirect_uri_mismatch",
    "code_client_mismatch",
    "refresh_client_mismatch",
    "interaction_required",
    "code_reused",
    "refresh_token_revoked",
    "refresh_token_family_revoked",
    "refresh_race",
    "refresh_response_lost",
    "refresh_token_superseded",
    "grant_poisoned_by_code_reuse",
    "refresh_token_evicted",
    "refresh_token_hard_expired",
    "refresh_token_expired",
    "code_expired",
    "provider_outage",
    "code_unknown",
    "refresh_token_unknown",
    "client_credentials_rejected",
    "unexplained",
]
"""The cause ids of causes.md, in its precedence order: when several rules match a failure,
the first of these is the finding's `cause`. Adding a cause is adding it here, in its place."""
PRECEDENCE: tuple[Cause, ...] = get_args(Cause)
SECTIONS = ("What happened", "How to confirm", "How to fix")


PLACEHOLDER = re.compile(r"\{(\w+)\}")
"""`{provider}`, `{tenant}`...: a word the provider supplies (`Provider.phrases`). Other braces
(a JSON body such as `{"error":"invalid_client"}`) are text."""


@dataclass(frozen=True, slots=True)
class Texts:
    """A rule's documentation in one provider's words."""

    title: str
    happened: str
    confirm: str
    fix: str


@dataclass(frozen=True, slots=True)
class Rule:
    cause: Cause
    rank: int
    check: Callable[[Context], Match | None]
    template: Texts
    """The docstring's sections, whitespace collapsed, placeholders left in."""
    guesses: tuple[str, ...] = ()
    """Causes to list as alternatives when this one is a guess (`LIKELY_CAUSES` of the module)."""
    applies: Callable[[Provider], bool] = field(default=lambda provider: True)
    """Whether the provider's policy makes this cause possible at all (the module's `applies`;
    every provider when it has none): the others' failures never get it."""

    def texts(self, provider: Provider | None = None) -> Texts:
        """The sections in the words of `provider` (the default provider's when None)."""
        return _worded(self.template, provider or DEFAULT)

    @property
    def title(self) -> str:
        return self.texts().title

    @property
    def happened(self) -> str:
        return self.texts().happened

    @property
    def confirm(self) -> str:
        return self.texts().confirm

    @property
    def fix(self) -> str:
        return self.texts().fix

    def doc_for(self, provider: Provider | None = None) -> str:
        """What `qbtrace explain` prints."""
        t = self.texts(provider)
        return (
            f"{self.cause}: {t.title}\n\nWhat happened: {t.happened}\n\n"
            f"How to confirm: {t.confirm}\n\nHow to fix: {t.fix}\n"
        )

    @property
    def doc(self) -> str:
        return self.doc_for()


@functools.lru_cache(maxsize=1024)
def _worded(template: Texts, provider: Provider) -> Texts:
    words = provider.phrases()

    def fill(text: str) -> str:
        out = PLACEHOLDER.sub(lambda m: words.get(m.group(1), m.group(0)), text)
        return out[:1].upper() + out[1:]

    return Texts(*(fill(part) for part in astuple(template)))


def placeholders(template: Texts) -> set[str]:
    """The words a rule's docstring asks of a provider (a test checks every one exists)."""
    return {name for part in astuple(template) for name in PLACEHOLDER.findall(part)}


def _sections(module: ModuleType) -> dict[str, str]:
    text = module.__doc__ or ""
    title, _, body = text.strip().partition("\n")
    found = {"title": title.strip()}
    for name in SECTIONS:
        pattern = rf"{name}:(.*?)(?=\n\s*\n(?:{'|'.join(SECTIONS)}):|\Z)"
        hit = re.search(pattern, body, re.S)
        found[name] = " ".join(hit.group(1).split()) if hit else ""
    return found


def _load(cause: Cause, rank: int) -> Rule:
    module = importlib.import_module(f"qbtrace.rules.{cause}")
    if getattr(module, "CAUSE", None) != cause:
        raise RuntimeError(f"rule module {cause} declares CAUSE={getattr(module, 'CAUSE', None)!r}")
    s = _sections(module)
    return Rule(
        cause,
        rank,
        module.check,
        Texts(s["title"], s["What happened"], s["How to confirm"], s["How to fix"]),
        tuple(getattr(module, "LIKELY_CAUSES", ())),
        getattr(module, "applies", _everywhere),
    )


def _everywhere(provider: Provider) -> bool:
    return True


RULES: tuple[Rule, ...] = tuple(_load(cause, rank) for rank, cause in enumerate(PRECEDENCE))
BY_CAUSE: dict[str, Rule] = {rule.cause: rule for rule in RULES}


def arises_with(rule: Rule, providers: Iterable[Provider]) -> str:
    """Which of `providers` the cause can arise with, as `qbtrace causes` and `explain` say."""
    listed = list(providers)
    names = [p.name for p in listed if rule.applies(p)]
    if len(names) == len(listed):
        return "every provider"
    if not names:
        return "no built-in provider; one set up for it in qbtrace.toml"
    return ", ".join(names) + " (and any provider set up for it in qbtrace.toml)"


def fix_for(finding: Finding, provider: Provider | None = None) -> str:
    """The fix a finding's own evidence calls for, else its cause's, in `provider`'s words."""
    return finding.fix or BY_CAUSE[finding.cause].texts(provider).fix


def happened_for(finding: Finding, provider: Provider | None = None) -> str:
    """What a finding's own evidence says happened, else its cause's general explanation."""
    return finding.happened or BY_CAUSE[finding.cause].texts(provider).happened
