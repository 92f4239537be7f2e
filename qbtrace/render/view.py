"""Shared presentation of findings: client ids tagged, times in ISO UTC, rule texts attached."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from qbtrace.model import Evidence, Finding
from qbtrace.redact import Redactor

CLIENT_MARK = re.compile(r"\{client:([^{}]*)\}")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Control characters from the input (an ANSI escape in an error_description) shown as
    `\\x1b`, so a hostile capture cannot repaint or retitle the reader's terminal."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def iso(moment: float | None) -> str | None:
    if moment is None or moment == float("-inf"):
        return None
    stamp = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


class Presenter:
    """Decides how identifiers appear: client ids as `client:` tags unless shown on request."""

    def __init__(self, redactor: Redactor, show_client_ids: bool = False) -> None:
        self.redactor = redactor
        self.show_client_ids = show_client_ids

    def client(self, client_id: str | None) -> str | None:
        if client_id is None:
            return None
        return client_id if self.show_client_ids else self.redactor.tag("client", client_id)

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
        from qbtrace.rules import BY_CAUSE

        rule = BY_CAUSE[f.cause]
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
                "intuit_tid": f.intuit_tid,
                "process": f.process,
                "seen_in": [{"source": r.source, "index": r.index} for r in f.seen_in],
            },
            "evidence": [self.evidence(e) for e in f.evidence],
            "alternatives": list(f.alternatives),
            "token": f.token,
            "client": self.client(f.client_id),
            "explanation": rule.happened,
            "fix": rule.fix,
            "warnings": list(f.warnings),
        }
