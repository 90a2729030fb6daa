"""Response bodies of the Scuba query API -> pandas DataFrames (provenance in ``df.attrs``).

JSON_POWER_BI and CSV bodies holding the same rows give the same DataFrame:

- group columns first, as pandas ``string`` dtype (pyarrow storage); a missing value is
  ``pd.NA``;
- then ``start_time_N`` / ``end_time_N`` (any ``N``, ordered by ``N``), converted from epoch
  milliseconds to timezone-aware datetimes (``datetime64[ms, UTC]``, or the query's
  ``timezone``);
- then the measures. With a shape, its counts (``count_measures``: ``count(*)``,
  ``count(* where ...)``, ``count(* on Actor<a>)``, ``count_unique(x)``, and any measure
  labelled ``count of events``) become ``int64`` (``Int64`` when values are missing), even when
  they arrive as ``31128.0``; every other measure is ``float64``, so an average that happens to be
  whole in every row keeps the dtype it has on other runs. Without a shape, and for keys the
  shape does not name, the values decide: a measure whose values are all whole numbers becomes
  ``int64`` (``Int64`` with missing values), any other ``float64``, because such an answer
  carries no types: counts may arrive as ``31128.0`` and an aliased count's label does not say
  it is one. So there an average that is whole in every row is an integer too;
- keys the query's shape does not name are kept, after these, typed by their values.

An empty result (``[]``, an empty body, a CSV header alone) is an empty DataFrame with the
columns the shape names (groups, ``start_time_0``, ``end_time_0``, measures), typed as above.

Without a shape (a query response id), JSON columns are recognised by their values: strings
are groups, numbers are measures, and ``measure N`` / ``count of events`` / ``count(...)`` labels
are measures even when empty. A CSV body has no types, so there the column order tells: see the
CSV contract below.

CSV contract (the API leaves CSV undocumented; the emulator writes exactly this): RFC 4180 with a
header row naming groups, then ``start_time_N`` / ``end_time_N``, then measures, in that order.
Without a shape, the columns before the first time column are groups and read as text (a group
of ``"001"`` or ``"10"`` stays text, as JSON has it), except a ``measure N`` / ``count of
events`` / ``count(...)`` label; the columns after it are recognised by their values as in JSON.
A body without time columns is recognised by its values throughout. An *unquoted* empty field is
a missing value, a quoted empty field ``""`` is the empty string. Nothing else (``NA``,
``null``, ``NaN``) is read as missing, and group values are never converted.

Decoding is built for large bodies: a compact JSON array is read by pyarrow's multithreaded JSON
reader after turning the row separators ``},{`` into new lines, block by block (a ``},{``
inside a string would get a raw line break, which is invalid JSON, so such bodies fail that
reader and take the exact ``orjson`` path instead, as do bodies with other spacing); CSV is read
by ``pyarrow.csv``. Columns then go to pandas without a Python object per value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from scuba_magic.errors import ResponseError
from scuba_magic.protocol import RESULT_FORMATS

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["RESULT_FORMATS", "from_csv", "from_power_bi", "is_time_column", "to_dataframe"]

_TIME_COLUMN = re.compile(r"(start|end)_time_([0-9]+)\Z")
# Labels that name a measure even when no value shows it: the UI's "measure 1", "measure 2"...,
# the label of an unaliased count(*), and unaliased counts labelled by their BQL text.
_MEASURE_LABEL = re.compile(r"measure [0-9]+\Z|count of events\Z|count(_unique)?\s*\(")
_COUNT_LABEL = re.compile(r"count of events\Z|count(_unique)?\s*\(")
_COUNT_OF_EVENTS = "count of events"
_WHITESPACE = b" \t\r\n"
# Shown in errors: enough of a body to recognise it, short enough for one line.
_EXCERPT_CHARS = 120
# Rows of a body are split into blocks this large for the threaded JSON reader; a row longer
# than a block makes that reader fail, and the exact path takes over.
_JSON_BLOCK_BYTES = 4 << 20
# Values looked at first to tell a float measure from a whole-number one.
_SAMPLE = 1024


class QueryShape(Protocol):
    """What a BQL query's result looks like (``scuba_magic.bql.describe`` makes one)."""

    measures: Sequence[str]
    groups: Sequence[str]
    timezone: str | None
    has_time_series: bool
    # read with getattr: a shape without it names no counts but "count of events"
    count_measures: Sequence[str]


