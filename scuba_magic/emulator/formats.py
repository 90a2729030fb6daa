"""Render an executed query as the body of a ``/v1/query`` answer, per ``result_format``.

- ``JSON_POWER_BI``: a flat JSON array, one object per group per time bucket, keyed by group
  names, ``start_time_0``/``end_time_0`` (epoch milliseconds, UTC) and measure labels; a missing
  group value is ``null``.
- ``CSV``: a header with the same names in the same order (groups, times, measures), then one
  record per row; RFC 4180 quoting, CRLF line ends, UTF-8, an empty field for a missing value.
- ``DEFAULT``: ``{"columns": [{"name": ..., "type": ...}, ...], "rows": [[...], ...]}`` where
  ``type`` is one of ``string``, ``integer``, ``number``, ``boolean``, ``epoch_ms``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from scuba_magic.emulator.engine import QueryResult

RESULT_FORMATS = ("JSON_POWER_BI", "DEFAULT", "CSV")
_TIME_COLUMNS = ("start_time_0", "end_time_0")


def render(result: QueryResult, result_format: str) -> tuple[bytes, str]:
    """Encode ``result`` in ``result_format`` (one of :data:`RESULT_FORMATS`).

    Returns:
        The body and its media type.
    """
    if result_format == "CSV":
        return to_csv(result), "text/csv; charset=utf-8"
    if result_format == "DEFAULT":
        return _dumps(to_default(result)), "application/json"
    return _dumps(to_power_bi(result)), "application/json"


def to_power_bi(result: QueryResult) -> list[dict[str, Any]]:
    """One dict per row, keyed by column name."""
    names = result.columns
    return [dict(zip(names, row, strict=True)) for row in result.rows]


def to_default(result: QueryResult) -> dict[str, Any]:
    """The DEFAULT shape: typed column list plus rows as lists."""
    columns = [
        {"name": name, "type": _logical_type(name, duckdb_type)}
        for name, duckdb_type in zip(result.columns, result.types, strict=True)
    ]
    return {"columns": columns, "rows": [list(row) for row in result.rows]}


def to_csv(result: QueryResult) -> bytes:
    """RFC 4180 CSV with a header row; NULL as an empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow(["" if value is None else _csv_text(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def _csv_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _logical_type(name: str, duckdb_type: str) -> str:
    if name in _TIME_COLUMNS:
        return "epoch_ms"
    base = duckdb_type.upper().split("(")[0]
    if base in ("BOOLEAN", "BOOL"):
        return "boolean"
    if "INT" in base:
        return "integer"
    if base in ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC"):
        return "number"
    return "string"


def _dumps(data: Any) -> bytes:
    import orjson

    return orjson.dumps(data)
