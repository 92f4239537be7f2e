"""Candidate secrets in any text: JWTs, long high-entropy values, and the values of fields
whose names mean a secret, in whatever syntax the text has.

Bodies come damaged, prefixed (`)]}'`, `while(1);`), as NDJSON, XML, HTML, multipart or
plain text, so fields are found with patterns rather than parsers: a JSON or JavaScript
`"name": "value"`, a form or query `name=value`, an XML `<name>value</name>`, an HTML
`name="csrf" value="..."` or `<meta name=... content=...>`, a multipart part, a
`Name: value` line. Every pattern is bounded, so a scan is linear in the text's length.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from urllib.parse import unquote_plus

from qbtrace.redact import PLACEHOLDERS, canonical
from qbtrace.scrub.names import is_secret_name

MIN_SECRET = 6
"""Shorter values are not collected: replacing them everywhere would hit unrelated text."""
MIN_OPAQUE = 24
"""A value of any name is a secret when it is at least this long and looks random."""
MAX_VALUE = 16384
JWT = re.compile(r"eyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]*(?:\.[\w-]+){0,2}", re.ASCII)
"""A JWT (three parts) or JWE (five): base64url parts, the header's JSON starting `{"`."""
OPAQUE = re.compile(r"[A-Za-z0-9+/_~.=-]{24,}")
DIGIT = re.compile(r"[0-9]")
LETTER = re.compile(r"[A-Za-z]")
PUNCTUATION = "+/_~.=-"
NAME = r"[A-Za-z_$@][\w$@.\[\]-]{0,80}"
NAME_LENGTH = 81
NAME_BACKWARDS = re.compile(r"[A-Za-z0-9_$@.\[\]-]+")
"""The characters a field name is made of, matched on the text before its separator reversed."""
JSON_STRING = r"((?:[^\"\\\n]++|\\.)++)"
VALUE_PATTERNS = (
    # JSON, NDJSON, JavaScript objects: "name": "value", name: 'value', name="value"
    re.compile(rf"[:=][ \t]*+\"(?=[^\"\n]{{{MIN_SECRET}}}){JSON_STRING}\""),
    re.compile(rf"[:=][ \t]*+'([^'\n]{{{MIN_SECRET},{MAX_VALUE}}})'"),
    # forms, queries, cookies and fragments: name=value
    re.compile(rf"=([^&;#\s\"'<>,]{{{MIN_SECRET},{MAX_VALUE}}})"),
)
"""Patterns that start at the separator (fast: few places match), the name read backwards;
values shorter than a secret are not matched at all (`fields(every=True)` is for secrets'
own parameters, which are long)."""
NAMED_PATTERNS = (
    # XML elements
    re.compile(rf"<({NAME})(?:\s[^<>]{{0,1000}})?>([^<]{{1,{MAX_VALUE}}})</\1>"),
    # HTML: <input name="csrf" value="...">, <meta name="csrf-token" content="...">
    re.compile(
        rf"name=[\"']({NAME})[\"'][^<>]{{0,500}}?\b(?:value|content)=[\"']"
        rf"([^\"'<>]{{1,{MAX_VALUE}}})"
    ),
    # multipart: Content-Disposition: form-data; name="password" ... blank line, value
    re.compile(
        rf"(?i:form-data);[^\r\n]{{0,200}}?\bname=\"({NAME})\"[^\r\n]{{0,500}}\r?\n"
        rf"(?:[^\r\n]{{1,500}}\r?\n){{0,8}}\r?\n([^\r\n]{{1,{MAX_VALUE}}})"
    ),
    # Name: value lines (logs, raw HTTP in a text body)
    # (a quoted value is code, `key: "header",`, and read by the JSON pattern)
    re.compile(rf"(?m)^[ \t]*({NAME})[ \t]*:[ \t]*([^\s\"'][^\r\n]{{0,{MAX_VALUE}}})$"),
)
VALUE_FIRST = re.compile(
    rf"(?:value|content)=[\"']([^\"'<>]{{1,{MAX_VALUE}}})[\"'][^<>]{{0,500}}?"
    rf"\bname=[\"']({NAME})"
)
"""HTML with the value before the name: `<meta content="..." name="csrf-token">`."""


def meaningful(value: str) -> bool:
    """Long enough to be a secret and not a placeholder, a URL or a sentence."""
    text = value.strip()
    if len(text) < MIN_SECRET or len(text) > MAX_VALUE or text.lower() in PLACEHOLDERS:
        return False
    return "://" not in text and text.count(" ") < 3


