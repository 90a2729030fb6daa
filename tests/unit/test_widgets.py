"""The result toolbar, driven with ``Button.click()`` and checked on its output area."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from ipywidgets.embed import dependency_state

from scuba_magic import plot_time_buckets
from scuba_magic.client import ExploreLink
from scuba_magic.errors import QueryError, RateLimitError
from scuba_magic.widgets import (
    CHART_TYPES,
    PLOTLY_MIMETYPE,
    build_toolbar,
    figure_bundle,
    static_summary,
)

COUNT = "count of events"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
TOKEN = "tok-3f9a1c77-do-not-leak"


def weekly_result(days: int = 7) -> pd.DataFrame:
    """Daily counts by gender, shaped like frames.py makes them."""
    starts = pd.date_range("2026-11-01", periods=days, freq="D", tz="UTC", unit="ms")
    rows = [
        {"gender": g, "start_time_0": s, "end_time_0": s + pd.Timedelta(days=1), COUNT: i + n}
        for n, g in enumerate(["F", "M", None])
        for i, s in enumerate(starts)
    ]
    df = pd.DataFrame(rows)
    df.attrs["scuba"] = {
        "host": "http://127.0.0.1:8080",
        "bql": "select count(*) from music group by gender between 7 days ago and now",
        "result_format": "JSON_POWER_BI",
        "measures": [COUNT],
        "groups": ["gender"],
        "timezone": None,
        "rows": len(df),
    }
    return df


class LinkMaker:
    """A create_link callable like the magics' closure: it holds a token it must never leak."""

    def __init__(
        self, error: Exception | None = None, url: str = "http://127.0.0.1:8080/explorer/r12"
    ):
        self._token = TOKEN
        self.error = error
        self.url = url
        self.calls: list[tuple[str, str | None]] = []
        self.button_disabled_during_call: bool | None = None
        self.toolbar = None

    def __call__(self, chart_type: str, chart_name: str | None) -> ExploreLink:
        self.calls.append((chart_type, chart_name))
        if self.toolbar is not None:
            self.button_disabled_during_call = self.toolbar.link_button.disabled
        if self.error is not None:
            raise self.error
        return ExploreLink(url=self.url, rid=self.url.rsplit("/", 1)[-1])


def toolbar_with(maker: LinkMaker, df: pd.DataFrame | None = None, **kwargs):
    toolbar = build_toolbar(weekly_result() if df is None else df, maker, **kwargs)
    maker.toolbar = toolbar
    return toolbar


def test_toolbar_has_the_buttons_dropdown_name_and_output_area() -> None:
    toolbar = toolbar_with(LinkMaker())
    assert toolbar.plot_button.description == "Plot time buckets"
    assert toolbar.link_button.description == "Create explore link"
    assert [value for _, value in toolbar.chart_type.options] == list(CHART_TYPES)
    assert CHART_TYPES == ("TIME", "TABLE", "SANKEY", "NUMBER", "BAR", "SUNBURST", "SCATTER")
    assert toolbar.chart_type.value == "TIME"
    assert toolbar.chart_name.value == ""
    assert toolbar.output.outputs == ()
    assert toolbar.children[-1] is toolbar.output


def test_plot_shows_the_figure_as_plotly_mimetype_without_plotly_js() -> None:
    df = weekly_result()
    toolbar = toolbar_with(LinkMaker(), df)
    toolbar.plot_button.click()
    (output,) = toolbar.output.outputs
    assert output["output_type"] == "display_data"
    assert set(output["data"]) == {PLOTLY_MIMETYPE, "text/plain"}
    figure = output["data"][PLOTLY_MIMETYPE]
    assert [trace["name"] for trace in figure["data"]] == ["(null)", "M", "F"]
    assert figure["layout"]["title"]["text"] == plot_time_buckets(df).layout.title.text
    assert "1 day buckets" in output["data"]["text/plain"]
    serialized = json.dumps(output)
    assert "<script" not in serialized
    assert "Plotly.newPlot" not in serialized
    assert toolbar.figure is not None


