"""Printing syntax trees back to BQL: canonical text, and parse(to_bql(tree)) == tree."""

from __future__ import annotations

import datetime as dt
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scuba_magic import bql
from scuba_magic.bql import ast
from scuba_magic.bql.ast import (
    AbsoluteTime,
    Aggregate,
    And,
    BinaryOp,
    Column,
    Compare,
    Duration,
    Measure,
    Not,
    Number,
    Or,
    Star,
    String,
    UnaryOp,
)
from scuba_magic.bql.printer import expr_label, quote_name, quote_string

COUNT = Aggregate("count", Star())


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("SELECT COUNT(*) FROM t", "select count(*) from t"),
        (
            "select count(* where action='hate') from fashion between beginning_of_time and now",
            'select count(* where action = "hate") from fashion between beginning_of_time and now',
        ),
        (
            "select count(*) from t group by ROUND(length,10) limit 5 and by x",
            "select count(*) from t group by ROUND(length, 10) limit 5 and by x",
        ),
        (
            "select count(*) as c from t group by u order by c desc limit 5",
            "select count(*) as c from t group by u limit 5 order by c desc",
        ),
        (
            "select count(*) from t for every day over 2 days between 2021-1-1 4pm and now "
            "timezone 'US/Pacific'",
            "select count(*) from t for every 1 day over 2 days between 2021-01-01 16:00 and now "
            "timezone US/Pacific",
        ),
        (
            "select count(* where not (a <> 1) and b in ('x','y')) from t",
            'select count(* where not(a != 1) and b in ("x", "y")) from t',
        ),
        (
            "with p as actor<user>(COUNT(*) over 1 week offset -1 week) "
            "select percentile(x where p=0, 90) from t",
            "with p as Actor<user>(count(*) over 1 week offset -1 week) "
            "select percentile(x, 90 where p = 0) from t",
        ),
        ("select count(* on actor<user>) from t", "select count(* on Actor<user>) from t"),
        (
            "select count(*) from t group by `hello.world`, `select`, `a``b`, x1",
            "select count(*) from t group by `hello.world`, `select`, `a\\`b`, x1",
        ),
        (
            "select count(*) from t group by `count`, `Actor`, `day`",
            "select count(*) from t group by `count`, `Actor`, `day`",
        ),
        (
            "select count(*) from t timezone 'Bad Zone'",
            'select count(*) from t timezone "Bad Zone"',
        ),
    ],
)
def test_canonical_text(text, canonical):
    query = bql.parse(text.replace("`a``b`", "`a\\`b`"))
    assert bql.to_bql(query) == canonical
    assert bql.parse(canonical) == query


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (BinaryOp("-", Number(1), BinaryOp("-", Number(2), Number(3))), "1 - (2 - 3)"),
        (BinaryOp("-", BinaryOp("-", Number(1), Number(2)), Number(3)), "1 - 2 - 3"),
        (BinaryOp("*", BinaryOp("+", Number(1), Number(2)), Number(3)), "(1 + 2) * 3"),
        (UnaryOp("-", UnaryOp("-", Column("x"))), "-(-x)"),
        (UnaryOp("-", BinaryOp("*", Column("x"), Number(2))), "-(x * 2)"),
        (And(Or(Column("a"), Column("b")), Column("c")), "(a or b) and c"),
        (Or(Column("a"), Or(Column("b"), Column("c"))), "a or (b or c)"),
        (Compare("=", Not(Column("a")), Column("b")), "(not(a)) = b"),
        (Compare("=", Compare("=", Column("a"), Column("b")), Column("c")), "(a = b) = c"),
        (Number(1e-05), "1e-05"),
        (Number(2.5), "2.5"),
        (String('a"b\\c\nd\0'), '"a\\"b\\\\c\\nd\\0"'),
    ],
)
def test_expressions_get_only_the_parentheses_they_need(expr, text):
    assert bql.to_bql(expr) == text


def test_time_and_clause_nodes_print():
    assert bql.to_bql(Duration(-1, "week")) == "-1 week"
    assert bql.to_bql(Duration(3, "month")) == "3 months"
    assert bql.to_bql(AbsoluteTime(2021, 2, 3, 4, 5, 6)) == "2021-02-03 04:05:06"
    assert bql.to_bql(Measure(COUNT, "my count")) == "count(*) as `my count`"


def test_quote_helpers():
    assert quote_name("user") == "user"
    assert quote_name("hello.world") == "`hello.world`"
    assert quote_name("from") == "`from`"
    assert quote_name("") == "``"
    assert quote_string('it\'s "x"') == '"it\'s \\"x\\""'


def test_expr_label_drops_back_quotes_of_plain_properties_only():
    assert expr_label(Column("hello.world")) == "hello.world"
    assert expr_label(Aggregate("max", Column("hello.world"))) == "max(`hello.world`)"


def test_printing_something_else_is_a_type_error():
    with pytest.raises(TypeError, match="not a BQL syntax tree node"):
        bql.to_bql("select count(*) from t")


