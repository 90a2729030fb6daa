"""Network faults as a notebook user meets them: one clear message, then the next cell works.

The client's handling of each fault (status mapping, retries, redirects, TLS) is tested call by
call in ``tests/integration/test_client_wire.py``. Here every fault goes through the magics in
a ``TestingShell``: the cell fails with a one-line ``UsageError`` that says what happened and
what to do, within its timeout, and a following cell against a healthy emulator succeeds. Faults
the ``RecordingServer`` cannot make (a reset after part of the body, a body that stalls or
trickles after the headers) come from ``RawFaultServer`` below.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from recording_server import RecordingServer, Reply

from scuba_magic.client import ScubaClient
from scuba_magic.errors import ScubaConnectionError

# every test here is bounded: a fault that made the client hang fails instead of blocking
pytestmark = pytest.mark.timeout(60)

BQL = "select count(*) from music group by gender"
CELL = f"%bql --quiet {BQL}"
POWER_BI_ROWS = [
    {"gender": "F", "start_time_0": 0, "end_time_0": 1000, "count of events": 3},
    {"gender": "M", "start_time_0": 0, "end_time_0": 1000, "count of events": 4},
]
HEADERS = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
    b"Connection: close\r\n\r\n"
)


class RawFaultServer:
    """A loopback TCP server that reads one HTTP request per connection, then misbehaves.

    Args:
        behaviour: called with the connected socket and a stop event once the request is read.
    """

    def __init__(self, behaviour: Callable[[socket.socket, threading.Event], None]) -> None:
        self.behaviour = behaviour
        self.requests = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> RawFaultServer:
        self._accepting.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._accepting.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                body += conn.recv(65536)
            self.requests += 1
            try:
                self.behaviour(conn, self._stop)
            except OSError:
                pass  # the client gave up first: expected


def reset_mid_body(conn: socket.socket, stop: threading.Event) -> None:
    """Headers for 4,000 bytes, 100 of them, then a TCP reset."""
    conn.sendall(HEADERS % 4000 + b'[{"gender": "F", ' + b" " * 83)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def stall_after_headers(conn: socket.socket, stop: threading.Event) -> None:
    """Headers and the start of the body, then nothing until the server stops."""
    conn.sendall(HEADERS % 4000 + b"[")
    stop.wait(30)


def trickle(conn: socket.socket, stop: threading.Event) -> None:
    """A good answer sent one byte every 0.2 s: over 30 s for the whole body."""
    import json

    body = json.dumps(POWER_BI_ROWS).encode()
    conn.sendall(HEADERS % len(body))
    for byte in body:
        if stop.wait(0.2):
            return
        conn.sendall(bytes([byte]))


def usage_error(shell: Any, cell: str) -> str:
    with capture_output(), pytest.raises(UsageError) as info:
        shell.run_cell(cell)
    return str(info.value)


def connect(shell: Any, url: str) -> None:
    with capture_output():
        shell.run_cell(f"%scuba_connect {url}")


def run(shell: Any, cell: str) -> Any:
    with capture_output():
        return shell.run_cell(cell).result


def assert_next_cell_works(shell: Any, emulator: Any) -> None:
    """Point the session back at the healthy emulator: the next cell answers."""
    connect(shell, emulator.url)
    df = run(shell, CELL)
    assert sorted(df["gender"].dropna()) == ["F", "M"]


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


def test_connection_refused(shell: Any, fresh_emulator: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connect(shell, f"http://127.0.0.1:{port}")

    message = usage_error(shell, CELL)

    assert message.startswith(f"Could not connect to http://127.0.0.1:{port}")
    assert "check it is running (scuba-magic serve, or %scuba_connect --local)" in message
    assert_next_cell_works(shell, fresh_emulator)


def test_connection_reset_mid_body(shell: Any, fresh_emulator: Any) -> None:
    with RawFaultServer(reset_mid_body) as faulty:
        connect(shell, faulty.url)
        message = usage_error(shell, CELL)
    assert "broke while the answer was arriving, so it is incomplete" in message
    assert "Run the query again" in message
    # part of an answer arrived: the query reached the server, so it is not sent again
    assert faulty.requests == 1
    assert_next_cell_works(shell, fresh_emulator)


def test_truncated_json_body(shell: Any, fresh_emulator: Any, server: RecordingServer) -> None:
    server.default = Reply(200, POWER_BI_ROWS, truncate_to=30)
    connect(shell, server.url)

    message = usage_error(shell, CELL)

    assert "incomplete" in message and "Run the query again" in message
    assert len(server.requests) == 1
    assert_next_cell_works(shell, fresh_emulator)


def test_body_stalling_past_the_read_timeout(shell: Any, fresh_emulator: Any) -> None:
    with RawFaultServer(stall_after_headers) as faulty:
        connect(shell, faulty.url)
        message = usage_error(shell, f"%bql --quiet --timeout 1 {BQL}")
    assert "within the read timeout of 1 s" in message
    assert "--timeout SECONDS" in message
    assert faulty.requests == 1, "a query that may still be running is not sent again"
    assert_next_cell_works(shell, fresh_emulator)


@pytest.mark.timeout(20)
def test_body_trickling_past_the_read_timeout_is_cut_off() -> None:
    # each byte arrives well within the read timeout, the whole body long after it: the
    # timeout bounds the wait for the answer, not only the gap between two packets
    with RawFaultServer(trickle) as faulty:
        client = ScubaClient(faulty.url, token="t0ken-for-the-fault-server", max_retries=0)
        with pytest.raises(ScubaConnectionError) as info:
            client.query(BQL, timeout=2)
    assert "within the read timeout of 2 s" in str(info.value)


def test_html_502_page_from_a_proxy(
    shell: Any, fresh_emulator: Any, server: RecordingServer
) -> None:
    page = (
        b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
        b"</h1></center><hr><center>nginx</center>" + b"<!-- padding -->" * 200 + b"</body></html>"
    )
    server.default = Reply(502, page, headers={"Content-Type": "text/html"})
    connect(shell, server.url)

    message = usage_error(shell, CELL)

    assert "HTTP 502" in message
    assert "502 Bad Gateway" in message
    assert "<html>" not in message and "padding" not in message, "the page is summarised"
    assert len(server.requests) == 4, "a 502 is retried (three retries by default)"
    assert_next_cell_works(shell, fresh_emulator)


def test_503_then_success(shell: Any, server: RecordingServer) -> None:
    server.enqueue(Reply(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"}))
    server.default = Reply(200, POWER_BI_ROWS)
    connect(shell, server.url)

    df = run(shell, CELL)

    assert list(df["count of events"]) == [3, 4]
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body, "the same query sent again"


def test_429_retry_after_is_waited_then_success(shell: Any, server: RecordingServer) -> None:
    server.enqueue(
        Reply(429, {"message": "rate limited"}, headers={"Retry-After": "1"}),
    )
    server.default = Reply(200, POWER_BI_ROWS)
    connect(shell, server.url)

    df = run(shell, CELL)

    assert list(df["gender"]) == ["F", "M"]
    assert len(server.requests) == 2


@pytest.mark.timeout(30)
def test_429_with_a_too_long_retry_after_is_reported_not_slept(
    shell: Any, fresh_emulator: Any, server: RecordingServer
) -> None:
    server.default = Reply(
        429, {"message": "hourly query limit reached"}, headers={"Retry-After": "3600"}
    )
    connect(shell, server.url)

    message = usage_error(shell, CELL)

    assert "hourly query limit reached" in message
    assert "Retry after 3600 s (at " in message
    assert len(server.requests) == 1
    assert_next_cell_works(shell, fresh_emulator)


def test_redirect_to_another_host_does_not_carry_the_token(
    shell: Any, fresh_emulator: Any, server: RecordingServer
) -> None:
    with RecordingServer() as elsewhere:
        target = elsewhere.url_for("/v1/query", host="localhost")
        server.default = Reply(307, headers={"Location": target})
        connect(shell, server.url)
        message = usage_error(shell, CELL)
        assert elsewhere.requests == [], "nothing, and so no token, went to the other host"
    assert f"redirected to {target} (HTTP 307)" in message
    assert "The query was not sent there" in message
    assert server.requests[0].header("Authorization") == f"Token {fresh_emulator.token}"
    assert_next_cell_works(shell, fresh_emulator)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[RecordingServer, Path]]:
    """A TLS server whose certificate a private (trustme) authority signed; its CA file."""
    import trustme

    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "private-ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    with RecordingServer(ssl_context=context) as running:
        running.default = Reply(200, POWER_BI_ROWS)
        yield running, bundle


def test_self_signed_tls_is_refused_by_default_and_accepted_with_the_ca_bundle(
    shell: Any,
    tls_server: tuple[RecordingServer, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, bundle = tls_server
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    connect(shell, server.url)

    message = usage_error(shell, CELL)

    assert message.startswith(f"TLS verification of {server.url} failed")
    assert "REQUESTS_CA_BUNDLE" in message and "never turned off" in message
    assert server.requests == [], "nothing was sent before the certificate was trusted"
    # the notebook's way to trust a private authority: the CA file in REQUESTS_CA_BUNDLE
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    df = run(shell, CELL)
    assert list(df["count of events"]) == [3, 4]
    # the client's own option does the same
    with ScubaClient(server.url, token="t0ken-for-tls", ca_bundle=bundle) as client:
        assert list(client.query(BQL)["gender"]) == ["F", "M"]


def test_a_trusted_certificate_for_another_name_is_still_refused(tmp_path: Path) -> None:
    import trustme

    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("scuba.example.com").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    with RecordingServer(ssl_context=context) as server:
        client = ScubaClient(server.url, token="t0ken-for-tls", ca_bundle=bundle, max_retries=0)
        with pytest.raises(ScubaConnectionError, match="TLS verification of .* failed"):
            client.query(BQL)
        assert server.requests == []


@pytest.mark.timeout(120)
def test_emulator_stopped_and_restarted_between_two_cells(
    bare_shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scuba_magic.emulator import Emulator

    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    settings = {
        "demo_events": 5_000,
        "now": now,
        "tokens": ["restart-t0ken"],
        "state_dir": tmp_path / "state",
    }
    monkeypatch.setenv("SCUBA_API_TOKEN", "restart-t0ken")
    first = Emulator(**settings).start()
    port = first.port
    try:
        connect(bare_shell, first.url)
        link = run(bare_shell, f"%bql --explore {BQL}")
        before = run(bare_shell, CELL)
    finally:
        first.stop()

    message = usage_error(bare_shell, CELL)
    assert message.startswith(f"Could not connect to http://127.0.0.1:{port}")

    # the same port and state: the session needs no new %scuba_connect
    with Emulator(port=port, **settings):
        after = run(bare_shell, CELL)
        replayed = run(bare_shell, f"%scuba_rid {link.rid} --quiet")
    assert after.equals(before)
    assert replayed.equals(before), "a rid minted before the restart still answers"