def opaque(value: str) -> bool:
    """True for a long value that looks random: letters and digits mixed, and varied enough
    (Shannon entropy over 3 bits a character) that it is no word, date or path."""
    if len(value) < MIN_OPAQUE or value.startswith("/") or not OPAQUE.fullmatch(value):
        return False
    if not DIGIT.search(value) or not LETTER.search(value):
        return False
    if sum(map(value.count, PUNCTUATION)) > 0.25 * len(value):
        return False
    size = len(value)
    entropy = -sum(n / size * math.log2(n / size) for n in Counter(value).values())
    return entropy > 3.0


def opaque_value(value: str) -> bool:
    """A field's value that looks random once its wrapper (quotes, percent-encoding) is
    undone; a value with spaces inside is text, not one token."""
    text = value.strip()
    return len(text) >= MIN_OPAQUE and " " not in text and opaque(canonical(text)[0])


def jwts(text: str) -> Iterator[str]:
    """Every JWT (or JWE) in the text, wherever it stands."""
    if "eyJ" in text:
        yield from (m.group(0) for m in JWT.finditer(text))


def opaque_runs(text: str) -> Iterator[str]:
    """Long random-looking runs in free text (a token in a log line or an error message)."""
    for match in OPAQUE.finditer(text):
        run = match.group(0).strip("=.-_~")
        if opaque(run):
            yield run


def fields(text: str, every: bool = True) -> Iterator[tuple[str, str]]:
    """(name, value) of every field-like pair in the text, values unescaped as their syntax
    says (JSON escapes, percent-encoding). Unless `every`, only pairs that may hold a
    secret: a secret name, or a value long enough to be a random one."""
    for index, pattern in enumerate(VALUE_PATTERNS):
        if index == 1 and "'" not in text:
            continue
        for match in pattern.finditer(text):
            name = _name_before(text, match.start())
            value = match.group(1)
            if name is None or not (every or len(value) >= MIN_OPAQUE or is_secret_name(name)):
                continue
            if index == 0 and "\\" in value:
                value = _json_unescape(value)
            elif index == 2 and ("%" in value or "+" in value):
                value = unquote_plus(value)  # its encoded spellings are searched for too
            yield name, value
    for pattern, possible in zip(NAMED_PATTERNS, _named_possible(text), strict=True):
        if possible:
            for match in _scan(pattern, text):
                yield match.group(1), match.group(2)
    if "value=" in text or "content=" in text:
        for match in VALUE_FIRST.finditer(text):
            yield match.group(2), match.group(1)


def _named_possible(text: str) -> tuple[bool, bool, bool, bool]:
    """Whether each of NAMED_PATTERNS can match at all, by a literal it cannot match
    without: a substring test runs at memory speed, while a regex scan of a big body that
    holds no XML, HTML form or multipart part costs as much as one that does."""
    return "</" in text, "name=" in text, "form-data" in text.lower(), ":" in text


def _scan(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """`finditer`, except that a line-anchored pattern on a text of one line is tried at its
    start only (`^` of a multi-line pattern matches nowhere else in it)."""
    if pattern.flags & re.MULTILINE and "\n" not in text and "\r" not in text:
        match = pattern.match(text)
        return iter(() if match is None else (match,))
    return pattern.finditer(text)


def _name_before(text: str, end: int) -> str | None:
    """The field name that ends at `end` (spaces and a closing quote after it allowed),
    read backwards: at most NAME_LENGTH name characters, and no more of them before."""
    stop = end
    while stop and text[stop - 1] in " \t":
        stop -= 1
    if stop and text[stop - 1] in "\"'":
        stop -= 1
    # one match on the reversed window, instead of a Python loop over its characters
    found = NAME_BACKWARDS.match(text[max(0, stop - NAME_LENGTH - 1) : stop][::-1])
    if found is None or found.end() > NAME_LENGTH:
        return None
    name = text[stop - found.end() : stop]
    return name if name[0].isalpha() or name[0] in "_$@" else None


def secret_fields(text: str) -> Iterator[tuple[str, str]]:
    """(name, value) of the fields of `text` whose name means a secret or whose value is a
    JWT or looks random."""
    for name, value in fields(text, every=False):
        if is_secret_name(name) or opaque_value(value):
            yield name, value


def unescaped(text: str) -> Iterator[str]:
    """The text, then its JSON once more unescaped where it holds `\\"` (JSON in a JavaScript
    string) or `&quot;` (JSON or HTML in an attribute), so fields inside are found too."""
    yield text
    if '\\"' in text:
        yield text.replace('\\"', '"')
    if "&quot;" in text or "&#34;" in text:
        yield html.unescape(text)


def _json_unescape(value: str) -> str:
    try:
        decoded = json.loads(f'"{value}"')
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value
