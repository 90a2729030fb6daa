"""The emulator's table catalog: which tables exist, their columns, time column and actors.

The compiler only ever puts identifiers into SQL that come from here, so a name in a query is
checked against the catalog before it can reach DuckDB. Column types are DuckDB type names; the
compiler reduces them to the few kinds BQL cares about (string, number, boolean, time).

    >>> table = Table("foreverMusic", {"time": "TIMESTAMP", "user": "VARCHAR"},
    ...               time_column="time", actor_columns=["user"], aliases=["music"])
    >>> Catalog([table]).table("music").sql_name
    'foreverMusic'
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from scuba_magic.emulator.compile_errors import CompileError

_INTEGER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "INT",
    "INT1",
    "INT2",
    "INT4",
    "INT8",
)
# every numeric type: the integers above and the fractional ones
_NUMBER_TYPES = _INTEGER_TYPES + (
    "FLOAT",
    "DOUBLE",
    "REAL",
    "DECIMAL",
    "NUMERIC",
    "FLOAT4",
    "FLOAT8",
)


def type_kind(duckdb_type: str) -> str:
    """Reduce a DuckDB type name to the kind BQL reasons about.

    Args:
        duckdb_type: a DuckDB type name such as ``"VARCHAR"`` or ``"DECIMAL(18,3)"``.

    Returns:
        ``"integer"``, ``"number"``, ``"boolean"``, ``"time"``, ``"string"`` or ``"other"``.
    """
    base = duckdb_type.upper().split("(")[0].strip()
    if base in _INTEGER_TYPES:
        return "integer"
    if base in _NUMBER_TYPES:
        return "number"
    if base in ("BOOLEAN", "BOOL"):
        return "boolean"
    if base.startswith("TIMESTAMP") or base in ("DATE", "DATETIME"):
        return "time"
    if base in ("VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR", "UUID", "ENUM"):
        return "string"
    return "other"


def quote_identifier(name: str) -> str:
    """Quote a catalog name for DuckDB (double quotes, embedded quotes doubled).

    Only names that come from the catalog are ever passed here; the catalog rejects names
    holding a NUL character, which no quoting can carry.
    """
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Column:
    """One column of a table: its name as written in BQL and its DuckDB type."""

    name: str
    type: str

    @property
    def kind(self) -> str:
        """The BQL kind of the column (see :func:`type_kind`)."""
        return type_kind(self.type)


@dataclass
class Table:
    """A queryable table.

    Args:
        name: the name BQL uses in ``from``.
        columns: column name -> DuckDB type name, in table order.
        time_column: the event time column, a naive UTC ``TIMESTAMP``.
        actor_columns: the columns that have an Actor scope (``Actor<user>``).
        aliases: other names accepted in ``from`` (``music`` for ``foreverMusic``).
        sql_name: the DuckDB table or view name; defaults to ``name``.
    """

    name: str
    columns: dict[str, str]
    time_column: str
    actor_columns: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    sql_name: str = ""

    def __post_init__(self) -> None:
        if not self.sql_name:
            self.sql_name = self.name
        for text in [self.name, self.sql_name, *self.columns, *self.aliases]:
            if "\x00" in text:
                raise ValueError(f"table {self.name!r}: a name may not contain a NUL character")
        if self.time_column not in self.columns:
            raise ValueError(
                f"table {self.name!r}: time column {self.time_column!r} is not one of its columns"
            )
        for actor in self.actor_columns:
            if actor not in self.columns:
                raise ValueError(
                    f"table {self.name!r}: actor column {actor!r} is not one of its columns"
                )

    def column(self, name: str) -> Column:
        """Look up a column by its exact (case-sensitive) name.

        Raises:
            CompileError: the table has no such column; the message names the closest ones.
        """
        if name in self.columns:
            return Column(name, self.columns[name])
        raise CompileError(
            f"table {self.name!r} has no column {name!r}"
            + _suggest(name, list(self.columns), "column")
        )

    def actor(self, name: str) -> str:
        """Check that ``name`` is one of the table's actor columns and return it.

        Raises:
            CompileError: ``name`` is not an actor of this table.
        """
        if name in self.actor_columns:
            return name
        known = ", ".join(self.actor_columns) or "none"
        raise CompileError(
            f"Actor<{name}> is not an actor of table {self.name!r} (its actors: {known})"
            + _suggest(name, self.actor_columns, "actor")
        )


class Catalog:
    """The set of tables the emulator can query, looked up by name or alias."""

    def __init__(self, tables: list[Table] | None = None) -> None:
        self._tables: dict[str, Table] = {}
        for table in tables or []:
            self.add(table)

    def add(self, table: Table) -> None:
        """Register a table under its name and aliases (a later table replaces an earlier one)."""
        for key in [table.name, *table.aliases]:
            self._tables[key] = table

    def names(self) -> list[str]:
        """Every name and alias a query may use in ``from``."""
        return sorted(self._tables)

    def tables(self) -> list[Table]:
        """The registered tables, each once."""
        unique: dict[str, Table] = {}
        for table in self._tables.values():
            unique[table.name] = table
        return list(unique.values())

    def table(self, name: str) -> Table:
        """Look up a table by name or alias (case-sensitive, like every BQL name).

        Raises:
            CompileError: no such table; the message names the closest known names.
        """
        if name in self._tables:
            return self._tables[name]
        known = ", ".join(self.names()) or "none"
        raise CompileError(
            f"unknown table {name!r} (known tables: {known})"
            + _suggest(name, self.names(), "table")
        )


def _suggest(name: str, candidates: list[str], what: str) -> str:
    """A ' — did you mean ...?' tail for an error message, or '' when nothing is close."""
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    if not close:
        return ""
    listed = ", ".join(repr(c) for c in close)
    return f"; did you mean {listed}? BQL {what} names are case-sensitive"