def test_plot_again_replaces_the_chart() -> None:
    toolbar = toolbar_with(LinkMaker())
    toolbar.plot_button.click()
    toolbar.plot_button.click()
    assert len(toolbar.output.outputs) == 1


def test_plot_of_an_empty_result_is_one_line() -> None:
    empty = weekly_result().iloc[0:0]
    toolbar = toolbar_with(LinkMaker(), empty)
    toolbar.plot_button.click()
    (output,) = toolbar.output.outputs
    assert output["output_type"] == "stream"
    assert output["name"] == "stderr"
    assert output["text"].startswith("Cannot plot: no rows to plot")
    assert output["text"].count("\n") == 1


def test_plot_respects_max_groups() -> None:
    toolbar = toolbar_with(LinkMaker(), max_groups=2)
    toolbar.plot_button.click()
    figure = toolbar.output.outputs[0]["data"][PLOTLY_MIMETYPE]
    assert len(figure["data"]) == 2
    assert figure["layout"]["annotations"][0]["text"].startswith("2 of 3 groups")


def test_create_link_sends_chart_type_and_name_and_shows_link_rid_and_text() -> None:
    maker = LinkMaker()
    toolbar = toolbar_with(maker)
    toolbar.chart_type.value = "SUNBURST"
    toolbar.chart_name.value = "  Plays by gender "
    toolbar.link_button.click()
    assert maker.calls == [("SUNBURST", "Plays by gender")]
    assert maker.button_disabled_during_call is True
    assert toolbar.link_button.disabled is False
    (output,) = toolbar.output.outputs
    markup = output["data"]["text/html"]
    assert (
        '<a href="http://127.0.0.1:8080/explorer/r12" target="_blank" rel="noopener noreferrer">'
        in markup
    )
    assert "<code>r12</code>" in markup
    assert ">http://127.0.0.1:8080/explorer/r12</code>" in markup
    assert output["data"]["text/plain"].endswith("rid r12): http://127.0.0.1:8080/explorer/r12")
    assert toolbar.link == ExploreLink("http://127.0.0.1:8080/explorer/r12", "r12")


def test_blank_chart_name_is_sent_as_none() -> None:
    maker = LinkMaker()
    toolbar = toolbar_with(maker)
    toolbar.chart_name.value = "   "
    toolbar.link_button.click()
    assert maker.calls == [("TIME", None)]


def test_link_shows_below_the_chart() -> None:
    toolbar = toolbar_with(LinkMaker())
    toolbar.plot_button.click()
    toolbar.link_button.click()
    kinds = [next(iter(o["data"])) for o in toolbar.output.outputs]
    assert kinds == [PLOTLY_MIMETYPE, "text/html"]


@pytest.mark.parametrize(
    "error",
    [
        RateLimitError("Scuba's rate limit was reached.\nWait 30 s and try again.", status=429),
        QueryError("The server rejected the query: unknown table 'musik'.", status=400),
    ],
)
def test_create_link_error_is_one_line_and_keeps_the_chart(error: Exception) -> None:
    toolbar = toolbar_with(LinkMaker(error=error))
    toolbar.plot_button.click()
    toolbar.link_button.click()
    chart, line = toolbar.output.outputs
    assert PLOTLY_MIMETYPE in chart["data"]
    assert line["output_type"] == "stream"
    assert line["text"].startswith("Cannot create explore link: ")
    assert " ".join(str(error).split()) in line["text"]
    assert line["text"].count("\n") == 1
    assert "Traceback" not in line["text"]
    assert toolbar.link_button.disabled is False
    assert toolbar.link_button.description == "Create explore link"
    assert toolbar.link is None


def test_unexpected_failure_shows_as_an_error_in_the_output_area() -> None:
    toolbar = toolbar_with(LinkMaker(error=RuntimeError("bug in the link maker")))
    toolbar.link_button.click()
    (output,) = toolbar.output.outputs
    assert output["output_type"] == "error"
    assert (output["ename"], output["evalue"]) == ("RuntimeError", "bug in the link maker")


