"""A platform's token traffic as a qbtrace capture: the realistic mix of issue 14.

Many lineages (one per connected company) across ~50 clients refresh hourly and rotate on
every refresh; most lineages began before the capture (their first refresh presents a token
the capture never saw issued, and succeeds), a few connect during it. About 1% of requests
fail, with the causes platforms see: a stale worker replaying a superseded token, two
workers refreshing one token within a second, a refresh whose answer was lost then retried,
a reused code (and, hours later, the refresh that fails because of it), a wrong client
secret, a token never issued, one cut short by a narrow column, an app revoking its first
token and later refreshing the live one, and provider outages (503s across lineages for a
minute, retried later). A lineage whose token died reconnects (a new code exchange) an hour
later.

Lines are formatted directly (no `Exchange`, no msgspec) and streamed to the file in chunks,
so 10M requests (~9.5 GB) are written in about a minute. Tags are unique counters, not
digests: every token is its own canonical form, as real tags of untouched values are.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
REDIRECT = "https://app.example.com/quickbooks/callback"
EPOCH = 1_764_547_200.0
"""2025-12-01 00:00 UTC: where the capture's clock starts."""
CLIENTS = 50
HEADER = (
    '{{"qbtrace_capture":1,"created":"2025-12-01T00:00:00Z","qbtrace_version":"0.1.0",'
    '"key_id":"{key_id}","raw":false}}\n'
)
CAUSES = (
    ("superseded", 0.003),
    ("race", 0.002),
    ("lost", 0.001),
    ("wrong_secret", 0.002),
    ("unknown", 0.001),
    ("revoked", 0.0003),
    ("truncated", 0.0002),
)
"""Planted per refresh: (what, probability); outages and reused codes are planted apart."""


def _hx(n: int, salt: int) -> str:
    return f"{(n * 0x9E3779B97F4A7C15 + salt) & 0xFFFFFFFFFFFF:012x}"


def secret(kind: str, n: int, length: int) -> str:
    """The JSON of a `Secret` tag for value number `n` (heads up to its length)."""
    h = f"{n:012x}"
    heads = ",".join(f'[{k},"{_hx(n, k)}"]' for k in (16, 32, 64) if k <= length)
    return f'{{"tag":"{kind}:{h}","canon":"{h}","heads":[{heads}],"length":{length},"defects":[]}}'


@dataclass
class Mix:
    """Writes capture lines and counts what it planted."""

    seed: int = 1
    boost: float = 1.0
    """Failures planted this many times as often (tests plant many in little traffic)."""
    rng: random.Random = field(init=False)
    n: int = 0
    requests: int = 0
    planted: Counter[str] = field(default_factory=Counter)
    clients: list[str] = field(default_factory=list)
    """The JSON of each client's credentials."""
    wrong: list[str] = field(default_factory=list)
    """The same client ids with a secret that is not theirs."""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        bad = secret("secret", self.fresh(), 40)
        for c in range(CLIENTS):
            good = secret("secret", self.fresh(), 40)
            for into, tag in ((self.clients, good), (self.wrong, bad)):
                into.append(
                    f'{{"client_id":"AB{c:04d}qZ7uLw2mYp9Vn3Rt6Xz1Cs5Df8Gh4Jk0Ml2Np5Q",'
                    f'"secret":{tag},"via":"basic","defects":[]}}'
                )

    def fresh(self) -> int:
        self.n += 1
        return self.n

    def line(
        self,
        t: float,
        client: str,
        params: str,
        status: int | None,
        reply: str,
        failure: str | None = None,
    ) -> str:
        self.requests += 1
        tid = f"1-{int(t):08x}-{self.requests:024x}"
        answer = f'"status":{status}' if status is not None else '"status":null'
        failed = f',"failure":"{failure}"' if failure else ""
        return (
            f'{{"kind":"token","started":{t:.3f},"ended":{t + 0.21:.3f},"method":"POST",'
            f'"url":"{TOKEN_URL}","params":{{{params}}},{answer}{failed},"reply":{{{reply}}},'
            f'"headers":{{"intuit_tid":"{tid}"}},"client":{client}}}\n'
        )

    def revoke(self, t: float, client: str, rt: int) -> str:
        tid = f"1-{int(t):08x}-{self.requests:024x}"
        return (
            f'{{"kind":"revoke","started":{t:.3f},"ended":{t + 0.15:.3f},"method":"POST",'
            f'"url":"{REVOKE_URL}","params":{{"token":{secret("rt", rt, 50)}}},"status":200,'
            f'"headers":{{"intuit_tid":"{tid}"}},"client":{client}}}\n'
        )

    def issued(self) -> tuple[int, str]:
        rt = self.fresh()
        at = secret("at", self.fresh(), 900)
        return rt, (
            f'"access_token":{at},"refresh_token":{secret("rt", rt, 50)},'
            '"token_type":"bearer","expires_in":3600,"x_refresh_token_expires_in":8726400'
        )


REFUSED = '"error":"invalid_grant"'
OUTAGE = '"error":"server_error","error_description":"Service Unavailable"'


def refresh(rt: int) -> str:
    return f'"grant_type":"refresh_token","refresh_token":{secret("rt", rt, 50)}'


def truncated(mix: Mix, rt: int) -> str:
    """A refresh with the first 32 characters of token `rt` (a column too narrow)."""
    h = f"{mix.fresh():012x}"
    heads = f'[[16,"{_hx(rt, 16)}"],[32,"{_hx(rt, 32)}"]]'
    cut = f'{{"tag":"rt:{h}","canon":"{h}","heads":{heads},"length":32,"defects":[]}}'
    return f'"grant_type":"refresh_token","refresh_token":{cut}'


