"""Compiled BQL run on DuckDB must give exactly what the pandas oracle computes from the rules."""

from __future__ import annotations

import math

import duckdb
import pytest
from bql_oracle import ALIASES, COLUMNS, NOW, TABLE_NAME, Oracle, make_events
from hypothesis import given, settings
from hypothesis import strategies as st

from scuba_magic.bql import parse
from scuba_magic.emulator.catalog import Catalog, Table
from scuba_magic.emulator.compiler import compile_query


@pytest.fixture(scope="module")
def events():
    return make_events()


@pytest.fixture(scope="module")
def connection(events):
    con = duckdb.connect()
    con.register("events_frame", events)
    con.execute(f'CREATE TABLE "{TABLE_NAME}" AS SELECT * FROM events_frame')
    con.unregister("events_frame")
    yield con
    con.close()


@pytest.fixture(scope="module")
def catalog():
    table = Table(
        TABLE_NAME, dict(COLUMNS), time_column="time", actor_columns=["user"], aliases=list(ALIASES)
    )
    return Catalog([table])


@pytest.fixture(scope="module")
def oracle(events):
    return Oracle(events)


def run_sql(connection, catalog, text):
    compiled = compile_query(parse(text), catalog, now=NOW)
    return compiled, [
        tuple(row) for row in connection.execute(compiled.sql, compiled.params).fetchall()
    ]


