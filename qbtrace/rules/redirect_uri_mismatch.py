"""The redirect_uri sent with the code is not the one the code was issued for.

What happened: Intuit binds a code to the exact redirect_uri of the authorize request that
produced it (scheme, host, port, path, trailing slash, case, encoding). The token request sent
a different string, so Intuit answered `invalid_grant`. The Node SDK sends its configured
`redirectUri`, not the URL the callback arrived on, so staging and production settings mix easily.

How to confirm: the evidence shows both strings and where they first differ.

How to fix: send exactly the redirect_uri used in the authorize URL (one setting for both), and
register that exact string on the app's Keys page.
"""

from __future__ import annotations

from urllib.parse import unquote

from qbtrace.model import Confidence, Evidence, Match
from qbtrace.rules.common import Context, cite_exchange, code_failure, match
from qbtrace.urls import port, split

CAUSE = "redirect_uri_mismatch"


def check(ctx: Context) -> Match | None:
    code = code_failure(ctx)
    sent = ctx.failure.redirect_uri
    if code is None or sent is None:
        return None
    grant = ctx.lineage.grants.get(code.hex) or ctx.lineage.grant_canon.get(code.canon)
    if grant is not None and grant.authorize is not None:
        wanted = grant.authorize.params.get("redirect_uri")
        if isinstance(wanted, str) and wanted != sent:
            note = (
                f"authorized with {wanted!r}; the code exchange sent {sent!r}: "
                f"{difference(wanted, sent)}"
            )
            return match(
                CAUSE, Confidence.CERTAIN, cite_exchange("authorize", grant.authorize, note)
            )
        if isinstance(wanted, str):
            return None
    if grant is not None and grant.callback.kind == "callback":
        arrived = grant.callback.url
        if _comparable(sent) == _comparable(arrived):
            return None
        note = (
            f"the callback arrived at {arrived!r}; the code exchange sent {sent!r}: "
            f"{difference(arrived, sent)}"
        )
        return match(CAUSE, Confidence.LIKELY, cite_exchange("callback", grant.callback, note))
    registered = ctx.profile.redirect_uris
    if grant is None and registered and sent not in registered:
        closest = min(registered, key=lambda uri: _distance(uri, sent))
        note = (
            f"registered {closest!r}; the code exchange sent {sent!r}: {difference(closest, sent)}"
        )
        return match(CAUSE, Confidence.LIKELY, Evidence("config", note))
    return None


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
    if (w.hostname or "") != (s.hostname or ""):
        return f"host {w.hostname!r} vs {s.hostname!r}"
    if port(w) != port(s):
        return f"port {port(w)} vs {port(s)}"
    if w.netloc != s.netloc:
        return "host case differs"
    if w.path.rstrip("/") == s.path.rstrip("/") and w.path != s.path:
        return "trailing slash"
    if w.path.lower() == s.path.lower() and w.path != s.path:
        return "letter case of the path"
    if unquote(w.path) == unquote(s.path) and w.path != s.path:
        return "percent-encoding of the path"
    if w.path != s.path:
        return f"path {w.path!r} vs {s.path!r}"
    if w.query != s.query:
        return "query string"
    return "encoding"
