"""Charts of time-bucketed Scuba results: pure functions from a DataFrame to a plotly Figure.

The Figure can be inspected, changed and shown like any plotly figure::

    from scuba_magic import plot_time_buckets
    fig = plot_time_buckets(df)           # df from ScubaClient.query or %%bql
    fig.update_layout(height=600)

Which chart is drawn depends on the result's shape:

- several time buckets: one line per group over ``start_time_0``, one panel per measure
  (shared time axis); a bucket missing from the result is a gap in the line; trailing windows
  (``for every 1 day over 7 days``) are drawn at each window's start;
- a single bucket: a bar chart by group (one panel per measure);
- no groups and a single bucket: the number itself;
- more groups than ``max_groups``: the top groups by the total of the first measure, with a
  visible "N of M groups" note.

Group and measure columns come from ``df.attrs["scuba"]`` (set by :mod:`scuba_magic.frames`).
For a DataFrame built by hand they are inferred: ``start_time_N``/``end_time_N`` are time columns,
numeric columns are measures and the rest are groups.

pandas and plotly are imported when a function first needs them, so importing this module is
cheap (the result toolbar imports it to describe a result).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = [
    "ResultShape",
    "describe_result",
    "format_bucket_width",
    "format_buckets",
    "format_time_range",
    "plot_time_buckets",
]

START_COLUMN = "start_time_0"
END_COLUMN = "end_time_0"
NULL_LABEL = "(null)"
GROUP_SEPARATOR = " / "

_TIME_COLUMN = re.compile(r"(start|end)_time_\d+")
# Beyond this many buckets a regular grid is not built (a result that large is not regular
# anyway, and the lines are drawn from the observed buckets instead).
_MAX_GRID_BUCKETS = 100_000
# Markers make a bucket standing alone between two gaps visible; with many buckets they clutter.
_MARKERS_UP_TO_BUCKETS = 60


@dataclass(frozen=True)
class ResultShape:
    """What a result holds, as far as charts and summaries need to know.

    Attributes:
        rows: Number of rows.
        groups: Group-by columns, in order.
        measures: Measure columns, in order.
        timezone: Timezone the times are shown in (``None`` for naive times).
        start: Start of the first bucket, in ``timezone``; ``None`` without time columns or rows.
        end: End of the last bucket, in ``timezone``; ``None`` without time columns or rows.
        bucket_width: The usual bucket width in wall-clock time; ``None`` when unknown.
        bucket_step: The usual time from one bucket's start to the next (the ``for every``
            resolution); wider buckets than that are trailing windows (``over``). ``None`` with
            fewer than two buckets.
        buckets: Number of distinct bucket starts (0 without time columns).
    """

    rows: int
    groups: list[str]
    measures: list[str]
    timezone: str | None
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    bucket_width: pd.Timedelta | None
    buckets: int
    bucket_step: pd.Timedelta | None = None

    @property
    def is_windowed(self) -> bool:
        """Whether buckets are trailing windows that overlap (``for every 1 day over 7 days``)."""
        return (
            self.bucket_step is not None
            and self.bucket_width is not None
            and self.bucket_width > self.bucket_step
        )


def describe_result(df: pd.DataFrame) -> ResultShape:
    """Find the groups, measures, time range and bucket width of a result.

    Args:
        df: A result DataFrame, with ``df.attrs["scuba"]`` or built by hand.

    Returns:
        The result's shape. An empty DataFrame gives ``rows=0`` and no time range.
    """
    groups, measures = _group_and_measure_columns(df)
    starts, ends, timezone = _bucket_times(df)
    if starts is None or len(df) == 0:
        return ResultShape(len(df), groups, measures, timezone, None, None, None, 0)
    step = _usual_step(starts)
    width = _usual_width(starts, ends) or step
    return ResultShape(
        rows=len(df),
        groups=groups,
        measures=measures,
        timezone=timezone,
        start=starts.min(),
        end=ends.max() if ends is not None else None,
        bucket_width=width,
        buckets=starts.nunique(),
        bucket_step=step,
    )


def format_bucket_width(width: pd.Timedelta | None) -> str:
    """Say a bucket width the way a person would: ``"1 day"``, ``"6 hours"``, ``"7 days"``.

    Widths that are not a whole number of one unit use the two largest units
    (``"1 day 12 hours"``).

    Args:
        width: The bucket width, or ``None``.

    Returns:
        The width in words, or ``"unknown"`` for ``None``.
    """
    if width is None:
        return "unknown"
    seconds = int(round(width.total_seconds()))
    if seconds <= 0:
        return f"{width.total_seconds():g} seconds"
    parts = []
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}" if count == 1 else f"{count} {unit}s")
    return " ".join(parts[:2])


def format_buckets(shape: ResultShape) -> str:
    """Say how a result is bucketed: ``"1 day"``, or ``"trailing 7 days every 1 day"``.

    Args:
        shape: The result's shape, from :func:`describe_result`.

    Returns:
        The bucket width, with the step for trailing windows.
    """
    if shape.is_windowed:
        return (
            f"trailing {format_bucket_width(shape.bucket_width)} "
            f"every {format_bucket_width(shape.bucket_step)}"
        )
    return format_bucket_width(shape.bucket_width)


def format_time_range(start: pd.Timestamp | None, end: pd.Timestamp | None) -> str:
    """Format a time range, with its timezone: ``"2026-11-19 – 2026-11-26 (UTC)"``.

    A time at midnight shows as a date; other times show to the minute (or second).

    Args:
        start: The range's start.
        end: The range's end.

    Returns:
        The range as text, or ``"unknown"`` when either end is ``None``.
    """
    if start is None or end is None:
        return "unknown"
    text = f"{_format_instant(start)} – {_format_instant(end)}"
    if start.tzinfo is not None:
        text += f" ({start.tzinfo})"
    return text


def plot_time_buckets(df: pd.DataFrame, *, max_groups: int = 10) -> go.Figure:
    """Draw a time-bucketed result: lines per group over time, bars for one bucket, or a number.

    Args:
        df: A result DataFrame (from ``ScubaClient.query`` or ``%%bql``), or one built by hand
            with ``start_time_0``/``end_time_0`` columns, group columns and numeric measures.
        max_groups: Most groups drawn; beyond it the top groups by the total of the first measure
            are kept and a note on the chart says how many were left out.

    Returns:
        The plotly Figure.

    Raises:
        ValueError: If the DataFrame has no rows, no numeric measure, or rows that cannot be told
            apart (no groups and no ``start_time_0``).
    """
    if max_groups < 1:
        raise ValueError(f"max_groups must be at least 1, not {max_groups}")
    if len(df) == 0:
        raise ValueError(
            "no rows to plot: the result is empty; widen the time range or relax the filters"
        )
    shape = describe_result(df)
    if not shape.measures:
        raise ValueError(
            "no numeric measure column to plot; columns are: " + ", ".join(map(str, df.columns))
        )
    frame = _plot_frame(df, shape)
    if not shape.groups and shape.buckets == 0 and len(frame) > 1:
        raise ValueError(
            f"cannot tell the {len(frame)} rows apart: there are no group columns and no "
            f"{START_COLUMN} column"
        )
    labels = _ranked_labels(frame, shape.measures[0])
    kept = labels[:max_groups]
    if shape.buckets <= 1 and not shape.groups:
        fig = _number_figure(frame, shape)
    elif shape.buckets <= 1:
        fig = _bar_figure(frame, shape, kept)
    else:
        fig = _line_figure(frame, shape, kept)
    if len(kept) < len(labels):
        fig.add_annotation(
            text=f"{len(kept)} of {len(labels)} groups (top by total {shape.measures[0]})",
            xref="paper",
            yref="paper",
            x=0,
            y=1,
            xanchor="left",
            yanchor="bottom",
            yshift=4,
            showarrow=False,
            font={"size": 12},
        )
    return fig


def _group_and_measure_columns(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Groups and measures from ``df.attrs["scuba"]``, else inferred from the columns."""
    import pandas as pd

    provenance = df.attrs.get("scuba") if isinstance(df.attrs, dict) else None
    if isinstance(provenance, dict):
        # Columns may have been dropped since the query; keep those still there.
        measures = [m for m in provenance.get("measures") or [] if m in df.columns]
        groups = [g for g in provenance.get("groups") or [] if g in df.columns]
        if measures:
            return groups, measures
    groups, measures = [], []
    for column in df.columns:
        if isinstance(column, str) and _TIME_COLUMN.fullmatch(column):
            continue
        dtype = df[column].dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            measures.append(column)
        else:
            groups.append(column)
    return groups, measures


