"""Bodies and exceptions as the text `build_exchange` takes, with bounded cost."""

from __future__ import annotations

MAX_BODY = 1 << 20
"""Token requests and answers are a few hundred bytes; a larger body is not decoded."""
MAX_FAILURE = 2000


def body_text(body: object) -> str | None:
    """A body given as text or bytes, decoded as UTF-8 (forms are ASCII, JSON is UTF-8);
    None for a streamed body (a generator or a file the library reads as it sends)."""
    if isinstance(body, str):
        return body if len(body) <= MAX_BODY else None
    if isinstance(body, bytes | bytearray | memoryview):
        data = bytes(body)
        return data.decode("utf-8", "replace") if len(data) <= MAX_BODY else None
    return None


def failure_text(exc: BaseException) -> str:
    """`ConnectTimeout: ...`: what the library said. It may name the URL with its query, so
    `build_exchange` redacts it like any transport error; cut at a space, so no part of a
    token is left dangling at the cut."""
    text = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
    if len(text) > MAX_FAILURE:
        cut = text.rfind(" ", 0, MAX_FAILURE)
        text = text[: cut if cut > 0 else 0] + " [...]"
    return text
