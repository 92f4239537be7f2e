"""What the rules share: the context of one failure and small helpers to phrase evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from qbtrace.events import TokenRequest
from qbtrace.lineage import Lineage
from qbtrace.model import Confidence, Evidence, Exchange, Match, Role
from qbtrace.profile import Profile
from qbtrace.providers import Provider
from qbtrace.redact import Secret

if TYPE_CHECKING:
    from qbtrace.rules.from_logs import Near


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a rule may look at, for one failed token request."""

    lineage: Lineage
    profile: Profile
    failure: TokenRequest
    cluster: tuple[TokenRequest, ...] = ()
    """Other failures of unrelated lineages close in time (for provider_outage)."""
    near: Near | None = None
    """The lineage's requests by company, when `classify` built it (`from_logs.index`)."""
    found: Provider | None = field(default=None, compare=False, repr=False)
    """`provider` once asked: the rules ask it about seven times a failure."""

    @property
    def provider(self) -> Provider:
        """The provider the failed request went to: its parameters and words."""
        found = self.found
        if found is None:
            found = self.profile.provider_for(self.failure.x)
            object.__setattr__(self, "found", found)  # a cache, not a change of the context
        return found


def grant_error(f: TokenRequest) -> bool:
    """A failure the invalid_grant rules may explain (an unreadable body counts, weakened)."""
    status = f.x.status
    if status is None or status in (401, 408, 429) or status >= 500:
        return False
    return f.error in (None, "invalid_grant") and 400 <= status < 500


def client_error(f: TokenRequest) -> bool:
    return f.error == "invalid_client" or (f.error is None and f.x.status == 401)


def refresh_failure(ctx: Context) -> Secret | None:
    f = ctx.failure
    return f.refresh if f.grant == "refresh_token" and grant_error(f) else None


def code_failure(ctx: Context) -> Secret | None:
    f = ctx.failure
    return f.code if f.grant == "authorization_code" and grant_error(f) else None


def before(req: TokenRequest, failure: TokenRequest) -> bool:
    """`req` was sent before `failure` on the timeline."""
    return req.seq < failure.seq


def when(moment: float | None) -> str:
    if moment is None or moment == float("-inf"):
        return "at an unknown time"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def span(seconds: float) -> str:
    """A duration a person reads at a glance: 40s, 12m, 26h, 101d."""
    s = abs(seconds)
    if s >= 2 * 86_400:
        return f"{s / 86_400:.0f}d"
    if s >= 2 * 3_600:
        return f"{s / 3_600:.0f}h"
    if s >= 120:
        return f"{s / 60:.0f}m"
    return f"{s:.0f}s" if s >= 10 else f"{s:.1f}s"


def outcome(req: TokenRequest) -> str:
    x = req.x
    if x.status is None:
        return f"no response ({x.failure or 'connection closed'})"
    if req.ok:
        return f"HTTP {x.status}"
    return f"HTTP {x.status} {req.error or ''}".rstrip()


def cite(role: Role, req: TokenRequest, note: str) -> Evidence:
    return cite_exchange(role, req.x, note)


def cite_exchange(role: Role, x: Exchange, note: str) -> Evidence:
    """Evidence pointing at `x`, saying who made it when an input (a log) says so."""
    if x.process:
        note = f"{note} (by {x.process})"
    return Evidence(role, note, x.ref, x.started, x.process)


def match(cause: str, confidence: Confidence, *evidence: Evidence) -> Match:
    return Match(cause, confidence, tuple(evidence))


def cap(confidence: Confidence, limit: Confidence) -> Confidence:
    order = (Confidence.POSSIBLE, Confidence.LIKELY, Confidence.CERTAIN)
    return order[min(order.index(confidence), order.index(limit))]


def hinted(ctx: Context, cause: str) -> Evidence | None:
    """The failure's own error_description, when the provider's wording points at `cause`."""
    f = ctx.failure
    hint = ctx.provider.hint_for(f.error_description, cause)
    if hint is None:
        return None
    note = f"the answer says {f.error_description!r}: {hint.meaning}"
    return Evidence("error_description", note)  # the failure's own answer: no link to itself


def environments(profile: Profile, first: str | None, second: str | None) -> str:
    """` (development vs production keys)` when the config knows both ids apart, else ``."""
    envs = [profile.environment_of(c) for c in (first, second)]
    return f" ({envs[0]} vs {envs[1]} keys)" if all(envs) and envs[0] != envs[1] else ""


def rotation_kills(provider: Provider) -> bool:
    """The provider rotates refresh tokens and a replaced one dies before its own lifetime
    ends (not Google, which never rotates; not Microsoft, whose old tokens live on)."""
    lifetime = provider.refresh_token_lifetime
    return provider.rotates and (lifetime is None or provider.rotation_grace < lifetime)
