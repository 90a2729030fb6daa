"""Render an executed query as the body of a ``/v1/query`` answer, per ``result_format``.

- ``JSON_POWER_BI``: a flat JSON array, one object per group per time bucket, keyed by group
  names, ``start_time_0``/``end_time_0`` (epoch milliseconds, UTC) and measure labels; a missing
  group value is ``null``.
- ``CSV``: a header with the same names in the same order (groups, then ``start_time_0`` /
  ``end_time_0``, then measures: the reader of a CSV body relies on it to tell groups from
  measures), then one record per row; RFC 4180 quoting, CRLF line ends, UTF-8. A missing value
  is an empty unquoted field and the empty string a quoted one (``""``), so the two stay apart.
- ``DEFAULT``: ``{"columns": [{"name": ..., "type": ...}, ...], "rows": [[...], ...]}`` where
  ``type`` is one of ``string``, ``integer``, ``number``, ``boolean``, ``epoch_ms``.
"""

from __future__ import annotations

from typing import Any

from scuba_magic.emulator.engine import QueryResult

_TIME_COLUMNS = ("start_time_0", "end_time_0")
# characters that make RFC 4180 quote a field
_CSV_SPECIAL = frozenset(',"\r\n')


def render(result: QueryResult, result_format: str) -> tuple[bytes, str]:
    """Encode ``result`` in ``result_format`` (one of ``scuba_magic.protocol.RESULT_FORMATS``).

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
    """RFC 4180 CSV with a header row; NULL as an empty field, the empty string as ``""``."""
    # Written by hand: csv.writer writes None and "" alike (QUOTE_NOTNULL needs Python 3.12),
    # and this per-field function joined by str.join is as fast as csv.writer on large answers.
    lines = [",".join(map(_csv_field, result.columns))]
    lines.extend(",".join(map(_csv_field, row)) for row in result.rows)
    lines.append("")
    return "\r\n".join(lines).encode("utf-8")


def _csv_field(value: Any) -> str:
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        if value == "" or not _CSV_SPECIAL.isdisjoint(value):
            return '"' + value.replace('"', '""') + '"'
        return value
    if kind is float:
        return repr(value)
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, str):
        return _csv_field(str(value))
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
