"""The exceptions raised by scuba-magic, and how HTTP answers map onto them.

Every error is a ``ScubaError``; catch that to handle them all::

    ScubaError
    ├── ConfigError               no host, bad profiles file, loose file permissions, unsafe URL
    ├── RequestValidationError    bad arguments caught before anything is sent (also a ValueError)
    ├── AuthError                 HTTP 401 / 403: missing, invalid or unauthorised token
    ├── QueryError                HTTP 400 (and other 4xx): the server rejected the query
    ├── NotFoundError             HTTP 404 / 405: unknown query response id, or not a Scuba API
    ├── RateLimitError            HTTP 429: the token's request limit was reached
    ├── ServerError               HTTP 5xx: the server or a proxy in front of it failed
    ├── ScubaConnectionError      DNS, refused, TLS, timeout, reset or truncated answer
    └── ResponseError             an answer that is not what was asked for (or a redirect)

Each error's message says what happened (quoting the server's own message when there is one)
and what to do next. Errors that come from an HTTP answer carry ``.status``; all carry
``.server_message`` (``None`` when the server said nothing useful).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any

__all__ = [
    "AuthError",
    "ConfigError",
    "NotFoundError",
    "QueryError",
    "RateLimitError",
    "RequestValidationError",
    "ResponseError",
    "ScubaConnectionError",
    "ScubaError",
    "ServerError",
    "error_from_response",
    "retry_advice",
    "server_message_from_body",
]

# Longest excerpt of a server body quoted in a message: enough to recognise a proxy page.
EXCERPT_CHARS = 200
_REDACTED = "********"


class ScubaError(Exception):
    """Base class of every error raised by scuba-magic."""

    def __init__(
        self, message: str, *, status: int | None = None, server_message: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.server_message = server_message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # keep .status, .line, .retry_after... across pickling (multiprocessing, ipyparallel)
        return (self.__class__, (self.message,), self.__dict__)


class ConfigError(ScubaError):
    """Raised when host, token or profiles file are missing, malformed or unsafe."""


class RequestValidationError(ScubaError, ValueError):
    """Raised before sending when the query arguments are invalid (bad rid, blank bql...)."""


class AuthError(ScubaError):
    """Raised on HTTP 401 or 403: the token is missing, invalid, revoked or not allowed."""


class QueryError(ScubaError):
    """Raised on HTTP 400 (and other client-side 4xx): the server rejected the query."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        server_message: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message, status=status, server_message=server_message)
        self.line = line
        self.column = column


class NotFoundError(ScubaError):
    """Raised on HTTP 404 (unknown query response id, or no query API at that URL) and 405."""


