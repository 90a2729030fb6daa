"""Charts of time-bucketed results, checked on the plotly Figure objects."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from scuba_magic import plot_time_buckets
from scuba_magic.plots import describe_result, format_bucket_width, format_time_range

COUNT = "count of events"


def result_frame(
    rows: list[dict],
    *,
    groups: list[str],
    measures: list[str],
    timezone: str | None = None,
) -> pd.DataFrame:
    """A DataFrame shaped like frames.py makes: groups, start/end_time_0 (tz-aware), measures."""
    df = pd.DataFrame(rows, columns=[*groups, "start_time_0", "end_time_0", *measures])
    tz = timezone or "UTC"
    for column in ("start_time_0", "end_time_0"):
        # frames.py decodes epoch milliseconds, so the columns have millisecond resolution.
        df[column] = pd.to_datetime(df[column], utc=True).dt.tz_convert(tz).dt.as_unit("ms")
    df.attrs["scuba"] = {
        "host": "http://127.0.0.1:8080",
        "bql": "select count(*) from music group by gender",
        "result_format": "JSON_POWER_BI",
        "measures": measures,
        "groups": groups,
        "timezone": timezone,
        "rows": len(df),
    }
    return df


def daily_rows(
    values_by_group: dict, *, start: str = "2026-11-01", tz: str = "UTC", days: int = 7
) -> list[dict]:
    """Rows of daily buckets; a value of None leaves that group's bucket out of the result."""
    starts = pd.date_range(start, periods=days, freq="D", tz=tz)
    rows = []
    for group, values in values_by_group.items():
        for bucket_start, value in zip(starts, values, strict=True):
            if value is None:
                continue
            rows.append(
                {
                    "gender": group,
                    "start_time_0": bucket_start,
                    "end_time_0": bucket_start + pd.DateOffset(days=1),
                    COUNT: value,
                }
            )
    return rows


def test_time_series_draws_one_line_per_group_with_null_shown() -> None:
    df = result_frame(
        daily_rows({"F": [5, 6, 7], "M": [1, 2, 3], None: [9, 9, 9]}, days=3),
        groups=["gender"],
        measures=[COUNT],
    )
    fig = plot_time_buckets(df)
    assert [t.type for t in fig.data] == ["scatter"] * 3
    # Ordered by total, largest first.
    assert [t.name for t in fig.data] == ["(null)", "F", "M"]
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["F"].y) == [5, 6, 7]
    assert list(by_name["M"].y) == [1, 2, 3]
    assert [pd.Timestamp(x) for x in by_name["F"].x] == list(
        pd.date_range("2026-11-01", periods=3, freq="D")
    )
    assert fig.layout.legend.title.text == "gender"
    assert not fig.layout.annotations


def test_missing_bucket_of_one_group_is_a_gap_not_a_line() -> None:
    df = result_frame(
        daily_rows({"F": [5, 6, 7, 8, 9], "M": [1, 2, None, 4, 5]}, days=5),
        groups=["gender"],
        measures=[COUNT],
    )
    fig = plot_time_buckets(df)
    male = next(t for t in fig.data if t.name == "M")
    assert len(male.x) == 5
    assert male.y[2] is None
    assert [male.y[i] for i in (0, 1, 3, 4)] == [1, 2, 4, 5]
    assert male.connectgaps is False


def test_bucket_missing_from_every_group_is_still_a_gap() -> None:
    df = result_frame(
        daily_rows({"F": [5, 6, None, 8], "M": [1, 2, None, 4]}, days=4),
        groups=["gender"],
        measures=[COUNT],
    )
    fig = plot_time_buckets(df)
    for trace in fig.data:
        assert len(trace.x) == 4
        assert pd.Timestamp(trace.x[2]) == pd.Timestamp("2026-11-03")
        assert trace.y[2] is None


def test_calendar_months_are_not_taken_for_gaps() -> None:
    starts = pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"], utc=True)
    rows = [
        {"start_time_0": s, "end_time_0": s + pd.DateOffset(months=1), COUNT: n}
        for s, n in zip(starts, [3, 4, 5], strict=True)
    ]
    fig = plot_time_buckets(result_frame(rows, groups=[], measures=[COUNT]))
    assert list(fig.data[0].y) == [3, 4, 5]


