"""Decoding of JSON_POWER_BI, CSV and DEFAULT bodies into DataFrames (``scuba_magic.frames``)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scuba_magic import bql, frames
from scuba_magic.bql import QueryShape
from scuba_magic.errors import ResponseError

STRING = pd.StringDtype("pyarrow")

# scuba-api.md 2, the documented sample answer (key order as published)
DOCUMENTED_SAMPLE = b"""[
 {"count of events": 31128.0,  "end_time_0": 1616080024320, "start_time_0": 1184025600000, "gender": null},
 {"count of events": 391722.0, "end_time_0": 1616080024320, "start_time_0": 1184025600000, "gender": "F"},
 {"count of events": 431791.0, "end_time_0": 1616080024320, "start_time_0": 1184025600000, "gender": "M"}]
"""  # noqa: E501
GENDER_SHAPE = QueryShape(measures=["count of events"], groups=["gender"])


def utc(*millis: int | None) -> pd.Series:
    return pd.Series(
        [pd.NaT if m is None else pd.Timestamp(m, unit="ms", tz="UTC") for m in millis],
        dtype="datetime64[ms, UTC]",
    )


def strings(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype=STRING)


def csv_body(keys: list[str], rows: list[list[Any]]) -> bytes:
    """RFC 4180 with the csv module; a missing value is an empty field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(keys)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return out.getvalue().encode("utf-8")


# the documented sample


def test_documented_sample_decodes_to_typed_columns_in_order() -> None:
    df = frames.from_power_bi(DOCUMENTED_SAMPLE, shape=GENDER_SHAPE)

    expected = pd.DataFrame(
        {
            "gender": strings(None, "F", "M"),
            "start_time_0": utc(1184025600000, 1184025600000, 1184025600000),
            "end_time_0": utc(1616080024320, 1616080024320, 1616080024320),
            "count of events": pd.Series([31128, 391722, 431791], dtype="int64"),
        }
    )
    pd.testing.assert_frame_equal(df, expected)
    assert df["gender"].isna().tolist() == [True, False, False]
    assert df["gender"][0] is pd.NA
    assert df["end_time_0"][0] == pd.Timestamp("2021-03-18 15:07:04.320", tz="UTC")


def test_documented_sample_without_shape_is_recognised_by_values() -> None:
    with_shape = frames.from_power_bi(DOCUMENTED_SAMPLE, shape=GENDER_SHAPE)
    without = frames.from_power_bi(DOCUMENTED_SAMPLE)

    pd.testing.assert_frame_equal(without, with_shape)
    assert without.attrs["scuba"]["groups"] == ["gender"]
    assert without.attrs["scuba"]["measures"] == ["count of events"]


def test_csv_of_the_documented_sample_gives_the_same_frame() -> None:
    body = csv_body(
        ["gender", "start_time_0", "end_time_0", "count of events"],
        [
            [None, 1184025600000, 1616080024320, 31128],
            ["F", 1184025600000, 1616080024320, 391722],
            ["M", 1184025600000, 1616080024320, 431791],
        ],
    )
    from_json = frames.from_power_bi(DOCUMENTED_SAMPLE, shape=GENDER_SHAPE)
    from_csv = frames.from_csv(body, shape=GENDER_SHAPE)

    pd.testing.assert_frame_equal(from_csv, from_json)
    assert from_csv.equals(from_json)


# columns and types


def test_columns_are_groups_then_times_by_bucket_then_measures() -> None:
    row = {
        "cnt": 3.0,
        "end_time_1": 4000,
        "avg(length)": 1.5,
        "start_time_1": 3000,
        "country": "DE",
        "end_time_0": 2000,
        "start_time_0": 1000,
        "gender": "F",
    }
    shape = QueryShape(
        measures=["cnt", "avg(length)"], groups=["gender", "country"], count_measures=("cnt",)
    )

    df = frames.from_power_bi(orjson.dumps([row]), shape=shape)

    assert list(df.columns) == [
        "gender", "country",
        "start_time_0", "end_time_0", "start_time_1", "end_time_1",
        "cnt", "avg(length)",
    ]  # fmt: skip
    assert df["cnt"].dtype == "int64"
    assert df["avg(length)"].dtype == "float64"


