"""The BQL abstract syntax tree: immutable, hashable nodes produced by ``bql.parse``.

Every node is a frozen dataclass that compares by value, so two parses of equivalent text are
equal and ``parse(to_bql(query)) == query``. Sequences are tuples. Each node has an optional
``pos`` (1-based ``(line, column)`` of where it starts in the source) that is left out of equality,
hashing and repr, so compiler errors can point at the text without making positions part of the
meaning.

Shape of a query (see scuba-api.md section 4)::

    Query
      with_props:   WithProperty(name, actor, expr, timespec) ...
      measures:     Measure(expr, alias) ...       # select list, in order
      table:        str
      group_levels: GroupLevel(exprs, limit) ...   # "group by ... [limit N] and by ..."
      order_by:     OrderBy(alias, descending) | None
      time_series:  TimeSeries(every, over) | None
      time_range:   TimeRange(start, end) | None   # None: beginning_of_time .. now
      timezone:     str | None

Expressions (``Expr``) are one tree for arithmetic, filters and measures: aggregations
(:class:`Aggregate`) may appear inside arithmetic, and filters are ordinary expressions whose
value is boolean (a bare property such as ``where authenticated`` is just a :class:`Column`).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

Pos = tuple[int, int]
"""A 1-based ``(line, column)`` in the query text."""

AGGREGATE_FUNCTIONS = (
    "count",
    "count_unique",
    "sum",
    "avg",
    "min",
    "max",
    "last",
    "percentile",
)
"""Aggregation names, lower case as stored in :attr:`Aggregate.func`."""

SCALAR_FUNCTIONS = ("round", "sqrt")
"""Scalar function names, lower case as stored in :attr:`FunctionCall.name`."""

TIME_UNITS = ("second", "minute", "hour", "day", "week", "month", "year")
"""Duration units, singular, as stored in :attr:`Duration.unit`."""

UNIT_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    # BQL fixes these lengths (design.md 7): a month is 30 days, a year 365 days.
    "month": 30 * 86400,
    "year": 365 * 86400,
}


@dataclass(frozen=True)
class Node:
    """Base of every node; ``pos`` is where the node starts, ignored by ``==`` and ``hash``."""

    pos: Pos | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Number(Node):
    """A numeric literal; ``value`` is an ``int`` or a finite ``float``, never negative
    (``-3`` parses as ``UnaryOp("-", Number(3))``)."""

    value: int | float


@dataclass(frozen=True)
class String(Node):
    """A string literal (double or single quoted in the text); ``value`` is unescaped."""

    value: str


@dataclass(frozen=True)
class Column(Node):
    """A property (column) of the table, or the name of a ``with`` property.

    ``name`` is exact and case-sensitive; back-quotes are already removed (`` `hello.world` ``
    gives ``Column("hello.world")``).
    """

    name: str


@dataclass(frozen=True)
class Star(Node):
    """The ``*`` of ``count(*)``."""


@dataclass(frozen=True)
class BinaryOp(Node):
    """Arithmetic ``left op right`` with ``op`` one of ``+ - * /``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnaryOp(Node):
    """Unary minus: ``op`` is always ``"-"``."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class FunctionCall(Node):
    """A scalar function: ``name`` is ``"round"`` (``ROUND(x, n)``) or ``"sqrt"`` (``sqrt(x)``)."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Aggregate(Node):
    """An aggregation such as ``count(* where page = "Error" on Actor<user>)``.

    Attributes:
        func: one of :data:`AGGREGATE_FUNCTIONS`, lower case.
        arg: the aggregated expression, or :class:`Star` (only for ``count``).
        where: the aggregation's own filter, or ``None``.
        on_actor: the actor scope of ``on Actor<a>`` (``count(* on Actor<user>)`` counts users),
            or ``None`` for the event scope (``on event`` is the same as no ``on``).
        percentile: for ``percentile(x, p)``, ``p`` in 0..100; ``None`` for other functions.
    """

    func: str
    arg: Expr
    where: Expr | None = None
    on_actor: str | None = None
    percentile: int | float | None = None


@dataclass(frozen=True)
class ActorExpr(Node):
    """A per-actor value ``Actor<actor>(expr [timespec])``, e.g. ``Actor<user>(max(age))``.

    ``expr`` is evaluated once per actor; ``timespec`` (a :class:`TimeRange` or a
    :class:`Window`) overrides the query's range, ``None`` means the query's range.
    """

    actor: str
    expr: Expr
    timespec: TimeSpec | None = None


@dataclass(frozen=True)
class FlowRef(Node):
    """``Flow<flow>(args...)``: parsed so the compiler can reject it with a clear message."""

    flow: str
    args: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Compare(Node):
    """``left op right`` with ``op`` one of ``= != < <= > >=`` (``<>`` is stored as ``!=``)."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class And(Node):
    """``left and right``."""

    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or(Node):
    """``left or right``."""

    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not(Node):
    """``not(operand)``."""

    operand: Expr


@dataclass(frozen=True)
class In(Node):
    """``expr in (v1, v2, ...)``; ``values`` is never empty."""

    expr: Expr
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class Like(Node):
    """``expr like "pattern"``; ``pattern`` is a regular expression (MySQL ``rlike``), not a
    SQL ``%`` pattern, and matches anywhere in the value unless anchored."""

    expr: Expr
    pattern: str


Expr = (
    Number
    | String
    | Column
    | Star
    | BinaryOp
    | UnaryOp
    | FunctionCall
    | Aggregate
    | ActorExpr
    | FlowRef
    | Compare
    | And
    | Or
    | Not
    | In
    | Like
)
"""Any expression node."""


@dataclass(frozen=True)
class Duration(Node):
    """``n unit``, e.g. ``7 days``; ``unit`` is singular (:data:`TIME_UNITS`).

    ``n`` is positive except in a window ``offset`` (which may be zero or negative) and in
    ``N units ago`` (which may be zero).
    """

    n: int
    unit: str

    @property
    def seconds(self) -> int:
        """Length in seconds, with a month of 30 days and a year of 365 days."""
        return self.n * UNIT_SECONDS[self.unit]


@dataclass(frozen=True)
class Now(Node):
    """``now``: the server clock."""


@dataclass(frozen=True)
class BeginningOfTime(Node):
    """``beginning_of_time``: the table's first event."""


