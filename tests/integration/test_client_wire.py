"""ScubaClient on the wire: what it sends, how it retries, how failures become errors.

Every test talks real HTTP to a loopback ``RecordingServer`` (port 0), which records the exact
request and answers with prepared replies or faults; ``requests`` is never patched.
"""

from __future__ import annotations

import json
import logging
import shlex
import socket
import ssl
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from recording_server import RecordedRequest, RecordingServer, Reply

import scuba_magic
from scuba_magic.client import (
    CHART_TYPES,
    ExploreLink,
    ScubaClient,
    parse_retry_after,
    validate_rid,
)
from scuba_magic.errors import (
    AuthError,
    ConfigError,
    NotFoundError,
    QueryError,
    RateLimitError,
    RequestValidationError,
    ResponseError,
    ScubaConnectionError,
    ServerError,
)

TOKEN = "k3y+with/slash+and/plus=="
BQL = "select count(*) from music group by gender between 7 days ago and now"
POWER_BI = [
    {
        "count of events": 31128.0,
        "end_time_0": 1616080024320,
        "start_time_0": 1184025600000,
        "gender": None,
    },
    {
        "count of events": 391722.0,
        "end_time_0": 1616080024320,
        "start_time_0": 1184025600000,
        "gender": "F",
    },
]

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


@pytest.fixture
def client(server: RecordingServer) -> ScubaClient:
    # backoff small so retry tests are quick; the retry counts are what is tested
    return ScubaClient(server.url, token=TOKEN, backoff=0.01, timeout=10)


def only_request(server: RecordingServer) -> RecordedRequest:
    assert len(server.requests) == 1, server.requests
    return server.requests[0]


# what is sent


def test_headers_are_sent_byte_for_byte(server: RecordingServer, client: ScubaClient) -> None:
    client.query(BQL, result_format="DEFAULT")
    request = only_request(server)
    assert (request.method, request.path) == ("POST", "/v1/query")
    assert request.header("Authorization") == f"Token {TOKEN}"
    assert request.header("Content-Type") == "application/json"
    user_agent = request.header("User-Agent") or ""
    assert user_agent.startswith(f"scuba-magic/{scuba_magic.__version__} python-requests/")


def test_bql_query_body(server: RecordingServer, client: ScubaClient) -> None:
    server.default = Reply(200, {"columns": [{"name": "x", "type": "int"}], "rows": [[1]]})
    result = client.query(BQL, result_format="default")
    assert result == {"columns": [{"name": "x", "type": "int"}], "rows": [[1]]}
    assert only_request(server).json() == {
        "bql": BQL,
        "return_type": "data",
        "result_format": "DEFAULT",
    }


def test_rid_query_body(server: RecordingServer, client: ScubaClient) -> None:
    client.query(rid="r9372", result_format="Default")
    assert only_request(server).json() == {
        "query_response_id": "r9372",
        "return_type": "data",
        "result_format": "DEFAULT",
    }


def test_body_is_utf8_json(server: RecordingServer, client: ScubaClient) -> None:
    bql = 'select count(* where city = "Zürich ✓") from music'
    client.query(bql, result_format="DEFAULT")
    request = only_request(server)
    assert "Zürich ✓".encode() in request.body
    assert request.json()["bql"] == bql


@pytest.mark.parametrize("fmt", ["JSON_POWER_BI", "json_power_bi", "CSV", "csv"])
def test_data_formats_decode_to_the_same_frame(
    server: RecordingServer, client: ScubaClient, fmt: str
) -> None:
    if fmt.upper() == "CSV":
        server.default = Reply(
            200,
            b"count of events,end_time_0,start_time_0,gender\r\n"
            b"31128.0,1616080024320,1184025600000,\r\n"
            b"391722.0,1616080024320,1184025600000,F\r\n",
            headers={"Content-Type": "text/csv"},
        )
    else:
        server.default = Reply(200, POWER_BI)
    df = client.query(BQL, result_format=fmt)
    assert only_request(server).json()["result_format"] == fmt.upper()
    assert list(df.columns) == ["gender", "start_time_0", "end_time_0", "count of events"]
    assert df["count of events"].tolist() == [31128, 391722]
    assert df["gender"].isna().tolist() == [True, False]
    provenance = df.attrs["scuba"]
    assert provenance["host"] == server.url
    assert provenance["bql"] == BQL
    assert provenance["result_format"] == fmt.upper()
    assert provenance["elapsed_s"] >= 0
    assert datetime.fromisoformat(provenance["fetched_at"]).tzinfo is not None


