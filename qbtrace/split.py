"""The timeline split by lineage: everything one failure's rules can look at, in one part.

Exchanges are linked into connected components, within a provider: a token request links
the code or refresh token it presents to the tokens it was issued, every token to its
canonical form and its heads of TRUNCATION_PREFIX characters or more (a near match must meet
its original), a revoke to its token, a tenant its log lines. So a token issued to client A
and presented by client B lands with both clients' requests (`refresh_client_mismatch`),
and one client's many connections still spread over the parts. Components are hashed to
parts. What rules look up by client id alone (`client_shared`), the browser's authorize and
callback steps and the Disconnect URL hits (few, looked up by code, state or company) are
copied into every part that may need them: they make no finding themselves, and a part's
failures share no token with them, so they change no other look-up.

An application log line that does not say which token it spent is explained from its
neighbours on the whole timeline (`rules.from_logs` looks a number of requests either side),
so a timeline holding one is not split.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, MutableSequence, Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec

from qbtrace.collector import paused_gc
from qbtrace.lineage import TRUNCATION_PREFIX
from qbtrace.model import TENANT, TOKEN_NOT_LOGGED, ClientAuth, Exchange, Kind
from qbtrace.profile import Profile
from qbtrace.redact import Secret

SHARED = (Kind.AUTHORIZE, Kind.CALLBACK, Kind.DISCONNECT)
"""Exchanges every part gets."""
TOKEN_FIELDS = ("code", "refresh_token", "token")


@dataclass(frozen=True, slots=True)
class Part:
    """One part of the timeline, in time order, and where its token requests sit on the
    whole timeline (`seqs[i]` is the position of its i-th token request)."""

    number: int
    exchanges: tuple[Exchange, ...]
    seqs: tuple[int, ...]

    def __reduce__(self) -> tuple[object, tuple[int, bytes, tuple[int, ...]]]:
        """Parts travel to other processes as msgpack: pickle's frozen-dataclass state
        calls took 3x longer to load 50k exchanges (5.8 s against 1.9 s)."""
        return _from_wire, (self.number, _WIRE.encode(self.exchanges), self.seqs)


_WIRE = msgspec.msgpack.Encoder()
_FROM_WIRE = msgspec.msgpack.Decoder(tuple[Exchange, ...])


def _from_wire(number: int, exchanges: bytes, seqs: tuple[int, ...]) -> Part:
    with paused_gc():  # millions of small acyclic objects
        return Part(number, _FROM_WIRE.decode(exchanges), seqs)


def split(exchanges: Sequence[Exchange], profile: Profile, parts: int) -> list[Part]:
    """The timeline in at most `parts` parts (fewer when it has fewer components); one part
    when `parts` is 1 or a log line does not name its token."""
    positions = _token_positions(exchanges)
    everything = range(len(exchanges))
    if parts <= 1 or any(TOKEN_NOT_LOGGED in x.gaps for x in exchanges):
        return [_part(0, exchanges, everything, positions)]
    owner = components(exchanges, profile)
    members: dict[int, set[int]] = {}
    clients: dict[int, set[str]] = {}
    for i, first in enumerate(owner):
        if first >= 0:
            bucket = _bucket(exchanges[first], parts)
            members.setdefault(bucket, set()).add(i)
            clients.setdefault(bucket, set()).update(client_key(exchanges[i], profile))
    if not members:
        return [_part(0, exchanges, everything, positions)]
    shared = [i for i, first in enumerate(owner) if first < 0]
    by_client = client_shared(exchanges, profile)
    out = []
    for number, bucket in enumerate(sorted(members)):
        picked = members[bucket].union(shared)
        for client in clients[bucket]:
            picked.update(by_client.get(client, ()))
        out.append(_part(number, exchanges, sorted(picked), positions))
    return out


def client_shared(exchanges: Sequence[Exchange], profile: Profile) -> dict[str, list[int]]:
    """For each client, the successes its other requests' rules look up by client id alone,
    which every part with a request of that client gets: the first success with each client
    secret (`client_secret_wrong`), and where the provider limits live tokens, every
    successful code exchange (`refresh_token_evicted` counts the consents)."""
    out: dict[str, list[int]] = {}
    seen: set[tuple[str, str]] = set()
    for i, x in enumerate(exchanges):
        if x.kind != Kind.TOKEN or not x.ok or x.client is None:
            continue
        for client in client_key(x, profile):
            secret = x.client.secret
            first = secret is not None and (client, secret.hex) not in seen
            if secret is not None:
                seen.add((client, secret.hex))
            consent = x.params.get("grant_type") == "authorization_code"
            if first or (consent and profile.provider_for(x).token_limit):
                out.setdefault(client, []).append(i)
    return out


def client_key(x: Linked, profile: Profile) -> Iterator[str]:
    """The provider and client id of a token request (none for other exchanges): what
    `client_shared` copies by."""
    if x.kind == Kind.TOKEN and x.client is not None and x.client.client_id is not None:
        yield f"{profile.provider_of(x.url).name}\0{x.client.client_id}"


def _part(
    number: int, exchanges: Sequence[Exchange], picked: Sequence[int], positions: list[int]
) -> Part:
    chosen = [exchanges[i] for i in picked]
    seqs = [positions[i] for i, x in zip(picked, chosen, strict=True) if x.kind == Kind.TOKEN]
    return Part(number, tuple(chosen), tuple(seqs))


def _token_positions(exchanges: Sequence[Exchange]) -> list[int]:
    """Each exchange's position among the token requests (`TokenRequest.seq` on the whole
    timeline: `lineage.build` numbers every token exchange)."""
    out, n = [], 0
    for x in exchanges:
        out.append(n)
        n += x.kind == Kind.TOKEN
    return out


def _bucket(x: Exchange, parts: int) -> int:
    """The part of a component, from its first exchange: the same on every run and host."""
    return zlib.crc32(f"{x.ref.source}\0{x.ref.index}".encode()) % parts


def components(exchanges: Sequence[Exchange], profile: Profile) -> list[int]:
    """For each exchange, the position of the first exchange of its component; -1 for the
    exchanges every part gets."""
    parent = list(range(len(exchanges)))
    first: dict[Link, int] = {}
    for i, x in enumerate(exchanges):
        if x.kind in SHARED:
            parent[i] = -1
            continue
        for key in links(x, profile):
            seen = first.setdefault(key, i)
            if seen != i:
                union(parent, seen, i)
    return [-1 if p < 0 else find_root(parent, i) for i, p in enumerate(parent)]


Link = str | tuple[int, str] | tuple[str, str, str]
"""A token's canonical digest (an exact copy has the same: it covers exact matches), a
head's (length, digest), or (`tenant`, provider, tenant id)."""