def test_timezone_of_the_query_converts_the_times() -> None:
    shape = QueryShape(measures=["count of events"], groups=["gender"], timezone="US/Pacific")

    df = frames.from_power_bi(DOCUMENTED_SAMPLE, shape=shape)

    assert str(df["start_time_0"].dtype) == "datetime64[ms, US/Pacific]"
    # the same instant, shown in the query's zone
    assert df["end_time_0"][0] == pd.Timestamp("2021-03-18 08:07:04.320", tz="US/Pacific")
    assert df["end_time_0"][0] == pd.Timestamp("2021-03-18 15:07:04.320", tz="UTC")
    assert df.attrs["scuba"]["timezone"] == "US/Pacific"


def test_counts_sent_as_floats_become_integers_and_other_measures_stay_float() -> None:
    body = orjson.dumps(
        [
            {"gender": "F", "start_time_0": 0, "end_time_0": 1, "n": 2.0, "avg": 2.5, "x": 1.0},
            {"gender": "M", "start_time_0": 0, "end_time_0": 1, "n": 7.0, "avg": 3.0, "x": None},
        ]
    )
    shape = QueryShape(measures=["n", "avg", "x"], groups=["gender"], count_measures=("n", "x"))

    df = frames.from_power_bi(body, shape=shape)

    assert df["n"].tolist() == [2, 7] and df["n"].dtype == "int64"
    assert df["avg"].tolist() == [2.5, 3.0] and df["avg"].dtype == "float64"
    # a count with a gap keeps the gap: nullable integers
    assert str(df["x"].dtype) == "Int64"
    assert df["x"][0] == 1 and df["x"][1] is pd.NA


@pytest.mark.parametrize("result_format", ["JSON_POWER_BI", "CSV"])
def test_with_a_shape_only_counts_are_integers_even_when_other_measures_are_whole(
    result_format: str,
) -> None:
    # avg(age) ... group by age: every average is whole, on this run
    shape = bql.describe("select avg(age), max(age) as oldest, count(*) from t group by age")
    rows = [
        {"age": "30", "start_time_0": 0, "end_time_0": 1, "avg(age)": 30.0, "oldest": 30,
         "count of events": 4.0},
        {"age": "31", "start_time_0": 0, "end_time_0": 1, "avg(age)": 31.0, "oldest": 31,
         "count of events": 2.0},
    ]  # fmt: skip
    body = (
        orjson.dumps(rows)
        if result_format == "JSON_POWER_BI"
        else csv_body(list(rows[0]), [list(r.values()) for r in rows])
    )

    df = frames.to_dataframe(body, result_format, shape=shape)

    assert df["avg(age)"].dtype == "float64" and df["avg(age)"].tolist() == [30.0, 31.0]
    assert df["oldest"].dtype == "float64"
    assert df["count of events"].dtype == "int64" and df["count of events"].tolist() == [4, 2]


def test_a_measure_beyond_float_precision_is_the_nearest_float_not_an_error() -> None:
    big = 2**53 + 1
    rows = [{"start_time_0": 0, "end_time_0": 1, "sum(x)": big}, {"start_time_0": 0,
            "end_time_0": 1, "sum(x)": None}]  # fmt: skip

    df = frames.from_power_bi(orjson.dumps(rows), shape=bql.describe("select sum(x) from t"))

    assert df["sum(x)"].dtype == "float64"
    assert df["sum(x)"][0] == float(big) and pd.isna(df["sum(x)"][1])


def test_without_a_shape_whole_measures_are_integers_by_their_values() -> None:
    # a query response id has no shape: counts arrive as 31128.0 and labels may be aliases
    rows = [
        {"start_time_0": 0, "end_time_0": 1, "measure 1": 31128.0, "measure 2": 2.5},
        {"start_time_0": 0, "end_time_0": 1, "measure 1": 5.0, "measure 2": 3.0},
    ]

    df = frames.from_power_bi(orjson.dumps(rows))

    assert df["measure 1"].dtype == "int64" and df["measure 1"].tolist() == [31128, 5]
    assert df["measure 2"].dtype == "float64"


