"""Load a user's own data file into the emulator as a queryable table (``--table NAME=PATH``).

``load_table(con, "sales", "sales.parquet", time_column="ts", actor_columns=["customer"])``
copies the file into a DuckDB table and returns its catalog entry. Supported files, chosen by
extension (optionally followed by ``.gz``):

- Parquet: ``.parquet``, ``.pq``
- CSV: ``.csv``, ``.tsv`` (delimiter, header and types are detected)
- JSON: ``.jsonl``, ``.ndjson`` (one object per line) and ``.json``

The time column may hold timestamps (with or without a time zone), dates, ISO 8601 strings
(an offset or ``Z`` is honoured; without one the time is UTC) or epoch numbers. Epoch numbers
are told apart by magnitude: below 1e11 they are seconds, below 1e14 milliseconds, below 1e17
microseconds (1e11 seconds is the year 5138; 1e11 milliseconds is 1973). Whatever it held, the
time column becomes a naive UTC ``TIMESTAMP``, which is what the compiler expects.

Every problem is a :class:`DatasetError` (a ``ValueError``) that names the file and says what to
change: a missing file, an unknown extension, an unreadable file, a bad table name, a missing
time or actor column (listing the columns the file has), or time values that are not times.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from scuba_magic.emulator.catalog import Table

# extension -> (format name for messages, DuckDB reader)
_READERS = {
    ".parquet": ("Parquet", "read_parquet"),
    ".pq": ("Parquet", "read_parquet"),
    ".csv": ("CSV", "read_csv_auto"),
    ".tsv": ("CSV", "read_csv_auto"),
    ".jsonl": ("JSON-lines", "read_json_auto"),
    ".ndjson": ("JSON-lines", "read_json_auto"),
    ".json": ("JSON", "read_json_auto"),
}
# A table name must be writable in BQL's `from` without back-quotes.
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Largest magnitude (exclusive) of epoch values in each unit, with microseconds per unit.
_EPOCH_UNITS = [
    (1e11, "seconds", 1_000_000),
    (1e14, "milliseconds", 1_000),
    (1e17, "microseconds", 1),
]


class DatasetError(ValueError):
    """A data file could not be loaded as a table; the message says what to fix."""


def load_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    path: str | Path,
    *,
    time_column: str,
    actor_columns: list[str] | tuple[str, ...] = (),
) -> Table:
    """Copy a Parquet, CSV or JSON(-lines) file into table ``name`` and describe it.

    Args:
        con: the DuckDB connection to create the table in.
        name: the table name queries use in ``from`` (letters, digits, ``_``).
        path: the data file; its extension picks the format.
        time_column: the column holding each event's time.
        actor_columns: the columns with an Actor scope (e.g. ``["user"]``).

    Returns:
        The catalog entry for the new table, its time column a naive UTC ``TIMESTAMP``.

    Raises:
        DatasetError: the name, file, format, columns or time values are unusable.
    """
    import duckdb

    from scuba_magic.emulator.catalog import Table, quote_identifier

    path = Path(path)
    if not _TABLE_NAME.match(name):
        raise DatasetError(
            f"bad table name {name!r} for {path}: use letters, digits and '_', "
            "not starting with a digit (e.g. my_table)"
        )
    reader = _reader_for(path)
    if not path.is_file():
        raise DatasetError(f"data file {path} does not exist (or is not a file); check the path")

    # Its own cursor with TimeZone UTC: times without an offset are read as UTC whatever the
    # machine's zone is, and the caller's connection settings stay untouched.
    cur = con.cursor()
    try:
        cur.execute("SET TimeZone = 'UTC'")
        source = f"{reader}(?)"
        try:
            schema = cur.execute(f"DESCRIBE SELECT * FROM {source}", [str(path)]).fetchall()
        except duckdb.Error as exc:
            raise DatasetError(f"could not read {path}: {_first_line(exc)}") from exc
        types = {row[0]: row[1] for row in schema}
        _check_columns(path, types, time_column, actor_columns)

        table_sql = quote_identifier(name)
        try:
            cur.execute(f"CREATE TABLE {table_sql} AS SELECT * FROM {source}", [str(path)])
        except duckdb.CatalogException as exc:
            raise DatasetError(
                f"cannot load {path} as table {name!r}: a table with that name already exists; "
                "pick another name"
            ) from exc
        except duckdb.Error as exc:
            raise DatasetError(f"could not read {path}: {_first_line(exc)}") from exc
        try:
            _normalize_time(cur, path, table_sql, time_column, types[time_column])
        except BaseException:
            cur.execute(f"DROP TABLE IF EXISTS {table_sql}")
            raise
        columns = {row[0]: row[1] for row in cur.execute(f"DESCRIBE {table_sql}").fetchall()}
    finally:
        cur.close()
    return Table(
        name,
        columns,
        time_column=time_column,
        actor_columns=list(actor_columns),
        aliases=[],
        sql_name=name,
    )


def _reader_for(path: Path) -> str:
    """The DuckDB reader function for a file, chosen by its extension."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    extension = suffixes[-1] if suffixes else ""
    if extension not in _READERS:
        known = ", ".join(sorted(_READERS))
        raise DatasetError(
            f"unknown data file format {extension or '(no extension)'!r} for {path}: "
            f"use one of {known} (optionally gzipped, .gz)"
        )
    return _READERS[extension][1]


