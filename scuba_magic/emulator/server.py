"""The emulator's HTTP API: a Starlette app answering like a Scuba cluster.

Endpoints:

- ``POST /v1/query``: the External Query API (BQL or ``query_response_id``; data or explore URL).
  Every answered query mints a new rid, sent back in the ``X-Scuba-Query-Response-Id`` header
  (an addition of the emulator; a cluster does not send it).
- ``GET|POST /api/create_token``: a new token, authenticated by an existing one.
- ``POST /api/revoke_token``: body ``{"token": "..."}``.
- ``GET /explorer/<rid>``: the chart page of a rid (HTML; no token, like a browser link).
- ``GET /static/plotly.min.js``: plotly.js from the installed plotly package, so no CDN is used.
- ``GET /``: a short JSON description of the above.

Every error is JSON ``{"error": <code>, "message": <what went wrong and what to send>}`` (BQL
syntax errors add ``line`` and ``column``) with status 400 (bad request or query, including a
query stopped at the query timeout, code ``query_timeout``, and an answer over the row limit,
``result_too_large``), 401 (missing, unknown or revoked token), 404 (unknown path, rid or
token), 405 (wrong method), 413 (body over 1 MB), 415 (body not JSON) or 429 (rate limit, with
``Retry-After``). 403 is never sent: every token may read every table. Nothing a request sends
leads to a 500; a failure nobody foresaw while running a query is logged and answered 400
``query_not_supported``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scuba_magic.emulator.engine import (
    Engine,
    QueryExecutionError,
    QueryResult,
    QueryTimeoutError,
    ResultTooLargeError,
)
from scuba_magic.emulator.formats import render
from scuba_magic.emulator.ratelimit import RateLimiter
from scuba_magic.emulator.state import QueryRecord, StateStore, hash_token
from scuba_magic.protocol import (
    CHART_TYPES,
    RESULT_FORMATS,
    RETURN_TYPES,
    RID_HEADER,
    RID_PATTERN,
)

logger = logging.getLogger("scuba_magic.emulator")
# how long past the query timeout an answer may wait for DuckDB's interrupt to take effect
_INTERRUPT_GRACE_S = 0.5

MAX_BODY_BYTES = 1024 * 1024
# An oversized body is still read (and dropped) up to this size so the client, which is still
# sending, gets the 413 instead of a reset connection; beyond it the connection is dropped.
_DRAIN_BYTES = 16 * 1024 * 1024
QUERY_FIELDS = ("bql", "query_response_id", "return_type", "result_format", "chart_options")
_MAX_CHART_NAME = 1000
_EXAMPLE_BODY = '{"bql": "select count(*) from foreverMusic"}'
_TOKEN_HELP = (
    "Send the header 'Authorization: Token <token>' with a token of this emulator: the one it "
    "printed at start (or gave with --token), or one made by GET /api/create_token."
)


class ApiError(Exception):
    """An error answer: status, short code, message, optional extra JSON keys and headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """The JSON response for this error."""
        body = {"error": self.code, "message": self.message, **self.extra}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


@dataclass(frozen=True)
class QueryRequest:
    """A validated ``/v1/query`` body."""

    bql: str | None
    rid: str | None
    return_type: str
    result_format: str
    chart_type: str | None
    chart_name: str | None