def test_large_counts_stay_exact_with_and_without_gaps() -> None:
    big = 2**53 + 1
    rows = [
        {"start_time_0": 0, "end_time_0": 1, "count of events": big, "n": big},
        {"start_time_0": 0, "end_time_0": 1, "count of events": 2, "n": None},
    ]
    csv_text = csv_body(["start_time_0", "end_time_0", "count of events", "n"],
                        [list(r.values()) for r in rows])  # fmt: skip

    df = frames.from_power_bi(orjson.dumps(rows))

    assert df["count of events"].tolist() == [big, 2]
    assert df["n"].tolist() == [big, pd.NA]
    pd.testing.assert_frame_equal(frames.from_csv(csv_text), df)


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([1.0] * 2000 + [1.5], "float64"),  # the fraction comes late
        ([1.0] * 2000 + [None], "Int64"),
        ([None, None], "Int64"),  # a count with no values is still a count
        ([2.0**63, 1.0], "float64"),  # whole, but beyond int64
        ([-(2.0**62), 0.0, -0.0], "int64"),
    ],
)
def test_a_count_is_whole_only_if_every_value_is(values: list[Any], dtype: str) -> None:
    rows = [{"start_time_0": 0, "end_time_0": 1, "n": v} for v in values]
    shape = QueryShape(measures=["n"], count_measures=("n",))

    df = frames.from_power_bi(orjson.dumps(rows), shape=shape)

    assert str(df["n"].dtype) == dtype
    assert [None if pd.isna(v) else v for v in df["n"]] == values


def test_numbers_beyond_int64_become_floats_not_garbage() -> None:
    body = b'[{"start_time_0":0,"end_time_0":1,"sum(x)":123456789012345678901234}]'

    df = frames.from_power_bi(body)

    assert df["sum(x)"].dtype == "float64"
    assert df["sum(x)"][0] == pytest.approx(1.2345678901234568e23)


@pytest.mark.parametrize(
    "value", ["001", "NA", "null", "NaN", "true", "1e5", "2021-01-01 10:00:00", "  padded  ", ""]
)
def test_group_values_are_never_converted(value: str) -> None:
    shape = QueryShape(measures=["count of events"], groups=["g"])
    json_body = orjson.dumps(
        [{"g": value, "start_time_0": 0, "end_time_0": 1, "count of events": 1}]
    )
    csv_text = f'g,start_time_0,end_time_0,count of events\r\n"{value}",0,1,1\r\n'

    from_json = frames.from_power_bi(json_body, shape=shape)
    from_csv = frames.from_csv(csv_text.encode(), shape=shape)

    assert from_json["g"].tolist() == [value]
    pd.testing.assert_frame_equal(from_csv, from_json)


def test_csv_empty_field_is_missing_and_quoted_empty_field_is_the_empty_string() -> None:
    body = b'g,start_time_0,end_time_0,count of events\r\n,0,1,1\r\n"",0,1,2\r\n'

    df = frames.from_csv(body, shape=QueryShape(measures=["count of events"], groups=["g"]))

    assert df["g"][0] is pd.NA
    assert df["g"][1] == ""


def test_date_time_looking_strings_without_shape_stay_text() -> None:
    body = orjson.dumps(
        [{"day": "2021-01-01 10:00:00", "start_time_0": 0, "end_time_0": 1, "measure 1": 1}]
    )

    df = frames.from_power_bi(body)

    assert df["day"].dtype == STRING
    assert df["day"].tolist() == ["2021-01-01 10:00:00"]


def test_numeric_group_values_in_json_are_kept_as_their_text() -> None:
    body = (
        b'[{"ROUND(length, 10)":10,"start_time_0":0,"end_time_0":1,"count of events":3},'
        b'{"ROUND(length, 10)":20.5,"start_time_0":0,"end_time_0":1,"count of events":4}]'
    )
    shape = QueryShape(measures=["count of events"], groups=["ROUND(length, 10)"])

    df = frames.from_power_bi(body, shape=shape)

    assert df["ROUND(length, 10)"].tolist() == ["10", "20.5"]
    assert df["ROUND(length, 10)"].dtype == STRING


