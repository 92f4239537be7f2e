"""Record the OAuth exchanges an app makes with `requests` (the providers' Python SDKs,
requests-oauthlib and Authlib's `OAuth2Session` all send through `Session.send`).

`Session.send` is wrapped on the class, so sessions made before `install` and subclasses
such as an SDK's own client class are covered. Each call records the hop it sent itself:
`requests` follows a redirect by calling `send` again, so every hop is recorded once. The
wrapper returns the library's own response (or re-raises its own exception) untouched.

A response asked for with `stream=True` is never read by the recorder: it is recorded when
the app is done with it (the response is garbage, or the interpreter exits), from the
response's own attributes, with its body when the app read it whole (`.content`, `.text`,
`.json()`), else with the gap `response-streamed`.
"""

from __future__ import annotations

import functools
import types
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import requests

from qbtrace.model import RawParts
from qbtrace.record.bodies import body_text, failure_text
from qbtrace.record.recorder import Recorder

Send = Callable[..., requests.Response]
ORIGINAL: Send | None = None


def install(current: Callable[[], Recorder | None]) -> None:
    """Wrap `requests.Session.send` once; `current()` is the recorder of the moment."""
    global ORIGINAL
    if ORIGINAL is not None:
        return
    ORIGINAL = requests.Session.send
    requests.Session.send = _wrap(ORIGINAL, current)  # type: ignore[method-assign]


def uninstall() -> None:
    global ORIGINAL
    if ORIGINAL is not None:
        requests.Session.send = ORIGINAL  # type: ignore[method-assign]
        ORIGINAL = None


def _wrap(send: Send, current: Callable[[], Recorder | None]) -> Send:
    @functools.wraps(send)
    def recorded_send(
        self: requests.Session, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        recorder = current()
        kind = recorder.kind_of(request.method, request.url) if recorder else None
        if recorder is None or kind is None:
            return send(self, request, **kwargs)
        started = recorder.now()
        try:
            response = send(self, request, **kwargs)
        except BaseException as exc:
            ended = recorder.now()
            recorder.record(kind, functools.partial(_parts, request, None, started, ended, exc))
            raise
        ended = recorder.now()
        if _unread_stream(response, kwargs, self):
            _record_when_done(current, recorder, request, response, started, ended)
        else:
            recorder.record(
                kind, functools.partial(_answered, request, response, started, ended, kwargs, self)
            )
        return response

    return recorded_send


def _unread_stream(
    response: requests.Response, kwargs: dict[str, Any], session: requests.Session
) -> bool:
    """Asked for with `stream=True`, no redirect followed (those hops were read), unread."""
    stream = kwargs.get("stream", getattr(session, "stream", False))
    return bool(stream) and not response.history and not response._content_consumed


def _record_when_done(
    current: Callable[[], Recorder | None],
    recorder: Recorder,
    request: requests.PreparedRequest,
    response: requests.Response,
    started: float | None,
    ended: float | None,
) -> None:
    """Record a streamed answer once the app drops it. The finalizer holds the response's
    attribute dict, not the response: what the app read is there when it fires."""
    try:
        weakref.finalize(
            response, _record_state, current, recorder, request, vars(response), started, ended
        )
    except Exception as exc:
        recorder.problem("watch a streamed answer", exc)


def _record_state(
    current: Callable[[], Recorder | None],
    recorder: Recorder,
    request: requests.PreparedRequest,
    state: dict[str, Any],
    started: float | None,
    ended: float | None,
) -> None:
    if current() is not recorder:  # uninstalled, or another capture since: not ours to write
        return
    kind = recorder.kind_of(request.method, request.url)
    if kind is None:
        return

    def parts() -> RawParts:
        seen = types.SimpleNamespace(**state)
        made = _parts(request, seen, started, ended, None)  # type: ignore[arg-type]
        if made.response_body is None:
            made.gaps.append("response-streamed")
        return made

    recorder.record(kind, parts)


def _answered(
    request: requests.PreparedRequest,
    response: requests.Response,
    started: float | None,
    ended: float | None,
    kwargs: dict[str, Any],
    session: requests.Session,
) -> RawParts:
    """Parts of this call's own hop: the first of the history when redirects were followed
    (the later hops were recorded by the nested `send` calls that fetched them)."""
    own = response.history[0] if response.history else response
    if own is not response and started is not None:
        ended = started + own.elapsed.total_seconds()
    parts = _parts(request, own, started, ended, None)
    stream = kwargs.get("stream", getattr(session, "stream", False))
    if stream and own is response and parts.response_body is None:
        parts.gaps.append("response-streamed")
    return parts


def _parts(
    request: requests.PreparedRequest,
    response: requests.Response | None,
    started: float | None,
    ended: float | None,
    exc: BaseException | None,
) -> RawParts:
    return RawParts(
        method=request.method or "GET",
        url=request.url or "",
        started=started,
        ended=ended,
        request_headers=_headers(request.headers.items()),
        request_body=body_text(request.body),
        status=response.status_code if response is not None else None,
        response_headers=_headers(response.headers.items()) if response is not None else [],
        response_body=_content(response),
        failure=failure_text(exc) if exc is not None else None,
    )


def _headers(items: Iterable[tuple[str, str | bytes]]) -> list[tuple[str, str]]:
    """Header values may be set as bytes by the app; the wire holds them as latin-1."""
    return [(k, v if isinstance(v, str) else v.decode("latin-1")) for k, v in items]


def _content(response: requests.Response | None) -> str | None:
    """The body when the app's call has read it already; never reads from the network
    (`content` would, for a streamed response: `_content_consumed` says which)."""
    if response is None or not getattr(response, "_content_consumed", False):
        return None
    content = getattr(response, "_content", None)
    return body_text(content) if isinstance(content, bytes) else None
