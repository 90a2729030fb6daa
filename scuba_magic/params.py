"""Safe substitution of Python values into BQL: ``{name}`` placeholders.

A ``%%bql`` cell may name Python variables in braces; each one is replaced by
the variable's value written as a BQL literal, never as raw text::

    page = "Error"
    users = ["jack", "jill"]
    since = datetime.date(2021, 1, 8)

    select count(* where page = {page} and user in {users})
    from music between {since} and now

becomes ``... page = "Error" and user in ("jack", "jill") ... between 2021-01-08 and now``.
Dates and datetimes are written as BQL time literals (unquoted), so they belong in
``between ... and ...``.

Rules:

- ``str`` -> a double-quoted BQL string; backslashes, double quotes, line breaks,
  tabs and NUL are escaped with a backslash (``\\\\``, ``\\"``, ``\\n``, ``\\t``, ``\\r``,
  ``\\0``), so the string reads back exactly as it was.
- ``int``, ``float``, ``Decimal`` (and numpy numbers) -> a plain number (``1e-05`` is written
  ``0.00001``); NaN and infinities are refused. ``bool`` is refused: BQL has no
  boolean literal (a boolean property is filtered on by itself: ``where authenticated``).
- ``list``, ``tuple``, ``set``, ``frozenset`` -> ``("a", "b")`` for ``in``; sets are
  sorted so the query text is the same on every run; an empty collection is refused.
- ``datetime.date`` -> ``YYYY-MM-DD`` (midnight in the query's time zone).
- ``datetime.datetime`` -> ``YYYY-MM-DD HH:MM:SS``, read in the query's time zone
  (UTC unless the query ends with ``timezone <name>``). A naive datetime is written
  as is; an aware one is first converted to the query's time zone, so it names the
  same instant the Python value does. Fractions of a second are refused.
- Anything else is an error naming the type. A name missing from the namespace is
  an error naming it.

Placeholders are recognised only outside string literals (``"..."``, ``'...'``)
and back-quoted names, so a regular expression such as ``like ".{3}"`` is left
alone. Outside them, ``{{`` and ``}}`` stand for literal braces.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["PlaceholderError", "render", "to_bql_literal"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# a time zone clause ends a BQL query: "... timezone US/Pacific"
_TIMEZONE_CLAUSE = re.compile(r"\btimezone\s+([A-Za-z0-9_+\-/]+)\s*;?\s*\Z", re.IGNORECASE)
_QUOTED_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
# the escapes the BQL lexer reads back (scuba_magic.bql.lexer.ESCAPES)
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


class PlaceholderError(ValueError):
    """A ``{name}`` placeholder that cannot be filled: unknown name, unsupported value or syntax.

    Attributes:
        name: the placeholder's name, when there is one.
    """

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


def render(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace every ``{name}`` placeholder in ``text`` by ``namespace[name]`` as a BQL literal.

    Args:
        text: BQL with placeholders.
        namespace: where names are looked up (the notebook's user namespace).

    Returns:
        The BQL text with literals in place of placeholders and ``{{``/``}}`` undoubled.

    Raises:
        PlaceholderError: an unknown name, a value that has no BQL literal, a placeholder
            inside quotes, or an unmatched brace.
    """
    if "{" not in text and "}" not in text:
        return text
    timezone = _query_timezone(text)
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'`":
            end = _literal_end(text, i)
            literal = text[i:end]
            if ch != "`":
                _refuse_quoted_placeholder(text, i, literal)
            out.append(literal)
            i = end
        elif ch == "{":
            if text.startswith("{{", i):
                out.append("{")
                i += 2
                continue
            close = text.find("}", i + 1)
            inner = text[i + 1 : close] if close != -1 else ""
            if close == -1 or not _IDENTIFIER.match(inner.strip()):
                raise PlaceholderError(
                    f"'{{' at {_where(text, i)} does not start a placeholder: write {{name}} "
                    "with a Python variable name, or {{ for a literal brace."
                )
            name = inner.strip()
            if name not in namespace:
                raise PlaceholderError(
                    f"Placeholder {{{name}}} at {_where(text, i)}: no variable named {name!r} "
                    "is defined. Assign it in a cell above, or write {{ and }} for literal "
                    "braces.",
                    name,
                )
            try:
                out.append(to_bql_literal(namespace[name], timezone=timezone))
            except PlaceholderError as exc:
                raise PlaceholderError(f"Placeholder {{{name}}}: {exc}", name) from None
            i = close + 1
        elif ch == "}":
            if text.startswith("}}", i):
                out.append("}")
                i += 2
                continue
            raise PlaceholderError(
                f"Unmatched '}}' at {_where(text, i)}: write }}}} for a literal brace."
            )
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def to_bql_literal(value: Any, *, timezone: str | None = None) -> str:
    """Write one Python value as a BQL literal.

    Args:
        value: the value; see the module docstring for the supported types.
        timezone: the query's time zone name; aware datetimes are converted to it
            (UTC when None).

    Returns:
        The literal's BQL text.

    Raises:
        PlaceholderError: the value has no BQL literal.
    """
    if isinstance(value, (list, tuple, set, frozenset)):
        if not value:
            raise PlaceholderError(
                f"the {type(value).__name__} is empty; `in ()` matches nothing and is not "
                "valid BQL. Leave the filter out when there is nothing to match."
            )
        items = [_scalar_literal(item, timezone) for item in value]
        if isinstance(value, (set, frozenset)):
            items.sort()
        return "(" + ", ".join(items) + ")"
    return _scalar_literal(value, timezone)