def test_unknown_extra_keys_are_kept_after_the_known_columns() -> None:
    body = orjson.dumps(
        [
            {
                "note": "x",
                "gender": "F",
                "start_time_0": 0,
                "end_time_0": 1,
                "count of events": 1.0,
                "score": 0.5,
                "flag": True,
            },
        ]
    )

    df = frames.from_power_bi(body, shape=GENDER_SHAPE)

    assert list(df.columns) == [
        "gender", "start_time_0", "end_time_0", "count of events", "note", "score", "flag",
    ]  # fmt: skip
    assert df["note"].dtype == STRING
    assert df["score"].dtype == "float64"
    assert df["flag"].tolist() == [True]
    assert df.attrs["scuba"]["groups"] == ["gender"]
    assert df.attrs["scuba"]["measures"] == ["count of events"]


def test_key_order_and_missing_keys_per_row_do_not_matter() -> None:
    body = (
        b'[{"gender":"F","start_time_0":0,"end_time_0":1,"count of events":1},'
        b'{"count of events":2,"end_time_0":1,"start_time_0":0},'
        b'{"end_time_0":1,"count of events":3,"gender":"M","start_time_0":0}]'
    )

    df = frames.from_power_bi(body, shape=GENDER_SHAPE)

    assert df["gender"].tolist() == ["F", pd.NA, "M"]
    assert df["count of events"].tolist() == [1, 2, 3]


def test_a_separator_inside_a_string_is_decoded_exactly() -> None:
    tricky = 'a},{"b":1},{c'
    body = orjson.dumps(
        [
            {"g": tricky, "start_time_0": 0, "end_time_0": 1, "count of events": 1},
            {"g": "}\n{", "start_time_0": 0, "end_time_0": 1, "count of events": 2},
        ]
    )

    df = frames.from_power_bi(body, shape=QueryShape(measures=["count of events"], groups=["g"]))

    assert df["g"].tolist() == [tricky, "}\n{"]


