"""Shared presentation of findings: client ids tagged, times in ISO UTC, rule texts attached."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from qbtrace.analysis import Analysis
from qbtrace.model import Evidence, Finding
from qbtrace.profile import Profile
from qbtrace.providers import Provider
from qbtrace.redact import Redactor

if TYPE_CHECKING:
    from qbtrace.rules import Texts

CLIENT_MARK = re.compile(r"\{client:([^{}]*)\}")
CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)
"""C0 and C1 controls but newline and tab; the bidirectional marks, embeddings, overrides
and isolates (Trojan Source); the Unicode line and paragraph separators."""


TAGS = 10_000
"""Client ids whose tags a presenter keeps."""


def terminal_safe(text: str) -> str:
    """Control and bidirectional characters from the input (an ANSI escape in an
    error_description, a right-to-left override in a file name) shown as `\\x1b` or
    `\\u202e`, so a hostile capture can neither repaint the reader's terminal nor make a
    line read other than it is. Newlines and tabs stay: callers pass whole texts."""
    return CONTROL.sub(_escaped, text)


def terminal_line(text: str) -> str:
    """One line for stderr or a log: `terminal_safe`, and newlines shown as `\\n` too."""
    return terminal_safe(text).replace("\n", "\\n").replace("\t", "\\t")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 entry`, `2 entries`, `0 failures`: the count and the word as English says it."""
    if count == 1:
        return f"{count} {word}"
    if many is None:
        many = (
            f"{word[:-1]}ies"
            if word.endswith("y") and word[-2:-1] not in "aeiou"
            else (f"{word}es" if word.endswith(("s", "x", "ch", "sh")) else f"{word}s")
        )
    return f"{count} {many}"


LAST_SECOND = 253402300799.0
"""9999-12-31T23:59:59Z: past it, and before 1970, `datetime` writes the time itself."""
_MINUTES: dict[int, str] = {}
"""Minute since 1970 → its "YYYY-MM-DDTHH:MM:" (a finding's times share a few minutes)."""


def iso(moment: float | None) -> str | None:
    """`datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")` with "Z",
    byte for byte: rounded to the microsecond half to even as `datetime` does, then cut to
    the millisecond, with the minute's text cached (the JSON of 10M requests' findings
    spent 40% of its time here)."""
    if moment is None or moment == float("-inf"):
        return None
    if not 0.0 <= moment < LAST_SECOND:
        stamp = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
        return stamp.replace("+00:00", "Z")
    second = int(moment)
    micro = round((moment - second) * 1e6)  # exact: moment - second loses no bit
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    minute, second = divmod(second, 60)
    head = _MINUTES.get(minute)
    if head is None:
        head = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
        if len(_MINUTES) < 100_000:
            _MINUTES[minute] = head
    return f"{head}{second:02d}.{micro // 1000:03d}Z"


def config_line(analysis: Analysis) -> str | None:
    """`config: qbtrace.toml (from the current folder) overrides rotation_grace=86400`: said
    by the text and HTML outputs whenever a config was read, so none changes a verdict
    silently."""
    return config_line_of(analysis.profile)


def config_line_of(profile: Profile) -> str | None:
    if profile.config_file is None:
        return None
    where = " (found in the current folder; --no-config ignores it)"
    head = f"config: {profile.config_file}{where if profile.config_implicit else ''}"
    if not profile.overrides:
        return f"{head}: changes no default"
    changed = ", ".join(f"{k}={_shown(v)}" for k, v in profile.overrides.items())
    return f"{head} overrides {changed}"


def _shown(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return f"{value:g}" if isinstance(value, float) else str(value)


class Presenter:
    """Decides how identifiers appear: client ids as `client:` tags unless shown on request."""

    def __init__(
        self, redactor: Redactor, show_client_ids: bool = False, profile: Profile | None = None
    ) -> None:
        self.redactor = redactor
        self.show_client_ids = show_client_ids
        self.profile = profile or Profile()
        """Where a finding's provider name finds its words and request id name."""
        self._tags: dict[str, str] = {}
        """Client id → its tag: a few clients make thousands of findings (bounded, TAGS)."""
        self._texts: dict[tuple[str, str], Texts] = {}
        """(cause, provider name) → the rule's texts in that provider's words."""

    def provider(self, f: Finding) -> Provider:
        return self.profile.named(f.provider)

    def client(self, client_id: str | None) -> str | None:
        if client_id is None:
            return None
        if self.show_client_ids:
            return client_id
        tag = self._tags.get(client_id)
        if tag is None:
            tag = self.redactor.tag("client", client_id)
            if len(self._tags) < TAGS:
                self._tags[client_id] = tag
        return tag

    def texts(self, f: Finding, provider: Provider) -> Texts:
        """What `rules.fix_for` and `happened_for` fall back to, made once per cause and
        provider (a rule's texts are looked up by hashing the whole provider)."""
        key = (f.cause, provider.name)
        texts = self._texts.get(key)
        if texts is None:
            from qbtrace.rules import BY_CAUSE

            texts = self._texts[key] = BY_CAUSE[f.cause].texts(provider)
        return texts

    def note(self, evidence: Evidence) -> str:
        return CLIENT_MARK.sub(lambda m: self.client(m.group(1)) or "?", evidence.note)

    def evidence(self, item: Evidence) -> dict[str, object]:
        out: dict[str, object] = {"role": item.role}
        if item.ref is not None:
            out["source"] = item.ref.source
            out["index"] = item.ref.index
        out["time"] = iso(item.time)
        out["note"] = self.note(item)
        if item.process is not None:
            out["process"] = item.process
        return out

    def finding(self, f: Finding) -> dict[str, object]:
        """The finding as findings-json.md specifies it (new keys only ever appended)."""
        provider = self.provider(f)
        texts = self.texts(f, provider)
        return {
            "cause": f.cause,
            "confidence": str(f.confidence),
            "error": f.error,
            "error_description": f.error_description,
            "status": f.status,
            "grant_type": f.grant_type,
            "request": {
                "source": f.ref.source,
                "index": f.ref.index,
                "time": iso(f.time),
                # the key of qbtrace.findings/1 before providers, kept for the scripts using it
                "intuit_tid": f.request_id if provider.request_id_header == "intuit_tid" else None,
                "request_id": f.request_id,
                "process": f.process,
                "seen_in": [{"source": r.source, "index": r.index} for r in f.seen_in],
            },
            "evidence": [self.evidence(e) for e in f.evidence],
            "alternatives": list(f.alternatives),
            "token": f.token,
            "client": self.client(f.client_id),
            "explanation": f.happened or texts.happened,  # rules.happened_for
            "fix": f.fix or texts.fix,  # rules.fix_for
            "warnings": list(f.warnings),
            "provider": provider.name,
        }
