"""Every occurrence of every collected secret, in every spelling, replaced in one pass.

A secret stands in a HAR raw, percent-encoded (once or twice, either case of hex, `+` for
spaces), JSON-escaped (with or without `\\/`), or base64-encoded (standard or URL-safe, on its
own or inside a longer base64 run at any of the three byte alignments). Each spelling of a
value maps to the same spelling of its stand-in. All spellings of all values go into one
Aho–Corasick automaton (leftmost-longest), so a text is scanned once, whatever the number of
secrets: work is linear in the text's length. Nothing here knows HAR; logs use it too.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import ahocorasick_rs

MIN_FORM = 6
"""Spellings shorter than this are not searched: they would match unrelated text."""
SURROGATE = re.compile(r"([\ud800-\udfff])")
HEX_ESCAPE = re.compile(r"%[0-9A-F]{2}")


class Replacer:
    """Collected secrets and their stand-ins; `text` replaces them in any string."""

    def __init__(self) -> None:
        self._forms: dict[str, tuple[str, str]] = {}
        self._automaton: ahocorasick_rs.AhoCorasick | None = None
        self._patterns: list[str] = []
        self.counts: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._forms)

    def add(self, value: str, stand_in: str, kind: str) -> None:
        """Replace `value` by `stand_in` in every spelling; the first kind given a spelling
        keeps it (OAuth values are added first, so their same-shape stand-ins win)."""
        if value == stand_in:
            return
        if SURROGATE.search(value) or SURROGATE.search(stand_in):
            self._add_pieces(value, stand_in, kind)
            return
        for form, fake in spellings(value, stand_in):
            if len(form) >= MIN_FORM and form != fake:
                self._forms.setdefault(form, (fake, kind))
        self._automaton = None

    def _add_pieces(self, value: str, stand_in: str, kind: str) -> None:
        """A value with a lone surrogate (undecodable bytes): texts are scanned between
        their surrogates, so each piece between them is what can be found and replaced."""
        if len(value) != len(stand_in):
            return
        start = 0
        for match in [*SURROGATE.finditer(value), None]:
            end = match.start() if match else len(value)
            if end - start >= MIN_FORM:
                self.add(value[start:end], stand_in[start:end], kind)
            start = end + 1

    def _compiled(self) -> ahocorasick_rs.AhoCorasick | None:
        if self._automaton is None and self._forms:
            self._patterns = list(self._forms)
            self._automaton = ahocorasick_rs.AhoCorasick(
                self._patterns, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
            )
        return self._automaton

    def text(self, text: str) -> str:
        """`text` with every spelling of every secret replaced; the same object when none."""
        automaton = self._automaton or self._compiled()
        if automaton is None or len(text) < MIN_FORM:
            return text
        try:
            matches = automaton.find_matches_as_indexes(text)
        except UnicodeEncodeError:  # a lone surrogate (mitmproxy, `\udXXX` in JSON) in the text
            return "".join(
                self.text(p) if i % 2 == 0 else p for i, p in enumerate(SURROGATE.split(text))
            )
        if not matches:
            return text
        out, last = [], 0
        for index, start, end in matches:
            fake, kind = self._forms[self._patterns[index]]
            out.append(text[last:start])
            out.append(fake)
            self.counts[kind] += 1
            last = end
        out.append(text[last:])
        return "".join(out)


def spellings(value: str, fake: str) -> Iterator[tuple[str, str]]:
    """(spelling of `value`, the same spelling of `fake`) for every spelling searched."""
    yield value, fake
    for encode in (_quote_all, _quote_path, quote_plus):
        once, fake_once = encode(value), encode(fake)
        yield once, fake_once
        yield _lower_hex(once), _lower_hex(fake_once)
        yield _quote_all(once), _quote_all(fake_once)
    escaped, fake_escaped = _json(value, True), _json(fake, True)
    yield escaped, fake_escaped
    yield _json(value, False), _json(fake, False)
    yield escaped.replace("/", "\\/"), fake_escaped.replace("/", "\\/")
    raw, fake_raw = value.encode("utf-8", "surrogatepass"), fake.encode("utf-8", "surrogatepass")
    if len(raw) == len(fake_raw):
        for offset in range(3):
            yield _base64_middle(raw, offset, False), _base64_middle(fake_raw, offset, False)
            yield _base64_middle(raw, offset, True), _base64_middle(fake_raw, offset, True)


def _quote_all(text: str) -> str:
    return quote(text, safe="")


def _quote_path(text: str) -> str:
    return quote(text)


def _lower_hex(text: str) -> str:
    return HEX_ESCAPE.sub(lambda m: m.group(0).lower(), text)


def _json(text: str, ascii_only: bool) -> str:
    return json.dumps(text, ensure_ascii=ascii_only)[1:-1]


def _base64_middle(raw: bytes, offset: int, urlsafe: bool) -> str:
    """The base64 characters that depend on `raw` alone, when `raw` starts `offset` bytes
    into a 3-byte group of a longer base64 run (offset 0: `raw` encoded on its own, less a
    last character that shares bits with what follows)."""
    encoded = base64.b64encode(b"\0" * offset + raw)
    if urlsafe:
        encoded = encoded.translate(bytes.maketrans(b"+/", b"-_"))
    start = -(-8 * offset // 6)
    end = 8 * (offset + len(raw)) // 6
    return encoded[start:end].decode("ascii")
