"""Parsing valid BQL: every documented example and each piece of the grammar."""

from __future__ import annotations

import pytest

from scuba_magic import bql
from scuba_magic.bql import ast
from scuba_magic.bql.ast import (
    AbsoluteTime,
    ActorExpr,
    Aggregate,
    Ago,
    And,
    BeginningOfTime,
    BinaryOp,
    Column,
    Compare,
    Duration,
    FlowRef,
    FunctionCall,
    GroupLevel,
    In,
    Like,
    Measure,
    Not,
    Now,
    Number,
    Or,
    OrderBy,
    Star,
    String,
    TimeRange,
    TimeSeries,
    UnaryOp,
    Window,
    WithProperty,
)

COUNT = Aggregate("count", Star())


def measure(text: str) -> ast.Expr:
    """The first measure's expression of ``select <text> from t``."""
    return bql.parse(f"select {text} from t").measures[0].expr


def where(text: str) -> ast.Expr:
    """The filter of ``count(* where <text>)``."""
    return measure(f"count(* where {text})").where


# The example queries of the API documentation, with the parts of the tree each must produce.
def test_example_count_all():
    query = bql.parse("select count(*) from foreverMusic")
    assert query == ast.Query((), (Measure(COUNT),), "foreverMusic")


def test_example_group_by_with_relative_range():
    query = bql.parse(
        "select count(*) from foreverMusic group by gender between 7 days ago and now"
    )
    assert query.group_levels == (GroupLevel((Column("gender"),)),)
    assert query.time_range == TimeRange(Ago(Duration(7, "day")), Now())


def test_example_filtered_count_grouped_by_round():
    query = bql.parse(
        'select count(* where page = "Error") from my_table group by ROUND(length,10) '
        "between 6 months ago and now"
    )
    assert query.measures[0].expr == Aggregate(
        "count", Star(), where=Compare("=", Column("page"), String("Error"))
    )
    assert query.group_levels[0].exprs == (FunctionCall("round", (Column("length"), Number(10))),)
    assert query.time_range.start == Ago(Duration(6, "month"))


def test_example_alias_limit_then_order_by():
    query = bql.parse(
        "select count(*) as cnt from nightly1_usage group by username limit 5 order by cnt "
        "between 7 days ago and now"
    )
    assert query.measures == (Measure(COUNT, "cnt"),)
    assert query.group_levels == (GroupLevel((Column("username"),), 5),)
    assert query.order_by == OrderBy("cnt", descending=False)


def test_example_beginning_of_time():
    query = bql.parse(
        'select count(* where action="hate") from fashion between beginning_of_time and now'
    )
    assert query.measures[0].expr.where == Compare("=", Column("action"), String("hate"))
    assert query.time_range == TimeRange(BeginningOfTime(), Now())


def test_example_time_series_with_window():
    query = bql.parse(
        "select count(*) from my_table for every day over 2 days between 2021-01-01 and 2021-01-15"
    )
    assert query.time_series == TimeSeries(Duration(1, "day"), Duration(2, "day"))
    assert query.time_range == TimeRange(AbsoluteTime(2021, 1, 1), AbsoluteTime(2021, 1, 15))


def test_example_timezone():
    query = bql.parse(
        "select count(*) from my_table between 7 days ago and now timezone US/Pacific"
    )
    assert query.timezone == "US/Pacific"


def test_example_bare_boolean_filter():
    assert where("authenticated") == Column("authenticated")


def test_example_back_quoted_group():
    query = bql.parse(
        "select count(*) from my_table group by `hello.world` between 7 days ago and now"
    )
    assert query.group_levels[0].exprs == (Column("hello.world"),)


def test_example_count_unique():
    assert measure("count_unique(user)") == Aggregate("count_unique", Column("user"))


def test_example_not_or():
    assert where('not(user="jack" or user="jill")') == Not(
        Or(
            Compare("=", Column("user"), String("jack")),
            Compare("=", Column("user"), String("jill")),
        )
    )


def test_example_bare_property_in_select_is_an_implicit_group():
    query = bql.parse(
        "select count_unique(purchase) as purchases, user from my_table order by purchases asc"
    )
    assert query.measures == (
        Measure(Aggregate("count_unique", Column("purchase")), "purchases"),
        Measure(Column("user")),
    )
    assert query.implicit_groups() == (Measure(Column("user")),)
    assert query.effective_group_levels() == (GroupLevel((Column("user"),)),)
    assert query.order_by == OrderBy("purchases")


def test_example_in_list():
    assert where('user in ("jack","jill")') == In(Column("user"), (String("jack"), String("jill")))


