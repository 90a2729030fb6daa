"""``python -m bench --quick`` runs in CI: every benchmark runs and prints its ratio.

Times are never asserted (the machines are shared); this only proves the benchmarks work and
report what the targets in ``bench/RESULTS.md`` are judged on.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_benchmarks_print_every_ratio(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**_environment(), "SCUBA_MAGIC_BENCH_CACHE": str(tmp_path)},
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    table = [line for line in completed.stdout.splitlines() if line.startswith("| ")]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in table[1:]}
    expected = [
        "JSON_POWER_BI",
        "CSV",
        "download",
        "%load_ext scuba_magic",
        "count with filter",
        "group by with limit",
        "daily time series",
        "count_unique per group",
        "actor property",
        "%%bql (widgets off)",
    ]
    for name in expected:
        ratios = [ratio for row, ratio in rows.items() if name in row]
        assert ratios, f"no row for {name!r} in:\n{completed.stdout}"
        assert all(re.fullmatch(r"\d+\.\d\dx", ratio) for ratio in ratios), ratios
    assert re.search(
        r"^\| 16 \| \d+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 0 \|$", completed.stdout, re.M
    )


def _environment() -> dict[str, str]:
    import os

    return {key: value for key, value in os.environ.items() if key != "SCUBA_API_TOKEN"}
