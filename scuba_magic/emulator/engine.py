"""Run one BQL query on DuckDB for the emulator, within a time limit.

``Engine.run(bql)`` parses the text with :func:`scuba_magic.bql.parse`, compiles the AST to SQL
with :func:`scuba_magic.emulator.compiler.compile_query` and executes it on its own cursor of the
shared DuckDB connection, so concurrent requests never share a cursor. A watchdog thread
interrupts any cursor that runs past the query timeout (``cursor.interrupt()``) and keeps
interrupting it until it stops, because an interrupt sent before DuckDB starts executing is lost.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from scuba_magic.emulator.catalog import Catalog

# how often the watchdog re-checks running queries; also the re-interrupt period
_WATCH_PERIOD_S = 0.05
# more rows than this would take gigabytes to encode and no notebook could show them
DEFAULT_MAX_ROWS = 1_000_000


class QueryTimeoutError(Exception):
    """The query ran longer than the emulator's query timeout and was interrupted."""


class QueryExecutionError(Exception):
    """DuckDB refused or failed the compiled query (e.g. a value of the wrong type)."""


class ResultTooLargeError(Exception):
    """The query's answer has more rows than the emulator returns."""


@dataclasses.dataclass(frozen=True)
class QueryResult:
    """The rows of one executed query.

    Attributes:
        columns: output column names in order: groups, ``start_time_0``, ``end_time_0``, measures.
        types: the DuckDB type name of each column.
        rows: one tuple per group per time bucket, JSON-ready values (int, float, str, bool, None).
        groups: the group column labels (a prefix of ``columns``).
        measures: the measure labels (a suffix of ``columns``).
        group_levels: ``groups`` split by ``group by ... and by ...`` level.
        timezone: the query's time zone name (``UTC`` unless the query says otherwise).
        elapsed_s: seconds spent parsing, compiling and executing.
    """

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    groups: list[str]
    measures: list[str]
    timezone: str
    elapsed_s: float
    group_levels: list[list[str]] = dataclasses.field(default_factory=list)


