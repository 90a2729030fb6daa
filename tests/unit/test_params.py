"""Rendering Python values into BQL through ``{name}`` placeholders."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scuba_magic.bql.lexer import STRING, tokenize
from scuba_magic.bql.parser import parse
from scuba_magic.params import PlaceholderError, render, to_bql_literal


def test_string_is_quoted_and_escaped():
    value = 'say "hi" \\ then\nleave\t\r\0'
    literal = to_bql_literal(value)
    assert literal == '"say \\"hi\\" \\\\ then\\nleave\\t\\r\\0"'


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_any_string_reads_back_as_one_bql_string(value):
    tokens = tokenize(to_bql_literal(value))
    assert [t.kind for t in tokens[:-1]] == [STRING]
    assert tokens[0].value == value


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (0, "0"),
        (-42, "-42"),
        (10**20, "100000000000000000000"),
        (2.5, "2.5"),
        (-0.125, "-0.125"),
        (1e-05, "0.00001"),
        (1e20, "100000000000000000000"),
        (3.0, "3"),
        (Decimal("1.50"), "1.5"),
        (Fraction(1, 4), "0.25"),
    ],
)
def test_numbers_and_booleans(value, literal):
    assert to_bql_literal(value) == literal


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_refused_since_bql_has_no_boolean_literal(value):
    with pytest.raises(PlaceholderError, match="no true/false literal.*where authenticated"):
        to_bql_literal(value)


def test_times_parse_as_bql_time_literals():
    text = render(
        "select count(*) from music between {start} and {end}",
        {"start": dt.date(2021, 1, 8), "end": dt.datetime(2021, 1, 15, 16, 30, 5)},
    )
    assert text == "select count(*) from music between 2021-01-08 and 2021-01-15 16:30:05"
    time_range = parse(text).time_range
    start, end = time_range.start, time_range.end
    assert (start.year, start.month, start.day, start.hour) == (2021, 1, 8, 0)
    assert (end.day, end.hour, end.minute, end.second) == (15, 16, 30, 5)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(PlaceholderError, match="has no BQL literal; use a finite number"):
        to_bql_literal(value)


def test_numpy_scalars_are_numbers():
    import numpy as np

    assert to_bql_literal(np.int64(7)) == "7"
    assert to_bql_literal(np.float32(0.5)) == "0.5"


def test_collections_become_parenthesised_lists():
    assert to_bql_literal(["jack", "jill"]) == '("jack", "jill")'
    assert to_bql_literal(("a",)) == '("a")'
    assert to_bql_literal([1, 2.5, -3]) == "(1, 2.5, -3)"


def test_sets_are_sorted_so_the_query_text_is_stable():
    assert to_bql_literal({"zed", "amy", "bob"}) == '("amy", "bob", "zed")'
    assert to_bql_literal(frozenset({3, 1, 2})) == "(1, 2, 3)"


def test_empty_and_nested_collections_are_refused():
    with pytest.raises(PlaceholderError, match="the list is empty"):
        to_bql_literal([])
    with pytest.raises(PlaceholderError, match="collection inside a collection"):
        to_bql_literal([["a"]])


def test_dates_and_datetimes():
    assert to_bql_literal(dt.date(2021, 1, 8)) == "2021-01-08"
    assert to_bql_literal(dt.datetime(2021, 1, 8, 16, 5, 9)) == "2021-01-08 16:05:09"


def test_aware_datetimes_are_converted_to_the_query_time_zone():
    moment = dt.datetime(2021, 1, 8, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert to_bql_literal(moment) == "2021-01-08 10:00:00"
    assert to_bql_literal(moment, timezone="US/Pacific") == "2021-01-08 02:00:00"
    text = render("select count(*) from t between {t0} and now timezone US/Pacific", {"t0": moment})
    assert text == "select count(*) from t between 2021-01-08 02:00:00 and now timezone US/Pacific"


def test_fractional_seconds_are_refused():
    with pytest.raises(PlaceholderError, match=r"fractions of a second.*replace\(microsecond=0\)"):
        to_bql_literal(dt.datetime(2021, 1, 8, 1, 2, 3, 500))


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(None, "NoneType"), (b"bytes", "bytes"), ({"a": 1}, "dict"), (object(), "object")],
)
def test_other_types_are_refused_naming_the_type(value, type_name):
    with pytest.raises(PlaceholderError, match=f"a value of type {type_name} has no BQL literal"):
        to_bql_literal(value)


def test_render_replaces_placeholders_outside_literals_only():
    text = (
        'select count(* where page = {page} and name like ".{3}" and `odd{name}` > {n})\n'
        "from music group by {{x}}"
    )
    out = render(text, {"page": "Error", "n": 5, "name": "unused"})
    assert out == (
        'select count(* where page = "Error" and name like ".{3}" and `odd{name}` > 5)\n'
        "from music group by {x}"
    )


def test_render_never_pastes_raw_text():
    evil = '" or 1=1) from other --'
    out = render("select count(* where user = {u}) from music", {"u": evil})
    tokens = tokenize(out)
    strings = [t.value for t in tokens if t.kind == STRING]
    assert strings == [evil]


def test_text_without_braces_is_unchanged():
    text = "select count(*) from music"
    assert render(text, {}) is text


def test_unknown_name_is_an_error_naming_it_and_its_place():
    with pytest.raises(PlaceholderError) as info:
        render("select count(*)\nfrom music where {missing}", {})
    assert str(info.value) == (
        "Placeholder {missing} at line 2, column 18: no variable named 'missing' is defined. "
        "Assign it in a cell above, or write {{ and }} for literal braces."
    )
    assert info.value.name == "missing"


def test_bad_value_error_names_the_placeholder():
    with pytest.raises(PlaceholderError, match=r"^Placeholder \{x\}: a value of type dict"):
        render("select {x}", {"x": {}})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a { x", "'{' at line 1, column 3 does not start a placeholder"),
        ("a {1+2}", "'{' at line 1, column 3 does not start a placeholder"),
        ("a } b", "Unmatched '}' at line 1, column 3: write }} for a literal brace."),
    ],
)
def test_malformed_braces(text, message):
    with pytest.raises(PlaceholderError) as info:
        render(text, {})
    assert str(info.value).startswith(message)


def test_placeholder_written_inside_quotes_is_explained():
    with pytest.raises(PlaceholderError) as info:
        render('select count(* where page = "{page}") from music', {"page": "Error"})
    assert str(info.value).startswith(
        '"{page}" at line 1, column 29 is a string, not a placeholder: write {page} without quotes'
    )


def test_escaped_quotes_inside_strings_do_not_end_them():
    text = r'select count(* where a = "x\"{y}") from t where {v}'
    assert render(text, {"v": 1}) == r'select count(* where a = "x\"{y}") from t where 1'


def test_timezone_clause_inside_a_string_is_not_the_query_time_zone():
    moment = dt.datetime(2021, 1, 8, 12, 0, tzinfo=dt.timezone.utc)
    out = render(
        'select count(* where a = "timezone Asia/Tokyo") from t between {m} and now', {"m": moment}
    )
    assert out.endswith("between 2021-01-08 12:00:00 and now")


def test_unknown_query_time_zone_with_an_aware_datetime():
    moment = dt.datetime(2021, 1, 8, 12, 0, tzinfo=dt.timezone.utc)
    with pytest.raises(PlaceholderError, match="time zone 'Mars/Base' is unknown"):
        render("select count(*) from t between {m} and now timezone Mars/Base", {"m": moment})