@dataclass(frozen=True)
class Ago(Node):
    """``N units ago``: ``now`` minus an exact duration."""

    duration: Duration


@dataclass(frozen=True)
class AbsoluteTime(Node):
    """A wall-clock time in the query's timezone: ``2021-01-05``, ``2021-1-5 4pm``,
    ``2021-01-05 16:30[:15]``. The date alone means midnight."""

    year: int
    month: int
    day: int
    hour: int = 0
    minute: int = 0
    second: int = 0

    def to_datetime(self) -> _dt.datetime:
        """The time as a naive :class:`datetime.datetime` (the query timezone applies)."""
        return _dt.datetime(self.year, self.month, self.day, self.hour, self.minute, self.second)


TimePoint = Now | BeginningOfTime | Ago | AbsoluteTime
"""Any time point of a ``between`` clause."""


@dataclass(frozen=True)
class TimeRange(Node):
    """``between start and end``: the half-open range ``[start, end)``."""

    start: TimePoint
    end: TimePoint


@dataclass(frozen=True)
class Window(Node):
    """An actor property's ``over W [offset O]``: per bucket ending at ``end``, the property
    covers ``[end + O - W, end + O)``; ``offset`` ``None`` means zero."""

    over: Duration
    offset: Duration | None = None


TimeSpec = TimeRange | Window
"""The optional time specification of an actor property."""


@dataclass(frozen=True)
class TimeSeries(Node):
    """``for every <every> [over <over>]``; ``over`` ``None`` means the same as ``every``."""

    every: Duration
    over: Duration | None = None


@dataclass(frozen=True)
class WithProperty(Node):
    """``with name as Actor<actor>(expr [timespec])``: a named per-actor property that the rest
    of the query refers to as ``Column(name)``."""

    name: str
    actor: str
    expr: Expr
    timespec: TimeSpec | None = None


@dataclass(frozen=True)
class Measure(Node):
    """One item of the select list, ``expr [as alias]``.

    An item without any aggregation (a bare property such as ``user``) is an implicit group
    by; see :meth:`Query.implicit_groups`.
    """

    expr: Expr
    alias: str | None = None


@dataclass(frozen=True)
class GroupLevel(Node):
    """One level of ``group by e1, e2 [limit N]``; later levels come from ``and by``."""

    exprs: tuple[Expr, ...]
    limit: int | None = None


@dataclass(frozen=True)
class OrderBy(Node):
    """``order by alias [asc|desc]``; ascending unless ``descending``."""

    alias: str
    descending: bool = False


@dataclass(frozen=True)
class Query(Node):
    """A whole BQL statement; optional clauses are ``None`` or empty tuples."""

    with_props: tuple[WithProperty, ...]
    measures: tuple[Measure, ...]
    table: str
    group_levels: tuple[GroupLevel, ...] = ()
    order_by: OrderBy | None = None
    time_series: TimeSeries | None = None
    time_range: TimeRange | None = None
    timezone: str | None = None

    def aggregate_measures(self) -> tuple[Measure, ...]:
        """The select items that contain an aggregation: the result's measure columns."""
        return tuple(m for m in self.measures if contains_aggregate(m.expr))

    def implicit_groups(self) -> tuple[Measure, ...]:
        """The select items without any aggregation (bare properties): implicit group-bys."""
        return tuple(m for m in self.measures if not contains_aggregate(m.expr))

    def effective_group_levels(self) -> tuple[GroupLevel, ...]:
        """The group levels with the select list's bare properties added.

        Bare properties join the first level after its explicit expressions (sharing its
        limit), or form a single unlimited level when there is no ``group by``. Duplicates of
        an explicit group expression are not added twice.
        """
        implicit = tuple(m.expr for m in self.implicit_groups())
        if not implicit:
            return self.group_levels
        if not self.group_levels:
            return (GroupLevel(_dedupe(implicit)),)
        first = self.group_levels[0]
        merged = GroupLevel(_dedupe(first.exprs + implicit), first.limit, pos=first.pos)
        return (merged,) + self.group_levels[1:]


def _dedupe(exprs: tuple[Expr, ...]) -> tuple[Expr, ...]:
    return tuple(dict.fromkeys(exprs))


def contains_aggregate(expr: Expr) -> bool:
    """Whether ``expr`` has an :class:`Aggregate` outside any :class:`ActorExpr`.

    An aggregation inside ``Actor<a>(...)`` is a per-actor value, i.e. a property at the event
    level, so it does not make the expression a measure.
    """
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Aggregate):
            return True
        if not isinstance(node, ActorExpr):
            stack.extend(children(node))
    return False


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of an expression node (not of time nodes)."""
    if isinstance(node, (BinaryOp, Compare, And, Or)):
        return (node.left, node.right)
    if isinstance(node, (UnaryOp, Not)):
        return (node.operand,)
    if isinstance(node, (FunctionCall, FlowRef)):
        return node.args
    if isinstance(node, Aggregate):
        return (node.arg,) if node.where is None else (node.arg, node.where)
    if isinstance(node, ActorExpr):
        return (node.expr,)
    if isinstance(node, In):
        return (node.expr,) + node.values
    if isinstance(node, Like):
        return (node.expr,)
    return ()
