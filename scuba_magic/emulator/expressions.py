"""Translate BQL expressions (filters, scalars, aggregations, measure arithmetic) to DuckDB SQL.

Every literal becomes a numbered bound parameter (``$1``, ``$2``...), and every name is looked up
in the catalog (or among the query's actor properties) before it is quoted, so no text of the
query reaches the SQL unchecked. Semantics fixed here (design.md section 7 is silent on them):

- A condition on a missing value is false: ``gender != "F"`` and ``gender = "F"`` are both false
  for an event without a gender, while ``not(gender = "F")`` is true for it (two-valued logic,
  each comparison is ``COALESCE(..., FALSE)``).
- ``like`` is a regular-expression search (RE2), matching anywhere unless anchored.
- ``x / 0`` is null, ``sqrt`` of a negative number is null, ``ROUND(x, n)`` rounds to ``n``
  decimal places (half away from zero; a negative ``n`` rounds to tens, hundreds...).
- ``last(x)`` is the value of ``x`` at the latest event that has one (ties: the largest value).
- ``percentile(x, p)`` is the discrete (nearest-rank) percentile: the smallest value with at
  least p% of the values at or below it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass

from scuba_magic.bql import ast
from scuba_magic.emulator.catalog import Table, quote_identifier
from scuba_magic.emulator.compile_errors import CompileError, UnsupportedError

NUMERIC = ("integer", "number")
_INT64 = (-(2**63), 2**63 - 1)
_KIND_NAMES = {
    "integer": "a number",
    "number": "a number",
    "string": "a string",
    "boolean": "a boolean",
    "time": "a time",
    "other": "a value of an unsupported type",
}


@dataclass(frozen=True)
class Typed:
    """A SQL expression with the BQL kind of its value."""

    sql: str
    kind: str


class Params:
    """The bound parameters of one statement, referenced as ``$1``, ``$2``... in the SQL."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def add(self, value: object, sql_type: str) -> str:
        """Bind ``value`` and return the SQL that reads it as ``sql_type``."""
        self.values.append(value)
        return f"CAST(${len(self.values)} AS {sql_type})"

    def number(self, value: int | float, node: ast.Node | None = None) -> Typed:
        """Bind a BQL number (BIGINT for integers, DOUBLE otherwise)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CompileError(f"expected a number, got {value!r}", **where(node))
        if isinstance(value, int):
            if not _INT64[0] <= value <= _INT64[1]:
                raise CompileError(f"the number {value} is too large", **where(node))
            return Typed(self.add(value, "BIGINT"), "integer")
        return Typed(self.add(float(value), "DOUBLE"), "number")


def where(node: ast.Node | None) -> dict[str, int]:
    """``line``/``column`` keyword arguments for an error about ``node``."""
    if node is None or node.pos is None:
        return {}
    return {"line": node.pos[0], "column": node.pos[1]}


def kind_name(kind: str) -> str:
    """How an error message names a kind ("a number", "a string"...)."""
    return _KIND_NAMES.get(kind, kind)


def reject_flow(node: ast.Node) -> None:
    """Raise the emulator's error for ``Flow<...>``."""
    name = getattr(node, "flow", "")
    raise UnsupportedError(
        f"Flows are defined in the Scuba UI and are not supported by the emulator; "
        f"Flow<{name}> cannot run here. Express the question with per-aggregation filters "
        "and Actor<...> properties, or run it on a Scuba cluster",
        **where(node),
    )


_regex_lock = threading.Lock()
_regex_connection = None


@functools.lru_cache(maxsize=256)
def _regex_problem(pattern: str) -> str | None:
    """What DuckDB's regex engine (RE2) says is wrong with ``pattern``, or None."""
    import duckdb

    global _regex_connection
    with _regex_lock:
        if _regex_connection is None:
            _regex_connection = duckdb.connect()
        try:
            _regex_connection.execute("SELECT regexp_matches('', $1)", [pattern]).fetchall()
        except duckdb.Error as exc:
            return str(exc).split(":", 1)[-1].strip()
    return None


