"""Run every benchmark and print, for each, the median, the spread, the ratio and peak memory.

Usage::

    python -m bench            # full sizes, a few minutes on 2 cores
    python -m bench --quick    # smaller inputs and fewer runs, under a minute
    python -m bench --only json,csv

Targets (ratio = ours / baseline, both measured in this run) are printed beside each ratio;
``bench/RESULTS.md`` keeps the last full run with the machine and the date.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable

from bench import payloads
from bench.bodyserver import BodyServer
from bench.measure import Comparison, compare_in_subprocesses, format_bytes, format_table


def bench_json(quick: bool) -> list[Comparison]:
    rows = 100_000 if quick else 1_000_000
    path = payloads.json_body(rows)
    size = format_bytes(path.stat().st_size)
    repeat = 3 if quick else 5
    with BodyServer(path, "application/json") as server:
        params = {"url": server.url}
        main = compare_in_subprocesses(
            f"JSON_POWER_BI {rows:,} rows ({size}) -> DataFrame",
            "json_ours",
            "json_baseline",
            params,
            repeat=repeat,
            target=1.5,
            note="baseline: urllib read + orjson.loads; peak mem target <= 4x body",
        )
        naive = compare_in_subprocesses(
            "  (reference) pd.DataFrame(json.loads(...))",
            "json_naive",
            "json_baseline",
            params,
            repeat=1 if quick else 2,
            target=None,
            note="the obvious way, for scale",
        )
    body_bytes = path.stat().st_size
    main.note += f"; ours peak {main.ours.peak_bytes / body_bytes:.1f}x body"
    return [main, naive]


def bench_csv(quick: bool) -> list[Comparison]:
    rows = 100_000 if quick else 1_000_000
    path = payloads.csv_body(rows)
    with BodyServer(path, "text/csv") as server:
        return [
            compare_in_subprocesses(
                f"CSV {rows:,} rows ({format_bytes(path.stat().st_size)}) -> DataFrame",
                "csv_ours",
                "csv_baseline",
                {"url": server.url},
                repeat=3 if quick else 5,
                target=1.3,
                note="baseline: urllib read + pyarrow.csv.read_csv",
            )
        ]


def bench_download(quick: bool) -> list[Comparison]:
    megabytes = 20 if quick else 100
    path = payloads.blob(megabytes)
    with BodyServer(path, "application/octet-stream") as server:
        return [
            compare_in_subprocesses(
                f"{megabytes} MiB download",
                "download_ours",
                "download_baseline",
                {"url": server.url},
                repeat=3 if quick else 7,
                target=1.2,
                note="baseline: http.client read",
            )
        ]


def bench_extension_load(quick: bool) -> list[Comparison]:
    return [
        compare_in_subprocesses(
            "%load_ext scuba_magic (fresh python -c)",
            "extension_load_ours",
            "extension_load_baseline",
            {},
            repeat=3 if quick else 9,
            target=1.15,
            note="baseline: import IPython + create a shell",
        )
    ]


def bench_emulator(quick: bool) -> list[Comparison]:
    from bench import emulator_bench

    return emulator_bench.run(quick)


BENCHMARKS: dict[str, Callable[[bool], list[Comparison]]] = {
    "json": bench_json,
    "csv": bench_csv,
    "download": bench_download,
    "extension": bench_extension_load,
    "emulator": bench_emulator,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small inputs, few runs (< 1 min)")
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}"
    )
    args = parser.parse_args(argv)
    selected = [name for name in args.only.split(",") if name] or list(BENCHMARKS)
    unknown = sorted(set(selected) - set(BENCHMARKS))
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )

    started = time.perf_counter()
    print(
        f"# scuba-magic benchmarks ({'quick' if args.quick else 'full'}) on "
        f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        flush=True,
    )
    comparisons: list[Comparison] = []
    for name in selected:
        results = BENCHMARKS[name](args.quick)
        comparisons.extend(results)
        for comparison in results:
            print(f"  {comparison.name}: {comparison.ratio:.2f}x", flush=True)
    print()
    print(format_table(comparisons))
    print(f"\nfinished in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0
