"""Lineage build + classification of a million token requests, and of 100k to show growth.

    python benchmarks/classify_scale.py               # 100k and 1M
    python benchmarks/classify_scale.py --sizes 1e6 3e6

Token requests are synthesized directly as `Exchange` records (no reader): many apps, each
a code exchange then hourly refresh rotations; failures of several causes are mixed in (a
superseded token reused, a reused code, a wrong client secret, a token never seen before,
bursts of provider 503s across lineages). Target: <= 10 s for 1M, linear growth.
"""

from __future__ import annotations

import argparse
import collections
import gc
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qbtrace import lineage as lineage_mod
from qbtrace.analysis import analyze_timeline
from qbtrace.classify import classify
from qbtrace.config import load_profile
from qbtrace.model import ClientAuth, Exchange, Kind, Ref, Value
from qbtrace.redact import Secret

TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"


class Maker:
    """Cheap unique `Secret`s and token `Exchange`s (tags made up; no hashing needed)."""

    def __init__(self) -> None:
        self.n = 0
        self.index = 0
        self.secrets = [
            ClientAuth(f"ABclient{c:04d}", self.secret("secret"), "basic") for c in range(50)
        ]
        self.wrong = ClientAuth("ABclient0000", self.secret("secret"), "basic")

    def secret(self, kind: str) -> Secret:
        self.n += 1
        hexed = f"{self.n:012x}"
        heads = ((16, f"{self.n:011x}a"), (32, f"{self.n:011x}b"))
        return Secret(f"{kind}:{hexed}", f"c{self.n:011x}", heads, 40)

    def token(
        self,
        moment: float,
        client: ClientAuth,
        params: dict[str, Value],
        status: int,
        reply: dict[str, Value],
    ) -> Exchange:
        self.index += 1
        return Exchange(
            ref=Ref("synthetic", self.index),
            kind=Kind.TOKEN,
            started=moment,
            ended=moment + 0.2,
            method="POST",
            url=TOKEN_URL,
            params={"grant_type": "refresh_token", **params},
            status=status,
            reply=reply,
            headers={"intuit_tid": f"1-{self.index:016x}"},
            client=client,
        )

    def issued(self) -> tuple[Secret, dict[str, Value]]:
        rt = self.secret("rt")
        return rt, {
            "access_token": self.secret("at"),
            "refresh_token": rt,
            "token_type": "bearer",
            "expires_in": 3600,
            "x_refresh_token_expires_in": 8726400,
        }


def synthesize(
    total: int, seed: int = 1, days: float = 30
) -> tuple[list[Exchange], collections.Counter[str]]:
    """About `total` token requests in time order, lineages starting over `days` days, and
    what failures were planted."""
    rng = random.Random(seed)
    make = Maker()
    out: list[Exchange] = []
    planted: collections.Counter[str] = collections.Counter()
    span = days * 86400.0
    app = 0
    while len(out) < total:
        app += 1
        client = make.secrets[app % len(make.secrets)]
        now = rng.random() * span
        code = make.secret("code")
        rt, reply = make.issued()
        out.append(
            make.token(now, client, {"grant_type": "authorization_code", "code": code,
                                     "redirect_uri": "https://app.example.com/cb"}, 200, reply)
        )  # fmt: skip
        if app % 40 == 0:
            now += 5
            out.append(make.token(now, client, {"grant_type": "authorization_code", "code": code,
                                                "redirect_uri": "https://app.example.com/cb"},
                                  400, {"error": "invalid_grant"}))  # fmt: skip
            planted["code reused"] += 1
        old = rt
        for _ in range(rng.randint(5, 40)):
            now += 3600 + rng.random() * 60
            new, reply = make.issued()
            out.append(make.token(now, client, {"refresh_token": rt}, 200, reply))
            old, rt = rt, new
            roll = rng.random()
            if roll < 0.01:
                out.append(make.token(now + 30, client, {"refresh_token": old}, 400,
                                      {"error": "invalid_grant"}))  # fmt: skip
                planted["superseded token reused"] += 1
            elif roll < 0.015:
                out.append(make.token(now + 30, make.wrong, {"refresh_token": rt}, 401,
                                      {"error": "invalid_client"}))  # fmt: skip
                planted["wrong client secret"] += 1
            elif roll < 0.02:
                out.append(make.token(now + 30, client, {"refresh_token": make.secret("rt")},
                                      400, {"error": "invalid_grant"}))  # fmt: skip
                planted["unknown token"] += 1
    for _ in range(max(total // 20000, 1)):  # provider outages across lineages
        moment = rng.random() * span
        for n in range(30):
            out.append(make.token(moment + n, make.secrets[n % 50],
                                  {"refresh_token": make.secret("rt")}, 503,
                                  {"error": "server_error"}))  # fmt: skip
            planted["outage 503"] += 1
    out.sort(key=lambda x: x.started or 0.0)
    return out, planted


def run(total: int, no_gc: bool = False) -> float:
    exchanges, planted = synthesize(total)
    profile = load_profile(None)
    gc.collect()
    if no_gc:
        gc.disable()
    start = time.perf_counter()
    if no_gc:  # the parts timed apart, collector off for both
        state = lineage_mod.build(exchanges)
        built = time.perf_counter()
        findings = classify(state, profile)
    else:  # what `qbtrace analyze` runs: analysis.analyze_timeline (it pauses the collector)
        state, findings = analyze_timeline(exchanges, profile)
        built = start
    done = time.perf_counter()
    gc.enable()
    causes = collections.Counter(f.cause for f in findings)
    seconds = done - start
    print(
        f"{len(state.requests):>9,} token requests: "
        + (
            f"lineage {built - start:6.2f} s, classify {done - built:6.2f} s, "
            if no_gc
            else "analyze_timeline (lineage + classify), "
        )
        + f"{len(findings):,} failures, total {seconds:6.2f} s, "
        f"{len(state.requests) / seconds:,.0f} requests/s",
        flush=True,
    )
    print(f"{'':12}planted: {dict(planted)}")
    print(f"{'':12}found:   {dict(causes.most_common())}", flush=True)
    return seconds / len(state.requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e5, 1e6])
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="disable the cyclic garbage collector while building and classifying "
        "(shows how much of the time its full collections take)",
    )
    args = parser.parse_args()
    if args.no_gc:
        print("garbage collector disabled during lineage build and classification")
    per = [(int(n), run(int(n), args.no_gc)) for n in args.sizes]
    if len(per) > 1:
        (small, a), (big, b) = per[0], per[-1]
        print(
            f"growth: {big / small:.0f}x the requests took {b * big / (a * small):.1f}x the time "
            f"(per-request cost x{b / a:.2f}; 1.0 is linear)"
        )


if __name__ == "__main__":
    main()
