"""Who issued what and who spent it: the indexes every rule looks things up in.

Folded one exchange at a time, so each rule answers with dictionary look-ups instead of
scanning all events per failure (a million token requests must classify in seconds).
Authorize → callback → code exchange chains are joined by `state` (else by the authorize's
own redirect), and refresh tokens form lineages rooted at the code exchange that began them.

`build` folds a whole timeline in the order given. The capture addon keeps one `Lineage` for
the session and folds each exchange as it completes with `Lineage.add`, which puts exchanges
that finish out of start order where `build` would have put them (see `Lineage.add`).
"""

from __future__ import annotations

import bisect
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from qbtrace.events import TokenRequest, token_request
from qbtrace.model import Exchange, Kind, Ref, Value
from qbtrace.providers import TENANT_PARAMS
from qbtrace.redact import Secret

REWIND_LIMIT = 1024
"""Folds whose undo journal `add` keeps: how far back a late exchange can be slotted in
without folding the whole session again."""
K = TypeVar("K")
V = TypeVar("V")
Key = tuple[float, Ref]
"""Where an exchange sits on the timeline: its start, then its ref."""
# undo journal entries: (operation, container, key, previous value)
_POP, _UNPUSH, _RESTORE = range(3)
_MISSING = object()
Undo = list[tuple[int, Any, Any, Any]]


TRUNCATION_PREFIX = 32
"""Shorter prefixes are shared by unrelated tokens (some providers' start with a timestamp)."""


@dataclass(frozen=True, slots=True)
class CodeGrant:
    """A code as the provider handed it out: the callback that carried it, its authorize request."""

    code: Secret
    callback: Exchange
    authorize: Exchange | None
    realm: str | None


@dataclass(slots=True)
class _Replay:
    """What `Lineage.add` keeps to slot a late exchange in: the timeline so far and undo logs."""

    keys: list[Key] = field(default_factory=list)
    folded: list[Exchange] = field(default_factory=list)
    """The exchanges folded so far, in timeline order (`keys` holds their keys)."""
    journal: deque[Undo] = field(default_factory=deque)
    """Undo log of each of the last REWIND_LIMIT folds, newest last."""
    requests: dict[int, TokenRequest] = field(default_factory=dict)
    """id of a token exchange → its current `TokenRequest` (seq moves when one slots in)."""