def test_example_hierarchical_groups():
    query = bql.parse(
        "select count(*) from my_table group by user, country limit 5 and by platform limit 3"
    )
    assert query.group_levels == (
        GroupLevel((Column("user"), Column("country")), 5),
        GroupLevel((Column("platform"),), 3),
    )


def test_example_actor_count_grouped_by_actor_property():
    query = bql.parse("select count(* on Actor<user>) from my_table group by Actor<user>(max(age))")
    assert query.measures[0].expr == Aggregate("count", Star(), on_actor="user")
    assert query.group_levels[0].exprs == (ActorExpr("user", Aggregate("max", Column("age"))),)


def test_example_filter_with_sqrt():
    assert measure("count_unique(user where sqrt(age) > 5)") == Aggregate(
        "count_unique",
        Column("user"),
        where=Compare(">", FunctionCall("sqrt", (Column("age"),)), Number(5)),
    )


def test_example_percentile():
    assert measure("percentile(user_high_score, 90)") == Aggregate(
        "percentile", Column("user_high_score"), percentile=90
    )


def test_example_weekly_series_over_seven_days():
    query = bql.parse(
        "select count(*) from my_table for every week over 7 days between beginning_of_time and now"
    )
    assert query.time_series == TimeSeries(Duration(1, "week"), Duration(7, "day"))


def test_example_like_with_single_quotes():
    assert where("name like '.*jack.*'") == Like(Column("name"), ".*jack.*")


def test_example_with_actor_property_over_offset():
    query = bql.parse(
        "with prev_week_activity as Actor<user>(count(*) over 1 week offset -1 week)\n"
        "  select count_unique(user where prev_week_activity = 0) from my_table "
        "between 2021-01-08 and 2021-01-15"
    )
    assert query.with_props == (
        WithProperty(
            "prev_week_activity",
            "user",
            COUNT,
            Window(Duration(1, "week"), Duration(-1, "week")),
        ),
    )
    assert query.measures[0].expr.where == Compare("=", Column("prev_week_activity"), Number(0))


# Keywords, names and literals.
def test_keywords_are_case_insensitive_and_names_are_not():
    upper = bql.parse("SELECT COUNT(* WHERE Page = 'X') AS Cnt FROM Tbl GROUP BY Country")
    lower = bql.parse("select count(* where Page = 'X') as Cnt from Tbl group by Country")
    assert upper == lower
    assert upper.table == "Tbl"
    assert upper.measures[0].alias == "Cnt"
    assert upper.group_levels[0].exprs == (Column("Country"),)
    assert bql.parse("select count(*) from t group by page") != bql.parse(
        "select count(*) from t group by Page"
    )


def test_multi_line_query_with_tabs():
    query = bql.parse("select\n\tcount(*)\n  from\r\n my_table\n\ngroup by\n  country\n")
    assert query == ast.Query(
        (), (Measure(COUNT),), "my_table", (GroupLevel((Column("country"),)),)
    )


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r'"a\"b"', 'a"b'),
        (r"'it\'s'", "it's"),
        (r'"back\\slash"', "back\\slash"),
        (r'"tab\tnew\nline\r\0"', "tab\tnew\nline\r\0"),
        # Unknown escapes keep their backslash, so regular expressions read naturally.
        (r'"\d+\.\w"', r"\d+\.\w"),
        ('"single \' inside"', "single ' inside"),
        ("'double \" inside'", 'double " inside'),
        ('"multi\nline"', "multi\nline"),
        ('""', ""),
    ],
)
def test_string_escapes(literal, value):
    assert where(f"x = {literal}") == Compare("=", Column("x"), String(value))


@pytest.mark.parametrize(
    "value",
    [
        '"); drop table t; --',
        "' or 1=1 --",
        "a) from t; select 1",
        "nul\0byte",
        "`backquote`",
        "--",
        ";",
        "\\",
    ],
)
def test_hostile_values_are_kept_exactly(value):
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\0", "\\0")
    raw_nul = value.replace("\\", "\\\\").replace('"', '\\"')
    for literal in (f'"{escaped}"', f'"{raw_nul}"'):
        assert where(f"page = {literal}").right == String(value)
    quoted_name = "`" + value.replace("\\", "\\\\").replace("`", "\\`") + "`"
    query = bql.parse(f"select count(*) as {quoted_name} from {quoted_name} group by {quoted_name}")
    assert query.table == value
    assert query.measures[0].alias == value
    assert query.group_levels[0].exprs == (Column(value),)


