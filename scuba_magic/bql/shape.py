"""The output shape of a BQL query: its measure and group column labels, without running it.

The labels follow design.md 7 and are the column names of a JSON_POWER_BI result, so the client
names DataFrame columns and the emulator labels its results the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scuba_magic.bql import ast
from scuba_magic.bql.parser import parse
from scuba_magic.bql.printer import expr_label

COUNT_OF_EVENTS = "count of events"
"""The label of an unaliased ``count(*)``."""


@dataclass
class QueryShape:
    """What a query returns, in column order (groups first, then measures).

    Attributes:
        measures: one label per aggregation in the select list: the alias, ``"count of
            events"`` for a bare ``count(*)``, otherwise the measure's canonical BQL text.
        groups: one label per group key, level by level: a plain property's name (no
            back-quotes), otherwise the key's canonical BQL text; bare properties of the select
            list are group keys too, after the first level's keys (an alias on them is kept in
            the syntax tree but does not rename the group).
        timezone: the ``timezone`` clause's name, or ``None`` (UTC).
        has_time_series: whether the query has ``for every`` (one row per time bucket).
        count_measures: the labels of the measures that are counts, whose values are whole
            numbers: a bare ``count(*)`` (with or without ``where`` / ``on Actor<a>``) or
            ``count_unique(x)``, not arithmetic on them such as ``count(*) / 2``.
    """

    measures: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    timezone: str | None = None
    has_time_series: bool = False
    count_measures: tuple[str, ...] = ()


def describe(query: str | ast.Query) -> QueryShape:
    """The labels and shape of a query's result.

    Args:
        query: BQL text or an already parsed query.

    Returns:
        The query's :class:`QueryShape`.

    Raises:
        BQLSyntaxError: ``query`` is text that is not valid BQL.
    """
    if isinstance(query, str):
        query = parse(query)
    elif not isinstance(query, ast.Query):
        raise TypeError(f"describe() takes BQL text or a Query, not {type(query).__name__}")
    groups = [expr_label(expr) for level in query.effective_group_levels() for expr in level.exprs]
    measures = query.aggregate_measures()
    return QueryShape(
        measures=[measure_label(m) for m in measures],
        groups=groups,
        timezone=query.timezone,
        has_time_series=query.time_series is not None,
        count_measures=tuple(measure_label(m) for m in measures if is_count(m)),
    )


def is_count(measure: ast.Measure) -> bool:
    """Whether a measure is a count (whole numbers): ``count(...)`` or ``count_unique(...)``."""
    expr = measure.expr
    return isinstance(expr, ast.Aggregate) and expr.func in ("count", "count_unique")


def measure_label(measure: ast.Measure) -> str:
    """The column label of one aggregation measure of the select list."""
    if measure.alias is not None:
        return measure.alias
    if measure.expr == ast.Aggregate("count", ast.Star()):
        return COUNT_OF_EVENTS
    return expr_label(measure.expr)
