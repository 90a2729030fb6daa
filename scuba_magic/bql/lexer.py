"""Split BQL text into tokens for the parser.

Tokens are names (``NAME``, keywords included: the parser compares them case-insensitively),
back-quoted names (``QNAME``), strings (``STRING``), numbers (``NUMBER``), punctuation and
operators (kind = the operator text, e.g. ``"("``, ``"<="``; ``<>`` becomes ``"!="``) and a final
``EOF``. Whitespace, newlines included, only separates tokens. Text that cannot be a token (an
unterminated string, a typographic quote, a stray character) ends the list with an ``ERROR``
token carrying its :class:`BQLSyntaxError`: the parser raises it when it reaches that token, so
the first problem in reading order is the one reported.

String and back-quoted name escapes: ``\\\\``, ``\\"``, ``\\'``, ``\\```, ``\\n``, ``\\t``,
``\\r`` and ``\\0`` stand for the character; a backslash before any other character is kept as
is, so regular expressions such as ``like "\\d+"`` read naturally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scuba_magic.bql.errors import BQLSyntaxError

NAME = "NAME"
QNAME = "QNAME"
STRING = "STRING"
NUMBER = "NUMBER"
EOF = "EOF"
ERROR = "ERROR"

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'", "`": "`"}

# Names are Unicode letters, digits and "_" (not starting with a digit), as in Python; numbers
# are ASCII digits with an optional fraction and exponent.
_TOKEN = re.compile(
    r"(?P<SPACE>\s+)"
    r"|(?P<NAME>[^\W\d]\w*)"
    r"|(?P<NUMBER>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<OP><=|>=|!=|<>|[(),*/+\-=<>:])"
)
_NAME_START = re.compile(r"[^\W\d]")
_NAME_CHAR = re.compile(r"\w")

_TYPOGRAPHIC_QUOTES = "\u201c\u201d\u2018\u2019\u201e\u00ab\u00bb"

# Longer than any real number; also keeps int() far from Python's digit limit.
_MAX_NUMBER_LENGTH = 64


@dataclass(frozen=True)
class Token:
    """One token: ``kind``, its ``value`` (unescaped for strings and back-quoted names, the
    source text otherwise) and its ``start``/``end`` character offsets in the query; an
    ``ERROR`` token carries its ``error``."""

    kind: str
    value: str
    start: int
    end: int
    error: BQLSyntaxError | None = field(default=None, compare=False)


class _Stop(Exception):
    """Ends scanning at ``offset`` with ``error``."""

    def __init__(self, offset: int, error: BQLSyntaxError):
        super().__init__(error.message)
        self.offset = offset
        self.error = error


def is_name_start(ch: str) -> bool:
    """Whether ``ch`` can start an unquoted name (a letter or ``_``)."""
    return _NAME_START.match(ch) is not None


def is_name_char(ch: str) -> bool:
    """Whether ``ch`` can continue an unquoted name (a letter, a digit or ``_``)."""
    return _NAME_CHAR.match(ch) is not None


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens ending with an ``EOF`` token, preceded by an ``ERROR`` token
    when the text has an unterminated string, a typographic quote or a character BQL does not
    use (scanning stops there)."""
    tokens: list[Token] = []
    try:
        _scan(text, tokens)
    except _Stop as stop:
        end = stop.offset + 1
        tokens.append(Token(ERROR, text[stop.offset : end], stop.offset, end, stop.error))
    tokens.append(Token(EOF, "", len(text), len(text)))
    return tokens


def _scan(text: str, tokens: list[Token]) -> None:
    i = 0
    n = len(text)
    match = _TOKEN.match
    while i < n:
        found = match(text, i)
        if found is not None:
            kind = found.lastgroup
            j = found.end()
            if kind == NAME:
                tokens.append(Token(NAME, found.group(), i, j))
            elif kind == NUMBER:
                if j - i > _MAX_NUMBER_LENGTH:
                    error = BQLSyntaxError.at(text, i, f"number too long ({j - i} characters)")
                    raise _Stop(i, error)
                tokens.append(Token(NUMBER, found.group(), i, j))
            elif kind == "OP":
                op = found.group()
                tokens.append(Token("!=" if op == "<>" else op, op, i, j))
            i = j
        elif text[i] in "\"'`":
            value, j = _scan_quoted(text, i)
            tokens.append(Token(QNAME if text[i] == "`" else STRING, value, i, j))
            i = j
        else:
            raise _Stop(i, _bad_character(text, i, tokens))


def _scan_quoted(text: str, start: int) -> tuple[str, int]:
    """Value and end offset of the string or back-quoted name opening at ``start``."""
    quote = text[start]
    parts: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        j = i
        while j < n and text[j] != quote and text[j] != "\\":
            j += 1
        parts.append(text[i:j])
        if j >= n:
            break
        if text[j] == quote:
            return "".join(parts), j + 1
        if j + 1 >= n:
            break
        escaped = text[j + 1]
        parts.append(ESCAPES.get(escaped, "\\" + escaped))
        i = j + 2
    what = "back-quoted name" if quote == "`" else "string"
    message = f"unterminated {what}: add the closing {quote}"
    raise _Stop(start, BQLSyntaxError.at(text, start, message, expected=quote))


def _bad_character(text: str, i: int, tokens: list[Token]) -> BQLSyntaxError:
    ch = text[i]
    if ch in _TYPOGRAPHIC_QUOTES:
        message = (
            f"typographic quote {ch} is not a BQL quote: use straight quotes \" or ' for "
            "strings and ` for names (text editors and chat apps often curl quotes)"
        )
    elif ch == ";":
        message = "unexpected ';': a BQL query is a single statement without a semicolon"
    elif ch == "." and tokens and tokens[-1].kind == NAME and tokens[-1].end == i:
        dotted = tokens[-1].value + "." + _name_at(text, i + 1)
        message = f"a name with a dot must be back-quoted: `{dotted}`"
    elif ch == "!":
        message = "unexpected '!': use != for 'not equal' or not(...) to negate a filter"
    elif ch in "&|":
        message = f"unexpected {ch!r}: use the words and / or"
    elif ch == "#":
        message = "unexpected '#': BQL has no comments"
    else:
        message = f"unexpected character {ch!r}"
    return BQLSyntaxError.at(text, i, message)


def _name_at(text: str, i: int) -> str:
    j = i
    while j < len(text) and (is_name_char(text[j]) or text[j] == "."):
        j += 1
    return text[i:j] or "..."
