"""What the provider-only rules cost: Google-shaped traffic classified with Google's policy
(a limit of 100 live tokens per user and client, 7 days from consent in Testing) against the
same traffic with those parameters off, in one run.

    python benchmarks/provider_scale.py                 # about 200k token requests
    python benchmarks/provider_scale.py --size 1e6

Many users of a few clients consent again and again (some more than 100 times, so their
oldest tokens are evicted), each token refreshed a few times (Google never rotates), and the
evicted and week-old tokens refreshed again and failing: every failure runs the eviction and
consent-lifetime checks. Target: the policy costs at most 1.5x the same run without it.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import Maker

from qbtrace.analysis import analyze_timeline
from qbtrace.model import Exchange, Value
from qbtrace.profile import Profile
from qbtrace.providers import BUILTIN

TOKEN = "https://oauth2.googleapis.com/token"
LIMIT = 100


def synthesize(total: int, seed: int = 1) -> list[Exchange]:
    rng, make = random.Random(seed), Maker()
    out: list[Exchange] = []
    user = 0
    while len(out) < total:
        user += 1
        who, client = make.secret("user"), make.secrets[user % 5]
        now = rng.random() * 86_400
        tokens = []
        for _ in range(rng.choice((1, 3, 20, 120))):  # a few users past the limit
            now += 600
            rt = make.secret("rt")
            reply: dict[str, Value] = {
                "refresh_token": rt,
                "access_token": make.secret("at"),
                "id_subject": who,
                "expires_in": 3599,
            }
            code = {"grant_type": "authorization_code", "code": make.secret("code")}
            out.append(replace(make.token(now, client, code, 200, reply), url=TOKEN))
            tokens.append(rt)
            for _ in range(rng.randint(1, 4)):
                now += 3600
                refresh = {"refresh_token": rt}
                ok = {"access_token": make.secret("at"), "expires_in": 3599}
                out.append(replace(make.token(now, client, refresh, 200, ok), url=TOKEN))
        failed = tokens[: max(len(tokens) - LIMIT, 0)] + tokens[-1:]  # evicted, then one old
        for rt in failed:
            now += 8 * 86_400 if rt is tokens[-1] else 60
            body = {
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked.",
            }
            out.append(
                replace(make.token(now, client, {"refresh_token": rt}, 400, body), url=TOKEN)
            )
    out.sort(key=lambda x: x.started or 0.0)
    return out


def timed(exchanges: list[Exchange], profile: Profile) -> tuple[float, collections.Counter[str]]:
    start = time.perf_counter()
    _state, findings = analyze_timeline(exchanges, profile)
    return time.perf_counter() - start, collections.Counter(f.cause for f in findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=2e5)
    exchanges = synthesize(int(parser.parse_args().size))
    google = BUILTIN["google"]
    off = replace(google, token_limit=None, consent_lifetime=None)
    others = tuple(p for p in Profile().providers if p.name != "google")
    base, base_causes = timed(exchanges, Profile(providers=(*others, off)))
    policy, causes = timed(exchanges, Profile(providers=(*others, google)))
    n = len(exchanges)
    print(f"{n:,} token requests, {sum(causes.values()):,} failures")
    print(f"  policy off: {base:6.2f} s  {n / base:>10,.0f} requests/s  {dict(base_causes)}")
    print(f"  Google's:   {policy:6.2f} s  {n / policy:>10,.0f} requests/s  {dict(causes)}")
    print(f"  ratio: {policy / base:.2f}x the time of the same traffic without the policy")


if __name__ == "__main__":
    main()
