"""Timing and memory measurement: one fresh subprocess per run, statistics, the result table.

A run happens in its own interpreter so that its peak memory (the growth of the resident set
during the timed operation) is not hidden by an earlier run's high-water mark, and so that the
caches of one side never help the other. Baseline and ours alternate, which spreads the noise of
a shared machine over both sides evenly.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Sample:
    """One timed run: seconds and the growth of peak resident memory in bytes."""

    seconds: float
    peak_bytes: int


@dataclass
class Side:
    """All runs of one side (ours or the baseline) of a benchmark."""

    label: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def spread(self) -> tuple[float, float]:
        times = [s.seconds for s in self.samples]
        return min(times), max(times)

    @property
    def peak_bytes(self) -> int:
        return max(s.peak_bytes for s in self.samples)


@dataclass
class Comparison:
    """A benchmark's two sides, its target ratio and anything worth printing beside it."""

    name: str
    ours: Side
    baseline: Side
    target: float | None
    note: str = ""
    # in-process comparisons share one heap, so their memory growth says nothing
    memory: bool = True

    @property
    def ratio(self) -> float:
        return self.ours.median / self.baseline.median


def peak_rss_bytes() -> int:
    """The process's peak resident set so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def time_in_subprocess(case: str, params: dict) -> Sample:
    """Run ``bench.cases.<case>`` once in a fresh interpreter and return its sample."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.cases", case, json.dumps(params)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark case {case} failed:\n{completed.stderr[-3000:]}")
    last_line = completed.stdout.strip().splitlines()[-1]
    data = json.loads(last_line)
    return Sample(seconds=data["seconds"], peak_bytes=data["peak_bytes"])


def compare_in_subprocesses(
    name: str,
    ours_case: str,
    baseline_case: str,
    params: dict,
    *,
    repeat: int,
    target: float | None,
    note: str = "",
) -> Comparison:
    """Alternate baseline and ours, ``repeat`` runs each, every run in a fresh interpreter."""
    ours, baseline = Side("ours"), Side("baseline")
    for _ in range(repeat):
        baseline.samples.append(time_in_subprocess(baseline_case, params))
        ours.samples.append(time_in_subprocess(ours_case, params))
    return Comparison(name, ours, baseline, target, note)


def time_call(operation: Callable[[], object]) -> Sample:
    """Time one call in this process; memory growth is measured against the current RSS."""
    rss_before = current_rss_bytes()
    started = time.perf_counter()
    operation()
    seconds = time.perf_counter() - started
    return Sample(seconds=seconds, peak_bytes=max(0, peak_rss_bytes() - rss_before))


def format_bytes(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def format_table(comparisons: list[Comparison]) -> str:
    """A Markdown table: one row per benchmark, ratio first because it is what the targets judge."""
    header = (
        "| benchmark | ratio | target | ours median (min-max) s | baseline median (min-max) s "
        "| ours peak mem | baseline peak mem | note |"
    )
    lines = [header, "|" + "---|" * 8]
    for c in comparisons:
        o_lo, o_hi = c.ours.spread
        b_lo, b_hi = c.baseline.spread
        verdict = ""
        if c.target is not None:
            verdict = f"<= {c.target:.2f} " + ("met" if c.ratio <= c.target else "MISSED")
        lines.append(
            f"| {c.name} | {c.ratio:.2f}x | {verdict} "
            f"| {c.ours.median:.4f} ({o_lo:.4f}-{o_hi:.4f}) "
            f"| {c.baseline.median:.4f} ({b_lo:.4f}-{b_hi:.4f}) "
            f"| {format_bytes(c.ours.peak_bytes) if c.memory else '-'} "
            f"| {format_bytes(c.baseline.peak_bytes) if c.memory else '-'} "
            f"| {c.note} |"
        )
    return "\n".join(lines)
