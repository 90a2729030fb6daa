"""Invalid BQL: each mistake gets a BQLSyntaxError with its position and a message saying the
BQL way; random and mutated text never raises anything else."""

from __future__ import annotations

import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scuba_magic import bql
from scuba_magic.bql import BQLError, BQLSyntaxError
from scuba_magic.bql.errors import excerpt_at


def syntax_error(text: str) -> BQLSyntaxError:
    with pytest.raises(BQLSyntaxError) as info:
        bql.parse(text)
    return info.value


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("select count(* where page = “Error”) from t", 29, "typographic quote “"),
        ("select count(* where page = ”Error”) from t", 29, "typographic quote ”"),
        ("select count(* where page = ‘Error’) from t", 29, "typographic quote ‘"),
        ("select count(* where page = ’Error’) from t", 29, "typographic quote ’"),
    ],
)
def test_typographic_quotes_name_straight_quotes(text, column, message):
    error = syntax_error(text)
    assert message in error.message
    assert "use straight quotes \" or '" in error.message
    assert (error.line, error.column) == (1, column)


def test_typographic_quotes_inside_a_string_are_just_characters():
    query = bql.parse('select count(* where title = "“quoted”") from t')
    assert query.measures[0].expr.where.right.value == "“quoted”"


def test_select_star():
    error = syntax_error("select * from my_table")
    assert error.message == "BQL has no select *: name an aggregation such as count(*)"
    assert (error.line, error.column) == (1, 8)


def test_having():
    text = "select count(*) as c from t group by user having c > 5"
    error = syntax_error(text)
    assert error.message.startswith("BQL has no having: filter inside the aggregation")
    assert "count(* where" in error.message
    assert error.column == text.index("having") + 1


@pytest.mark.parametrize(
    "text",
    [
        "select count(*) from a join b on a.x = b.x",
        "select count(*) from a inner join b",
        "select count(*) from a left outer join b",
    ],
)
def test_joins(text):
    error = syntax_error(text)
    assert error.message.startswith("BQL has no joins: a query reads one table")
    assert error.column == 24


def test_the_first_problem_in_reading_order_is_reported():
    error = syntax_error("select count(*) from a join b on a.x = b.x")
    assert error.message.startswith("BQL has no joins")
    error = syntax_error("select count(*) from t where x = “a”")
    assert error.message.startswith("BQL has no query-wide where")
    error = syntax_error("select count(* where x like “a”) from t")
    assert error.message.startswith("typographic quote “")


def test_comma_separated_tables_are_a_join():
    error = syntax_error("select count(*) from a, b")
    assert error.message == "BQL has no joins: a query reads one table"
    assert error.column == 23


@pytest.mark.parametrize(
    "text",
    [
        "select count(* where age between 18 and 30) from t",
        "select count(* where not(age between 18 and 30)) from t",
        "select sum(x where (age between 1 and 2)) from t",
    ],
)
def test_between_as_a_comparison(text):
    error = syntax_error(text)
    assert error.message.startswith("between is not a comparison in BQL")
    assert "x >= low and x < high" in error.message
    assert text[error.column - 1 :].startswith("between")


@pytest.mark.parametrize(
    "text",
    [
        "select count(*) from t where page = 'Error'",
        "select count(*) from t group by country where page = 'Error'",
        "select count(*) where page = 'Error' from t",
    ],
)
def test_query_wide_where(text):
    error = syntax_error(text)
    assert error.message == (
        "BQL has no query-wide where: put the filter inside each aggregation, "
        'e.g. count(* where page = "Error")'
    )
    assert text[error.column - 1 :].startswith("where")


def test_str_shows_position_excerpt_and_caret():
    error = syntax_error("select count(*)\n  from t group by , x")
    assert (error.line, error.column) == (2, 19)
    assert error.expected == "an expression (a property, a value or an aggregation)"
    assert error.excerpt == "  from t group by , x\n                  ^"
    assert str(error) == (
        "BQL syntax error at line 2, column 19: expected an expression (a property, a value "
        "or an aggregation), found ','\n"
        "    from t group by , x\n"
        "                    ^"
    )


def test_caret_follows_tabs():
    error = syntax_error("select\tcount(*)\tfrom\t;")
    assert error.excerpt.split("\n")[1] == " " * 6 + "\t" + " " * 8 + "\t" + " " * 4 + "\t^"


def test_long_lines_are_windowed_around_the_column():
    text = (
        "select count(* where x in ("
        + ", ".join(['"v"'] * 100)
        + ", )) from t group by "
        + ", ".join(["a"] * 100)
    )
    error = syntax_error(text)
    shown, caret = error.excerpt.split("\n")
    assert len(shown) <= 106
    assert shown.startswith("...") and shown.endswith("...")
    assert shown[caret.index("^")] == ")"