class Fields(Protocol):
    def get(self, name: str, /) -> object: ...


class Linked(Protocol):
    """What `links` and `client_key` read of an exchange: an `Exchange`, or the few
    fields of a dataset's row that `streamed` decodes."""

    @property
    def kind(self) -> Kind: ...
    @property
    def url(self) -> str: ...
    @property
    def params(self) -> Fields: ...
    @property
    def reply(self) -> Fields: ...
    @property
    def client(self) -> ClientAuth | None: ...


def links(x: Linked, profile: Profile) -> Iterator[Link]:
    """The keys that tie `x` to the exchanges its failure's rules may look up."""
    tenant = x.params.get(TENANT)
    if isinstance(tenant, str):
        yield "tenant", profile.provider_of(x.url).name, tenant
    for value in [x.params.get(name) for name in TOKEN_FIELDS]:
        if isinstance(value, Secret):
            yield from _token_links(value)
    if x.kind == Kind.TOKEN:
        refresh, access = x.reply.get("refresh_token"), x.reply.get("access_token")
        if isinstance(refresh, Secret):
            yield from _token_links(refresh)
        if isinstance(access, Secret):
            yield access.canon  # found by exact or canonical value only, never by its head


def _token_links(value: Secret) -> Iterator[Link]:
    yield value.canon
    for head in value.heads:
        if head[0] >= TRUNCATION_PREFIX:
            yield head


def find_root(parent: MutableSequence[int], i: int) -> int:
    """The root of `i` in a union-find forest (`components`, `streamed`)."""
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        parent[i], i = root, parent[i]
    return root


def union(parent: MutableSequence[int], a: int, b: int) -> None:
    """Join the trees of `a` and `b`; the smaller position stays the root."""
    ra, rb = find_root(parent, a), find_root(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)  # the root stays the component's first exchange