def test_rid_provenance(server: RecordingServer, client: ScubaClient) -> None:
    server.default = Reply(200, [{"measure 1": 3, "start_time_0": 0, "end_time_0": 1000}])
    df = client.query(rid="r12")
    assert df.attrs["scuba"]["rid"] == "r12"
    assert "bql" not in df.attrs["scuba"]


def test_explore_url_body_and_link(server: RecordingServer, client: ScubaClient) -> None:
    server.default = Reply(200, {"url": "https://my_cluster.scuba.io/explorer/r12346"})
    link = client.explore_url(BQL, chart_name="This is a time chart", chart_type="time")
    assert link == ExploreLink(url="https://my_cluster.scuba.io/explorer/r12346", rid="r12346")
    assert only_request(server).json() == {
        "bql": BQL,
        "return_type": "explore_url",
        "chart_options": {"name": "This is a time chart", "type": "TIME"},
    }


@pytest.mark.parametrize("chart_type", [t.lower() for t in CHART_TYPES] + ["Sunburst"])
def test_explore_chart_types_are_sent_upper_case(
    server: RecordingServer, client: ScubaClient, chart_type: str
) -> None:
    server.default = Reply(200, {"url": f"{server.url}/explorer/r5/"})
    link = client.explore_url(rid="r12345", chart_type=chart_type)
    assert link.rid == "r5"
    assert only_request(server).json() == {
        "query_response_id": "r12345",
        "return_type": "explore_url",
        "chart_options": {"type": chart_type.upper()},
    }


@pytest.mark.parametrize("body", [{"link": "x"}, {"url": ""}, ["url"], b"not json"])
def test_explore_answer_without_url_is_a_response_error(
    server: RecordingServer, client: ScubaClient, body: object
) -> None:
    server.default = Reply(200, body)  # type: ignore[arg-type]
    with pytest.raises(ResponseError, match="explore_url answer") as info:
        client.explore_url(rid="r1")
    assert info.value.status == 200


# checked before sending


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "Give exactly one of bql (a query) and rid"),
        ({"bql": BQL, "rid": "r1"}, "not both"),
        ({"bql": "   \n\t"}, "The BQL query is blank"),
        ({"bql": ""}, "The BQL query is blank"),
        ({"bql": 42}, "bql must be a string"),
        ({"bql": "select \udcff"}, "not valid Unicode"),
        ({"rid": "R9372"}, "(lower-case r: r9372)"),
        ({"rid": "9372"}, "(did you mean r9372?)"),
        ({"rid": "r"}, "'r' is not a query response id"),
        ({"rid": "r12x"}, "'r12x' is not a query response id"),
        ({"rid": 9372}, "rid must be a string"),
        ({"bql": BQL, "result_format": "XML"}, "Unknown result_format 'XML'"),
    ],
)
def test_invalid_query_arguments_send_nothing(
    server: RecordingServer, client: ScubaClient, kwargs: dict, fragment: str
) -> None:
    with pytest.raises(RequestValidationError) as info:
        client.query(**kwargs)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)
    assert server.requests == []


def test_client_speaks_the_protocol_vocabulary() -> None:
    from scuba_magic import client, protocol

    # one definition, shared with the emulator: the client re-exports it for older imports
    assert client.CHART_TYPES is protocol.CHART_TYPES
    assert client.RESULT_FORMATS is protocol.RESULT_FORMATS
    assert client.RETURN_TYPES is protocol.RETURN_TYPES


@pytest.mark.parametrize("rid", ["r1", " r9372\n", "r" + "9" * 18])
def test_rid_forms_accepted(rid: str) -> None:
    assert validate_rid(rid) == rid.strip()


@pytest.mark.parametrize(
    "rid", ["R9372", "9372", "r", "r12x", " ", "r-1", "r\u0661", "r" + "9" * 19]
)
def test_rid_message_shows_the_expected_form(client: ScubaClient, rid: str) -> None:
    with pytest.raises(RequestValidationError, match="the letter r followed by digits, e.g. r9372"):
        client.query(rid=rid)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"rid": "r1", "chart_type": "pie"}, "Unknown chart type 'pie'"),
        ({"rid": "r1", "chart_type": 3}, "chart type must be one of"),
        ({"rid": "r1", "chart_name": 7}, "chart name must be a string"),
        ({"bql": BQL, "rid": "r1"}, "not both"),
    ],
)
def test_invalid_explore_arguments_send_nothing(
    server: RecordingServer, client: ScubaClient, kwargs: dict, fragment: str
) -> None:
    with pytest.raises(RequestValidationError) as info:
        client.explore_url(**kwargs)
    assert fragment in str(info.value)
    assert server.requests == []


