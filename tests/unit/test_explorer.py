"""The explorer page: what each chart type draws, and that request text can never run."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from datetime import datetime
from html.parser import HTMLParser

import duckdb

from scuba_magic.emulator.catalog import Catalog
from scuba_magic.emulator.demo import create_demo_table
from scuba_magic.emulator.engine import Engine
from scuba_magic.emulator.explorer import (
    CHART_TYPES,
    build_view,
    plotly_js_path,
    render_explorer,
    render_not_found,
)

DAY_MS = 86_400_000
T0 = 1_609_459_200_000  # 2021-01-01 00:00 UTC

RECORD = {
    "rid": "r7",
    "bql": "select count(*) from music group by gender between 7 days ago and now",
    "chart_name": "Events by gender",
    "chart_type": "TIME",
    "created_at": "2021-01-08T09:00:00Z",
}

# one bucket, groups: what a query without `for every` gives
BY_GENDER = {
    "columns": ["gender", "start_time_0", "end_time_0", "count of events"],
    "rows": [
        ["M", T0, T0 + 7 * DAY_MS, 431791],
        ["F", T0, T0 + 7 * DAY_MS, 391722],
        [None, T0, T0 + 7 * DAY_MS, 31128],
    ],
    "groups": ["gender"],
    "measures": ["count of events"],
}

# two daily buckets per group
SERIES = {
    "columns": ["gender", "start_time_0", "end_time_0", "count of events"],
    "rows": [
        ["M", T0, T0 + DAY_MS, 10],
        ["M", T0 + DAY_MS, T0 + 2 * DAY_MS, 12],
        ["F", T0, T0 + DAY_MS, 8],
        ["F", T0 + DAY_MS, T0 + 2 * DAY_MS, 9],
    ],
    "groups": ["gender"],
    "measures": ["count of events"],
}

TWO_LEVELS = {
    "columns": ["country", "platform", "start_time_0", "end_time_0", "cnt"],
    "rows": [
        ["US", "iOS", T0, T0 + DAY_MS, 5],
        ["US", "Web", T0, T0 + DAY_MS, 3],
        ["DE", "iOS", T0, T0 + DAY_MS, 2],
    ],
    "groups": ["country", "platform"],
    "measures": ["cnt"],
}

NO_GROUPS = {
    "columns": ["start_time_0", "end_time_0", "count of events", "avg(length)"],
    "rows": [[T0, T0 + DAY_MS, 1234567, 245.123456]],
    "groups": [],
    "measures": ["count of events", "avg(length)"],
}

HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)>&amp;"


class PageParser(HTMLParser):
    """Collects element text by id, every <script> and the CSP of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.text_by_id: dict[str, str] = {}
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.csp = ""
        self.tags: list[str] = []
        self._open: list[tuple[str, str | None]] = []
        self._script: dict[str, str | None] | None = None
        self._script_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append(tag)
        if tag == "meta" and attributes.get("http-equiv") == "Content-Security-Policy":
            self.csp = attributes["content"] or ""
        if tag == "script":
            self._script, self._script_text = attributes, []
        if tag not in ("meta", "br", "img", "input", "link"):
            self._open.append((tag, attributes.get("id")))
            if attributes.get("id"):
                self.text_by_id[attributes["id"]] = ""

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._script_text)))
            self._script = None
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self._script is not None:
            self._script_text.append(data)
        for _, element_id in self._open:
            if element_id:
                self.text_by_id[element_id] += data


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


def embedded_figure(page: str) -> dict:
    scripts = parse(page).scripts
    (data,) = [text for attrs, text in scripts if attrs.get("type") == "application/json"]
    return json.loads(data)


def page_for(chart_type: str, result: dict, **record: object) -> str:
    return render_explorer({**RECORD, "chart_type": chart_type, **record}, result)


def test_page_shows_name_query_rid_type_and_time_range():
    parsed = parse(page_for("TIME", BY_GENDER))
    assert parsed.text_by_id["chart-name"] == "Events by gender"
    assert parsed.text_by_id["query"] == RECORD["bql"]
    assert parsed.text_by_id["rid"] == "r7"
    assert parsed.text_by_id["chart-type"] == "TIME"
    assert parsed.text_by_id["time-range"] == "2021-01-01 00:00:00 to 2021-01-08 00:00:00 UTC"
    assert parsed.text_by_id["created-at"] == "2021-01-08T09:00:00Z"


def test_replayed_rid_without_bql_says_so():
    parsed = parse(page_for("TIME", BY_GENDER, bql=None, chart_name=None))
    assert parsed.text_by_id["query"] == "replay of r7"
    assert parsed.text_by_id["chart-name"] == "Untitled chart"


