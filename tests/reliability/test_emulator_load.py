"""Sixteen ``ScubaClient`` users at once against one emulator: right answers, bounded memory.

Each client sends a mix of data queries (JSON, CSV, DEFAULT), explore links, rid replays and
queries that must fail (a syntax error, an unknown rid). Every answer is compared with the
answer to the same request sent alone before the load; every expected failure must be the same
error with the same message. The process's resident memory (the emulator runs in it) is
reported before and after and must stay within a generous bound of where it started: growth
without bound (a leaked DuckDB result, a cursor per request, a cache without a limit) shows.

``tests/integration/test_emulator_load.py`` checks raw HTTP answers under load; this test goes
through the client, the way notebook users load a shared emulator. The default run is 16 x
``REQUESTS_PER_CLIENT`` requests; ``SCUBA_MAGIC_LONG_TESTS=1`` sends 16 x 500.
"""

from __future__ import annotations

import gc
import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from .budget import scaled

CLIENTS = 16
REQUESTS_PER_CLIENT = scaled(500, 2000)
LOAD_DEMO_EVENTS = 20_000
# generous: the emulator keeps every rid it minted, and allocators keep freed pages
RSS_GROWTH_BOUND_MB = 300

pytestmark = [pytest.mark.slow, pytest.mark.timeout(scaled(600, 3600))]

DATA_QUERIES = [
    (
        "select count(*) from foreverMusic group by gender between 7 days ago and now",
        "JSON_POWER_BI",
    ),
    ("select count(*) as plays from music group by platform between 30 days ago and now", "CSV"),
    (
        "select count_unique(user) from foreverMusic for every day between 14 days ago and now",
        "DEFAULT",
    ),
    (
        "select sum(length) as total, avg(age) from foreverMusic group by country limit 5 "
        "between 10 days ago and now",
        "JSON_POWER_BI",
    ),
    (
        'select count(* where page = "NextSong") as songs from foreverMusic group by artist '
        "limit 10 between 3 days ago and now",
        "CSV",
    ),
    (
        "select max(age), min(age), percentile(age, 90) from foreverMusic group by level",
        "JSON_POWER_BI",
    ),
]
BROKEN_BQL = "select count(* from music"
UNKNOWN_RID = "r999999999"


@pytest.fixture(scope="module")
def load_emulator() -> Iterator[Any]:
    from scuba_magic.emulator import Emulator

    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    with Emulator(demo_events=LOAD_DEMO_EVENTS, now=now) as running:
        yield running


def rss_mb() -> float:
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def comparable(answer: Any) -> Any:
    """An answer without what differs between two runs of the same query."""
    if isinstance(answer, pd.DataFrame):
        frame = answer.copy()
        frame.attrs = {}
        return frame
    return answer


def same(left: Any, right: Any) -> bool:
    if isinstance(left, pd.DataFrame) and isinstance(right, pd.DataFrame):
        try:
            # DuckDB may add doubles in another order from one run to the next
            pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=1e-9)
        except AssertionError:
            return False
        return True
    return left == right


def build_requests(client: Any) -> list[tuple[str, Callable[[Any], Any], Any]]:
    """Every kind of request with its answer when sent alone: (name, call, expected)."""
    from scuba_magic.errors import NotFoundError, QueryError

    kinds: list[tuple[str, Callable[[Any], Any]]] = [
        (f"data {fmt} {bql[:40]}", lambda c, b=bql, f=fmt: comparable(c.query(b, result_format=f)))
        for bql, fmt in DATA_QUERIES
    ]
    replayed = client.explore_url(DATA_QUERIES[0][0]).rid
    kinds.append(("rid replay", lambda c: comparable(c.query(rid=replayed))))
    kinds.append(
        (
            "explore link",
            lambda c: (lambda link: link.url.endswith(f"/explorer/{link.rid}"))(
                c.explore_url(DATA_QUERIES[3][0], chart_type="table", chart_name="load")
            ),
        ),
    )

    def failing(call: Callable[[Any], Any], error: type[Exception]) -> Callable[[Any], Any]:
        def run(c: Any) -> Any:
            try:
                call(c)
            except error as exc:
                # the newest rid, quoted in a 404, moves on while the load runs
                return (type(exc).__name__, re.sub(r"minted is r\d+", "minted is rN", str(exc)))
            return "no error"

        return run

    kinds.append(("syntax error", failing(lambda c: c.query(BROKEN_BQL), QueryError)))
    kinds.append(("unknown rid", failing(lambda c: c.query(rid=UNKNOWN_RID), NotFoundError)))
    return [(name, call, call(client)) for name, call in kinds]


def test_sixteen_clients_get_the_answers_they_would_get_alone(
    load_emulator: Any, artifacts_dir: Path, record_property: Callable[[str, Any], None]
) -> None:
    from scuba_magic.client import ScubaClient

    with ScubaClient(load_emulator.url, token=load_emulator.token) as alone:
        kinds = build_requests(alone)
        # a warm-up round, so one-off allocations (DuckDB caches, imports) count in the start
        for _name, call, _expected in kinds:
            call(alone)
    assert kinds[-2][2][0] == "QueryError" and kinds[-1][2][0] == "NotFoundError"
    start_rss = rss_mb()

    failures: list[str] = []
    done = [0] * CLIENTS
    lock = threading.Lock()

    def user(index: int) -> None:
        with ScubaClient(load_emulator.url, token=load_emulator.token, max_retries=0) as client:
            for n in range(REQUESTS_PER_CLIENT):
                name, call, expected = kinds[(index * 7 + n) % len(kinds)]
                try:
                    answer = call(client)
                    problem = "" if same(answer, expected) else f"{name}: a different answer"
                except Exception as exc:  # collect all, so one failure does not hide others
                    problem = f"{name}: {type(exc).__name__}: {exc}"
                done[index] += 1
                if problem:
                    with lock:
                        failures.append(problem)

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=scaled(540, 3500))
    end_rss = rss_mb()

    report = {
        "clients": CLIENTS,
        "requests": sum(done),
        "failures": len(failures),
        "rss_start_mb": round(start_rss, 1),
        "rss_end_mb": round(end_rss, 1),
    }
    (artifacts_dir / "emulator-load.json").write_text(json.dumps(report, indent=2) + "\n")
    for key, value in report.items():
        record_property(key, value)
    print(f"emulator load: {report}")

    assert not any(thread.is_alive() for thread in threads), f"a client hung: {report}"
    assert failures[:10] == [] and sum(done) == CLIENTS * REQUESTS_PER_CLIENT
    assert end_rss < start_rss + RSS_GROWTH_BOUND_MB, report
    # and the emulator still answers at once
    with ScubaClient(load_emulator.url, token=load_emulator.token) as after:
        assert same(kinds[0][1](after), kinds[0][2])