@dataclass
class Lineage:
    """Indexes over the timeline folded so far; rules only read them."""

    requests: list[TokenRequest] = field(default_factory=list)
    grants: dict[str, CodeGrant] = field(default_factory=dict)
    """code hex → where the code came from."""
    grant_canon: dict[str, CodeGrant] = field(default_factory=dict)
    grant_heads: dict[tuple[int, str], CodeGrant] = field(default_factory=dict)
    code_uses: dict[str, list[TokenRequest]] = field(default_factory=lambda: defaultdict(list))
    issuers: dict[str, list[TokenRequest]] = field(default_factory=lambda: defaultdict(list))
    """refresh token hex → successful responses that returned it, in time order."""
    at_issuers: dict[str, TokenRequest] = field(default_factory=dict)
    """access token hex → the response that issued it."""
    issued_canon: dict[str, tuple[str, TokenRequest]] = field(default_factory=dict)
    """canonical hex → (kind, issuer), for issued values that are not their own canonical form."""
    issued_heads: dict[tuple[int, str], tuple[Secret, TokenRequest]] = field(default_factory=dict)
    """(n, prefix hex) of issued refresh tokens (n >= TRUNCATION_PREFIX) → first (token, issuer)."""
    spends: dict[str, list[TokenRequest]] = field(default_factory=lambda: defaultdict(list))
    """refresh token hex → refresh requests that presented it, in time order."""
    root: dict[str, str] = field(default_factory=dict)
    """token hex → id of its lineage (the code that began it, else the oldest token seen)."""
    realm: dict[str, str] = field(default_factory=dict)
    """lineage id → the tenant id (a provider's `tenant_param`) from the callback."""
    revokes: dict[str, list[Exchange]] = field(default_factory=lambda: defaultdict(list))
    """token hex → successful revoke requests naming it."""
    revoked_roots: dict[str, list[Exchange]] = field(default_factory=lambda: defaultdict(list))
    disconnects: list[Exchange] = field(default_factory=list)
    authorizes: list[Exchange] = field(default_factory=list)
    first_secret: dict[str, dict[str, TokenRequest]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    """client id → secret hex → first successful request with it (few secrets per client)."""
    first_rotation: dict[str, TokenRequest] = field(default_factory=dict)
    """refresh token hex → the first successful refresh that spent it and issued another."""
    by_state: dict[str, Exchange] = field(default_factory=dict)
    """state hex → the latest authorize request that sent it."""
    _replay: _Replay | None = field(default=None, repr=False)
    _undo: Undo | None = field(default=None, repr=False)
    """The undo log of the fold in progress, when `add` journals it."""

    def spends_before(self, token: Secret, seq: int) -> list[TokenRequest]:
        """Refreshes with `token` sent before position `seq` (bisect: no scan of the rest)."""
        spends = self.spends.get(token.hex, [])
        return spends[: bisect.bisect_left(spends, seq, key=lambda r: r.seq)]

    def issued_as(self, canon: str) -> tuple[str, TokenRequest] | None:
        """The issued token whose canonical form is `canon`: (`rt` or `at`, its issuer)."""
        issuers = self.issuers.get(canon)
        if issuers:
            return "rt", issuers[0]
        issuer = self.at_issuers.get(canon)
        if issuer is not None:
            return "at", issuer
        return self.issued_canon.get(canon)

    def last_issuer_before(self, token: Secret, seq: int) -> TokenRequest | None:
        issuers = self.issuers.get(token.hex, [])
        cut = bisect.bisect_left(issuers, seq, key=lambda r: r.seq)
        return issuers[cut - 1] if cut else None

    def fold(self, x: Exchange) -> None:
        """Fold `x` in as the newest exchange: the caller keeps time order (`build` does)."""
        if x.kind == Kind.AUTHORIZE:
            self._append(self.authorizes, x)
            st = x.params.get("state")
            if isinstance(st, Secret):
                self._replace(self.by_state, st.hex, x)
            if isinstance(x.reply.get("code"), Secret):
                self._add_grant(x, x.reply, x)
        elif x.kind == Kind.CALLBACK:
            self._add_grant(x, x.params, self._authorize_for(x))
        elif x.kind == Kind.TOKEN:
            self._add_token(token_request(len(self.requests), x))
        elif x.kind == Kind.REVOKE and x.ok:
            self._add_revoke(x)
        elif x.kind == Kind.DISCONNECT:
            self._append(self.disconnects, x)

    def add(self, x: Exchange) -> None:
        """Fold `x` in where it belongs by start time, even when it arrives late.

        Responses finish out of start order (of two overlapping refreshes the later one may
        answer first), and the rules reason in start order (`seq`, time-ordered lists, "the
        first success"). So `add` keeps the timeline sorted by (start, ref), an exchange
        without a start time going after everything so far, as `events.timeline` places it
        after its predecessor. An exchange that sorts last is simply folded. A late one
        rewinds the few folds after its place (each fold journals how to undo its changes),
        is folded, and those are folded again: every index, `seq` included, is then exactly
        what `build` gives for the same exchanges sorted, whatever the arrival order. Chosen
        over inserting into each list (every `seq` after the place would change anyway) and
        over a reorder buffer (it would hold back the diagnosis of the newest failure).
        Undo logs are kept for the last REWIND_LIMIT folds; a straggler older than that is
        placed by folding the whole timeline again: correct, only slower.
        """
        if self._replay is None:
            if self.requests or self.authorizes or self.grants or self.revokes or self.disconnects:
                raise ValueError("add() needs a Lineage that only add() has folded into")
            self._replay = _Replay()
        replay = self._replay
        last = replay.keys[-1] if replay.keys else None
        start = x.started if x.started is not None else last[0] if last else float("-inf")
        key = (start, x.ref)
        if last is None or key >= last:
            self._fold_logged(x, key)
            return
        at = bisect.bisect_right(replay.keys, key)
        later = list(zip(replay.keys[at:], replay.folded[at:], strict=True))
        if len(later) > len(replay.journal):
            self._fold_again([*zip(replay.keys, replay.folded, strict=True)], at, key, x)
            return
        for _ in later:
            self._rewind()
        self._fold_logged(x, key)
        for k, y in later:
            self._fold_logged(y, k)

    def request_of(self, x: Exchange) -> TokenRequest | None:
        """The token request `add` made of `x`, with its current `seq`."""
        return self._replay.requests.get(id(x)) if self._replay is not None else None

    def _fold_logged(self, x: Exchange, key: Key) -> None:
        assert self._replay is not None
        replay = self._replay
        undo: Undo = []
        self._undo = undo
        try:
            self.fold(x)
        except BaseException:
            _undo(undo)  # no half-folded exchange stays behind
            raise
        finally:
            self._undo = None
        replay.journal.append(undo)
        if len(replay.journal) > REWIND_LIMIT:
            replay.journal.popleft()
        replay.keys.append(key)
        replay.folded.append(x)

    def _rewind(self) -> None:
        """Undo the newest fold."""
        assert self._replay is not None
        _undo(self._replay.journal.pop())
        self._replay.keys.pop()
        self._replay.folded.pop()

    def _fold_again(
        self, timeline: list[tuple[Key, Exchange]], at: int, key: Key, x: Exchange
    ) -> None:
        """Start from empty indexes and fold the whole timeline, `x` in its place."""
        timeline.insert(at, (key, x))
        fresh = Lineage()
        for name in Lineage.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))
        self._replay = _Replay()
        for k, y in timeline:
            self._fold_logged(y, k)

    def _authorize_for(self, callback: Exchange) -> Exchange | None:
        st = callback.params.get("state")
        if isinstance(st, Secret) and st.hex in self.by_state:
            return self.by_state[st.hex]
        return self.authorizes[-1] if self.authorizes and not isinstance(st, Secret) else None

    def _add_grant(
        self, carrier: Exchange, fields: Mapping[str, Value], authorize: Exchange | None
    ) -> None:
        code = fields.get("code")
        if not isinstance(code, Secret) or code.hex in self.grants:
            return
        realm = next((fields[t] for t in TENANT_PARAMS if t in fields), None)
        grant = CodeGrant(code, carrier, authorize, realm if isinstance(realm, str) else None)
        self._first(self.grants, code.hex, grant)
        self._first(self.grant_canon, code.canon, grant)
        for head in code.heads:
            self._first(self.grant_heads, head, grant)
        if grant.realm:
            self._replace(self.realm, f"code:{code.hex}", grant.realm)

    def _add_token(self, req: TokenRequest) -> None:
        self._append(self.requests, req)
        if self._replay is not None:
            self._first(self._replay.requests, id(req.x), req)
        presented = req.presented
        if req.grant == "authorization_code" and req.code:
            self._push(self.code_uses, req.code.hex, req)
        elif req.grant == "refresh_token" and req.refresh:
            self._push(self.spends, req.refresh.hex, req)
        if not req.ok:
            return
        if req.client_id is not None and req.client_secret is not None:
            secrets = self.first_secret.get(req.client_id)
            if secrets is None:
                secrets = {}
                self._first(self.first_secret, req.client_id, secrets)
            self._first(secrets, req.client_secret.hex, req)
        if (
            req.grant == "refresh_token"
            and req.refresh is not None
            and req.issued_rt is not None
            and req.issued_rt.hex != req.refresh.hex
        ):
            self._first(self.first_rotation, req.refresh.hex, req)
        lineage = None
        if presented is not None:
            lineage = self._lineage_id(req, presented)
            self._first(self.root, presented.hex, lineage)
        rt, at = req.issued_rt, req.issued_at
        if rt is not None:
            key = rt.hex
            seen = key in self.issuers
            self._push(self.issuers, key, req)
            if not seen:  # a token returned again within its day was indexed when first issued
                self._issued(rt, "rt", req, lineage)
                for head in rt.heads:
                    if head[0] >= TRUNCATION_PREFIX:
                        self._first(self.issued_heads, head, (rt, req))
        if at is not None:
            self._first(self.at_issuers, at.hex, req)
            self._issued(at, "at", req, lineage)

    def _issued(self, token: Secret, kind: str, req: TokenRequest, lineage: str | None) -> None:
        # an issued value is normally its own canonical form (exact tag == canonical tag),
        # found through `issuers`/`at_issuers`; only the rare other kind needs its own entry
        if token.canon != token.hex:
            self._first(self.issued_canon, token.canon, (kind, req))
        self._first(self.root, token.hex, lineage or token.hex)

    def _lineage_id(self, req: TokenRequest, presented: Secret) -> str:
        if req.grant == "authorization_code":
            return f"code:{presented.hex}"
        return self.root.get(presented.hex, presented.hex)

    def _add_revoke(self, x: Exchange) -> None:
        token = x.params.get("token")
        if not isinstance(token, Secret):
            return
        self._push(self.revokes, token.hex, x)
        lineage = self.root.get(token.hex)
        if lineage is not None:
            self._push(self.revoked_roots, lineage, x)

    # Every change to an index goes through these four, which journal its undo when `add`
    # asks for it (one `is not None` test otherwise, so `build` stays as fast as before).

    def _append(self, items: list[V], item: V) -> None:
        items.append(item)
        if self._undo is not None:
            self._undo.append((_POP, items, None, None))

    def _push(self, table: dict[K, list[V]], key: K, item: V) -> None:
        """Append to the list under `key`, making it when missing."""
        items = table.get(key)
        if items is None:
            items = table[key] = []
        items.append(item)
        if self._undo is not None:
            self._undo.append((_UNPUSH, table, key, None))

    def _first(self, table: dict[K, V], key: K, value: V) -> None:
        """`setdefault`: the first value under a key stays."""
        if key in table:
            return
        table[key] = value
        if self._undo is not None:
            self._undo.append((_RESTORE, table, key, _MISSING))

    def _replace(self, table: dict[K, V], key: K, value: V) -> None:
        if self._undo is not None:
            self._undo.append((_RESTORE, table, key, table.get(key, _MISSING)))
        table[key] = value


def _undo(log: Undo) -> None:
    """Reverse one fold's changes, newest first."""
    for op, container, key, previous in reversed(log):
        if op == _POP:
            container.pop()
        elif op == _UNPUSH:
            items = container[key]
            items.pop()
            if not items:
                del container[key]
        elif previous is _MISSING:
            del container[key]
        else:
            container[key] = previous


def build(exchanges: list[Exchange]) -> Lineage:
    """One pass over the timeline in order; later look-ups filter by time themselves."""
    state = Lineage()
    for x in exchanges:
        state.fold(x)
    return state