def test_compact_bodies_take_the_columnar_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_exact_path(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the exact path was used for a compact body")

    monkeypatch.setattr(frames, "_read_power_bi_exact", no_exact_path)
    body = orjson.dumps(
        [
            {"gender": g, "start_time_0": 0, "end_time_0": 1, "count of events": 1.0}
            for g in ["F", "M", None] * 100
        ]
    )

    df = frames.from_power_bi(body, shape=GENDER_SHAPE)

    assert len(df) == 300
    assert df["gender"].tolist()[:3] == ["F", "M", pd.NA]


@given(
    values=st.lists(st.text(alphabet='{},:"ab'), min_size=1, max_size=20),
    size=st.integers(min_value=1, max_value=9),
)
def test_row_separators_become_new_lines_across_any_block_size(
    values: list[str], size: int
) -> None:
    body = orjson.dumps([{"g": value} for value in values])
    rows = frames._RowLines(body, 1, len(body) - 1)

    blocks = iter(lambda: rows.read(size), b"")

    assert b"".join(blocks) == body[1:-1].replace(b"},{", b"}\n{")
    assert rows.lines == body.count(b"},{") + 1


def test_missing_comma_between_rows_is_not_accepted() -> None:
    body = b'[{"g":"a","start_time_0":0,"end_time_0":1} {"g":"b","start_time_0":0,"end_time_0":1}]'

    with pytest.raises(ResponseError, match="not valid JSON"):
        frames.from_power_bi(body)


# empty results


@pytest.mark.parametrize("body", [b"[]", b"", b"  \r\n", b"[ \n ]", b"{}"])
def test_empty_json_results_give_an_empty_frame_with_the_expected_columns(body: bytes) -> None:
    shape = bql.describe(
        "select count(*), avg(x), count(* where x > 1) as n from t group by gender"
    )

    df = frames.from_power_bi(body, shape=shape)

    assert len(df) == 0
    assert list(df.columns) == [
        "gender", "start_time_0", "end_time_0", "count of events", "avg(x)", "n",
    ]  # fmt: skip
    # as a result with rows would have them: an aliased count is an integer too
    assert df.dtypes.astype(str).tolist() == [
        "string", "datetime64[ms, UTC]", "datetime64[ms, UTC]", "int64", "float64", "int64",
    ]  # fmt: skip
    assert df.attrs["scuba"]["rows"] == 0


@pytest.mark.parametrize(
    "body", [b"", b"gender,start_time_0,end_time_0,count of events,avg(x)\r\n"]
)
def test_empty_csv_results_match_empty_json_results(body: bytes) -> None:
    shape = QueryShape(measures=["count of events", "avg(x)"], groups=["gender"])

    pd.testing.assert_frame_equal(
        frames.from_csv(body, shape=shape), frames.from_power_bi(b"[]", shape=shape)
    )


def test_empty_results_without_shape() -> None:
    assert frames.from_power_bi(b"[]").shape == (0, 0)
    df = frames.from_csv(b"country,start_time_0,end_time_0,measure 1\r\n")
    assert list(df.columns) == ["country", "start_time_0", "end_time_0", "measure 1"]
    assert df.dtypes.astype(str).tolist() == [
        "string", "datetime64[ms, UTC]", "datetime64[ms, UTC]", "float64",
    ]  # fmt: skip


# DEFAULT and to_dataframe


def test_default_bodies_are_returned_as_parsed_json() -> None:
    body = b'{"columns":[{"name":"count of events","type":"integer"}],"rows":[[5]]}'

    result = frames.to_dataframe(body, "DEFAULT")

    assert result == {"columns": [{"name": "count of events", "type": "integer"}], "rows": [[5]]}


def test_to_dataframe_dispatches_on_the_format_in_any_case() -> None:
    body = csv_body(["gender", "start_time_0", "end_time_0", "count of events"], [["F", 0, 1, 2]])
    via_csv = frames.to_dataframe(body, "csv", shape=GENDER_SHAPE)
    assert via_csv["count of events"].tolist() == [2]
    via_json = frames.to_dataframe(DOCUMENTED_SAMPLE, "json_power_bi", shape=GENDER_SHAPE)
    assert len(via_json) == 3
    with pytest.raises(ValueError, match="JSON_POWER_BI, CSV, DEFAULT"):
        frames.to_dataframe(b"[]", "XML")


# provenance


def test_provenance_is_kept_with_the_decoded_columns_and_never_a_token() -> None:
    provenance = {
        "host": "http://127.0.0.1:8765",
        "bql": "select count(*) from music group by gender",
        "result_format": "JSON_POWER_BI",
        "elapsed_s": 0.25,
        "fetched_at": "2024-06-01T00:00:00+00:00",
        "token": "s3cr3t+/token",
    }

    df = frames.from_power_bi(DOCUMENTED_SAMPLE, shape=GENDER_SHAPE, provenance=provenance)

    assert df.attrs["scuba"] == {
        "host": "http://127.0.0.1:8765",
        "bql": "select count(*) from music group by gender",
        "result_format": "JSON_POWER_BI",
        "elapsed_s": 0.25,
        "fetched_at": "2024-06-01T00:00:00+00:00",
        "measures": ["count of events"],
        "groups": ["gender"],
        "timezone": "UTC",
        "rows": 3,
    }
    assert "s3cr3t" not in repr(df.attrs)
    assert frames.from_csv(b"a\r\nx\r\n").attrs["scuba"]["result_format"] == "CSV"


# errors


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html><title>Login</title></html>", r"not valid JSON.*'<html><title>Login"),
        (b'{"error": "bad", "message": "nope"}', r"JSON object with keys 'error', 'message'"),
        (b"[1, 2]", r"holds a number where a row object was expected"),
        (b'[{"a": 1}', r"not valid JSON"),
    ],
)
def test_undecodable_json_raises_response_error_saying_what_came(
    body: bytes, expected: str
) -> None:
    with pytest.raises(ResponseError, match=expected) as caught:
        frames.from_power_bi(body)
    # and what to do about it
    assert "result_format" in str(caught.value)


def test_time_column_that_is_not_epoch_millis_raises_response_error() -> None:
    with pytest.raises(ResponseError, match="'start_time_0' should hold epoch milliseconds"):
        frames.from_power_bi(b'[{"start_time_0": "yesterday", "end_time_0": 1}]')


