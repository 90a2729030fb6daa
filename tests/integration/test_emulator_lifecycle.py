"""Embedding the emulator: start, stop, restart, ports, refusals."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

import pytest

NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


def test_start_stop_and_context_manager(api_for):
    from scuba_magic.emulator import Emulator

    emulator = Emulator(demo_events=500, now=NOW)
    with pytest.raises(RuntimeError, match="start"):
        emulator.url  # noqa: B018 - the property raises before start
    emulator.start()
    try:
        assert emulator.running
        assert emulator.url.startswith("http://127.0.0.1:")
        assert emulator.token_generated and len(emulator.token) >= 40
        assert (
            api_for(emulator.url, emulator.token)
            .query({"bql": "select count(*) from music"})
            .json()[0]["count of events"]
            == 500
        )
        assert emulator.token not in repr(emulator)
    finally:
        emulator.stop()
    assert not emulator.running
    emulator.stop()  # a second stop is harmless


def test_a_stopped_emulator_refuses_connections_and_can_start_again(api_for):
    import requests

    from scuba_magic.emulator import Emulator

    emulator = Emulator(demo_events=500, now=NOW, tokens=["t"]).start()
    url = emulator.url
    emulator.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)

    with emulator:
        assert (
            api_for(emulator.url, "t").query({"bql": "select count(*) from music"}).status_code
            == 200
        )


def test_a_busy_port_is_an_oserror():
    from scuba_magic.emulator import Emulator

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError):
            Emulator(demo_events=100, now=NOW, port=port).start()


def test_non_loopback_needs_allow_remote():
    from scuba_magic.emulator import Emulator

    with pytest.raises(ValueError, match="allow_remote"):
        Emulator(host="0.0.0.0")


def test_no_tables_is_refused():
    from scuba_magic.emulator import Emulator

    with pytest.raises(ValueError, match="--demo"):
        Emulator(demo=False).start()


def test_now_may_be_iso_8601_text(api_for):
    from scuba_magic.emulator import Emulator

    assert Emulator(now="2024-06-01T02:00:00+02:00").now == NOW
    assert Emulator(now="2024-06-01T00:00:00").now == NOW  # naive text is UTC
    with Emulator(demo_events=300, now="2024-06-01T00:00:00Z", tokens=["t"]) as emulator:
        assert emulator.now == NOW
        # the demo data ends at that now (not at the clock's), so the month before holds events
        answer = api_for(emulator.url, "t").query(
            {
                "bql": "select count(*) from music between 2024-05-01 and 2024-06-01",
            }
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()[0]["count of events"] > 0


def test_a_bad_now_says_what_to_pass():
    from scuba_magic.emulator import Emulator

    with pytest.raises(ValueError, match="ISO 8601.*2026-01-01T00:00:00Z"):
        Emulator(now="next tuesday")
    with pytest.raises(TypeError, match="datetime or ISO 8601 text"):
        Emulator(now=1_700_000_000)  # type: ignore[arg-type]


def test_bad_tokens_are_refused():
    from scuba_magic.emulator import Emulator

    with pytest.raises(ValueError, match="tokens"):
        Emulator(tokens=[" padded "])
    with pytest.raises(ValueError, match="tokens"):
        Emulator(tokens=[])


def test_stop_interrupts_a_running_query(api_for):
    import threading
    import time

    import requests

    from scuba_magic.emulator import Emulator

    emulator = Emulator(demo_events=50_000, now=NOW, tokens=["t"], query_timeout=120).start()
    outcome: list[object] = []

    def slow_query() -> None:
        try:
            outcome.append(
                api_for(emulator.url, "t").query(
                    {
                        "bql": "select count_unique(user) from music "
                        "for every 2 minutes over 60 days"
                    },
                    timeout=60,
                )
            )
        except requests.RequestException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=slow_query)
    worker.start()
    deadline = time.monotonic() + 30
    while not emulator.engine.running_queries and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emulator.engine.running_queries == 1
    emulator.stop()
    worker.join(timeout=60)

    assert not worker.is_alive(), "the client got an answer or a closed connection"
    response = outcome[0]
    if not isinstance(response, Exception):
        assert response.status_code == 400
