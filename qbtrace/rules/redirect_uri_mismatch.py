"""The redirect_uri sent with the code is not the one the code was issued for.

What happened: {Provider} binds a code to the exact redirect_uri of the authorize request that
produced it (scheme, host, port, path, trailing slash, case, encoding). The token request sent
a different string, so {provider} answered `invalid_grant`.{sdk_redirect_note}

How to confirm: the evidence shows both strings and where they first differ: the authorize
request (its query, or the consent form's POST body), else {provider_s} redirect that
carried the code, else the callback as the app received it. An explicit default port counts
(`https://host:443/cb` is not `https://host/cb`), and when the app's own server redirected the
callback (`/callback` → `/callback/`, http → https) the evidence names that redirect too.

How to fix: send exactly the redirect_uri used in the authorize URL (one setting for both), and
register that exact string on {keys_page}.
"""

from __future__ import annotations

from urllib.parse import SplitResult, unquote

from qbtrace.codeflow import CodeGrant
from qbtrace.model import Confidence, Evidence, Exchange, Kind, Match
from qbtrace.rules.common import Context, cite_exchange, code_failure, match
from qbtrace.urls import split

CAUSE = "redirect_uri_mismatch"
HOP_FIX = (
    "Send the redirect_uri of the authorize request from configuration, not the URL the "
    "callback handler was finally called on: the app's own server redirected the callback "
    "(a trailing slash appended, http sent to https) before the handler ran. Or register and "
    "authorize with the final URL, or exempt the callback path from that redirect."
)


def check(ctx: Context) -> Match | None:
    code = code_failure(ctx)
    sent = ctx.failure.redirect_uri
    if code is None or sent is None:
        return None
    grant = ctx.lineage.grant_like(code)
    if grant is None:
        return _registered(ctx, sent)
    found = _against_authorize(grant, sent)
    if found is None:
        found = _against_redirect(grant, sent)
    if found is None or not found.evidence:
        return None
    hops = [cite_exchange("app_redirect", x, _hop(x)) for x in _app_hops(ctx, grant, sent)]
    fix = HOP_FIX if hops else None
    return Match(CAUSE, found.confidence, (*found.evidence, *hops), fix=fix)


def _against_authorize(grant: CodeGrant, sent: str) -> Match | None:
    """The exact string of the authorize request (query or consent POST body); an empty
    match when it equals `sent`, None when the authorize is not in the input."""
    asked = grant.authorize
    wanted = asked.params.get("redirect_uri") if asked is not None else None
    if asked is None or not isinstance(wanted, str):
        return None
    if wanted == sent:
        return match(CAUSE, Confidence.CERTAIN)
    where = difference(wanted, sent)
    note = f"authorized with {wanted!r}; the code exchange sent {sent!r}: {where}"
    return match(CAUSE, Confidence.CERTAIN, cite_exchange("authorize", asked, note))


def _against_redirect(grant: CodeGrant, sent: str) -> Match | None:
    """Without the authorize parameters: where the code was delivered. The provider's own
    `Location` is written from the redirect_uri string; a callback request's URL may have been
    normalised by the exporter (default port, host case), so only what survives that counts."""
    carrier = grant.callback
    if carrier.kind == Kind.AUTHORIZE:
        target = carrier.reply.get("redirect_to")
        if not isinstance(target, str) or target == sent:
            return match(CAUSE, Confidence.LIKELY)
        note = (
            f"the provider redirected the code to {target!r}; the code exchange sent {sent!r}: "
            f"{difference(target, sent)}"
        )
        return match(CAUSE, Confidence.LIKELY, cite_exchange("code_redirect", carrier, note))
    arrived = carrier.url
    if _comparable(sent) == _comparable(arrived):
        return match(CAUSE, Confidence.LIKELY)
    note = (
        f"the callback arrived at {arrived!r}; the code exchange sent {sent!r}: "
        f"{difference(arrived, sent)}"
    )
    return match(CAUSE, Confidence.LIKELY, cite_exchange("callback", carrier, note))


def _registered(ctx: Context, sent: str) -> Match | None:
    registered = ctx.profile.redirect_uris
    if not registered or sent in registered:
        return None
    closest = min(registered, key=lambda uri: _distance(uri, sent))
    note = f"registered {closest!r}; the code exchange sent {sent!r}: {difference(closest, sent)}"
    return match(CAUSE, Confidence.LIKELY, Evidence("config", note))


def _app_hops(ctx: Context, grant: CodeGrant, sent: str) -> list[Exchange]:
    """The app server's own redirects of this code's callback that led to the URL sent."""
    return [
        x
        for x in ctx.lineage.callbacks_of(grant.code)
        if x.status is not None
        and 300 <= x.status < 400
        and _comparable(str(x.reply.get("redirect_to", ""))) == _comparable(sent)
    ]


def _hop(x: Exchange) -> str:
    return (
        f"the app's server redirected the callback from {x.url!r} to "
        f"{x.reply.get('redirect_to')!r} before the app read it, and the app sent the URL it "
        "was finally called on"
    )


def _comparable(uri: str) -> tuple[str, str, str]:
    """What survives an exporter's normalisation of a URL: host case and default ports do not."""
    parts = split(uri)
    netloc = parts.netloc.lower().removesuffix(
        {"https": ":443", "http": ":80"}.get(parts.scheme, "")
    )
    return parts.scheme.lower(), netloc, parts.path


def _distance(a: str, b: str) -> int:
    common = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return len(a) + len(b) - 2 * common


def difference(wanted: str, sent: str) -> str:
    """Where two redirect URIs differ, named the way a developer would check it."""
    w, s = split(wanted), split(sent)
    if w.scheme != s.scheme:
        return f"scheme {w.scheme!r} vs {s.scheme!r}"
    if wanted.partition(":")[0] != sent.partition(":")[0]:
        return (
            f"letter case of the scheme: {wanted.partition(':')[0]!r} vs {sent.partition(':')[0]!r}"
        )
    if (w.hostname or "") != (s.hostname or ""):
        return f"host {w.hostname!r} vs {s.hostname!r}"
    if _port(w) != _port(s):
        return f"port: {_said(_port(w))} vs {_said(_port(s))} (the same server, another string)"
    if w.netloc != s.netloc:
        return "letter case of the host"
    if w.path.rstrip("/") == s.path.rstrip("/") and w.path != s.path:
        return f"trailing slash: path {w.path!r} vs {s.path!r}"
    if w.path.lower() == s.path.lower() and w.path != s.path:
        return f"letter case of the path: {w.path!r} vs {s.path!r}"
    if unquote(w.path) == unquote(s.path) and w.path != s.path:
        return f"percent-encoding of the path: {w.path!r} vs {s.path!r}"
    if w.path != s.path:
        return f"path {w.path!r} vs {s.path!r}"
    if w.query != s.query:
        return f"query string {w.query!r} vs {s.query!r}"
    return _first_difference(wanted, sent)


def _first_difference(wanted: str, sent: str) -> str:
    """Where two strings that parse alike first differ (a fragment, an escape of the host)."""
    at = next((i for i, (a, b) in enumerate(zip(wanted, sent, strict=False)) if a != b), None)
    if at is None:
        at = min(len(wanted), len(sent))
    return f"from character {at + 1}: {wanted[at : at + 16]!r} vs {sent[at : at + 16]!r}"


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:  # not a number: the netloc comparison below names the difference
        return None


def _said(port: int | None) -> str:
    return f"explicit :{port}" if port is not None else "no port"
