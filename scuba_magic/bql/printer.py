"""Print a BQL syntax tree as canonical BQL text (the inverse of :func:`scuba_magic.bql.parse`).

The text is on one line, keywords in lower case, scalar functions as the docs write them
(``ROUND``, ``sqrt``), strings double-quoted, names back-quoted only when they must be, and
parentheses only where precedence needs them, so ``parse(to_bql(query)) == query``. The same
text labels unaliased measures and group keys (see :mod:`scuba_magic.bql.shape`).
"""

from __future__ import annotations

import re

from scuba_magic.bql import ast
from scuba_magic.bql.lexer import is_name_char, is_name_start
from scuba_magic.bql.parser import RESERVED

# Names printed back-quoted even though some would parse bare: every word that means
# something somewhere in BQL, so the canonical text never depends on context.
_QUOTED_WORDS = (
    RESERVED
    | {"asc", "desc", "every", "over", "offset", "now", "beginning_of_time", "ago", "event"}
    | {"actor", "flow", "am", "pm", "distinct"}
    | set(ast.AGGREGATE_FUNCTIONS)
    | set(ast.SCALAR_FUNCTIONS)
    | set(ast.TIME_UNITS)
    | {unit + "s" for unit in ast.TIME_UNITS}
)

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}

# A timezone name that the parser reads back bare (see the parser's timezone clause).
_BARE_TIMEZONE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[/+-][A-Za-z0-9_]+)*\Z")

_OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _UNARY, _PRIMARY = range(1, 9)

_FUNCTION_SPELLING = {"round": "ROUND", "sqrt": "sqrt"}


def to_bql(node: ast.Node) -> str:
    """Canonical BQL text of a query, a clause or an expression.

    Args:
        node: any syntax tree node, usually an :class:`~scuba_magic.bql.ast.Query`.

    Returns:
        One line of BQL.

    Raises:
        TypeError: ``node`` is not a BQL syntax tree node.
    """
    if isinstance(node, ast.Query):
        return _query(node)
    if isinstance(node, ast.WithProperty):
        return _with_property(node)
    if isinstance(node, ast.Measure):
        return _measure(node)
    if isinstance(node, ast.GroupLevel):
        return _group_level(node)
    if isinstance(node, ast.OrderBy):
        return _order_by(node)
    if isinstance(node, ast.TimeSeries):
        return _time_series(node)
    if isinstance(node, ast.TimeRange):
        return f"between {_time_point(node.start)} and {_time_point(node.end)}"
    if isinstance(node, ast.Window):
        return _window(node)
    if isinstance(node, ast.Duration):
        return _duration(node)
    if isinstance(node, (ast.Now, ast.BeginningOfTime, ast.Ago, ast.AbsoluteTime)):
        return _time_point(node)
    return _expr(node)


def expr_label(expr: ast.Expr) -> str:
    """The label of a group key or measure expression: a plain property is its bare name
    (``hello.world``, no back-quotes), anything else its canonical BQL text."""
    if isinstance(expr, ast.Column):
        return expr.name
    return _expr(expr)


def quote_name(name: str) -> str:
    """``name`` as written in BQL: bare when it reads back as a name, else back-quoted."""
    if (
        name
        and is_name_start(name[0])
        and all(is_name_char(ch) for ch in name[1:])
        and name.lower() not in _QUOTED_WORDS
    ):
        return name
    return "`" + _escape(name, "`") + "`"


def quote_string(value: str) -> str:
    """``value`` as a double-quoted BQL string literal."""
    return '"' + _escape(value, '"') + '"'


def _escape(value: str, quote: str) -> str:
    return "".join(_ESCAPES.get(ch, "\\" + ch if ch == quote else ch) for ch in value)


def _query(query: ast.Query) -> str:
    parts = []
    if query.with_props:
        parts.append("with " + ", ".join(_with_property(p) for p in query.with_props))
    parts.append("select " + ", ".join(_measure(m) for m in query.measures))
    parts.append("from " + quote_name(query.table))
    if query.group_levels:
        parts.append("group by " + " and by ".join(_group_level(g) for g in query.group_levels))
    if query.order_by is not None:
        parts.append(_order_by(query.order_by))
    if query.time_series is not None:
        parts.append(_time_series(query.time_series))
    if query.time_range is not None:
        parts.append(to_bql(query.time_range))
    if query.timezone is not None:
        tz = query.timezone
        parts.append("timezone " + (tz if _BARE_TIMEZONE.match(tz) else quote_string(tz)))
    return " ".join(parts)


def _with_property(prop: ast.WithProperty) -> str:
    actor = _actor(ast.ActorExpr(prop.actor, prop.expr, prop.timespec))
    return f"{quote_name(prop.name)} as {actor}"


def _measure(measure: ast.Measure) -> str:
    text = _expr(measure.expr)
    return text if measure.alias is None else f"{text} as {quote_name(measure.alias)}"


def _group_level(level: ast.GroupLevel) -> str:
    # Group expressions are read at the level of a sum so that "and by" can follow them.
    text = ", ".join(_expr(e, _SUM) for e in level.exprs)
    return text if level.limit is None else f"{text} limit {level.limit}"


