"""Per-token request rate limiting for the emulator (``--rate-limit N/s``).

A token bucket per API token: the bucket holds up to ``burst`` requests (the rate rounded up,
at least 1) and refills at ``rate`` requests per second. A request that finds the bucket empty is
refused with 429 and a ``Retry-After`` of whole seconds until one request's worth has refilled,
the way the older Scuba API limited each token.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable

_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*([a-z]+))?\s*$")


def parse_rate(text: str) -> float:
    """Parse a rate such as ``5/s``, ``60/min``, ``1000/day`` or ``2`` (per second).

    Returns:
        Requests per second.

    Raises:
        ValueError: when the text is not a positive rate with a known unit.
    """
    match = _RATE_RE.match(text.lower())
    unit = (match.group(2) or "s") if match else ""
    if unit not in _UNITS and unit.endswith("s"):
        unit = unit[:-1]  # plural: minutes, days
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"Invalid rate {text!r}: write N/s, N/min, N/hour or N/day, e.g. 5/s or 1000/day."
        )
    count = float(match.group(1))
    if count <= 0:
        raise ValueError(
            f"Invalid rate {text!r}: the number of requests must be above 0, e.g. 5/s."
        )
    seconds = _UNITS[unit]
    return count / seconds


class RateLimiter:
    """Token buckets keyed by an opaque string (the digest of the API token).

    Args:
        rate: requests per second each key may make in the long run.
        burst: requests a key may make at once; defaults to ``ceil(rate)`` and at least 1.
        clock: monotonic clock in seconds (a parameter so tests can drive it).
    """

    def __init__(
        self, rate: float, burst: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be above 0")
        self.rate = rate
        self.burst = burst if burst is not None else max(1, math.ceil(rate))
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)

    def acquire(self, key: str) -> int | None:
        """Take one request from ``key``'s bucket.

        Returns:
            None when the request may go ahead, otherwise the seconds to wait (at least 1).
        """
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))

    def reset(self) -> None:
        """Refill every bucket."""
        with self._lock:
            self._buckets.clear()