def test_trailing_windows_say_window_and_step_and_have_no_false_gaps() -> None:
    # for every day over 2 days: each bucket is the 2 days ending at a day boundary.
    ends = pd.date_range("2026-11-23 07:05:59.930", periods=4, freq="D", tz="UTC")
    rows = [
        {"start_time_0": e - pd.Timedelta(days=2), "end_time_0": e, COUNT: n}
        for e, n in zip(ends, [1499, 1314, 1111, 1098], strict=True)
    ]
    df = result_frame(rows, groups=[], measures=[COUNT])
    shape = describe_result(df)
    assert (shape.bucket_width, shape.bucket_step) == (pd.Timedelta(days=2), pd.Timedelta(days=1))
    fig = plot_time_buckets(df)
    assert "trailing 2 days every 1 day · 2026-11-21 07:05:59 – 2026-11-26 07:05:59 (UTC)" in (
        fig.layout.title.text
    )
    assert list(fig.data[0].y) == [1499, 1314, 1111, 1098]


def test_more_groups_than_the_maximum_keeps_the_top_ones_with_a_note() -> None:
    totals = {f"artist {i:02d}": [i, i] for i in range(12)}
    rows = daily_rows(totals, days=2)
    for row in rows:
        row["artist"] = row.pop("gender")
    df = result_frame(rows, groups=["artist"], measures=[COUNT])
    fig = plot_time_buckets(df, max_groups=10)
    assert [t.name for t in fig.data] == [f"artist {i:02d}" for i in range(11, 1, -1)]
    notes = [a.text for a in fig.layout.annotations]
    assert notes == [f"10 of 12 groups (top by total {COUNT})"]


def test_several_measures_get_one_panel_each_on_a_shared_time_axis() -> None:
    rows = daily_rows({"F": [5, 6, 7], "M": [1, 2, 3]}, days=3)
    for row in rows:
        row["avg(length)"] = row[COUNT] * 10.5
    df = result_frame(rows, groups=["gender"], measures=[COUNT, "avg(length)"])
    fig = plot_time_buckets(df)
    assert len(fig.data) == 4
    panels = {(t.name, t.yaxis) for t in fig.data}
    assert panels == {("F", "y"), ("M", "y"), ("F", "y2"), ("M", "y2")}
    assert fig.layout.yaxis.title.text == COUNT
    assert fig.layout.yaxis2.title.text == "avg(length)"
    # One legend entry per group, whichever panel.
    assert sorted(t.name for t in fig.data if t.showlegend) == ["F", "M"]
    assert fig.layout.xaxis.matches == "x2" or fig.layout.xaxis2.matches == "x"
    second = next(t for t in fig.data if t.name == "M" and t.yaxis == "y2")
    assert list(second.y) == [10.5, 21.0, 31.5]


def test_single_bucket_draws_a_bar_chart_by_group() -> None:
    df = result_frame(
        daily_rows({"F": [5], "M": [8], None: [2]}, days=1),
        groups=["gender"],
        measures=[COUNT],
    )
    fig = plot_time_buckets(df)
    assert [t.type for t in fig.data] == ["bar"]
    assert list(fig.data[0].x) == ["M", "F", "(null)"]
    assert list(fig.data[0].y) == [8, 5, 2]
    assert "one bucket of 1 day" in fig.layout.title.text


def test_single_bucket_with_many_groups_is_cut_with_a_note() -> None:
    rows = daily_rows({f"g{i}": [i] for i in range(5)}, days=1)
    fig = plot_time_buckets(result_frame(rows, groups=["gender"], measures=[COUNT]), max_groups=3)
    assert list(fig.data[0].x) == ["g4", "g3", "g2"]
    assert fig.layout.annotations[0].text == f"3 of 5 groups (top by total {COUNT})"


def test_no_groups_and_one_bucket_is_a_single_number() -> None:
    rows = [
        {"start_time_0": "2026-11-01", "end_time_0": "2026-11-08", COUNT: 823_018.0},
    ]
    fig = plot_time_buckets(result_frame(rows, groups=[], measures=[COUNT]))
    assert [t.type for t in fig.data] == ["indicator"]
    assert fig.data[0].value == 823_018
    assert fig.data[0].title.text == COUNT
    assert "one bucket of 7 days" in fig.layout.title.text