def _order_by(order: ast.OrderBy) -> str:
    return f"order by {quote_name(order.alias)}" + (" desc" if order.descending else "")


def _time_series(series: ast.TimeSeries) -> str:
    text = f"for every {_duration(series.every)}"
    return text if series.over is None else f"{text} over {_duration(series.over)}"


def _window(window: ast.Window) -> str:
    text = f"over {_duration(window.over)}"
    return text if window.offset is None else f"{text} offset {_duration(window.offset)}"


def _duration(duration: ast.Duration) -> str:
    unit = duration.unit if abs(duration.n) == 1 else duration.unit + "s"
    return f"{duration.n} {unit}"


def _time_point(point: ast.TimePoint) -> str:
    if isinstance(point, ast.Now):
        return "now"
    if isinstance(point, ast.BeginningOfTime):
        return "beginning_of_time"
    if isinstance(point, ast.Ago):
        return f"{_duration(point.duration)} ago"
    text = f"{point.year:04d}-{point.month:02d}-{point.day:02d}"
    if point.hour or point.minute or point.second:
        text += f" {point.hour:02d}:{point.minute:02d}"
        if point.second:
            text += f":{point.second:02d}"
    return text


def _precedence(expr: ast.Expr) -> int:
    if isinstance(expr, ast.Or):
        return _OR
    if isinstance(expr, ast.And):
        return _AND
    if isinstance(expr, ast.Not):
        return _NOT
    if isinstance(expr, (ast.Compare, ast.In, ast.Like)):
        return _COMPARE
    if isinstance(expr, ast.BinaryOp):
        return _SUM if expr.op in "+-" else _PRODUCT
    if isinstance(expr, ast.UnaryOp):
        return _UNARY
    return _PRIMARY


def _expr(expr: ast.Expr, minimum: int = _OR) -> str:
    """Text of ``expr``, parenthesized when its precedence is below ``minimum``."""
    text = _bare_expr(expr)
    return f"({text})" if _precedence(expr) < minimum else text


def _bare_expr(expr: ast.Expr) -> str:
    if isinstance(expr, ast.Number):
        return _number(expr.value)
    if isinstance(expr, ast.String):
        return quote_string(expr.value)
    if isinstance(expr, ast.Column):
        return quote_name(expr.name)
    if isinstance(expr, ast.Star):
        return "*"
    if isinstance(expr, ast.Or):
        return f"{_expr(expr.left, _OR)} or {_expr(expr.right, _AND)}"
    if isinstance(expr, ast.And):
        return f"{_expr(expr.left, _AND)} and {_expr(expr.right, _NOT)}"
    if isinstance(expr, ast.Not):
        return f"not({_expr(expr.operand)})"
    if isinstance(expr, ast.Compare):
        return f"{_expr(expr.left, _SUM)} {expr.op} {_expr(expr.right, _SUM)}"
    if isinstance(expr, ast.In):
        values = ", ".join(_expr(v) for v in expr.values)
        return f"{_expr(expr.expr, _SUM)} in ({values})"
    if isinstance(expr, ast.Like):
        return f"{_expr(expr.expr, _SUM)} like {quote_string(expr.pattern)}"
    if isinstance(expr, ast.BinaryOp):
        level = _SUM if expr.op in "+-" else _PRODUCT
        return f"{_expr(expr.left, level)} {expr.op} {_expr(expr.right, level + 1)}"
    if isinstance(expr, ast.UnaryOp):
        operand = _expr(expr.operand, _UNARY)
        # "--x" would read like a comment to people; "-(-x)" parses to the same tree.
        return f"-({operand})" if operand.startswith("-") else f"-{operand}"
    if isinstance(expr, ast.FunctionCall):
        name = _FUNCTION_SPELLING.get(expr.name, expr.name)
        return f"{name}({', '.join(_expr(a) for a in expr.args)})"
    if isinstance(expr, ast.Aggregate):
        return _aggregate(expr)
    if isinstance(expr, ast.ActorExpr):
        return _actor(expr)
    if isinstance(expr, ast.FlowRef):
        name = f"Flow<{quote_name(expr.flow)}>"
        return name if not expr.args else f"{name}({', '.join(_expr(a) for a in expr.args)})"
    raise TypeError(f"not a BQL syntax tree node: {type(expr).__name__}")


def _aggregate(agg: ast.Aggregate) -> str:
    text = f"{agg.func}({_expr(agg.arg)}"
    if agg.percentile is not None:
        text += f", {_number(agg.percentile)}"
    if agg.where is not None:
        text += f" where {_expr(agg.where)}"
    if agg.on_actor is not None:
        text += f" on Actor<{quote_name(agg.on_actor)}>"
    return text + ")"


def _actor(actor: ast.ActorExpr) -> str:
    text = f"Actor<{quote_name(actor.actor)}>({_expr(actor.expr)}"
    if isinstance(actor.timespec, ast.Window):
        text += " " + _window(actor.timespec)
    elif isinstance(actor.timespec, ast.TimeRange):
        text += " " + to_bql(actor.timespec)
    return text + ")"


def _number(value: int | float) -> str:
    # repr gives the shortest text that reads back as the same float (e.g. 1e-05, 0.1).
    return str(value) if isinstance(value, int) else repr(value)
