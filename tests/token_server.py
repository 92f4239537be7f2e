"""A small real HTTP server with Intuit's token, authorize and callback shapes, on 127.0.0.1.

For the recorder's tests: real `requests` and `httpx` traffic over a real socket, with the
profile's endpoints pointed at this server. It keeps what each request carried on the wire,
so a test can compare what the app sent with and without the recorder.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from qbtrace.profile import Profile

TOKEN_PATH = "/oauth2/v1/tokens/bearer"
AUTHORIZE_PATH = "/connect/oauth2"
ISSUED_RT = "RT1-issued-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
ISSUED_AT = "eyJissued-access-token.5f4e3d2c1b0a99887766554433"
TID = "1-6929c1dc-0a1b2c3d4e5f60718293a4b5"


@dataclass
class Seen:
    """One request as the server read it."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Server:
    base: str
    seen: list[Seen] = field(default_factory=list)

    @property
    def token_url(self) -> str:
        return self.base + TOKEN_PATH

    def profile(self) -> Profile:
        return Profile().tuned(
            token_endpoint=self.token_url, authorize_endpoint=self.base + AUTHORIZE_PATH
        )


def token_answer(form: dict[str, list[str]]) -> tuple[int, dict[str, object]]:
    """invalid_grant for the refresh token `stale`, fresh tokens otherwise."""
    if form.get("refresh_token") == ["stale"]:
        return 400, {"error": "invalid_grant"}
    tokens = {"access_token": ISSUED_AT, "refresh_token": ISSUED_RT, "token_type": "bearer"}
    return 200, {**tokens, "expires_in": 3600, "x_refresh_token_expires_in": 8726400}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def do_POST(self) -> None:
        body = self._read()
        status, answer = token_answer(parse_qs(body.decode()))
        self._send(status, json.dumps(answer).encode(), "application/json;charset=utf-8")

    def do_GET(self) -> None:
        self._read()
        if self.path.startswith(AUTHORIZE_PATH):
            where = "/callback?code=AB11code0123456789abcdef&state=st4te&realmId=9341453050298471"
            self._send(302, b"", "text/plain", location=where)
        else:
            self._send(200, b"<html>connected</html>", "text/html")

    def _read(self) -> bytes:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = [(k, v) for k, v in self.headers.items()]
        self.server.seen.append(Seen(self.command, self.path, headers, body))
        return body

    def _send(self, status: int, body: bytes, ctype: str, location: str | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.send_header("intuit_tid", TID)
        if location:
            self.send_header("location", location)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    seen: list[Seen]


@contextlib.contextmanager
def token_server() -> Iterator[Server]:
    httpd = _HTTPServer(("127.0.0.1", 0), Handler)
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_port}", httpd.seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
