"""Concurrent load on one emulator: 8 threads x 200 mixed requests, every answer correct.

Each request's answer is compared with the answer to the same request sent alone before the
load, so a cursor shared between requests, a race in the rid counter or a mixed-up response
shows up as a mismatch. Floats are compared to 9 significant digits because DuckDB may add a
double-precision sum in a different order from one run to the next.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from datetime import datetime, timezone
from typing import Any

import pytest

THREADS = 8
REQUESTS_PER_THREAD = 200
# a small demo table of its own keeps 1,600 requests within a minute on two cores; the cost per
# request is mostly fixed (HTTP, parsing, DuckDB planning), so the load pattern is the same
LOAD_DEMO_EVENTS = 20_000

QUERIES = [
    (
        {"bql": "select count(*) from foreverMusic group by gender between 7 days ago and now"},
        "json",
    ),
    (
        {
            "bql": "select count(*) as plays from music group by platform "
            "between 30 days ago and now",
            "result_format": "CSV",
        },
        "csv",
    ),
    (
        {
            "bql": "select count_unique(user) from foreverMusic for every day "
            "between 14 days ago and now",
            "result_format": "DEFAULT",
        },
        "json",
    ),
    (
        {
            "bql": "select sum(length) as total, avg(age) from foreverMusic "
            "group by country limit 5 between 10 days ago and now"
        },
        "json",
    ),
    (
        {
            "bql": 'select count(* where page = "NextSong") as songs from foreverMusic group by '
            "artist limit 10 between 3 days ago and now"
        },
        "json",
    ),
    ({"bql": "select max(age), min(age) from foreverMusic group by level"}, "json"),
]


def _normalized(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    return value


def _decode(response: Any, kind: str) -> Any:
    if kind == "csv":
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
        return [rows[0]] + [
            [_normalized(float(x)) if x[:1].isdigit() else x for x in row] for row in rows[1:]
        ]
    return _normalized(response.json())


@pytest.fixture(scope="module")
def load_emulator():
    """An emulator of this module's own, so the load does not touch the session one."""
    from scuba_magic.emulator import Emulator

    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    with Emulator(demo_events=LOAD_DEMO_EVENTS, now=now) as running:
        yield running


@pytest.mark.slow
def test_concurrent_mixed_queries_match_answers_given_alone(load_emulator, api_for):
    emulator = load_emulator
    api = api_for(emulator.url, emulator.token)
    expected = []
    for body, kind in QUERIES:
        alone = api.query(body)
        assert alone.status_code == 200, alone.text
        expected.append(_decode(alone, kind))
    replay_rid = api.query(QUERIES[0][0]).headers["X-Scuba-Query-Response-Id"]
    explore_pattern = re.compile(rf"^{re.escape(emulator.url)}/explorer/(r\d+)$")

    failures: list[str] = []
    minted: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        import requests

        with requests.Session() as session:
            headers = {"Authorization": f"Token {emulator.token}"}
            for n in range(REQUESTS_PER_THREAD):
                choice = (index + n) % (len(QUERIES) + 2)
                try:
                    if choice < len(QUERIES):
                        body, kind = QUERIES[choice]
                    elif choice == len(QUERIES):
                        body, kind = {"query_response_id": replay_rid}, "json"
                    else:
                        body = {**QUERIES[n % len(QUERIES)][0], "return_type": "explore_url"}
                        body.pop("result_format", None)
                        kind = "explore"
                    response = session.post(
                        f"{emulator.url}/v1/query", json=body, headers=headers, timeout=60
                    )
                    rid = response.headers.get("X-Scuba-Query-Response-Id", "")
                    if response.status_code != 200:
                        problem = f"{response.status_code} {response.text[:200]}"
                    elif kind == "explore":
                        match = explore_pattern.match(response.json()["url"])
                        problem = "" if match and match.group(1) == rid else response.text
                    else:
                        wanted = expected[0] if choice == len(QUERIES) else expected[choice]
                        problem = "" if _decode(response, kind) == wanted else f"{body} differs"
                except Exception as exc:  # collect, so one failure does not hide the others
                    problem, rid = f"{type(exc).__name__}: {exc}", ""
                with lock:
                    minted.append(rid)
                    if problem:
                        failures.append(problem)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not any(thread.is_alive() for thread in threads), "a request hung"

    assert failures == []
    assert len(minted) == THREADS * REQUESTS_PER_THREAD
    assert len(set(minted)) == len(minted), "every answer carries its own rid"