def _bucket_times(df: pd.DataFrame) -> tuple[pd.Series | None, pd.Series | None, str | None]:
    """Bucket starts and ends as datetimes in the result's timezone, and that timezone's name."""
    if START_COLUMN not in df.columns:
        return None, None, None
    starts = _as_datetimes(df[START_COLUMN])
    ends = _as_datetimes(df[END_COLUMN]) if END_COLUMN in df.columns else None
    provenance = df.attrs.get("scuba") if isinstance(df.attrs, dict) else None
    wanted = provenance.get("timezone") if isinstance(provenance, dict) else None
    if wanted and starts.dt.tz is not None:
        try:
            starts = starts.dt.tz_convert(wanted)
            ends = ends.dt.tz_convert(wanted) if ends is not None else None
        except (KeyError, ValueError):
            pass  # an unknown zone name: keep the columns' own zone
    timezone = str(starts.dt.tz) if starts.dt.tz is not None else None
    return starts, ends, timezone


def _as_datetimes(column: pd.Series) -> pd.Series:
    """A time column as datetimes; epoch milliseconds (as the wire has them) are converted."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return column
    if pd.api.types.is_numeric_dtype(column.dtype):
        return pd.to_datetime(column, unit="ms", utc=True)
    return pd.to_datetime(column, utc=True)


def _wall_clock(times: pd.Series) -> pd.Series:
    """Times as naive wall-clock times in their own zone (plotly.js has no timezones)."""
    return times.dt.tz_localize(None) if times.dt.tz is not None else times


def _usual_width(starts: pd.Series, ends: pd.Series | None) -> pd.Timedelta | None:
    """The most common bucket width, measured in wall-clock time so DST days count as 1 day."""
    import pandas as pd

    if ends is None:
        return None
    widths = (_wall_clock(ends) - _wall_clock(starts)).dropna()
    # Ties (e.g. one full bucket and one cut short by "now") go to the wider width.
    return _most_common(widths[widths > pd.Timedelta(0)], prefer=max)


def _usual_step(starts: pd.Series) -> pd.Timedelta | None:
    """The most common time between consecutive bucket starts, in wall-clock time."""
    import pandas as pd

    distinct = pd.Series(_wall_clock(starts).dropna().unique()).sort_values()
    # Ties (a bucket missing here and there) go to the smaller step.
    return _most_common(distinct.diff().dropna(), prefer=min)


def _most_common(values: pd.Series, *, prefer: Any) -> pd.Timedelta | None:
    if values.empty:
        return None
    counts = values.value_counts()
    return prefer(counts[counts == counts.max()].index)


def _format_instant(moment: pd.Timestamp) -> str:
    if moment.hour == moment.minute == moment.second == 0 and moment.microsecond == 0:
        return moment.strftime("%Y-%m-%d")
    if moment.second == 0:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _group_label(value: Any) -> str:
    """One group value as legend text; a missing value shows as ``(null)``."""
    if value is None:
        return NULL_LABEL
    if isinstance(value, float):
        if math.isnan(value):
            return NULL_LABEL
        if value.is_integer():
            return str(int(value))
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return NULL_LABEL
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return str(value)


def _plot_frame(df: pd.DataFrame, shape: ResultShape) -> pd.DataFrame:
    """Rows reduced to ``_label``, ``_start`` (wall clock) and the measures as numbers."""
    import pandas as pd

    frame = pd.DataFrame(index=df.index)
    if shape.groups:
        label_columns = [df[g].astype(object).map(_group_label) for g in shape.groups]
        labels = label_columns[0]
        for column in label_columns[1:]:
            labels = labels + GROUP_SEPARATOR + column
        frame["_label"] = labels
    else:
        frame["_label"] = ""
    starts, _, _ = _bucket_times(df)
    frame["_start"] = _wall_clock(starts) if starts is not None else pd.NaT
    for measure in shape.measures:
        values = pd.to_numeric(df[measure], errors="coerce")
        if values.isna().all() and df[measure].notna().any():
            raise ValueError(f"measure column {measure!r} holds no numbers, so it cannot be drawn")
        frame[measure] = values.astype("float64")
    return frame


def _ranked_labels(frame: pd.DataFrame, measure: str) -> list[str]:
    """Group labels by the total of ``measure``, largest first (ties keep the result's order)."""
    totals = frame.groupby("_label", sort=False)[measure].sum(min_count=1)
    keys = []
    for position, (label, total) in enumerate(totals.items()):
        missing = math.isnan(total)
        keys.append((missing, 0.0 if missing else -total, position, label))
    return [key[-1] for key in sorted(keys)]


def _bucket_grid(starts: pd.Series, step: pd.Timedelta | None) -> pd.DatetimeIndex:
    """Every bucket start in the range, so a bucket no group has still shows as a gap.

    A regular grid is used when every observed start lies on it; otherwise (calendar months,
    irregular data) the observed starts are used as they are.
    """
    import pandas as pd

    observed = pd.DatetimeIndex(starts.dropna().unique()).sort_values()
    if step is None or step <= pd.Timedelta(0) or len(observed) < 2:
        return observed
    first, last = observed[0], observed[-1]
    if (last - first) / step > _MAX_GRID_BUCKETS:
        return observed
    offsets = (observed - first) % step
    if (offsets != pd.Timedelta(0)).any():
        return observed
    return pd.date_range(first, last, freq=step)


def _plain_values(values: Any) -> list[float | None]:
    """Numbers for plotly, ``None`` where a value is missing (drawn as a gap)."""
    return [None if v is None or math.isnan(v) else float(v) for v in values]


def _title(shape: ResultShape, subtitle: str) -> str:
    text = ", ".join(shape.measures)
    if shape.groups:
        text += " by " + ", ".join(shape.groups)
    return f"{text}<br><sup>{subtitle}</sup>" if subtitle else text


def _colors() -> list[str]:
    import plotly.colors

    return list(plotly.colors.qualitative.Plotly)


def _panels(count: int, *, shared_x: bool) -> go.Figure:
    from plotly.subplots import make_subplots

    spacing = min(0.08, 0.5 / count) if count > 1 else 0.0
    fig = make_subplots(rows=count, cols=1, shared_xaxes=shared_x, vertical_spacing=spacing)
    fig.update_layout(
        template="plotly_white",
        height=320 + 200 * (count - 1),
        margin={"t": 90},
    )
    return fig


def _line_figure(frame: pd.DataFrame, shape: ResultShape, kept: list[str]) -> go.Figure:
    import plotly.graph_objects as go

    # Trailing windows start one step apart; plain buckets one width apart (the step between
    # observed starts can be wider when buckets are missing).
    known = [d for d in (shape.bucket_step, shape.bucket_width) if d is not None]
    grid = _bucket_grid(frame["_start"], min(known) if known else None)
    x = list(grid.to_pydatetime())
    mode = "lines+markers" if len(grid) <= _MARKERS_UP_TO_BUCKETS else "lines"
    fig = _panels(len(shape.measures), shared_x=True)
    colors = _colors()
    by_label = dict(iter(frame.groupby("_label", sort=False)))
    for row, measure in enumerate(shape.measures, start=1):
        for index, label in enumerate(kept):
            rows = by_label[label]
            # A repeated bucket start for one group is not expected; keep the first.
            series = rows.drop_duplicates("_start").set_index("_start")[measure].reindex(grid)
            name = label if shape.groups else measure
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=_plain_values(series.to_numpy()),
                    name=name,
                    mode=mode,
                    marker={"size": 5},
                    line={"color": colors[index % len(colors)]},
                    connectgaps=False,
                    legendgroup=name,
                    showlegend=bool(shape.groups) and row == 1,
                    meta=measure,
                    hovertemplate="%{fullData.name}<br>%{x}<br>%{meta}: %{y:,}<extra></extra>",
                ),
                row=row,
                col=1,
            )
        fig.update_yaxes(title_text=measure, rangemode="tozero", row=row, col=1)
    time_title = f"bucket start ({shape.timezone})" if shape.timezone else "bucket start"
    fig.update_xaxes(title_text=time_title, row=len(shape.measures), col=1)
    buckets = format_buckets(shape) if shape.is_windowed else f"{format_buckets(shape)} buckets"
    subtitle = f"{buckets} · {format_time_range(shape.start, shape.end)}"
    fig.update_layout(
        title={"text": _title(shape, subtitle)},
        legend_title_text=GROUP_SEPARATOR.join(shape.groups) if shape.groups else None,
        hovermode="closest",
    )
    return fig