def test_prepare_request_checks_return_type_and_chart_options(client: ScubaClient) -> None:
    with pytest.raises(RequestValidationError, match="Unknown return_type 'csv'"):
        client.prepare_request(BQL, return_type="csv")
    with pytest.raises(RequestValidationError, match="explore links only"):
        client.prepare_request(BQL, chart_options={"type": "TIME"})
    with pytest.raises(RequestValidationError, match="Unknown chart option"):
        client.prepare_request(BQL, return_type="explore_url", chart_options={"colour": "red"})
    prepared = client.prepare_request(
        BQL,
        return_type="EXPLORE_URL",
        result_format="csv",
        chart_options={"type": "bar", "name": "n"},
    )
    # result_format belongs to data answers only
    assert prepared.body == {
        "bql": BQL,
        "return_type": "explore_url",
        "chart_options": {"type": "BAR", "name": "n"},
    }


@pytest.mark.parametrize(
    ("chart_type", "chart_name", "expected"),
    [
        (None, None, {"type": "TIME"}),
        ("sankey", None, {"type": "SANKEY"}),
        (None, "Plays", {"type": "TIME", "name": "Plays"}),
        ("Table", "Weekly plays", {"type": "TABLE", "name": "Weekly plays"}),
    ],
)
def test_prepare_request_builds_chart_options_from_type_and_name(
    server: RecordingServer,
    client: ScubaClient,
    chart_type: str | None,
    chart_name: str | None,
    expected: dict,
) -> None:
    # callers (magics, CLI) pass their two option values as they are; the type defaults to TIME
    prepared = client.prepare_request(
        rid="r7", return_type="explore_url", chart_type=chart_type, chart_name=chart_name
    )
    assert prepared.body == {
        "query_response_id": "r7",
        "return_type": "explore_url",
        "chart_options": expected,
    }
    # the dry run shows exactly what explore_url sends
    server.default = Reply(200, {"url": f"{server.url}/explorer/r8"})
    client.explore_url(rid="r7", chart_type=chart_type, chart_name=chart_name)
    assert only_request(server).json() == prepared.body


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"chart_type": "bar"}, "chart_type applies to explore links only"),
        ({"chart_name": "n"}, "chart_name applies to explore links only"),
        ({"chart_type": "bar", "chart_name": "n"}, "chart_type and chart_name apply"),
        ({"return_type": "explore_url", "chart_type": "pie"}, "Unknown chart type 'pie'"),
        ({"return_type": "explore_url", "chart_name": 7}, "chart name must be a string"),
        (
            {"return_type": "explore_url", "chart_type": "bar", "chart_options": {"type": "bar"}},
            "Give chart_type or chart_options, not both",
        ),
    ],
)
def test_prepare_request_checks_chart_type_and_name(
    client: ScubaClient, kwargs: dict, fragment: str
) -> None:
    with pytest.raises(RequestValidationError) as info:
        client.prepare_request(BQL, **kwargs)
    assert fragment in str(info.value)


# dry run


def test_prepare_request_and_curl(server: RecordingServer, client: ScubaClient) -> None:
    bql = "select count(* where name like '.*jack.*') from my_table"
    prepared = client.prepare_request(bql, result_format="csv")
    assert prepared.url == f"{server.url}/v1/query"
    assert prepared.body == {"bql": bql, "return_type": "data", "result_format": "CSV"}
    assert prepared.headers["Authorization"] == "Token $SCUBA_API_TOKEN"
    curl = prepared.to_curl()
    assert TOKEN not in curl and TOKEN not in repr(prepared)
    # what a POSIX shell would pass to curl (shlex does not expand $VARS, so it stays literal)
    assert shlex.split(curl) == [
        "curl",
        "-sS",
        "-X",
        "POST",
        f"{server.url}/v1/query",
        "-H",
        "Content-Type: application/json",
        "-H",
        "Authorization: Token $SCUBA_API_TOKEN",
        "--data-binary",
        prepared.body_bytes().decode(),
    ]
    assert '-H "Authorization: Token $SCUBA_API_TOKEN"' in curl
    assert json.loads(shlex.split(curl)[-1]) == prepared.body
    assert server.requests == []


