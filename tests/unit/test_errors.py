"""The exception tree, server-message extraction, and HTTP status to exception mapping."""

from __future__ import annotations

import re

import pytest

from scuba_magic import errors
from scuba_magic.errors import (
    AuthError,
    ConfigError,
    NotFoundError,
    QueryError,
    RateLimitError,
    RequestValidationError,
    ResponseError,
    ScubaConnectionError,
    ScubaError,
    ServerError,
    error_from_response,
    server_message_from_body,
)

HOST = "https://my_cluster.scuba.io"

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@pytest.mark.parametrize(
    "cls",
    [
        ConfigError,
        RequestValidationError,
        AuthError,
        QueryError,
        NotFoundError,
        RateLimitError,
        ServerError,
        ScubaConnectionError,
        ResponseError,
    ],
)
def test_every_error_is_a_scuba_error_with_context(cls: type[ScubaError]) -> None:
    exc = cls("what happened. What to do.", status=418, server_message="short and stout")
    assert isinstance(exc, ScubaError)
    assert str(exc) == "what happened. What to do."
    assert (exc.status, exc.server_message) == (418, "short and stout")
    assert cls.__doc__ and cls.__doc__.startswith("Raised")
    assert cls.__name__ in errors.__doc__


def test_validation_error_is_also_a_value_error() -> None:
    assert issubclass(RequestValidationError, ValueError)
    assert not issubclass(QueryError, ValueError)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"error": "bql_syntax_error", "message": "Expected a measure after select"}',
            "Expected a measure after select (bql_syntax_error)",
        ),
        (
            b'{"error": "Unauthorized", "message": "Not using authentication token"}',
            "Unauthorized: Not using authentication token",
        ),
        (b'{"msg": "Not logged in.", "success": false}', "Not logged in."),
        (
            b'{"exception": "java.lang.IllegalStateException:   too   many\\n groups"}',
            "java.lang.IllegalStateException: too many groups",
        ),
        (b'{"error": {"code": 7, "message": "nested message"}}', "nested message"),
        (b'{"status": "bad"}', '{"status": "bad"}'),
        (b"plain text from a proxy\n", "plain text from a proxy"),
        (NGINX_502, "502 Bad Gateway nginx/1.25.3"),
        (b"<html><head><title>Only a title</title></head><body></body></html>", "Only a title"),
        (b"", None),
        (b"   \n", None),
    ],
)
def test_server_message_from_body(body: bytes, expected: str | None) -> None:
    assert server_message_from_body(body) == expected


def test_server_message_of_a_long_body_is_cut_with_an_ellipsis() -> None:
    message = server_message_from_body(b"word " * 500, "text/plain")
    assert message is not None
    assert len(message) <= errors.EXCERPT_CHARS
    assert message.endswith("…")
    assert "  " not in message


def test_server_message_strips_scripts_and_unescapes_entities() -> None:
    body = b"<html><script>var token = 1;</script><p>Fish &amp; chips</p></html>"
    assert server_message_from_body(body, "text/html") == "Fish & chips"


def test_server_message_redacts_secrets() -> None:
    body = b'{"message": "bad header Authorization: Token abc+/123"}'
    message = server_message_from_body(body, secrets=["abc+/123"])
    assert message == "bad header Authorization: Token ********"


def test_400_is_a_query_error_with_line_and_column() -> None:
    body = (
        b'{"error": "bql_syntax_error", "message": "Unexpected \'form\'; expected from", '
        b'"line": 1, "column": 17}'
    )
    exc = error_from_response(400, body, host=HOST)
    assert isinstance(exc, QueryError)
    assert (exc.status, exc.line, exc.column) == (400, 1, 17)
    assert exc.server_message == "Unexpected 'form'; expected from (bql_syntax_error)"
    assert str(exc) == (
        "Scuba rejected the query at line 1, column 17 (HTTP 400 Bad Request): Unexpected "
        "'form'; expected from (bql_syntax_error). Fix the query and run it again."
    )


def test_401_says_how_to_get_a_token() -> None:
    exc = error_from_response(401, b'{"msg": "Not logged in."}', host=HOST)
    assert isinstance(exc, AuthError)
    assert exc.status == 401
    message = str(exc)
    assert "Not logged in." in message
    assert f"open {HOST}/api/create_token in a browser logged into Scuba" in message
    assert "SCUBA_API_TOKEN" in message and "%scuba_connect" in message


def test_401_without_a_token_says_one_is_needed() -> None:
    exc = error_from_response(401, b"", host=HOST, sent_token=False)
    assert str(exc).startswith("Scuba needs an API token (HTTP 401 Unauthorized).")