def check_regex(pattern: str, node: ast.Node) -> None:
    """Raise CompileError unless DuckDB's regex engine (RE2) accepts ``pattern``."""
    problem = _regex_problem(pattern)
    if problem is not None:
        raise CompileError(
            f"invalid regular expression for like: {problem}; like takes an RE2 regular "
            "expression such as '.*jack.*'",
            **where(node),
        )


class ColumnScope:
    """The catalog columns one SQL source reads, each selected under an internal alias.

    Columns are renamed ``c0``, ``c1``... so that no table column can clash with the names the
    compiler adds (``k``, ``t``, ``p0``...), whatever the table calls its columns.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self.aliases: dict[str, str] = {}

    def ref(self, name: str, node: ast.Node | None = None) -> Typed:
        """The internal alias of a column, registering it; CompileError for unknown names."""
        try:
            column = self.table.column(name)
        except CompileError as exc:
            raise CompileError(exc.message, **where(node)) from None
        kind = column.kind
        if kind == "other":
            raise CompileError(
                f"column {name!r} has type {column.type}, which BQL cannot use", **where(node)
            )
        alias = self.aliases.setdefault(name, f"c{len(self.aliases)}")
        if column.type.upper().startswith(("DECIMAL", "NUMERIC")):
            kind = "number"
        return Typed(alias, kind)

    def select_list(self) -> list[str]:
        """``"col" AS cN`` items for the source's SELECT (DECIMAL read as DOUBLE)."""
        items = []
        for name, alias in self.aliases.items():
            sql = quote_identifier(name)
            column_type = self.table.columns[name].upper()
            if column_type.startswith(("DECIMAL", "NUMERIC")):
                sql = f"CAST({sql} AS DOUBLE)"
            items.append(f"{sql} AS {alias}")
        return items


PropertyResolver = Callable[[ast.Node], Typed | None]
"""Given a Column or ActorExpr node, the SQL of an actor property, or None if it is not one."""

AggregateRef = Callable[[ast.Aggregate], Typed]
"""Given an aggregation node, the SQL that stands for its value in a measure."""


@dataclass(frozen=True)
class AggregateSQL:
    """One aggregation compiled over a row source: SQL, result kind, and whether it counts.

    Counts are 0 over no rows; every other aggregation is null there.
    """

    sql: str
    kind: str
    is_count: bool