def test_plotly_comes_from_the_emulator_and_only_the_hashed_inline_script_may_run():
    parsed = parse(page_for("TIME", BY_GENDER))
    sources = [attrs.get("src") for attrs, _ in parsed.scripts if attrs.get("src")]
    assert sources == ["/static/plotly.min.js"]
    inline = [text for attrs, text in parsed.scripts if not attrs]
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    script_src = re.search(r"script-src ([^;]*)", parsed.csp).group(1)
    assert script_src.split() == ["'self'", f"'sha256-{digest}'"]
    assert "unsafe-inline" not in script_src


def test_hostile_name_query_and_group_values_stay_text():
    result = {**BY_GENDER, "rows": [[HOSTILE, T0, T0 + DAY_MS, 1]]}
    page = page_for("TIME", result, chart_name=HOSTILE, bql=HOSTILE, rid=HOSTILE)
    parsed = parse(page)
    assert parsed.text_by_id["chart-name"] == HOSTILE
    assert parsed.text_by_id["query"] == HOSTILE
    assert "img" not in parsed.tags
    # data, plotly.js and the plot script: nothing the request smuggled in
    assert len(parsed.scripts) == 3
    (data,) = [text for attrs, text in parsed.scripts if attrs.get("type") == "application/json"]
    assert "<" not in data and ">" not in data
    # plotly reads tags in labels, so the label is escaped for it too
    assert embedded_figure(page)["data"][0]["name"] == (
        "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
        "&lt;img src=x onerror=alert(2)&gt;&amp;amp;"
    )


def test_hostile_values_in_table_and_number_views_stay_text():
    result = {**BY_GENDER, "rows": [[HOSTILE, T0, T0 + DAY_MS, 1]]}
    for chart_type in ("TABLE", "NUMBER"):
        parsed = parse(page_for(chart_type, result))
        assert "img" not in parsed.tags
        assert len(parsed.scripts) == 0
        area = parsed.text_by_id["chart-area"]
        assert HOSTILE in area


def test_time_draws_a_line_per_group_over_the_buckets():
    figure = embedded_figure(page_for("time", SERIES))
    traces = figure["data"]
    assert [t["name"] for t in traces] == ["M", "F"]
    assert all(t["type"] == "scatter" and "lines" in t["mode"] for t in traces)
    assert traces[0]["x"] == ["2021-01-01 00:00:00", "2021-01-02 00:00:00"]
    assert traces[0]["y"] == [10, 12]
    assert traces[1]["y"] == [8, 9]
    assert figure["layout"]["xaxis"]["type"] == "date"


def test_time_of_one_bucket_is_a_flat_line_across_the_range():
    view = build_view("TIME", BY_GENDER)
    (first, *_) = view.figure["data"]
    assert first["x"] == ["2021-01-01 00:00:00", "2021-01-08 00:00:00"]
    assert first["y"] == [431791, 431791]
    assert view.notes[0].startswith("One bucket covers the whole time range")


def test_time_without_groups_draws_a_line_per_measure():
    traces = build_view("TIME", NO_GROUPS).figure["data"]
    assert [t["name"] for t in traces] == ["count of events", "avg(length)"]


def test_time_caps_the_number_of_lines():
    rows = [[f"user{i}", T0, T0 + DAY_MS, 100 - i] for i in range(60)]
    view = build_view("TIME", {**BY_GENDER, "rows": rows})
    assert len(view.figure["data"]) == 40
    assert "Showing the first 40 of 60 groups." in view.notes


def test_table_lists_every_row_with_readable_times_and_nulls():
    parsed = parse(page_for("TABLE", BY_GENDER))
    assert parsed.scripts == []
    table = parsed.text_by_id["result-table"]
    assert table.startswith("genderstart_time_0end_time_0count of events")
    assert "M2021-01-01 00:00:002021-01-08 00:00:00431,791" in table
    assert "null2021-01-01 00:00:002021-01-08 00:00:0031,128" in table


def test_bar_draws_bars_by_group():
    traces = build_view("BAR", BY_GENDER).figure["data"]
    assert traces == [
        {
            "type": "bar",
            "name": "count of events",
            "x": ["M", "F", "(null)"],
            "y": [431791, 391722, 31128],
        }
    ]


def test_bar_of_a_time_series_groups_bars_per_bucket():
    figure = build_view("BAR", SERIES).figure
    assert [(t["type"], t["name"], t["y"]) for t in figure["data"]] == [
        ("bar", "M", [10, 12]),
        ("bar", "F", [8, 9]),
    ]
    assert figure["layout"]["barmode"] == "group"


def test_sunburst_is_a_pie_of_the_groups():
    view = build_view("SUNBURST", BY_GENDER)
    (trace,) = view.figure["data"]
    assert trace["type"] == "pie"
    assert trace["labels"] == ["M", "F", "(null)"]
    assert trace["values"] == [431791, 391722, 31128]
    assert view.notes == []