class Engine:
    """Compiles and runs BQL against the tables of a catalog.

    Args:
        connection: the DuckDB connection holding the tables; each query uses its own cursor.
        catalog: the tables BQL may name.
        now: the fixed time ``now`` means (``--now``); None uses the clock at each query.
        query_timeout: seconds after which a running query is interrupted.
        max_rows: the most rows an answer may have.
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        catalog: Catalog,
        *,
        now: datetime | None = None,
        query_timeout: float = 30.0,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        self.connection = connection
        self.max_rows = max_rows
        self.catalog = catalog
        self.fixed_now = now
        self.query_timeout = query_timeout
        self._lock = threading.Lock()
        self._running: dict[int, tuple[float, Callable[[], None]]] = {}
        self._next_id = 0
        self._wake = threading.Event()
        self._closed = False
        self._watchdog = threading.Thread(
            target=self._watch, name="scuba-emulator-watchdog", daemon=True
        )
        self._watchdog.start()

    def now(self) -> datetime:
        """The time ``now`` stands for in a query started at this moment (UTC, aware)."""
        if self.fixed_now is not None:
            return self.fixed_now
        return datetime.now(timezone.utc)

    def check(self, bql: str) -> None:
        """Parse and compile ``bql`` without running it.

        Raises:
            scuba_magic.bql.BQLError: the query is not valid or not supported (incl. compile
                errors, which derive from it).
            QueryTimeoutError: parsing and compiling alone took longer than the query timeout.
        """
        deadline = time.monotonic() + self.query_timeout
        self._compile(bql)
        if time.monotonic() >= deadline:
            raise QueryTimeoutError(self.timeout_message())

    def run(self, bql: str) -> QueryResult:
        """Parse, compile and execute ``bql``.

        Raises:
            scuba_magic.bql.BQLError: the query is not valid or not supported, or asks for more
                than the data allows (too many time buckets from the first event on).
            QueryTimeoutError: it ran past the query timeout.
            QueryExecutionError: DuckDB could not execute it.
            ResultTooLargeError: the answer has more than ``max_rows`` rows.
        """
        import duckdb

        from scuba_magic.emulator.compiler import CompileError, refusal_of
        from scuba_magic.emulator.expressions import where

        started = time.perf_counter()
        # the time limit covers parsing and compiling too; those run in Python and cannot be
        # interrupted, so the time they took is taken off what DuckDB may use
        deadline = time.monotonic() + self.query_timeout
        query, compiled = self._compile(bql)
        if time.monotonic() >= deadline:
            raise QueryTimeoutError(self.timeout_message())
        with self._lock:
            # the connection object itself is not thread-safe; its cursors are, one per thread
            cursor = self.connection.cursor()
        watch_id = self._register(cursor.interrupt, deadline)
        try:
            cursor.execute(compiled.sql, compiled.params)
            description = cursor.description or []
            raw_rows = cursor.fetchmany(self.max_rows + 1)
        except duckdb.InterruptException as exc:
            raise QueryTimeoutError(self.timeout_message()) from exc
        except duckdb.Error as exc:
            message = _first_line(str(exc))
            refusal = refusal_of(message)
            if refusal is not None:
                # a limit the SQL checks against the data: a fault of the query like any other
                raise CompileError(refusal, **where(query.time_series)) from None
            raise QueryExecutionError(message) from exc
        finally:
            self._unregister(watch_id)
            cursor.close()
        if len(raw_rows) > self.max_rows:
            raise ResultTooLargeError(
                f"The answer has more than {self.max_rows:,} rows. Add 'limit N' to the group "
                "by, use a coarser 'for every', or a shorter time range."
            )
        columns = list(compiled.columns)
        types = [str(item[1]) for item in description]
        if len(types) != len(columns):
            types = (types + ["UNKNOWN"] * len(columns))[: len(columns)]
        rows = [tuple(_json_value(v) for v in row) for row in raw_rows]
        return QueryResult(
            columns=columns,
            types=types,
            rows=rows,
            groups=list(compiled.groups),
            measures=list(compiled.measures),
            timezone=compiled.timezone,
            elapsed_s=time.perf_counter() - started,
            group_levels=_group_levels(query, list(compiled.groups)),
        )

    @property
    def running_queries(self) -> int:
        """How many queries DuckDB is executing right now."""
        with self._lock:
            return len(self._running)

    def interrupt_all(self) -> None:
        """Stop every running query now (each answers with the timeout error)."""
        with self._lock:
            for watch_id, (_, interrupt) in self._running.items():
                # a past deadline makes the watchdog repeat the interrupt until the query ends
                self._running[watch_id] = (0.0, interrupt)
        self._wake.set()

    def close(self) -> None:
        """Interrupt running queries and stop the watchdog thread."""
        with self._lock:
            self._closed = True
            interrupts = [interrupt for _, interrupt in self._running.values()]
        for interrupt in interrupts:
            try:
                interrupt()
            except Exception:  # the cursor finished meanwhile
                pass
        self._wake.set()
        self._watchdog.join(timeout=5)

    def _compile(self, bql: str) -> tuple[Any, Any]:
        from scuba_magic.bql import parse
        from scuba_magic.emulator.compiler import compile_query

        query = parse(bql)
        return query, compile_query(query, self.catalog, now=self.now())

    def timeout_message(self) -> str:
        """What a query past the time limit is answered."""
        return (
            f"The query ran longer than the emulator's query timeout of {self.query_timeout:g} s "
            "and was stopped. Narrow the time range, use fewer group-bys or a coarser "
            "'for every', or start the emulator with a larger --query-timeout."
        )

    def _register(self, interrupt: Callable[[], None], deadline: float) -> int:
        with self._lock:
            self._next_id += 1
            self._running[self._next_id] = (deadline, interrupt)
            return self._next_id

    def _unregister(self, watch_id: int) -> None:
        with self._lock:
            self._running.pop(watch_id, None)

    def _watch(self) -> None:
        while True:
            self._wake.wait(_WATCH_PERIOD_S)
            self._wake.clear()
            now = time.monotonic()
            with self._lock:
                if self._closed:
                    return
                overdue = [
                    interrupt for deadline, interrupt in self._running.values() if deadline <= now
                ]
            for interrupt in overdue:
                try:
                    interrupt()
                except Exception:  # a cursor closed meanwhile: nothing left to stop
                    pass


def _group_levels(query: Any, groups: list[str]) -> list[list[str]]:
    """Split the group labels by ``group by`` level (one level when the sizes disagree)."""
    sizes = [len(level.exprs) for level in query.effective_group_levels()]
    if sum(sizes) != len(groups):
        return [groups] if groups else []
    levels, start = [], 0
    for size in sizes:
        levels.append(groups[start : start + size])
        start += size
    return levels


def _json_value(value: Any) -> Any:
    """Turn a DuckDB value into one JSON can carry (Decimal -> float, NaN/inf -> None)."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "DuckDB failed without a message"
