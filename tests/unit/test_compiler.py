"""The BQL compiler: the semantic rules pinned on a tiny hand-checked table, labels, the docs'
example queries, and the error for each kind of mistake."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import pytest
from bql_oracle import ALIASES, COLUMNS, NOW, TABLE_NAME, make_events

from scuba_magic.bql import BQLError, ast, parse
from scuba_magic.emulator.catalog import Catalog, Table
from scuba_magic.emulator.compiler import (
    CompileError,
    UnsupportedError,
    compile_query,
    refusal_of,
)

TINY_NOW = dt.datetime(2021, 2, 1)

# Inserted out of time order on purpose: last() must follow event time, not row order.
TINY_ROWS = [
    ("2021-01-04 23:59:59", "u1", "NextSong", 10.0, True),
    ("2021-01-01 00:00:00", "u1", "Home", 1.0, True),
    ("2021-01-05 00:00:00", "u3", "Home", 5.0, False),
    ("2021-01-02 00:00:00", "u2", "NextSong", 3.0, None),
    ("2021-01-01 12:00:00", "u1", "NextSong", 2.0, False),
    ("2021-01-03 06:00:00", "u2", "Error", None, True),
]


def ms(text: str, tz: dt.tzinfo = dt.timezone.utc) -> int:
    moment = dt.datetime.fromisoformat(text).replace(tzinfo=tz)
    return int(moment.timestamp() * 1000)


@pytest.fixture(scope="module")
def tiny():
    con = duckdb.connect()
    con.execute(
        'CREATE TABLE tiny ("time" TIMESTAMP, "user" VARCHAR, page VARCHAR, value DOUBLE, '
        "flag BOOLEAN)"
    )
    con.executemany("INSERT INTO tiny VALUES (CAST(? AS TIMESTAMP), ?, ?, ?, ?)", TINY_ROWS)
    con.execute(
        "CREATE TABLE nums AS SELECT TIMESTAMP '2021-01-01' + INTERVAL (i) MINUTE "
        "AS time, i AS n FROM range(1, 11) r(i)"
    )
    catalog = Catalog(
        [
            Table(
                "tiny",
                {
                    "time": "TIMESTAMP",
                    "user": "VARCHAR",
                    "page": "VARCHAR",
                    "value": "DOUBLE",
                    "flag": "BOOLEAN",
                },
                time_column="time",
                actor_columns=["user"],
            ),
            Table("nums", {"time": "TIMESTAMP", "n": "BIGINT"}, time_column="time"),
        ]
    )

    def run(text: str, now: dt.datetime = TINY_NOW):
        compiled = compile_query(parse(text), catalog, now=now)
        return [tuple(r) for r in con.execute(compiled.sql, compiled.params).fetchall()]

    run.catalog = catalog
    yield run
    con.close()


@pytest.fixture(scope="module")
def catalog():
    return Catalog(
        [
            Table(
                TABLE_NAME,
                dict(COLUMNS),
                time_column="time",
                actor_columns=["user"],
                aliases=list(ALIASES),
            )
        ]
    )


@pytest.fixture(scope="module")
def events_db():
    con = duckdb.connect()
    con.register("frame", make_events())
    con.execute(f'CREATE TABLE "{TABLE_NAME}" AS SELECT * FROM frame')
    yield con
    con.close()


def compile_text(text: str, catalog: Catalog, now: dt.datetime = NOW):
    return compile_query(parse(text), catalog, now=now)


# -- time range and buckets ------------------------------------------------------------------


def test_range_includes_its_start_and_excludes_its_end(tiny):
    rows = tiny("select count(*) from tiny between 2021-01-01 and 2021-01-05")
    assert rows == [(ms("2021-01-01"), ms("2021-01-05"), 5)]


def test_default_range_runs_from_the_first_event_to_now(tiny):
    rows = tiny("select count(*) from tiny")
    assert rows == [(ms("2021-01-01"), ms("2021-02-01"), 6)]


def test_too_many_buckets_from_the_first_event_is_refused_by_the_sql_in_compiler_words(tiny):
    # the range starts at the first event (2021-01-01), known only to the data: 31 days of
    # seconds is 2678400 buckets
    with pytest.raises(duckdb.Error) as caught:
        tiny("select count(*) from tiny for every second")
    message = str(caught.value).splitlines()[0]
    assert refusal_of(message) == (
        "the query asks for 2678400 time buckets, more than the 100000 allowed; use a coarser "
        "resolution or a shorter range"
    )
    with pytest.raises(CompileError) as compiled:
        compile_text(
            "select count(*) from tiny for every second between 2021-01-01 and 2021-02-01",
            tiny.catalog,
        )
    assert compiled.value.message == refusal_of(message), "the same words either way"
    assert refusal_of("Conversion Error: Could not convert string 'x' to INT32") is None


def test_partial_last_bucket_ends_at_the_range_end_and_covers_a_whole_window(tiny):
    rows = tiny(
        "select count(*) from tiny for every 2 days between 2021-01-01 and 2021-01-05 12:00"
    )
    assert rows == [
        (ms("2021-01-01"), ms("2021-01-03"), 3),
        (ms("2021-01-03"), ms("2021-01-05"), 2),
        (ms("2021-01-03 12:00"), ms("2021-01-05 12:00"), 2),
    ]


def test_over_makes_trailing_windows_that_reach_before_the_start(tiny):
    rows = tiny(
        "select count(*) from tiny for every day over 2 days between 2021-01-02 and 2021-01-04"
    )
    assert rows == [
        (ms("2021-01-01"), ms("2021-01-03"), 3),
        (ms("2021-01-02"), ms("2021-01-04"), 2),
    ]


def test_docs_example_of_weekly_buckets_gives_two_buckets(tiny):
    rows = tiny("select count(*) from tiny for every 1 week between 2019-01-01 and 2019-01-15")
    assert rows == [
        (ms("2019-01-01"), ms("2019-01-08"), 0),
        (ms("2019-01-08"), ms("2019-01-15"), 0),
    ]


def test_ago_is_exact_with_30_day_months_and_365_day_years(tiny):
    now = dt.datetime(2021, 3, 1, 10, 30)
    rows = tiny("select count(*) from tiny between 1 year ago and 1 month ago", now=now)
    assert rows[0][:2] == (
        ms("2020-03-01 10:30"),
        ms("2021-01-30 10:30"),
    )


def test_time_series_zero_fills_counts_and_leaves_other_measures_null(tiny):
    rows = tiny(
        "select count(*), avg(value) from tiny group by user "
        "for every day between 2021-01-01 and 2021-01-04"
    )
    day = [ms("2021-01-01"), ms("2021-01-02"), ms("2021-01-03"), ms("2021-01-04")]
    assert rows == [
        ("u1", day[0], day[1], 2, 1.5),
        ("u1", day[1], day[2], 0, None),
        ("u1", day[2], day[3], 0, None),
        ("u2", day[0], day[1], 0, None),
        ("u2", day[1], day[2], 1, 3.0),
        ("u2", day[2], day[3], 1, None),
    ]


# -- timezones -------------------------------------------------------------------------------


def test_dates_are_midnight_in_the_query_timezone_with_its_dst_offset(tiny):
    pacific = dt.timezone(dt.timedelta(hours=-8))
    pacific_summer = dt.timezone(dt.timedelta(hours=-7))
    rows = tiny("select count(*) from tiny between 2021-03-10 and 2021-03-20 timezone US/Pacific")
    assert rows == [(ms("2021-03-10", pacific), ms("2021-03-20", pacific_summer), 0)]


def test_timezone_is_reported(tiny):
    pacific = compile_query(
        parse("select count(*) from tiny timezone US/Pacific"), tiny.catalog, now=TINY_NOW
    )
    plain = compile_query(parse("select count(*) from tiny"), tiny.catalog, now=TINY_NOW)
    assert (pacific.timezone, plain.timezone) == ("US/Pacific", "UTC")


def test_half_hour_timezone_is_rejected(tiny):
    with pytest.raises(CompileError, match="whole number of hours"):
        compile_query(
            parse("select count(*) from tiny timezone Asia/Kolkata"), tiny.catalog, now=TINY_NOW
        )


def test_unknown_timezone_names_a_close_one(tiny):
    with pytest.raises(CompileError, match="unknown timezone 'US/Pacfic'.*US/Pacific"):
        compile_query(
            parse("select count(*) from tiny timezone US/Pacfic"), tiny.catalog, now=TINY_NOW
        )


def test_timezone_names_are_case_sensitive_and_the_error_names_the_right_spelling(tiny):
    with pytest.raises(CompileError, match="did you mean US/Pacific"):
        compile_query(
            parse("select count(*) from tiny timezone us/pacific"), tiny.catalog, now=TINY_NOW
        )


def test_aware_and_naive_now_mean_the_same_moment(tiny):
    naive = compile_query(
        parse("select count(*) from tiny between 3 days ago and now"),
        tiny.catalog,
        now=dt.datetime(2021, 1, 3, 12),
    )
    aware = compile_query(
        parse("select count(*) from tiny between 3 days ago and now"),
        tiny.catalog,
        now=dt.datetime(2021, 1, 3, 4, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
    )
    assert naive.params == aware.params


# -- aggregations ----------------------------------------------------------------------------


def test_percentile_is_the_discrete_nearest_rank_percentile(tiny):
    rows = tiny(
        "select percentile(n, 90), percentile(n, 50), percentile(n, 0), "
        "percentile(n, 95), percentile(n, 100), percentile(n, 11) from nums"
    )
    assert rows[0][2:] == (9, 5, 1, 10, 10, 2)


def test_last_follows_event_time_not_row_order(tiny):
    rows = tiny(
        "select last(page), last(value), last(flag) from tiny between 2021-01-01 and 2021-01-05"
    )
    assert rows[0][2:] == ("NextSong", 10.0, True)


def test_count_on_actor_counts_distinct_actors(tiny):
    rows = tiny(
        'select count(* on Actor<user>), count(* where page = "NextSong" on Actor<user>)'
        " from tiny between 2021-01-01 and 2021-01-05"
    )
    assert rows[0][2:] == (2, 2)


def test_conditions_on_missing_values_are_false_and_not_negates_them(tiny):
    rows = tiny(
        "select count(* where flag), count(* where not(flag)), "
        "count(* where value != 3), count(* where not(value = 3)) from tiny"
    )
    assert rows[0][2:] == (3, 3, 4, 5)


def test_counts_are_integers_and_group_values_are_strings_with_null_kept(tiny):
    rows = tiny("select count(*), sum(value) from tiny group by flag")
    assert rows == [
        ("true", ms("2021-01-01"), ms("2021-02-01"), 3, 11.0),
        ("false", ms("2021-01-01"), ms("2021-02-01"), 2, 7.0),
        (None, ms("2021-01-01"), ms("2021-02-01"), 1, 3.0),
    ]
    assert all(type(row[3]) is int for row in rows)


def test_order_by_is_ascending_by_default_and_ties_break_by_group_value(tiny):
    rows = tiny("select count(*) as c from tiny group by user order by c")
    assert [row[0] for row in rows] == ["u3", "u2", "u1"]
    rows = tiny("select count(*) as c from tiny group by user order by c desc limit 2")
    assert [row[0] for row in rows] == ["u1", "u2"]


def test_actor_property_over_offset_is_relative_to_each_bucket_end(tiny):
    rows = tiny(
        "with prev as Actor<user>(count(*) over 1 day offset -1 day) "
        "select count(* where prev > 0) from tiny for every day "
        "between 2021-01-02 and 2021-01-05"
    )
    assert [row[2] for row in rows] == [0, 1, 0]


def test_actor_property_without_timespec_uses_the_query_range(tiny):
    rows = tiny(
        "select count(*) from tiny group by Actor<user>(max(value)) "
        "between 2021-01-01 and 2021-01-04"
    )
    assert [(row[0], row[3]) for row in rows] == [("2.0", 2), ("3.0", 2)]


# -- labels ----------------------------------------------------------------------------------


def test_labels_follow_alias_count_of_events_and_bql_text(catalog):
    compiled = compile_text(
        'select count(*), count(* where page = "Error"), sum(price) as revenue, country '
        "from my_table group by `hello.world`, ROUND(length, 10), Actor<user>(max(age))",
        catalog,
    )
    assert compiled.groups == [
        "hello.world",
        "ROUND(length, 10)",
        "Actor<user>(max(age))",
        "country",
    ]
    assert compiled.measures == ["count of events", 'count(* where page = "Error")', "revenue"]
    assert compiled.columns == [*compiled.groups, "start_time_0", "end_time_0", *compiled.measures]


# -- the docs' examples ----------------------------------------------------------------------

DOC_EXAMPLES = [
    "select count(*) from foreverMusic",
    "select count(*) from foreverMusic group by gender between 7 days ago and now",
    'select count(* where page = "Error") from my_table group by ROUND(length,10) '
    "between 6 months ago and now",
    "select count(*) as cnt from nightly1_usage group by username limit 5 order by cnt "
    "between 7 days ago and now",
    'select count(* where action="hate") from fashion between beginning_of_time and now',
    "select count(*) from my_table for every day over 2 days between 2021-01-01 and 2021-01-15",
    "select count(*) from my_table between 7 days ago and now timezone US/Pacific",
    "select count(* where authenticated) from fashion",
    "select count(*) from my_table group by `hello.world` between 7 days ago and now",
    "select count_unique(user) from my_table",
    'select count(* where not(user="jack" or user="jill")) from my_table',
    "select count_unique(purchase) as purchases, user from my_table order by purchases asc",
    'select count(* where user in ("jack","jill")) from my_table',
    "select count(*) from my_table group by user, country limit 5 and by platform limit 3",
    "select count(* on Actor<user>) from my_table group by Actor<user>(max(age))",
    "select count_unique(user where sqrt(age) > 5) from my_table",
    "select percentile(user_high_score, 90) from my_table",
    "select count(*) from my_table for every week over 7 days between beginning_of_time and now",
    "select count(* where name like '.*jack.*') from my_table",
    "with prev_week_activity as Actor<user>(count(*) over 1 week offset -1 week)\n"
    "  select count_unique(user where prev_week_activity = 0) from my_table "
    "between 2021-01-08 and 2021-01-15",
]


@pytest.mark.parametrize("text", DOC_EXAMPLES)
def test_every_docs_example_compiles_and_runs(text, catalog, events_db):
    compiled = compile_text(text, catalog)
    rows = events_db.execute(compiled.sql, compiled.params).fetchall()
    assert rows, text
    assert all(len(row) == len(compiled.columns) for row in rows)


# -- errors ----------------------------------------------------------------------------------

ERRORS = [
    ("select count(*) from musc", r"unknown table 'musc'.*did you mean 'music'"),
    ("select count(*) from Music", r"unknown table 'Music'.*'music'.*case-sensitive"),
    ("select count(*) from events group by gendr", r"no column 'gendr'.*did you mean 'gender'"),
    ('select count(* where Page = "Error") from events', r"no column 'Page'.*'page'"),
    (
        'select count(*) from events group by `a"; drop table events; --`',
        r"no column 'a\"; drop table events; --'",
    ),
    ("select count(* on Actor<country>) from events", r"Actor<country> is not an actor"),
    ("select sum(page) from events", r"sum needs a numeric property.*a string"),
    ("select avg(authenticated) from events", r"avg needs a numeric property"),
    ("select percentile(country, 50) from events", r"percentile needs a numeric property"),
    ('select count(* where age = "30") from events', r"cannot compare a number with a string"),
    ("select count(* where page > 3) from events", r"cannot compare a string with a number"),
    ("select count(* where age like '3.*') from events", r"like matches strings"),
    ("select count(* where name like '(jack') from events", r"invalid regular expression"),
    ("select count(* where page) from events", r"a filter needs a condition"),
    ("select count(*) + age from events", r"must be inside an aggregation"),
    ("select count(*) from events between now and 7 days ago", r"the time range is empty"),
    (
        "select count(*) from events for every second between 2020-01-01 and 2021-01-01",
        r"time buckets",
    ),
    ("select count(*), count(*) from events", r"two result columns .*'count of events'"),
    (
        "select count(*) as c from events group by gender order by d",
        r"order by 'd' does not name a measure.*'c'",
    ),
    ("select count(*) from events group by Actor<user>(age)", r"needs an aggregation"),
    ("with age as Actor<user>(max(age)) select count(*) from events", r"has the name of a column"),
    ("select sum(length on Actor<user>) from events", r"only count\(\*\) can be computed on"),
    ("select count(*) from events timezone Asia/Kolkata", r"whole number of hours"),
    (
        "select count(* where Actor<user>(max(Actor<user>(count(*)))) > 1) from events",
        r"cannot be used inside another actor property",
    ),
    ("select count(* where sqrt(page) > 1) from events", r"sqrt needs numbers"),
    (
        "select count(*) from events group by ROUND(length, age)",
        r"second argument of ROUND must be a whole number",
    ),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_errors_say_what_is_wrong(text, message, catalog):
    with pytest.raises(CompileError, match=message) as caught:
        compile_text(text, catalog)
    assert isinstance(caught.value, BQLError)


def _replace_query(text: str, **changes) -> ast.Query:
    return dataclasses.replace(parse(text), **changes)


# Syntax trees the parser would refuse, built directly: the compiler must not trust its input.
AST_ERRORS = [
    (
        _replace_query(
            "select count(*) from events",
            measures=(
                ast.Measure(
                    ast.Aggregate(
                        "count",
                        ast.Star(),
                        where=ast.Compare(">", ast.Aggregate("count", ast.Star()), ast.Number(3)),
                    )
                ),
            ),
        ),
        r"the aggregation count\(\.\.\.\) cannot be used here",
    ),
    (
        _replace_query(
            "select count(*) from events",
            time_series=ast.TimeSeries(ast.Duration(1, "day"), ast.Duration(36, "hour")),
        ),
        r"36 hour\(s\) is not a multiple of 1 day\(s\)",
    ),
    (
        _replace_query(
            "select count(*) from events",
            time_range=ast.TimeRange(ast.AbsoluteTime(2021, 2, 30), ast.Now()),
        ),
        r"2021-02-30 is not a valid date",
    ),
    (
        _replace_query("select count(*) from events", measures=(ast.Measure(ast.Column("age")),)),
        r"the select list needs at least one aggregation",
    ),
    (
        _replace_query(
            "select count(*) from events",
            measures=(ast.Measure(ast.Aggregate("median", ast.Column("age"))),),
        ),
        r"unknown aggregation 'median'",
    ),
    (
        _replace_query(
            "select count(*) from events",
            measures=(ast.Measure(ast.Aggregate("percentile", ast.Column("age"), percentile=120)),),
        ),
        r"percentile takes a number between 0 and 100",
    ),
    (
        _replace_query(
            "select count(*) from events",
            group_levels=(ast.GroupLevel((ast.Column("gender"),), limit=-1),),
        ),
        r"a group limit must not be negative",
    ),
]


@pytest.mark.parametrize(("query", "message"), AST_ERRORS)
def test_compiler_checks_trees_the_parser_would_refuse(query, message, catalog):
    with pytest.raises(CompileError, match=message):
        compile_query(query, catalog, now=NOW)


def test_flows_are_rejected_as_unsupported(catalog):
    with pytest.raises(UnsupportedError, match="Flows are defined in the Scuba UI"):
        compile_text("select count(* where Flow<signup>(user) > 0) from events", catalog)


def test_errors_carry_the_position_of_the_offending_node(catalog):
    with pytest.raises(CompileError) as caught:
        compile_text("select count(*)\nfrom events\ngroup by gendr", catalog)
    assert (caught.value.line, caught.value.column) == (3, 10)


# -- the catalog -----------------------------------------------------------------------------


def test_catalog_finds_tables_by_name_and_alias_and_lists_each_once():
    table = Table("foreverMusic", {"time": "TIMESTAMP"}, time_column="time", aliases=["music"])
    catalog = Catalog([table])
    assert catalog.table("music") is catalog.table("foreverMusic") is table
    assert catalog.tables() == [table]
    assert catalog.names() == ["foreverMusic", "music"]
    assert table.sql_name == "foreverMusic"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_column": "ts"}, "time column 'ts' is not one of its columns"),
        ({"time_column": "time", "actor_columns": ["who"]}, "actor column 'who'"),
        ({"time_column": "time", "aliases": ["a\x00b"]}, "NUL"),
    ],
)
def test_table_definitions_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Table("t", {"time": "TIMESTAMP", "user": "VARCHAR"}, **kwargs)


def test_columns_of_unsupported_types_are_refused_by_name():
    catalog = Catalog([Table("t", {"time": "TIMESTAMP", "tags": "VARCHAR[]"}, time_column="time")])
    with pytest.raises(CompileError, match=r"column 'tags' has type VARCHAR\[\]"):
        compile_query(parse("select count_unique(tags) from t"), catalog, now=NOW)
