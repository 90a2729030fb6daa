"""Errors raised for BQL text that cannot be parsed or compiled.

Exception tree::

    BQLError                  any problem with a BQL query (base of the compiler's errors too)
     +-- BQLSyntaxError       the text is not valid BQL; carries line, column and an excerpt
"""

from __future__ import annotations

_EXCERPT_WIDTH = 100


class BQLError(Exception):
    """A BQL query is invalid; ``line``/``column`` locate the problem when known."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __reduce__(self):
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls, message, state):
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class BQLSyntaxError(BQLError):
    """The text is not valid BQL.

    Attributes:
        message: what is wrong and what to write instead, without the position.
        line: 1-based line of the offending text.
        column: 1-based column (in characters) of the offending text.
        excerpt: the offending line and, under it, a caret at the column.
        expected: what the parser expected at that point (e.g. ``"from"``), or ``None`` when
            the problem is not a missing piece.

    ``str(error)`` is a multi-line message::

        BQL syntax error at line 2, column 8: expected from, found end of query
          select count(*)
                 ^
    """

    def __init__(
        self,
        message: str,
        *,
        line: int,
        column: int,
        excerpt: str = "",
        expected: str | None = None,
    ):
        super().__init__(message, line=line, column=column)
        self.excerpt = excerpt
        self.expected = expected

    def __str__(self) -> str:
        head = f"BQL syntax error at line {self.line}, column {self.column}: {self.message}"
        if not self.excerpt:
            return head
        indented = "\n".join("  " + row for row in self.excerpt.split("\n"))
        return f"{head}\n{indented}"

    @classmethod
    def at(
        cls, text: str, offset: int, message: str, *, expected: str | None = None
    ) -> BQLSyntaxError:
        """Build the error for character ``offset`` of ``text``, computing line, column, excerpt."""
        offset = max(0, min(offset, len(text)))
        line = text.count("\n", 0, offset) + 1
        line_start = text.rfind("\n", 0, offset) + 1
        line_end = text.find("\n", offset)
        if line_end == -1:
            line_end = len(text)
        column = offset - line_start + 1
        return cls(
            message,
            line=line,
            column=column,
            excerpt=_excerpt(text[line_start:line_end], column),
            expected=expected,
        )


def excerpt_at(text: str, line: int, column: int) -> str:
    """The excerpt (source line and caret line) for 1-based ``line``/``column`` of ``text``,
    e.g. to show where a compile error's syntax tree node (its ``pos``) came from."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return ""
    return _excerpt(lines[line - 1], max(1, column))


def _excerpt(source_line: str, column: int) -> str:
    """The line (windowed around the column when long) with a caret line under it."""
    start = 0
    prefix = suffix = ""
    if len(source_line) > _EXCERPT_WIDTH:
        start = max(0, min(column - 1 - _EXCERPT_WIDTH // 2, len(source_line) - _EXCERPT_WIDTH))
        end = start + _EXCERPT_WIDTH
        if start > 0:
            prefix = "..."
        if end < len(source_line):
            suffix = "..."
        source_line = source_line[start:end]
    # Control characters (NUL, CR, ...) would garble a terminal; show them as printable escapes.
    shown = [ch if ch == "\t" or ch.isprintable() else "?" for ch in source_line]
    pad = "".join("\t" if ch == "\t" else " " for ch in shown[: column - 1 - start])
    return prefix + "".join(shown) + suffix + "\n" + " " * len(prefix) + pad + "^"
