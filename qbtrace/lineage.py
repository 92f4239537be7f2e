"""Who issued what and who spent it: the indexes every rule looks things up in.

Folded one exchange at a time, so each rule answers with dictionary look-ups instead of
scanning all events per failure (a million token requests must classify in seconds). Where
each code came from (authorize → consent → callback) is `codeflow`'s part; here the code
exchanges and refreshes form lineages rooted at the code exchange that began them.

Rules read the indexes only through named queries (`grant_of`, `spends_before`,
`revokes_of`...), never the dictionaries themselves, so an index can change shape without
touching a rule. `build` folds a whole timeline in the order given; `replay` folds exchanges
as they complete in a live session, out of start order, by undoing and redoing folds (every
change goes through the journaled mutators of `indexes`).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from qbtrace.codeflow import CodeFlow, CodeGrant
from qbtrace.events import TokenRequest, token_request
from qbtrace.model import Exchange, Kind
from qbtrace.redact import Secret

__all__ = ["TRUNCATION_PREFIX", "CodeGrant", "Lineage", "build"]


TRUNCATION_PREFIX = 32
"""Shorter prefixes are shared by unrelated tokens (some providers' start with a timestamp)."""


def consent_key(client_id: str | None, user: Secret | None) -> str:
    """Where `Lineage.consents` keeps a client's consents, or one user's of that client."""
    return f"{client_id or ''}\0{user.hex}" if user is not None else client_id or ""


@dataclass
class Lineage(CodeFlow):
    """Indexes over the timeline folded so far (the code flow's from `CodeFlow`); rules only
    read them, through the named queries."""

    requests: list[TokenRequest] = field(default_factory=list)
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
    revokes: dict[str, list[Exchange]] = field(default_factory=lambda: defaultdict(list))
    """token hex → successful revoke requests naming it."""
    revoked_roots: dict[str, list[Exchange]] = field(default_factory=lambda: defaultdict(list))
    disconnects: list[Exchange] = field(default_factory=list)
    first_secret: dict[str, dict[str, TokenRequest]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    """client id → secret hex → first successful request with it (few secrets per client)."""
    consents: dict[str, list[TokenRequest]] = field(default_factory=lambda: defaultdict(list))
    """`consent_key` → successful code exchanges, in time order: per client, and per client
    and user when the answer names one (a limit of live tokens per user counts them)."""
    first_rotation: dict[str, TokenRequest] = field(default_factory=dict)
    """refresh token hex → the first successful refresh that spent it and issued another."""

    # Named queries: what the rules ask, phrased as the question.

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
        if x.kind in (Kind.AUTHORIZE, Kind.CALLBACK):
            self._fold_browser(x)
        elif x.kind == Kind.TOKEN:
            self._add_token(token_request(len(self.requests), x))
        elif x.kind == Kind.REVOKE and x.ok:
            self._add_revoke(x)
        elif x.kind == Kind.DISCONNECT:
            self._append(self.disconnects, x)

    def _add_token(self, req: TokenRequest) -> None:
        self._append(self.requests, req)
        presented = req.presented
        if req.grant == "authorization_code" and req.code:
            self._push(self.code_uses, req.code.hex, req)
        elif req.grant == "refresh_token" and req.refresh:
            self._push(self.spends, req.refresh.hex, req)
        if not req.ok:
            return
        if req.grant == "authorization_code":
            self._push(self.consents, consent_key(req.client_id, None), req)
            if req.user is not None:
                self._push(self.consents, consent_key(req.client_id, req.user), req)
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


def build(exchanges: list[Exchange]) -> Lineage:
    """One pass over the timeline in order; later look-ups filter by time themselves."""
    state = Lineage()
    for x in exchanges:
        state.fold(x)
    return state