def test_no_groups_over_time_is_one_line() -> None:
    rows = daily_rows({"all": [3, 4, 5]}, days=3)
    for row in rows:
        del row["gender"]
    fig = plot_time_buckets(result_frame(rows, groups=[], measures=[COUNT]))
    assert len(fig.data) == 1
    assert fig.data[0].name == COUNT
    assert list(fig.data[0].y) == [3, 4, 5]


def test_title_gives_measures_groups_bucket_width_and_range() -> None:
    df = result_frame(daily_rows({"F": [1] * 7, "M": [2] * 7}), groups=["gender"], measures=[COUNT])
    title = plot_time_buckets(df).layout.title.text
    assert title.startswith(f"{COUNT} by gender")
    assert "1 day buckets" in title
    assert "2026-11-01 – 2026-11-08 (UTC)" in title


def test_hourly_buckets_and_a_partial_last_bucket() -> None:
    starts = pd.date_range("2026-11-26 00:00", periods=4, freq="h", tz="UTC")
    ends = [*starts[1:], pd.Timestamp("2026-11-26 03:25", tz="UTC")]
    rows = [
        {"start_time_0": s, "end_time_0": e, COUNT: 10} for s, e in zip(starts, ends, strict=True)
    ]
    title = plot_time_buckets(result_frame(rows, groups=[], measures=[COUNT])).layout.title.text
    assert "1 hour buckets" in title
    assert "2026-11-26 – 2026-11-26 03:25 (UTC)" in title


def test_result_timezone_is_used_for_axis_and_title_across_a_dst_change() -> None:
    # US daylight saving time ends on 2026-11-01: that day is 25 hours long.
    tz = "America/New_York"
    df = result_frame(
        daily_rows({"F": [1, 2, 3], "M": [4, 5, 6]}, start="2026-10-31", tz=tz, days=3),
        groups=["gender"],
        measures=[COUNT],
        timezone=tz,
    )
    fig = plot_time_buckets(df)
    assert "1 day buckets" in fig.layout.title.text
    assert "2026-10-31 – 2026-11-03 (America/New_York)" in fig.layout.title.text
    # plotly.js has no timezones: x holds the wall-clock times of the result's zone.
    assert [pd.Timestamp(x) for x in fig.data[0].x] == list(
        pd.date_range("2026-10-31", periods=3, freq="D")
    )
    assert all(y is not None for trace in fig.data for y in trace.y)
    assert fig.layout.xaxis.title.text == f"bucket start ({tz})"


def test_timezone_in_attrs_converts_utc_columns() -> None:
    df = result_frame(daily_rows({"F": [1, 2]}, days=2), groups=["gender"], measures=[COUNT])
    df.attrs["scuba"]["timezone"] = "Asia/Tokyo"
    fig = plot_time_buckets(df)
    assert pd.Timestamp(fig.data[0].x[0]) == pd.Timestamp("2026-11-01 09:00")
    assert "(Asia/Tokyo)" in fig.layout.title.text


def test_several_group_columns_join_into_one_label() -> None:
    rows = daily_rows({"F": [1, 2], "M": [3, 4]}, days=2)
    for row in rows:
        row["country"] = "US" if row["gender"] == "F" else None
    df = result_frame(rows, groups=["gender", "country"], measures=[COUNT])
    names = {t.name for t in plot_time_buckets(df).data}
    assert names == {"F / US", "M / (null)"}


def test_frame_without_attrs_is_inferred_from_its_columns() -> None:
    df = pd.DataFrame(
        {
            "artist": ["a", "a", "b", "b"],
            "start_time_0": [0, 3_600_000, 0, 3_600_000],
            "end_time_0": [3_600_000, 7_200_000, 3_600_000, 7_200_000],
            "plays": [1, 2, 30, 40],
        }
    )
    shape = describe_result(df)
    assert (shape.groups, shape.measures) == (["artist"], ["plays"])
    fig = plot_time_buckets(df)
    assert [t.name for t in fig.data] == ["b", "a"]
    assert "1 hour buckets" in fig.layout.title.text
    assert "1970-01-01 – 1970-01-01 02:00 (UTC)" in fig.layout.title.text


