"""The API token appears in no error, repr, log record (DEBUG, every logger) or df.attrs.

Each scenario runs against a loopback ``RecordingServer``; some of its replies echo the token
back, as a careless proxy or server might, to prove the client redacts what it quotes.
"""

from __future__ import annotations

import json
import logging
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from recording_server import RecordingServer, Reply

from scuba_magic.client import ScubaClient
from scuba_magic.config import Connection, Secret, resolve_connection
from scuba_magic.errors import ConfigError, ScubaError

TOKEN = "S3cr3t+t0ken/with+plus/and=="
BQL = "select count(*) from music group by gender"
ECHO_JSON = {"error": "bad_token", "message": f"token {TOKEN} is not valid for this cluster"}
ECHO_HTML = f"<html><body><pre>Authorization: Token {TOKEN}</pre></body></html>".encode()

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


@pytest.fixture
def client(server: RecordingServer) -> ScubaClient:
    return ScubaClient(server.url, token=TOKEN, backoff=0.01, max_retries=1, timeout=10)


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    # root at DEBUG: records of scuba_magic, requests, urllib3 and anything else are kept
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    yield caplog
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert records, "expected some log records to check"
    handler = logging.Handler()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    for record in records:
        # formatting includes exc_info tracebacks and the record's args
        assert TOKEN not in handler.format(record)
        assert TOKEN not in repr(record.args)


def exception_texts(exc: BaseException) -> list[str]:
    """str and repr of the exception and everything it chains to, and the full traceback."""
    texts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), *map(repr, current.args)]
        current = current.__cause__ or current.__context__
    return texts


def assert_secret_free(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
        assert TOKEN.split("+")[0] not in text  # not even a fragment of it


def check_raises(call: object, server: RecordingServer | None = None) -> ScubaError:
    with pytest.raises(ScubaError) as info:
        call()  # type: ignore[operator]
    assert_secret_free(*exception_texts(info.value))
    if server is not None and server.requests:
        # the token did travel where it belongs: the Authorization header
        assert server.requests[0].header("Authorization") == f"Token {TOKEN}"
    return info.value


def test_successful_query_keeps_the_token_out_of_the_frame(
    server: RecordingServer, client: ScubaClient
) -> None:
    server.default = Reply(
        200, [{"count of events": 3, "start_time_0": 0, "end_time_0": 1000, "gender": "F"}]
    )
    df = client.query(BQL)
    assert_secret_free(repr(df.attrs), str(df.attrs["scuba"]), repr(df), df.to_csv())
    assert set(df.attrs["scuba"]) >= {"host", "bql", "result_format", "elapsed_s", "fetched_at"}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 413, 429, 500, 502, 503, 504])
@pytest.mark.parametrize("body", [ECHO_JSON, ECHO_HTML], ids=["json", "html"])
def test_error_answers_that_echo_the_token_are_redacted(
    server: RecordingServer, client: ScubaClient, status: int, body: object
) -> None:
    server.default = Reply(status, body)  # type: ignore[arg-type]
    error = check_raises(lambda: client.query(rid="r9372", result_format="DEFAULT"), server)
    assert error.status == status
    assert error.server_message is not None and "********" in error.server_message


def test_unreadable_success_bodies_are_redacted(
    server: RecordingServer, client: ScubaClient
) -> None:
    server.default = Reply(200, ECHO_HTML, headers={"Content-Type": "text/html"})
    check_raises(lambda: client.query(BQL), server)
    check_raises(lambda: client.query(BQL, result_format="DEFAULT"), server)
    check_raises(lambda: client.explore_url(BQL), server)
    for fmt in ("JSON_POWER_BI", "CSV"):
        server.default = Reply(
            200, f'oops {TOKEN} "unclosed'.encode(), headers={"Content-Type": "text/plain"}
        )
        check_raises(lambda fmt=fmt: client.query(BQL, result_format=fmt), server)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(reset=True),
        Reply(200, b'{"rows": [[1, 2]]}', truncate_to=4),
        Reply(200, delay=5),
        Reply(307, headers={"Location": "http://localhost:9/v1/query"}),
        Reply(302, headers={"Location": "/login"}),
    ],
    ids=["reset", "truncated", "timeout", "redirect-away", "redirect-login"],
)
def test_transport_failures(server: RecordingServer, client: ScubaClient, reply: Reply) -> None:
    server.default = reply
    check_raises(lambda: client.query(rid="r1", result_format="DEFAULT", timeout=0.5), server)


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ScubaClient(f"http://127.0.0.1:{port}", token=TOKEN, max_retries=1, backoff=0.01)
    check_raises(lambda: client.query(rid="r1", result_format="DEFAULT"))


