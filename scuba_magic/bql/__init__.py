"""BQL, the Scuba query language: parse, print and describe queries (pure Python, no I/O).

    >>> from scuba_magic import bql
    >>> query = bql.parse('select count(* where page = "Error") from my_table group by country')
    >>> bql.to_bql(query)
    'select count(* where page = "Error") from my_table group by country'
    >>> bql.describe(query).measures
    ['count(* where page = "Error")']

The syntax tree lives in :mod:`scuba_magic.bql.ast`; the emulator compiles it to SQL.
"""

from __future__ import annotations

from scuba_magic.bql import ast
from scuba_magic.bql.errors import BQLError, BQLSyntaxError
from scuba_magic.bql.parser import parse
from scuba_magic.bql.printer import expr_label, to_bql
from scuba_magic.bql.shape import QueryShape, describe

__all__ = [
    "BQLError",
    "BQLSyntaxError",
    "QueryShape",
    "ast",
    "describe",
    "expr_label",
    "parse",
    "to_bql",
]
