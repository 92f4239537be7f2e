"""Every failed token request → exactly one finding: all rules run, precedence picks the cause.

Guesses (`possible`) never outrank a cause the evidence shows; what the input could not show
(stripped credentials, missing bodies) lowers confidence and is said in the finding's
warnings, so a sanitized export never yields a wrong `certain`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable

from qbtrace.events import TokenRequest
from qbtrace.lineage import Lineage
from qbtrace.model import TENANT, TOKEN_NOT_LOGGED, Confidence, Evidence, Finding, Match
from qbtrace.profile import Profile
from qbtrace.providers import Provider
from qbtrace.rules import BY_CAUSE, RULES, Rule, from_logs
from qbtrace.rules.common import Context, cap, client_error, grant_error
from qbtrace.stated import with_stated

BURST = 3
BACKGROUND_SPAN = 86_400.0
SCAN_LIMIT = 200
CLIENT_RANK = BY_CAUSE["refresh_client_mismatch"].rank


def classify(lineage: Lineage, profile: Profile) -> list[Finding]:
    """Two passes: per-token causes first; then only the failures they leave unexplained (and
    server errors) can form an outage cluster, as causes.md defines it."""
    failures = [r for r in lineage.requests if not r.ok]
    # only a log's failures without their token look at the requests near them
    near = from_logs.index(lineage) if any(map(from_logs.tokenless, failures)) else None
    first = [explain(Context(lineage, profile, f, near=near)) for f in failures]
    open_ = [f for f, found in zip(failures, first, strict=True) if left_open(f, found)]
    clusters = outage_clusters(open_, lineage, profile)
    return [
        explain(Context(lineage, profile, f, clusters[f.seq], near)) if f.seq in clusters else found
        for f, found in zip(failures, first, strict=True)
    ]


def left_open(f: TokenRequest, found: Finding) -> bool:
    """A failure the per-token pass left open to an outage cluster: a server error or no
    answer, a guess, or nothing to blame (the split's driver asks it of every part too)."""
    server_side = f.x.status is None or f.x.status >= 500
    return server_side or found.confidence == Confidence.POSSIBLE or found.cause == "unexplained"


def explain(ctx: Context) -> Finding:
    f = ctx.failure
    provider = ctx.provider
    matches = [(rule, m) for rule in _applicable(provider) if (m := rule.check(ctx)) is not None]
    matches.sort(key=lambda rm: (rm[1].confidence == Confidence.POSSIBLE, rm[0].rank))
    matches, said = with_stated(ctx, matches)
    rule, chosen = matches[0]
    warnings: list[str] = [*said]
    rule, chosen = _guess_without_credentials(ctx, rule, chosen, warnings)
    confidence = _weakened(ctx, rule, chosen.confidence, warnings)
    alternatives: list[str] = [
        r.cause for r, _ in matches if r is not rule and r.cause != "unexplained"
    ]
    alternatives += [c for c in rule.guesses if c not in alternatives]
    return Finding(
        ref=f.x.ref,
        time=f.x.started,
        cause=rule.cause,
        confidence=confidence,
        grant_type=f.grant,
        status=f.x.status,
        error=f.error,
        error_description=f.error_description,
        request_id=ctx.provider.request_id(f.x),
        evidence=chosen.evidence,
        alternatives=tuple(alternatives),
        token=f.presented.tag if f.presented else None,
        client_id=f.client_id,
        warnings=tuple(warnings),
        happened=chosen.happened,
        fix=chosen.fix,
        provider=ctx.provider.name,
        process=f.x.process,
        seen_in=f.x.seen_in,
    )


_APPLICABLE: dict[int, tuple[Provider, tuple[Rule, ...]]] = {}


def _applicable(provider: Provider) -> tuple[Rule, ...]:
    """The rules whose cause the provider's policy makes possible, in precedence order: asked
    once per provider rather than of every rule for every failure (a provider hashes all its
    fields, so the cache goes by identity, holding the provider so its id stays its own)."""
    hit = _APPLICABLE.get(id(provider))
    if hit is None or hit[0] is not provider:
        if len(_APPLICABLE) >= 64:
            _APPLICABLE.clear()
        hit = _APPLICABLE[id(provider)] = (provider, tuple(r for r in RULES if r.applies(provider)))
    return hit[1]


def _guess_without_credentials(
    ctx: Context, rule: Rule, chosen: Match, warnings: list[str]
) -> tuple[Rule, Match]:
    """With the credentials stripped, an issued token failing for no visible reason most
    likely met another client's credentials: say so as a guess rather than `unexplained`."""
    f = ctx.failure
    if f.client_known or rule.cause not in ("unexplained", "client_credentials_rejected"):
        return rule, chosen
    token = f.presented
    if f.grant == "refresh_token" and grant_error(f) and token and ctx.lineage.was_issued(token):
        guess = BY_CAUSE["refresh_client_mismatch"]
    elif (
        f.grant == "authorization_code"
        and grant_error(f)
        and token
        and ctx.lineage.grant_of(token) is not None
    ):
        guess = BY_CAUSE["code_client_mismatch"]
    else:
        return rule, chosen
    warnings.append("no client credentials in the input for this request; the cause is a guess")
    note = "the token was issued in this capture and nothing else explains the failure"
    return guess, Match(guess.cause, Confidence.POSSIBLE, (Evidence("missing_credentials", note),))


def _weakened(ctx: Context, rule: Rule, confidence: Confidence, warnings: list[str]) -> Confidence:
    f = ctx.failure
    weak_client = not f.client_known and rule.rank > CLIENT_RANK and f.grant is not None
    if weak_client and not client_error(f) and confidence == Confidence.CERTAIN:
        warnings.append(
            "client credentials are not in the input (stripped by the exporter?): "
            "a client mismatch could not be ruled out"
        )
        confidence = cap(confidence, Confidence.LIKELY)
    if f.error is None and f.x.status is not None and 400 <= f.x.status < 500:
        warnings.append("the response body is missing: the provider's error code is unknown")
        confidence = cap(confidence, Confidence.LIKELY)
    return confidence


def _lineage_key(lineage: Lineage, r: TokenRequest) -> str:
    token = r.presented
    if token is not None:
        return lineage.lineage_of(token) or token.hex
    tenant = r.x.params.get(TENANT)  # a log line names the company, not the token
    if isinstance(tenant, str):
        return f"tenant:{tenant}"
    if r.client_id is None and TOKEN_NOT_LOGGED in r.x.gaps:
        # a log naming neither company nor client: its failures cannot be told apart as
        # unrelated connections, so they do not make an outage by their number alone
        return f"log:{r.x.ref.source}"
    return r.client_id or f"request:{r.seq}"


def outage_clusters(
    failures: Iterable[TokenRequest], lineage: Lineage, profile: Profile
) -> dict[int, tuple[TokenRequest, ...]]:
    """For each failure, failures of other lineages within the outage window (a capped scan),
    among the failures of the same provider: one provider's outage is not another's."""
    out: dict[int, tuple[TokenRequest, ...]] = {}
    for provider, group in _by_provider(failures, profile).items():
        timed, starts, keys = _by_start(group, lineage)
        need = _burst_size(starts, provider)
        for i, f in enumerate(timed):
            cluster = _cluster(i, timed, starts, keys, provider, need)
            if cluster:
                out[f.seq] = cluster
    return out


def _by_provider(
    failures: Iterable[TokenRequest], profile: Profile
) -> dict[Provider, list[TokenRequest]]:
    groups: dict[Provider, list[TokenRequest]] = {}
    for f in failures:
        groups.setdefault(profile.provider_for(f.x), []).append(f)
    return groups


def _by_start(
    failures: Iterable[TokenRequest], lineage: Lineage
) -> tuple[list[TokenRequest], list[float], list[str]]:
    """Failures with a start time sorted by it (stable), their starts and lineage keys."""
    timed = sorted((f for f in failures if f.start != float("-inf")), key=lambda f: f.start)
    return timed, [f.start for f in timed], [_lineage_key(lineage, f) for f in timed]


def _burst_size(starts: list[float], provider: Provider) -> int:
    """How many other lineages must fail near a failure for an outage: the configured minimum,
    or BURST times what the capture's own background rate of unexplained failures puts in one
    window, whichever is more. A big app has a few stray failures every few minutes; an
    outage stands out from them. The rate is taken over a day at least, so a short capture of
    an outage alone does not count as its own background."""
    need = max(provider.outage_min_lineages - 1, 1)
    if len(starts) < 2:
        return need
    span = max(starts[-1] - starts[0], BACKGROUND_SPAN)
    expected = len(starts) * 2 * provider.outage_window / span
    return max(need, math.ceil(BURST * expected))


def _cluster(
    i: int,
    timed: list[TokenRequest],
    starts: list[float],
    keys: list[str],
    provider: Provider,
    need: int | None = None,
) -> tuple[TokenRequest, ...]:
    """The cluster of `timed[i]`, or () when too few other lineages failed near it."""
    f = timed[i]
    if need is None:
        need = max(provider.outage_min_lineages - 1, 1)
    lo = bisect.bisect_left(starts, f.start - provider.outage_window)
    hi = bisect.bisect_right(starts, f.start + provider.outage_window)
    seen = _other_lineages(i, lo, hi, timed, keys, max(need, 10))
    return tuple(sorted(seen.values(), key=lambda r: r.seq)) if len(seen) >= need else ()


def _other_lineages(
    i: int, lo: int, hi: int, timed: list[TokenRequest], keys: list[str], enough: int
) -> dict[str, TokenRequest]:
    """Lineage key → its failure nearest `timed[i]` in start order within `lo:hi`, nearest
    first (left before right at equal distance), at most SCAN_LIMIT either side, until
    `enough` other lineages are found. One loop, no generator: it runs for every open failure
    (at 10M requests a fifth of classify's time went to the scan's generator and checks)."""
    own = keys[i]
    seen: dict[str, TokenRequest] = {}
    for step in range(1, SCAN_LIMIT + 1):
        left, right = i - step, i + step
        if left < lo and right >= hi:
            break
        if left >= lo:
            key = keys[left]
            if key != own and key not in seen:
                seen[key] = timed[left]
                if len(seen) >= enough:
                    break
        if right < hi:
            key = keys[right]
            if key != own and key not in seen:
                seen[key] = timed[right]
                if len(seen) >= enough:
                    break
    return seen


def explain_new(
    lineage: Lineage, profile: Profile, failure: TokenRequest, recent: Iterable[TokenRequest]
) -> tuple[Finding, bool]:
    """`classify` for one failure as it arrives, on the state seen so far.

    `recent` holds the earlier failures left unexplained within the outage window (the caller
    keeps them: nothing older can join a cluster with this one). Returns the finding and
    whether this failure is itself unexplained, so the caller keeps it for later ones.
    """
    found = explain(Context(lineage, profile, failure))
    if not left_open(failure, found):
        return found, False
    if failure.start == float("-inf"):
        return found, True
    provider = profile.provider_for(failure.x)
    others = (r for r in recent if r is not failure and profile.provider_for(r.x) is provider)
    candidates = sorted([*others, failure], key=lambda r: r.seq)
    timed, starts, keys = _by_start(candidates, lineage)
    at = next(i for i, f in enumerate(timed) if f is failure)
    cluster = _cluster(at, timed, starts, keys, provider)
    if cluster:
        found = explain(Context(lineage, profile, failure, cluster))
    return found, True