def test_control_characters_are_shown_printable():
    error = syntax_error("select count(*) from t\0")
    assert error.message == "unexpected character '\\x00'"
    assert "\0" not in str(error)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty query: write a BQL query such as select count(*) from my_table"),
        ("  \n\t ", "empty query: write a BQL query such as select count(*) from my_table"),
        ("count(*) from t", "expected select (a query starts with it), found name count"),
        ("select count(*)", "expected from or ',', found end of query"),
        ("select count(*) from", "expected a table name after from, found end of query"),
        ("select x from t", "a query needs at least one aggregation, such as count(*) or sum(x)"),
        ("select count(*) from t;", "unexpected ';': a BQL query is a single statement"),
        ("select count(*) from t -- all", "BQL has no -- comments: remove the comment"),
        ('select count(* where x = "abc) from t', 'unterminated string: add the closing "'),
        ("select count(*) from `t", "unterminated back-quoted name: add the closing `"),
        ("select count(*) from t group by hello.world", "a name with a dot must be back-quoted"),
        ("select count(*) from t group by ``", "empty back-quoted name"),
        ("select count(*) from t group by x limit 0", "positive whole number after limit"),
        ("select count(*) from t group by x limit 2.5", "positive whole number after limit"),
        ("select count(*) from t limit 5", "limit belongs to a group by level"),
        ("select count(*) from t order by count(*)", "order by names a measure's alias"),
        ("select count(*) as 'c' from t", "an alias is a name, not a string"),
        ('select count(*) from "t"', "a table name is not quoted"),
        ("select sum(*) from t", "only count takes *: write sum(x)"),
        ("select sum() from t", "sum() needs an argument"),
        ("select sum(count(*)) from t", "aggregations cannot be nested"),
        ("select count(distinct x) from t", "count distinct is written count_unique(x)"),
        ("select median(x) from t", "unknown function median: write percentile(x, 50)"),
        ("select foo(x) from t", "unknown function foo: aggregations are count"),
        ("select percentile(x) from t", "expected ',' and the percentile"),
        ("select percentile(x, 100.5) from t", "percentile 100.5 is not between 0 and 100"),
        ("select count(x, 2) from t", "count takes one argument"),
        ("select sum(x where a on event where b) from t", "already has a where"),
        ("select ROUND(1, 2, 3) from t", "ROUND takes 1 or 2 arguments, got 3"),
        ("select sqrt() from t", "sqrt takes 1 argument, got 0"),
        ("select count(* where x not in ('a')) from t", "as not(x in ...)"),
        ("select count(* where x not like 'a') from t", "as not(x like ...)"),
        ("select count(* where x in ()) from t", "in () needs at least one value"),
        ("select count(* where x like 5) from t", "like takes a quoted regular expression"),
        ("select count(* where x = 1 = 2) from t", "expected ')' (or where / on"),
        ("select count(*) from t group by count(*)", "group by takes properties"),
        ("select count(*) from t group by order", "(back-quote a property with this name"),
        ("select count(*) from t group by x group by y", "group by appears twice"),
        ("select count(*) from t order by a order by b", "order by appears twice"),
        ("select count(*) from t timezone UTC between now and now", "between is out of place"),
        ("select count(*) from t for every 0 days", "expected a number of at least 1"),
        ("select count(*) from t for every fortnight", "expected a time unit (second, minute"),
        ("select count(*) from t for every 2 days over 3 days", "must be a multiple"),
        ("select count(*) from t between now", "expected and between the two times"),
        ("select count(*) from t between 5 and now", "expected a time unit"),
        ("select count(*) from t between yesterday and now", "expected a time: now, beginning"),
        ("select count(*) from t between 7 days and now", "expected ago after 7 days"),
        ("select count(*) from t between 21-01-01 and now", "expected a 4-digit year"),
        ("select count(*) from t between 2021-13-01 and now", "month 13 is not between 1 and 12"),
        ("select count(*) from t between 2021-02-29 and now", "day 29 does not exist in 2021-02"),
        ("select count(*) from t between 2021-01-01 24:00 and now", "hour 24 is not between"),
        ("select count(*) from t between 2021-01-01 0pm and now", "hour 0pm is not between"),
        ("select count(*) from t between 2021-01-01 10:60 and now", "minutes 60 is not between"),
        ("select count(*) from t between 2021-01-01 10:5 and now", "minutes (two digits)"),
        ("select count(*) from t between 100000 years ago and now", "longer than 10000 years"),
        ("select count(*) from t timezone", "expected a timezone name such as UTC"),
        ("select count(*) from t timezone ''", "empty timezone name"),
        ("select count(*) from t group by x limit 99999999999", "is too large"),
        ("select count(* on Actor) from t", "expected event or Actor<actor> after on"),
        ("select count(*) from t group by Actor<user>(x offset 1 day)", "offset needs a window"),
        ("with a as b select count(*) from t", "expected Actor<actor>(...)"),
        ("select 1e999 + count(*) from t", "number 1e999 is out of range"),
        ("select count(*) from t group by 1" + "0" * 80, "number too long"),
        ("select count(*) from t & x", "use the words and / or"),
    ],
)
def test_error_messages(text, message):
    assert message in syntax_error(text).message


