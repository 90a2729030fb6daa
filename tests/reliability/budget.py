"""How much work the fuzz and load tests do: bounded by default, more with the long mode.

``SCUBA_MAGIC_LONG_TESTS=1`` in the environment selects the long mode (minutes instead of
seconds per test); CI runs the default, which keeps the folder within a few minutes on two cores.
"""

from __future__ import annotations

import os

LONG_TESTS = os.environ.get("SCUBA_MAGIC_LONG_TESTS", "") not in ("", "0")


def scaled(short: int, long: int) -> int:
    """``long`` in the long mode, ``short`` otherwise."""
    return long if LONG_TESTS else short
