"""A loopback HTTP server for client tests: records requests, replies as told, makes faults.

It exists for what the emulator cannot do: record the exact bytes a client sent, answer any
status with any body, wait, reset the connection, cut a body short, redirect.

    with RecordingServer() as server:
        server.enqueue(Reply(503), Reply(200, b'{"ok": 1}'))
        ...                                   # point a client at server.url
        assert len(server.requests) == 2

Replies are taken from the queue in order; when it is empty, ``server.default`` answers.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What the server does for one request.

    Attributes:
        status: HTTP status code.
        body: response body (bytes, or a dict/list sent as JSON).
        headers: extra response headers.
        delay: seconds to wait before answering (interrupted when the server stops).
        reset: close the connection with a TCP reset instead of answering.
        truncate_to: send only this many bytes of the body (Content-Length stays whole).
    """

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False
    truncate_to: int | None = None

    def body_bytes(self) -> bytes:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode("utf-8")
        return self.body


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received: method, path, headers in wire order, body bytes."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (any case), or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        owner = self.server.owner
        owner._record(RecordedRequest(self.command, self.path, list(self.headers.items()), body))
        reply = owner._next_reply()
        if reply.delay and owner._stopping.wait(reply.delay):
            return
        if reply.reset:
            # SO_LINGER 0 makes close() send RST instead of FIN: a "connection reset by peer"
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        payload = reply.body_bytes()
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        if reply.truncate_to is not None:
            payload = payload[: reply.truncate_to]
        self.wfile.write(payload)
        self.wfile.flush()
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: RecordingServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # resets and clients that gave up are expected here


class RecordingServer:
    """A real HTTP server on ``host`` and a free port, serving from a thread.

    Args:
        host: the address to listen on.
        ssl_context: wrap the socket in TLS with this server-side context.
    """

    def __init__(self, host: str = "127.0.0.1", ssl_context: Any = None) -> None:
        self.host = host
        self.ssl_context = ssl_context
        self.default = Reply(200, {"columns": [], "rows": []})
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def url_for(self, path: str, host: str | None = None) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def start(self) -> RecordingServer:
        self._stopping.clear()
        server = _Server((self.host, 0), _Handler)
        server.owner = self
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, daemon=True, kwargs={"poll_interval": 0.05}
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget recorded requests and queued replies."""
        with self._lock:
            self.requests.clear()
            self._queue.clear()
        self.default = Reply(200, {"columns": [], "rows": []})

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        with self._lock:
            self._queue.extend(replies)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default
