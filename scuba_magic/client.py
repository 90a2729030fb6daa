"""ScubaClient: send queries to the Scuba External Query API and decode the answers.

The client checks every argument before sending, posts one JSON body to ``/v1/query``,
retries what is safe to retry, maps failures onto ``scuba_magic.errors`` and turns result
bodies into DataFrames with ``scuba_magic.frames``.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scuba_magic.config import (
    TOKEN_ENV,
    Connection,
    Secret,
    config_path,
    is_loopback,
    normalize_host,
    resolve_connection,
)
from scuba_magic.errors import (
    ConfigError,
    RequestValidationError,
    ResponseError,
    ScubaConnectionError,
    ScubaError,
    error_from_response,
    server_message_from_body,
)
from scuba_magic.protocol import CHART_TYPES, RESULT_FORMATS, RETURN_TYPES, RID_PATTERN

__all__ = [
    "CHART_TYPES",
    "ExploreLink",
    "PreparedQuery",
    "RESULT_FORMATS",
    "RETURN_TYPES",
    "ScubaClient",
    "parse_retry_after",
    "validate_rid",
]

logger = logging.getLogger("scuba_magic")

DEFAULT_TIMEOUT = 300.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF = 0.5
DEFAULT_MAX_RETRY_AFTER = 60.0

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_MAX_REDIRECTS = 5
_TOKEN_PLACEHOLDER = f"${TOKEN_ENV}"


@dataclass(frozen=True)
class ExploreLink:
    """A link to a chart in the Scuba UI, and the query response id it minted."""

    url: str
    rid: str | None

    def __str__(self) -> str:
        return self.url

    def _repr_html_(self) -> str:
        import html

        rid = f" ({html.escape(self.rid)})" if self.rid else ""
        href = html.escape(self.url, quote=True)
        return f'<a href="{href}" target="_blank" rel="noopener">{href}</a>{rid}'


@dataclass(frozen=True)
class PreparedQuery:
    """A checked request, ready to send or to show (``--dry-run``); it never holds the token.

    Attributes:
        url: the full endpoint URL.
        headers: the headers, with the token shown as ``$SCUBA_API_TOKEN``.
        body: the JSON body as a dict.
        method: always ``POST``.
    """

    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    method: str = "POST"
    rid: str | None = field(default=None, repr=False)
    bql: str | None = field(default=None, repr=False)

    def body_bytes(self) -> bytes:
        """The body exactly as sent: compact JSON, UTF-8."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def to_curl(self) -> str:
        """A copy-pasteable ``curl`` command; the token is read from ``$SCUBA_API_TOKEN``."""
        parts = [f"curl -sS -X {self.method} {_shell_quote(self.url)}"]
        for name, value in self.headers.items():
            if name.lower() == "authorization":
                # double quotes so the shell expands the variable and nothing else
                parts.append(f'-H "{name}: Token {_TOKEN_PLACEHOLDER}"')
            else:
                parts.append(f"-H {_shell_quote(f'{name}: {value}')}")
        parts.append(f"--data-binary {_shell_quote(self.body_bytes().decode('utf-8'))}")
        return " ".join(parts)


def _shell_quote(text: str) -> str:
    # POSIX single quotes keep everything literal; a quote inside is closed, escaped, reopened
    return "'" + text.replace("'", "'\"'\"'") + "'"


def validate_rid(rid: object) -> str:
    """Check a query response id: the letter ``r`` followed by digits, e.g. ``r9372``.

    Raises:
        RequestValidationError: anything else, with a message saying the expected form.
    """
    if not isinstance(rid, str):
        raise RequestValidationError(
            f"rid must be a string like 'r9372', not {type(rid).__name__}."
        )
    text = rid.strip()
    if RID_PATTERN.match(text):
        return text
    hint = ""
    if re.fullmatch(r"R[0-9]+", text):
        hint = f" (lower-case r: {text.lower()})"
    elif re.fullmatch(r"[0-9]+", text):
        hint = f" (did you mean r{text}?)"
    elif re.fullmatch(r"r[0-9]{19,}", text):
        hint = " (at most 18 digits)"
    raise RequestValidationError(
        f"{rid!r} is not a query response id: it is the letter r followed by digits, "
        f"e.g. r9372{hint}. Copy it from the browser URL after RUN in the Scuba UI."
    )


