"""Record the OAuth exchanges an app makes with `httpx` (Authlib's `OAuth2Client` and
`AsyncOAuth2Client`, and any `httpx.Client` or `AsyncClient`).

`Client.send` and `AsyncClient.send` are wrapped on the classes. httpx follows redirects
inside one `send`, so the hops it followed are taken from `response.history` (already read
by httpx) and the last from the response; their times are spread by each hop's `elapsed`.
The app gets httpx's own response or exception, untouched; a response asked for with
`stream=True` is not read, so its body is left out of the record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from qbtrace.model import Gap, RawParts
from qbtrace.record.bodies import body_text, failure_text
from qbtrace.record.recorder import Recorder

Send = Callable[..., httpx.Response]
AsyncSend = Callable[..., Coroutine[Any, Any, httpx.Response]]
ORIGINALS: tuple[Send, AsyncSend] | None = None


def install(current: Callable[[], Recorder | None]) -> None:
    """Wrap both clients' `send` once; `current()` is the recorder of the moment."""
    global ORIGINALS
    if ORIGINALS is not None:
        return
    ORIGINALS = (httpx.Client.send, httpx.AsyncClient.send)
    httpx.Client.send = _wrap(ORIGINALS[0], current)  # type: ignore[method-assign]
    httpx.AsyncClient.send = _wrap_async(ORIGINALS[1], current)  # type: ignore[method-assign]


def uninstall() -> None:
    global ORIGINALS
    if ORIGINALS is not None:
        httpx.Client.send, httpx.AsyncClient.send = ORIGINALS  # type: ignore[method-assign]
        ORIGINALS = None


def _wrap(send: Send, current: Callable[[], Recorder | None]) -> Send:
    @functools.wraps(send)
    def recorded_send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        recorder = current()
        if recorder is None:
            return send(self, request, **kwargs)
        wanted, started = _wanted(recorder, request), recorder.now()
        try:
            response = send(self, request, **kwargs)
        except BaseException as exc:
            if wanted:
                _record_failure(recorder, request, started, exc)
            raise
        if wanted or response.history:  # a redirect may lead to an OAuth URL
            _record_hops(recorder, response, started)
        return response

    return recorded_send


def _wrap_async(send: AsyncSend, current: Callable[[], Recorder | None]) -> AsyncSend:
    @functools.wraps(send)
    async def recorded_send(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        recorder = current()
        if recorder is None:
            return await send(self, request, **kwargs)
        wanted, started = _wanted(recorder, request), recorder.now()
        try:
            response = await send(self, request, **kwargs)
        except BaseException as exc:  # a cancelled refresh may still have rotated the token
            if wanted:
                _record_failure(recorder, request, started, exc)
            raise
        if wanted or response.history:
            _record_hops(recorder, response, started)
        return response

    return recorded_send


def _wanted(recorder: Recorder, request: httpx.Request) -> bool:
    """Whether a request is recorded: its first hop is an OAuth one. Odd objects are not."""
    try:
        url = str(request.url)
    except Exception:
        return False
    return recorder.kind_of(request.method, url) is not None


def _record_failure(
    recorder: Recorder, request: httpx.Request, started: float | None, exc: BaseException
) -> None:
    ended = recorder.now()
    try:
        kind = recorder.kind_of(request.method, str(request.url))
        if kind is not None:
            recorder.record(kind, functools.partial(_parts, request, None, started, ended, exc))
    except Exception as problem:
        recorder.problem("record a failed token exchange", problem)


def _record_hops(recorder: Recorder, response: httpx.Response, started: float | None) -> None:
    ended = recorder.now()
    try:
        at = started
        for hop in (*response.history, response):
            hop_ended = ended if hop is response else _after(at, hop)
            kind = recorder.kind_of(hop.request.method, str(hop.request.url))
            if kind is not None:
                recorder.record(kind, functools.partial(_parts, hop.request, hop, at, hop_ended))
            at = hop_ended
    except Exception as problem:
        recorder.problem("record a token exchange", problem)


def _after(started: float | None, hop: httpx.Response) -> float | None:
    try:
        return None if started is None else started + hop.elapsed.total_seconds()
    except RuntimeError:  # `elapsed` is set once the hop's body was closed
        return started


def _parts(
    request: httpx.Request,
    response: httpx.Response | None,
    started: float | None,
    ended: float | None,
    exc: BaseException | None = None,
) -> RawParts:
    gaps: list[Gap] = []
    if response is not None and not response.is_stream_consumed:
        gaps.append("response-streamed")
    return RawParts(
        method=request.method,
        url=str(request.url),
        started=started,
        ended=ended,
        request_headers=list(request.headers.multi_items()),
        request_body=_request_body(request),
        status=response.status_code if response is not None else None,
        response_headers=list(response.headers.multi_items()) if response is not None else [],
        response_body=_response_body(response),
        failure=failure_text(exc) if exc is not None else None,
        gaps=gaps,
    )


def _request_body(request: httpx.Request) -> str | None:
    try:
        return body_text(request.content)
    except httpx.RequestNotRead:  # a streamed upload: httpx never held it whole
        return None


def _response_body(response: httpx.Response | None) -> str | None:
    """The decoded body when the app's call has read it; never reads from the network."""
    if response is None or not response.is_stream_consumed:
        return None
    try:
        return body_text(response.content)
    except httpx.ResponseNotRead:
        return None