def test_numbers():
    assert where("x = 3") == Compare("=", Column("x"), Number(3))
    assert isinstance(where("x = 3").right.value, int)
    assert where("x = 2.5").right == Number(2.5)
    assert where("x = 1e3").right == Number(1000.0)
    assert where("x = -4") == Compare("=", Column("x"), UnaryOp("-", Number(4)))


def test_arithmetic_precedence_and_associativity():
    assert measure("sum(a) + sum(b) * 2") == BinaryOp(
        "+", Aggregate("sum", Column("a")), BinaryOp("*", Aggregate("sum", Column("b")), Number(2))
    )
    assert measure("count(*) - 1 - 2") == BinaryOp("-", BinaryOp("-", COUNT, Number(1)), Number(2))
    assert measure("(count(*) - 1) / -(2)") == BinaryOp(
        "/", BinaryOp("-", COUNT, Number(1)), UnaryOp("-", Number(2))
    )


def test_boolean_precedence():
    a, b, c = (Compare("=", Column(n), Number(1)) for n in "abc")
    assert where("a = 1 or b = 1 and c = 1") == Or(a, And(b, c))
    assert where("(a = 1 or b = 1) and c = 1") == And(Or(a, b), c)
    assert where("not a = 1 and b = 1") == And(Not(a), b)
    assert where("not(a = 1) or not(not(b = 1))") == Or(Not(a), Not(Not(b)))


def test_all_comparison_operators():
    for op in ("=", "!=", "<", "<=", ">", ">="):
        assert where(f"x {op} 1") == Compare(op, Column("x"), Number(1))
    assert where("x <> 1") == Compare("!=", Column("x"), Number(1))


def test_aggregation_options():
    assert measure("sum(x where y > 1 on Actor<user>)") == Aggregate(
        "sum", Column("x"), Compare(">", Column("y"), Number(1)), "user"
    )
    assert measure("sum(x on Actor<user> where y)") == Aggregate(
        "sum", Column("x"), Column("y"), "user"
    )
    assert measure("count(* on event)") == COUNT
    assert measure("percentile(x where y, 99.5)") == Aggregate(
        "percentile", Column("x"), Column("y"), percentile=99.5
    )
    assert measure("percentile(x, 0 where y)") == Aggregate(
        "percentile", Column("x"), Column("y"), percentile=0
    )
    for func in ("avg", "min", "max", "last", "sum"):
        assert measure(f"{func.upper()}(x)") == Aggregate(func, Column("x"))


def test_measure_arithmetic_and_aliases():
    query = bql.parse(
        "select sum(x) / count(*) as `mean x`, ROUND(avg(y), 2) as r, sqrt(max(z)) from t"
    )
    assert [m.alias for m in query.measures] == ["mean x", "r", None]
    assert query.measures[1].expr == FunctionCall(
        "round", (Aggregate("avg", Column("y")), Number(2))
    )


def test_group_levels_and_order_by_before_limit():
    query = bql.parse("select count(*) as c from t group by a order by c desc limit 3 and by b, c2")
    assert query.group_levels == (
        GroupLevel((Column("a"),), 3),
        GroupLevel((Column("b"), Column("c2"))),
    )
    assert query.order_by == OrderBy("c", descending=True)


def test_and_by_without_limits():
    query = bql.parse("select count(*) from t group by a and by b And By c")
    assert [level.exprs for level in query.group_levels] == [
        (Column("a"),),
        (Column("b"),),
        (Column("c"),),
    ]


def test_group_by_arithmetic_and_actor_property_with_timespec():
    query = bql.parse(
        "select count(*) from t group by length / 10, "
        "Actor<user>(count(*) between 2021-01-01 and 2021-02-01), Actor<user>(sum(x) over 2 days)"
    )
    assert query.group_levels[0].exprs == (
        BinaryOp("/", Column("length"), Number(10)),
        ActorExpr(
            "user",
            COUNT,
            TimeRange(AbsoluteTime(2021, 1, 1), AbsoluteTime(2021, 2, 1)),
        ),
        ActorExpr("user", Aggregate("sum", Column("x")), Window(Duration(2, "day"))),
    )


def test_actor_property_used_in_a_filter():
    assert where("Actor<user>(count(*)) > 10") == Compare(">", ActorExpr("user", COUNT), Number(10))


def test_flow_is_parsed_for_the_compiler_to_reject():
    assert where("Flow<signup>(x) = 1").left == FlowRef("signup", (Column("x"),))
    assert where("Flow<signup>") == FlowRef("signup")
    assert where("Flow<signup>()") == FlowRef("signup")


