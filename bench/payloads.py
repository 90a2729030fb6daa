"""Deterministic response bodies for the decoding and download benchmarks.

The rows look like a real JSON_POWER_BI answer to
``select count(*), avg(length) as avg_length from foreverMusic group by artist, country
for every day``: two string groups, the two bucket bounds in epoch milliseconds and two
measures. Bodies are generated once per size and kept in a cache folder, since making a
140 MB body takes longer than decoding it.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

PAYLOAD_BQL = (
    "select count(*), avg(length) as avg_length from foreverMusic "
    "group by artist, country for every day"
)
COLUMNS = ["artist", "country", "start_time_0", "end_time_0", "count of events", "avg_length"]
DAY_MS = 86_400_000
FIRST_BUCKET_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def cache_dir() -> Path:
    path = Path(
        os.environ.get("SCUBA_MAGIC_BENCH_CACHE", Path(tempfile.gettempdir()) / "scuba-magic-bench")
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def _columns(rows: int, seed: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    artists = np.array([f"Artist {i:05d} ✓" for i in range(5_000)], dtype=object)
    countries = np.array(
        ["US", "GB", "DE", "FR", "BR", "IN", "JP", "Côte d'Ivoire", None], dtype=object
    )
    days = rng.integers(0, 90, rows)
    start = FIRST_BUCKET_MS + days * DAY_MS
    return {
        "artist": artists[rng.zipf(1.3, rows) % len(artists)],
        "country": countries[rng.integers(0, len(countries), rows)],
        "start_time_0": start,
        "end_time_0": start + DAY_MS,
        "count of events": rng.integers(1, 1_000_000, rows).astype(float),
        "avg_length": np.round(rng.gamma(4.0, 60.0, rows), 3),
    }


def json_body(rows: int, seed: int = 7) -> Path:
    """Path of a JSON_POWER_BI body with ``rows`` rows (generated on first use)."""
    path = cache_dir() / f"power_bi_{rows}_{seed}.json"
    if not path.exists():
        import orjson

        cols = _columns(rows, seed)
        records = [
            dict(zip(COLUMNS, values, strict=True))
            for values in zip(*(cols[name].tolist() for name in COLUMNS), strict=True)
        ]
        _write_atomically(path, orjson.dumps(records))
    return path


def csv_body(rows: int, seed: int = 7) -> Path:
    """Path of the CSV body holding the same rows as :func:`json_body`."""
    path = cache_dir() / f"power_bi_{rows}_{seed}.csv"
    if not path.exists():
        cols = _columns(rows, seed)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(
            ["" if v is None else v for v in values]
            for values in zip(*(cols[name].tolist() for name in COLUMNS), strict=True)
        )
        _write_atomically(path, text.getvalue().encode("utf-8"))
    return path


def blob(megabytes: int) -> Path:
    """Path of an opaque body of ``megabytes`` MiB for the raw transfer benchmark."""
    path = cache_dir() / f"blob_{megabytes}.bin"
    if not path.exists():
        chunk = bytes(range(256)) * 4096  # 1 MiB
        _write_atomically(path, chunk * megabytes)
    return path


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