def test_a_link_that_is_not_a_web_address_is_not_clickable() -> None:
    toolbar = toolbar_with(LinkMaker(url="javascript:alert(1)//r5"))
    toolbar.link_button.click()
    markup = toolbar.output.outputs[0]["data"]["text/html"]
    assert "<a " not in markup
    assert "javascript:alert(1)//r5" in markup


def test_chart_name_is_escaped_in_the_link_html() -> None:
    toolbar = toolbar_with(LinkMaker())
    toolbar.chart_name.value = "<img src=x onerror=alert(1)>"
    toolbar.link_button.click()
    markup = toolbar.output.outputs[0]["data"]["text/html"]
    assert "<img" not in markup
    assert "&lt;img src=x onerror=alert(1)&gt;" in markup


def test_without_create_link_the_link_button_is_disabled() -> None:
    toolbar = build_toolbar(weekly_result(), None)
    assert toolbar.link_button.disabled is True
    toolbar.plot_button.click()
    assert PLOTLY_MIMETYPE in toolbar.output.outputs[0]["data"]


def test_widget_state_never_holds_the_token() -> None:
    maker = LinkMaker()
    toolbar = toolbar_with(maker)
    toolbar.plot_button.click()
    toolbar.link_button.click()
    state = json.dumps(dependency_state(toolbar, drop_defaults=False))
    assert "http://127.0.0.1:8080/explorer/r12" in state  # the state was really collected
    assert TOKEN not in state


def test_display_falls_back_to_a_static_summary_without_widgets() -> None:
    toolbar = toolbar_with(LinkMaker())
    bundle = toolbar._repr_mimebundle_()
    assert bundle[WIDGET_VIEW]["model_id"] == toolbar.model_id
    assert bundle["text/plain"] == static_summary(toolbar.dataframe)
    markup = bundle["text/html"]
    for fact in ("21 rows", "2026-11-01 – 2026-11-08 (UTC)", "7 × 1 day", COUNT, "gender"):
        assert fact in markup


def test_static_summary_lists_rows_range_buckets_measures_and_groups() -> None:
    assert static_summary(weekly_result()).splitlines() == [
        "Scuba result: 21 rows",
        "time range: 2026-11-01 – 2026-11-08 (UTC)",
        "buckets: 7 × 1 day",
        f"measures: {COUNT}",
        "groups: gender",
    ]


def test_static_summary_of_a_frame_without_time_columns() -> None:
    df = pd.DataFrame({"artist": ["a", "b"], "plays": [3, 4]})
    lines = static_summary(df).splitlines()
    assert lines[0] == "Scuba result: 2 rows"
    assert lines[1] == "time range: none (no start_time_0 column)"
    assert lines[3:] == ["measures: plays", "groups: artist"]


def test_static_summary_of_an_empty_result() -> None:
    lines = static_summary(weekly_result().iloc[0:0]).splitlines()
    assert lines[:3] == [
        "Scuba result: 0 rows",
        "time range: none (no rows)",
        "buckets: none (no rows)",
    ]
    assert lines[3:] == [f"measures: {COUNT}", "groups: gender"]


def test_static_summary_of_one_row_says_row() -> None:
    df = weekly_result(days=1).iloc[:1]
    assert static_summary(df).splitlines()[:3] == [
        "Scuba result: 1 row",
        "time range: 2026-11-01 – 2026-11-02 (UTC)",
        "buckets: 1 × 1 day",
    ]


def test_figure_bundle_is_json_ready_plotly_data_with_a_text_title() -> None:
    fig = plot_time_buckets(weekly_result())
    bundle = figure_bundle(fig)
    assert set(bundle) == {PLOTLY_MIMETYPE, "text/plain"}
    json.dumps(bundle)  # JSON-ready: a kernel sends it as is
    assert bundle[PLOTLY_MIMETYPE]["config"]["displaylogo"] is False
    assert bundle["text/plain"].startswith(f"<plotly chart: {COUNT} by gender 1 day buckets")
