"""Who issued what and who spent it: the indexes every rule looks things up in.

Folded one exchange at a time, so each rule answers with dictionary look-ups instead of
scanning all events per failure (a million token requests must classify in seconds).
Authorize → callback → code exchange chains are joined by `state` (else by the authorize's
own redirect), and refresh tokens form lineages rooted at the code exchange that began them.

Rules read the indexes only through the named queries below (`grant_of`, `spends_before`,
`revokes_of`...), never the dictionaries themselves, so an index can change shape without
touching a rule. `build` folds a whole timeline in the order given; `replay` folds exchanges
as they complete in a live session, out of start order, by undoing and redoing folds: every
change to an index goes through `_append`/`_push`/`_first`/`_replace`, which report it to
the journal `replay` installs (and cost one `is None` test otherwise).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from qbtrace.events import TokenRequest, token_request
from qbtrace.model import Exchange, Kind, Value
from qbtrace.providers import TENANT_PARAMS, host_path
from qbtrace.redact import Secret

K = TypeVar("K")
V = TypeVar("V")


class Edit(Enum):
    """What one change to an index did, so a journal can take it back."""

    APPENDED = "appended"
    """An item went at the end of a list."""
    PUSHED = "pushed"
    """An item went at the end of the list under a key (the list made when missing)."""
    SET = "set"
    """A key got a value; the change carries the previous one, or MISSING."""


MISSING: Any = object()
"""The previous value of a key that was not there."""
Change = tuple[Edit, Any, Any, Any]
"""(edit, container, key, previous value): one change to one index."""


BEST_SCAN = 64
"""How many of the latest authorize requests a callback's owner is looked for among."""
TRUNCATION_PREFIX = 32
"""Shorter prefixes are shared by unrelated tokens (some providers' start with a timestamp)."""


