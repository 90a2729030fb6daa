"""The emulator's per-token rate limiter and its ``--rate-limit`` parser."""

from __future__ import annotations

import pytest

from scuba_magic.emulator.ratelimit import RateLimiter, parse_rate


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("5/s", 5.0),
        ("2", 2.0),
        ("60/min", 1.0),
        ("120/minutes", 2.0),
        ("3600/hour", 1.0),
        ("86400/day", 1.0),
        ("0.5/s", 0.5),
        (" 10 / sec ", 10.0),
    ],
)
def test_parse_rate(text, per_second):
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["", "fast", "5/week", "0/s", "-1/s", "1/s/s"])
def test_parse_rate_refuses_bad_text(text):
    with pytest.raises(ValueError, match="Invalid rate .*5/s"):
        parse_rate(text)


def test_bucket_allows_the_burst_then_asks_to_wait():
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock)

    assert [limiter.acquire("a"), limiter.acquire("a")] == [None, None]
    assert limiter.acquire("a") == 1
    assert limiter.acquire("b") is None, "each key has its own bucket"
    clock.now += 0.5
    assert limiter.acquire("a") is None, "half a second refills one request at 2/s"
    assert limiter.acquire("a") == 1


def test_slow_rates_ask_for_long_waits():
    clock = FakeClock()
    limiter = RateLimiter(1 / 60, clock=clock)

    assert limiter.acquire("a") is None
    assert limiter.acquire("a") == 60
    clock.now += 30
    assert limiter.acquire("a") == 30


def test_reset_refills_every_bucket():
    limiter = RateLimiter(1.0, clock=FakeClock())
    limiter.acquire("a")
    assert limiter.acquire("a") == 1

    limiter.reset()

    assert limiter.acquire("a") is None


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ("1/s", "More than 1 request per second for this token (--rate-limit 1/s)."),
        ("5/s", "More than 5 requests per second for this token (--rate-limit 5/s)."),
        ("30/min", "More than 30 requests per minute for this token (--rate-limit 30/min)."),
        ("2/hour", "More than 2 requests per hour for this token (--rate-limit 2/hour)."),
        ("12/day", "More than 12 requests per day for this token (--rate-limit 12/day)."),
    ],
)
def test_the_429_message_names_the_limit_and_leaves_retry_advice_to_the_header(
    rate: str, message: str
) -> None:
    from scuba_magic.emulator.server import _rate_text

    assert _rate_text(RateLimiter(parse_rate(rate))) == message
