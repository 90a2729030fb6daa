"""Errors raised when a parsed BQL query cannot be compiled to SQL for the emulator.

Exception tree::

    BQLError (scuba_magic.bql.errors)
     +-- CompileError        the query is valid BQL but names unknown things or mixes types
          +-- UnsupportedError   valid BQL the emulator does not implement (flows)
"""

from __future__ import annotations

from scuba_magic.bql.errors import BQLError


class CompileError(BQLError):
    """The query cannot run against this catalog: unknown names, wrong types, bad ranges."""


class UnsupportedError(CompileError):
    """The query uses a BQL feature the emulator does not implement."""