def test_sunburst_of_a_time_series_uses_the_last_bucket_and_says_so():
    view = build_view("SUNBURST", SERIES)
    assert view.figure["data"][0]["values"] == [12, 9]
    assert view.notes == [
        "A time series: showing its last bucket, 2021-01-02 00:00:00 to 2021-01-03 00:00:00 UTC."
    ]


def test_number_shows_big_numbers_per_measure_without_groups():
    parsed = parse(page_for("NUMBER", NO_GROUPS))
    assert parsed.text_by_id["number-0"] == "1,234,567count of events"
    assert parsed.text_by_id["number-1"] == "245.1235avg(length)"


def test_number_shows_one_number_per_group():
    parsed = parse(page_for("NUMBER", BY_GENDER))
    assert parsed.text_by_id["number-0"] == "431,791count of events · M"
    assert parsed.text_by_id["number-2"] == "31,128count of events · (null)"


def test_scatter_is_a_line_across_groups_or_over_time():
    across = build_view("SCATTER", BY_GENDER).figure["data"]
    assert across[0]["x"] == ["M", "F", "(null)"]
    assert across[0]["mode"] == "lines+markers"
    over_time = build_view("SCATTER", SERIES).figure["data"]
    assert [t["name"] for t in over_time] == ["M", "F"]
    assert over_time[0]["x"] == ["2021-01-01 00:00:00", "2021-01-02 00:00:00"]


def test_sankey_flows_from_the_first_level_to_the_second():
    (trace,) = build_view("SANKEY", TWO_LEVELS).figure["data"]
    assert trace["type"] == "sankey"
    labels = trace["node"]["label"]
    links = {
        (labels[s], labels[t]): v
        for s, t, v in zip(
            trace["link"]["source"], trace["link"]["target"], trace["link"]["value"], strict=True
        )
    }
    assert links == {("US", "iOS"): 5, ("US", "Web"): 3, ("DE", "iOS"): 2}
    assert sorted(labels) == ["DE", "US", "Web", "iOS"]


def test_sankey_follows_the_query_levels_when_given():
    result = {
        "columns": ["user", "country", "platform", "start_time_0", "end_time_0", "cnt"],
        "rows": [
            ["jack", "US", "iOS", T0, T0 + DAY_MS, 4],
            ["jill", "US", "iOS", T0, T0 + DAY_MS, 6],
        ],
        "groups": ["user", "country", "platform"],
        "measures": ["cnt"],
        "group_levels": [["user", "country"], ["platform"]],
    }
    (trace,) = build_view("SANKEY", result).figure["data"]
    labels = trace["node"]["label"]
    assert labels == ["jack · US", "iOS", "jill · US"]
    assert trace["link"] == {"source": [0, 2], "target": [1, 1], "value": [4, 6]}


def test_sankey_with_one_group_level_explains_what_it_needs():
    parsed = parse(page_for("SANKEY", BY_GENDER))
    assert parsed.scripts == []
    assert parsed.text_by_id["chart-message"].startswith("SANKEY needs two group levels")


def test_no_rows_gives_a_message_not_an_empty_chart():
    empty = {**BY_GENDER, "rows": []}
    parsed = parse(page_for("TIME", empty))
    assert parsed.text_by_id["chart-message"] == (
        "The query returned no rows, so there is nothing to draw."
    )
    assert parsed.text_by_id["time-range"] == "unknown (the query returned no rows)"


def test_unknown_chart_type_names_the_known_ones():
    view = build_view("PIE", BY_GENDER)
    assert view.figure is None
    assert view.message == f"Unknown chart type 'PIE'; use one of {', '.join(CHART_TYPES)}."


def test_not_found_page_escapes_the_rid():
    page = render_not_found("r1<script>")
    parsed = parse(page)
    assert parsed.text_by_id["rid"] == "r1<script>"
    assert parsed.scripts == []


def test_plotly_bundle_is_found_in_the_plotly_package():
    path = plotly_js_path()
    assert path.name == "plotly.min.js"
    assert path.stat().st_size > 1_000_000


def test_renders_an_engine_result_as_the_server_passes_it():
    con = duckdb.connect()
    now = datetime(2021, 3, 1)
    engine = Engine(con, Catalog([create_demo_table(con, events=2000, now=now)]), now=now)
    try:
        result = engine.run(
            "select count(*) from music group by gender for every day between 3 days ago and now"
        )
    finally:
        engine.close()
    record = {**RECORD, "chart_type": "TIME", "source_rid": None}
    figure = embedded_figure(render_explorer(record, dataclasses.asdict(result)))
    assert sorted(t["name"] for t in figure["data"]) == ["(null)", "F", "M"]
    assert all(len(t["x"]) == 3 for t in figure["data"])
    assert sum(sum(t["y"]) for t in figure["data"]) == sum(row[-1] for row in result.rows)