class ExpressionCompiler:
    """Compile expressions over one row source (a ColumnScope plus actor properties).

    Args:
        scope: the catalog columns of the source.
        params: where literals are bound.
        properties: resolves ``with`` names and ``Actor<a>(...)`` nodes; ``None`` where actor
            properties are not allowed (inside an actor property's own expression).
        time_sql: the SQL of the event time (epoch microseconds) in this source.
    """

    def __init__(
        self,
        scope: ColumnScope,
        params: Params,
        properties: PropertyResolver | None,
        time_sql: str = "t",
    ) -> None:
        self.scope = scope
        self.params = params
        self.properties = properties
        self.time_sql = time_sql

    # -- scalar values -------------------------------------------------------------------

    def value(self, node: ast.Expr) -> Typed:
        """Compile an event-level value (no aggregation)."""
        if isinstance(node, ast.Number):
            return self.params.number(node.value, node)
        if isinstance(node, ast.String):
            return Typed(self.params.add(node.value, "VARCHAR"), "string")
        if isinstance(node, ast.Column):
            resolved = self.properties(node) if self.properties else None
            if resolved is not None:
                return resolved
            return self.scope.ref(node.name, node)
        if isinstance(node, ast.ActorExpr):
            if self.properties is None:
                raise CompileError(
                    "an Actor<...> property cannot be used inside another actor property",
                    **where(node),
                )
            resolved = self.properties(node)
            assert resolved is not None
            return resolved
        if isinstance(node, ast.UnaryOp):
            operand = self.numeric(self.value(node.operand), node, "-")
            return Typed(f"(- {operand.sql})", operand.kind)
        if isinstance(node, ast.BinaryOp):
            return self.arithmetic(node, self.value(node.left), self.value(node.right))
        if isinstance(node, ast.FunctionCall):
            return self.function(node, self.value)
        if isinstance(node, ast.FlowRef):
            reject_flow(node)
        if isinstance(node, ast.Aggregate):
            raise CompileError(
                f"the aggregation {node.func}(...) cannot be used here: aggregations belong in "
                "the select list (or inside Actor<...>(...))",
                **where(node),
            )
        if isinstance(node, ast.Star):
            raise CompileError("* can only be used in count(*)", **where(node))
        raise CompileError(
            "a condition cannot be used as a value here; conditions go in an aggregation's "
            'where, e.g. count(* where page = "Error")',
            **where(node),
        )

    def numeric(self, typed: Typed, node: ast.Node, what: str) -> Typed:
        """Check that a value is a number (for arithmetic and numeric functions)."""
        if typed.kind not in NUMERIC:
            raise CompileError(
                f"{what} needs numbers, but got {kind_name(typed.kind)}", **where(node)
            )
        return typed

    def arithmetic(self, node: ast.BinaryOp, left: Typed, right: Typed) -> Typed:
        """``left op right`` for numbers; division by zero gives null."""
        self.numeric(left, node.left, f"'{node.op}'")
        self.numeric(right, node.right, f"'{node.op}'")
        if node.op == "/":
            return Typed(f"(CAST({left.sql} AS DOUBLE) / NULLIF({right.sql}, 0))", "number")
        if node.op not in ("+", "-", "*"):
            raise CompileError(f"unknown operator {node.op!r}", **where(node))
        kind = "integer" if left.kind == right.kind == "integer" else "number"
        return Typed(f"({left.sql} {node.op} {right.sql})", kind)

    def function(self, node: ast.FunctionCall, compile_arg: Callable[[ast.Expr], Typed]) -> Typed:
        """``ROUND(x, n)`` and ``sqrt(x)``, over values or over measures."""
        name = node.name.lower()
        if name == "sqrt":
            if len(node.args) != 1:
                raise CompileError("sqrt takes one argument: sqrt(x)", **where(node))
            arg = self.numeric(compile_arg(node.args[0]), node, "sqrt")
            return Typed(
                f"(CASE WHEN {arg.sql} >= 0 THEN sqrt(CAST({arg.sql} AS DOUBLE)) END)", "number"
            )
        if name == "round":
            if len(node.args) != 2:
                raise CompileError(
                    "ROUND takes two arguments: ROUND(x, n) with n the decimal places",
                    **where(node),
                )
            arg = self.numeric(compile_arg(node.args[0]), node, "ROUND")
            digits = _integer_literal(node.args[1])
            if digits is None or not -18 <= digits <= 18:
                raise CompileError(
                    "the second argument of ROUND must be a whole number of decimal places "
                    "between -18 and 18, e.g. ROUND(length, 1)",
                    **where(node),
                )
            places = self.params.add(digits, "INTEGER")
            return Typed(f"round(CAST({arg.sql} AS DOUBLE), {places})", "number")
        raise CompileError(
            f"unknown function {node.name!r}; BQL has ROUND(x, n) and sqrt(x)", **where(node)
        )

    # -- conditions ----------------------------------------------------------------------

    def condition(self, node: ast.Expr) -> str:
        """Compile a filter to a SQL boolean that is never null (see the module docstring)."""
        if isinstance(node, ast.And):
            return f"({self.condition(node.left)} AND {self.condition(node.right)})"
        if isinstance(node, ast.Or):
            return f"({self.condition(node.left)} OR {self.condition(node.right)})"
        if isinstance(node, ast.Not):
            return f"(NOT {self.condition(node.operand)})"
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.In):
            target = self.value(node.expr)
            items = []
            for item in node.values:
                typed = self.value(item)
                self.comparable(target, typed, node, "in")
                items.append(typed.sql)
            return f"COALESCE({target.sql} IN ({', '.join(items)}), FALSE)"
        if isinstance(node, ast.Like):
            target = self.value(node.expr)
            if target.kind != "string":
                raise CompileError(
                    f"like matches strings, but its left side is {kind_name(target.kind)}",
                    **where(node),
                )
            check_regex(node.pattern, node)
            pattern = self.params.add(node.pattern, "VARCHAR")
            return f"COALESCE(regexp_matches({target.sql}, {pattern}), FALSE)"
        if isinstance(node, ast.FlowRef):
            reject_flow(node)
        typed = self.value(node)
        if typed.kind != "boolean":
            raise CompileError(
                f"a filter needs a condition, but this is {kind_name(typed.kind)}; compare it, "
                "e.g. where age > 30 (only boolean properties can stand alone)",
                **where(node),
            )
        return f"COALESCE({typed.sql}, FALSE)"

    def compare(self, node: ast.Compare) -> str:
        """``left op right``: false when either side is missing."""
        operators = {"=": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
        if node.op not in operators:
            raise CompileError(f"unknown comparison {node.op!r}", **where(node))
        left, right = self.value(node.left), self.value(node.right)
        self.comparable(left, right, node, node.op)
        return f"COALESCE({left.sql} {operators[node.op]} {right.sql}, FALSE)"

    def comparable(self, left: Typed, right: Typed, node: ast.Node, op: str) -> None:
        """Raise CompileError unless the two kinds can be compared."""
        if left.kind in NUMERIC and right.kind in NUMERIC:
            return
        if left.kind == right.kind and left.kind in ("string", "boolean", "time"):
            return
        raise CompileError(
            f"cannot compare {kind_name(left.kind)} with {kind_name(right.kind)} using {op}; "
            'strings are quoted ("F"), numbers are not (30)',
            **where(node),
        )

    # -- aggregations --------------------------------------------------------------------

    def aggregate(self, node: ast.Aggregate, actor_column: Callable[[str], Typed]) -> AggregateSQL:
        """Compile one aggregation over this source's rows.

        Args:
            node: the aggregation.
            actor_column: the SQL of an actor column (for ``on Actor<a>``).
        """
        func = node.func.lower()
        filters = [self.condition(node.where)] if node.where is not None else []
        if node.on_actor is not None and func != "count":
            raise CompileError(
                f"only count(*) can be computed on Actor<{node.on_actor}>; "
                f"{func}(...) is always over events",
                **where(node),
            )
        if isinstance(node.arg, ast.Star) and func != "count":
            raise CompileError(f"{func}(*) is not valid; only count takes *", **where(node))

        if func == "count":
            if node.on_actor is not None:
                if not isinstance(node.arg, ast.Star):
                    raise CompileError(
                        f"write count(* on Actor<{node.on_actor}>) to count actors",
                        **where(node),
                    )
                actor = actor_column(node.on_actor)
                return AggregateSQL(
                    _filtered(f"count(DISTINCT {actor.sql})", filters), "integer", True
                )
            if isinstance(node.arg, ast.Star):
                return AggregateSQL(_filtered("count(*)", filters), "integer", True)
            arg = self.value(node.arg)
            return AggregateSQL(_filtered(f"count({arg.sql})", filters), "integer", True)

        arg = self.value(node.arg)
        if func == "count_unique":
            return AggregateSQL(_filtered(f"count(DISTINCT {arg.sql})", filters), "integer", True)
        if func in ("sum", "avg", "percentile"):
            if arg.kind not in NUMERIC:
                raise CompileError(
                    f"{func} needs a numeric property, but its argument is "
                    f"{kind_name(arg.kind)}; use count_unique or last for strings",
                    **where(node),
                )
        if func == "sum":
            if arg.kind == "integer":
                total = _filtered(f"sum({arg.sql})", filters)
                return AggregateSQL(f"CAST({total} AS BIGINT)", "integer", False)
            return AggregateSQL(
                _filtered(f"sum(CAST({arg.sql} AS DOUBLE))", filters), "number", False
            )
        if func == "avg":
            return AggregateSQL(
                _filtered(f"avg(CAST({arg.sql} AS DOUBLE))", filters), "number", False
            )
        if func in ("min", "max"):
            if arg.kind not in (*NUMERIC, "string"):
                raise CompileError(
                    f"{func} needs a numeric or string property, but its argument is "
                    f"{kind_name(arg.kind)}",
                    **where(node),
                )
            return AggregateSQL(_filtered(f"{func}({arg.sql})", filters), arg.kind, False)
        if func == "last":
            if arg.kind == "time":
                raise CompileError("last(...) of a time column is not supported", **where(node))
            order = f"{{'t': {self.time_sql}, 'v': {arg.sql}}}"
            conditions = [f"{arg.sql} IS NOT NULL", *filters]
            return AggregateSQL(
                _filtered(f"arg_max({arg.sql}, {order})", conditions), arg.kind, False
            )
        if func == "percentile":
            percent = node.percentile
            if (
                isinstance(percent, bool)
                or not isinstance(percent, (int, float))
                or not (0 <= percent <= 100)
            ):
                raise CompileError(
                    "percentile takes a number between 0 and 100: percentile(x, 90)",
                    **where(node),
                )
            fraction = self.params.add(float(percent) / 100.0, "DOUBLE")
            return AggregateSQL(
                _filtered(f"quantile_disc({arg.sql}, {fraction})", filters), arg.kind, False
            )
        raise CompileError(
            f"unknown aggregation {node.func!r}; BQL has count, count_unique, sum, avg, min, "
            "max, last and percentile",
            **where(node),
        )

    # -- measures ------------------------------------------------------------------------

    def measure(self, node: ast.Expr, aggregate_ref: AggregateRef) -> Typed:
        """Compile measure arithmetic, with each aggregation replaced by ``aggregate_ref``."""
        if isinstance(node, ast.Aggregate):
            return aggregate_ref(node)
        if isinstance(node, ast.Number):
            return self.params.number(node.value, node)
        if isinstance(node, ast.UnaryOp):
            operand = self.numeric(self.measure(node.operand, aggregate_ref), node, "-")
            return Typed(f"(- {operand.sql})", operand.kind)
        if isinstance(node, ast.BinaryOp):
            left = self.measure(node.left, aggregate_ref)
            right = self.measure(node.right, aggregate_ref)
            return self.arithmetic(node, left, right)
        if isinstance(node, ast.FunctionCall):
            return self.function(node, lambda arg: self.measure(arg, aggregate_ref))
        if isinstance(node, ast.FlowRef):
            reject_flow(node)
        if isinstance(node, (ast.Column, ast.ActorExpr)):
            raise CompileError(
                "a property in a measure must be inside an aggregation, e.g. sum(length); "
                "a property alone in the select list groups by it",
                **where(node),
            )
        raise CompileError(
            "a measure is an aggregation (count, count_unique, sum, avg, min, max, last, "
            "percentile) or arithmetic on aggregations and numbers",
            **where(node),
        )


def _filtered(sql: str, conditions: list[str]) -> str:
    if not conditions:
        return sql
    return f"{sql} FILTER (WHERE {' AND '.join(conditions)})"


def _integer_literal(node: ast.Expr) -> int | None:
    if isinstance(node, ast.Number) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.UnaryOp) and node.op == "-":
        inner = _integer_literal(node.operand)
        return None if inner is None else -inner
    return None