class EmulatorApp:
    """The routes and the objects they share.

    Args:
        engine: runs BQL.
        state: rids and tokens.
        executor: runs parsing, compiling, DuckDB work and state writes off the event loop.
        rate_limiter: per-token limiter, or None for no limit.
        render_explorer: ``(record, result) -> html`` for ``/explorer/<rid>``, both given as
            dicts (the fields of ``QueryRecord`` and ``QueryResult``); None uses the explorer
            module.
        render_not_found: ``(rid) -> html`` for an unknown rid.
    """

    def __init__(
        self,
        engine: Engine,
        state: StateStore,
        executor: Executor,
        *,
        rate_limiter: RateLimiter | None = None,
        render_explorer: Callable[[dict[str, Any], dict[str, Any]], str] | None = None,
        render_not_found: Callable[[str], str] | None = None,
    ) -> None:
        self.engine = engine
        self.state = state
        self.executor = executor
        self.rate_limiter = rate_limiter
        self._render_explorer = render_explorer
        self._render_not_found = render_not_found

    def build(self) -> Starlette:
        """Create the Starlette application."""
        routes = [
            Route("/", self.index, methods=["GET"]),
            Route("/v1/query", self.query, methods=["POST"]),
            Route("/api/create_token", self.create_token, methods=["GET", "POST"]),
            Route("/api/revoke_token", self.revoke_token, methods=["POST"]),
            Route("/explorer/{rid}", self.explorer, methods=["GET"]),
            Route("/static/plotly.min.js", self.plotly_js, methods=["GET"]),
        ]
        app = Starlette(
            routes=routes,
            exception_handlers={
                ApiError: _api_error_handler,
                HTTPException: _http_error_handler,
                Exception: _internal_error_handler,
            },
        )
        app.add_middleware(AccessLogMiddleware)
        return app

    # -- endpoints --------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        """Describe the endpoints (no token needed, nothing secret)."""
        return JSONResponse(
            {
                "service": "scuba-magic emulator",
                "endpoints": {
                    "POST /v1/query": "run BQL or replay a query_response_id",
                    "GET|POST /api/create_token": "make a new token",
                    "POST /api/revoke_token": 'revoke a token: {"token": ...}',
                    "GET /explorer/<rid>": "chart page of a query response id",
                },
                "auth": "Authorization: Token <token>",
            }
        )

    async def query(self, request: Request) -> Response:
        """``POST /v1/query``."""
        self._authenticate(request)
        body = await _read_json_object(request)
        spec = parse_query_request(body)
        record = None
        if spec.rid is not None:
            record = self.state.get_record(spec.rid)
            if record is None:
                raise ApiError(
                    404,
                    "unknown_query_response_id",
                    f"No query has the query_response_id {spec.rid!r} on this emulator (the "
                    f"last one minted is r{self.state.last_rid}). Run the query again with "
                    "'bql', or use a rid this emulator returned.",
                )
        bql = record.bql if record is not None else spec.bql
        assert bql is not None
        if spec.return_type == "explore_url":
            # an explore of a rid keeps the rid's chart type and name unless the request sets them
            chart_type = spec.chart_type or (record.chart_type if record else "TIME")
            chart_name = spec.chart_name
            if chart_name is None and record is not None:
                chart_name = record.chart_name
            new = await self._query_work(
                self._check_and_mint, bql, chart_type, chart_name, spec.rid
            )
            base = str(request.base_url).rstrip("/")
            return JSONResponse(
                {"url": f"{base}/explorer/{new.rid}"}, headers={RID_HEADER: new.rid}
            )
        payload, media_type, new = await self._query_work(
            self._run_and_mint, bql, spec.result_format, record
        )
        return Response(payload, media_type=media_type, headers={RID_HEADER: new.rid})

    async def create_token(self, request: Request) -> Response:
        """``GET|POST /api/create_token``: authenticated by an existing token."""
        self._authenticate(request, api_style=True)
        token = await self._in_executor(self.state.create_token)
        logger.info("created a new API token")
        return JSONResponse({"token": token, "success": True})

    async def revoke_token(self, request: Request) -> Response:
        """``POST /api/revoke_token`` with ``{"token": "<token to revoke>"}``."""
        self._authenticate(request, api_style=True)
        body = await _read_json_object(request, example='{"token": "<token to revoke>"}')
        unknown = sorted(set(body) - {"token"})
        if unknown or not isinstance(body.get("token"), str) or not body["token"]:
            raise ApiError(
                400,
                "invalid_request",
                "Send a JSON object with exactly one field, 'token', holding the token to "
                'revoke: {"token": "<token to revoke>"}.'
                + (f" Unknown field(s): {', '.join(map(repr, unknown))}." if unknown else ""),
                extra={"success": False},
            )
        revoked = await self._in_executor(self.state.revoke_token, body["token"])
        if not revoked:
            raise ApiError(
                404,
                "unknown_token",
                "That token is not known to this emulator (never issued, or already revoked); "
                "nothing was revoked.",
                extra={"success": False},
            )
        logger.info("revoked an API token")
        return JSONResponse({"success": True})

    async def explorer(self, request: Request) -> Response:
        """``GET /explorer/<rid>``: the chart page, or a 404 page for an unknown rid."""
        rid = request.path_params["rid"]
        record = self.state.get_record(rid) if RID_PATTERN.fullmatch(rid) else None
        if record is None:
            return HTMLResponse(self._not_found_page(rid), status_code=404)
        try:
            result = await self._query_work(self.engine.run, record.bql)
        except Exception as exc:  # the page shows what went wrong, like the UI would
            error = _query_error(exc)
            return HTMLResponse(_error_page(record, error), status_code=error.status)
        page = await self._in_executor(self._explorer_page, record, result)
        return HTMLResponse(page, headers={"X-Content-Type-Options": "nosniff"})

    async def plotly_js(self, request: Request) -> Response:
        """plotly.js from the installed plotly package (the explorer page loads it here)."""
        from scuba_magic.emulator.explorer import plotly_js_path

        try:
            path = plotly_js_path()
        except FileNotFoundError as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        return FileResponse(
            path,
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    # -- work done in the executor ----------------------------------------------------------

    def _check_and_mint(
        self, bql: str, chart_type: str, chart_name: str | None, source_rid: str | None
    ) -> QueryRecord:
        try:
            self.engine.check(bql)
        except Exception as exc:
            raise _query_error(exc) from exc
        return self.state.add_record(
            bql, chart_type=chart_type, chart_name=chart_name, source_rid=source_rid
        )

    def _run_and_mint(
        self, bql: str, result_format: str, source: QueryRecord | None
    ) -> tuple[bytes, str, QueryRecord]:
        try:
            result = self.engine.run(bql)
        except Exception as exc:
            raise _query_error(exc) from exc
        payload, media_type = render(result, result_format)
        record = self.state.add_record(
            bql,
            chart_type=source.chart_type if source else "TIME",
            chart_name=source.chart_name if source else None,
            source_rid=source.rid if source else None,
        )
        return payload, media_type, record

    def _explorer_page(self, record: QueryRecord, result: QueryResult) -> str:
        render_page = self._render_explorer
        if render_page is None:
            from scuba_magic.emulator.explorer import render_explorer as render_page
        return render_page(dataclasses.asdict(record), dataclasses.asdict(result))

    def _not_found_page(self, rid: str) -> str:
        render_page = self._render_not_found
        if render_page is None:
            from scuba_magic.emulator.explorer import render_not_found as render_page
        return render_page(rid)

    async def _in_executor(self, func: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, func, *args)

    async def _query_work(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run query work in the executor and answer within the query timeout, whatever it does.

        DuckDB is interrupted at the deadline, but parsing and compiling run in Python and
        cannot be: a query of a huge ``in`` list would keep its answer waiting past the
        timeout. At the deadline (plus a moment for DuckDB's interrupt to land) the request is
        answered with the timeout error; the work ends on its own, and the engine drops it
        without minting a rid because it overran.
        """
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self.executor, func, *args)
        try:
            return await asyncio.wait_for(
                asyncio.shield(work), timeout=self.engine.query_timeout + _INTERRUPT_GRACE_S
            )
        except asyncio.TimeoutError:
            # fetch the abandoned work's outcome so asyncio does not log it as never retrieved
            work.add_done_callback(lambda done: done.exception())
            raise ApiError(400, "query_timeout", self.engine.timeout_message()) from None

    # -- auth -------------------------------------------------------------------------------

    def _authenticate(self, request: Request, *, api_style: bool = False) -> None:
        extra = {"success": False} if api_style else {}
        header = request.headers.get("authorization")
        if header is None or not header.strip():
            raise ApiError(
                401,
                "not_authenticated",
                f"Not using authentication token. {_TOKEN_HELP}",
                extra=extra,
            )
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "token" or not token.strip():
            raise ApiError(
                401,
                "not_authenticated",
                "Not using authentication token: the Authorization header must be the word "
                f"'Token', one space, then the token. {_TOKEN_HELP}",
                extra=extra,
            )
        token = token.strip()
        if not self.state.is_valid_token(token):
            raise ApiError(
                401,
                "not_logged_in",
                "Not logged in: this emulator does not know the token, or it was revoked. "
                f"{_TOKEN_HELP}",
                extra={"msg": "Not logged in.", **extra},
            )
        if self.rate_limiter is not None:
            wait = self.rate_limiter.acquire(hash_token(token))
            if wait is not None:
                raise ApiError(
                    429,
                    "rate_limited",
                    # when to retry is the Retry-After header's job: clients word it themselves
                    _rate_text(self.rate_limiter),
                    extra=extra,
                    headers={"Retry-After": str(wait)},
                )


def parse_query_request(body: dict[str, Any]) -> QueryRequest:
    """Validate a ``/v1/query`` body (a JSON object).

    Raises:
        ApiError: 400 naming the field at fault and what to send instead.
    """
    unknown = [key for key in body if key not in QUERY_FIELDS]
    if unknown:
        raise _bad_request(
            "unknown_field",
            f"Unknown field(s) {', '.join(map(repr, unknown))}. A query body may hold only "
            f"{', '.join(QUERY_FIELDS)}.",
        )
    bql = body.get("bql")
    rid = body.get("query_response_id")
    if bql is not None and rid is not None:
        raise _bad_request(
            "bql_and_rid",
            "Send either 'bql' or 'query_response_id', not both.",
        )
    if bql is None and rid is None:
        raise _bad_request(
            "missing_query",
            "Send 'bql' (a BQL query) or 'query_response_id' (e.g. \"r9372\"), e.g. "
            f"{_EXAMPLE_BODY}.",
        )
    if bql is not None:
        if not isinstance(bql, str):
            raise _bad_request(
                "invalid_bql", f"'bql' must be a string of BQL, not {_json_type(bql)}."
            )
        if not bql.strip():
            raise _bad_request("empty_bql", f"'bql' is empty. Write a query, e.g. {_EXAMPLE_BODY}.")
    if rid is not None and (not isinstance(rid, str) or not RID_PATTERN.fullmatch(rid)):
        shown = repr(rid) if isinstance(rid, str) else f"{_json_type(rid)} {rid!r}"
        raise _bad_request(
            "invalid_query_response_id",
            "'query_response_id' must be a string: the letter r (lower case) followed by "
            f'digits, e.g. "r9372"; got {shown[:60]}.',
        )
    return_type = body.get("return_type")
    if return_type is None:
        return_type = "data"
    if not isinstance(return_type, str) or return_type.lower() not in RETURN_TYPES:
        raise _bad_request(
            "invalid_return_type",
            f'\'return_type\' must be "data" or "explore_url"; got {_short(return_type)}.',
        )
    return_type = return_type.lower()
    result_format = body.get("result_format")
    if result_format is None:
        result_format = "JSON_POWER_BI"
    if not isinstance(result_format, str) or result_format.upper() not in RESULT_FORMATS:
        raise _bad_request(
            "invalid_result_format",
            f"'result_format' must be one of {', '.join(RESULT_FORMATS)}; got "
            f"{_short(result_format)}.",
        )
    chart_type, chart_name = _parse_chart_options(body.get("chart_options"), return_type)
    return QueryRequest(
        bql=bql,
        rid=rid,
        return_type=return_type,
        result_format=result_format.upper(),
        chart_type=chart_type,
        chart_name=chart_name,
    )


def _parse_chart_options(options: Any, return_type: str) -> tuple[str | None, str | None]:
    if options is None:
        return None, None
    if return_type != "explore_url":
        raise _bad_request(
            "chart_options_without_explore",
            '\'chart_options\' only applies with "return_type": "explore_url". Drop it, or '
            "ask for an explore URL.",
        )
    if not isinstance(options, dict):
        raise _bad_request(
            "invalid_chart_options",
            '\'chart_options\' must be an object such as {"name": "Weekly plays", '
            f'"type": "time"}}; got {_json_type(options)}.',
        )
    unknown = [key for key in options if key not in ("name", "type")]
    if unknown:
        raise _bad_request(
            "invalid_chart_options",
            f"Unknown chart_options field(s) {', '.join(map(repr, unknown))}; only 'name' and "
            "'type' are allowed.",
        )
    name = options.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > _MAX_CHART_NAME):
        raise _bad_request(
            "invalid_chart_options",
            f"'chart_options.name' must be a string of at most {_MAX_CHART_NAME} characters.",
        )
    chart_type = options.get("type")
    if chart_type is not None:
        if not isinstance(chart_type, str) or chart_type.upper() not in CHART_TYPES:
            raise _bad_request(
                "invalid_chart_type",
                f"Unknown chart type {_short(chart_type)}: 'chart_options.type' must be one of "
                f"{', '.join(CHART_TYPES)} (any case).",
            )
        chart_type = chart_type.upper()
    return chart_type, name


async def _read_json_object(request: Request, *, example: str = _EXAMPLE_BODY) -> dict[str, Any]:
    """Read the body (bounded) and decode it as a JSON object, or raise the fitting ApiError."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        shown = f"'{content_type[:80]}'" if content_type else "none"
        raise ApiError(
            415,
            "unsupported_media_type",
            f"The body must be JSON sent with 'Content-Type: application/json' (got {shown}), "
            f"e.g. {example}.",
        )
    declared = request.headers.get("content-length")
    too_large = False
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError:
            raise ApiError(
                400, "invalid_request", "The Content-Length header is not a number."
            ) from None
        too_large = declared_size > MAX_BODY_BYTES
        if declared_size > _DRAIN_BYTES:
            raise _too_large()
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                too_large = True
                chunks.clear()
                if size > _DRAIN_BYTES:
                    break
            elif not too_large:
                chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", "The client went away mid-body.") from None
    if too_large:
        raise _too_large()
    raw = b"".join(chunks)
    if not raw.strip():
        raise _bad_request("empty_body", f"The body is empty. Send a JSON object, e.g. {example}.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_request(
            "invalid_json",
            f"The body is not UTF-8 text (byte {exc.start}). Send UTF-8 JSON, e.g. {example}.",
        ) from None
    import json

    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:
        detail = str(exc)[:200] if isinstance(exc, ValueError) else "nested too deeply"
        raise _bad_request(
            "invalid_json",
            f"The body is not valid JSON ({detail}). Send an object, e.g. {example}.",
        ) from None
    if not isinstance(body, dict):
        raise _bad_request(
            "invalid_json",
            f"The body is JSON {_json_type(body)}, not an object. Send an object, e.g. {example}.",
        )
    try:
        # "\udcff" is valid JSON syntax but half of a UTF-16 surrogate pair, not text: such a
        # string could be neither stored, nor run, nor sent back, so it is refused here, once
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _bad_request(
            "invalid_json",
            "The body holds a \\u escape of half a UTF-16 surrogate pair, which is not valid "
            f"Unicode text. Send UTF-8 JSON, e.g. {example}.",
        ) from None
    return body


def _too_large() -> ApiError:
    return ApiError(
        413,
        "body_too_large",
        f"The request body is over the limit of {MAX_BODY_BYTES} bytes (1 MB). Send a shorter "
        "query.",
    )


def _query_error(exc: BaseException) -> ApiError:
    """Map a failure of parsing, compiling or running a query to its 400 answer."""
    from scuba_magic.bql.errors import BQLError, BQLSyntaxError

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, BQLSyntaxError):
        extra: dict[str, Any] = {"line": exc.line, "column": exc.column}
        if exc.expected:
            extra["expected"] = exc.expected
        return ApiError(400, "bql_syntax_error", str(exc), extra=extra)
    if isinstance(exc, BQLError):
        code = "unsupported_query" if type(exc).__name__ == "UnsupportedError" else "invalid_query"
        extra = {}
        if exc.line is not None:
            extra = {"line": exc.line, "column": exc.column}
        return ApiError(400, code, str(exc), extra=extra)
    if isinstance(exc, QueryTimeoutError):
        return ApiError(400, "query_timeout", str(exc))
    if isinstance(exc, QueryExecutionError):
        return ApiError(400, "query_failed", f"The query could not be run: {exc}")
    if isinstance(exc, ResultTooLargeError):
        return ApiError(400, "result_too_large", str(exc))
    if isinstance(exc, RecursionError):
        return ApiError(400, "query_too_complex", "The query is nested too deeply. Simplify it.")
    # A failure nobody anticipated is still a property of this query, not of the server: log
    # it for the bug report, and tell the client which query to change.
    logger.error("unexpected failure while running a query", exc_info=exc)
    return ApiError(
        400,
        "query_not_supported",
        f"The emulator could not run this query ({type(exc).__name__}); this is a gap in the "
        "emulator. Rewrite the query more simply, and please report it with the query text.",
    )


def _error_page(record: QueryRecord, error: ApiError) -> str:
    title = html.escape(record.chart_name or record.rid)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{title} - error</title></head><body>"
        f"<h1>{title}</h1><pre>{html.escape(record.bql)}</pre>"
        f"<p><strong>{html.escape(error.code)}</strong>: {html.escape(error.message)}</p>"
        "</body></html>"
    )


def _bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else _json_type(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _rate_text(limiter: RateLimiter) -> str:
    """What a 429 says: the limit that was passed, in the unit ``--rate-limit`` would take."""
    units = (
        ("second", "s", 1),
        ("minute", "min", 60),
        ("hour", "hour", 3600),
        ("day", "day", 86400),
    )
    # the largest of these units in which at least one request is allowed (else per day)
    per, unit, seconds = next((u for u in units if limiter.rate * u[2] >= 1), units[-1])
    count = limiter.rate * seconds
    noun = "request" if count == 1 else "requests"
    return f"More than {count:g} {noun} per {per} for this token (--rate-limit {count:g}/{unit})."


async def _api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return ApiError(
            405,
            "method_not_allowed",
            f"{request.url.path} does not accept {request.method}; use {allowed or 'POST'}.",
            headers=dict(exc.headers or {}),
        ).response()
    if exc.status_code == 404:
        return ApiError(
            404,
            "not_found",
            f"No such endpoint: {request.method} {request.url.path[:200]}. The query API is "
            "POST /v1/query; tokens: /api/create_token, /api/revoke_token; charts: "
            "/explorer/<rid>.",
        ).response()
    return ApiError(exc.status_code, "http_error", str(exc.detail)).response()


async def _internal_error_handler(request: Request, exc: Exception) -> Response:
    logger.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return ApiError(
        500,
        "internal_error",
        "The emulator failed while answering; see its log. Please report this.",
    ).response()


class AccessLogMiddleware:
    """Log one line per request: method, path (never the query string), status, milliseconds.

    Headers are never logged, so a token in ``Authorization`` cannot reach the log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            logger.info(
                "%s %s %s %.0f ms",
                scope.get("method", "-"),
                scope.get("path", "")[:200],
                status or "-",
                (time.perf_counter() - started) * 1000,
            )