@dataclass(frozen=True, slots=True)
class CodeGrant:
    """A code as the provider handed it out: the callback that carried it, its authorize request."""

    code: Secret
    callback: Exchange
    authorize: Exchange | None
    realm: str | None


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
    by_state: dict[str, list[Exchange]] = field(default_factory=lambda: defaultdict(list))
    """state hex → the authorize requests that sent it, in time order (apps that use one
    constant state send it from every attempt)."""
    redirects: dict[str, Exchange] = field(default_factory=dict)
    """scheme://host/path a step of the flow redirected to → the authorize it belongs to."""
    callbacks: dict[str, list[Exchange]] = field(default_factory=lambda: defaultdict(list))
    """code hex → every callback request that carried it, redirected onwards or not."""
    _journal: Callable[[Change], None] | None = field(default=None, repr=False, compare=False)
    """Told every change while `replay` journals a fold; None otherwise."""

    # Named queries: what the rules ask, phrased as the question.

    def grant_of(self, code: Secret) -> CodeGrant | None:
        """Where this exact code came from (its callback, its authorize), if the input shows it."""
        return self.grants.get(code.hex)

    def grant_like(self, code: Secret) -> CodeGrant | None:
        """The issued code this one is a copy of once quotes, whitespace and encoding are
        undone (`Secret.canon`); the exact code's own grant when it has one."""
        return self.grants.get(code.hex) or self.grant_canon.get(code.canon)

    def grant_by_head(self, head: tuple[int, str]) -> CodeGrant | None:
        """The first issued code with this (length, prefix digest): truncation search."""
        return self.grant_heads.get(head)

    def callbacks_of(self, code: Secret) -> Sequence[Exchange]:
        """Every callback request that carried this code, in time order (the app server's
        own redirects of it included)."""
        return self.callbacks.get(code.hex, ())

    def deliveries_of(self, code: Secret) -> list[Exchange]:
        """Callback requests that brought this code to the app's handler (a redirect of the
        app's own server, `/callback` → `/callback/`, is not one), in time order."""
        return [x for x in self.callbacks.get(code.hex, ()) if not _redirected(x)]

    def exchanges_of(self, code: Secret | str) -> Sequence[TokenRequest]:
        """Token requests that sent this code (or code hex), in time order."""
        return self.code_uses.get(code if isinstance(code, str) else code.hex, ())

    def issuers_of(self, token: Secret) -> Sequence[TokenRequest]:
        """Successful responses that returned this refresh token, in time order."""
        return self.issuers.get(token.hex, ())

    def was_issued(self, token: Secret) -> bool:
        """Some response in the input returned this exact refresh token."""
        return token.hex in self.issuers

    def access_token_issuer(self, token: Secret) -> TokenRequest | None:
        """The response that issued this value as an access token."""
        return self.at_issuers.get(token.hex)

    def issued_by_head(self, head: tuple[int, str]) -> tuple[Secret, TokenRequest] | None:
        """The first issued refresh token with this (length, prefix digest), and its issuer."""
        return self.issued_heads.get(head)

    def spends_of(self, token: Secret) -> Sequence[TokenRequest]:
        """Refresh requests that presented this token, in time order."""
        return self.spends.get(token.hex, ())

    def spends_before(self, token: Secret, seq: int) -> Sequence[TokenRequest]:
        """Refreshes with `token` sent before position `seq` (bisect: no scan of the rest)."""
        spends = self.spends.get(token.hex, [])
        return spends[: bisect.bisect_left(spends, seq, key=lambda r: r.seq)]

    def first_rotation_of(self, token: Secret) -> TokenRequest | None:
        """The first successful refresh that spent this token and issued another."""
        return self.first_rotation.get(token.hex)

    def lineage_of(self, token: Secret) -> str | None:
        """The id of the lineage this code or token belongs to (`code:<hex>` when a code
        began it), None when no success in the input issued or spent it."""
        return self.root.get(token.hex)

    def realm_of(self, lineage: str) -> str | None:
        """The tenant (company) the callback of a lineage's code named."""
        return self.realm.get(lineage)

    def revokes_of(self, token: Secret) -> list[Exchange]:
        """Successful revokes of this token or of any token of its lineage, in time order."""
        found = list(self.revokes.get(token.hex, ()))
        lineage = self.root.get(token.hex)
        if lineage is not None:
            found += self.revoked_roots.get(lineage, ())
        return found

    def revokes_of_lineage(self, lineage: str) -> Sequence[Exchange]:
        """Successful revokes of any token of this lineage, in time order."""
        return self.revoked_roots.get(lineage, ())

    def secrets_of(self, client_id: str) -> Mapping[str, TokenRequest]:
        """Secret hex → the first successful request of this client id with that secret."""
        return self.first_secret.get(client_id, {})

    def saw_browser(self) -> bool:
        """The input holds the browser side of a flow (an authorize request or a code's origin)."""
        return bool(self.authorizes or self.grants)

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
        """The newest response before position `seq` that returned this refresh token."""
        issuers = self.issuers.get(token.hex, [])
        cut = bisect.bisect_left(issuers, seq, key=lambda r: r.seq)
        return issuers[cut - 1] if cut else None

    def fold(self, x: Exchange) -> None:
        """Fold `x` in as the newest exchange: the caller keeps time order (`build` does)."""
        if x.kind == Kind.AUTHORIZE:
            self._add_authorize(x)
        elif x.kind == Kind.CALLBACK:
            origin = self._authorize_for(x)
            self._note_redirect(x, origin)
            if isinstance(code := x.params.get("code"), Secret):
                self._push(self.callbacks, code.hex, x)
            self._add_grant(x, x.params, origin)
        elif x.kind == Kind.TOKEN:
            self._add_token(token_request(len(self.requests), x))
        elif x.kind == Kind.REVOKE and x.ok:
            self._add_revoke(x)
        elif x.kind == Kind.DISCONNECT:
            self._append(self.disconnects, x)

    def _add_authorize(self, x: Exchange) -> None:
        """An authorize request, the consent form's POST, or another step on the authorize
        host. Only a step that asks (client_id, redirect_uri) is an authorize of its own; a
        step that does not continues the one its state or the redirect that led to it names."""
        origin = x if _asks(x) else self._continued(x)
        if origin is x:
            self._append(self.authorizes, x)
            st = x.params.get("state")
            if isinstance(st, Secret):
                self._push(self.by_state, st.hex, x)
        self._note_redirect(x, origin)
        if isinstance(x.reply.get("code"), Secret):
            self._add_grant(x, x.reply, origin)

    def _continued(self, x: Exchange) -> Exchange | None:
        """The authorize a step of the flow belongs to: by its state, else by the redirect
        that led to its URL (a chain of 3xx answers)."""
        target = x.reply.get("redirect_to")
        for st in (x.params.get("state"), x.reply.get("state")):
            if isinstance(st, Secret) and st.hex in self.by_state:
                return _best(self.by_state[st.hex], target if isinstance(target, str) else None)
        return self.redirects.get(x.url)

    def _note_redirect(self, x: Exchange, origin: Exchange | None) -> None:
        target = x.reply.get("redirect_to")
        if origin is not None and isinstance(target, str) and _redirected(x):
            self._replace(self.redirects, target, origin)

    def _authorize_for(self, callback: Exchange) -> Exchange | None:
        """The authorize a callback answers: by its state (tabs and attempts interleave),
        else the one whose redirect led here, else (no state at all) the latest authorize
        that asked to come back to this URL, else the latest authorize."""
        st = callback.params.get("state")
        if isinstance(st, Secret) and st.hex in self.by_state:
            return _best(self.by_state[st.hex], callback.url)
        led = self.redirects.get(callback.url)
        if led is not None:
            return led
        if not self.authorizes or isinstance(st, Secret):
            return None
        return _best(self.authorizes, callback.url)

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

    # Every change to an index goes through these four, which tell the journal when `replay`
    # installed one (one `is not None` test otherwise, so `build` stays as fast as before).

    def _append(self, items: list[V], item: V) -> None:
        items.append(item)
        if self._journal is not None:
            self._journal((Edit.APPENDED, items, None, None))

    def _push(self, table: dict[K, list[V]], key: K, item: V) -> None:
        """Append to the list under `key`, making it when missing."""
        items = table.get(key)
        if items is None:
            items = table[key] = []
        items.append(item)
        if self._journal is not None:
            self._journal((Edit.PUSHED, table, key, None))

    def _first(self, table: dict[K, V], key: K, value: V) -> None:
        """`setdefault`: the first value under a key stays."""
        if key in table:
            return
        table[key] = value
        if self._journal is not None:
            self._journal((Edit.SET, table, key, MISSING))

    def _replace(self, table: dict[K, V], key: K, value: V) -> None:
        if self._journal is not None:
            self._journal((Edit.SET, table, key, table.get(key, MISSING)))
        table[key] = value


def _best(candidates: Sequence[Exchange], arrived: str | None) -> Exchange:
    """Of authorize requests that sent one state, the latest that asked to be sent back where
    the code arrived (the exact string, else the same endpoint), else the latest."""
    if arrived is not None:
        recent = candidates[-BEST_SCAN:]  # a long capture's old attempts are not candidates
        for same in (lambda u: u == arrived, lambda u: host_path(u) == host_path(arrived)):
            for x in reversed(recent):
                uri = x.params.get("redirect_uri")
                if isinstance(uri, str) and same(uri):
                    return x
    return candidates[-1]


def _asks(x: Exchange) -> bool:
    """The step names the client or the redirect_uri: it is an authorize request itself."""
    return isinstance(x.params.get("client_id"), str) or isinstance(
        x.params.get("redirect_uri"), str
    )


def _redirected(x: Exchange) -> bool:
    """The answer sent the browser on (3xx): the request did not reach its final handler."""
    return x.status is not None and 300 <= x.status < 400


def build(exchanges: list[Exchange]) -> Lineage:
    """One pass over the timeline in order; later look-ups filter by time themselves."""
    state = Lineage()
    for x in exchanges:
        state.fold(x)
    return state
