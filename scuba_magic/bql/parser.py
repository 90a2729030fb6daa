"""Parse BQL text into a :class:`scuba_magic.bql.ast.Query` (hand-written recursive descent).

Grammar (keywords are case-insensitive; names, strings and values are case-sensitive;
``{x}`` is zero or more, ``[x]`` optional)::

    query      := [with] select from [group] [order] [series] [range] [timezone] EOF
    with       := "with" prop {"," prop}
    prop       := name "as" actor
    select     := "select" measure {"," measure}
    measure    := expr ["as" name]
    from       := "from" name
    group      := "group" "by" level {"and" "by" level}
    level      := sum {"," sum} [order] ["limit" INT]          # order by may precede a limit
    order      := "order" "by" name ["asc" | "desc"]
    series     := "for" "every" [INT] unit ["over" INT unit]
    range      := "between" time "and" time
    timezone   := "timezone" (STRING | tzname)                # tzname: US/Pacific, Etc/GMT+5
    time       := "now" | "beginning_of_time" | INT unit "ago"
                | YYYY "-" M "-" D [H ("am" | "pm") | H ":" MM [":" SS]]
    unit       := second | minute | hour | day | week | month | year   (singular or plural)

    expr       := conj {"or" conj}
    conj       := negation {"and" negation}
    negation   := "not" negation | comparison
    comparison := sum [("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") sum
                       | "in" "(" expr {"," expr} ")" | "like" STRING]
    sum        := product {("+" | "-") product}
    product    := unary {("*" | "/") unary}
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | name | "(" expr ")" | aggregate | scalar | actor | flow
    aggregate  := AGG "(" ("*" | expr) {"where" expr | "on" scope | "," NUMBER} ")"
                                          # AGG: count count_unique sum avg min max last
                                          # percentile; "," NUMBER only for percentile
    scope      := "event" | "Actor" "<" name ">"
    scalar     := ("ROUND" | "sqrt") "(" expr {"," expr} ")"
    actor      := "Actor" "<" name ">" "(" expr [timespec] ")"
    timespec   := "over" INT unit ["offset" ["-"] INT unit] | range
    flow       := "Flow" "<" name ">" ["(" [expr {"," expr}] ")"]
    name       := NAME | `back-quoted name`

Everything that is not valid raises :class:`BQLSyntaxError` with the position, an excerpt and
what was expected; common habits from SQL (``select *``, ``having``, joins, a query-wide
``where``, ``between`` as a comparison, typographic quotes) get messages that say how BQL
writes them. Nesting is bounded so that no input can exhaust the Python stack.
"""

from __future__ import annotations

import bisect
import calendar
import math

from scuba_magic.bql import ast
from scuba_magic.bql.errors import BQLSyntaxError
from scuba_magic.bql.lexer import EOF, NAME, NUMBER, QNAME, STRING, Token, tokenize

# Words that cannot be unquoted property, alias or table names (back-quote them instead).
RESERVED = frozenset(
    "select from with as where group by limit and or not in like order for between timezone on "
    "having join".split()
)

# Bounds keep every recursive walk of the tree (parser, printer, compiler) far from Python's
# recursion limit: parentheses and function calls may nest MAX_NESTING deep, and no expression
# tree may be more than MAX_HEIGHT nodes tall.
MAX_NESTING = 40
MAX_HEIGHT = 100

_UNITS = {unit: unit for unit in ast.TIME_UNITS} | {unit + "s": unit for unit in ast.TIME_UNITS}
_UNIT_LIST = "second, minute, hour, day, week, month or year"
_COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
_CLAUSES = ("group by", "order by", "for every", "between", "timezone")
_CLAUSE_OF_WORD = {
    "with": "with",
    "select": "select",
    "from": "from",
    "group": "group by",
    "order": "order by",
    "for": "for every",
    "between": "between",
    "timezone": "timezone",
}
_CLAUSE_ORDER = ("with", "select", "from") + _CLAUSES
_FUNCTION_HINTS = {
    "count_distinct": "count_unique(x)",
    "countdistinct": "count_unique(x)",
    "distinct": "count_unique(x)",
    "average": "avg(x)",
    "mean": "avg(x)",
    "median": "percentile(x, 50)",
}
_WHERE_MESSAGE = (
    "BQL has no query-wide where: put the filter inside each aggregation, "
    'e.g. count(* where page = "Error")'
)
_EXAMPLE_QUERY = "select count(*) from my_table"
# Bounds that keep later date arithmetic and SQL integers from overflowing.
_MAX_DURATION_SECONDS = 10_000 * 365 * 86400
MAX_LIMIT = 1_000_000_000