def assert_same_rows(actual, expected, text):
    assert len(actual) == len(expected), (
        f"{text}\nrow count {len(actual)} != oracle {len(expected)}\n"
        f"sql rows: {actual[:8]}\noracle rows: {expected[:8]}"
    )
    for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
        assert len(got) == len(want), (text, got, want)
        for a, b in zip(got, want, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                assert (
                    a is not None
                    and b is not None
                    and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
                ), f"{text}\nrow {index}: sql {got} != oracle {want}"
            else:
                assert a == b, f"{text}\nrow {index}: sql {got} != oracle {want}"


# Each query covers a rule of design.md 7; the comment says which.
ORACLE_QUERIES = [
    # default range: beginning_of_time .. now, one bucket
    "select count(*) from events",
    "select count(*) from music between 7 days ago and now",
    # dates are midnight UTC; [start, end)
    "select count(*), count_unique(user) from events between 2021-01-10 and 2021-01-20",
    "select count(*) from events between 2021-2-3 4pm and 2021-02-04 09:30:15",
    # N units ago: exact arithmetic, month = 30 days, year = 365 days
    "select count(*) from events between 1 month ago and 2 weeks ago",
    "select count(*) from events between 1 year ago and 36 hours ago",
    # groups ranked by the first measure descending, NULL group kept
    "select count(*) from events group by gender",
    'select count(* where page = "Error") from events group by ROUND(length, -2) '
    "between 6 months ago and now",
    "select count(*) as cnt from events group by username limit 5 order by cnt "
    "between 7 days ago and now",
    "select count(*) as cnt from events group by username order by cnt desc limit 3",
    "select avg(length) as al, count(*) from events group by country order by al",
    # hierarchical groups with limits per level
    "select count(*) from events group by user, country limit 5 and by platform limit 2",
    "select count(*), sum(price) from events group by country limit 3 and by gender "
    "and by platform limit 1",
    # bare properties are implicit group-bys
    "select count_unique(purchase) as purchases, user from events order by purchases asc",
    "select country, count(*) from events group by platform limit 2",
    # time series: whole buckets, partial last bucket, zero fill
    "select count(*) from events for every week between 2021-01-01 and 2021-01-29",
    "select count(*) from events for every week between 2021-01-01 and 2021-01-20",
    "select count(*), avg(length) from events for every day between 2021-01-01 12:00 "
    "and 2021-01-03 18:00",
    'select count(* where page = "Error"), max(price) from events group by platform '
    "for every day between 2021-02-01 and 2021-02-08",
    "select count(*) as c, min(age) from events group by user limit 3 "
    "for every 3 days between 2021-02-01 and 2021-02-15",
    "select count(*) from events for every hour between 2021-02-10 and 2021-02-11",
    "select count(*), avg(length), count_unique(page) from events group by user "
    "for every 6 hours between 2021-02-10 and 2021-02-12",
    # over: trailing windows, from the first bucket reaching back before the start
    "select count(*) from events for every day over 2 days between 2021-01-05 and 2021-01-15",
    "select count(*) from events for every week over 14 days between beginning_of_time and now",
    "select count_unique(user) from events group by gender for every 2 days over 6 days "
    "between 2021-02-01 and 2021-02-10",
    # timezones (whole hours; DST changes the offset of a date)
    "select count(*) from events between 7 days ago and now timezone US/Pacific",
    "select count(*) from events for every day between 2021-01-04 and 2021-01-08 "
    "timezone Europe/Berlin",
    "select count(*) from events for every day between 2021-03-01 and 2021-03-02 "
    "timezone US/Eastern",
    "select count(*) from events between 2021-03-10 and 2021-03-20 timezone US/Pacific",
    "select count(*) from events for every day between 2021-02-27 and 2021-03-02 "
    "timezone Australia/Sydney",
    # aggregations
    "select sum(user_high_score), avg(user_high_score), min(length), max(length) from events",
    "select percentile(user_high_score, 90), percentile(length, 50), "
    "percentile(price, 0), percentile(price, 100) from events group by country",
    "select last(page), last(length), last(authenticated) from events group by user",
    "select count(length), count_unique(artist), min(artist), max(name) from events",
    # per-aggregation where: = != in not like, bare boolean
    'select count(* where action="hate") from events between beginning_of_time and now',
    "select count(* where authenticated) from events",
    'select count(* where not(authenticated)), count(* where gender != "F") from events',
    'select count(* where not(user="jack" or user="jill")) from events',
    'select count(* where user in ("jack","jill")), count(* where age in (23, 25)) from events',
    "select count(* where name like '.*jack.*'), count(* where name like '^J'), "
    "count(* where name like 'ill$') from events",
    'select count(* where age >= 25 and age < 40 or country = "JP") from events group by platform',
    'select count(* where `hello.world` = "a") from events group by `hello.world`',
    "select count_unique(user where sqrt(age) > 5), sum(price where price * 2 > 20) from events",
    # arithmetic between aggregations and constants, ROUND, sqrt, division by zero
    "select count(*) * 2 + 1 as x, sum(price) / count(*) as y, "
    "ROUND(avg(length), 1) as z from events group by gender",
    'select count(* where page = "Error") / count(* where page = "Nope") as ratio, '
    "sqrt(count(*)) as root, -min(age) as neg from events for every week "
    "between 2021-01-01 and 2021-01-22",
    # count on Actor
    'select count(* on Actor<user>), count(* where page = "Error" on Actor<user>) '
    "from events group by country",
    "select count(* on Actor<user>) from events group by Actor<user>(max(age))",
    'select count(*) from events group by Actor<user>(count(* where page = "Error")) limit 4',
    # actor properties over the query range, with their own range, with over/offset
    'with plays as Actor<user>(count(* where page = "NextSong")) '
    "select count_unique(user where plays > 100), count(* where plays < 50) from events",
    "with prev_week_activity as Actor<user>(count(*) over 1 week offset -1 week) "
    "select count_unique(user where prev_week_activity = 0) from events "
    "between 2021-01-08 and 2021-01-15",
    "with prev_week_activity as Actor<user>(count(*) over 1 week offset -1 week) "
    "select count_unique(user where prev_week_activity = 0), "
    "count(* where prev_week_activity > 20) from events for every week "
    "between 2021-01-01 and 2021-02-05",
    "with early as Actor<user>(max(length) between 2021-01-01 and 2021-01-15) "
    "select count(* where early > 400), avg(length where early < 410) from events "
    "group by gender",
    "with recent as Actor<user>(count(*) over 3 days) select count(*) from events "
    "group by recent limit 3 for every 10 days between 2021-01-05 and 2021-02-04",
    "select count(* where Actor<user>(avg(length)) > 220) from events group by country",
    # ranking of a time series by the whole range
    "select count(*) from events group by user limit 2 for every week over 14 days "
    "between 2021-01-10 and 2021-02-10",
    "select count(*) from events group by artist limit 3 for every 3 days",
]


@pytest.mark.parametrize("text", ORACLE_QUERIES)
def test_compiled_sql_matches_oracle(text, connection, catalog, oracle):
    _, actual = run_sql(connection, catalog, text)
    expected = oracle.run(parse(text))
    assert expected, f"the oracle found no rows for {text}: the test would prove little"
    assert_same_rows(actual, expected, text)


# -- random queries --------------------------------------------------------------------------

_NUMERIC = ["age", "length", "price", "user_high_score"]
_STRINGS = ["page", "country", "platform", "artist", "name", "user", "`hello.world`"]
_VALUES = {
    "page": ['"Error"', '"NextSong"'],
    "country": ['"US"', '"JP"'],
    "platform": ['"ios"'],
    "artist": ['"Muse"', '"Björk"'],
    "name": ['"jill"', '""'],
    "user": ['"jack"', '"u03"'],
    "`hello.world`": ['"a"'],
}


@st.composite
def conditions(draw, depth=0):
    choice = draw(st.integers(0, 6 if depth < 2 else 3))
    if choice == 0:
        column = draw(st.sampled_from(_NUMERIC))
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        return f"{column} {op} {draw(st.sampled_from(['0', '25', '100.5', '300']))}"
    if choice == 1:
        column = draw(st.sampled_from(_STRINGS))
        values = draw(st.lists(st.sampled_from(_VALUES[column]), min_size=1, max_size=2))
        if len(values) == 1:
            return f"{column} {draw(st.sampled_from(['=', '!=']))} {values[0]}"
        return f"{column} in ({', '.join(values)})"
    if choice == 2:
        pattern = draw(st.sampled_from(["^j", "ck", "^$", "[A-Z]"]))
        return f'name like "{pattern}"'
    if choice == 3:
        return "authenticated"
    if choice == 4:
        return f"not({draw(conditions(depth + 1))})"
    joiner = "and" if choice == 5 else "or"
    return f"{draw(conditions(depth + 1))} {joiner} {draw(conditions(depth + 1))}"


@st.composite
def aggregations(draw, numeric_only=False):
    kind = draw(st.integers(0, 3 if numeric_only else 8))
    where = f" where {draw(conditions())}" if draw(st.booleans()) else ""
    numeric = draw(st.sampled_from(_NUMERIC))
    if kind == 0:
        return f"count(*{where})"
    if kind == 1:
        return f"count(*{where} on Actor<user>)"
    if kind == 2:
        return f"count_unique({draw(st.sampled_from(_STRINGS))}{where})"
    if kind == 3:
        return f"percentile({numeric}{where}, {draw(st.sampled_from([0, 10, 50, 99, 100]))})"
    if kind == 4:
        return f"last({draw(st.sampled_from(_STRINGS + _NUMERIC))}{where})"
    func = draw(st.sampled_from(["sum", "avg", "min", "max"]))
    return f"{func}({numeric}{where})"


@st.composite
def queries(draw):
    measures = draw(st.lists(aggregations(), min_size=1, max_size=3, unique=True))
    if draw(st.integers(0, 4)) == 0:
        numeric = draw(st.sampled_from(_NUMERIC))
        measures[0] = f"count(*) * 2 + sum({numeric}) / {draw(aggregations(numeric_only=True))}"
    prefix = ""
    if draw(st.integers(0, 2)) == 0:
        over = draw(st.sampled_from(["1 day", "2 days", "36 hours"]))
        offset = draw(
            st.sampled_from(
                ["", " offset 0 days", " offset -1 day", " offset -12 hours", " offset 1 day"]
            )
        )
        prefix = f'with act as Actor<user>(count(* where page = "NextSong") over {over}{offset}) '
        measures.append(
            draw(st.sampled_from(["count(* where act > 3)", "count_unique(user where act = 0)"]))
        )
    text = prefix + "select " + ", ".join(f"{m} as m{i}" for i, m in enumerate(measures))
    text += " from events"
    keys = [
        "gender",
        "country",
        "platform",
        "ROUND(length, -2)",
        "authenticated",
        "Actor<user>(max(age))",
        'Actor<user>(count(* where page = "Error"))',
    ]
    levels = draw(
        st.lists(st.lists(st.sampled_from(keys), min_size=1, max_size=2, unique=True), max_size=2)
    )
    used = set()
    parts = []
    for level in levels:
        level = [key for key in level if key not in used]
        if not level:
            continue
        used.update(level)
        limit = draw(st.sampled_from(["", " limit 1", " limit 2"]))
        parts.append(", ".join(level) + limit)
    if parts:
        text += " group by " + " and by ".join(parts)
        if draw(st.booleans()):
            index = draw(st.integers(0, len(measures) - 1))
            text += f" order by m{index}{draw(st.sampled_from(['', ' asc', ' desc']))}"
    start = draw(st.sampled_from(["2021-02-01", "2021-02-03 6pm", "10 days ago"]))
    days = draw(st.integers(1, 9))
    if draw(st.booleans()):
        every = draw(st.sampled_from(["day", "12 hours", "2 days"]))
        over = draw(st.sampled_from(["", " over 2 days", " over 4 days"]))
        if every == "2 days" and over == " over 2 days":
            over = ""
        if every == "2 days" and over:
            over = " over 4 days"
        text += f" for every {every}{over}"
    if start == "10 days ago":
        text += f" between {start} and {10 - days} days ago"
    else:
        text += f" between {start} and 2021-02-{3 + days:02d}"
    if draw(st.booleans()):
        text += f" timezone {draw(st.sampled_from(['US/Pacific', 'Europe/Berlin', 'UTC']))}"
    return text


@settings(max_examples=40)
@given(text=queries())
def test_random_queries_match_the_oracle(text, connection, catalog, oracle):
    _, actual = run_sql(connection, catalog, text)
    assert_same_rows(actual, oracle.run(parse(text)), text)
