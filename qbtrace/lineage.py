"""Who issued what and who spent it: the indexes every rule looks things up in.

Built in one pass over the timeline, so each rule answers with dictionary look-ups instead of
scanning all events per failure (a million token requests must classify in seconds).
Authorize → callback → code exchange chains are joined by `state` (else by the authorize's
own redirect), and refresh tokens form lineages rooted at the code exchange that began them.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from qbtrace.events import TokenRequest, token_request
from qbtrace.model import Exchange, Kind, Value
from qbtrace.redact import Secret


@dataclass(frozen=True, slots=True)
class CodeGrant:
    """A code as Intuit handed it out: the callback that carried it and its authorize request."""

    code: Secret
    callback: Exchange
    authorize: Exchange | None
    realm: str | None


@dataclass
class Lineage:
    """Indexes over one analysis; read-only once built."""

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
    """canonical hex of any issued token → (its kind, the issuing response)."""
    issued_heads: dict[tuple[int, str], list[tuple[Secret, TokenRequest]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    spends: dict[str, list[TokenRequest]] = field(default_factory=lambda: defaultdict(list))
    """refresh token hex → refresh requests that presented it, in time order."""
    root: dict[str, str] = field(default_factory=dict)
    """token hex → id of its lineage (the code that began it, else the oldest token seen)."""
    realm: dict[str, str] = field(default_factory=dict)
    """lineage id → realmId from the callback."""
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

    def spends_before(self, token: Secret, seq: int) -> list[TokenRequest]:
        """Refreshes with `token` sent before position `seq` (bisect: no scan of the rest)."""
        spends = self.spends.get(token.hex, [])
        return spends[: bisect.bisect_left(spends, seq, key=lambda r: r.seq)]

    def last_issuer_before(self, token: Secret, seq: int) -> TokenRequest | None:
        issuers = self.issuers.get(token.hex, [])
        cut = bisect.bisect_left(issuers, seq, key=lambda r: r.seq)
        return issuers[cut - 1] if cut else None


def build(exchanges: list[Exchange]) -> Lineage:
    """One pass over the timeline in order; later look-ups filter by time themselves."""
    state = Lineage()
    by_state: dict[str, Exchange] = {}
    for x in exchanges:
        if x.kind == Kind.AUTHORIZE:
            state.authorizes.append(x)
            st = x.params.get("state")
            if isinstance(st, Secret):
                by_state[st.hex] = x
            if isinstance(x.reply.get("code"), Secret):
                _add_grant(state, x, x.reply, x)
        elif x.kind == Kind.CALLBACK:
            _add_grant(state, x, x.params, _authorize_for(x, by_state, state.authorizes))
        elif x.kind == Kind.TOKEN:
            _add_token(state, token_request(len(state.requests), x))
        elif x.kind == Kind.REVOKE and x.ok:
            _add_revoke(state, x)
        elif x.kind == Kind.DISCONNECT:
            state.disconnects.append(x)
    return state


def _authorize_for(
    callback: Exchange, by_state: dict[str, Exchange], authorizes: list[Exchange]
) -> Exchange | None:
    st = callback.params.get("state")
    if isinstance(st, Secret) and st.hex in by_state:
        return by_state[st.hex]
    return authorizes[-1] if authorizes and not isinstance(st, Secret) else None


def _add_grant(
    state: Lineage, carrier: Exchange, fields: Mapping[str, Value], authorize: Exchange | None
) -> None:
    code = fields.get("code")
    if not isinstance(code, Secret) or code.hex in state.grants:
        return
    realm = fields.get("realmId")
    grant = CodeGrant(code, carrier, authorize, realm if isinstance(realm, str) else None)
    state.grants[code.hex] = grant
    state.grant_canon.setdefault(code.canon, grant)
    for head in code.heads:
        state.grant_heads.setdefault(head, grant)
    if grant.realm:
        state.realm[f"code:{code.hex}"] = grant.realm


def _add_token(state: Lineage, req: TokenRequest) -> None:
    state.requests.append(req)
    presented = req.presented
    if req.grant == "authorization_code" and req.code:
        state.code_uses[req.code.hex].append(req)
    elif req.grant == "refresh_token" and req.refresh:
        state.spends[req.refresh.hex].append(req)
    if not req.ok:
        return
    if req.client_id is not None and req.client_secret is not None:
        state.first_secret[req.client_id].setdefault(req.client_secret.hex, req)
    if (
        req.grant == "refresh_token"
        and req.refresh is not None
        and req.issued_rt is not None
        and req.issued_rt.hex != req.refresh.hex
    ):
        state.first_rotation.setdefault(req.refresh.hex, req)
    if presented is not None:
        lineage = _lineage_id(state, req, presented)
        state.root.setdefault(presented.hex, lineage)
    else:
        lineage = None
    for issued, kind in ((req.issued_rt, "rt"), (req.issued_at, "at")):
        if issued is None:
            continue
        if kind == "rt":
            state.issuers[issued.hex].append(req)
        else:
            state.at_issuers.setdefault(issued.hex, req)
        state.issued_canon.setdefault(issued.canon, (kind, req))
        for head in issued.heads:
            state.issued_heads[head].append((issued, req))
        state.root.setdefault(issued.hex, lineage or issued.hex)


def _lineage_id(state: Lineage, req: TokenRequest, presented: Secret) -> str:
    if req.grant == "authorization_code":
        return f"code:{presented.hex}"
    return state.root.get(presented.hex, presented.hex)


def _add_revoke(state: Lineage, x: Exchange) -> None:
    token = x.params.get("token")
    if not isinstance(token, Secret):
        return
    state.revokes[token.hex].append(x)
    lineage = state.root.get(token.hex)
    if lineage is not None:
        state.revoked_roots[lineage].append(x)