def test_ragged_csv_raises_response_error() -> None:
    with pytest.raises(ResponseError, match=r"CSV answer could not be read.*Expected 2 columns"):
        frames.from_csv(b"a,b\r\n1,2\r\n1,2,3\r\n")


def test_default_that_is_not_json_raises_response_error() -> None:
    with pytest.raises(ResponseError, match="DEFAULT answer is not valid JSON"):
        frames.to_dataframe(b"oops", "DEFAULT")


# JSON_POWER_BI and CSV of the same rows give the same DataFrame

GROUP_NAMES = ["gender", "hello.world", "ROUND(length, 10)", 'odd, "quoted"\nname']
MEASURE_NAMES = ["count of events", "cnt", "avg(length)", "measure 1"]
EPOCH_MS = st.integers(min_value=-(10**12), max_value=4 * 10**12)
GROUP_TEXT = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["a,b", 'say "hi"', "line\nbreak", "cr\r\nlf", "😀🎵", "", " ", "All Others"]),
)


def _measure_values(label: str, rows: int) -> st.SearchStrategy[list[Any]]:
    if label in ("count of events", "cnt"):
        # counts, sent as JSON integers or as floats such as 31128.0
        value = st.integers(min_value=0, max_value=2**53)
    else:
        value = st.one_of(
            st.none(), st.floats(allow_nan=False, allow_infinity=False), st.integers(-5, 5)
        )
    return st.lists(value, min_size=rows, max_size=rows)


@st.composite
def result_sets(draw: st.DrawFn) -> tuple[QueryShape, list[str], list[dict[str, Any]]]:
    groups = draw(st.lists(st.sampled_from(GROUP_NAMES), max_size=3, unique=True))
    measures = draw(st.lists(st.sampled_from(MEASURE_NAMES), min_size=1, max_size=3, unique=True))
    buckets = draw(st.integers(min_value=1, max_value=3))
    # empty results have their own tests: a JSON `[]` cannot name its columns
    rows = draw(st.integers(min_value=1, max_value=12))
    timezone = draw(st.sampled_from([None, "UTC", "US/Pacific", "Asia/Tokyo"]))
    times = [f"{edge}_time_{n}" for n in range(buckets) for edge in ("start", "end")]
    columns: dict[str, list[Any]] = {}
    for name in groups:
        columns[name] = draw(st.lists(GROUP_TEXT, min_size=rows, max_size=rows))
    for name in times:
        columns[name] = draw(st.lists(EPOCH_MS, min_size=rows, max_size=rows))
    for name in measures:
        columns[name] = draw(_measure_values(name, rows))
    keys = draw(st.permutations(groups + times + measures))
    records = [{key: columns[key][i] for key in keys} for i in range(rows)]
    shape = QueryShape(
        measures=measures,
        groups=groups,
        timezone=timezone,
        has_time_series=buckets > 1,
        count_measures=tuple(m for m in measures if m in ("count of events", "cnt")),
    )
    return shape, keys, records


def _json_variants(records: list[dict[str, Any]], floats_for_counts: bool) -> list[bytes]:
    if floats_for_counts:
        records = [
            {k: float(v) if k in ("count of events", "cnt") else v for k, v in r.items()}
            for r in records
        ]
    return [
        orjson.dumps(records),  # compact: the columnar path
        json.dumps(records, ensure_ascii=True, separators=(",", ":")).encode(),  # \u escapes
        json.dumps(records, indent=1).encode(),  # spaced and multi-line: the exact path
    ]


