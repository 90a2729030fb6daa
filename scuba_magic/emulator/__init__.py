"""A local Scuba: the External Query API on loopback, running BQL on DuckDB.

Run it from a shell with ``scuba-magic serve --demo``, or embed it::

    >>> from scuba_magic import ScubaClient
    >>> from scuba_magic.emulator import Emulator
    >>> with Emulator(demo=True, port=0) as emulator:          # doctest: +SKIP
    ...     client = ScubaClient(emulator.url, token=emulator.token)
    ...     client.query("select count(*) from foreverMusic")

The server (uvicorn) runs in a daemon thread on a socket bound before start, so ``port=0``
picks a free port and ``.url`` is known as soon as :meth:`Emulator.start` returns. DuckDB,
Starlette and uvicorn are imported only when an emulator starts.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scuba_magic.emulator.catalog import Catalog
    from scuba_magic.emulator.engine import Engine
    from scuba_magic.emulator.state import StateStore

__all__ = ["Emulator", "is_loopback_host"]

logger = logging.getLogger("scuba_magic.emulator")

DEFAULT_DEMO_EVENTS = 1_000_000
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0


def is_loopback_host(host: str) -> bool:
    """Tell whether binding ``host`` keeps the server reachable from this machine only."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Emulator:
    """An embedded emulator server.

    Args:
        demo: load the seeded ``foreverMusic`` demo table (alias ``music``).
        port: TCP port; 0 picks a free one.
        host: address to bind; anything but loopback needs ``allow_remote=True``.
        tokens: accepted API tokens; None generates one (see :attr:`token`).
        now: the time BQL's ``now`` means (and the demo data ends at): a datetime or ISO 8601
            text such as ``"2026-01-01T00:00:00Z"`` (naive = UTC); None uses the clock.
        state_dir: directory that keeps rids and created tokens across restarts; None keeps them
            in memory only.
        tables: user tables, name -> path of a Parquet, CSV or JSON-lines file.
        query_timeout: seconds after which a running query is stopped and answered with an error.
        rate_limit: requests per token, as ``"5/s"`` / ``"100/min"`` or a number per second;
            None for no limit.
        demo_events: number of demo events.
        time_column: the time column of user tables.
        actor_columns: the actor columns of user tables.
        allow_remote: permit a non-loopback ``host``.
        seed: the demo generator's seed.
        query_workers: queries run at the same time (more wait in line).
        max_rows: the most rows one answer may have; a larger one is refused with a 400.
    """

    def __init__(
        self,
        demo: bool = True,
        port: int = 0,
        host: str = "127.0.0.1",
        tokens: list[str] | None = None,
        now: datetime | str | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        tables: Mapping[str, str | os.PathLike[str]] | None = None,
        query_timeout: float = 30.0,
        rate_limit: str | float | None = None,
        demo_events: int = DEFAULT_DEMO_EVENTS,
        *,
        time_column: str = "time",
        actor_columns: list[str] | None = None,
        allow_remote: bool = False,
        seed: int = 42,
        query_workers: int = 4,
        max_rows: int = 1_000_000,
    ) -> None:
        if not allow_remote and not is_loopback_host(host):
            raise ValueError(
                f"Binding {host!r} would expose the emulator beyond this machine; pass "
                "allow_remote=True (--allow-remote) if that is intended."
            )
        if query_timeout <= 0:
            raise ValueError("query_timeout must be above 0 seconds")
        if tokens is not None and (not tokens or any(not t or t.strip() != t for t in tokens)):
            raise ValueError("tokens must be non-empty strings without surrounding spaces")
        self.demo = demo
        self.host = host
        self.port = port
        self.now = _as_utc(now) if now is not None else None
        self.state_dir = state_dir
        self.tables = dict(tables or {})
        self.query_timeout = float(query_timeout)
        self.rate_limit = rate_limit
        self.demo_events = demo_events
        self.time_column = time_column
        self.actor_columns = list(actor_columns or [])
        self.seed = seed
        self.query_workers = query_workers
        self.max_rows = max_rows
        self.token_generated = tokens is None
        self._tokens = list(tokens) if tokens is not None else [secrets.token_urlsafe(32)]
        self.catalog: Catalog | None = None
        self.engine: Engine | None = None
        self.state: StateStore | None = None
        self._connection: Any = None
        self._executor: Any = None
        self._rate_limiter: Any = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    # -- public -----------------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The first accepted token (generated when none was given)."""
        return self._tokens[0]

    @property
    def tokens(self) -> list[str]:
        """Every token given at construction (or the generated one)."""
        return list(self._tokens)

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8765`` (only once started)."""
        if self._socket is None:
            raise RuntimeError("The emulator is not running: call start() first.")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
        return f"http://{host}:{self.port}"

    @property
    def connection(self) -> Any:
        """The DuckDB connection holding the tables (use ``.cursor()`` from other threads)."""
        if self._connection is None:
            raise RuntimeError("The emulator is not running: call start() first.")
        return self._connection

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Emulator:
        """Load the data, bind the socket and serve in a background thread.

        Returns:
            self, so ``Emulator(...).start()`` chains.

        Raises:
            ValueError: no table to serve, a data file that cannot be loaded, a bad rate limit
                or an unreadable state directory.
            OSError: the port cannot be bound.
            RuntimeError: the server did not come up.
        """
        if self.running:
            return self
        self._build()
        try:
            self._serve()
        except BaseException:
            self._teardown()
            raise
        return self

    def stop(self) -> None:
        """Stop serving and release the socket, DuckDB and threads (bounded wait).

        Queries still running are interrupted, so their clients get an answer at once.
        """
        if self._server is not None:
            self._server.should_exit = True
        if self.engine is not None:
            self.engine.interrupt_all()
        if self._thread is not None:
            self._thread.join(timeout=_STOP_TIMEOUT_S)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout=_STOP_TIMEOUT_S)
        self._teardown()

    def reset(self) -> None:
        """Restore the initial tokens and refill rate limits (tests call this between cases).

        Rids are kept: they only ever grow, like on a cluster.
        """
        if self.state is not None:
            self.state.reset_tokens(self._tokens)
        if self._rate_limiter is not None:
            self._rate_limiter.reset()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._socket is not None else "not running"
        return f"<Emulator {where}>"

    # -- inside -----------------------------------------------------------------------------

    def _build(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        import duckdb

        from scuba_magic.emulator.catalog import Catalog
        from scuba_magic.emulator.engine import Engine
        from scuba_magic.emulator.ratelimit import RateLimiter, parse_rate
        from scuba_magic.emulator.state import StateStore

        limiter = None
        if self.rate_limit is not None:
            rate = (
                parse_rate(self.rate_limit)
                if isinstance(self.rate_limit, str)
                else float(self.rate_limit)
            )
            limiter = RateLimiter(rate)
        state = StateStore(self.state_dir)
        for token in self._tokens:
            state.add_cli_token(token)
        # DuckDB draws a progress widget for long queries when it runs inside a Jupyter
        # kernel (%scuba_connect --local); the emulator's work must not show in the notebook.
        connection = duckdb.connect(":memory:")
        connection.execute("SET enable_progress_bar = false")
        try:
            catalog = Catalog()
            if self.demo:
                from scuba_magic.emulator.demo import create_demo_table

                catalog.add(
                    create_demo_table(
                        connection,
                        events=self.demo_events,
                        now=self.now or datetime.now(timezone.utc),
                        seed=self.seed,
                    )
                )
            for name, path in self.tables.items():
                from scuba_magic.emulator.datasets import load_table

                catalog.add(
                    load_table(
                        connection,
                        name,
                        path,
                        time_column=self.time_column,
                        actor_columns=self.actor_columns,
                    )
                )
            if not catalog.tables():
                raise ValueError(
                    "The emulator has no tables: use the demo data (--demo) or give --table "
                    "NAME=PATH."
                )
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self.catalog = catalog
        self.state = state
        self._rate_limiter = limiter
        self.engine = Engine(
            connection,
            catalog,
            now=self.now,
            query_timeout=self.query_timeout,
            max_rows=self.max_rows,
        )
        self._executor = ThreadPoolExecutor(
            max_workers=self.query_workers, thread_name_prefix="scuba-emulator-query"
        )

    def _serve(self) -> None:
        import uvicorn

        from scuba_magic.emulator.server import EmulatorApp

        assert self.engine is not None and self.state is not None
        app = EmulatorApp(
            self.engine, self.state, self._executor, rate_limiter=self._rate_limiter
        ).build()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host.strip("[]"), self.port))
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            # log_config=None: leave the host program's logging configuration alone
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            # idle keep-alive connections must not hold up stop()
            timeout_graceful_shutdown=5,
            # uvicorn's own server header is noise; the emulator identifies itself at "/"
            server_header=False,
        )
        server = uvicorn.Server(config)
        # uvicorn installs signal handlers only in the main thread; the thread it runs in
        # here is never the main one, so Ctrl-C stays with the host program.
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="scuba-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"The emulator did not start on {self.host}:{self.port}; see the log above."
                )
            time.sleep(0.01)
        logger.info("emulator serving on %s", self.url)

    def _teardown(self) -> None:
        if self.engine is not None:
            self.engine.close()
        if self._executor is not None:
            # running queries were just interrupted, so this wait is short; DuckDB must not be
            # closed under a running cursor
            self._executor.shutdown(wait=True, cancel_futures=True)
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # already closed by a failed start
                pass
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None
        self._executor = None
        self._connection = None
        self.engine = None


def _as_utc(value: datetime | str) -> datetime:
    """A naive datetime is taken as UTC; an aware one is converted to UTC; text is ISO 8601."""
    if isinstance(value, str):
        text = value.strip()
        # fromisoformat takes a trailing Z only from Python 3.11 on
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"now={value!r} is not an ISO 8601 time; pass a datetime or text such as "
                "'2026-01-01T00:00:00Z'."
            ) from None
    elif not isinstance(value, datetime):
        raise TypeError(
            f"now must be a datetime or ISO 8601 text such as '2026-01-01T00:00:00Z', "
            f"not {type(value).__name__}."
        )
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