def test_tls_failure(tmp_path: Path) -> None:
    import ssl

    import trustme

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    with RecordingServer(ssl_context=context) as tls:
        client = ScubaClient(tls.url, token=TOKEN, max_retries=0)
        check_raises(lambda: client.query(rid="r1", result_format="DEFAULT"))


def test_validation_and_config_errors(client: ScubaClient, tmp_path: Path) -> None:
    check_raises(lambda: client.query())
    check_raises(lambda: client.query(rid="R1"))
    check_raises(lambda: client.explore_url(rid="r1", chart_type="pie"))
    check_raises(lambda: ScubaClient("http://scuba.example.com", token=TOKEN))
    check_raises(lambda: ScubaClient(f"https://{TOKEN}@scuba.example.com", token="x"))
    check_raises(lambda: ScubaClient("scuba.example.com", token=TOKEN + " extra"))
    loose = tmp_path / "config.toml"
    loose.write_text(f'[profiles.p]\nhost = "p.scuba.io"\ntoken = "{TOKEN}"\n')
    loose.chmod(0o644)
    error = check_raises(
        lambda: resolve_connection(profile="p", environ={"SCUBA_MAGIC_CONFIG": str(loose)})
    )
    assert isinstance(error, ConfigError)
    logging.getLogger("scuba_magic").debug("validation scenario done")


def test_reprs_and_dry_run(server: RecordingServer, client: ScubaClient) -> None:
    secret = Secret(TOKEN)
    connection = Connection(server.url, secret, "prod", "the token argument")
    prepared = client.prepare_request(BQL)
    explore = client.prepare_request(
        rid="r1", return_type="explore_url", chart_options={"type": "bar", "name": "n"}
    )
    server.default = Reply(200, {"url": f"{server.url}/explorer/r2"})
    link = client.explore_url(rid="r1")
    assert_secret_free(
        repr(client),
        str(client),
        repr(secret),
        str(secret),
        f"{secret}",
        repr(connection),
        str(connection),
        repr(prepared),
        prepared.to_curl(),
        str(prepared.headers),
        explore.to_curl(),
        repr(link),
        link._repr_html_(),
        repr(vars(client)),
    )
    assert len(server.requests) == 1


def test_a_successful_exchange_logs_at_debug_without_the_token(
    server: RecordingServer, client: ScubaClient, debug_logs: pytest.LogCaptureFixture
) -> None:
    server.enqueue(Reply(503))
    client.query(rid="r1", result_format="DEFAULT")
    loggers = {record.name for record in debug_logs.records}
    # the exchange was logged by the client and by urllib3, so there was something to leak
    assert "scuba_magic" in loggers
    assert any(name.startswith("urllib3") for name in loggers)
    assert any("-> 200" in record.getMessage() for record in debug_logs.records)


def verbose_traceback(exc: BaseException) -> str:
    """The traceback as IPython's ``%xmode Verbose`` shows it: every frame's local variables."""
    return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())


def raised_by(call: object) -> ScubaError:
    """The ScubaError ``call`` raises, caught in a frame whose local variables hold no secret.

    (The test's own frame holds the token in its parameters, and a traceback rendered with
    local variables starts at the frame that caught the exception.)
    """
    try:
        call()  # type: ignore[operator]
    except ScubaError as exc:
        return exc
    raise AssertionError("expected a ScubaError")


