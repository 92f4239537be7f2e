"""Stand-in values spelled from tags, for turning a tags-only capture back into a HAR.

Reading the spelled values back through the readers gives tags in the same relations as the
capture's (equal, prefix of, same length, same alterations), so the HAR analyzes the same.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

from qbtrace.model import Value
from qbtrace.redact import HEAD_LENGTHS, PLACEHOLDERS, Secret


class TagSpeller:
    """Values spelled from tags, so that reading them back gives tags in the same relations.

    A secret's canonical value is spelled from its tags' hex: its first 16 characters from the
    16-character head's tag, the next 16 from the 32-character head's, then up to 64 from the
    64-character head's, the rest from the canonical tag; each stretched by SHA-256 where it
    is longer than 12 hex digits. Equal heads give equal prefixes, so a truncated token is
    still a prefix of the one it was cut from, and lengths are kept. A value whose family
    (same 16-character head) was seen shaped like a JWT starts with `eyJ`. The exact value is
    that core wrapped as its defects say (a space around it, quotes, a percent-escape, a space
    inside); distinct exact values with the same core and defects get distinct wrappings. An
    empty or placeholder value is spelled as one (`undefined`, `null`...) of its length.
    """

    def __init__(self, secrets: Iterable[Secret]) -> None:
        self.jwt = {self._family(s) for s in secrets if "access-token-shape" in s.defects}
        self.by_hex: dict[str, str] = {}
        self.variants: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)

    @staticmethod
    def _family(s: Secret) -> str:
        return dict(s.heads).get(16, s.canon)

    def value(self, value: Value) -> Value:
        if not isinstance(value, Secret):
            return value
        spelled = self.by_hex.get(value.hex)
        if spelled is None:
            core = self._core(value)
            defects = tuple(d for d in value.defects if d != "access-token-shape")
            variant = self.variants[core, defects]
            self.variants[core, defects] += 1
            spelled = self.by_hex[value.hex] = _wrap(core, defects, variant)
        return spelled

    def _core(self, s: Secret) -> str:
        if "empty" in s.defects:
            return ""
        if "placeholder" in s.defects:
            same = sorted(p for p in PLACEHOLDERS if len(p) == s.length)
            return same[0] if same else "undefined"
        heads = dict(s.heads)
        out, start = "", 0
        for n in HEAD_LENGTHS:
            if n in heads and n <= s.length:
                out += _stretch(heads[n], n - start)
                start = n
        out += _stretch(s.canon, s.length - start)
        if self._family(s) in self.jwt and len(out) >= 3:
            out = "eyJ" + out[3:]
        return out


def _stretch(digest: str, width: int) -> str:
    text, counter = digest, 0
    while len(text) < width:
        text += hashlib.sha256(f"{digest}:{counter}".encode()).hexdigest()
        counter += 1
    return text[:width]


def _wrap(core: str, defects: tuple[str, ...], variant: int) -> str:
    """`core` altered as `defects` say, in the reverse order of `redact.canonical`."""
    carriers = [
        d for d in ("whitespace", "inner-whitespace", "percent-encoded", "quoted") if d in defects
    ]
    extra = {d: variant if carriers and d == carriers[0] else 0 for d in carriers}
    text = core
    if "inner-whitespace" in defects and len(text) >= 2:
        k = len(text) // 2
        text = text[:k] + " " * (1 + extra["inner-whitespace"]) + text[k:]
    if "percent-encoded" in defects and text:
        n = min(len(text), 1 + extra["percent-encoded"])
        text = "".join(f"%{ord(c):02X}" for c in text[:n]) + text[n:]
    if "quoted" in defects:
        quote_char = "\"'`"[extra["quoted"] % 3]
        layers = 1 + extra["quoted"] // 3
        text = quote_char * layers + text + quote_char * layers
    if "whitespace" in defects:
        text = text + " " * (1 + extra["whitespace"])
    return text
