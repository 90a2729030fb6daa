"""Every error the emulator answers: status, JSON code, a message that says what to send.

After each bad request the same emulator must still answer a good query, so a bad input never
leaves the server broken.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

GOOD = {"bql": "select count(*) from foreverMusic"}
FIXED_NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


def _assert_error(response, status: int, code: str, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    for word in words:
        assert word.lower() in body["message"].lower(), body["message"]
    return body


@pytest.fixture
def still_works(api):
    """After the test, a good query on the same emulator still answers 200."""
    yield
    assert api.query(GOOD).status_code == 200


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (
            {"bql": "select count(*) from foreverMusic", "query_response_id": "r1"},
            "bql_and_rid",
            ["either", "not both"],
        ),
        ({}, "missing_query", ["bql", "query_response_id"]),
        ({"return_type": "data"}, "missing_query", ["bql"]),
        (
            {"bql": "select count(*) from music", "limit": 5},
            "unknown_field",
            ["'limit'", "result_format"],
        ),
        ({"bql": 42}, "invalid_bql", ["string"]),
        ({"bql": "   \n  "}, "empty_bql", ["empty"]),
        ({"query_response_id": "R9372"}, "invalid_query_response_id", ["r9372"]),
        ({"query_response_id": "9372"}, "invalid_query_response_id", ["letter r"]),
        ({"query_response_id": "r12x"}, "invalid_query_response_id", ["digits"]),
        ({"query_response_id": "r"}, "invalid_query_response_id", ["digits"]),
        ({"query_response_id": 9372}, "invalid_query_response_id", ["string"]),
        (
            {"bql": "select count(*) from music", "result_format": "XML"},
            "invalid_result_format",
            ["JSON_POWER_BI", "CSV", "DEFAULT"],
        ),
        (
            {"bql": "select count(*) from music", "return_type": "chart"},
            "invalid_return_type",
            ["explore_url"],
        ),
        (
            {
                "bql": "select count(*) from music",
                "return_type": "explore_url",
                "chart_options": {"type": "pie"},
            },
            "invalid_chart_type",
            ["'pie'", "SUNBURST"],
        ),
        (
            {
                "bql": "select count(*) from music",
                "return_type": "explore_url",
                "chart_options": {"type": "time", "color": "red"},
            },
            "invalid_chart_options",
            ["'color'"],
        ),
        (
            {
                "bql": "select count(*) from music",
                "return_type": "explore_url",
                "chart_options": "time",
            },
            "invalid_chart_options",
            ["object"],
        ),
        (
            {"bql": "select count(*) from music", "chart_options": {"type": "time"}},
            "chart_options_without_explore",
            ["explore_url"],
        ),
    ],
)
def test_bad_bodies_get_400_saying_what_to_send(api, still_works, body, code, words):
    _assert_error(api.query(body), 400, code, *words)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"bql": ', ["not valid json"]),
        (b"[1, 2]", ["array", "not an object"]),
        (b'"select count(*) from music"', ["string", "not an object"]),
        (b"", ["empty"]),
        (b'{"bql": "select \xff count(*) from music"}', ["utf-8"]),
        (b"[" * 100_000, ["not valid json"]),
    ],
)
def test_bodies_that_are_not_a_json_object_get_400(api, still_works, data, words):
    response = api.query(data=data, headers=api.headers(**{"Content-Type": "application/json"}))

    body = _assert_error(response, 400, "empty_body" if not data else "invalid_json", *words)
    assert '{"bql":' in body["message"], "the message shows what to send"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_gets_415(api, still_works, content_type):
    headers = api.headers()
    if content_type:
        headers["Content-Type"] = content_type
    response = api.query(data=b'{"bql": "select count(*) from music"}', headers=headers)

    _assert_error(response, 415, "unsupported_media_type", "Content-Type: application/json")


def test_json_with_charset_is_accepted(api):
    response = api.query(
        data=b'{"bql": "select count(*) from music"}',
        headers=api.headers(**{"Content-Type": "application/json; charset=utf-8"}),
    )
    assert response.status_code == 200


def test_body_over_1_mb_gets_413(api, still_works):
    query = "select count(*) from music -- " + "x" * (1024 * 1024)
    _assert_error(api.query({"bql": query}), 413, "body_too_large", "1 MB")


def test_chunked_body_over_1_mb_gets_413(api, still_works):
    def chunks():
        yield b'{"bql": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    response = api.query(data=chunks(), headers=api.headers(**{"Content-Type": "application/json"}))
    _assert_error(response, 413, "body_too_large")


def test_huge_body_is_refused_without_reading_it(api, still_works):
    import requests

    # a declared size far beyond the limit is answered at once; the client may see the answer
    # or a closed connection, but never a hang
    try:
        response = api.query(
            data=b"x" * (40 * 1024 * 1024),
            headers=api.headers(**{"Content-Type": "application/json"}),
            timeout=30,
        )
    except requests.ConnectionError:
        return
    _assert_error(response, 413, "body_too_large")


def test_missing_token_gets_401(api, still_works):
    response = api.query(GOOD, headers={})
    _assert_error(response, 401, "not_authenticated", "Not using authentication token", "Token")


def test_wrong_auth_scheme_gets_401(api, still_works):
    response = api.query(GOOD, headers={"Authorization": f"Bearer {api.token}"})
    _assert_error(response, 401, "not_authenticated", "the word 'Token'")


def test_unknown_token_gets_401_without_echoing_it(api, still_works):
    response = api.query(GOOD, token="not-a-real-token-1234")
    _assert_error(response, 401, "not_logged_in", "Not logged in", "create_token")
    assert "not-a-real-token-1234" not in response.text


def test_bql_syntax_error_gives_line_and_column(api, still_works):
    response = api.query({"bql": "select count(*)\nfrom foreverMusic\ngroup gender"})

    body = _assert_error(response, 400, "bql_syntax_error", "line 3")
    assert (body["line"], body["column"]) == (3, 7)


def test_unknown_table_names_the_closest(api, still_works):
    response = api.query({"bql": "select count(*) from forevermusic"})
    _assert_error(response, 400, "invalid_query", "'forevermusic'", "foreverMusic")


def test_unknown_column_names_the_closest(api, still_works):
    response = api.query({"bql": "select count(*) from music group by gendr"})
    _assert_error(response, 400, "invalid_query", "'gendr'", "gender")


@pytest.mark.parametrize(
    "bql",
    [
        # the range starts at the first event, known only to the data: refused while running
        "select count(*) from music for every second",
        # a range known when compiling: refused before running
        "select count(*) from music for every second between 2024-01-01 and 2024-06-01",
    ],
)
def test_too_many_time_buckets_is_an_invalid_query(api, still_works, bql):
    response = api.query({"bql": bql})

    body = _assert_error(
        response,
        400,
        "invalid_query",
        "time buckets",
        "more than the 100000 allowed",
        "coarser resolution",
    )
    assert "Error:" not in body["message"], "no DuckDB error prefix"
    assert body["line"] == 1 and body["column"] > 1, "points at the 'for every' clause"


def test_flow_is_a_clear_400(api, still_works):
    response = api.query({"bql": "select count(*) from foreverMusic group by Flow<sessions>"})
    assert response.status_code == 400
    assert "flow" in response.json()["message"].lower()


def test_unknown_rid_gets_404(api, still_works):
    response = api.query({"query_response_id": "r987654321"})
    _assert_error(response, 404, "unknown_query_response_id", "r987654321", "bql")


def test_unknown_path_gets_json_404(api, still_works):
    response = api.get("/v2/query")
    _assert_error(response, 404, "not_found", "/v2/query", "POST /v1/query")


def test_wrong_method_gets_405_with_allow(api, still_works):
    response = api.get("/v1/query", headers=api.headers())

    _assert_error(response, 405, "method_not_allowed", "GET", "POST")
    assert response.headers["allow"] == "POST"


def test_client_maps_errors_to_its_exceptions(client):
    from scuba_magic.errors import AuthError, NotFoundError, QueryError

    with pytest.raises(QueryError) as syntax:
        client.query("select count(*)\nfrom foreverMusic\ngroup gender")
    assert (syntax.value.line, syntax.value.column) == (3, 7)
    with pytest.raises(NotFoundError):
        client.query(rid="r987654321")

    from scuba_magic.client import ScubaClient

    with ScubaClient(client.host, token="wrong-token") as stranger:
        with pytest.raises(AuthError) as denied:
            stranger.query("select count(*) from foreverMusic")
    assert denied.value.status == 401
    assert "wrong-token" not in str(denied.value)


def test_rate_limit_answers_429_then_success_after_retry_after(api_for):
    from scuba_magic.emulator import Emulator

    with Emulator(demo_events=2000, now=FIXED_NOW, tokens=["t1", "t2"], rate_limit="1/s") as em:
        first, other = api_for(em.url, "t1"), api_for(em.url, "t2")
        assert first.query(GOOD).status_code == 200
        limited = first.query(GOOD)
        body = _assert_error(limited, 429, "rate_limited", "1 request per second")
        assert body["message"] == (
            "More than 1 request per second for this token (--rate-limit 1/s)."
        )
        # when to retry is the header's alone: the client words that advice itself
        wait = int(limited.headers["Retry-After"])
        assert 1 <= wait <= 2
        assert other.query(GOOD).status_code == 200, "limits are per token"
        time.sleep(wait)
        assert first.query(GOOD).status_code == 200


def test_client_waits_out_the_rate_limit(api_for):
    from scuba_magic.client import ScubaClient
    from scuba_magic.emulator import Emulator
    from scuba_magic.errors import RateLimitError

    with Emulator(demo_events=2000, now=FIXED_NOW, tokens=["t1"], rate_limit="1/s") as em:
        with ScubaClient(em.url, token="t1", max_retries=0) as impatient:
            impatient.query("select count(*) from music")
            with pytest.raises(RateLimitError) as limited:
                impatient.query("select count(*) from music")
            assert limited.value.retry_after is not None and limited.value.retry_after >= 1
            # the emulator says what happened; only the client's advice says when to retry
            assert "1 request per second" in str(limited.value)
            assert str(limited.value).lower().count("retry after") <= 1, str(limited.value)
        with ScubaClient(em.url, token="t1", max_retries=3) as patient:
            df = patient.query("select count(*) from music")
        assert len(df) == 1


def test_query_past_the_timeout_is_stopped_with_400(api_for):
    from scuba_magic.emulator import Emulator

    # distinct users in each of 64,800 overlapping two-month windows: well over 20 s of work
    # here (measured), so a 0.5 s limit always cuts it short
    slow = "select count_unique(user) from foreverMusic for every 2 minutes over 60 days"
    with Emulator(demo_events=50_000, now=FIXED_NOW, tokens=["t"], query_timeout=0.5) as em:
        caller = api_for(em.url, "t")
        response = caller.query({"bql": slow}, timeout=60)
        _assert_error(response, 400, "query_timeout", "0.5 s", "--query-timeout")
        # the interrupted query released its worker: the server answers at once
        assert caller.query(GOOD, timeout=30).status_code == 200


def test_a_query_too_big_to_parse_in_time_is_answered_at_the_timeout(api_for):
    from scuba_magic.emulator import Emulator

    # 85,000 small expressions (just under the 1 MB body limit) take several seconds of
    # Python parsing, which no interrupt can stop; the answer must still come at the timeout
    values = ", ".join("(age + 1)" for _ in range(85_000))
    huge = f"select count(* where age in ({values})) from foreverMusic"
    with Emulator(demo_events=2000, now=FIXED_NOW, tokens=["t"], query_timeout=0.5) as em:
        caller = api_for(em.url, "t")
        # a read timeout here (no answer within 3 s) fails the test as a hang
        response = caller.query({"bql": huge}, timeout=3)
        _assert_error(response, 400, "query_timeout", "0.5 s", "--query-timeout")
        response = caller.query({"bql": huge, "return_type": "explore_url"}, timeout=3)
        _assert_error(response, 400, "query_timeout", "0.5 s")


def test_an_answer_over_the_row_limit_is_a_400(api_for):
    from scuba_magic.emulator import Emulator

    with Emulator(demo_events=2000, now=FIXED_NOW, tokens=["t"], max_rows=50) as em:
        caller = api_for(em.url, "t")
        response = caller.query({"bql": "select count(*) from music group by user for every day"})
        _assert_error(response, 400, "result_too_large", "50 rows", "limit")
        small = caller.query({"bql": "select count(*) from music group by gender"})
        assert small.status_code == 200