def _check_choice(value: object, choices: tuple[str, ...], what: str, *, upper: bool) -> str:
    if not isinstance(value, str):
        raise RequestValidationError(
            f"{what} must be one of {', '.join(choices)}, not {type(value).__name__}."
        )
    normalized = value.strip().upper() if upper else value.strip().lower()
    if normalized not in choices:
        raise RequestValidationError(
            f"Unknown {what} {value!r}; use one of {', '.join(choices)} (any case)."
        )
    return normalized


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date.

    Returns ``None`` when the header is missing or unreadable; a date in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


class _TokenAuth:
    """Sets ``Authorization: Token <t>`` as a requests auth hook.

    Passing an auth object (even with no token) also stops requests from filling the header
    from ``~/.netrc``, which would replace the token with a password.
    """

    def __init__(self, token: Secret | None) -> None:
        self._token = token

    def __call__(self, request: Any) -> Any:
        if self._token is not None:
            request.headers["Authorization"] = f"Token {self._token.reveal()}"
        else:
            request.headers.pop("Authorization", None)
        return request

    def __repr__(self) -> str:
        return "_TokenAuth(********)"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps (requests -> urllib3 -> socket), breadth first."""
    seen: set[int] = set()
    queue: list[BaseException] = [exc]
    while queue and len(seen) < 20:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [getattr(current, "reason", None), current.__cause__, current.__context__]
        nested.extend(current.args)
        queue.extend(item for item in nested if isinstance(item, BaseException))


def _short_reason(exc: BaseException) -> str:
    innermost = list(_causes(exc))[-1]
    text = str(innermost) or type(innermost).__name__
    # urllib3 prefixes connection objects: "<HTTPConnection(...)>: Failed to establish..."
    text = re.sub(r"<[^>]*>:\s*", "", text)
    return " ".join(text.split())[:200]


class ScubaClient:
    """A client for the Scuba External Query API (``POST /v1/query``).

    Usage::

        >>> client = ScubaClient("my_cluster.scuba.io", token="...")
        >>> df = client.query("select count(*) from foreverMusic group by gender")
        >>> client.explore_url(rid="r9372", chart_type="table").url
        'https://my_cluster.scuba.io/explorer/r9373'

    Args:
        host: the cluster, e.g. ``my_cluster.scuba.io``; ``None`` looks it up (see
            ``scuba_magic.config``).
        token: the API token (``str`` or ``Secret``); ``None`` looks it up.
        timeout: seconds to wait for the whole answer, body included, from sending the
            request (queries can take minutes).
        connect_timeout: seconds to wait for the connection to open.
        max_retries: retries after connection failures and HTTP 429, 502, 503, 504.
        ca_bundle: a CA certificate file to verify the server with, for a private CA.
        profile: the profile of the profiles file to read host and token from.
        backoff: the first retry waits about this many seconds, doubling each time.
        max_retry_after: longest ``Retry-After`` (seconds) waited for; a longer one raises
            ``RateLimitError`` at once.
    """

    def __init__(
        self,
        host: str | None = None,
        token: str | Secret | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        ca_bundle: str | Path | None = None,
        profile: str | None = None,
        backoff: float = DEFAULT_BACKOFF,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    ) -> None:
        connection = resolve_connection(profile=profile, host=host, token=token)
        if connection.token is None and connection.token_note:
            # A token was configured, but for another host: sending none would only earn a
            # 401 that says "set SCUBA_API_TOKEN", which is set. Say what happened instead.
            where = normalize_host(connection.host)
            raise ConfigError(
                f"No API token for {where}: {connection.token_note}. Pass token=..., add a "
                f"profile for {where} to {config_path()}, or run %scuba_connect {where}; get a "
                f"token at {where}/api/create_token in a browser logged into Scuba."
            )
        self._setup(
            connection, timeout, connect_timeout, max_retries, ca_bundle, backoff, max_retry_after
        )

    def _setup(
        self,
        connection: Connection,
        timeout: float,
        connect_timeout: float,
        max_retries: int,
        ca_bundle: str | Path | None,
        backoff: float,
        max_retry_after: float,
    ) -> None:
        self.host = normalize_host(connection.host)
        self.profile = connection.profile
        self.token_source = connection.token_source
        self._token = connection.token
        self.timeout = _positive(timeout, "timeout")
        self.connect_timeout = _positive(connect_timeout, "connect_timeout")
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ConfigError(f"max_retries must be a whole number >= 0, not {max_retries!r}.")
        self.max_retries = max_retries
        self.backoff = _positive(backoff, "backoff", allow_zero=True)
        self.max_retry_after = _positive(max_retry_after, "max_retry_after", allow_zero=True)
        self.ca_bundle: str | None = None
        if ca_bundle is not None:
            bundle = Path(ca_bundle).expanduser()
            if not bundle.exists():
                raise ConfigError(f"The CA bundle {bundle} does not exist; give a PEM file path.")
            self.ca_bundle = str(bundle)
        self._session: Any = None
        self._check_transport()

    @classmethod
    def from_config(cls, profile: str | None = None, **options: Any) -> ScubaClient:
        """A client for the host and token found by ``scuba_magic.config`` (a profile, env...).

        Args:
            profile: the profile to use; ``None`` follows ``SCUBA_PROFILE`` / ``default_profile``.
            **options: the keyword options of ``ScubaClient`` (``timeout``, ``max_retries``...).
        """
        return cls(profile=profile, **options)

    @classmethod
    def from_connection(cls, connection: Connection, **options: Any) -> ScubaClient:
        """A client for an already resolved ``Connection`` (e.g. after prompting for a token)."""
        client = cls.__new__(cls)
        client._setup(
            connection,
            options.pop("timeout", DEFAULT_TIMEOUT),
            options.pop("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
            options.pop("max_retries", DEFAULT_MAX_RETRIES),
            options.pop("ca_bundle", None),
            options.pop("backoff", DEFAULT_BACKOFF),
            options.pop("max_retry_after", DEFAULT_MAX_RETRY_AFTER),
        )
        if options:
            raise TypeError(f"unexpected option(s): {', '.join(sorted(options))}")
        return client

    def __repr__(self) -> str:
        return f"ScubaClient(host={self.host!r})"

    def __enter__(self) -> ScubaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections (a later query opens new ones)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # building requests

    def prepare_request(
        self,
        bql: str | None = None,
        *,
        rid: str | None = None,
        return_type: str = "data",
        result_format: str = "JSON_POWER_BI",
        chart_type: str | None = None,
        chart_name: str | None = None,
        chart_options: Mapping[str, str] | None = None,
    ) -> PreparedQuery:
        """Check the arguments and build the request without sending it.

        Args:
            bql: a BQL query; give exactly one of ``bql`` and ``rid``.
            rid: a query response id such as ``r9372``.
            return_type: ``data`` or ``explore_url``.
            result_format: ``JSON_POWER_BI``, ``CSV`` or ``DEFAULT`` (any case); sent with
                ``data`` only.
            chart_type: the chart of an ``explore_url`` link, one of ``CHART_TYPES`` in any
                case; ``None`` means ``TIME``.
            chart_name: the chart's title in the UI, with ``explore_url`` only.
            chart_options: ``{"name": ..., "type": ...}`` as sent, instead of ``chart_type`` and
                ``chart_name``; with ``explore_url`` only.

        Returns:
            The ``PreparedQuery``; its headers show the token as ``$SCUBA_API_TOKEN``.

        Raises:
            RequestValidationError: an invalid or contradictory argument.
        """
        if (bql is None) == (rid is None):
            raise RequestValidationError(
                "Give exactly one of bql (a query) and rid (a query response id such as r9372)"
                + (", not both." if bql is not None else "; neither was given.")
            )
        body: dict[str, Any] = {}
        if bql is not None:
            if not isinstance(bql, str):
                raise RequestValidationError(f"bql must be a string, not {type(bql).__name__}.")
            if not bql.strip():
                raise RequestValidationError(
                    "The BQL query is blank; write a query such as: select count(*) from "
                    "foreverMusic"
                )
            try:
                bql.encode("utf-8")
            except UnicodeEncodeError:
                raise RequestValidationError(
                    "The BQL query contains characters that are not valid Unicode (a broken "
                    "copy or a bad file encoding); retype the affected part."
                ) from None
            body["bql"] = bql
        else:
            rid = validate_rid(rid)
            body["query_response_id"] = rid
        return_type = _check_choice(return_type, RETURN_TYPES, "return_type", upper=False)
        result_format = _check_choice(result_format, RESULT_FORMATS, "result_format", upper=True)
        body["return_type"] = return_type
        given = [
            name
            for name, value in (("chart_type", chart_type), ("chart_name", chart_name))
            if value is not None
        ]
        if given and chart_options is not None:
            raise RequestValidationError(f"Give {' and '.join(given)} or chart_options, not both.")
        if return_type == "data":
            if given or chart_options:
                what = " and ".join(given) or "chart_options"
                raise RequestValidationError(
                    f"{what} {'applies' if len(given) == 1 else 'apply'} to explore links only "
                    "(return_type='explore_url')."
                )
            # the docs call result_format mandatory with data, so it is always sent
            body["result_format"] = result_format
        elif chart_options is not None:
            body["chart_options"] = _check_chart_options(chart_options)
        else:
            body["chart_options"] = _chart_options(chart_type, chart_name)
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Token {_TOKEN_PLACEHOLDER}",
        }
        return PreparedQuery(
            url=f"{self.host}/v1/query", headers=headers, body=body, rid=rid, bql=bql
        )

    # public queries

    def query(
        self,
        bql: str | None = None,
        *,
        rid: str | None = None,
        result_format: str = "JSON_POWER_BI",
        timeout: float | None = None,
    ) -> Any:
        """Run a query and return its result.

        Args:
            bql: a BQL query; give exactly one of ``bql`` and ``rid``.
            rid: the query response id of a query run before, e.g. ``r9372``.
            result_format: ``JSON_POWER_BI`` (default) or ``CSV`` give a pandas DataFrame;
                ``DEFAULT`` gives the parsed JSON body.
            timeout: seconds to wait for the answer, instead of the client's ``timeout``.

        Returns:
            A DataFrame (``df.attrs["scuba"]`` holds the provenance) or, for ``DEFAULT``, the
            decoded JSON.

        Raises:
            ScubaError: a subclass saying what went wrong (see ``scuba_magic.errors``).
        """
        prepared = self.prepare_request(bql, rid=rid, result_format=result_format)
        result_format = prepared.body["result_format"]
        fetched_at = datetime.now(timezone.utc)
        started = time.monotonic()
        response = self._send(prepared, timeout)
        elapsed = time.monotonic() - started
        # No local variable here holds the body: a traceback printed with local variables
        # (IPython's %xmode Verbose) would show a body that echoed the token back.
        if result_format == "DEFAULT":
            return self._decode_json(response, "DEFAULT")
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type.lower():
            raise ResponseError(
                f"Expected {result_format} data from {prepared.url} but got an HTML page: "
                f"{self._excerpt(response.content, content_type)}. A proxy or login page may be "
                "in front of the API: check the host.",
                status=response.status_code,
            )
        provenance: dict[str, Any] = {"host": self.host}
        if bql is not None:
            provenance["bql"] = prepared.body["bql"]
        else:
            provenance["rid"] = prepared.body["query_response_id"]
        provenance.update(
            result_format=result_format,
            elapsed_s=round(elapsed, 3),
            fetched_at=fetched_at.isoformat(timespec="seconds"),
        )
        from scuba_magic import frames

        shape = _describe(prepared.body["bql"]) if bql is not None else None
        try:
            return frames.to_dataframe(
                response.content, result_format, shape=shape, provenance=provenance
            )
        except ScubaError as exc:
            message = self._redact(str(exc))
        except ValueError as exc:
            message = f"The {result_format} answer from {prepared.url} could not be read"
            if not any(secret in str(exc) for secret in self._secrets()):
                message += f" ({exc})"
            message += f"; it starts: {self._excerpt(response.content, content_type)}"
        # A new error, raised outside the except blocks: neither a chained exception nor the
        # decoder's frames (whose local variables hold the body) go with it, so a body that
        # echoed the token back cannot be printed.
        raise ResponseError(message, status=response.status_code)

    def explore_url(
        self,
        bql: str | None = None,
        *,
        rid: str | None = None,
        chart_name: str | None = None,
        chart_type: str | None = "TIME",
        timeout: float | None = None,
    ) -> ExploreLink:
        """Ask for a link that opens the query as a chart in the Scuba UI.

        Args:
            bql: a BQL query; give exactly one of ``bql`` and ``rid``.
            rid: a query response id, e.g. ``r9372``.
            chart_name: the chart's title in the UI.
            chart_type: one of ``CHART_TYPES`` (``TIME``, ``TABLE``, ...), any case; ``None``
                means ``TIME``.
            timeout: seconds to wait for the answer, instead of the client's ``timeout``.

        Returns:
            ``ExploreLink(url, rid)``; ``rid`` is the new query response id in the URL.

        Raises:
            ScubaError: a subclass saying what went wrong; ``ResponseError`` when the answer
                holds no URL.
        """
        prepared = self.prepare_request(
            bql, rid=rid, return_type="explore_url", chart_type=chart_type, chart_name=chart_name
        )
        response = self._send(prepared, timeout)
        url = _url_of(self._decode_json(response, "explore_url"))
        if url is None:
            raise ResponseError(
                f"The explore_url answer from {prepared.url} holds no url: "
                f"{self._excerpt(response.content, response.headers.get('Content-Type'))}",
                status=response.status_code,
            )
        segment = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        return ExploreLink(url=url, rid=segment if RID_PATTERN.match(segment) else None)

    # transport

    def _secrets(self) -> list[str]:
        return [self._token.reveal()] if self._token is not None else []

    def _redact(self, text: str) -> str:
        for secret in self._secrets():
            text = text.replace(secret, "********")
        return text

    def _excerpt(self, body: bytes, content_type: str | None) -> str:
        return server_message_from_body(body, content_type, secrets=self._secrets()) or "(empty)"

    def _decode_json(self, response: Any, what: str) -> Any:
        import orjson

        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            pass
        # raised after the except block, from a frame holding no copy of the body, so that a
        # traceback with local variables cannot print a body that echoed the token back
        raise ResponseError(
            f"The {what} answer from {self.host} is not JSON; it starts: "
            f"{self._excerpt(response.content, response.headers.get('Content-Type'))}",
            status=response.status_code,
        ) from None

    def _check_transport(self) -> None:
        if (
            self._token is not None
            and self.host.startswith("http://")
            and not is_loopback(self.host)
        ):
            raise ConfigError(
                f"Refusing to send the API token over plain http:// to {self.host}: anyone on "
                "the network could read it. Use https:// (plain http:// is allowed only for "
                "loopback addresses such as a local emulator)."
            )

    def _get_session(self) -> Any:
        if self._session is None:
            import requests

            from scuba_magic import __version__

            session = requests.Session()
            session.headers["User-Agent"] = (
                f"scuba-magic/{__version__} python-requests/{requests.__version__}"
            )
            self._session = session
        return self._session

    def _backoff_delay(self, attempt: int) -> float:
        # exponential with jitter, so clients that failed together do not retry together
        delay = self.backoff * (2**attempt) * random.uniform(0.5, 1.0)
        return min(delay, self.max_retry_after)

    def _send(self, prepared: PreparedQuery, timeout: float | None) -> Any:
        """POST the prepared body; retry what is safe; return a 2xx response or raise."""
        import requests

        self._check_transport()
        read_timeout = (
            self.timeout
            if timeout is None
            else _positive(timeout, "timeout", error=RequestValidationError)
        )
        session = self._get_session()
        data = prepared.body_bytes()
        url = prepared.url
        # A proxy must never see a loopback request (or a token sent over plain http).
        proxies = {"http": None, "https": None, "all": None} if is_loopback(self.host) else None
        attempt = 0
        redirects = 0
        while True:
            started = time.monotonic()
            failure: ScubaConnectionError | None = None
            try:
                response = session.post(
                    url,
                    data=data,
                    headers={"Content-Type": "application/json"},
                    auth=_TokenAuth(self._token),
                    timeout=(self.connect_timeout, read_timeout),
                    allow_redirects=False,
                    verify=self.ca_bundle if self.ca_bundle is not None else True,
                    proxies=proxies,
                    stream=True,
                )
                _read_whole_body(response, deadline=started + read_timeout)
            except requests.exceptions.RequestException as exc:
                elapsed = time.monotonic() - started
                logger.debug("POST %s failed after %.3f s: %s", url, elapsed, type(exc).__name__)
                failure, retryable = self._transport_error(exc, read_timeout)
            if failure is not None:
                # Handled here, after the except block, and raised "from None": the requests and
                # urllib3 exceptions hold the sent request, Authorization header included, in
                # their attributes and frames, and a traceback showing chained exceptions with
                # their local variables (IPython's %xmode Verbose) would print the token. The
                # message already tells the reason in words.
                if retryable and attempt < self.max_retries:
                    delay = self._backoff_delay(attempt)
                    attempt += 1
                    logger.info(
                        "Retrying POST %s in %.2f s after a connection failure (retry %d of %d)",
                        url,
                        delay,
                        attempt,
                        self.max_retries,
                    )
                    time.sleep(delay)
                    continue
                raise failure from None
            elapsed = time.monotonic() - started
            status = response.status_code
            logger.debug("POST %s -> %d in %.3f s", url, status, elapsed)
            if 200 <= status < 300:
                return response
            if 300 <= status < 400:
                url = self._follow_redirect(response, url, redirects)
                redirects += 1
                continue
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if status in _RETRY_STATUSES:
                # a wait longer than the cap is reported (with when to retry), not slept
                waits_too_long = retry_after is not None and retry_after > self.max_retry_after
                if attempt < self.max_retries and not waits_too_long:
                    delay = retry_after if retry_after is not None else self._backoff_delay(attempt)
                    attempt += 1
                    reason = "Retry-After" if retry_after is not None else "backoff"
                    logger.info(
                        "Retrying POST %s in %.2f s (%s) after HTTP %d (retry %d of %d)",
                        url,
                        delay,
                        reason,
                        status,
                        attempt,
                        self.max_retries,
                    )
                    response.close()
                    time.sleep(delay)
                    continue
            raise self._http_error(response, prepared, retry_after)

    def _http_error(
        self, response: Any, prepared: PreparedQuery, retry_after: float | None
    ) -> ScubaError:
        return error_from_response(
            response.status_code,
            response.content,
            host=self.host,
            url=prepared.url,
            content_type=response.headers.get("Content-Type"),
            rid=prepared.rid,
            retry_after=retry_after,
            sent_token=self._token is not None,
            secrets=self._secrets(),
        )

    def _follow_redirect(self, response: Any, url: str, redirects: int) -> str:
        """The URL to post to next, or raise: only same-origin 307/308 are followed."""
        from urllib.parse import urljoin

        status = response.status_code
        location = response.headers.get("Location")
        response.close()
        if not location:
            raise ResponseError(
                f"{url} answered a redirect (HTTP {status}) without a Location.", status=status
            )
        target = urljoin(url, location)
        here, there = urlsplit(url), urlsplit(target)
        same_origin = (here.scheme, here.hostname, here.port) == (
            there.scheme,
            there.hostname,
            there.port,
        )
        shown = f"{there.scheme}://{there.netloc}{there.path}"
        if not same_origin:
            raise ResponseError(
                f"{url} redirected to {shown} (HTTP {status}). The query was not sent there, to "
                "keep the API token from going to another host; if that is the right cluster "
                f"address, use host {there.scheme}://{there.netloc}.",
                status=status,
            )
        if status not in (307, 308):
            raise ResponseError(
                f"{url} redirected to {shown} (HTTP {status}), which would turn the query into a "
                "GET (often a login page or a misconfigured proxy); check the host.",
                status=status,
            )
        if redirects >= _MAX_REDIRECTS:
            raise ResponseError(f"Too many redirects from {url}; check the host.", status=status)
        return target

    def _transport_error(
        self, exc: BaseException, read_timeout: float
    ) -> tuple[ScubaConnectionError, bool]:
        """The error to raise for a failed exchange, and whether trying again is safe."""
        import requests
        import urllib3.exceptions as u3

        causes = list(_causes(exc))
        reason = _short_reason(exc)
        host = self.host

        def has(kind: type[BaseException] | tuple[type[BaseException], ...]) -> bool:
            return any(isinstance(cause, kind) for cause in causes)

        if isinstance(exc, requests.exceptions.SSLError) or has(u3.SSLError):
            return ScubaConnectionError(
                f"TLS verification of {host} failed ({reason}). If the cluster uses a private "
                "certificate authority, pass its certificate file as ca_bundle= (or set "
                "REQUESTS_CA_BUNDLE); verification is never turned off."
            ), False
        if isinstance(exc, requests.exceptions.ReadTimeout) or has(u3.ReadTimeoutError):
            return ScubaConnectionError(
                f"No answer from {host} within the read timeout of {read_timeout:g} s; the query "
                "may still be running on the server. Raise the timeout with --timeout SECONDS "
                "(magics, CLI) or timeout=SECONDS (Python), or make the query cheaper."
            ), False
        if has(u3.NameResolutionError):
            return ScubaConnectionError(
                f"Could not resolve the host name of {host} ({reason}). Check the spelling of "
                "the host and your network or VPN."
            ), False
        if has(ConnectionRefusedError) or has(u3.NewConnectionError):
            return ScubaConnectionError(
                f"Could not connect to {host} ({reason}). Check the host and port; for a local "
                "emulator, check it is running (scuba-magic serve, or %scuba_connect --local)."
            ), True
        if isinstance(exc, requests.exceptions.ConnectTimeout) or has(u3.ConnectTimeoutError):
            # after NewConnectionError, which urllib3 derives from ConnectTimeoutError
            return ScubaConnectionError(
                f"Could not connect to {host} within {self.connect_timeout:g} s (connect "
                "timeout). Check the host, your network or VPN."
            ), True
        if isinstance(
            exc,
            (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError),
        ):
            return ScubaConnectionError(
                f"The connection to {host} broke while the answer was arriving, so it is "
                f"incomplete ({reason}). Run the query again."
            ), False
        if isinstance(exc, requests.exceptions.ConnectionError):
            return ScubaConnectionError(
                f"The connection to {host} was closed before an answer arrived ({reason}). Run "
                "the query again; if it keeps happening, check the host or a proxy in between."
            ), True
        return ScubaConnectionError(f"The request to {host} failed: {reason}."), False


def _url_of(decoded: Any) -> str | None:
    """The ``url`` of an explore_url answer, stripped, or None."""
    url = decoded.get("url") if isinstance(decoded, dict) else None
    return url.strip() if isinstance(url, str) and url.strip() else None


def _read_whole_body(response: Any, *, deadline: float) -> None:
    """Read the body in one call and keep it as ``response.content``.

    requests reads a non-streamed body in 10 KiB chunks and joins them, which makes a
    100 MB result about three times slower than the socket allows; one ``read()`` of the
    urllib3 response is as fast as ``http.client``. Its failures are raised as the requests
    exceptions that ``iter_content`` would raise, so the caller's error mapping is unchanged.

    The socket's timeout bounds each wait for a packet only, so a body trickling in a byte at
    a time would never time out; at ``deadline`` (a ``time.monotonic()`` value) the socket is
    shut down instead, and the read raises ``ReadTimeout``.
    """
    import socket
    import threading

    import requests.exceptions as rq
    import urllib3.exceptions as u3

    cut_off = threading.Event()

    def cut() -> None:
        cut_off.set()
        # http.client reads from the socket behind a buffered file; shutting the socket down
        # wakes up a read blocked on it (closing the file would not)
        buffered = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(buffered, "raw", None), "_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed: the read has ended anyway

    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), cut)
    timer.daemon = True
    timer.start()
    try:
        body = response.raw.read(decode_content=True)
    except (u3.HTTPError, OSError) as exc:
        if cut_off.is_set():
            raise rq.ReadTimeout(f"the whole answer took longer than the timeout ({exc})") from exc
        raise _as_requests_error(exc) from exc
    finally:
        timer.cancel()
    if cut_off.is_set():
        response.close()
        raise rq.ReadTimeout("the whole answer took longer than the timeout")
    # requests' own way of holding a body that has been read (see Response.content)
    response._content = body or b""
    response._content_consumed = True
    response.close()


def _as_requests_error(exc: BaseException) -> BaseException:
    """The requests exception that ``iter_content`` raises for a urllib3 read failure."""
    import requests.exceptions as rq
    import urllib3.exceptions as u3

    if isinstance(exc, u3.ProtocolError):
        return rq.ChunkedEncodingError(exc)
    if isinstance(exc, u3.DecodeError):
        return rq.ContentDecodingError(exc)
    if isinstance(exc, u3.ReadTimeoutError):
        return rq.ReadTimeout(exc)
    if isinstance(exc, u3.SSLError):
        return rq.SSLError(exc)
    return rq.ConnectionError(exc)


def _chart_options(chart_type: str | None, chart_name: str | None) -> dict[str, str]:
    """The ``chart_options`` sent with an explore link: always a type (TIME by default)."""
    options: dict[str, object] = {"type": "TIME" if chart_type is None else chart_type}
    if chart_name is not None:
        options["name"] = chart_name
    return _check_chart_options(options)  # type: ignore[arg-type]


def _check_chart_options(options: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(options, Mapping):
        raise RequestValidationError("chart_options must be a dict with name and/or type.")
    unknown = set(options) - {"name", "type"}
    if unknown:
        raise RequestValidationError(
            f"Unknown chart option(s) {', '.join(sorted(map(str, unknown)))}; use name and type."
        )
    checked: dict[str, str] = {}
    if options.get("name") is not None:
        name = options["name"]
        if not isinstance(name, str):
            raise RequestValidationError(f"The chart name must be a string, not {name!r}.")
        checked["name"] = name
    if options.get("type") is not None:
        checked["type"] = _check_choice(options["type"], CHART_TYPES, "chart type", upper=True)
    return checked


def _describe(bql: str) -> Any:
    """The query's output shape, or None: the server, not this parser, judges the query."""
    try:
        from scuba_magic import bql as bql_module

        return bql_module.describe(bql)
    except Exception as exc:  # noqa: BLE001 - a parser gap must never block a query
        logger.debug("BQL shape unknown (%s); decoding without it", type(exc).__name__)
        return None


def _positive(
    value: object,
    name: str,
    *,
    allow_zero: bool = False,
    error: type[ScubaError] = ConfigError,
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"{name} must be a number of seconds, not {value!r}.")
    number = float(value)
    if number < 0 or (number == 0 and not allow_zero) or number != number:
        raise error(f"{name} must be a positive number of seconds, not {value!r}.")
    return number
