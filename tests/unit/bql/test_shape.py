"""describe(): the measure and group labels of a query's result, per design.md 7."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scuba_magic import bql
from scuba_magic.bql import QueryShape


@pytest.mark.parametrize(
    ("text", "measures", "groups"),
    [
        ("select count(*) from foreverMusic", ["count of events"], []),
        ("SELECT COUNT(* ON EVENT) FROM t", ["count of events"], []),
        (
            "select count(*) from foreverMusic group by gender between 7 days ago and now",
            ["count of events"],
            ["gender"],
        ),
        (
            "select count(* where page = 'Error') from t group by ROUND(length,10)",
            ['count(* where page = "Error")'],
            ["ROUND(length, 10)"],
        ),
        ("select count(*) as cnt from t group by username limit 5", ["cnt"], ["username"]),
        ("select count(*) from t group by `hello.world`", ["count of events"], ["hello.world"]),
        ("select count_unique(user) from t", ["count_unique(user)"], []),
        (
            "select count(* on Actor<user>) from t group by Actor<user>(max(age))",
            ["count(* on Actor<user>)"],
            ["Actor<user>(max(age))"],
        ),
        (
            "select count(*) from t group by user, country limit 5 and by platform limit 3",
            ["count of events"],
            ["user", "country", "platform"],
        ),
        (
            "select percentile(x, 90), sum(x)/count(*) from t",
            ["percentile(x, 90)", "sum(x) / count(*)"],
            [],
        ),
        ("select count(*) as `my count` from t", ["my count"], []),
    ],
)
def test_labels(text, measures, groups):
    shape = bql.describe(text)
    assert shape.measures == measures
    assert shape.groups == groups


def test_bare_select_properties_are_groups_after_the_first_level():
    shape = bql.describe(
        "select count_unique(purchase) as purchases, user, `a b` as ab from t "
        "group by country limit 3 and by platform"
    )
    assert shape == QueryShape(
        measures=["purchases"],
        groups=["country", "user", "a b", "platform"],
        timezone=None,
        has_time_series=False,
        count_measures=("purchases",),
    )


def test_count_measures_are_the_bare_counts_not_arithmetic_on_them():
    shape = bql.describe(
        "select count(*), count(* where page = 'Error') as errors, count(* on Actor<user>), "
        "count_unique(song), avg(age), count(*) / 2, sum(x) + count(*) as mixed, "
        "max(length) as longest from t group by age"
    )
    assert shape.count_measures == (
        "count of events",
        "errors",
        "count(* on Actor<user>)",
        "count_unique(song)",
    )
    assert bql.describe("select avg(age) from t group by age").count_measures == ()
    # a shape made by hand names no counts unless told
    assert QueryShape(measures=["n"]).count_measures == ()


def test_bare_property_already_grouped_is_not_repeated():
    shape = bql.describe("select count(*), country from t group by country")
    assert shape.groups == ["country"]


def test_timezone_and_time_series():
    shape = bql.describe(
        "select count(*) from t for every day between 7 days ago and now timezone US/Pacific"
    )
    assert shape.timezone == "US/Pacific"
    assert shape.has_time_series is True
    assert bql.describe("select count(*) from t").has_time_series is False


def test_describe_accepts_a_parsed_query():
    query = bql.parse("select sum(x) as total from t group by y")
    assert bql.describe(query) == bql.describe(bql.to_bql(query))


def test_describe_reports_syntax_errors_and_rejects_other_types():
    with pytest.raises(bql.BQLSyntaxError):
        bql.describe("select * from t")
    with pytest.raises(TypeError, match="BQL text or a Query"):
        bql.describe(42)


def test_importing_bql_loads_nothing_heavy():
    code = (
        "import sys, scuba_magic.bql as b; b.describe('select count(*) from t'); "
        "heavy = {'pandas', 'numpy', 'requests', 'duckdb', 'plotly', 'pyarrow', 'IPython'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
