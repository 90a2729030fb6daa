"""Rendering an executed query as JSON_POWER_BI, CSV and DEFAULT bodies."""

from __future__ import annotations

import csv
import io
import json

from scuba_magic.emulator.engine import QueryResult
from scuba_magic.emulator.formats import render, to_csv, to_default, to_power_bi

RESULT = QueryResult(
    columns=["country", "start_time_0", "end_time_0", "plays", "avg length", "active"],
    types=["VARCHAR", "BIGINT", "BIGINT", "BIGINT", "DOUBLE", "BOOLEAN"],
    rows=[
        ("DE", 0, 86_400_000, 3, 1.5, True),
        (None, 0, 86_400_000, 0, None, False),
        ('Korea, "South"', 0, 86_400_000, 1, 0.1, None),
    ],
    groups=["country"],
    measures=["plays", "avg length", "active"],
    timezone="UTC",
    elapsed_s=0.0,
)


def test_power_bi_is_one_object_per_row_keyed_by_column():
    body, media_type = render(RESULT, "JSON_POWER_BI")

    assert media_type == "application/json"
    assert json.loads(body) == to_power_bi(RESULT)
    assert to_power_bi(RESULT)[1] == {
        "country": None,
        "start_time_0": 0,
        "end_time_0": 86_400_000,
        "plays": 0,
        "avg length": None,
        "active": False,
    }


def test_csv_is_rfc_4180_with_empty_fields_for_null():
    body, media_type = render(RESULT, "CSV")

    assert media_type == "text/csv; charset=utf-8"
    text = body.decode("utf-8")
    assert text.split("\r\n")[:3] == [
        "country,start_time_0,end_time_0,plays,avg length,active",
        "DE,0,86400000,3,1.5,true",
        ",0,86400000,0,,false",
    ]
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[3] == ['Korea, "South"', "0", "86400000", "1", "0.1", ""]


def test_csv_of_no_rows_is_the_header_only():
    empty = QueryResult(
        ["start_time_0", "end_time_0", "n"], ["BIGINT"] * 3, [], [], ["n"], "UTC", 0.0
    )

    assert to_csv(empty) == b"start_time_0,end_time_0,n\r\n"


def test_default_names_a_simple_type_per_column():
    body, _ = render(RESULT, "DEFAULT")

    assert json.loads(body) == to_default(RESULT)
    assert [c["type"] for c in to_default(RESULT)["columns"]] == [
        "string",
        "epoch_ms",
        "epoch_ms",
        "integer",
        "number",
        "boolean",
    ]
    assert to_default(RESULT)["rows"][0] == ["DE", 0, 86_400_000, 3, 1.5, True]


def test_non_ascii_text_is_utf8():
    result = QueryResult(
        ["artist", "start_time_0", "end_time_0", "n"],
        ["VARCHAR"] + ["BIGINT"] * 3,
        [("Sigur Rós", 0, 1, 2)],
        ["artist"],
        ["n"],
        "UTC",
        0.0,
    )

    assert "Sigur Rós".encode() in render(result, "CSV")[0]
    assert json.loads(render(result, "JSON_POWER_BI")[0])[0]["artist"] == "Sigur Rós"


def test_csv_tells_the_empty_string_from_null():
    result = QueryResult(
        ["page", "start_time_0", "end_time_0", "n"],
        ["VARCHAR"] + ["BIGINT"] * 3,
        [("", 0, 1, 2), (None, 0, 1, 3), ('"', 0, 1, 4), ("a\r\nb", 0, 1, 5)],
        ["page"],
        ["n"],
        "UTC",
        0.0,
    )

    lines = to_csv(result).decode("utf-8").split("\r\n")
    assert lines[1:4] == ['"",0,1,2', ",0,1,3", '"""",0,1,4']
    rows = list(csv.reader(io.StringIO(to_csv(result).decode("utf-8"), newline="")))
    assert [row[0] for row in rows[1:]] == ["", "", '"', "a\r\nb"]


def test_csv_and_json_bodies_decode_to_the_same_frame():
    import pandas as pd

    from scuba_magic.frames import from_csv, from_power_bi

    result = QueryResult(
        ["page", "start_time_0", "end_time_0", 'count(* where page = "x,y")'],
        ["VARCHAR"] + ["BIGINT"] * 3,
        [("", 0, 1, 2), (None, 0, 1, 3), ('say "hi", then\nbye', 0, 1, 4), ("10", 0, 1, 5)],
        ["page"],
        ['count(* where page = "x,y")'],
        "UTC",
        0.0,
    )

    from_json = from_power_bi(render(result, "JSON_POWER_BI")[0])
    from_text = from_csv(render(result, "CSV")[0])
    pd.testing.assert_frame_equal(from_text, from_json)
    assert from_text["page"].iloc[0] == ""
    assert from_text["page"].isna().tolist() == [False, True, False, False]