def test_403_is_an_auth_error_about_permission() -> None:
    exc = error_from_response(403, b'{"message": "no access to dataset sales"}', host=HOST)
    assert isinstance(exc, AuthError)
    assert "no access to dataset sales" in str(exc)
    assert "ask your Scuba admin" in str(exc)


def test_404_for_a_rid_is_an_unknown_rid() -> None:
    exc = error_from_response(
        404, b'{"error": "not_found", "message": "no query r9372"}', host=HOST, rid="r9372"
    )
    assert isinstance(exc, NotFoundError)
    assert str(exc).startswith("Unknown query response id r9372 (HTTP 404 Not Found)")


@pytest.mark.parametrize(("status", "rid"), [(404, None), (404, "r1"), (405, None)])
def test_404_html_or_405_means_wrong_endpoint(status: int, rid: str | None) -> None:
    exc = error_from_response(
        status, b"<h1>Not Found</h1>", host=HOST, url=f"{HOST}/v1/query", rid=rid
    )
    assert isinstance(exc, NotFoundError)
    assert str(exc).startswith(f"{HOST}/v1/query is not a Scuba query API (HTTP {status}")
    assert "Check the host" in str(exc)


def test_429_says_when_to_retry() -> None:
    exc = error_from_response(429, b'{"message": "limit exceeded"}', host=HOST, retry_after=30)
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after == 30
    assert "limit exceeded" in str(exc)
    assert "Retry after 30 s (at " in str(exc)


@pytest.mark.parametrize(
    "server_says",
    [
        "Rate limit exceeded for this token. Retry after 1 s.",
        "Too many requests; retry after 1 second",
        "Slow down: try again in 1 s",
        "Retry-After: 1",
    ],
)
def test_429_says_when_to_retry_once(server_says: str) -> None:
    body = f'{{"error": "rate_limited", "message": "{server_says}"}}'.encode()
    exc = error_from_response(429, body, host=HOST, retry_after=1)
    message = str(exc)
    assert server_says.rstrip(".") in message
    # the server's words are kept, and not followed by the same advice again
    assert len(re.findall(r"(?i)retry|try again", message)) == 1, message
    assert message.endswith(("(rate_limited).", server_says))
    assert exc.retry_after == 1


def test_429_server_saying_to_retry_without_a_time_gets_the_time() -> None:
    body = b'{"message": "Too many requests, try again later"}'
    exc = error_from_response(429, body, host=HOST, retry_after=30)
    assert str(exc).startswith(
        "Scuba's request limit for this token was reached (HTTP 429 Too Many Requests): "
        "Too many requests, try again later. Retry after 30 s (at "
    )
    # and without a Retry-After header, "try again later" already is the advice
    exc = error_from_response(429, body, host=HOST)
    assert str(exc) == (
        "Scuba's request limit for this token was reached (HTTP 429 Too Many Requests): "
        "Too many requests, try again later."
    )


def test_429_without_retry_after_still_gives_advice() -> None:
    exc = error_from_response(429, b"", host=HOST)
    assert isinstance(exc, RateLimitError) and exc.retry_after is None
    assert "Wait a little and run it again" in str(exc)


@pytest.mark.parametrize(
    ("status", "cls"), [(413, QueryError), (415, QueryError), (422, QueryError), (418, QueryError)]
)
def test_other_client_errors_are_query_errors(status: int, cls: type[ScubaError]) -> None:
    exc = error_from_response(status, b'{"message": "nope"}', host=HOST)
    assert type(exc) is cls
    assert exc.status == status
    assert "nope" in str(exc)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_5xx_are_server_errors(status: int) -> None:
    exc = error_from_response(status, NGINX_502, host=HOST, content_type="text/html")
    assert isinstance(exc, ServerError)
    assert exc.status == status
    assert "502 Bad Gateway nginx/1.25.3" in str(exc)
    assert "run it again later" in str(exc)


def test_504_suggests_a_cheaper_query() -> None:
    assert "shorten the time range" in str(error_from_response(504, b"", host=HOST))


def test_empty_body_falls_back_to_the_status_phrase() -> None:
    exc = error_from_response(503, b"", host=HOST)
    assert exc.server_message is None
    assert str(exc).startswith("Scuba server error (HTTP 503 Service Unavailable).")


def test_errors_survive_pickling_with_their_context() -> None:
    import pickle

    exc = QueryError("bad query. Fix it.", status=400, server_message="m", line=2, column=5)
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is QueryError
    assert (str(copy), copy.status, copy.server_message, copy.line, copy.column) == (
        "bad query. Fix it.",
        400,
        "m",
        2,
        5,
    )
    limited = pickle.loads(pickle.dumps(RateLimitError("wait.", status=429, retry_after=3.0)))
    assert limited.retry_after == 3.0