def test_client_repr_shows_the_host_only(server: RecordingServer, client: ScubaClient) -> None:
    assert repr(client) == f"ScubaClient(host='{server.url}')"


# HTTP errors


@pytest.mark.parametrize(
    ("status", "reply_body", "kwargs", "cls", "fragment"),
    [
        (
            400,
            {"error": "bql_syntax_error", "message": "Unexpected 'form'", "line": 2, "column": 9},
            {"bql": BQL},
            QueryError,
            "Scuba rejected the query at line 2, column 9 (HTTP 400 Bad Request): "
            "Unexpected 'form' (bql_syntax_error)",
        ),
        (
            401,
            {"msg": "Not logged in."},
            {"bql": BQL},
            AuthError,
            "did not accept the API token (HTTP 401 Unauthorized): Not logged in. To get a token, "
            "open {url}/api/create_token in a browser logged into Scuba",
        ),
        (
            403,
            {"error": "forbidden", "message": "no access to dataset music"},
            {"bql": BQL},
            AuthError,
            "denied access (HTTP 403 Forbidden): no access to dataset music (forbidden)",
        ),
        (
            404,
            {"error": "unknown_rid", "message": "no query r9372"},
            {"rid": "r9372"},
            NotFoundError,
            "Unknown query response id r9372 (HTTP 404 Not Found): no query r9372",
        ),
        (
            404,
            b"<html><h1>404 Not Found</h1></html>",
            {"bql": BQL},
            NotFoundError,
            "{url}/v1/query is not a Scuba query API (HTTP 404 Not Found): 404 Not Found",
        ),
        (405, b"", {"bql": BQL}, NotFoundError, "is not a Scuba query API (HTTP 405"),
        (
            413,
            {"error": "too_large", "message": "body over 1 MB"},
            {"bql": BQL},
            QueryError,
            "body over 1 MB (too_large). Shorten the query",
        ),
        (
            429,
            {"error": "rate_limited", "message": "1 per second"},
            {"bql": BQL},
            RateLimitError,
            "request limit for this token was reached (HTTP 429 Too Many Requests):"
            " 1 per second (rate_limited). Wait a little",
        ),
        (
            500,
            {"error": "internal"},
            {"bql": BQL},
            ServerError,
            "Scuba server error (HTTP 500 Internal Server Error): internal.",
        ),
        (
            502,
            b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
            b"Gateway</h1></center><hr><center>nginx</center></body></html>",
            {"bql": BQL},
            ServerError,
            "(HTTP 502 Bad Gateway): 502 Bad Gateway nginx.",
        ),
        (503, b"", {"bql": BQL}, ServerError, "(HTTP 503 Service Unavailable). This failed"),
        (504, b"upstream timed out", {"bql": BQL}, ServerError, "shorten the time range"),
    ],
)
def test_each_status_maps_to_its_error(
    server: RecordingServer,
    status: int,
    reply_body: object,
    kwargs: dict,
    cls: type,
    fragment: str,
) -> None:
    client = ScubaClient(server.url, token=TOKEN, max_retries=0)
    content_type = "text/html" if isinstance(reply_body, bytes) else "application/json"
    server.default = Reply(status, reply_body, headers={"Content-Type": content_type})  # type: ignore[arg-type]
    with pytest.raises(cls) as info:
        client.query(result_format="DEFAULT", **kwargs)
    assert type(info.value) is cls
    assert info.value.status == status
    assert fragment.format(url=server.url) in str(info.value)
    assert len(server.requests) == 1


def test_query_error_carries_line_column_and_server_message(
    server: RecordingServer, client: ScubaClient
) -> None:
    server.default = Reply(
        400, {"error": "bql_syntax_error", "message": "expected from", "line": 1, "column": 17}
    )
    with pytest.raises(QueryError) as info:
        client.query("select count(*) form music")
    assert (info.value.line, info.value.column) == (1, 17)
    assert info.value.server_message == "expected from (bql_syntax_error)"


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_never_retried(
    server: RecordingServer, client: ScubaClient, status: int
) -> None:
    server.default = Reply(status, {"message": "no"})
    with pytest.raises((QueryError, AuthError, NotFoundError)):
        client.query(rid="r1", result_format="DEFAULT")
    assert len(server.requests) == 1