def test_too_deep_nesting_is_a_syntax_error_not_a_recursion_error():
    for depth in (41, 1000, 100_000):
        error = syntax_error("select " + "(" * depth + "count(*)" + ")" * depth + " from t")
        assert "too deeply nested" in error.message
    error = syntax_error("select count(* where " + "not " * 5000 + "x) from t")
    assert "too deeply nested or too long" in error.message
    error = syntax_error("select " + "-" * 5000 + "count(*) from t")
    assert "too deeply nested or too long" in error.message


def test_long_or_chains_point_to_in():
    error = syntax_error(
        "select count(* where " + " or ".join(f"x = {i}" for i in range(150)) + ") from t"
    )
    assert 'use in ("a", "b", ...)' in error.message


def test_excerpt_at_points_at_a_node_position():
    text = "select count(*)\nfrom t group by\n\tcountry"
    column = bql.parse(text).group_levels[0].exprs[0]
    assert excerpt_at(text, *column.pos) == "\tcountry\n\t^"
    assert excerpt_at(text, 9, 1) == ""


def test_syntax_error_is_a_bql_error_and_pickles():
    error = syntax_error("select * from t")
    assert isinstance(error, BQLError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.line, copy.column, copy.excerpt, copy.expected, str(copy)) == (
        error.line,
        error.column,
        error.excerpt,
        error.expected,
        str(error),
    )


VALID = [
    "select count(*) from foreverMusic group by gender between 7 days ago and now",
    'select count(* where page = "Error") from t group by ROUND(length,10) '
    "between 6 months ago and now",
    "select count(*) as cnt from t group by username limit 5 order by cnt between 7 days ago "
    "and now",
    "select count(*) from t for every day over 2 days between 2021-01-01 and 2021-01-15 "
    "timezone US/Pacific",
    "select count_unique(purchase) as purchases, user from t order by purchases asc",
    "select count(* on Actor<user>) from t group by user, country limit 5 and by "
    "Actor<user>(max(age)) limit 3",
    "with p as Actor<user>(count(*) over 1 week offset -1 week) select count_unique(user where "
    "p = 0 and not(x in ('a', \"b\")) or name like '.*j\\'ack.*') from t between 2021-01-08 4pm "
    "and 2021-01-15 10:30:00",
    "select percentile(x, 90 where sqrt(age) > 5) / sum(y) as `a.b` from t",
]

_FRAGMENTS = [
    "select",
    "from",
    "where",
    "group",
    "by",
    "and",
    "or",
    "not",
    "in",
    "like",
    "limit",
    "order",
    "asc",
    "desc",
    "for",
    "every",
    "over",
    "offset",
    "between",
    "now",
    "ago",
    "beginning_of_time",
    "timezone",
    "with",
    "as",
    "Actor<user>",
    "Actor",
    "Flow<f>",
    "on",
    "event",
    "count",
    "count(*)",
    "sum",
    "percentile",
    "ROUND",
    "sqrt",
    "(",
    ")",
    ",",
    "*",
    "/",
    "+",
    "-",
    "=",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    ":",
    "'",
    '"',
    "`",
    "\\",
    ";",
    "--",
    "“",
    "\0",
    "\n",
    " ",
    "x",
    "`a b`",
    '"s"',
    "5",
    "2021-01-01",
    "4pm",
    "7 days",
    "day",
    "weeks",
    "US/Pacific",
    "1e5",
    "9" * 30,
    ".",
    "having",
    "join",
]


def assert_parses_or_syntax_error(text: str) -> None:
    """The parser's contract for any text: a Query that round-trips, or a BQLSyntaxError."""
    try:
        query = bql.parse(text)
    except BQLSyntaxError as error:
        assert error.line >= 1 and error.column >= 1
        assert str(error).startswith("BQL syntax error at line")
        return
    assert bql.parse(bql.to_bql(query)) == query
    bql.describe(query)


FUZZ = settings(max_examples=300)


@FUZZ
@given(st.text(max_size=200))
def test_random_text_only_raises_syntax_errors(text):
    assert_parses_or_syntax_error(text)


@FUZZ
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40), st.booleans())
def test_random_token_soup_only_raises_syntax_errors(fragments, spaced):
    assert_parses_or_syntax_error((" " if spaced else "").join(fragments))


@FUZZ
@given(st.sampled_from(VALID), st.randoms(use_true_random=False), st.integers(1, 4))
def test_mutated_valid_queries_only_raise_syntax_errors(text, rng: random.Random, mutations):
    for _ in range(mutations):
        i = rng.randrange(len(text) + 1)
        j = min(len(text), i + rng.randrange(0, 8))
        kind = rng.randrange(3)
        if kind == 0:
            text = text[:i] + text[j:]
        elif kind == 1:
            text = text[:i] + rng.choice(_FRAGMENTS) + text[i:]
        else:
            text = text[:i] + rng.choice(_FRAGMENTS) + text[j:]
    assert_parses_or_syntax_error(text)


@pytest.mark.parametrize("text", VALID)
def test_every_fuzz_seed_is_valid(text):
    query = bql.parse(text)
    assert bql.parse(bql.to_bql(query)) == query