def is_time_column(name: str) -> bool:
    """True for ``start_time_N`` / ``end_time_N`` column names."""
    return _TIME_COLUMN.match(name) is not None


def to_dataframe(
    body: bytes,
    result_format: str,
    *,
    shape: QueryShape | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Any:
    """Decode a ``/v1/query`` data answer in the given ``result_format``.

    Args:
        body: the response body.
        result_format: ``JSON_POWER_BI``, ``CSV`` or ``DEFAULT`` (any case).
        shape: the query's shape (measures, groups, timezone), or None when unknown.
        provenance: where the data came from (host, bql or rid, elapsed_s, fetched_at...);
            stored in ``df.attrs["scuba"]``.

    Returns:
        A DataFrame for ``JSON_POWER_BI`` and ``CSV``; the parsed JSON for ``DEFAULT``.

    Raises:
        ResponseError: the body is not valid in that format.
        ValueError: ``result_format`` is not one of :data:`RESULT_FORMATS`.
    """
    fmt = result_format.upper()
    if fmt == "JSON_POWER_BI":
        return from_power_bi(body, shape=shape, provenance=provenance)
    if fmt == "CSV":
        return from_csv(body, shape=shape, provenance=provenance)
    if fmt == "DEFAULT":
        return _loads(body, "DEFAULT")
    raise ValueError(
        f"Unknown result_format {result_format!r}; use one of {', '.join(RESULT_FORMATS)}."
    )


def from_power_bi(
    body: bytes,
    *,
    shape: QueryShape | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Decode a JSON_POWER_BI body (a JSON array of flat objects) into a DataFrame.

    Args:
        body: the response body; empty, ``[]`` or whitespace give an empty DataFrame.
        shape: the query's shape, or None (columns are then recognised by their values).
        provenance: stored in ``df.attrs["scuba"]`` together with the decoded columns.

    Returns:
        The DataFrame described in the module docstring.

    Raises:
        ResponseError: the body is not a JSON array of objects.
    """
    body = _as_bytes(body)
    return _build_frame(_read_power_bi(body, shape), shape, provenance, "JSON_POWER_BI")


def from_csv(
    body: bytes,
    *,
    shape: QueryShape | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Decode a CSV body (header row, RFC 4180) into a DataFrame.

    Args:
        body: the response body; empty, or a header without records, gives an empty DataFrame.
        shape: the query's shape, or None (columns are then recognised by their values).
        provenance: stored in ``df.attrs["scuba"]`` together with the decoded columns.

    Returns:
        The DataFrame described in the module docstring (the same as for JSON_POWER_BI).

    Raises:
        ResponseError: the body is not CSV of that kind.
    """
    body = _as_bytes(body)
    return _build_frame(_read_csv(body, shape), shape, provenance, "CSV")


# reading bodies into Arrow tables


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    raise TypeError(f"body must be bytes, not {type(body).__name__}")


def _excerpt(body: bytes) -> str:
    text = body[: _EXCERPT_CHARS * 4].decode("utf-8", "replace")
    text = " ".join(text.split())
    if len(text) > _EXCERPT_CHARS:
        text = text[: _EXCERPT_CHARS - 1] + "…"
    return repr(text) if text else "an empty body"


def _loads(body: bytes, what: str) -> Any:
    import orjson

    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ResponseError(
            f"The {what} answer is not valid JSON ({exc}); it starts with {_excerpt(body)}. "
            "Check that the host is the Scuba API and not a proxy or login page in front of "
            "it, or ask for another result_format."
        ) from None


def _content_span(body: bytes, start: int = 0, end: int | None = None) -> tuple[int, int]:
    """``body[start:end]`` without surrounding whitespace, as indexes (no copy of the body)."""
    end = len(body) if end is None else end
    while start < end and body[start] in _WHITESPACE:
        start += 1
    while end > start and body[end - 1] in _WHITESPACE:
        end -= 1
    return start, end


def _read_power_bi(body: bytes, shape: QueryShape | None) -> pa.Table:
    import pyarrow as pa

    start, end = _content_span(body)
    if start == end:
        return pa.table({})
    if body[start] == ord("[") and body[end - 1] == ord("]"):
        inner_start, inner_end = _content_span(body, start + 1, end - 1)
        if inner_start == inner_end:
            return pa.table({})
        table = _read_power_bi_fast(body, start + 1, end - 1, shape)
        if table is not None:
            return table
    return _read_power_bi_exact(body, shape)


def _read_power_bi_fast(body: bytes, start: int, end: int, shape: QueryShape | None) -> Any:
    """Arrow's JSON reader on the rows as JSON lines, or None when that reader cannot take them."""
    import pyarrow as pa

    # Naming the text columns spares the reader its type inference there (a third of its time);
    # only columns of the first row, as a named column would appear even if absent.
    first = _first_row(body, start, end)
    groups = set(shape.groups) if shape else set()
    forced = {
        name: pa.string()
        for name, value in first.items()
        if isinstance(value, str) or name in groups
    }
    try:
        rows = _RowLines(body, start, end)
        table = _arrow_json(rows, forced)
        # The reader would turn date-time looking strings into timestamps and lose their text.
        stamped = {
            field.name: pa.string()
            for field in table.schema
            if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type)
        }
        if stamped:
            rows = _RowLines(body, start, end)
            table = _arrow_json(rows, {**forced, **stamped})
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    # One row per line, or the body was not what the separators suggested (a missing comma).
    if table.num_rows != rows.lines:
        return None
    # the named columns come first in Arrow's table: restore the order of the body
    order = [name for name in first if name in table.column_names]
    order += [name for name in table.column_names if name not in first]
    return table.select(order)


def _first_row(body: bytes, start: int, end: int) -> dict[str, Any]:
    """The first row of a compact JSON array, or {} when it cannot be cut out cheaply."""
    import orjson

    cut = body.find(b"},{", start, end)
    try:
        row = orjson.loads(body[start : end if cut < 0 else cut + 1])
    except orjson.JSONDecodeError:
        return {}
    return row if isinstance(row, dict) else {}


class _RowLines:
    """The rows of a compact JSON array as JSON lines, made block by block for Arrow to read.

    Each ``},{`` becomes ``}\n{``: every comma between a ``}`` and a ``{`` turns into a line
    break. The neighbours of a block's first and last byte are looked at too, so a separator
    cut by a block edge is found; no second copy of a large body is held whole.
    """

    closed = False

    def __init__(self, body: bytes, start: int, end: int) -> None:
        self._body = body
        self._view = memoryview(body)
        self._pos = start
        self._end = end
        self.lines = 1

    def read(self, size: int = -1) -> bytearray:
        import numpy as np

        if size is None or size < 0:
            size = self._end - self._pos
        size = min(size, self._end - self._pos)
        if size <= 0:
            return bytearray()
        low = max(self._pos - 1, 0)
        high = min(self._pos + size + 1, len(self._body))
        window = np.frombuffer(self._body, dtype=np.uint8, count=high - low, offset=low)
        # vectorised: a few passes over the block instead of bytes.replace's per-match work
        closing = np.flatnonzero(window[:-2] == ord("}"))
        closing = closing[(window[closing + 1] == ord(",")) & (window[closing + 2] == ord("{"))]
        commas = closing + 1 - (self._pos - low)
        commas = commas[(commas >= 0) & (commas < size)]
        block = bytearray(self._view[self._pos : self._pos + size])
        np.frombuffer(block, dtype=np.uint8)[commas] = ord("\n")
        self.lines += len(commas)
        self._pos += size
        return block

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


def _arrow_json(rows: _RowLines, schema: Mapping[str, Any]) -> pa.Table:
    import pyarrow as pa
    import pyarrow.json as pj

    parse = pj.ParseOptions(
        explicit_schema=pa.schema(list(schema.items())) if schema else None,
        unexpected_field_behavior="infer",
        newlines_in_values=False,
    )
    read = pj.ReadOptions(use_threads=True, block_size=_JSON_BLOCK_BYTES)
    return pj.read_json(pa.PythonFile(rows, mode="r"), read_options=read, parse_options=parse)


def _read_power_bi_exact(body: bytes, shape: QueryShape | None) -> pa.Table:
    """The reference decoder: orjson, then one Arrow array per key."""
    import pyarrow as pa

    rows = _loads(body, "JSON_POWER_BI")
    if isinstance(rows, dict) and not rows:
        rows = []
    if not isinstance(rows, list):
        keys = ""
        if isinstance(rows, dict):
            keys = f" with keys {', '.join(map(repr, list(rows)[:5]))}"
        raise ResponseError(
            f"The JSON_POWER_BI answer is a JSON {_json_kind(rows)}{keys}, not an array of "
            f"rows; it starts with {_excerpt(body)}. Check the host, or ask for "
            "result_format='DEFAULT' to see the raw answer."
        )
    if not all(isinstance(row, dict) for row in rows):
        bad = next(row for row in rows if not isinstance(row, dict))
        raise ResponseError(
            f"The JSON_POWER_BI answer holds a {_json_kind(bad)} where a row object was "
            f"expected; it starts with {_excerpt(body)}. Ask for result_format='DEFAULT' to "
            "see the raw answer."
        )
    groups = set(shape.groups) if shape else set()
    names = list(dict.fromkeys(key for row in rows for key in row))
    columns = []
    for name in names:
        values = [row.get(name) for row in rows]
        columns.append(_arrow_from_values(values, as_text=name in groups))
    return pa.table(columns, names=names) if names else pa.table({})


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), type(value).__name__)


