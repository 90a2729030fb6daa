"""The emulator's explorer page: ``GET /explorer/<rid>`` as one self-contained HTML page.

The server runs the rid's query again (as the Scuba UI does) and calls::

    render_explorer(record, result) -> str

with

- ``record``: a mapping with ``rid`` (``"r12"``), ``bql`` (the query text, or None for a replayed
  rid), ``chart_name`` (str or None), ``chart_type`` (``TIME``, ``TABLE``, ``BAR``, ``SUNBURST``,
  ``NUMBER``, ``SCATTER`` or ``SANKEY``, any case; None means ``TIME``) and ``created_at``
  (an ISO string, a datetime or None); other keys are ignored;
- ``result``: a mapping with ``columns`` (group columns, ``start_time_0``, ``end_time_0``, then
  measures), ``rows`` (lists or tuples in that order; times as epoch milliseconds), ``groups``
  (the group column names, a prefix of ``columns``) and ``measures`` (the measure names, a suffix
  of ``columns``). An optional ``group_levels`` (a list of lists of group names, one list per
  ``group by ... and by ...`` level) lets SANKEY follow the query's levels; without it each group
  column is its own level.

The page shows the chart name, the query (or rid), the chart type, the time range and the chart:

- ``TIME``: one line per group (and measure) over the time buckets;
- ``TABLE``: an HTML table of every row;
- ``BAR``: bars by group (grouped bars per bucket for a time series);
- ``SUNBURST``: a pie of the groups by the first measure;
- ``NUMBER``: big numbers (one per group, or one per measure without groups);
- ``SCATTER``: a line view across the groups (over time for a time series);
- ``SANKEY``: flows from each group level to the next, weighted by the first measure; a query
  with a single group level gets a message saying SANKEY needs two.

Single-value views (SUNBURST, NUMBER, SANKEY) of a time series use its last bucket and say so.

Charts are drawn by plotly.js loaded from ``/static/plotly.min.js`` (the file bundled with the
plotly package, see :func:`plotly_js_path`), never from a CDN. Every text from the request is
HTML-escaped, the chart data travels in a ``<script type="application/json">`` block with ``<``,
``>`` and ``&`` escaped, and a Content-Security-Policy allows only that one inline script, so a
hostile chart name, query or group value is shown as text and never runs.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

from scuba_magic.protocol import CHART_TYPES

PLOTLY_JS_URL = "/static/plotly.min.js"

# Caps that keep a page light in the browser; the page says when it shows less.
MAX_TRACES = 40
MAX_TABLE_ROWS = 2000
MAX_NUMBERS = 24

_START, _END = "start_time_0", "end_time_0"
_NULL_LABEL = "(null)"

_PLOT_SCRIPT = """
(function () {
  var chart = document.getElementById("chart");
  var figure = JSON.parse(document.getElementById("figure-data").textContent);
  if (typeof Plotly === "undefined") {
    chart.textContent = "plotly.js did not load from /static/plotly.min.js.";
    return;
  }
  Plotly.newPlot(chart, figure.data, figure.layout, {responsive: true, displaylogo: false});
})();
"""
# The CSP names the one inline script by its hash, so no injected script could run.
_PLOT_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_PLOT_SCRIPT.encode()).digest()).decode()
_CSP = (
    "default-src 'none'; "
    f"script-src 'self' 'sha256-{_PLOT_SCRIPT_HASH}'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'"
)

_PAGE = string.Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="$csp">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>$title</title>
<style>
  body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 0; color: #1f2933;
         background: #f7f8fa; }
  header { background: #14344b; color: #fff; padding: 14px 28px; }
  header .crumb { margin: 0; font-size: 13px; opacity: 0.8; }
  header h1 { margin: 4px 0 0; font-size: 22px; font-weight: 600; overflow-wrap: anywhere; }
  .facts { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px;
           margin: 18px 28px; font-size: 14px; }
  .facts dt { font-weight: 600; color: #52606d; }
  .facts dd { margin: 0; }
  pre.query { margin: 0; padding: 8px 10px; background: #fff; border: 1px solid #d9e2ec;
              border-radius: 4px; white-space: pre-wrap; overflow-wrap: anywhere; }
  main { margin: 0 28px 28px; padding: 16px; background: #fff; border: 1px solid #d9e2ec;
         border-radius: 6px; }
  .chart { width: 100%; min-height: 460px; }
  .note { color: #52606d; font-size: 13px; margin: 0 0 10px; }
  .message { font-size: 16px; color: #8a4b08; }
  table.result-table { border-collapse: collapse; font-size: 13px; }
  .result-table th, .result-table td { border: 1px solid #d9e2ec; padding: 4px 8px; }
  .result-table th { background: #f0f4f8; text-align: left; }
  .result-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .result-table td.null { color: #9aa5b1; }
  .numbers { display: flex; flex-wrap: wrap; gap: 16px; }
  .big-number { min-width: 200px; padding: 18px 24px; border: 1px solid #d9e2ec;
                border-radius: 6px; }
  .big-number .value { display: block; font-size: 48px; font-weight: 700; color: #14344b; }
  .big-number .label { display: block; font-size: 14px; color: #52606d;
                       overflow-wrap: anywhere; }
</style>
</head>
<body>
<header>
  <p class="crumb">Scuba emulator · explorer · <span id="rid">$rid</span></p>
  <h1 id="chart-name">$chart_name</h1>
</header>
<dl class="facts">
  <dt>Query</dt><dd>$query</dd>
  <dt>Chart type</dt><dd id="chart-type">$chart_type</dd>
  <dt>Time range</dt><dd id="time-range">$time_range</dd>
  <dt>Created</dt><dd id="created-at">$created_at</dd>
</dl>
<main id="chart-area" data-chart-type="$chart_type">
$body
</main>
</body>
</html>
""")

