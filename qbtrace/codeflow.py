"""Where each authorization code came from: authorize request → consent → callback.

Real captures show this part of the flow in many shapes, and each is folded into the same
`CodeGrant`: the authorize parameters from the URL query or from the consent page's form POST;
the code from the callback request, or only from the `Location` of a 3xx answer of the
authorize host when the callback never passed the proxy (browsers do not proxy `localhost`);
steps on the authorize host that name no client linked to their authorize by `state` or by
the redirect that led to them; the app server's own redirects of the callback (`/callback` →
`/callback/`, http → https) recorded as such; interleaved tabs and attempts told apart by
`state`, and by the redirect_uri they asked for when one state is shared.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from qbtrace.indexes import Indexes
from qbtrace.model import Exchange, Kind, Value
from qbtrace.providers import TENANT_PARAMS, host_path
from qbtrace.redact import Secret

BEST_SCAN = 64
"""How many of the latest authorize requests a callback's owner is looked for among."""


@dataclass(frozen=True, slots=True)
class CodeGrant:
    """A code as the provider handed it out: the callback that carried it, its authorize request."""

    code: Secret
    callback: Exchange
    authorize: Exchange | None
    realm: str | None


@dataclass
class CodeFlow(Indexes):
    """The browser side of the flow, folded in time order; rules read it through queries."""

    grants: dict[str, CodeGrant] = field(default_factory=dict)
    """code hex → where the code came from."""
    grant_canon: dict[str, CodeGrant] = field(default_factory=dict)
    grant_heads: dict[tuple[int, str], CodeGrant] = field(default_factory=dict)
    realm: dict[str, str] = field(default_factory=dict)
    """lineage id → the tenant id (a provider's `tenant_param`) from the callback."""
    authorizes: list[Exchange] = field(default_factory=list)
    by_state: dict[str, list[Exchange]] = field(default_factory=lambda: defaultdict(list))
    """state hex → the authorize requests that sent it, in time order (apps that use one
    constant state send it from every attempt)."""
    redirects: dict[str, Exchange] = field(default_factory=dict)
    """scheme://host/path a step of the flow redirected to → the authorize it belongs to."""
    callbacks: dict[str, list[Exchange]] = field(default_factory=lambda: defaultdict(list))
    """code hex → every callback request that carried it, redirected onwards or not."""

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

    def realm_of(self, lineage: str) -> str | None:
        """The tenant (company) the callback of a lineage's code named."""
        return self.realm.get(lineage)

    def saw_browser(self) -> bool:
        """The input holds the browser side of a flow (an authorize request or a code's origin)."""
        return bool(self.authorizes or self.grants)

    def _fold_browser(self, x: Exchange) -> None:
        """Fold an authorize-host step or a callback."""
        if x.kind == Kind.AUTHORIZE:
            self._add_authorize(x)
            return
        origin = self._authorize_for(x)
        self._note_redirect(x, origin)
        if isinstance(code := x.params.get("code"), Secret):
            self._push(self.callbacks, code.hex, x)
        self._add_grant(x, x.params, origin)

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