def _rfc4180(keys: list[str], records: list[dict[str, Any]], quote_strings: bool) -> bytes:
    out = io.StringIO()
    if not quote_strings:
        # the csv module's minimal quoting cannot tell "" from a missing value
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(keys)
        for record in records:
            writer.writerow(["" if record[k] is None else record[k] for k in keys])
        return out.getvalue().encode("utf-8")

    def field(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return '"' + value.replace('"', '""') + '"'
        return repr(value)

    lines = [",".join(field(k) for k in keys)]
    lines += [",".join(field(r[k]) for k in keys) for r in records]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _assert_fast_path_matches_exact_path(records: list[dict[str, Any]], shape: QueryShape) -> None:
    compact = orjson.dumps(records)
    fast = frames._read_power_bi_fast(compact, 1, len(compact) - 1, shape)
    texts = [v for r in records for v in r.values() if isinstance(v, str)]
    if not any("},{" in text for text in texts):
        # only a separator inside a string sends a compact body down the exact path
        assert fast is not None
    if fast is not None:
        exact = frames._read_power_bi_exact(compact, shape)
        pd.testing.assert_frame_equal(
            frames._build_frame(fast, shape, None, "JSON_POWER_BI"),
            frames._build_frame(exact, shape, None, "JSON_POWER_BI"),
        )


@settings(max_examples=150)
@given(
    result=result_sets(),
    floats_for_counts=st.booleans(),
    quote_strings=st.booleans(),
)
def test_json_and_csv_bodies_of_the_same_rows_decode_to_equal_frames(
    result: tuple[QueryShape, list[str], list[dict[str, Any]]],
    floats_for_counts: bool,
    quote_strings: bool,
) -> None:
    shape, keys, records = result
    if not quote_strings:
        records = [{k: None if v == "" else v for k, v in r.items()} for r in records]
    csv_bytes = _rfc4180(keys, records, quote_strings)

    from_csv = frames.from_csv(csv_bytes, shape=shape)

    for body in _json_variants(records, floats_for_counts):
        from_json = frames.from_power_bi(body, shape=shape)
        pd.testing.assert_frame_equal(from_json, from_csv)
        assert from_json.equals(from_csv)
    _assert_fast_path_matches_exact_path(records, shape)
    assert list(from_csv.columns[: len(shape.groups)]) == shape.groups
    assert len(from_csv) == len(records)
    for name in shape.groups:
        assert from_csv[name].dtype == STRING
        expected = [pd.NA if r[name] is None else r[name] for r in records]
        assert from_csv[name].tolist() == expected
    for name in shape.measures:
        if name in ("count of events", "cnt") and records:
            assert from_csv[name].dtype == "int64"
            assert from_csv[name].tolist() == [r[name] for r in records]
    for key in keys:
        if frames.is_time_column(key):
            assert from_csv[key].dt.tz is not None
            assert [t.value // 10**6 for t in from_csv[key]] == [r[key] for r in records]


NUMBER_LIKE_TEXT = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**12).map(str),
    st.floats(allow_nan=False).map(repr),
    st.sampled_from(["001", "10", "1e5", "-0.5", "NaN", "inf", "0x1F"]),
)


@settings(max_examples=80)
@given(result=result_sets(), quote_strings=st.booleans(), data=st.data())
def test_without_shape_json_and_csv_in_the_contract_order_agree_even_for_number_like_groups(
    result: tuple[QueryShape, list[str], list[dict[str, Any]]],
    quote_strings: bool,
    data: st.DataObject,
) -> None:
    shape, keys, records = result
    # as for a query response id: the emulator sends groups as JSON strings, and a CSV body
    # names groups, times, measures in that order (the CSV contract)
    for name in shape.groups:
        if data.draw(st.booleans(), label=f"{name} number-like"):
            for record in records:
                if record[name] is not None:
                    record[name] = data.draw(NUMBER_LIKE_TEXT)
    if not quote_strings:
        records = [{k: None if v == "" else v for k, v in r.items()} for r in records]
    times = sorted((k for k in keys if frames.is_time_column(k)), key=frames._time_order)
    csv_keys = list(shape.groups) + times + list(shape.measures)

    from_csv = frames.from_csv(_rfc4180(csv_keys, records, quote_strings))
    # without a shape, columns of a kind keep the body's order: the same in both bodies
    from_json = frames.from_power_bi(orjson.dumps([{k: r[k] for k in csv_keys} for r in records]))

    pd.testing.assert_frame_equal(from_json, from_csv)
    assert from_json.attrs["scuba"] == from_csv.attrs["scuba"] | {"result_format": "JSON_POWER_BI"}
    assert set(shape.groups) <= set(from_csv.attrs["scuba"]["groups"])
    for name in shape.groups:
        assert from_csv[name].tolist() == [pd.NA if r[name] is None else r[name] for r in records]