@dataclass
class Lineage:
    client: int
    offset: float
    rt: int
    """The live refresh token's number; 0 while the lineage is dead (waiting to reconnect)."""
    first: int = 0
    """The lineage's first refresh token (what a careless revoke names)."""
    poisoned: bool = False
    """Its code was exchanged twice: the provider may kill the grant later."""


def lines(
    total: int, lineages: int, seed: int = 1, boost: float = 1.0
) -> tuple[Mix, Iterator[str]]:
    """The mix (its counters fill as lines are taken) and about `total` capture lines."""
    mix = Mix(seed, boost)
    return mix, _lines(mix, total, lineages)


def _lines(mix: Mix, total: int, lineages: int) -> Iterator[str]:
    rng = mix.rng
    # 2% of lineages connect during the capture; the others began before it
    group = [
        Lineage(i % CLIENTS, rng.random() * 3600, 0 if rng.random() < 0.02 else mix.fresh())
        for i in range(lineages)
    ]
    for g in group:
        g.first = g.rt
    group.sort(key=lambda g: g.offset)
    hours = max(total // max(lineages, 1), 1)
    outages = {rng.randrange(hours): rng.random() * 3300 for _ in range(max(total // 1_000_000, 1))}
    hour = 0
    while mix.requests < total:
        base = EPOCH + hour * 3600
        window = outages.get(hour)
        for g in group:
            if mix.requests >= total:
                return
            t = base + g.offset + rng.random() * 2
            if g.rt == 0:
                yield from _connect(mix, g, t)
            elif window is not None and window <= g.offset < window + 60:
                yield from _outage(mix, g, t)
            else:
                yield from _refresh(mix, g, t)
        hour += 1


def _connect(mix: Mix, g: Lineage, t: float) -> Iterator[str]:
    """A new consent: the code exchange (sometimes sent twice by a reloaded callback)."""
    code = secret("code", mix.fresh(), 40)
    params = f'"grant_type":"authorization_code","code":{code},"redirect_uri":"{REDIRECT}"'
    client = mix.clients[g.client]
    g.rt, reply = mix.issued()
    g.first, g.poisoned = g.rt, False
    yield mix.line(t, client, params, 200, reply)
    if mix.rng.random() < 0.05 * mix.boost:
        mix.planted["code reused"] += 1
        g.poisoned = True
        yield mix.line(t + 2.5, client, params, 400, REFUSED)


def _outage(mix: Mix, g: Lineage, t: float) -> Iterator[str]:
    client = mix.clients[g.client]
    mix.planted["outage 503"] += 1
    yield mix.line(t, client, refresh(g.rt), 503, OUTAGE)
    yield from _refresh(mix, g, t + 600)  # the retry once the provider is back


def _refresh(mix: Mix, g: Lineage, t: float) -> Iterator[str]:
    client = mix.clients[g.client]
    old = g.rt
    roll = mix.rng.random()
    what = None
    for name, p in CAUSES:
        if roll < p * mix.boost:
            what = name
            break
        roll -= p * mix.boost
    if g.poisoned and mix.rng.random() < 0.1:  # some hours after the code's reuse
        mix.planted["grant poisoned"] += 1
        yield mix.line(t, client, refresh(old), 400, REFUSED)
        g.rt = 0
        return
    if what == "revoked" and g.first != old:
        mix.planted["revoked"] += 1
        yield mix.revoke(t - 60, client, g.first)
        yield mix.line(t, client, refresh(old), 400, REFUSED)
        g.rt = 0
        return
    if what == "lost":  # no answer reached the proxy; the provider rotated anyway
        mix.planted["lost response"] += 1
        mix.fresh()
        yield mix.line(t, client, refresh(old), None, "", "connection reset by peer")
        yield mix.line(t + 5, client, refresh(old), 400, REFUSED)
        g.rt = 0
        return
    if what == "wrong_secret":
        mix.planted["wrong client secret"] += 1
        wrong = mix.wrong[g.client]
        yield mix.line(t, wrong, refresh(old), 401, '"error":"invalid_client"')
        t += 30
    if what == "truncated":
        mix.planted["truncated token"] += 1
        yield mix.line(t - 20, client, truncated(mix, old), 400, REFUSED)
    if what == "unknown":
        mix.planted["unknown token"] += 1
        yield mix.line(t - 40, client, refresh(mix.fresh()), 400, REFUSED)
    g.rt, reply = mix.issued()
    yield mix.line(t, client, refresh(old), 200, reply)
    if what == "race":
        mix.planted["refresh race"] += 1
        yield mix.line(t + 0.1, client, refresh(old), 400, REFUSED)
    elif what == "superseded":
        mix.planted["superseded replay"] += 1
        yield mix.line(t + 30 + mix.rng.random() * 600, client, refresh(old), 400, REFUSED)


def write(
    path: Path, total: int, lineages: int, key_id: str, seed: int = 1, boost: float = 1.0
) -> Mix:
    """Write a capture of about `total` token requests, its header naming the tag key
    `key_id`; returns what was planted."""
    mix, produced = lines(total, lineages, seed, boost)
    with path.open("wb") as out:
        out.write(HEADER.format(key_id=key_id).encode())
        chunk: list[str] = []
        for text in produced:
            chunk.append(text)
            if len(chunk) >= 20_000:
                out.write("".join(chunk).encode())
                chunk.clear()
        out.write("".join(chunk).encode())
    return mix
