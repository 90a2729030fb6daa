"""No text of a query reaches the SQL: values are bound parameters, names come from the catalog.

The proof is that the SQL of a query does not change when its literal values change (only the
parameters do), that hostile values never appear in it, that they still match exactly the rows
holding them, and that hostile names are refused unless the catalog has them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scuba_magic.bql import ast, parse
from scuba_magic.bql.printer import quote_name, quote_string
from scuba_magic.emulator.catalog import Catalog, Table
from scuba_magic.emulator.compiler import CompileError, compile_query

NOW = dt.datetime(2021, 2, 1)

HOSTILE = [
    "'",
    "''",
    "'; DROP TABLE hostile; --",
    '"); DELETE FROM hostile; --',
    ") OR 1=1 --",
    "a\x00b",
    "\\'",
    "`name`",
    "x' OR 'x'='x",
    "$1",
    "?",
    "/* comment */",
    "é\u2028\U0001f600",
    "name\n--",
]

WEIRD_COLUMNS = {'we"ird': "VARCHAR", "semi;colon --": "VARCHAR", "hello.world": "VARCHAR"}


@pytest.fixture(scope="module")
def db():
    con = duckdb.connect()
    con.execute(
        'CREATE TABLE hostile ("time" TIMESTAMP, "user" VARCHAR, name VARCHAR, age BIGINT, '
        '"we""ird" VARCHAR, "semi;colon --" VARCHAR, "hello.world" VARCHAR)'
    )
    rows = [
        (dt.datetime(2021, 1, 1, 0, i), f"u{i % 3}", value, i, value, value, value)
        for i, value in enumerate(HOSTILE)
    ]
    con.executemany("INSERT INTO hostile VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    catalog = Catalog(
        [
            Table(
                "hostile",
                {
                    "time": "TIMESTAMP",
                    "user": "VARCHAR",
                    "name": "VARCHAR",
                    "age": "BIGINT",
                    **WEIRD_COLUMNS,
                },
                time_column="time",
                actor_columns=["user"],
            )
        ]
    )
    yield con, catalog
    con.close()


def compiled_for(catalog, text):
    return compile_query(parse(text), catalog, now=NOW)


def filter_query(value: str, column: str = "name") -> str:
    literal = quote_string(value)
    return (
        f"select count(* where {quote_name(column)} = {literal}), "
        f'count(* where {quote_name(column)} in ({literal}, "benign")), '
        f"count(* where not({quote_name(column)} != {literal})) from hostile"
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_string_literals_are_bound_and_match_exactly(value, db):
    con, catalog = db
    compiled = compiled_for(catalog, filter_query(value))
    benign = compiled_for(catalog, filter_query("benign value"))
    assert compiled.sql == benign.sql
    # "$1" is also how the SQL names its first parameter; the equality above covers it.
    if len(value) > 1 and value != "$1":
        assert value not in compiled.sql
    assert value in compiled.params
    rows = con.execute(compiled.sql, compiled.params).fetchall()
    assert rows[0][2:] == (1, 1, 1)


@pytest.mark.parametrize("column", list(WEIRD_COLUMNS))
def test_catalog_names_with_quotes_and_semicolons_are_quoted(column, db):
    con, catalog = db
    compiled = compiled_for(
        catalog,
        filter_query("'; DROP TABLE hostile; --", column)
        + f" group by {quote_name(column)} limit 1",
    )
    rows = con.execute(compiled.sql, compiled.params).fetchall()
    assert rows[0][0] == "'; DROP TABLE hostile; --"
    assert rows[0][3:] == (1, 1, 1)
    assert compiled.groups == [column]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_regex_in_like_is_bound(value, db):
    con, catalog = db
    pattern = "^" + re.escape(value).replace("\\\x00", "\\x00") + "$"
    compiled = compiled_for(
        catalog, f"select count(* where name like {quote_string(pattern)}) from hostile"
    )
    assert pattern not in compiled.sql
    assert con.execute(compiled.sql, compiled.params).fetchall()[0][2] == 1


@pytest.mark.parametrize(
    "name",
    [
        'a"; DROP TABLE hostile; --',
        "name`) --",
        "x\x00y",
        "NAME",
    ],
)
def test_unknown_back_quoted_names_are_refused(name, db):
    _, catalog = db
    with pytest.raises(CompileError, match="has no column"):
        compiled_for(catalog, f"select count(* where {quote_name(name)} = 1) from hostile")
    with pytest.raises(CompileError, match="unknown table"):
        compiled_for(catalog, f"select count(*) from {quote_name(name)}")


def test_aliases_and_property_names_never_reach_the_sql(db):
    con, catalog = db
    alias = 'c"; DROP TABLE hostile; --'
    prop = "p'); --"
    text = (
        f"with {quote_name(prop)} as Actor<user>(count(*)) "
        f"select count(* where {quote_name(prop)} > 0) as {quote_name(alias)} from hostile "
        f"order by {quote_name(alias)}"
    )
    compiled = compiled_for(catalog, text)
    assert alias not in compiled.sql and prop not in compiled.sql
    assert compiled.measures == [alias]
    assert con.execute(compiled.sql, compiled.params).fetchall()[0][2] == len(HOSTILE)


def test_numbers_and_times_are_parameters(db):
    _, catalog = db
    compiled = compiled_for(
        catalog,
        "select count(* where age > 987654321), count(*) * 123457 from hostile "
        "for every 7 days between 2020-12-01 and 2021-01-29",
    )
    for text in ("987654321", "123457", "2020", "1606780800", str(7 * 86400)):
        assert text not in compiled.sql


def test_hostile_timezone_names_are_refused(db):
    _, catalog = db
    base = parse("select count(*) from hostile")
    for zone in ["../../etc/passwd", "/etc/localtime", "US/Pacific\x00", "'; --"]:
        with pytest.raises(CompileError, match="unknown timezone"):
            compile_query(dataclasses.replace(base, timezone=zone), catalog, now=NOW)


def test_huge_integer_literal_is_refused(db):
    _, catalog = db
    query = parse("select count(* where age > 1) from hostile")
    measure = query.measures[0]
    huge = dataclasses.replace(
        measure.expr, where=ast.Compare(">", ast.Column("age"), ast.Number(2**70))
    )
    with pytest.raises(CompileError, match="too large"):
        compile_query(dataclasses.replace(query, measures=(ast.Measure(huge),)), catalog, now=NOW)


@given(st.text(max_size=30))
def test_any_string_literal_is_bound_and_matches_exactly(db, value):
    con, catalog = db
    compiled = compiled_for(catalog, filter_query(value))
    assert compiled.sql == compiled_for(catalog, filter_query("benign value")).sql
    expected = HOSTILE.count(value)
    rows = con.execute(compiled.sql, compiled.params).fetchall()
    assert rows[0][2:] == (expected, expected, expected)