def _bar_figure(frame: pd.DataFrame, shape: ResultShape, kept: list[str]) -> go.Figure:
    import plotly.graph_objects as go

    fig = _panels(len(shape.measures), shared_x=True)
    colors = _colors()
    first_rows = frame.drop_duplicates("_label").set_index("_label")
    for row, measure in enumerate(shape.measures, start=1):
        fig.add_trace(
            go.Bar(
                x=kept,
                y=_plain_values(first_rows.loc[kept, measure].to_numpy()),
                name=measure,
                marker={"color": colors[(row - 1) % len(colors)]},
                showlegend=False,
                hovertemplate="%{x}<br>" + "%{meta}: %{y:,}<extra></extra>",
                meta=measure,
            ),
            row=row,
            col=1,
        )
        fig.update_yaxes(title_text=measure, row=row, col=1)
    fig.update_xaxes(title_text=GROUP_SEPARATOR.join(shape.groups), row=len(shape.measures), col=1)
    fig.update_xaxes(type="category")
    fig.update_layout(title={"text": _title(shape, _single_bucket_subtitle(shape))})
    return fig


def _number_figure(frame: pd.DataFrame, shape: ResultShape) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    count = len(shape.measures)
    values = _plain_values(frame.iloc[0][shape.measures].to_numpy(dtype="float64"))
    for index, (measure, value) in enumerate(zip(shape.measures, values, strict=True)):
        fig.add_trace(
            go.Indicator(
                mode="number",
                value=value,
                title={"text": measure},
                number={"valueformat": ","},
                domain={"x": [index / count, (index + 1) / count], "y": [0, 1]},
            )
        )
    fig.update_layout(
        template="plotly_white",
        height=260,
        title={"text": _title(shape, _single_bucket_subtitle(shape))},
        margin={"t": 90},
    )
    return fig


def _single_bucket_subtitle(shape: ResultShape) -> str:
    if shape.start is None:
        return ""
    return (
        f"one bucket of {format_bucket_width(shape.bucket_width)} · "
        f"{format_time_range(shape.start, shape.end)}"
    )
