"""When the provider's answer names the cause itself (Microsoft's AADSTS codes).

Microsoft says to rely on the code, so such a finding is `certain` from the answer alone and
cites the code; what the traffic shows for the same cause is cited after it. Where the
traffic points elsewhere (a visible cause other than the one the code names), the finding
keeps the provider's verdict and says so in a warning, since either may be the one to fix.
"""

from __future__ import annotations

from qbtrace.model import Confidence, Evidence, Match
from qbtrace.rules import BY_CAUSE, Rule
from qbtrace.rules.common import Context

Ranked = list[tuple[Rule, Match]]


def with_stated(ctx: Context, matches: Ranked) -> tuple[Ranked, list[str]]:
    """`matches` (in precedence order) with the stated cause first and certain, and the
    warnings that say where the traffic disagrees; unchanged when the answer names none."""
    f, provider = ctx.failure, ctx.provider
    stated = provider.stated(f.x.reply, f.grant)
    if stated is None or stated.cause not in BY_CAUSE:
        return matches, []
    rule = BY_CAUSE[stated.cause]
    ids = [f"request id {rid}"] if (rid := provider.request_id(f.x)) else []
    if correlation := f.x.headers.get("client-request-id"):
        ids.append(f"correlation_id {correlation}")
    if tenant := provider.tenant_in(f.x.url):
        ids.append(f"tenant {tenant}")
    said = f"{provider.label} answered {stated.code}: {stated.meaning}"
    code = Evidence("provider_code", "; ".join([said, *ids]), f.x.ref, f.x.started)
    traffic = next((m for r, m in matches if r is rule), None)
    others = [(r, m) for r, m in matches if r is not rule]
    evidence = (code, *(traffic.evidence if traffic else ()))
    return [(rule, Match(rule.cause, Confidence.CERTAIN, evidence)), *others], _disagreement(
        stated.code, rule, others
    )


def _disagreement(code: str, rule: Rule, others: Ranked) -> list[str]:
    shown = [(r, m) for r, m in others if m.confidence != Confidence.POSSIBLE]
    shown = [(r, m) for r, m in shown if r.cause != "unexplained"]
    if not shown:
        return []
    other, found = shown[0]
    note = f": {found.evidence[0].note}" if found.evidence else ""
    return [
        f"the answer's {code} names {rule.cause}, but the traffic points to {other.cause}"
        f" ({found.confidence}){note}"
    ]