def parse(text: str) -> ast.Query:
    """Parse a BQL query.

    Args:
        text: the query; it may span several lines.

    Returns:
        The query's syntax tree.

    Raises:
        BQLSyntaxError: the text is not valid BQL (the message says where and why).
        TypeError: ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"BQL text must be a str, not {type(text).__name__}")
    return _Parser(text).query()


class _Parser:
    """One parse of one text: a cursor over its tokens."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.nesting = 0
        # Nesting levels at which an actor's own expression is parsed: there, and only there,
        # a trailing "between" or "over" is the actor property's timespec.
        self.actor_levels: list[int] = []
        self.in_aggregate = False
        self.heights: dict[int, int] = {}
        self.line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    @property
    def tok(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != EOF:
            self.index += 1
        return token

    def pos(self, token: Token) -> ast.Pos:
        line = bisect.bisect_right(self.line_starts, token.start)
        return (line, token.start - self.line_starts[line - 1] + 1)

    def error(
        self, message: str, token: Token | None = None, *, expected: str | None = None
    ) -> BQLSyntaxError:
        token = self.tok if token is None else token
        if token.error is not None:
            # Whatever was expected here, the text itself is broken: report that.
            return token.error
        return BQLSyntaxError.at(self.text, token.start, message, expected=expected)

    @staticmethod
    def is_word(token: Token, *words: str) -> bool:
        return token.kind == NAME and token.value.lower() in words

    def at(self, *words: str) -> bool:
        return self.is_word(self.tok, *words)

    def accept(self, *words: str) -> Token | None:
        if self.at(*words):
            return self.advance()
        return None

    def expect_word(self, word: str, expected: str | None = None) -> Token:
        if not self.at(word):
            raise self.unexpected(expected or word)
        return self.advance()

    def expect(self, kind: str, expected: str | None = None) -> Token:
        if self.tok.kind != kind:
            raise self.unexpected(expected or repr(kind))
        return self.advance()

    def describe(self, token: Token) -> str:
        if token.kind == EOF:
            return "end of query"
        if token.kind == NAME:
            if token.value.lower() in RESERVED:
                return f"keyword {token.value}"
            return f"name {token.value}"
        if token.kind == QNAME:
            return f"`{_shorten(token.value)}`"
        if token.kind == STRING:
            return f'string "{_shorten(token.value)}"'
        if token.kind == NUMBER:
            return f"number {token.value}"
        return repr(token.value)

    def unexpected(self, expected: str) -> BQLSyntaxError:
        """The error for the current token when ``expected`` was needed, naming the BQL way
        for the usual SQL habits."""
        token = self.tok
        if self.is_word(token, "where"):
            return self.error(_WHERE_MESSAGE, expected=expected)
        if self.is_word(token, "having"):
            return self.error(
                "BQL has no having: filter inside the aggregation instead, "
                'e.g. count(* where page = "Error")',
                expected=expected,
            )
        if self.is_word(token, "join") or (
            self.is_word(token, "inner", "left", "right", "full", "outer", "cross")
            and self.is_word(self.peek(), "join", "outer")
        ):
            return self.error(
                "BQL has no joins: a query reads one table (use a with ... as Actor<...>(...) "
                "property for per-actor values)",
                expected=expected,
            )
        if self.is_word(token, "between") and self.between_is_comparison():
            return self.between_comparison()
        if self.is_word(token, "not") and self.is_word(self.peek(), "in", "like"):
            word = self.peek().value.lower()
            return self.error(
                f"BQL writes x not {word} ... as not(x {word} ...), e.g. "
                + ('not(user in ("jack", "jill"))' if word == "in" else 'not(name like "jack")'),
                expected=expected,
            )
        if token.kind == "*":
            return self.error("* only appears in count(*)", expected=expected)
        if token.kind == "-" and self.peek().kind == "-" and self.peek().start == token.end:
            return self.error("BQL has no -- comments: remove the comment", expected=expected)
        found = self.describe(token)
        if (
            token.kind == NAME
            and token.value.lower() in RESERVED
            and ("name" in expected or "expression" in expected)
        ):
            found += f" (back-quote a property with this name: `{token.value}`)"
        return self.error(f"expected {expected}, found {found}", expected=expected)

    def between_is_comparison(self) -> bool:
        """Whether a ``between`` here can only be a misplaced comparison.

        It ends an actor's expression as that property's timespec; at the top of a select
        item it is the query's (misplaced) time range clause, reported as such by the caller.
        """
        if self.actor_levels and self.actor_levels[-1] == self.nesting:
            return False
        return self.in_aggregate or self.nesting > 1

    def between_comparison(self) -> BQLSyntaxError:
        return self.error(
            "between is not a comparison in BQL: it only sets the query's time range "
            "(between <time> and <time>); to compare values write x >= low and x < high",
            expected="a comparison such as >= or <",
        )

    def node(self, node):
        """Register ``node``'s height, refusing trees too tall to walk recursively."""
        height = 1 + max((self.heights.get(id(c), 1) for c in ast.children(node)), default=0)
        if height > MAX_HEIGHT:
            raise BQLSyntaxError.at(
                self.text,
                self.offset_of(node),
                f"expression too deeply nested or too long (more than {MAX_HEIGHT} levels); "
                'for long lists of values use in ("a", "b", ...)',
            )
        self.heights[id(node)] = height
        return node

    def offset_of(self, node) -> int:
        line, column = node.pos or (1, 1)
        return self.line_starts[line - 1] + column - 1

    # Clauses.

    def query(self) -> ast.Query:
        if not self.text.strip():
            raise BQLSyntaxError.at(
                self.text, 0, f"empty query: write a BQL query such as {_EXAMPLE_QUERY}"
            )
        start = self.tok
        with_props = self.with_clause() if self.at("with") else ()
        if not self.at("select"):
            raise self.unexpected("select" if with_props else "select (a query starts with it)")
        select_token = self.advance()
        if self.tok.kind == "*":
            raise self.error(
                "BQL has no select *: name an aggregation such as count(*)",
                expected="a measure such as count(*)",
            )
        measures = self.measures()
        if not any(ast.contains_aggregate(m.expr) for m in measures):
            raise self.error(
                "a query needs at least one aggregation, such as count(*) or sum(x)",
                select_token,
                expected="an aggregation",
            )
        if not self.at("from"):
            raise self.unexpected("from or ','" if not self.at("where") else "from")
        self.advance()
        table = self.name("a table name after from")
        self.reject_join()

        group_levels: tuple[ast.GroupLevel, ...] = ()
        order_by = None
        if self.at("group"):
            group_levels, order_by = self.group_clause()
        if self.at("limit"):
            if group_levels:
                raise self.error("limit appears twice in this group by level: keep one")
            raise self.error(
                "limit belongs to a group by level, e.g. group by user limit 5",
                expected="group by",
            )
        if self.at("order"):
            if order_by is not None:
                raise self.error("order by appears twice: keep one")
            order_by = self.order_clause()
        time_series = self.series_clause() if self.at("for") else None
        time_range = None
        if self.at("between"):
            self.advance()
            time_range = self.time_range_after_between(start=self.tokens[self.index - 1])
        timezone = self.timezone_clause() if self.at("timezone") else None
        if self.tok.kind != EOF:
            raise self.clause_error(group_levels, order_by, time_series, time_range, timezone)
        return ast.Query(
            with_props,
            measures,
            table,
            group_levels,
            order_by,
            time_series,
            time_range,
            timezone,
            pos=self.pos(start),
        )

    def clause_error(self, *clauses) -> BQLSyntaxError:
        """The error for leftover text after the last clause that could be parsed; ``clauses``
        are the values of group by, order by, for every, between and timezone."""
        seen = [clause for clause, value in zip(_CLAUSES, clauses, strict=True) if value]
        last = _CLAUSE_ORDER.index(seen[-1]) if seen else _CLAUSE_ORDER.index("from")
        clause = _CLAUSE_OF_WORD.get(self.tok.value.lower()) if self.tok.kind == NAME else None
        if clause is not None and (clause in seen or _CLAUSE_ORDER.index(clause) <= last):
            if clause in seen:
                return self.error(f"{clause} appears twice: keep one")
            return self.error(
                f"{clause} is out of place: BQL clauses go in the order "
                "with, select, from, group by, order by, for every, between, timezone",
            )
        remaining = [c for c in _CLAUSES if _CLAUSE_ORDER.index(c) > last]
        return self.unexpected(", ".join(remaining + ["end of query"]).replace(", end", " or end"))

    def reject_join(self) -> None:
        if self.tok.kind == ",":
            raise self.error(
                "BQL has no joins: a query reads one table", expected="end of the from clause"
            )
        if self.at("join") or (
            self.at("inner", "left", "right", "full", "outer", "cross")
            and self.is_word(self.peek(), "join", "outer")
        ):
            raise self.unexpected("group by, order by, for every, between, timezone")

    def with_clause(self) -> tuple[ast.WithProperty, ...]:
        self.advance()
        props = []
        while True:
            start = self.tok
            name = self.name("a property name")
            self.expect_word("as")
            if not (self.at("actor") and self.peek().kind == "<"):
                raise self.unexpected("Actor<actor>(...) (a with property is per actor)")
            actor = self.actor_expr()
            props.append(
                ast.WithProperty(name, actor.actor, actor.expr, actor.timespec, pos=self.pos(start))
            )
            if self.tok.kind != ",":
                return tuple(props)
            self.advance()

    def measures(self) -> tuple[ast.Measure, ...]:
        measures = []
        while True:
            start = self.tok
            expr = self.expr()
            alias = None
            if self.accept("as"):
                if self.tok.kind == STRING:
                    raise self.error(
                        "an alias is a name, not a string: write as cnt, or back-quote it: "
                        "as `my count`",
                        expected="an alias",
                    )
                alias = self.name("an alias")
            measures.append(ast.Measure(expr, alias, pos=self.pos(start)))
            if self.tok.kind != ",":
                return tuple(measures)
            self.advance()

    def group_clause(self) -> tuple[tuple[ast.GroupLevel, ...], ast.OrderBy | None]:
        self.advance()
        self.expect_word("by", "by after group")
        levels = []
        order_by = None
        while True:
            start = self.tok
            exprs = [self.group_expr()]
            while self.tok.kind == ",":
                self.advance()
                exprs.append(self.group_expr())
            if self.at("order"):
                if order_by is not None:
                    raise self.error("order by appears twice: keep one")
                order_by = self.order_clause()
            limit = None
            if self.accept("limit"):
                limit = self.integer("a positive whole number after limit", minimum=1)
                if limit > MAX_LIMIT:
                    raise self.error(
                        f"limit {limit} is too large (at most {MAX_LIMIT})",
                        self.tokens[self.index - 1],
                    )
            levels.append(ast.GroupLevel(tuple(exprs), limit, pos=self.pos(start)))
            if self.at("and") and self.is_word(self.peek(), "by"):
                self.advance()
                self.advance()
                continue
            return tuple(levels), order_by

    def group_expr(self) -> ast.Expr:
        start = self.tok
        # A sum, not a whole expression, so that "and by" ends the level.
        expr = self.nested(self.sum)
        if ast.contains_aggregate(expr):
            raise self.error(
                "group by takes properties, not aggregations; to group by a per-actor value "
                "write Actor<user>(max(age))",
                start,
                expected="a property",
            )
        return expr

    def order_clause(self) -> ast.OrderBy:
        start = self.advance()
        self.expect_word("by", "by after order")
        if self.tok.kind == NAME and self.peek().kind == "(":
            raise self.error(
                "order by names a measure's alias: select count(*) as cnt ... order by cnt",
                expected="a measure alias",
            )
        alias = self.name("a measure alias")
        descending = False
        if self.at("asc", "desc"):
            descending = self.advance().value.lower() == "desc"
        return ast.OrderBy(alias, descending, pos=self.pos(start))

    def series_clause(self) -> ast.TimeSeries:
        start = self.advance()
        self.expect_word("every", "every after for")
        every = self.duration(optional_count=True, minimum=1)
        over = None
        if self.accept("over"):
            over_token = self.tok
            over = self.duration(minimum=1)
            if over.seconds % every.seconds:
                raise self.error(
                    f"the window (over {_duration_text(over)}) must be a multiple of the "
                    f"resolution (every {_duration_text(every)})",
                    over_token,
                )
        return ast.TimeSeries(every, over, pos=self.pos(start))

    def time_range_after_between(self, start: Token) -> ast.TimeRange:
        begin = self.time_point()
        self.expect_word("and", "and between the two times")
        end = self.time_point()
        return ast.TimeRange(begin, end, pos=self.pos(start))

    def timezone_clause(self) -> str:
        self.advance()
        if self.tok.kind == STRING:
            value = self.advance().value
            if not value:
                raise self.error("empty timezone name", self.tokens[self.index - 1])
            return value
        if self.tok.kind != NAME:
            raise self.unexpected("a timezone name such as UTC or US/Pacific")
        # A tz database name is lexed as several tokens (US / Pacific, Etc / GMT + 5); it is
        # the run of adjacent name-like tokens.
        first = self.advance()
        end = first.end
        while self.tok.start == end and self.tok.kind in (NAME, NUMBER, "/", "-", "+"):
            end = self.advance().end
        return self.text[first.start : end]

    # Time.

    def duration(self, *, optional_count: bool = False, minimum: int = 0) -> ast.Duration:
        start = self.tok
        negative = False
        if minimum < 0 and self.tok.kind == "-":
            self.advance()
            negative = True
        if self.tok.kind == NUMBER or not optional_count:
            n = self.integer("a whole number", minimum=0)
        else:
            n = 1
        if negative:
            n = -n
        if n < minimum:
            raise self.error(f"expected a number of at least {minimum}", start)
        unit = self.unit()
        duration = ast.Duration(n, unit, pos=self.pos(start))
        if abs(duration.seconds) > _MAX_DURATION_SECONDS:
            raise self.error("duration longer than 10000 years", start)
        return duration

    def unit(self) -> str:
        token = self.tok
        unit = _UNITS.get(token.value.lower()) if token.kind == NAME else None
        if unit is None:
            raise self.unexpected(f"a time unit ({_UNIT_LIST})")
        self.advance()
        return unit

    def time_point(self) -> ast.TimePoint:
        token = self.tok
        if self.accept("now"):
            return ast.Now(pos=self.pos(token))
        if self.accept("beginning_of_time"):
            return ast.BeginningOfTime(pos=self.pos(token))
        if token.kind == NUMBER and self.peek().kind == "-":
            return self.absolute_time()
        if token.kind == NUMBER:
            duration = self.duration()
            self.expect_word("ago", f"ago after {_duration_text(duration)}")
            return ast.Ago(duration, pos=self.pos(token))
        raise self.unexpected(
            "a time: now, beginning_of_time, N units ago, or a date such as 2021-01-15"
        )

    def absolute_time(self) -> ast.AbsoluteTime:
        start = self.tok
        year = self.digits("a 4-digit year", exact_length=4)
        self.expect("-", "'-' in the date YYYY-MM-DD")
        month_token = self.tok
        month = self.digits("a month (1-12)")
        if not 1 <= month <= 12:
            raise self.error(f"month {month} is not between 1 and 12", month_token)
        self.expect("-", "'-' in the date YYYY-MM-DD")
        day_token = self.tok
        day = self.digits("a day of the month")
        days_in_month = calendar.monthrange(max(year, 1), month)[1]
        if not 1 <= day <= days_in_month:
            raise self.error(
                f"day {day} does not exist in {year:04d}-{month:02d} (it has {days_in_month} days)",
                day_token,
            )
        if year < 1:
            raise self.error("year 0000 does not exist", start)
        hour = minute = second = 0
        if self.tok.kind == NUMBER and (
            self.peek().kind == ":" or self.is_word(self.peek(), "am", "pm")
        ):
            hour_token = self.tok
            hour = self.digits("an hour")
            if self.at("am", "pm"):
                meridiem = self.advance().value.lower()
                if not 1 <= hour <= 12:
                    raise self.error(f"hour {hour}{meridiem} is not between 1 and 12", hour_token)
                hour = hour % 12 + (12 if meridiem == "pm" else 0)
            else:
                if hour > 23:
                    raise self.error(f"hour {hour} is not between 0 and 23", hour_token)
                self.advance()
                minute = self.clock_part("minutes")
                if self.tok.kind == ":":
                    self.advance()
                    second = self.clock_part("seconds")
        return ast.AbsoluteTime(year, month, day, hour, minute, second, pos=self.pos(start))

    def clock_part(self, what: str) -> int:
        token = self.tok
        value = self.digits(f"{what} (two digits)", exact_length=2)
        if value > 59:
            raise self.error(f"{what} {value} is not between 00 and 59", token)
        return value

    def digits(self, expected: str, exact_length: int | None = None) -> int:
        token = self.tok
        if (
            token.kind != NUMBER
            or not (token.value.isascii() and token.value.isdigit())
            or (exact_length is not None and len(token.value) != exact_length)
        ):
            raise self.unexpected(expected)
        self.advance()
        return int(token.value)

    def integer(self, expected: str, *, minimum: int) -> int:
        token = self.tok
        if token.kind != NUMBER or not (token.value.isascii() and token.value.isdigit()):
            raise self.unexpected(expected)
        value = int(token.value)
        if value < minimum:
            raise self.error(f"expected {expected}, found {value}", expected=expected)
        self.advance()
        return value

    # Names.

    def name(self, expected: str) -> str:
        token = self.tok
        if token.kind == QNAME:
            if not token.value:
                raise self.error("empty back-quoted name", expected=expected)
            return self.advance().value
        if token.kind == NAME and token.value.lower() not in RESERVED:
            return self.advance().value
        if token.kind == STRING and "table" in expected:
            raise self.error(
                "a table name is not quoted: write from my_table, or back-quote it: "
                "from `my table`",
                expected=expected,
            )
        raise self.unexpected(expected)

    def any_name(self, expected: str) -> str:
        """A name where keywords are unambiguous, e.g. inside ``Actor<...>``."""
        token = self.tok
        if token.kind == NAME:
            return self.advance().value
        return self.name(expected)

    # Expressions.

    def nested(self, parse):
        """Run ``parse`` one nesting level deeper, refusing input nested too deep."""
        if self.nesting >= MAX_NESTING:
            raise self.error(
                f"too deeply nested: more than {MAX_NESTING} levels of parentheses or calls"
            )
        self.nesting += 1
        try:
            return parse()
        finally:
            self.nesting -= 1

    def expr(self) -> ast.Expr:
        return self.nested(self.disjunction)

    def disjunction(self) -> ast.Expr:
        left = self.conjunction()
        while self.at("or"):
            token = self.advance()
            right = self.conjunction()
            left = self.node(ast.Or(left, right, pos=left.pos or self.pos(token)))
        return left

    def conjunction(self) -> ast.Expr:
        left = self.negation()
        while self.at("and"):
            token = self.advance()
            right = self.negation()
            left = self.node(ast.And(left, right, pos=left.pos or self.pos(token)))
        return left

    def negation(self) -> ast.Expr:
        nots = []
        while self.at("not") and not self.is_word(self.peek(), "in", "like"):
            nots.append(self.advance())
        expr = self.comparison()
        for token in reversed(nots):
            expr = self.node(ast.Not(expr, pos=self.pos(token)))
        return expr

    def comparison(self) -> ast.Expr:
        left = self.sum()
        token = self.tok
        if token.kind in _COMPARISONS:
            self.advance()
            right = self.sum()
            return self.node(ast.Compare(token.kind, left, right, pos=left.pos))
        if self.accept("in"):
            self.expect("(", '( after in, e.g. in ("a", "b")')
            if self.tok.kind == ")":
                raise self.error("in () needs at least one value", expected="a value")
            values = [self.in_value()]
            while self.tok.kind == ",":
                self.advance()
                values.append(self.in_value())
            self.expect(")", "',' or ')' in the in list")
            return self.node(ast.In(left, tuple(values), pos=left.pos))
        if self.accept("like"):
            if self.tok.kind != STRING:
                raise self.error(
                    'like takes a quoted regular expression, e.g. like ".*jack.*"',
                    expected="a string",
                )
            pattern = self.advance().value
            return self.node(ast.Like(left, pattern, pos=left.pos))
        if self.at("between") and self.between_is_comparison():
            raise self.between_comparison()
        return left

    def in_value(self) -> ast.Expr:
        """One value of an ``in (...)`` list.

        Long lists (tens of thousands of values pasted from elsewhere) are bare literals;
        taking those straight to ``primary`` skips the whole expression ladder for each.
        """
        if self.tok.kind in (NUMBER, STRING) and self.peek().kind in (",", ")"):
            return self.primary()
        return self.expr()

    def sum(self) -> ast.Expr:
        left = self.product()
        while self.tok.kind in ("+", "-"):
            op = self.advance().kind
            right = self.product()
            left = self.node(ast.BinaryOp(op, left, right, pos=left.pos))
        return left

    def product(self) -> ast.Expr:
        left = self.unary()
        while self.tok.kind in ("*", "/"):
            op = self.advance().kind
            right = self.unary()
            left = self.node(ast.BinaryOp(op, left, right, pos=left.pos))
        return left

    def unary(self) -> ast.Expr:
        minuses = []
        while self.tok.kind == "-":
            minuses.append(self.advance())
        expr = self.primary()
        for token in reversed(minuses):
            expr = self.node(ast.UnaryOp("-", expr, pos=self.pos(token)))
        return expr

    def primary(self) -> ast.Expr:
        token = self.tok
        pos = self.pos(token)
        if token.kind == NUMBER:
            self.advance()
            return self.node(ast.Number(self.number_value(token), pos=pos))
        if token.kind == STRING:
            self.advance()
            return self.node(ast.String(token.value, pos=pos))
        if token.kind == QNAME:
            return self.node(ast.Column(self.name("a name"), pos=pos))
        if token.kind == "(":
            self.advance()
            expr = self.expr()
            self.expect(")", "')'")
            return expr
        if token.kind == NAME:
            word = token.value.lower()
            if word in ("actor", "flow") and self.peek().kind == "<":
                return self.actor_expr() if word == "actor" else self.flow_ref()
            if word not in RESERVED:
                if self.peek().kind == "(":
                    return self.function_call()
                self.advance()
                return self.node(ast.Column(token.value, pos=pos))
        raise self.unexpected("an expression (a property, a value or an aggregation)")

    def number_value(self, token: Token) -> int | float:
        text = token.value
        if text.isascii() and text.isdigit():
            return int(text)
        value = float(text)
        if not math.isfinite(value):
            raise self.error(f"number {text} is out of range", token)
        return value

    def function_call(self) -> ast.Expr:
        token = self.tok
        word = token.value.lower()
        if word in ast.AGGREGATE_FUNCTIONS:
            return self.aggregate()
        if word not in ast.SCALAR_FUNCTIONS:
            hint = _FUNCTION_HINTS.get(word)
            message = f"unknown function {token.value}"
            if hint:
                message += f": write {hint}"
            else:
                message += (
                    ": aggregations are count, count_unique, sum, avg, min, max, last and "
                    "percentile; scalar functions are ROUND(x, n) and sqrt(x)"
                )
            raise self.error(message, expected="a function")
        self.advance()
        self.advance()
        args = [] if self.tok.kind == ")" else self.arguments()
        arity = (1, 2) if word == "round" else (1, 1)
        if not arity[0] <= len(args) <= arity[1]:
            shown = "ROUND(x, n)" if word == "round" else "sqrt(x)"
            raise self.error(
                f"{token.value} takes {' or '.join(str(a) for a in sorted(set(arity)))} "
                f"argument{'s' if arity[1] > 1 else ''}, got {len(args)}: write {shown}",
                token,
            )
        self.expect(")", "',' or ')'")
        return self.node(ast.FunctionCall(word, tuple(args), pos=self.pos(token)))

    def arguments(self) -> list[ast.Expr]:
        args = [self.expr()]
        while self.tok.kind == ",":
            self.advance()
            args.append(self.expr())
        return args

    def aggregate(self) -> ast.Aggregate:
        token = self.advance()
        func = token.value.lower()
        if self.in_aggregate:
            raise self.error(
                f"aggregations cannot be nested: {token.value}(...) is inside another "
                "aggregation (for a per-actor value use Actor<user>(...))",
                token,
            )
        self.advance()
        outer, self.in_aggregate = self.in_aggregate, True
        try:
            return self.nested(lambda: self.aggregate_body(token, func))
        finally:
            self.in_aggregate = outer

    def aggregate_body(self, token: Token, func: str) -> ast.Aggregate:
        if self.tok.kind == "*":
            star = self.advance()
            if func != "count":
                raise self.error(f"only count takes *: write {func}(x) with a property x", star)
            arg: ast.Expr = self.node(ast.Star(pos=self.pos(star)))
        elif self.tok.kind == ")":
            raise self.error(
                f"{func}() needs an argument, e.g. "
                + ("count(*)" if func == "count" else f"{func}(x)"),
                expected="an argument",
            )
        elif func == "count" and self.at("distinct"):
            raise self.error("count distinct is written count_unique(x)", expected="*")
        else:
            arg = self.disjunction()
        where = actor = percentile = None
        on_seen = False
        while True:
            if self.at("where") and where is not None:
                raise self.error(
                    f"{func}(...) already has a where: combine the filters with and",
                    expected="')'",
                )
            if self.at("where"):
                self.advance()
                where = self.disjunction()
            elif self.at("on") and not on_seen:
                self.advance()
                on_seen = True
                actor = self.scope()
            elif self.tok.kind == "," and func == "percentile" and percentile is None:
                self.advance()
                percentile = self.percentile_value()
            else:
                break
        if func == "percentile" and percentile is None:
            raise self.unexpected("',' and the percentile, e.g. percentile(x, 90)")
        if self.tok.kind == "," and func != "percentile":
            raise self.error(f"{func} takes one argument", expected="')'")
        self.expect(")", "')' (or where / on inside the aggregation)")
        return self.node(ast.Aggregate(func, arg, where, actor, percentile, pos=self.pos(token)))

    def scope(self) -> str | None:
        if self.accept("event"):
            return None
        if self.at("actor") and self.peek().kind == "<":
            self.advance()
            self.advance()
            actor = self.any_name("an actor name")
            self.expect(">", "'>' after the actor name")
            return actor
        raise self.unexpected("event or Actor<actor> after on")

    def percentile_value(self) -> int | float:
        token = self.tok
        if token.kind != NUMBER:
            raise self.unexpected("the percentile, a number from 0 to 100")
        value = self.number_value(token)
        if not 0 <= value <= 100:
            raise self.error(f"percentile {token.value} is not between 0 and 100", token)
        self.advance()
        return value

    def actor_expr(self) -> ast.ActorExpr:
        token = self.advance()
        self.advance()
        actor = self.any_name("an actor name")
        self.expect(">", "'>' after the actor name")
        self.expect("(", "'(' after Actor<...>")
        outer, self.in_aggregate = self.in_aggregate, False
        self.actor_levels.append(self.nesting + 1)
        try:
            expr = self.expr()
        finally:
            self.actor_levels.pop()
            self.in_aggregate = outer
        timespec = None
        if self.at("over"):
            start = self.advance()
            over = self.duration(minimum=1)
            offset = None
            if self.accept("offset"):
                offset = self.duration(minimum=-(10**18))
            timespec = ast.Window(over, offset, pos=self.pos(start))
        elif self.at("between"):
            start = self.advance()
            timespec = self.time_range_after_between(start)
        elif self.at("offset"):
            raise self.error("offset needs a window first: over 1 week offset -1 week")
        self.expect(")", "')' (or a timespec: over N units [offset N units], between ...)")
        return self.node(ast.ActorExpr(actor, expr, timespec, pos=self.pos(token)))

    def flow_ref(self) -> ast.FlowRef:
        token = self.advance()
        self.advance()
        flow = self.any_name("a flow name")
        self.expect(">", "'>' after the flow name")
        args: list[ast.Expr] = []
        if self.tok.kind == "(":
            self.advance()
            if self.tok.kind != ")":
                args = self.nested(self.arguments)
            self.expect(")", "',' or ')'")
        return self.node(ast.FlowRef(flow, tuple(args), pos=self.pos(token)))


def _duration_text(duration: ast.Duration) -> str:
    unit = duration.unit if abs(duration.n) == 1 else duration.unit + "s"
    return f"{duration.n} {unit}"


def _shorten(value: str, limit: int = 30) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."