class RateLimitError(ScubaError):
    """Raised on HTTP 429 when retrying is not possible or would wait too long."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        server_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, server_message=server_message)
        self.retry_after = retry_after


class ServerError(ScubaError):
    """Raised on HTTP 5xx once retries (for 502, 503, 504) are used up."""


class ScubaConnectionError(ScubaError):
    """Raised when no complete answer arrived: DNS, refused, TLS, timeout, reset, truncation."""


class ResponseError(ScubaError):
    """Raised when an answer is not what was asked for: unparseable body, missing url, redirect."""


def _redact(text: str, secrets: Iterable[str]) -> str:
    # A server (or a proxy's error page) may echo request headers back; never let the token
    # travel from such a body into an exception message.
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def _collapse(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


_DROP_BLOCKS = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
# machine codes such as "bql_syntax_error" or "RATE_LIMITED" (not phrases like "Unauthorized")
_CODE_LIKE = re.compile(r"^[a-z0-9_.:-]+$|^[A-Z0-9]+(_[A-Z0-9]+)+$")


def _html_text(text: str) -> str:
    title_match = _TITLE.search(text)
    body = _TAG.sub(" ", _DROP_BLOCKS.sub(" ", text))
    body = " ".join(html.unescape(body).split())
    if body:
        return body
    return " ".join(html.unescape(title_match.group(1)).split()) if title_match else ""


def _json_message(value: Any) -> str | None:
    """The most descriptive message in a decoded JSON error body, or None."""
    if not isinstance(value, Mapping):
        return None
    parts: list[str] = []
    for key in ("error", "exception", "message", "msg", "detail"):
        item = value.get(key)
        if isinstance(item, Mapping):
            # e.g. {"error": {"code": ..., "message": ...}}
            item = _json_message(item)
        if isinstance(item, str):
            item = " ".join(item.split())
            if item and item not in parts:
                parts.append(item)
    if not parts:
        return None
    code = value.get("error")
    if isinstance(code, str) and _CODE_LIKE.match(code) and len(parts) > 1 and code in parts:
        # {"error": "bql_syntax_error", "message": "..."} -> "... (bql_syntax_error)"
        parts.remove(code)
        return f"{': '.join(parts)} ({code})"
    return ": ".join(parts)


def _decode_json(body: bytes) -> Any:
    import json

    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def server_message_from_body(
    body: bytes, content_type: str | None = None, *, secrets: Iterable[str] = ()
) -> str | None:
    """Extract a short, human-readable message from an error body.

    Args:
        body: the raw response body.
        content_type: the response's ``Content-Type`` header, if any.
        secrets: strings to redact from the result (the API token).

    Returns:
        The ``error``/``message``/``msg``/``exception`` text of a JSON body, or the start of
        any other body (HTML tags stripped, whitespace collapsed), or ``None`` for an empty body.
    """
    secrets = list(secrets)
    if not body or not body.strip():
        return None
    decoded = _decode_json(body)
    if decoded is not None:
        message = _json_message(decoded)
        if message is None:
            import json

            message = json.dumps(decoded, ensure_ascii=False)
        return _collapse(_redact(message, secrets), 2 * EXCERPT_CHARS)
    text = body.decode("utf-8", errors="replace")
    looks_html = "html" in (content_type or "").lower() or text.lstrip().startswith("<")
    if looks_html:
        text = _html_text(text)
    text = _collapse(_redact(text, secrets))
    return text or None


def _line_column(body: bytes) -> tuple[int | None, int | None]:
    decoded = _decode_json(body)
    if not isinstance(decoded, Mapping):
        return None, None
    line, column = decoded.get("line"), decoded.get("column")
    return (
        line if isinstance(line, int) and not isinstance(line, bool) else None,
        column if isinstance(column, int) and not isinstance(column, bool) else None,
    )


def _status_text(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


# A server message that already says when to retry ("Retry after 1 s", "try again in 30
# seconds"), or at least to retry: the advice is not repeated after it.
_SAYS_WHEN_TO_RETRY = re.compile(r"\b(retry|try again)\b[^.]*?\b(after|in|at)\b\W*\d", re.I)
_SAYS_TO_RETRY = re.compile(r"\b(retry|try again)\b", re.I)


def retry_advice(retry_after: float | None) -> str:
    """Say when a rate-limited request may be retried."""
    if retry_after is None:
        return "Wait a little and run it again (requests are rate-limited per token)."
    when = datetime.now(timezone.utc) + timedelta(seconds=retry_after)
    return f"Retry after {retry_after:g} s (at {when:%H:%M:%S} UTC)."


def error_from_response(
    status: int,
    body: bytes,
    *,
    host: str,
    url: str | None = None,
    content_type: str | None = None,
    rid: str | None = None,
    retry_after: float | None = None,
    sent_token: bool = True,
    secrets: Iterable[str] = (),
) -> ScubaError:
    """Build the exception for an unsuccessful HTTP answer.

    Args:
        status: the HTTP status code (>= 400).
        body: the raw response body.
        host: the normalized host the request went to (``https://my_cluster.scuba.io``).
        url: the full URL requested, for messages about the wrong endpoint.
        content_type: the response's ``Content-Type`` header.
        rid: the query response id asked for, if the request named one.
        retry_after: seconds the server asked to wait (429), when known.
        sent_token: whether an ``Authorization`` header was sent.
        secrets: strings never to quote (the API token).

    Returns:
        The ``ScubaError`` subclass for ``status``, with a message saying what to do next.
    """
    server_message = server_message_from_body(body, content_type, secrets=secrets)
    said = f": {server_message}" if server_message else ""
    # "...: Not logged in." must not become "Not logged in.." when a sentence follows
    said += "" if said.endswith((".", "!", "?", "…")) else "."
    where = url or f"{host}/v1/query"
    common = {"status": status, "server_message": server_message}

    if status in (401, 403):
        token_url = f"{host}/api/create_token"
        if status == 401:
            what = "did not accept the API token" if sent_token else "needs an API token"
            return AuthError(
                f"Scuba {what} ({_status_text(status)}){said} To get a token, open "
                f"{token_url} in a browser logged into Scuba, then set SCUBA_API_TOKEN "
                "or run %scuba_connect.",
                **common,
            )
        return AuthError(
            f"Scuba denied access ({_status_text(status)}){said} The token's user may not "
            "be allowed to query this table, or the table does not exist: check the table "
            f"name, ask your Scuba admin for access, or get a new token at {token_url}.",
            **common,
        )
    if status == 404 or status == 405:
        from_api = _decode_json(body) is not None
        if status == 404 and rid is not None and from_api:
            return NotFoundError(
                f"Unknown query response id {rid} ({_status_text(status)}){said} Copy the "
                "id (r followed by digits) from the browser URL after RUN in the Scuba UI.",
                **common,
            )
        return NotFoundError(
            f"{where} is not a Scuba query API ({_status_text(status)}){said} Check the "
            "host: it should be the cluster address only, e.g. https://my_cluster.scuba.io.",
            **common,
        )
    if status == 429:
        told = server_message or ""
        # said once: the server's own "Retry after 1 s." is not followed by ours
        repeats = _SAYS_WHEN_TO_RETRY.search(told) or (
            retry_after is None and _SAYS_TO_RETRY.search(told)
        )
        advice = "" if repeats else " " + retry_advice(retry_after)
        return RateLimitError(
            f"Scuba's request limit for this token was reached ({_status_text(status)}){said}"
            + advice,
            retry_after=retry_after,
            **common,
        )
    if 400 <= status < 500:
        line, column = _line_column(body)
        position = f" at line {line}, column {column}" if line is not None else ""
        advice = {
            413: "Shorten the query and run it again.",
            415: "The server did not accept a JSON body: check the host is a Scuba cluster.",
        }.get(status, "Fix the query and run it again.")
        return QueryError(
            f"Scuba rejected the query{position} ({_status_text(status)}){said} {advice}",
            line=line,
            column=column,
            **common,
        )
    if status >= 500:
        advice = "This failed on the server (or a proxy in front of it): run it again later"
        if retry_after is not None:
            advice += f" (the server asked to wait {retry_after:g} s)"
        if status == 504:
            advice += "; if it keeps timing out, shorten the time range or use fewer group-bys"
        return ServerError(
            f"Scuba server error ({_status_text(status)}){said} {advice}; if it persists, "
            "tell your Scuba admin.",
            **common,
        )
    return ResponseError(f"Unexpected answer from {where} ({_status_text(status)}){said}", **common)
