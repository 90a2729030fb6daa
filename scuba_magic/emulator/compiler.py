"""Compile a parsed BQL query into one DuckDB SQL statement with bound parameters.

    >>> compiled = compile_query(bql.parse(text), catalog, now=datetime.now(timezone.utc))
    >>> rows = connection.execute(compiled.sql, compiled.params).fetchall()

The statement returns the JSON_POWER_BI rows in their final order: one row per kept group per
time bucket, with the group values (VARCHAR, null kept), ``start_time_0`` and ``end_time_0``
(BIGINT epoch milliseconds, UTC), then the measures. The SQL names its columns by position
(``g0``..., ``m0``...); :attr:`CompiledQuery.columns` holds the labels, so no alias written in
the query ever appears in the SQL.

How the statement is built (all times are epoch microseconds):

1. ``__bounds``: the range ``[s, e)``, resolution ``r``, window ``w``, bucket count ``n``.
   ``beginning_of_time`` is the table's first event, computed here by ``min(time)``.
2. ``__buckets``: bucket ``k`` ends at ``p_k = min(s + k*r, e)`` and covers ``[p_k - w, p_k)``;
   a query without ``for every`` has the single bucket ``[s, e)``. Bucket 0 is the whole range,
   used to rank groups of a time series.
3. ``__ev``: the events the buckets need (the range, plus the look-back of the first trailing
   windows), read once, with only the columns the query uses.
4. ``__evk``: each event with the bucket(s) it falls in. Full buckets are found by arithmetic
   (no range join, no rescan per bucket); the partial last bucket and bucket 0 by comparison.
5. ``__p<j>``: each actor property, read from its own window of the table and aggregated per
   actor (and per bucket for ``over W offset O``), left-joined onto the events by actor.
6. ``__agg``: the aggregations per bucket and group; ``__rank<L>``: the kept groups of each
   ``group by`` level, ranked within their parent; the result is the kept groups crossed with
   every bucket, left-joined to ``__agg`` so missing buckets show counts 0 and other measures null.

Choices where design.md section 7 is silent (pinned in the tests):

- Groups are the distinct group values of the events in the query range (a group whose events
  all fail a measure's ``where`` still shows, with a count of 0); a null group value is a group.
- Ranking: by the ranking measure (the first measure descending, or the ``order by`` measure,
  ascending unless ``desc``) computed over the whole query range, i.e. the value the same query
  without ``for every`` would give; ties by the group values ascending; null measures and null
  group values last. ``limit N`` keeps the first N at each level, within each parent group.
- A partial last bucket follows the rule literally: it ends at the range end and covers a whole
  window ``[e - w, e)``, so it overlaps the bucket before it; likewise the first buckets of
  ``over`` reach back before the range start.
- ``beginning_of_time`` of an empty table is ``now``.
- Actor properties without a timespec cover the query range ``[s, e)``; with ``over W offset
  O`` they cover ``[p + O - W, p + O)`` for each bucket end ``p`` (the range end for the
  ranking and for a query without ``for every``). An actor without events in that window has
  counts of 0 and other values null.
- Value semantics (conditions, ``last``, ``percentile``, ``ROUND``): see
  :mod:`scuba_magic.emulator.expressions`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from scuba_magic.bql import ast
from scuba_magic.bql.shape import describe
from scuba_magic.emulator import timerange
from scuba_magic.emulator.catalog import Catalog, Table, quote_identifier
from scuba_magic.emulator.compile_errors import CompileError, UnsupportedError
from scuba_magic.emulator.expressions import (
    AggregateSQL,
    ColumnScope,
    ExpressionCompiler,
    Params,
    Typed,
    reject_flow,
    where,
)

__all__ = ["CompileError", "CompiledQuery", "UnsupportedError", "compile_query"]

MAX_BUCKETS = 100_000
"""Largest number of time buckets a query may ask for."""

_FIXED_COLUMNS = ("start_time_0", "end_time_0")
# DuckDB's text for a refusal the compiled SQL raises itself with error(); it has no quote, so
# it can stand inside a SQL string literal
_REFUSAL = re.compile(r"(?:[A-Za-z ]+ Error: )?(the query asks for [0-9]+ time buckets, .*)\Z")


def _too_many_buckets(count: str) -> str:
    return (
        f"the query asks for {count} time buckets, more than the {MAX_BUCKETS} allowed; use a "
        "coarser resolution or a shorter range"
    )


def refusal_of(duckdb_message: str) -> str | None:
    """The message of a refusal raised by the compiled SQL itself, or None for other failures.

    A limit that depends on the data (the bucket count of a range starting at the first event)
    is checked by the SQL; DuckDB reports it as an error prefixed with its own error class.

    Args:
        duckdb_message: the first line of DuckDB's error.

    Returns:
        The refusal's message as the compiler would word it, without DuckDB's prefix.
    """
    match = _REFUSAL.match(duckdb_message.strip())
    return match.group(1) if match else None


@dataclass(frozen=True)
class CompiledQuery:
    """One DuckDB statement answering a BQL query.

    Attributes:
        sql: the statement; values are numbered parameters ``$1``, ``$2``...
        params: the parameter values, ``params[0]`` for ``$1``.
        columns: the result's column labels in order: groups, ``start_time_0``,
            ``end_time_0``, measures.
        groups: the group-by labels (e.g. ``"gender"``, ``"ROUND(length, 10)"``).
        measures: the measure labels (alias, ``"count of events"`` or the BQL text).
        timezone: the query's timezone name, ``"UTC"`` when it has none.
    """

    sql: str
    params: list[object]
    columns: list[str]
    groups: list[str]
    measures: list[str]
    timezone: str


def compile_query(query: ast.Query, catalog: Catalog, *, now: dt.datetime) -> CompiledQuery:
    """Compile a parsed query against the catalog.

    Args:
        query: the AST from :func:`scuba_magic.bql.parse`.
        catalog: the tables the query may use.
        now: the moment ``now`` stands for (naive means UTC).

    Returns:
        The statement, its parameters and its column labels.

    Raises:
        UnsupportedError: the query uses a flow.
        CompileError: unknown table, column or actor (naming the closest ones), type errors,
            an empty or oversized time range, a window that is not a multiple of the resolution.
    """
    return _QueryCompiler(query, catalog, now).compile()


@dataclass
class _Property:
    """An actor property: a ``with`` name or an inline ``Actor<a>(expr)``."""

    index: int
    actor: str
    expr: ast.Expr
    timespec: ast.TimeRange | ast.Window | None
    node: ast.Node
    scope: ColumnScope
    aggregates: list[AggregateSQL] = field(default_factory=list)
    value: Typed = Typed("", "")
    actor_alias: str = ""
    main_actor: str = ""
    range_sql: tuple[str, str] = ("", "")
    window_sql: tuple[str, str] = ("", "")
    window_us: int = 0

    @property
    def name(self) -> str:
        return f"__p{self.index}"


class _QueryCompiler:
    """Holds the state of one compilation; see the module docstring for the plan."""

    def __init__(self, query: ast.Query, catalog: Catalog, now: dt.datetime) -> None:
        self.query = query
        self.params = Params()
        try:
            self.table: Table = catalog.table(query.table)
        except CompileError as exc:
            raise CompileError(exc.message, **where(query)) from None
        self.now_us = timerange.to_epoch_us(now)
        self.scope = ColumnScope(self.table)
        self.expressions = ExpressionCompiler(self.scope, self.params, self._property)
        self.with_props: dict[str, ast.WithProperty] = {}
        for prop in query.with_props:
            if prop.name in self.with_props:
                raise CompileError(
                    f"the property {prop.name!r} is defined twice in the with clause",
                    **where(prop),
                )
            if prop.name in self.table.columns:
                raise CompileError(
                    f"the with property {prop.name!r} has the name of a column of "
                    f"{self.table.name!r}; give it another name",
                    **where(prop),
                )
            self.with_props[prop.name] = prop
        self.properties: dict[object, _Property] = {}
        self.uses_first_event = False

    # -- time ----------------------------------------------------------------------------

    def _time_plan(self) -> None:
        query = self.query
        self.zone_name = query.timezone or "UTC"
        self.zone = timerange.resolve_zone(query.timezone, self.now_us)
        time_range = query.time_range
        start_point = time_range.start if time_range else ast.BeginningOfTime()
        end_point = time_range.end if time_range else ast.Now()
        self.start_sql = self._point_sql(start_point)
        self.end_sql = self._point_sql(end_point)
        start_us = timerange.point_us(start_point, self.zone, self.zone_name, self.now_us)
        end_us = timerange.point_us(end_point, self.zone, self.zone_name, self.now_us)
        if start_us is not None and end_us is not None and start_us >= end_us:
            raise CompileError(
                f"the time range is empty: its start ({timerange.format_us(start_us)}) is not "
                f"before its end ({timerange.format_us(end_us)}); write between <earlier> and "
                "<later>",
                **where(time_range),
            )
        series = query.time_series
        self.series = series is not None
        if series is None:
            return
        every = timerange.duration_us(series.every)
        over = timerange.duration_us(series.over) if series.over is not None else every
        if every <= 0 or over <= 0:
            raise CompileError(
                "for every needs a positive resolution and window, e.g. for every 1 day",
                **where(series),
            )
        if over % every:
            raise CompileError(
                "the window of 'for every ... over ...' must be a whole multiple of the "
                f"resolution: {series.over.n} {series.over.unit}(s) is not a multiple of "
                f"{series.every.n} {series.every.unit}(s)",
                **where(series),
            )
        if start_us is not None and end_us is not None:
            buckets = -(-(end_us - start_us) // every)
            if buckets > MAX_BUCKETS:
                raise CompileError(_too_many_buckets(str(buckets)), **where(series))
        self.every_us = every
        self.over_us = over

    def _point_sql(self, point: ast.TimePoint) -> str:
        value = timerange.point_us(point, self.zone, self.zone_name, self.now_us)
        if value is None:
            self.uses_first_event = True
            return "t0"
        return self.params.add(value, "BIGINT")

    # -- actor properties ----------------------------------------------------------------

    def _property(self, node: ast.Node) -> Typed | None:
        """Resolve a Column naming a ``with`` property, or an inline ActorExpr."""
        if isinstance(node, ast.Column):
            prop = self.with_props.get(node.name)
            if prop is None:
                return None
            key: object = ("with", prop.name)
            actor, expr, timespec, origin = prop.actor, prop.expr, prop.timespec, prop
        elif isinstance(node, ast.ActorExpr):
            key = ("actor", node.actor, node.expr, node.timespec)
            actor, expr, timespec, origin = node.actor, node.expr, node.timespec, node
        else:
            return None
        existing = self.properties.get(key)
        if existing is None:
            existing = self._compile_property(actor, expr, timespec, origin)
            self.properties[key] = existing
        return Typed(f"p{existing.index}", existing.value.kind)

    def _compile_property(
        self,
        actor: str,
        expr: ast.Expr,
        timespec: ast.TimeRange | ast.Window | None,
        node: ast.Node,
    ) -> _Property:
        try:
            self.table.actor(actor)
        except CompileError as exc:
            raise CompileError(exc.message, **where(node)) from None
        if not ast.contains_aggregate(expr):
            raise CompileError(
                f"Actor<{actor}>(...) needs an aggregation to compute per actor, e.g. "
                f"Actor<{actor}>(max(age)) or Actor<{actor}>(count(*))",
                **where(node),
            )
        prop = _Property(
            index=len(self.properties),
            actor=actor,
            expr=expr,
            timespec=timespec,
            node=node,
            scope=ColumnScope(self.table),
        )
        compiler = ExpressionCompiler(prop.scope, self.params, None)
        aggregates: dict[ast.Aggregate, int] = {}

        def aggregate_ref(agg: ast.Aggregate) -> Typed:
            if agg not in aggregates:
                aggregates[agg] = len(prop.aggregates)
                prop.aggregates.append(
                    compiler.aggregate(agg, lambda name: self._actor_ref(prop.scope, name, agg))
                )
            compiled = prop.aggregates[aggregates[agg]]
            ref = f"{prop.name}.v{aggregates[agg]}"
            if compiled.is_count:
                ref = f"COALESCE({ref}, 0)"
            return Typed(ref, compiled.kind)

        prop.value = compiler.measure(expr, aggregate_ref)
        prop.actor_alias = prop.scope.ref(actor).sql
        prop.main_actor = self.scope.ref(actor).sql
        if isinstance(timespec, ast.TimeRange):
            prop.range_sql = (self._point_sql(timespec.start), self._point_sql(timespec.end))
        elif isinstance(timespec, ast.Window):
            over = timerange.duration_us(timespec.over)
            if over <= 0:
                raise CompileError("an actor property window must be positive", **where(node))
            offset = timerange.duration_us(timespec.offset) if timespec.offset else 0
            prop.window_us = over
            prop.window_sql = (
                self.params.add(over, "BIGINT"),
                self.params.add(offset, "BIGINT"),
            )
        return prop

    def _check_unused_properties(self) -> None:
        """Compile the ``with`` properties nothing refers to, so their mistakes still show.

        They are compiled against scratch parameters and left out of the statement.
        """
        used = {key[1] for key in self.properties if isinstance(key, tuple) and key[0] == "with"}
        params, self.params = self.params, Params()
        try:
            for name, prop in self.with_props.items():
                if name not in used:
                    self._compile_property(prop.actor, prop.expr, prop.timespec, prop)
        finally:
            self.params = params

    def _actor_ref(self, scope: ColumnScope, name: str, node: ast.Node) -> Typed:
        try:
            self.table.actor(name)
        except CompileError as exc:
            raise CompileError(exc.message, **where(node)) from None
        return scope.ref(name, node)

    # -- the statement -------------------------------------------------------------------

    def compile(self) -> CompiledQuery:
        query = self.query
        for node in _walk_query(query):
            if isinstance(node, ast.FlowRef):
                reject_flow(node)
        self._time_plan()

        measures = query.aggregate_measures()
        if not measures:
            raise CompileError(
                "the select list needs at least one aggregation, e.g. select count(*) from "
                f"{self.table.name}",
                **where(query),
            )
        # The client labels its DataFrame columns with the same function (bql.describe).
        shape = describe(query)
        group_labels, measure_labels = shape.groups, shape.measures
        group_exprs: list[ast.Expr] = []
        level_sizes: list[int] = []
        limits: list[int | None] = []
        for level in query.effective_group_levels():
            group_exprs.extend(level.exprs)
            level_sizes.append(len(group_exprs))
            if level.limit is not None and level.limit < 0:
                raise CompileError("a group limit must not be negative", **where(level))
            limits.append(level.limit)
        group_sql = [self.expressions.value(expr) for expr in group_exprs]

        aggregates: list[AggregateSQL] = []
        aggregate_index: dict[ast.Aggregate, int] = {}

        def register(agg: ast.Aggregate) -> int:
            if agg not in aggregate_index:
                aggregate_index[agg] = len(aggregates)
                aggregates.append(
                    self.expressions.aggregate(
                        agg, lambda name: self._actor_ref(self.scope, name, agg)
                    )
                )
            return aggregate_index[agg]

        def final_ref(agg: ast.Aggregate) -> Typed:
            index = register(agg)
            ref = f"a.a{index}"
            if aggregates[index].is_count:
                ref = f"COALESCE({ref}, 0)"
            return Typed(ref, aggregates[index].kind)

        def inline_ref(agg: ast.Aggregate) -> Typed:
            compiled = aggregates[register(agg)]
            return Typed(compiled.sql, compiled.kind)

        measure_sql = [self.expressions.measure(m.expr, final_ref).sql for m in measures]

        labels = group_labels + list(_FIXED_COLUMNS) + measure_labels
        seen: set[str] = set()
        for label in labels:
            if label in seen:
                raise CompileError(
                    f"two result columns would both be called {label!r}; give one an alias "
                    "with 'as'",
                    **where(query),
                )
            seen.add(label)

        rank_index, descending = 0, True
        if query.order_by is not None:
            if query.order_by.alias not in measure_labels:
                known = ", ".join(repr(label) for label in measure_labels)
                raise CompileError(
                    f"order by {query.order_by.alias!r} does not name a measure; order by takes "
                    f"a measure alias (the measures here: {known})",
                    **where(query.order_by),
                )
            rank_index = measure_labels.index(query.order_by.alias)
            descending = query.order_by.descending
        rank_measure = (
            self.expressions.measure(measures[rank_index].expr, inline_ref).sql
            if group_exprs
            else ""
        )

        self._check_unused_properties()
        sql = self._assemble(
            group_sql=[g.sql for g in group_sql],
            level_sizes=level_sizes,
            limits=limits,
            aggregates=aggregates,
            measure_sql=measure_sql,
            rank_measure=rank_measure,
            descending=descending,
        )
        return CompiledQuery(
            sql=sql,
            params=list(self.params.values),
            columns=labels,
            groups=group_labels,
            measures=measure_labels,
            timezone=self.zone_name,
        )

    def _assemble(
        self,
        *,
        group_sql: list[str],
        level_sizes: list[int],
        limits: list[int | None],
        aggregates: list[AggregateSQL],
        measure_sql: list[str],
        rank_measure: str,
        descending: bool,
    ) -> str:
        table_sql = quote_identifier(self.table.sql_name)
        time_sql = quote_identifier(self.table.time_column)
        ranked = bool(group_sql)
        ctes: list[tuple[str, str]] = []

        # 1. bounds
        inner = f"SELECT {self.start_sql} AS s, {self.end_sql} AS e"
        if self.uses_first_event:
            # An empty table has no first event: its beginning_of_time is taken to be now.
            now = self.params.add(self.now_us, "BIGINT")
            first_event = f"COALESCE((SELECT epoch_us(min({time_sql})) FROM {table_sql}), {now})"
            inner = (
                f"SELECT {self.start_sql} AS s, {self.end_sql} AS e, t0 "
                f"FROM (SELECT {first_event} AS t0)"
            )
        if self.series:
            r = self.params.add(self.every_us, "BIGINT")
            w = self.params.add(self.over_us, "BIGINT")
            count = "CASE WHEN e > s THEN (e - s + r - 1) // r ELSE 0 END"
            # a range from beginning_of_time has its bucket count known only here; the engine
            # turns this refusal into a CompileError (see refusal_of)
            refusal = _too_many_buckets("' || CAST(" + count + " AS VARCHAR) || '")
            guarded = f"CASE WHEN {count} > {MAX_BUCKETS} THEN error('{refusal}') ELSE {count} END"
            ctes.append(
                (
                    "__bounds",
                    f"SELECT *, {guarded} AS n, "
                    "CASE WHEN e > s THEN (e - s) // r ELSE 0 END AS nf, w // r AS m, "
                    "least(s + r, e) AS p1, least(s, least(s + r, e) - w) AS lo "
                    f"FROM (SELECT *, {r} AS r, {w} AS w FROM ({inner}))",
                )
            )
            buckets = (
                "SELECT k, least(s + k * r, e) - w AS lo, least(s + k * r, e) AS hi "
                "FROM (SELECT unnest(generate_series(1, n)) AS k, s, e, r, w FROM __bounds)"
            )
            if ranked:
                buckets += " UNION ALL SELECT 0 AS k, s AS lo, e AS hi FROM __bounds"
        else:
            ctes.append(("__bounds", f"SELECT *, e AS p1, s AS lo FROM ({inner})"))
            buckets = "SELECT 1 AS k, s AS lo, e AS hi FROM __bounds"
        ctes.append(("__buckets", buckets))

        # 3. properties first: they register the main scope's actor columns.
        property_ctes: list[tuple[str, str]] = []
        joins: list[str] = []
        values: list[str] = []
        for prop in sorted(self.properties.values(), key=lambda p: p.index):
            property_ctes.extend(self._property_ctes(prop, table_sql, time_sql, ranked))
            condition = f"{prop.name}.a = m.{prop.main_actor}"
            if isinstance(prop.timespec, ast.Window):
                condition += f" AND {prop.name}.k = m.k"
            joins.append(f"LEFT JOIN {prop.name} ON {condition}")
            values.append(f"{prop.value.sql} AS p{prop.index}")

        columns = ", ".join([f"epoch_us({time_sql}) AS t", *self.scope.select_list()])
        ctes.append(
            (
                "__ev",
                f"SELECT {columns} FROM {table_sql} "
                f"WHERE {time_sql} >= (SELECT make_timestamp(lo) FROM __bounds) "
                f"AND {time_sql} < (SELECT make_timestamp(e) FROM __bounds)",
            )
        )

        # 4. bucket membership. Full bucket k (k <= nf) covers [s + k*r - w, s + k*r), so an
        # event at t is in buckets floor((t - s) / r) + 1 .. + m (m = w / r), found by
        # arithmetic instead of a range join; a partial last bucket (n > nf) ends at e and
        # still covers a whole window [e - w, e), so it takes its events by comparison.
        if not self.series:
            evk = "SELECT 1 AS k, ev.* FROM __ev ev"
        else:
            parts = []
            if ranked:
                parts.append("SELECT 0 AS k, ev.* FROM __ev ev, __bounds b WHERE ev.t >= b.s")
            if self.over_us == self.every_us:
                parts.append(
                    "SELECT (ev.t - b.s + b.r) // b.r AS k, ev.* FROM __ev ev, __bounds b "
                    "WHERE ev.t >= b.s AND ev.t < b.s + b.nf * b.r"
                )
            else:
                # t >= lo >= s - w + r, so t - s + w is positive and // is a floor division.
                k = "((ev.t - b.s + b.w) // b.r - b.m + 1 + o.i)"
                parts.append(
                    f"SELECT {k} AS k, ev.* FROM __ev ev, __bounds b, "
                    "(SELECT unnest(generate_series(0, m - 1)) AS i FROM __bounds) o "
                    f"WHERE {k} BETWEEN 1 AND b.nf"
                )
            parts.append(
                "SELECT b.n AS k, ev.* FROM __ev ev, __bounds b "
                "WHERE b.n > b.nf AND ev.t >= b.e - b.w"
            )
            evk = " UNION ALL ".join(parts)
        ctes.append(("__evk", evk))
        ctes.extend(property_ctes)

        rows = "__evk"
        if self.properties:
            ctes.append(
                (
                    "__rows",
                    f"SELECT m.*, {', '.join(values)} FROM __evk m {' '.join(joins)}",
                )
            )
            rows = "__rows"
        if group_sql:
            keys = ", ".join(f"{sql} AS g{i}" for i, sql in enumerate(group_sql))
            ctes.append(("__rowsg", f"SELECT *, {keys} FROM {rows}"))
            rows = "__rowsg"

        # 6. aggregation, ranking, zero-filled grid
        group_cols = [f"g{i}" for i in range(len(group_sql))]
        agg_items = ", ".join(f"{a.sql} AS a{i}" for i, a in enumerate(aggregates))
        ctes.append(
            (
                "__agg",
                f"SELECT {', '.join(['k', *group_cols])}, {agg_items} FROM {rows} "
                f"GROUP BY {', '.join(['k', *group_cols])}",
            )
        )

        rank_columns: list[str] = []
        if group_sql:
            rank_bucket = 0 if self.series else 1
            direction = "DESC" if descending else "ASC"
            previous = 0
            for level, size in enumerate(level_sizes, start=1):
                keys = group_cols[:size]
                parents = group_cols[:previous]
                new = group_cols[previous:size]
                order = ", ".join(
                    [f"v.m {direction} NULLS LAST", *(f"v.{g} ASC NULLS LAST" for g in new)]
                )
                partition = ""
                if parents:
                    partition = f"PARTITION BY {', '.join(f'v.{g}' for g in parents)} "
                select = [f"v.{g}" for g in keys] + [f"p.{r}" for r in rank_columns]
                rank = f"r{level}"
                body = (
                    f"SELECT {', '.join(select)}, row_number() OVER ({partition}ORDER BY {order}) "
                    f"AS {rank} FROM (SELECT {', '.join(keys)}, {rank_measure} AS m FROM {rows} "
                    f"WHERE k = {rank_bucket} GROUP BY {', '.join(keys)}) v"
                )
                if parents:
                    on = " AND ".join(f"v.{g} IS NOT DISTINCT FROM p.{g}" for g in parents)
                    body += f" JOIN __rank{level - 1} p ON {on}"
                limit = limits[level - 1]
                if limit is not None:
                    body += f" QUALIFY {rank} <= {self.params.add(limit, 'BIGINT')}"
                ctes.append((f"__rank{level}", body))
                rank_columns.append(rank)
                previous = size
            grid = (
                f"SELECT r.*, b.k, b.lo, b.hi FROM __rank{len(level_sizes)} r "
                "CROSS JOIN __buckets b WHERE b.k >= 1"
            )
        else:
            grid = "SELECT b.k, b.lo, b.hi FROM __buckets b WHERE b.k >= 1"
        ctes.append(("__grid", grid))

        on = " AND ".join(
            ["a.k = gr.k", *(f"a.{g} IS NOT DISTINCT FROM gr.{g}" for g in group_cols)]
        )
        select = [f"CAST(gr.{g} AS VARCHAR) AS {g}" for g in group_cols]
        select += ["gr.lo // 1000 AS start_time_0", "gr.hi // 1000 AS end_time_0"]
        select += [f"{sql} AS m{i}" for i, sql in enumerate(measure_sql)]
        order_by = ", ".join([*(f"gr.{r}" for r in rank_columns), "gr.k"])
        final = (
            f"SELECT {', '.join(select)} FROM __grid gr LEFT JOIN __agg a ON {on} "
            f"ORDER BY {order_by}"
        )
        with_clause = ",\n".join(f"{name} AS ({body})" for name, body in ctes)
        return f"WITH {with_clause}\n{final}"

    def _property_ctes(
        self, prop: _Property, table_sql: str, time_sql: str, ranked: bool
    ) -> list[tuple[str, str]]:
        """The source, bucket membership and per-actor aggregation CTEs of one property."""
        window = isinstance(prop.timespec, ast.Window)
        if isinstance(prop.timespec, ast.TimeRange):
            low, high = prop.range_sql
        elif window:
            over, offset = prop.window_sql
            low, high = f"p1 + {offset} - {over}", f"e + {offset}"
        else:
            low, high = "s", "e"
        columns = ", ".join([f"epoch_us({time_sql}) AS t", *prop.scope.select_list()])
        ctes = [
            (
                f"{prop.name}_src",
                f"SELECT {columns} FROM {table_sql} "
                f"WHERE {time_sql} >= (SELECT make_timestamp({low}) FROM __bounds) "
                f"AND {time_sql} < (SELECT make_timestamp({high}) FROM __bounds)",
            )
        ]
        items = ", ".join(f"{a.sql} AS v{i}" for i, a in enumerate(prop.aggregates))
        actor = prop.actor_alias
        if not window:
            ctes.append(
                (
                    prop.name,
                    f"SELECT {actor} AS a, {items} FROM {prop.name}_src GROUP BY {actor}",
                )
            )
            return ctes
        # The window of bucket k is [p_k + offset - over, p_k + offset). For the full buckets
        # (p_k = s + k*r) an event's buckets follow by arithmetic, as for the events
        # themselves; the buckets ending at e (the last partial one, the whole-range ranking
        # bucket 0, the single bucket of a query without for every) by comparison.
        in_last = f"src.t >= b.e + {offset} - {over} AND src.t < b.e + {offset}"
        parts = []
        if self.series:
            spread = self.params.add(-(-prop.window_us // self.every_us), "BIGINT")
            shifted = f"(src.t - b.s - {offset})"
            first = f"({_floor_div(shifted, 'b.r')} + 1 + o.i)"
            parts.append(
                f"SELECT {first} AS k, src.* FROM {prop.name}_src src, __bounds b, "
                f"(SELECT unnest(generate_series(0, {spread} - 1)) AS i) o "
                f"WHERE {first} BETWEEN 1 AND b.nf "
                f"AND {first} <= {_floor_div(f'({shifted} + {over})', 'b.r')}"
            )
            parts.append(
                f"SELECT b.n AS k, src.* FROM {prop.name}_src src, __bounds b "
                f"WHERE b.n > b.nf AND {in_last}"
            )
            if ranked:
                parts.append(
                    f"SELECT 0 AS k, src.* FROM {prop.name}_src src, __bounds b WHERE {in_last}"
                )
        else:
            parts.append(
                f"SELECT 1 AS k, src.* FROM {prop.name}_src src, __bounds b WHERE {in_last}"
            )
        ctes.append((f"{prop.name}_k", " UNION ALL ".join(parts)))
        ctes.append(
            (
                prop.name,
                f"SELECT k, {actor} AS a, {items} FROM {prop.name}_k GROUP BY k, {actor}",
            )
        )
        return ctes


def _floor_div(numerator: str, denominator: str) -> str:
    """SQL floor division of BIGINTs (DuckDB's ``//`` truncates towards zero)."""
    return (
        f"(({numerator} - ((({numerator}) % {denominator}) + {denominator}) % {denominator}) "
        f"// {denominator})"
    )


def _walk_query(query: ast.Query):
    """Every expression node of a query (for the flow check)."""
    roots: list[ast.Expr] = []
    for prop in query.with_props:
        roots.append(prop.expr)
    roots.extend(m.expr for m in query.measures)
    for level in query.group_levels:
        roots.extend(level.exprs)
    stack = roots
    while stack:
        node = stack.pop()
        yield node
        stack.extend(ast.children(node))