def test_columns_dropped_after_the_query_are_ignored() -> None:
    rows = daily_rows({"F": [1, 2], "M": [3, 4]}, days=2)
    df = result_frame(rows, groups=["gender"], measures=[COUNT])
    df.attrs["scuba"]["measures"] = [COUNT, "dropped measure"]
    assert len(plot_time_buckets(df).data) == 2


def test_empty_result_is_a_clear_error() -> None:
    df = result_frame([], groups=["gender"], measures=[COUNT])
    with pytest.raises(ValueError, match="^no rows to plot"):
        plot_time_buckets(df)


def test_result_without_numbers_is_a_clear_error() -> None:
    df = pd.DataFrame({"artist": ["a"], "start_time_0": [0], "end_time_0": [1000]})
    with pytest.raises(ValueError, match="no numeric measure"):
        plot_time_buckets(df)


def test_measure_that_is_not_numeric_is_a_clear_error() -> None:
    rows = daily_rows({"F": [1, 2]}, days=2)
    df = result_frame(rows, groups=["gender"], measures=[COUNT])
    df[COUNT] = ["many", "few"]
    with pytest.raises(ValueError, match="holds no numbers"):
        plot_time_buckets(df)


def test_max_groups_must_be_positive() -> None:
    df = result_frame(daily_rows({"F": [1]}, days=1), groups=["gender"], measures=[COUNT])
    with pytest.raises(ValueError, match="max_groups"):
        plot_time_buckets(df, max_groups=0)


@pytest.mark.parametrize(
    ("width", "text"),
    [
        (pd.Timedelta(days=1), "1 day"),
        (pd.Timedelta(days=7), "7 days"),
        (pd.Timedelta(hours=1), "1 hour"),
        (pd.Timedelta(hours=6), "6 hours"),
        (pd.Timedelta(minutes=15), "15 minutes"),
        (pd.Timedelta(seconds=30), "30 seconds"),
        (pd.Timedelta(hours=36), "1 day 12 hours"),
        (None, "unknown"),
    ],
)
def test_bucket_width_reads_like_a_person_would_say_it(width, text) -> None:
    assert format_bucket_width(width) == text


def test_time_range_shows_dates_at_midnight_and_minutes_otherwise() -> None:
    start = pd.Timestamp("2026-11-01", tz="Europe/Paris")
    end = pd.Timestamp("2026-11-02 13:45", tz="Europe/Paris")
    assert format_time_range(start, end) == "2026-11-01 – 2026-11-02 13:45 (Europe/Paris)"
    assert format_time_range(None, end) == "unknown"


def test_describe_result_counts_rows_buckets_and_width() -> None:
    df = result_frame(
        daily_rows({"F": [1, 2, 3], "M": [1, None, 3]}, days=3),
        groups=["gender"],
        measures=[COUNT],
    )
    shape = describe_result(df)
    assert shape.rows == 5
    assert shape.buckets == 3
    assert shape.bucket_width == pd.Timedelta(days=1)
    assert shape.start == pd.Timestamp("2026-11-01", tz="UTC")
    assert shape.end == pd.Timestamp("2026-11-04", tz="UTC")
    assert shape.timezone == "UTC"


def test_figure_holds_no_nan_so_it_serialises_to_plain_json() -> None:
    df = result_frame(daily_rows({"F": [1, None, 3]}, days=3), groups=["gender"], measures=[COUNT])
    fig = plot_time_buckets(df)
    assert not any(isinstance(y, float) and math.isnan(y) for y in fig.data[0].y)
    assert '"y":[1.0,null,3.0]' in fig.to_json().replace(" ", "")


def test_unknown_timezone_in_attrs_keeps_the_columns_zone() -> None:
    df = result_frame(daily_rows({"F": [1, 2]}, days=2), groups=["gender"], measures=[COUNT])
    df.attrs["scuba"]["timezone"] = "Mars/Olympus_Mons"
    fig = plot_time_buckets(df)
    assert "(UTC)" in fig.layout.title.text
    assert pd.Timestamp(fig.data[0].x[0]) == pd.Timestamp("2026-11-01")
