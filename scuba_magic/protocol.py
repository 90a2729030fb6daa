"""The Scuba query API's vocabulary that the client and the emulator must agree on.

One definition of the request values the ``/v1/query`` endpoint accepts, so the client's
argument checks, the magics' and CLI's choices and the emulator's validation cannot drift
apart. Standard library only: every part of the package, including the light ones, may
import it.
"""

from __future__ import annotations

import re

__all__ = [
    "CHART_TYPES",
    "RESULT_FORMATS",
    "RETURN_TYPES",
    "RID_HEADER",
    "RID_PATTERN",
]

#: ``result_format`` values, upper-case; requests may use any case.
RESULT_FORMATS: tuple[str, ...] = ("JSON_POWER_BI", "CSV", "DEFAULT")

#: ``return_type`` values, lower-case; requests may use any case.
RETURN_TYPES: tuple[str, ...] = ("data", "explore_url")

#: ``chart_options.type`` values for ``return_type`` ``explore_url``, upper-case; any case works.
#: The order is the one shown to users (menus, ``--help``): TIME is the default.
CHART_TYPES: tuple[str, ...] = ("TIME", "TABLE", "SANKEY", "NUMBER", "BAR", "SUNBURST", "SCATTER")

#: A query response id: ``r`` and 1 to 18 ASCII digits (an id fits in a signed 64-bit integer).
#: Anchored at both ends (``\\Z``, not ``$``, which would let a trailing newline through), so
#: ``match``, ``fullmatch`` and ``search`` all accept exactly the same strings.
RID_PATTERN: re.Pattern[str] = re.compile(r"\Ar[0-9]{1,18}\Z")

#: Response header carrying the rid that an answered query minted.
RID_HEADER = "X-Scuba-Query-Response-Id"