# Random syntax trees, built within the grammar's rules, survive printing and parsing.
names = st.text(min_size=1, max_size=8)
plain_names = st.builds(
    str.__add__,
    st.sampled_from(string.ascii_letters + "_"),
    st.text(string.ascii_letters + string.digits + "_", max_size=6),
)
any_name = st.one_of(plain_names, names)
numbers = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    st.floats(min_value=0, max_value=1e300, allow_nan=False, allow_infinity=False),
).map(Number)
units = st.sampled_from(ast.TIME_UNITS)


def durations(low: int = 1, high: int = 500):
    return st.builds(Duration, st.integers(low, high), units)


time_points = st.one_of(
    st.just(ast.Now()),
    st.just(ast.BeginningOfTime()),
    st.builds(ast.Ago, durations(0)),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)).map(
        lambda d: AbsoluteTime(d.year, d.month, d.day, d.hour, d.minute, d.second)
    ),
)
time_ranges = st.builds(ast.TimeRange, time_points, time_points)
windows = st.builds(ast.Window, durations(), st.none() | durations(-500, 500))
timespecs = st.none() | time_ranges | windows

leaves = st.one_of(numbers, st.text(max_size=10).map(String), any_name.map(Column))


def scalar_children(children):
    """Expression nodes built from ``children``, without aggregations at this level."""
    return st.one_of(
        st.builds(BinaryOp, st.sampled_from("+-*/"), children, children),
        st.builds(UnaryOp, st.just("-"), children),
        st.builds(ast.FunctionCall, st.just("sqrt"), st.tuples(children)),
        st.builds(
            ast.FunctionCall,
            st.just("round"),
            st.tuples(children) | st.tuples(children, children),
        ),
        st.builds(Compare, st.sampled_from(("=", "!=", "<", "<=", ">", ">=")), children, children),
        st.builds(And, children, children),
        st.builds(Or, children, children),
        st.builds(Not, children),
        st.builds(ast.In, children, st.lists(children, min_size=1, max_size=3).map(tuple)),
        st.builds(ast.Like, children, st.text(max_size=8)),
        st.builds(ast.ActorExpr, any_name, st.deferred(lambda: aggregates(leaves)), timespecs),
        st.builds(ast.FlowRef, any_name, st.lists(children, max_size=2).map(tuple)),
    )


scalars = st.recursive(leaves, scalar_children, max_leaves=4)


@st.composite
def aggregates(draw, operands):
    """An aggregation whose argument and filter are drawn from ``operands``."""
    func = draw(st.sampled_from(ast.AGGREGATE_FUNCTIONS))
    arg = Star() if func == "count" and draw(st.booleans()) else draw(operands)
    percentile = None
    if func == "percentile":
        percentile = draw(st.integers(0, 100) | st.floats(0, 100, allow_nan=False))
    return Aggregate(
        func,
        arg,
        where=draw(st.none() | operands),
        on_actor=draw(st.none() | any_name),
        percentile=percentile,
    )


aggregate_exprs = st.recursive(
    aggregates(scalars),
    lambda children: st.one_of(
        st.builds(BinaryOp, st.sampled_from("+-*/"), children, children | numbers),
        st.builds(UnaryOp, st.just("-"), children),
        st.builds(ast.FunctionCall, st.just("round"), st.tuples(children, numbers)),
    ),
    max_leaves=3,
)


@st.composite
def time_series(draw):
    every = draw(durations(1, 50))
    over = draw(st.none() | st.integers(1, 5).map(lambda k: Duration(every.n * k, every.unit)))
    return ast.TimeSeries(every, over)


@st.composite
def queries(draw):
    measures = draw(
        st.lists(st.builds(Measure, aggregate_exprs, st.none() | any_name), min_size=1, max_size=3)
    )
    bare = draw(st.lists(st.builds(Measure, any_name.map(Column), st.none()), max_size=2))
    position = draw(st.integers(0, len(measures)))
    levels = st.builds(
        ast.GroupLevel,
        st.lists(scalars, min_size=1, max_size=2).map(tuple),
        st.none() | st.integers(1, 10**9),
    )
    return ast.Query(
        with_props=tuple(
            draw(
                st.lists(
                    st.builds(ast.WithProperty, any_name, any_name, aggregate_exprs, timespecs),
                    max_size=2,
                )
            )
        ),
        measures=tuple(measures[:position] + bare + measures[position:]),
        table=draw(any_name),
        group_levels=tuple(draw(st.lists(levels, max_size=2))),
        order_by=draw(st.none() | st.builds(ast.OrderBy, any_name, st.booleans())),
        time_series=draw(st.none() | time_series()),
        time_range=draw(st.none() | time_ranges),
        timezone=draw(
            st.none()
            | st.sampled_from(["UTC", "US/Pacific", "Etc/GMT+5", "America/Port-au-Prince"])
            | names
        ),
    )


@settings(max_examples=150)
@given(queries())
def test_random_queries_round_trip(query):
    text = bql.to_bql(query)
    assert bql.parse(text) == query
    assert bql.to_bql(bql.parse(text)) == text


@settings(max_examples=250)
@given(scalars)
def test_random_filters_round_trip(expr):
    query = bql.parse(bql.to_bql(ast.Query((), (Measure(Aggregate("count", Star(), expr)),), "t")))
    assert query.measures[0].expr.where == expr