# retries


@pytest.mark.parametrize("status", [502, 503, 504, 429])
def test_transient_statuses_are_retried(
    server: RecordingServer, client: ScubaClient, status: int
) -> None:
    server.enqueue(Reply(status), Reply(status))
    assert client.query(rid="r1", result_format="DEFAULT") == {"columns": [], "rows": []}
    assert len(server.requests) == 3
    assert [r.body for r in server.requests] == [server.requests[0].body] * 3


def test_retries_are_bounded(server: RecordingServer) -> None:
    client = ScubaClient(server.url, token=TOKEN, max_retries=2, backoff=0.01)
    server.default = Reply(503, {"message": "overloaded"})
    with pytest.raises(ServerError, match="overloaded") as info:
        client.query(rid="r1", result_format="DEFAULT")
    assert info.value.status == 503
    assert len(server.requests) == 3


def test_default_retry_budget_is_three(server: RecordingServer, client: ScubaClient) -> None:
    server.default = Reply(502)
    with pytest.raises(ServerError):
        client.query(rid="r1", result_format="DEFAULT")
    assert len(server.requests) == 4


def test_no_retries_when_disabled(server: RecordingServer) -> None:
    client = ScubaClient(server.url, token=TOKEN, max_retries=0)
    server.default = Reply(503)
    with pytest.raises(ServerError):
        client.query(rid="r1", result_format="DEFAULT")
    assert len(server.requests) == 1


def test_reset_before_the_answer_is_retried(server: RecordingServer, client: ScubaClient) -> None:
    server.enqueue(Reply(reset=True))
    assert client.query(rid="r1", result_format="DEFAULT") == {"columns": [], "rows": []}
    assert len(server.requests) == 2


def test_repeated_resets_end_in_a_connection_error(server: RecordingServer) -> None:
    client = ScubaClient(server.url, token=TOKEN, max_retries=2, backoff=0.01)
    server.default = Reply(reset=True)
    with pytest.raises(ScubaConnectionError, match="closed before an answer arrived"):
        client.query(rid="r1", result_format="DEFAULT")
    assert len(server.requests) == 3


