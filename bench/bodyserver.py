"""A loopback HTTP server that answers every request with one prepared body.

It stands in for a Scuba cluster when the benchmark is about what the client does with the
bytes, so both sides read the very same response from the very same server. The body is held
in memory and written with one ``sendall``: the server should never be the slow part.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class BodyServer:
    """Serve ``body`` with ``content_type`` on 127.0.0.1 at a free port, in a thread.

    >>> with BodyServer(Path("body.json"), "application/json") as server:
    ...     server.url
    """

    def __init__(self, body_path: Path, content_type: str) -> None:
        self.body = memoryview(body_path.read_bytes())
        self.content_type = content_type
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> BodyServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(200)
                self.send_header("Content-Type", owner.content_type)
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> BodyServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