def assert_no_transport_exception_chained(exc: BaseException) -> None:
    # the requests/urllib3 exceptions keep the prepared request (headers and all) in their
    # frames and attributes; nothing of theirs may hang off the error the user gets
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__
    rendered = verbose_traceback(exc)
    assert "During handling of the above exception" not in rendered
    assert "The above exception was the direct cause" not in rendered


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(200, delay=5), id="read-timeout"),
        pytest.param(Reply(reset=True), id="reset"),
        pytest.param(Reply(200, b'{"rows": [[1, 2]]}', truncate_to=4), id="reset-mid-body"),
        pytest.param(Reply(401, ECHO_JSON), id="401"),
        pytest.param(Reply(404, ECHO_HTML), id="404"),
        pytest.param(Reply(429, ECHO_JSON, headers={"Retry-After": "1"}), id="429"),
        pytest.param(Reply(500, ECHO_JSON), id="500"),
        pytest.param(Reply(503, ECHO_HTML), id="503"),
        pytest.param(Reply(302, headers={"Location": "/login"}), id="redirect"),
        pytest.param(Reply(200, ECHO_HTML, headers={"Content-Type": "text/html"}), id="not-json"),
    ],
)
def test_tracebacks_with_local_variables_keep_the_token_out(
    server: RecordingServer, reply: Reply
) -> None:
    server.default = reply
    client = ScubaClient(server.url, token=TOKEN, max_retries=1, backoff=0.01, max_retry_after=5)
    error = raised_by(lambda: client.query(rid="r1", result_format="DEFAULT", timeout=0.5))
    assert server.requests[0].header("Authorization") == f"Token {TOKEN}"
    assert_secret_free(verbose_traceback(error))
    assert_no_transport_exception_chained(error)


@pytest.mark.parametrize(
    ("body", "content_type", "call"),
    [
        (ECHO_HTML, "text/html", lambda client: client.query(BQL)),
        (ECHO_HTML, "text/plain", lambda client: client.query(BQL, result_format="CSV")),
        (f'oops {TOKEN} "unclosed'.encode(), "text/plain", lambda client: client.query(BQL)),
        (json.dumps({"unexpected": TOKEN}).encode(), "application/json", lambda c: c.query(BQL)),
        (json.dumps({"link": TOKEN}).encode(), "application/json", lambda c: c.explore_url(BQL)),
    ],
    ids=["html", "csv", "broken-json", "unexpected-json", "explore-without-url"],
)
def test_unreadable_answers_tracebacks_with_local_variables_keep_the_token_out(
    server: RecordingServer, body: bytes, content_type: str, call: Any
) -> None:
    # the body echoes the token; the client's frames in the traceback must not hold it
    server.default = Reply(200, body, headers={"Content-Type": content_type})
    client = ScubaClient(server.url, token=TOKEN, max_retries=0)
    error = raised_by(lambda: call(client))
    assert_secret_free(verbose_traceback(error), str(error))


def test_transport_errors_still_say_why_in_words(server: RecordingServer) -> None:
    client = ScubaClient(server.url, token=TOKEN, max_retries=0)
    server.default = Reply(200, delay=5)
    error = raised_by(lambda: client.query(rid="r1", result_format="DEFAULT", timeout=0.5))
    assert "within the read timeout of 0.5 s" in str(error)
    server.default = Reply(200, b'{"rows": [[1, 2]]}', truncate_to=4)
    error = raised_by(lambda: client.query(rid="r1", result_format="DEFAULT"))
    assert "broke while the answer was arriving" in str(error)
    assert "IncompleteRead" in str(error)


def test_connection_refused_traceback_with_local_variables_keeps_the_token_out() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ScubaClient(f"http://127.0.0.1:{port}", token=TOKEN, max_retries=1, backoff=0.01)
    error = raised_by(lambda: client.query(rid="r1", result_format="DEFAULT"))
    assert "Could not connect" in str(error)
    assert_secret_free(verbose_traceback(error))
    assert_no_transport_exception_chained(error)