def test_retry_after_is_honoured(
    server: RecordingServer, client: ScubaClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scuba_magic")
    server.enqueue(Reply(429, {"message": "slow down"}, headers={"Retry-After": "1"}))
    assert client.query(rid="r1", result_format="DEFAULT") == {"columns": [], "rows": []}
    assert len(server.requests) == 2
    waits = [r.getMessage() for r in caplog.records if "Retrying" in r.getMessage()]
    assert len(waits) == 1
    assert "in 1.00 s (Retry-After) after HTTP 429" in waits[0]


def test_retry_after_on_503_is_honoured(
    server: RecordingServer, client: ScubaClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scuba_magic")
    server.enqueue(Reply(503, headers={"Retry-After": "1"}))
    client.query(rid="r1", result_format="DEFAULT")
    assert len(server.requests) == 2
    assert any("in 1.00 s (Retry-After) after HTTP 503" in r.getMessage() for r in caplog.records)


def test_too_long_retry_after_is_reported_not_slept(
    server: RecordingServer, client: ScubaClient
) -> None:
    server.default = Reply(429, {"message": "daily limit"}, headers={"Retry-After": "3600"})
    with pytest.raises(RateLimitError) as info:
        client.query(rid="r1", result_format="DEFAULT")
    assert info.value.retry_after == 3600
    assert "daily limit" in str(info.value)
    assert "Retry after 3600 s (at " in str(info.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "message",
    ["Rate limit exceeded for this token. Retry after 3600 s.", "Rate limit exceeded."],
)
def test_rate_limit_message_says_when_to_retry_once(
    server: RecordingServer, client: ScubaClient, message: str
) -> None:
    # whether or not the server's own message says when, the user reads it once
    server.default = Reply(
        429, {"error": "rate_limited", "message": message}, headers={"Retry-After": "3600"}
    )
    with pytest.raises(RateLimitError) as info:
        client.query(rid="r1", result_format="DEFAULT")
    text = str(info.value)
    assert text.lower().count("retry after 3600 s") == 1, text
    assert info.value.retry_after == 3600


def test_retry_after_as_http_date(server: RecordingServer, client: ScubaClient) -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    server.default = Reply(429, headers={"Retry-After": format_datetime(later, usegmt=True)})
    with pytest.raises(RateLimitError) as info:
        client.query(rid="r1", result_format="DEFAULT")
    assert info.value.retry_after is not None
    assert 7000 < info.value.retry_after <= 7200
    assert len(server.requests) == 1


def test_rate_limit_after_retries_says_when(server: RecordingServer) -> None:
    client = ScubaClient(server.url, token=TOKEN, max_retries=1, backoff=0.01)
    server.default = Reply(429, headers={"Retry-After": "0"})
    with pytest.raises(RateLimitError, match=r"Retry after 0 s") as info:
        client.query(rid="r1", result_format="DEFAULT")
    assert info.value.retry_after == 0
    assert len(server.requests) == 2


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# transport faults


def test_read_timeout_fires(server: RecordingServer, client: ScubaClient) -> None:
    server.default = Reply(200, delay=5)
    with pytest.raises(ScubaConnectionError) as info:
        client.query(rid="r1", result_format="DEFAULT", timeout=0.5)
    message = str(info.value)
    assert "within the read timeout of 0.5 s" in message
    assert "--timeout" in message and "timeout=" in message
    # the query may be running: a timed-out request is not sent again
    assert len(server.requests) == 1


def test_client_read_timeout_option(server: RecordingServer) -> None:
    client = ScubaClient(server.url, token=TOKEN, timeout=0.5)
    server.default = Reply(200, delay=5)
    with pytest.raises(ScubaConnectionError, match="read timeout of 0.5 s"):
        client.query(rid="r1", result_format="DEFAULT")


def test_connection_refused(client: ScubaClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ScubaClient(f"http://127.0.0.1:{port}", token=TOKEN, max_retries=1, backoff=0.01)
    with pytest.raises(ScubaConnectionError) as info:
        client.query(rid="r1", result_format="DEFAULT")
    message = str(info.value)
    assert message.startswith(f"Could not connect to http://127.0.0.1:{port}")
    assert "check it is running" in message


def test_truncated_body_is_a_connection_error(server: RecordingServer, client: ScubaClient) -> None:
    server.default = Reply(200, b'{"columns": [], "rows": [[1, 2, 3]]}', truncate_to=10)
    with pytest.raises(ScubaConnectionError, match="incomplete"):
        client.query(rid="r1", result_format="DEFAULT")
    assert len(server.requests) == 1


def test_non_json_default_answer_is_a_response_error(
    server: RecordingServer, client: ScubaClient
) -> None:
    server.default = Reply(200, b"<html>Sign in</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(ResponseError, match="DEFAULT answer .* is not JSON; it starts: Sign in"):
        client.query(rid="r1", result_format="DEFAULT")


def test_html_instead_of_data_is_a_response_error(
    server: RecordingServer, client: ScubaClient
) -> None:
    server.default = Reply(
        200,
        b"<html><title>Login</title><p>Please sign in</p></html>",
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    with pytest.raises(ResponseError, match="got an HTML page: Login Please sign in"):
        client.query(BQL)


# redirects and plain http


def test_redirect_to_another_host_is_not_followed(server: RecordingServer) -> None:
    with RecordingServer() as other:
        # same machine, different host name: a client must treat it as another host
        target = other.url_for("/v1/query", host="localhost")
        server.default = Reply(307, headers={"Location": target})
        client = ScubaClient(server.url, token=TOKEN)
        with pytest.raises(ResponseError) as info:
            client.query(BQL, result_format="DEFAULT")
        assert other.requests == []
    assert len(server.requests) == 1
    message = str(info.value)
    assert f"redirected to {target} (HTTP 307)" in message
    assert "The query was not sent there" in message


@pytest.mark.parametrize("status", [301, 302, 303, 308])
def test_other_redirects_to_another_host_are_not_followed(
    server: RecordingServer, status: int
) -> None:
    with RecordingServer() as other:
        server.default = Reply(status, headers={"Location": other.url_for("/x", "localhost")})
        with pytest.raises(ResponseError, match=f"HTTP {status}"):
            ScubaClient(server.url, token=TOKEN).query(rid="r1", result_format="DEFAULT")
        assert other.requests == []


def test_same_host_307_is_followed_with_the_token(
    server: RecordingServer, client: ScubaClient
) -> None:
    server.enqueue(Reply(307, headers={"Location": "/api/v1/query"}))
    client.query(rid="r1", result_format="DEFAULT")
    first, second = server.requests
    assert second.path == "/api/v1/query"
    assert second.method == "POST"
    assert second.body == first.body
    assert second.header("Authorization") == f"Token {TOKEN}"


def test_same_host_302_is_refused(server: RecordingServer, client: ScubaClient) -> None:
    server.default = Reply(302, headers={"Location": "/login"})
    with pytest.raises(ResponseError, match="would turn the query into a GET"):
        client.query(rid="r1", result_format="DEFAULT")
    assert len(server.requests) == 1


def test_token_is_never_sent_over_plain_http_to_another_host() -> None:
    with pytest.raises(ConfigError, match="Refusing to send the API token over plain http://"):
        ScubaClient("http://scuba.example.com", token=TOKEN)


def test_plain_http_without_a_token_is_allowed(server: RecordingServer) -> None:
    client = ScubaClient(server.url, token=None, max_retries=0)
    client.query(rid="r1", result_format="DEFAULT")
    assert only_request(server).header("Authorization") is None


def test_missing_token_401_says_one_is_needed(server: RecordingServer) -> None:
    client = ScubaClient(server.url, token=None, max_retries=0)
    server.default = Reply(401, {"msg": "Not using authentication token"})
    with pytest.raises(AuthError, match="Scuba needs an API token"):
        client.query(rid="r1", result_format="DEFAULT")


def test_plain_http_to_localhost_name_is_allowed(server: RecordingServer) -> None:
    client = ScubaClient(server.url_for("", host="localhost"), token=TOKEN)
    client.query(rid="r1", result_format="DEFAULT")
    assert only_request(server).header("Authorization") == f"Token {TOKEN}"


# TLS


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[RecordingServer, Path]]:
    import trustme

    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    with RecordingServer(ssl_context=context) as running:
        yield running, bundle


def test_tls_with_an_unknown_authority_is_refused(
    tls_server: tuple[RecordingServer, Path],
) -> None:
    server, _ = tls_server
    client = ScubaClient(server.url, token=TOKEN, max_retries=2)
    with pytest.raises(ScubaConnectionError, match="TLS verification of .* failed") as info:
        client.query(rid="r1", result_format="DEFAULT")
    assert "ca_bundle=" in str(info.value)
    assert server.requests == []


def test_tls_with_the_ca_bundle_option(tls_server: tuple[RecordingServer, Path]) -> None:
    server, bundle = tls_server
    client = ScubaClient(server.url, token=TOKEN, ca_bundle=bundle)
    assert client.query(rid="r1", result_format="DEFAULT") == {"columns": [], "rows": []}
    assert only_request(server).header("Authorization") == f"Token {TOKEN}"


def test_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CA bundle .*nope.pem does not exist"):
        ScubaClient("my_cluster.scuba.io", token=TOKEN, ca_bundle=tmp_path / "nope.pem")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", 0),
        ("timeout", -1),
        ("connect_timeout", "10"),
        ("max_retries", -1),
        ("max_retries", 1.5),
    ],
)
def test_bad_client_options(option: str, value: object) -> None:
    with pytest.raises(ConfigError, match=option):
        ScubaClient("my_cluster.scuba.io", token=TOKEN, **{option: value})


@pytest.mark.parametrize("timeout", [0, -1, "5", True])
def test_bad_per_call_timeout_sends_nothing(
    server: RecordingServer, client: ScubaClient, timeout: object
) -> None:
    with pytest.raises(RequestValidationError, match="timeout must be a"):
        client.query(rid="r1", timeout=timeout)  # type: ignore[arg-type]
    assert server.requests == []


def test_too_long_retry_after_on_503_is_not_slept(
    server: RecordingServer, client: ScubaClient
) -> None:
    server.default = Reply(503, {"message": "maintenance"}, headers={"Retry-After": "7200"})
    with pytest.raises(ServerError, match="maintenance") as info:
        client.query(rid="r1", result_format="DEFAULT")
    assert "the server asked to wait 7200 s" in str(info.value)
    assert len(server.requests) == 1


def test_retry_after_cap_is_configurable(server: RecordingServer) -> None:
    client = ScubaClient(server.url, token=TOKEN, max_retry_after=0.5)
    server.default = Reply(429, headers={"Retry-After": "1"})
    with pytest.raises(RateLimitError, match="Retry after 1 s"):
        client.query(rid="r1", result_format="DEFAULT")
    assert len(server.requests) == 1
