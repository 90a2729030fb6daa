"""Loading users' Parquet, CSV and JSON-lines files as emulator tables."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scuba_magic.emulator.catalog import Catalog
from scuba_magic.emulator.datasets import DatasetError, load_table
from scuba_magic.emulator.engine import Engine

JAN1 = datetime(2021, 1, 1)
JAN1_EPOCH_S = 1609459200


@pytest.fixture
def con():
    # A non-UTC session zone proves times without an offset are still read as UTC.
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'America/New_York'")
    yield connection
    connection.close()


def times(con: duckdb.DuckDBPyConnection, table: str, column: str) -> list[datetime]:
    return [r[0] for r in con.execute(f'SELECT "{column}" FROM "{table}" ORDER BY 1').fetchall()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_parquet_with_naive_timestamps(con, tmp_path):
    path = tmp_path / "events.parquet"
    pq.write_table(
        pa.table({"ts": [JAN1, JAN1 + timedelta(hours=1)], "user": ["a", "b"], "n": [1, 2]}), path
    )
    table = load_table(con, "events", path, time_column="ts", actor_columns=["user"])
    assert table.name == table.sql_name == "events"
    assert table.time_column == "ts"
    assert table.actor_columns == ["user"]
    assert table.columns == {"ts": "TIMESTAMP", "user": "VARCHAR", "n": "BIGINT"}
    assert times(con, "events", "ts") == [JAN1, JAN1 + timedelta(hours=1)]


def test_parquet_with_zoned_timestamps_becomes_utc(con, tmp_path):
    path = tmp_path / "zoned.parquet"
    plus_one = timezone(timedelta(hours=1))
    column = pa.array([datetime(2021, 1, 1, tzinfo=plus_one)], pa.timestamp("us", tz="+01:00"))
    pq.write_table(pa.table({"t": column, "user": ["a"]}), path)
    table = load_table(con, "zoned", path, time_column="t", actor_columns=["user"])
    assert table.columns["t"] == "TIMESTAMP"
    assert times(con, "zoned", "t") == [datetime(2020, 12, 31, 23, 0)]


def test_csv_iso_strings_honour_offsets_and_default_to_utc(con, tmp_path):
    path = tmp_path / "iso.csv"
    path.write_text(
        "when,user\n2021-01-01T00:00:00+02:00,a\n2021-01-01T05:00:00Z,b\n2021-01-01 07:30:00,c\n"
    )
    table = load_table(con, "iso", path, time_column="when", actor_columns=["user"])
    assert table.columns["when"] == "TIMESTAMP"
    assert times(con, "iso", "when") == [
        datetime(2020, 12, 31, 22, 0),
        datetime(2021, 1, 1, 5, 0),
        datetime(2021, 1, 1, 7, 30),
    ]
    # The caller's session setting is left as it was.
    assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "America/New_York"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([JAN1_EPOCH_S, JAN1_EPOCH_S + 60], [JAN1, JAN1 + timedelta(minutes=1)]),
        ([JAN1_EPOCH_S + 0.5], [JAN1 + timedelta(milliseconds=500)]),
        ([JAN1_EPOCH_S * 1000, JAN1_EPOCH_S * 1000 + 1], [JAN1, JAN1 + timedelta(milliseconds=1)]),
        ([JAN1_EPOCH_S * 1_000_000 + 7], [JAN1 + timedelta(microseconds=7)]),
    ],
    ids=["seconds", "fractional-seconds", "milliseconds", "microseconds"],
)
def test_jsonl_epoch_numbers_by_magnitude(con, tmp_path, values, expected):
    path = write_jsonl(tmp_path / "epoch.jsonl", [{"t": v, "user": "u"} for v in values])
    table = load_table(con, "epoch", path, time_column="t", actor_columns=["user"])
    assert table.columns["t"] == "TIMESTAMP"
    assert times(con, "epoch", "t") == expected


def test_csv_epoch_seconds(con, tmp_path):
    path = tmp_path / "epoch.csv"
    path.write_text(f"t,user\n{JAN1_EPOCH_S},a\n{JAN1_EPOCH_S + 86400},b\n")
    load_table(con, "epoch_csv", path, time_column="t", actor_columns=["user"])
    assert times(con, "epoch_csv", "t") == [JAN1, JAN1 + timedelta(days=1)]


def test_json_array_and_gzipped_csv(con, tmp_path):
    array = tmp_path / "rows.json"
    array.write_text(json.dumps([{"t": "2021-01-01T00:00:00Z", "user": "a"}]))
    load_table(con, "from_json", array, time_column="t", actor_columns=["user"])
    assert times(con, "from_json", "t") == [JAN1]

    packed = tmp_path / "rows.csv.gz"
    packed.write_bytes(gzip.compress(b"t,user\n2021-01-01 00:00:00,a\n"))
    load_table(con, "from_gz", packed, time_column="t", actor_columns=["user"])
    assert times(con, "from_gz", "t") == [JAN1]


def test_loaded_table_answers_bql(con, tmp_path):
    path = write_jsonl(
        tmp_path / "sales.jsonl",
        [
            {"ts": (JAN1_EPOCH_S + i * 3600) * 1000, "customer": f"c{i % 3}", "hello.world": "x"}
            for i in range(12)
        ],
    )
    table = load_table(con, "sales", path, time_column="ts", actor_columns=["customer"])
    engine = Engine(con, Catalog([table]), now=datetime(2021, 2, 1))
    try:
        result = engine.run("select count_unique(customer) from sales")
        by_column = engine.run("select count(*) from sales group by `hello.world`")
    finally:
        engine.close()
    assert result.rows[0][-1] == 3
    assert [(row[0], row[-1]) for row in by_column.rows] == [("x", 12)]


def test_missing_file(con, tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_table(con, "t", tmp_path / "nope.parquet", time_column="time")


def test_unknown_format_lists_the_known_ones(con, tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("x")
    with pytest.raises(DatasetError, match=r"unknown data file format '\.xlsx'.*\.parquet"):
        load_table(con, "t", path, time_column="time")


def test_missing_time_column_names_the_columns_present(con, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"ts": 1, "user": "u", "page": "p"}])
    with pytest.raises(DatasetError, match=r"no time column 'time'.*ts, user, page"):
        load_table(con, "t", path, time_column="time", actor_columns=["user"])


def test_missing_actor_column_names_the_columns_present(con, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"ts": 1, "user": "u"}])
    with pytest.raises(DatasetError, match=r"no actor column 'customer'.*ts, user"):
        load_table(con, "t", path, time_column="ts", actor_columns=["customer"])


@pytest.mark.parametrize("name", ["", "1st", "my table", 'a"b', "sales;drop", "naïve"])
def test_bad_table_names(con, tmp_path, name):
    path = write_jsonl(tmp_path / "a.jsonl", [{"ts": 1}])
    with pytest.raises(DatasetError, match="bad table name"):
        load_table(con, name, path, time_column="ts")


def test_a_table_name_cannot_be_taken_twice(con, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"ts": JAN1_EPOCH_S}])
    load_table(con, "events", path, time_column="ts")
    with pytest.raises(DatasetError, match="already exists"):
        load_table(con, "events", path, time_column="ts")


def test_unparseable_time_strings_name_an_example_and_leave_no_table(con, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("t,user\n2021-01-01,a\nyesterday-ish,b\n")
    with pytest.raises(DatasetError, match="not times.*'yesterday-ish'"):
        load_table(con, "bad", path, time_column="t")
    tables = con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    assert ("bad",) not in tables


def test_time_column_of_the_wrong_type(con, tmp_path):
    path = write_jsonl(tmp_path / "flag.jsonl", [{"t": True}])
    with pytest.raises(DatasetError, match="type BOOLEAN"):
        load_table(con, "flag", path, time_column="t")


def test_epoch_numbers_too_large_for_any_unit(con, tmp_path):
    path = write_jsonl(tmp_path / "huge.jsonl", [{"t": 10**18}])
    with pytest.raises(DatasetError, match="too large"):
        load_table(con, "huge", path, time_column="t")


def test_unreadable_file(con, tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet")
    with pytest.raises(DatasetError, match="could not read"):
        load_table(con, "broken", path, time_column="t")


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)