def _check_columns(
    path: Path, types: dict[str, str], time_column: str, actor_columns: list[str] | tuple[str, ...]
) -> None:
    present = ", ".join(types) or "none"
    if time_column not in types:
        raise DatasetError(
            f"{path} has no time column {time_column!r}; its columns are: {present}. "
            "Name the right one with --time-column"
        )
    for actor in actor_columns:
        if actor not in types:
            raise DatasetError(
                f"{path} has no actor column {actor!r}; its columns are: {present}. "
                "Name the right ones with --actor"
            )


def _normalize_time(
    cur: duckdb.DuckDBPyConnection, path: Path, table_sql: str, column: str, column_type: str
) -> None:
    """Convert the time column in place to a naive UTC TIMESTAMP."""
    import duckdb

    from scuba_magic.emulator.catalog import quote_identifier, type_kind

    col = quote_identifier(column)
    kind = column_type.upper()
    base = kind.split("(")[0].strip()
    if kind == "TIMESTAMP":
        return
    if kind in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        using = f"timezone('UTC', {col})"
    elif base.startswith("TIMESTAMP") or base == "DATE":
        using = f"CAST({col} AS TIMESTAMP)"
    elif base == "VARCHAR":
        using = f"timezone('UTC', CAST({col} AS TIMESTAMPTZ))"
    elif type_kind(column_type) in ("integer", "number"):
        using = _epoch_expression(cur, path, table_sql, column)
    else:
        raise DatasetError(
            f"time column {column!r} of {path} has type {column_type}; it must hold timestamps, "
            "ISO 8601 strings or epoch seconds/milliseconds"
        )
    try:
        cur.execute(
            f"ALTER TABLE {table_sql} ALTER COLUMN {col} SET DATA TYPE TIMESTAMP USING {using}"
        )
    except duckdb.Error as exc:
        example = ""
        if base == "VARCHAR":
            bad = cur.execute(
                f"SELECT {col} FROM {table_sql} "
                f"WHERE {col} IS NOT NULL AND TRY_CAST({col} AS TIMESTAMPTZ) IS NULL LIMIT 1"
            ).fetchone()
            if bad is not None:
                example = f" (for example {bad[0]!r})"
        raise DatasetError(
            f"time column {column!r} of {path} holds values that are not times{example}: "
            "use ISO 8601 strings such as 2021-01-31T12:00:00Z, timestamps, or epoch "
            "seconds/milliseconds"
        ) from exc


def _epoch_expression(
    cur: duckdb.DuckDBPyConnection, path: Path, table_sql: str, column: str
) -> str:
    """SQL turning an epoch-number column into a TIMESTAMP, its unit judged by magnitude."""
    from scuba_magic.emulator.catalog import quote_identifier

    col = quote_identifier(column)
    (largest,) = cur.execute(f"SELECT max(abs({col})) FROM {table_sql}").fetchone()
    largest = float(largest or 0)
    for limit, _unit, micros in _EPOCH_UNITS:
        if largest < limit:
            return f"make_timestamp(CAST(round({col} * {micros}) AS BIGINT))"
    raise DatasetError(
        f"time column {column!r} of {path} holds numbers up to {largest:.0f}, too large for epoch "
        "seconds, milliseconds or microseconds; convert it to one of those or to ISO 8601 strings"
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