def test_several_with_properties():
    query = bql.parse(
        "with a as Actor<user>(count(*)), `b c` as Actor<device>(max(x) over 1 day offset 0 days) "
        "select count(* where a > 1 and `b c` < 2) from t"
    )
    assert [(p.name, p.actor) for p in query.with_props] == [("a", "user"), ("b c", "device")]
    assert query.with_props[1].timespec == Window(Duration(1, "day"), Duration(0, "day"))


@pytest.mark.parametrize(
    ("text", "point"),
    [
        ("now", Now()),
        ("NOW", Now()),
        ("beginning_of_time", BeginningOfTime()),
        ("1 second ago", Ago(Duration(1, "second"))),
        ("30 seconds ago", Ago(Duration(30, "second"))),
        ("5 minutes ago", Ago(Duration(5, "minute"))),
        ("2 hours ago", Ago(Duration(2, "hour"))),
        ("1 day ago", Ago(Duration(1, "day"))),
        ("3 weeks ago", Ago(Duration(3, "week"))),
        ("1 month ago", Ago(Duration(1, "month"))),
        ("2 years ago", Ago(Duration(2, "year"))),
        ("0 days ago", Ago(Duration(0, "day"))),
        ("2021-01-05", AbsoluteTime(2021, 1, 5)),
        ("2021-1-5", AbsoluteTime(2021, 1, 5)),
        ("2021-1-5 4pm", AbsoluteTime(2021, 1, 5, 16)),
        ("2021-1-5 4 PM", AbsoluteTime(2021, 1, 5, 16)),
        ("2021-1-5 12am", AbsoluteTime(2021, 1, 5, 0)),
        ("2021-1-5 12pm", AbsoluteTime(2021, 1, 5, 12)),
        ("2021-1-5 11am", AbsoluteTime(2021, 1, 5, 11)),
        ("2021-01-05 16:30", AbsoluteTime(2021, 1, 5, 16, 30)),
        ("2021-01-05 00:00:59", AbsoluteTime(2021, 1, 5, 0, 0, 59)),
        ("2020-02-29", AbsoluteTime(2020, 2, 29)),
    ],
)
def test_time_points(text, point):
    query = bql.parse(f"select count(*) from t between {text} and now")
    assert query.time_range.start == point


@pytest.mark.parametrize(
    ("text", "series"),
    [
        ("for every hour", TimeSeries(Duration(1, "hour"))),
        ("for every 15 minutes", TimeSeries(Duration(15, "minute"))),
        ("for every 1 day over 7 days", TimeSeries(Duration(1, "day"), Duration(7, "day"))),
        ("for every week over 2 weeks", TimeSeries(Duration(1, "week"), Duration(2, "week"))),
        ("for every day over 1 month", TimeSeries(Duration(1, "day"), Duration(1, "month"))),
    ],
)
def test_time_series(text, series):
    assert bql.parse(f"select count(*) from t {text}").time_series == series


@pytest.mark.parametrize(
    ("text", "timezone"),
    [
        ("UTC", "UTC"),
        ("America/New_York", "America/New_York"),
        ("America/Port-au-Prince", "America/Port-au-Prince"),
        ("Etc/GMT+5", "Etc/GMT+5"),
        ('"Asia/Kolkata"', "Asia/Kolkata"),
    ],
)
def test_timezone_names(text, timezone):
    assert bql.parse(f"select count(*) from t timezone {text}").timezone == timezone


def test_keywords_as_names_need_back_quotes_but_context_words_do_not():
    query = bql.parse("select sum(`from`) as `order`, day, now from `select` group by desc")
    assert query.table == "select"
    assert query.measures[0] == Measure(Aggregate("sum", Column("from")), "order")
    assert query.measures[1:] == (Measure(Column("day")), Measure(Column("now")))
    assert query.group_levels[0].exprs == (Column("desc"),)


def test_positions_are_recorded_but_not_compared():
    query = bql.parse("select count(*)\nfrom t group by\n   country")
    column = query.group_levels[0].exprs[0]
    assert column.pos == (3, 4)
    assert query.measures[0].expr.pos == (1, 8)
    assert column == Column("country", pos=(9, 9))
    assert hash(column) == hash(Column("country"))


def test_nesting_within_the_limits_parses():
    depth = 30
    query = bql.parse("select " + "(" * depth + "count(*)" + ")" * depth + " from t")
    assert query.measures[0].expr == COUNT


def test_parse_rejects_non_text():
    with pytest.raises(TypeError, match="str"):
        bql.parse(b"select count(*) from t")