def _scalar_literal(value: Any, timezone: str | None) -> str:
    if isinstance(value, str):
        return _string_literal(value)
    # bool before int: bool is an int subclass
    if isinstance(value, bool) or (
        type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
    ):
        raise PlaceholderError(
            "BQL has no true/false literal: filter on the boolean property itself, "
            "e.g. `where authenticated` or `where not(authenticated)`."
        )
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise PlaceholderError(f"{value} has no BQL literal; use a finite number.")
        return format(value.normalize(), "f")
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise PlaceholderError(f"{number} has no BQL literal; use a finite number.")
        # repr() gives the shortest round-tripping digits; Decimal drops the exponent
        text = format(Decimal(repr(number)), "f")
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, dt.datetime):
        return _datetime_literal(value, timezone)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        raise PlaceholderError(
            "a collection inside a collection has no BQL literal; use a flat list of values."
        )
    kind = type(value)
    raise PlaceholderError(
        f"a value of type {kind.__module__}.{kind.__qualname__} has no BQL literal; use a "
        "str, int, float, date, datetime, or a list/tuple/set of those."
        if kind.__module__ != "builtins"
        else f"a value of type {kind.__qualname__} has no BQL literal; use a str, int, float, "
        "date, datetime, or a list/tuple/set of those."
    )


def _string_literal(value: str) -> str:
    return '"' + "".join(_STRING_ESCAPES.get(ch, ch) for ch in value) + '"'


def _datetime_literal(value: dt.datetime, timezone: str | None) -> str:
    if value.microsecond:
        raise PlaceholderError(
            f"{value.isoformat()} has fractions of a second; BQL times have whole "
            "seconds. Use value.replace(microsecond=0)."
        )
    if value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(_zone(timezone)).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _zone(name: str | None) -> dt.tzinfo:
    if name is None or name.upper() == "UTC":
        return dt.timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PlaceholderError(
            f"the query's time zone {name!r} is unknown, so a timezone-aware datetime "
            "cannot be converted to it; use a tz database name such as US/Pacific."
        ) from None


def _query_timezone(text: str) -> str | None:
    # blank out literals so a string that says "timezone X" is not taken for the clause
    plain: list[str] = []
    i = 0
    while i < len(text):
        if text[i] in "\"'`":
            end = _literal_end(text, i)
            plain.append(" " * (end - i))
            i = end
        else:
            plain.append(text[i])
            i += 1
    match = _TIMEZONE_CLAUSE.search("".join(plain))
    return match.group(1) if match else None


def _literal_end(text: str, start: int) -> int:
    """Index just past the string literal or back-quoted name that starts at ``start``."""
    quote = text[start]
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    # unterminated: the BQL parser reports it; substitution leaves the rest alone
    return len(text)


def _refuse_quoted_placeholder(text: str, start: int, literal: str) -> None:
    # "{page}" is almost always a placeholder written with quotes by mistake
    if _QUOTED_PLACEHOLDER.fullmatch(literal[1:-1]):
        raise PlaceholderError(
            f"{literal} at {_where(text, start)} is a string, not a placeholder: write "
            f"{literal[1:-1]} without quotes (string values are quoted for you). Braces "
            "inside quotes are kept as written."
        )


def _where(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"
