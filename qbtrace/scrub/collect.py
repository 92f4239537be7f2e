"""Collecting the secrets a capture shows, each with its stand-in, by where it stands.

A value is collected from where its role is plain (an `Authorization` header, a cookie, a
field whose name means a secret, a JWT, a long random value) and then replaced wherever it
occurs (`replace`). OAuth values (`SECRET_PARAMS`) get same-shape stand-ins with their
wrapper kept, so the copy analyzes the same; a Basic credential stays base64 of the same
client id and a stand-in secret. Nothing here knows HAR: the HAR walker and a log reader
hand it headers, URLs, fields and texts.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote, unquote_plus, urlsplit

from qbtrace.providers import TENANT_PARAMS, tenant_in
from qbtrace.redact import canonical
from qbtrace.scrub import find
from qbtrace.scrub.names import fold, is_secret_name, oauth_kind
from qbtrace.scrub.replace import MIN_FORM, Replacer
from qbtrace.scrub.standin import StandIns
from qbtrace.sources.build import KEPT_HEADERS

URL_HEADERS = frozenset({"location", "referer", ":path", "content-location", "refresh", "link"})
"""Headers whose value is or holds a URL (`:path`: Chrome's HTTP/2)."""
SAFE_HEADERS = frozenset(
    {
        *KEPT_HEADERS,
        "date",
        "expires",
        "last-modified",
        "user-agent",
        "content-type",
        "content-length",
        "host",
        ":authority",
        ":method",
        ":scheme",
        ":status",
        "accept",
        "accept-encoding",
        "server",
        "content-encoding",
        "cache-control",
        "vary",
        "via",
        "age",
        "etag",
        "if-none-match",
        "content-security-policy",
        "strict-transport-security",
        "accept-language",
    }
)
"""Headers qbtrace reads (a provider's request id is no secret, and replacing it would change
the evidence) or that hold no secret: their values are not searched for random runs."""
WORD = re.compile(r"[A-Za-z_-]{1,15}")
"""A short word (`bearer`, `content-type`, `accepted`) is no secret in a cookie or a body."""
MIN_WORD = 8
"""A word this long is taken as a secret where a credential's name says it is one."""
SET_COOKIE_SPLIT = re.compile(r"\n|,(?=\s*[^;,=\s]+=)")
"""Folded `Set-Cookie` values: Chrome and Firefox join them with newlines, proxies with
commas (a comma inside `Expires=Wed, 21 Oct` is followed by no `name=`)."""
PUBLIC_FIELDS = frozenset(
    {
        "clientid",
        "redirecturi",
        "scope",
        "granttype",
        *(fold(p) for p in TENANT_PARAMS),
        # a provider's ids of the exchange (Microsoft's error answers): evidence, no secret
        "traceid",
        "correlationid",
    }
)
"""Fields qbtrace reads that are no secret: their values are never taken as random secrets."""


class Collector:
    """The secrets seen so far, each with its stand-in and kind."""

    def __init__(self, stand_ins: StandIns) -> None:
        self.stand_ins = stand_ins
        self._oauth: dict[str, tuple[str, str]] = {}
        self._other: dict[str, tuple[str, str]] = {}
        self._public: set[str] = set()
        """Values of fields that are no secret (client ids): not taken as random secrets."""
        self._matched: set[str] = set()
        """Hosts and content types qbtrace matches on: never replaced as another secret."""
        self._seen: set[tuple[str, str]] = set()

    def _first(self, where: str, value: str) -> bool:
        """True the first time a value is seen in a role: an app sends the same cookies and
        headers with every request, and each is read once."""
        key = (where, value)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    # --- values -------------------------------------------------------------------------

    def oauth(self, kind: str, raw: str) -> None:
        """An OAuth value: its exact spelling and its canonical core both get stand-ins."""
        canon, defects = canonical(raw)
        if "empty" in defects or "placeholder" in defects or len(canon) < MIN_FORM:
            return
        fake = self.stand_ins.value(raw)
        if kind == "id_token":  # Google's per-user token limit needs the user to stay told apart
            fake = self.stand_ins.with_user(raw, fake)
        self._oauth.setdefault(raw, (fake, kind))
        self._oauth.setdefault(canon, (self.stand_ins.core(canon), kind))

    def secret(self, kind: str, raw: str, words: bool = False) -> None:
        """Any other secret, when it is long enough to be one and not a short plain word
        (unless `words`: where the name says it is a credential, `secret-key` is one)."""
        if raw in self._other or raw in self._oauth:
            return
        canon = canonical(raw)[0]
        if kind == "random value" and canon in self._public:
            return
        for value in dict.fromkeys((raw.strip(), canon)):  # `%5B%5BB%5D%5D` long, `[[B]]` not
            word = WORD.fullmatch(value) and not (words and len(value) >= MIN_WORD)
            if find.meaningful(value) and not word:
                self._other.setdefault(value, (self.stand_ins.value(value), kind))

    def replacer(self) -> Replacer:
        """Every collected value's spellings in one automaton, OAuth stand-ins first."""
        out = Replacer()
        for value, (fake, kind) in self._oauth.items():
            out.add(value, fake, kind)
        for value, (fake, kind) in self._other.items():
            if value in self._matched or (kind == "random value" and value in self._public):
                continue  # a cookie that holds a host; a client id that looks random
            out.add(value, fake, kind)
        return out

    # --- where values stand -------------------------------------------------------------

    def field(self, name: str, value: str) -> None:
        """A query, form, JSON or other named field."""
        if not self._first(name, value):
            return
        kind = oauth_kind(name)
        folded = fold(name)
        if kind is not None:
            self.oauth(name, value)
        elif folded in PUBLIC_FIELDS:
            self._public.add(value)
        elif is_secret_name(name):
            self.credential(value, "secret field")
        elif find.opaque_value(value):
            self.secret("random value", value)
        if "://" in value:
            self.url(value)  # a nested URL: `redirect=https://app/cb?code=...`

    def credential(self, value: str, kind: str = "authorization") -> None:
        """An `Authorization`-like value of any scheme or none."""
        scheme, space, cred = value.strip().partition(" ")
        if not space:
            self.secret(kind, value, words=True)
            return
        if scheme.lower() == "basic":
            self.basic(cred.strip())
            return
        self.secret(kind, cred.strip(), words=True)
        for name, part in find.fields(cred):  # Digest, AWS4: `Signature=...`, `nonce="..."`
            self.secret(kind, part.strip('"'))
            del name

    def basic(self, cred: str) -> None:
        """A Basic credential: the client id stays, the secret gets a stand-in, and the
        base64 stays base64 of both (the rules read the client id and the secret's shape)."""
        try:
            decoded = base64.b64decode(cred, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            self.oauth("authorization", cred)  # keeps its defect: same length and punctuation
            return
        client_id, colon, secret = decoded.partition(":")
        fake = self.stand_ins.value(secret if colon else decoded)
        if fake == (secret if colon else decoded):
            return  # an empty or placeholder secret hides nothing
        pair = f"{client_id}:{fake}" if colon else fake
        self._oauth.setdefault(cred, (base64.b64encode(pair.encode()).decode(), "client_secret"))
        self._oauth.setdefault(decoded, (pair, "client_secret"))
        if colon:
            self.oauth("client_secret", secret)

    def cookies(self, header: str, value: str) -> None:
        """Every cookie of a `Cookie` or `Set-Cookie` header, however folded or split."""
        if header == "set-cookie":
            pairs = [part.split(";", 1)[0] for part in SET_COOKIE_SPLIT.split(value)]
        else:
            pairs = value.split(";")
        for pair in pairs:
            name, eq, cookie = pair.strip().partition("=")
            self.secret("cookie", cookie if eq else name)

    def header(self, name: str, value: str) -> None:
        """A request or response header."""
        if not self._first(name, value):
            return
        low = name.lower()
        if low in ("authorization", "proxy-authorization"):
            self.credential(value)
        elif low in ("cookie", "set-cookie"):
            self.cookies(low, value)
        elif low in URL_HEADERS:
            self.url(value.split("url=", 1)[-1] if low == "refresh" else value.strip("<> "))
        elif is_secret_name(name):
            self.credential(value, "secret header")
        elif low in SAFE_HEADERS:
            if low == "content-type":
                self._matched.add(value.strip())  # the rules read it
        else:
            for run in find.opaque_runs(value):
                self.secret("random value", run)

    def url(self, url: str) -> None:
        """Userinfo, query and fragment fields, and random path segments of a URL."""
        try:
            parts = urlsplit(url.strip())
        except ValueError:  # an unclosed IPv6 bracket: still read its fields as text
            self.text(url)
            return
        userinfo, at, host = parts.netloc.rpartition("@")
        self._matched.update((host, parts.hostname or host))
        if at:
            self.secret("url userinfo", unquote(userinfo))
            self.secret("url userinfo", unquote(userinfo.partition(":")[2]))
        for query in (parts.query, parts.fragment):
            for pair in query.split("&") if "=" in query else ():
                name, _, value = pair.partition("=")
                self.field(unquote_plus(name), unquote_plus(value))
        tenant = tenant_in(url.strip())  # a tenant id in the path is public (Microsoft's)
        for segment in parts.path.split("/"):
            if find.opaque(segment) and segment != tenant:
                self.secret("random value", unquote(segment))

    def text(self, text: str) -> None:
        """A body or message of any type: its secret fields and JWTs, also where the body
        holds JSON escaped once more (in a JavaScript string, in an HTML attribute)."""
        for unescaped in find.unescaped(text):
            self._fields(unescaped)
        for jwt in find.jwts(text):
            self.secret("jwt", jwt)

    def _fields(self, text: str) -> None:
        for name, value in find.secret_fields(text):
            # a body is often code or an error answer: `"code": "invalid"` is no OAuth code
            if not find.opaque_value(value) and (
                WORD.fullmatch(value.strip()) or not _secretish(value)
            ):
                continue
            self.field(name, value)

    def jwts(self, text: str) -> None:
        """JWTs wherever they stand (a page title, a comment, an initiator's stack)."""
        for jwt in find.jwts(text):
            self.secret("jwt", jwt)


def _secretish(value: str) -> bool:
    """A field found by pattern in a body is taken when it could be a secret: digits and
    letters mixed, long, or a long number (a body is often code, where `key: "header"` is
    no secret)."""
    text = value.strip()
    mixed = any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
    return mixed or len(text) >= 16 or (text.isdigit() and len(text) >= 8)  # a PIN, an OTP
