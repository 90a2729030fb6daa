"""Emulator benchmarks: query latency over HTTP against DuckDB alone, throughput, magic overhead.

These run in this process against an embedded :class:`~scuba_magic.emulator.Emulator`:

- *query*: five representative BQL queries, the HTTP round trip (request, parse, compile,
  execute, encode, transfer) against executing the already-compiled SQL on the same DuckDB
  connection; plus the time to parse and compile each query;
- *throughput*: small queries from 1, 4 and 16 concurrent clients: requests/s, p50 and p99;
- *magic*: ``%%bql --no-widgets --quiet`` against ``ScubaClient.query`` for the same small result.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from bench.measure import Comparison, Side, time_call

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)

QUERIES = {
    "count with filter": 'select count(* where page = "NextSong") from foreverMusic',
    "group by with limit": (
        "select count(*) as plays from foreverMusic group by artist limit 10 "
        "between 30 days ago and now"
    ),
    "daily time series, 90 days": (
        "select count(*) from foreverMusic for every day between 90 days ago and now"
    ),
    "count_unique per group": (
        "select count_unique(user) as users from foreverMusic group by country"
    ),
    "actor property": (
        "select count(* on Actor<user>) from foreverMusic group by Actor<user>(max(age))"
    ),
}

SMALL_QUERIES = [
    'select count(* where page = "Error") from foreverMusic between 1 day ago and now',
    "select count(*) from foreverMusic group by gender between 2 days ago and now",
    "select count_unique(user) from foreverMusic group by platform between 1 day ago and now",
]


def _post(session, emulator, bql: str) -> bytes:
    response = session.post(
        emulator.url + "/v1/query",
        json={"bql": bql, "result_format": "JSON_POWER_BI"},
        headers={"Authorization": f"Token {emulator.token}"},
        timeout=300,
    )
    response.raise_for_status()
    return response.content


def _compare_queries(emulator, label: str, repeat: int, target: float | None) -> list[Comparison]:
    import requests

    from scuba_magic.bql import parse
    from scuba_magic.emulator.compiler import compile_query

    session = requests.Session()
    comparisons = []
    for name, bql in QUERIES.items():
        compiled = compile_query(parse(bql), emulator.catalog, now=NOW)
        cursor = emulator.connection.cursor()

        def direct(compiled=compiled, cursor=cursor) -> object:
            return cursor.execute(compiled.sql, compiled.params).fetchall()

        direct()
        _post(session, emulator, bql)  # warm both paths
        ours, baseline = Side("ours"), Side("baseline")
        for _ in range(repeat):
            baseline.samples.append(time_call(direct))
            ours.samples.append(time_call(lambda bql=bql: _post(session, emulator, bql)))
        cursor.close()

        iterations = 200
        started = time.perf_counter()
        for _ in range(iterations):
            compile_query(parse(bql), emulator.catalog, now=NOW)
        compile_ms = (time.perf_counter() - started) / iterations * 1000
        comparisons.append(
            Comparison(
                f"emulator {label}: {name}",
                ours,
                baseline,
                target=target,
                note=f"baseline: compiled SQL in DuckDB; parse+compile {compile_ms:.2f} ms",
                memory=False,
            )
        )
    return comparisons


def _throughput(emulator, clients: int, requests_per_client: int) -> str:
    import requests

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def worker(index: int) -> None:
        nonlocal errors
        session = requests.Session()
        for i in range(requests_per_client):
            bql = SMALL_QUERIES[(index + i) % len(SMALL_QUERIES)]
            started = time.perf_counter()
            try:
                _post(session, emulator, bql)
            except Exception:
                with lock:
                    errors += 1
                continue
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(worker, range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return (
        f"| {clients} | {len(latencies) + errors} | {len(latencies) / elapsed:.1f} "
        f"| {p50:.1f} | {p99:.1f} | {errors} |"
    )


def _magic_overhead(emulator, repeat: int) -> Comparison:
    from IPython.core.interactiveshell import InteractiveShell

    from scuba_magic import ScubaClient

    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("scuba_magic")
    client = ScubaClient(emulator.url, token=emulator.token)
    bql = SMALL_QUERIES[1]
    # the session connection is set the way a user would, without echoing the token
    shell.run_line_magic("scuba_connect", emulator.url)

    def run_magic() -> object:
        return shell.run_cell_magic("bql", "--no-widgets --quiet", bql)

    run_magic()
    client.query(bql)
    ours, baseline = Side("ours"), Side("baseline")
    for _ in range(repeat):
        baseline.samples.append(time_call(lambda: client.query(bql)))
        ours.samples.append(time_call(run_magic))
    return Comparison(
        "%%bql (widgets off) vs ScubaClient.query, small result",
        ours,
        baseline,
        target=1.1,
        note="same query, same emulator",
        memory=False,
    )


def run(quick: bool) -> list[Comparison]:
    """Run the emulator benchmarks; prints the throughput table as it goes."""
    import os

    from scuba_magic.emulator import Emulator

    sizes = [200_000] if quick else [1_000_000, 10_000_000]
    repeat = 3 if quick else 7
    comparisons: list[Comparison] = []
    for events in sizes:
        started = time.perf_counter()
        with Emulator(
            demo=True, port=0, demo_events=events, now=NOW, query_timeout=600
        ) as emulator:
            print(
                f"  emulator with {events:,} demo events started in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            # the target is set for the 10M-event table, where the query, not HTTP, dominates
            target = 1.2 if events >= 10_000_000 else None
            comparisons.extend(
                _compare_queries(emulator, f"{events // 1000:,}k events", repeat, target)
            )
            if events == sizes[0]:
                per_client = 25 if quick else 100
                print("\n| clients | requests | requests/s | p50 ms | p99 ms | errors |")
                print("|---|---|---|---|---|---|")
                for clients in (1, 4, 16):
                    print(_throughput(emulator, clients, per_client), flush=True)
                print()
                os.environ["SCUBA_API_TOKEN"] = emulator.token
                comparisons.append(_magic_overhead(emulator, 10 if quick else 30))
    return comparisons