_NOT_FOUND = string.Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<link rel="icon" href="data:,">
<title>Not found · Scuba emulator explorer</title>
<style>
  body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 48px; color: #1f2933; }
  code { background: #f0f4f8; padding: 1px 4px; border-radius: 3px; }
</style>
</head>
<body>
<h1>No query <code id="rid">$rid</code></h1>
<p id="not-found-message">This emulator has no query response id <code>$rid</code>. Rids exist only
for queries run on this emulator (and survive a restart only with <code>--state-dir</code>).
Run the query again, or ask for a new explore link with <code>return_type: explore_url</code>.</p>
</body>
</html>
""")


def plotly_js_path() -> Path:
    """The ``plotly.min.js`` bundled with the installed plotly package (served at /static/).

    Raises:
        FileNotFoundError: plotly is not installed or its bundle is missing.
    """
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "package_data" / "plotly.min.js"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "plotly.min.js not found: install plotly (pip install plotly) to draw explorer charts"
    )


def render_not_found(rid: str) -> str:
    """The HTML page for an unknown rid (the server answers it with status 404)."""
    return _NOT_FOUND.substitute(rid=html.escape(str(rid)))


def render_explorer(record: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    """The HTML explorer page for one rid: its name, query, time range and chart.

    Args:
        record: ``rid``, ``bql``, ``chart_name``, ``chart_type``, ``created_at`` (see module doc).
        result: ``columns``, ``rows``, ``groups``, ``measures`` (+ optional ``group_levels``).

    Returns:
        A complete HTML document.
    """
    data = _ResultData.from_mapping(result)
    chart_type = str(record.get("chart_type") or "TIME").upper()
    view = _build_view(chart_type, data)

    rid = str(record.get("rid") or "")
    name = str(record.get("chart_name") or "") or "Untitled chart"
    bql = record.get("bql")
    if bql:
        query = f'<pre class="query" id="query">{html.escape(str(bql))}</pre>'
    else:
        query = f'<span id="query">replay of {html.escape(rid or "an earlier query")}</span>'

    parts = [f'<p class="note">{html.escape(note)}</p>' for note in view.notes]
    if view.figure is not None:
        parts.append('<div id="chart" class="chart"></div>')
        parts.append(
            f'<script type="application/json" id="figure-data">{_script_json(view.figure)}</script>'
        )
        parts.append(f'<script src="{PLOTLY_JS_URL}"></script>')
        parts.append(f"<script>{_PLOT_SCRIPT}</script>")
    if view.html:
        parts.append(view.html)
    if view.message:
        parts.append(f'<p class="message" id="chart-message">{html.escape(view.message)}</p>')

    return _PAGE.substitute(
        csp=html.escape(_CSP),
        title=html.escape(f"{name} · {rid} · Scuba emulator explorer"),
        rid=html.escape(rid),
        chart_name=html.escape(name),
        query=query,
        chart_type=html.escape(chart_type),
        time_range=html.escape(data.time_range_text()),
        created_at=html.escape(_created_text(record.get("created_at"))),
        body="\n".join(parts),
    )


@dataclass
class View:
    """What the page draws for a chart type: a plotly figure, ready HTML, or a message."""

    figure: dict[str, Any] | None = None
    html: str = ""
    message: str = ""
    notes: list[str] = field(default_factory=list)


def build_view(chart_type: str, result: Mapping[str, Any]) -> View:
    """The view the explorer draws for ``chart_type`` (any case) and a query result.

    Args:
        chart_type: one of :data:`CHART_TYPES`, any case.
        result: the query result, shaped as for :func:`render_explorer`.

    Returns:
        The plotly figure (a plain dict), HTML, or message the page will show, with its notes.
    """
    return _build_view(chart_type.upper(), _ResultData.from_mapping(result))


def _build_view(chart_type: str, data: _ResultData) -> View:
    if chart_type not in CHART_TYPES:
        return View(
            message=f"Unknown chart type {chart_type!r}; use one of {', '.join(CHART_TYPES)}."
        )
    if chart_type == "TABLE":
        return _table_view(data)
    if not data.rows:
        return View(message="The query returned no rows, so there is nothing to draw.")
    if chart_type == "NUMBER":
        return _number_view(data)
    if chart_type == "SUNBURST":
        return _pie_view(data)
    if chart_type == "SANKEY":
        return _sankey_view(data)
    if chart_type == "BAR":
        return _bar_view(data)
    if chart_type == "SCATTER" and not data.is_time_series:
        return _line_across_groups_view(data)
    return _time_view(data)


@dataclass
class _ResultData:
    columns: list[str]
    rows: list[list[Any]]
    groups: list[str]
    measures: list[str]
    group_levels: list[list[str]]

    @classmethod
    def from_mapping(cls, result: Mapping[str, Any]) -> _ResultData:
        columns = [str(c) for c in result.get("columns") or []]
        rows = [[_json_value(v) for v in row] for row in result.get("rows") or []]
        groups = [str(g) for g in result.get("groups") or []]
        if "measures" in result:
            measures = [str(m) for m in result["measures"]]
        else:
            measures = [c for c in columns[len(groups) :] if c not in (_START, _END)]
        levels = [[str(g) for g in level] for level in result.get("group_levels") or []]
        if not levels or sum(len(level) for level in levels) != len(groups):
            levels = [[g] for g in groups]
        return cls(columns, rows, groups, measures, levels)

    def _index(self, name: str) -> int | None:
        return self.columns.index(name) if name in self.columns else None

    def group_values(self, row: Sequence[Any], names: Sequence[str] | None = None) -> list[Any]:
        # Groups are the leading columns, in order (names may repeat, so go by position).
        if names is None:
            return list(row[: len(self.groups)])
        positions = [self.groups.index(n) for n in names]
        return [row[p] for p in positions]

    def group_label(self, row: Sequence[Any], names: Sequence[str] | None = None) -> str:
        values = self.group_values(row, names)
        return " · ".join(_NULL_LABEL if v is None else _plain(v) for v in values)

    def measure_values(self, row: Sequence[Any]) -> list[Any]:
        return list(row[len(row) - len(self.measures) :]) if self.measures else []

    def bucket(self, row: Sequence[Any]) -> tuple[Any, Any]:
        start, end = self._index(_START), self._index(_END)
        return (
            row[start] if start is not None else None,
            row[end] if end is not None else None,
        )

    @property
    def buckets(self) -> list[tuple[Any, Any]]:
        return list(dict.fromkeys(self.bucket(row) for row in self.rows))

    @property
    def is_time_series(self) -> bool:
        return len(self.buckets) > 1

    def last_bucket_rows(self) -> tuple[list[list[Any]], list[str]]:
        """The rows of the last bucket, and a note when the result has more than one."""
        buckets = self.buckets
        if len(buckets) <= 1:
            return self.rows, []
        last = buckets[-1]
        start, end = (_time_text(t) for t in last)
        rows = [row for row in self.rows if self.bucket(row) == last]
        return rows, [f"A time series: showing its last bucket, {start} to {end} UTC."]

    def time_range_text(self) -> str:
        starts = [t for t, _ in self.buckets if t is not None]
        ends = [t for _, t in self.buckets if t is not None]
        if not starts or not ends:
            return "unknown (the query returned no rows)"
        first, last = min(starts, key=_sort_key), max(ends, key=_sort_key)
        return f"{_time_text(first)} to {_time_text(last)} UTC"


def _series(data: _ResultData, max_traces: int = MAX_TRACES) -> tuple[dict, list[str]]:
    """(group label, measure) -> (x times, y values), in rank order, capped."""
    series: dict[tuple[str, str], tuple[list[str], list[Any]]] = {}
    notes: list[str] = []
    labels = list(dict.fromkeys(data.group_label(row) for row in data.rows))
    kept = set(labels[: max(1, max_traces // max(1, len(data.measures)))])
    for row in data.rows:
        label = data.group_label(row)
        if label not in kept:
            continue
        x = _time_text(data.bucket(row)[0])
        for measure, value in zip(data.measures, data.measure_values(row), strict=True):
            xs, ys = series.setdefault((label, measure), ([], []))
            xs.append(x)
            ys.append(value)
    if len(kept) < len(labels):
        notes.append(f"Showing the first {len(kept)} of {len(labels)} groups.")
    return series, notes


def _trace_name(data: _ResultData, label: str, measure: str) -> str:
    if not data.groups:
        return measure
    return label if len(data.measures) == 1 else f"{label} · {measure}"


def _time_view(data: _ResultData) -> View:
    series, notes = _series(data)
    if not data.is_time_series:
        # One bucket covers the whole range: draw it as a flat line across that range rather
        # than a lone point on an axis zoomed into milliseconds.
        start, end = (_time_text(t) for t in data.buckets[0])
        series = {key: ([start, end], ys[:1] * 2) for key, (_xs, ys) in series.items()}
        notes.append(
            "One bucket covers the whole time range; add `for every <unit>` to the query "
            "for a time series."
        )
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": _plotly_text(_trace_name(data, label, measure)),
            "x": xs,
            "y": ys,
        }
        for (label, measure), (xs, ys) in series.items()
    ]
    layout = _layout(
        xaxis={"title": {"text": "time (UTC)"}, "type": "date"},
        yaxis={"title": {"text": _plotly_text(_axis_title(data))}},
    )
    return View(figure={"data": traces, "layout": layout}, notes=notes)


def _bar_view(data: _ResultData) -> View:
    if data.is_time_series:
        view = _time_view(data)
        for trace in view.figure["data"]:
            trace["type"] = "bar"
            del trace["mode"]
        view.figure["layout"]["barmode"] = "group"
        return view
    labels, columns, notes = _by_group(data)
    if not data.groups:
        traces = [{"type": "bar", "x": [_plotly_text(m) for m in data.measures], "y": columns[0]}]
    else:
        traces = [
            {"type": "bar", "name": _plotly_text(m), "x": labels, "y": values}
            for m, values in zip(data.measures, columns, strict=True)
        ]
    layout = _layout(
        xaxis={"title": {"text": _plotly_text(", ".join(data.groups))}, "type": "category"},
        yaxis={"title": {"text": _plotly_text(_axis_title(data))}},
        barmode="group",
    )
    return View(figure={"data": traces, "layout": layout}, notes=notes)


def _line_across_groups_view(data: _ResultData) -> View:
    labels, columns, notes = _by_group(data)
    if not data.groups:
        x = [_plotly_text(m) for m in data.measures]
        traces = [{"type": "scatter", "mode": "lines+markers", "x": x, "y": columns[0]}]
    else:
        traces = [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _plotly_text(m),
                "x": labels,
                "y": values,
            }
            for m, values in zip(data.measures, columns, strict=True)
        ]
    layout = _layout(
        xaxis={"title": {"text": _plotly_text(", ".join(data.groups))}, "type": "category"},
        yaxis={"title": {"text": _plotly_text(_axis_title(data))}},
    )
    return View(figure={"data": traces, "layout": layout}, notes=notes)


def _by_group(data: _ResultData) -> tuple[list[str], list[list[Any]], list[str]]:
    """Group labels and, per measure, its value per group (no groups: one row per measure)."""
    rows = data.rows[: MAX_TRACES * 5]
    notes = (
        []
        if len(rows) == len(data.rows)
        else [f"Showing the first {len(rows)} of {len(data.rows)} groups."]
    )
    if not data.groups:
        return [], [data.measure_values(rows[0])], notes
    labels = [_plotly_text(data.group_label(row)) for row in rows]
    columns = [[data.measure_values(row)[i] for row in rows] for i in range(len(data.measures))]
    return labels, columns, notes


def _pie_view(data: _ResultData) -> View:
    rows, notes = data.last_bucket_rows()
    if data.groups:
        labels = [_plotly_text(data.group_label(row)) for row in rows]
        values = [data.measure_values(row)[0] if data.measures else None for row in rows]
        if len(data.measures) > 1:
            notes.append(f"Slices are sized by the first measure, {data.measures[0]}.")
    else:
        labels = [_plotly_text(m) for m in data.measures]
        values = data.measure_values(rows[0])
    trace = {"type": "pie", "labels": labels, "values": values, "sort": False, "hole": 0.0}
    return View(figure={"data": [trace], "layout": _layout()}, notes=notes)


def _number_view(data: _ResultData) -> View:
    rows, notes = data.last_bucket_rows()
    items: list[tuple[str, Any]] = []
    if data.groups:
        measure = data.measures[0] if data.measures else ""
        items = [
            (f"{measure} · {data.group_label(row)}", data.measure_values(row)[0])
            for row in rows
            if data.measures
        ]
        if len(data.measures) > 1:
            notes.append(f"Showing the first measure, {measure}.")
    else:
        items = list(zip(data.measures, data.measure_values(rows[0]), strict=True))
    if len(items) > MAX_NUMBERS:
        notes.append(f"Showing the first {MAX_NUMBERS} of {len(items)} numbers.")
        items = items[:MAX_NUMBERS]
    cards = "\n".join(
        f'<div class="big-number" id="number-{i}"><span class="value">'
        f"{html.escape(_number_text(value))}</span>"
        f'<span class="label">{html.escape(label)}</span></div>'
        for i, (label, value) in enumerate(items)
    )
    return View(html=f'<div class="numbers" id="numbers">\n{cards}\n</div>', notes=notes)


def _sankey_view(data: _ResultData) -> View:
    levels = data.group_levels
    if len(levels) < 2:
        have = "no group by" if not levels else "one group level"
        return View(
            message=(
                f"SANKEY needs two group levels, e.g. `group by country and by platform`; "
                f"this query has {have}. Pick another chart type or add an `and by` level."
            )
        )
    rows, notes = data.last_bucket_rows()
    if not data.measures:
        return View(message="SANKEY needs a measure to weight its flows; this query has none.")
    if len(data.measures) > 1:
        notes.append(f"Flows are weighted by the first measure, {data.measures[0]}.")
    node_index: dict[tuple[int, str], int] = {}
    weights: dict[tuple[int, int], float] = {}
    for row in rows:
        value = data.measure_values(row)[0]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            continue
        path = [
            node_index.setdefault((i, data.group_label(row, level)), len(node_index))
            for i, level in enumerate(levels)
        ]
        for source, target in pairwise(path):
            weights[(source, target)] = weights.get((source, target), 0) + value
    if not weights:
        return View(message="No positive values to draw as flows.", notes=notes)
    labels = [_plotly_text(label) for (_level, label) in node_index]
    trace = {
        "type": "sankey",
        "node": {"label": labels, "pad": 14, "thickness": 16},
        "link": {
            "source": [s for s, _ in weights],
            "target": [t for _, t in weights],
            "value": list(weights.values()),
        },
    }
    return View(figure={"data": [trace], "layout": _layout()}, notes=notes)


def _table_view(data: _ResultData) -> View:
    rows = data.rows[:MAX_TABLE_ROWS]
    notes = (
        []
        if len(rows) == len(data.rows)
        else [f"Showing the first {len(rows)} of {len(data.rows)} rows."]
    )
    time_positions = {i for i, c in enumerate(data.columns) if c in (_START, _END)}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in data.columns)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            if value is None:
                cells.append('<td class="null">null</td>')
            elif i in time_positions:
                cells.append(f"<td>{html.escape(_time_text(value))}</td>")
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f'<td class="num">{html.escape(_number_text(value))}</td>')
            else:
                cells.append(f"<td>{html.escape(_plain(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        notes.append("The query returned no rows.")
    table = (
        '<table class="result-table" id="result-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
    return View(html=table, notes=notes)


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "margin": {"l": 60, "r": 20, "t": 20, "b": 60},
        "legend": {"orientation": "v"},
        "font": {"family": "DejaVu Sans, sans-serif"},
    }
    layout.update(extra)
    return layout


def _axis_title(data: _ResultData) -> str:
    return data.measures[0] if len(data.measures) == 1 else ""


def _plotly_text(text: str) -> str:
    # plotly reads <b>, <a href> and entities in labels; escaping shows hostile text literally.
    return html.escape(text, quote=False)


def _script_json(value: Any) -> str:
    # Inside <script>, "</script>" or "<!--" in data would end or confuse the block: escape
    # the characters that can form them; JSON.parse turns them back.
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, datetime):
        return _time_text(value)
    return str(value)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _sort_key(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return _as_utc(value).timestamp() * 1000
    try:
        return _as_utc(datetime.fromisoformat(str(value))).timestamp() * 1000
    except ValueError:
        return 0.0


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _time_text(value: Any) -> str:
    """A bucket bound (epoch ms, datetime or string) as ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    elif isinstance(value, datetime):
        moment = _as_utc(value)
    else:
        return str(value)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text


def _created_text(value: Any) -> str:
    if value is None or value == "":
        return "unknown"
    if isinstance(value, datetime):
        return _time_text(value) + " UTC"
    return str(value)


def _number_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return _plain(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        text = f"{value:,.4f}".rstrip("0").rstrip(".")
        return text if text not in ("-0", "") else "0"
    return _plain(value)