def _arrow_from_values(values: list[Any], *, as_text: bool) -> pa.Array:
    import pyarrow as pa

    try:
        return pa.array(values, type=pa.string() if as_text else None)
    except OverflowError:
        # integers beyond int64: Arrow's JSON reader reads them as doubles too
        try:
            return pa.array(values, type=pa.float64())
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            pass
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    # mixed kinds, or numbers where text is wanted: each value as its JSON text
    return pa.array([_json_text(value) for value in values], type=pa.string())


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    import orjson

    return orjson.dumps(value).decode("utf-8")


def _read_csv(body: bytes, shape: QueryShape | None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    start, end = _content_span(body)
    if start == end:
        return pa.table({})
    text_columns = shape.groups if shape else _csv_leading_groups(body, start, end)
    convert = pcsv.ConvertOptions(
        column_types={name: pa.string() for name in text_columns},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        true_values=[],
        false_values=[],
        timestamp_parsers=[],
    )
    # Quoted values may hold line breaks; without any quote the faster splitter is exact.
    parse = pcsv.ParseOptions(newlines_in_values=b'"' in body)
    try:
        return pcsv.read_csv(pa.BufferReader(body), parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ResponseError(
            f"The CSV answer could not be read ({message}); it starts with {_excerpt(body)}. "
            "Check the host, or ask for result_format='JSON_POWER_BI'."
        ) from None


def _csv_leading_groups(body: bytes, start: int, end: int) -> list[str]:
    """The header's names before its first time column, but measure labels (the CSV contract)."""
    import csv

    # the header ends at the first line break outside quotes (a name may hold one)
    cut = body.find(b"\n", start, end)
    while cut >= 0 and body.count(b'"', start, cut) % 2:
        cut = body.find(b"\n", cut + 1, end)
    header = body[start : end if cut < 0 else cut].decode("utf-8", "replace").rstrip("\r")
    names = next(csv.reader([header]), [])
    first_time = next((i for i, name in enumerate(names) if is_time_column(name)), 0)
    return [name for name in names[:first_time] if not _MEASURE_LABEL.match(name)]


# Arrow table -> DataFrame


def _build_frame(
    table: pa.Table,
    shape: QueryShape | None,
    provenance: Mapping[str, Any] | None,
    result_format: str,
) -> pd.DataFrame:
    import pandas as pd

    present = dict(zip(table.column_names, table.columns, strict=True))
    empty = table.num_rows == 0
    times = sorted((name for name in present if is_time_column(name)), key=_time_order)
    if shape is not None:
        groups = list(dict.fromkeys(shape.groups))
        measures = [m for m in dict.fromkeys(shape.measures) if m not in groups]
        if empty:
            times = sorted(set(times) | {"start_time_0", "end_time_0"}, key=_time_order)
        else:
            groups = [name for name in groups if name in present]
            measures = [name for name in measures if name in present]
        known = set(groups) | set(measures) | set(times)
        unknown = [name for name in present if name not in known]
    else:
        groups, measures = [], []
        unknown = [name for name in present if name not in times]
    # keys the shape does not name: without a shape that is every column but the times
    extra_groups, extra_measures, others = [], [], []
    for name in unknown:
        kind = _kind_of(name, present[name].type)
        {"group": extra_groups, "measure": extra_measures, "other": others}[kind].append(name)
    if shape is None:
        groups, measures, extra_groups, extra_measures = extra_groups, extra_measures, [], []

    columns: dict[str, Any] = {}
    for name in groups:
        columns[name] = _group_series(present.get(name), table.num_rows)
    tz = shape.timezone if shape is not None else None
    for name in times:
        columns[name] = _time_series(name, present.get(name), table.num_rows, tz)
    # a shape says which measures are counts; without one, the values decide
    counts = None if shape is None else {*getattr(shape, "count_measures", ()), _COUNT_OF_EVENTS}
    for name in measures:
        rule = "values" if counts is None else "count" if name in counts else "float"
        columns[name] = _measure_series(name, present.get(name), table.num_rows, rule=rule)
    for name in extra_groups:
        columns[name] = _group_series(present[name], table.num_rows)
    for name in extra_measures:
        columns[name] = _measure_series(name, present[name], table.num_rows, rule="values")
    for name in others:
        columns[name] = _other_series(name, present[name])
    frame = pd.DataFrame(columns, copy=False) if columns else pd.DataFrame()
    if not columns:
        frame.index = pd.RangeIndex(table.num_rows)
    frame.attrs["scuba"] = _provenance(
        provenance, result_format, groups, measures, tz, table.num_rows
    )
    return frame


def _time_order(name: str) -> tuple[int, int]:
    match = _TIME_COLUMN.match(name)
    assert match is not None
    return int(match.group(2)), 0 if match.group(1) == "start" else 1


def _kind_of(name: str, arrow_type: Any) -> str:
    import pyarrow as pa

    if _MEASURE_LABEL.match(name):
        if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
            return "other"
        return "measure"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "measure"
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_null(arrow_type)
    ):
        return "group"
    return "other"


def _group_series(column: Any, rows: int) -> pd.Series:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if column is None:
        column = pa.nulls(rows, pa.string())
    elif not pa.types.is_string(column.type):
        if pa.types.is_large_string(column.type) or pa.types.is_null(column.type):
            column = column.cast(pa.string())
        else:
            column = pc.cast(column, pa.string())
    return pd.Series(pd.arrays.ArrowStringArray(column), copy=False)


def _time_series(name: str, column: Any, rows: int, tz: str | None) -> pd.Series:
    import pandas as pd
    import pyarrow as pa

    if column is None:
        column = pa.nulls(rows, pa.int64())
    try:
        millis = column.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise ResponseError(
            f"Column {name!r} should hold epoch milliseconds but holds {column.type} values "
            f"({str(exc).splitlines()[0]}). Ask for result_format='DEFAULT' to see the raw answer."
        ) from None
    stamps = millis.cast(pa.timestamp("ms", tz="UTC")).to_pandas()
    series = pd.Series(stamps, copy=False)
    if tz and tz.upper() != "UTC":
        try:
            series = series.dt.tz_convert(tz)
        except Exception as exc:  # the tz database raises several unrelated types
            raise ResponseError(
                f"Cannot show {name!r} in time zone {tz!r} ({exc}); use a tz database name such "
                "as US/Pacific."
            ) from None
    return series


def _measure_series(name: str, column: Any, rows: int, *, rule: str) -> pd.Series:
    """A measure column, typed by ``rule``.

    ``"float"``: always ``float64``. ``"count"``: integers (``float64`` only if a value is not
    whole, which a count's never is). ``"values"``: integers when every value is whole, else
    ``float64``; a column with no values at all is an integer one when its label is a count's.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if column is None or pa.types.is_null(column.type):
        if rule == "count" or (rule == "values" and _COUNT_LABEL.match(name)):
            if rows == 0:
                return pd.Series(np.zeros(0, dtype=np.int64), copy=False)
            return pd.Series(pd.array([pd.NA] * rows, dtype="Int64"), copy=False)
        return pd.Series(np.full(rows, np.nan), copy=False)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        try:
            column = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _other_series(name, column)
    if pa.types.is_boolean(column.type) or not (
        pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
    ):
        return _other_series(name, column)
    if rule == "float":
        values = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        return pd.Series(values.astype(np.float64, copy=False), copy=False)
    if pa.types.is_signed_integer(column.type):
        whole = column.cast(pa.int64()).fill_null(0).to_numpy()
        if column.null_count:
            missing = column.is_null().to_numpy()
            return pd.Series(pd.arrays.IntegerArray(whole, missing), copy=False)
        return pd.Series(whole, copy=False)
    values = column.to_numpy().astype(np.float64, copy=False)
    head = values[:_SAMPLE]
    head = head[~np.isnan(head)]
    if not np.array_equal(np.trunc(head), head):
        return pd.Series(values, copy=False)  # the common float measure: decided at once
    # whole numbers within int64 survive the round trip through int64; NaN and others do not
    with np.errstate(invalid="ignore"):
        whole = values.astype(np.int64)
    matches = whole.astype(np.float64) == values
    if matches.all():
        return pd.Series(whole, copy=False)
    missing = np.isnan(values)
    if missing.all() or not (matches | missing).all():
        return pd.Series(values, copy=False)
    whole[missing] = 0
    return pd.Series(pd.arrays.IntegerArray(whole, missing), copy=False)


def _other_series(name: str, column: Any) -> pd.Series:
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return _group_series(column, len(column))
    return pd.Series(column.to_pandas(), copy=False)


def _provenance(
    provenance: Mapping[str, Any] | None,
    result_format: str,
    groups: list[str],
    measures: list[str],
    tz: str | None,
    rows: int,
) -> dict[str, Any]:
    info: dict[str, Any] = {
        key: value
        for key, value in (provenance or {}).items()
        # the provenance travels with the DataFrame (pickles, notebooks): never credentials
        if key.lower() not in ("token", "authorization", "headers")
    }
    info.setdefault("result_format", result_format)
    info["measures"] = list(measures)
    info["groups"] = list(groups)
    info["timezone"] = tz or "UTC"
    info["rows"] = rows
    return info
