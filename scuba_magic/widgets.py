"""The toolbar under a query result: plot its time buckets or turn it into a Scuba explore link.

``%%bql`` and ``%scuba_rid`` show it below every data result (``--no-widgets`` turns it off)::

    [Plot time buckets] [Chart: TIME v] [chart name] [Create explore link]
    <output area: the chart, then the link>

From Python, for a result fetched without the magics::

    from scuba_magic.widgets import build_toolbar
    toolbar = build_toolbar(df, lambda chart_type, name: client.explore_url(
        df.attrs["scuba"]["bql"], chart_type=chart_type, chart_name=name))
    toolbar                       # as a cell's value
    toolbar.plot_button.click()   # the buttons also work from code

Charts are displayed as the plotly mimetype (``application/vnd.plotly.v1+json``) with a plain
text fallback, never as HTML with an embedded copy of plotly.js, so a saved notebook stays small;
JupyterLab, Notebook 7 and VS Code draw them with the renderer that ships with plotly.

Where widgets cannot be drawn (nbviewer, GitHub, a terminal) the toolbar's display falls back to
a static summary of the result: rows, time range, bucket width, measures and groups.

The explore link is made by a callable the caller supplies, so no credential is ever held in a
widget's state: only the chart type and name are widget values.
"""

from __future__ import annotations

import html
import json
import re
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import ipywidgets as widgets

from scuba_magic import plots
from scuba_magic.errors import ScubaError
from scuba_magic.protocol import CHART_TYPES

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from scuba_magic.client import ExploreLink

__all__ = [
    "CHART_TYPES",
    "PLOTLY_MIMETYPE",
    "CreateLink",
    "ResultToolbar",
    "build_toolbar",
    "display_figure",
    "figure_bundle",
    "static_summary",
]

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"

# What the Scuba UI calls the API's chart types where the names differ.
_CHART_TYPE_LABELS = {
    "TIME": "TIME (time view)",
    "SUNBURST": "SUNBURST (pie)",
    "SCATTER": "SCATTER (line)",
}

CreateLink = Callable[[str, "str | None"], "ExploreLink"]
"""``create_link(chart_type, chart_name)``: send the result's query again as an explore URL."""

_TAG = re.compile(r"<[^>]+>")


def figure_bundle(fig: go.Figure) -> dict[str, Any]:
    """The display data of a chart: the plotly mimetype and a one-line text fallback.

    No HTML and no plotly.js: the frontend's plotly renderer draws the figure.

    Args:
        fig: The figure.

    Returns:
        A mimebundle (mimetype -> data) for ``IPython.display.display(..., raw=True)``.
    """
    figure = json.loads(fig.to_json())
    figure["config"] = {"displaylogo": False, "responsive": True}
    title = fig.layout.title.text or "chart"
    plain_title = " ".join(_TAG.sub(" ", title).split())
    return {PLOTLY_MIMETYPE: figure, "text/plain": f"<plotly chart: {plain_title}>"}


def display_figure(fig: go.Figure) -> None:
    """Display a chart in the current cell's output as the plotly mimetype (for ``--plot``).

    Args:
        fig: The figure, e.g. from :func:`scuba_magic.plot_time_buckets`.
    """
    from IPython.display import display

    display(figure_bundle(fig), raw=True)


def static_summary(df: pd.DataFrame) -> str:
    """Describe a result in a few lines of text: rows, time range, buckets, measures, groups.

    Args:
        df: A result DataFrame.

    Returns:
        The summary, one fact per line.
    """
    return "\n".join(f"{name}: {value}" if name else value for name, value in _summary_lines(df))


def build_toolbar(
    df: pd.DataFrame, create_link: CreateLink | None, *, max_groups: int = 10
) -> ResultToolbar:
    """Make the toolbar for one result.

    Args:
        df: The result DataFrame.
        create_link: Called as ``create_link(chart_type, chart_name)`` when **Create explore
            link** is clicked; it sends the result's query (same bql or rid) with
            ``return_type: explore_url`` and returns an ``ExploreLink``. ``None`` disables the
            button (a DataFrame that did not come from a query).
        max_groups: Most groups a chart draws (see :func:`scuba_magic.plot_time_buckets`).

    Returns:
        The toolbar widget; display it or make it a cell's value.
    """
    return ResultToolbar(df, create_link, max_groups=max_groups)


class ResultToolbar(widgets.VBox):
    """Plot and explore-link buttons over an output area, for one result.

    Attributes:
        plot_button: **Plot time buckets**.
        chart_type: Dropdown of the seven explore chart types (value: ``"TIME"`` etc.).
        chart_name: Text field for the explore chart's name (blank: no name).
        link_button: **Create explore link**.
        output: The output area (an ``ipywidgets.Output``) holding the chart and the link.
        figure: The last chart drawn, or ``None``.
        link: The last ``ExploreLink`` made, or ``None``.
    """

    def __init__(
        self, df: pd.DataFrame, create_link: CreateLink | None, *, max_groups: int = 10
    ) -> None:
        self.plot_button = widgets.Button(
            description="Plot time buckets",
            icon="chart-line",
            tooltip="Draw the result's time buckets as a chart below",
            layout=widgets.Layout(width="auto"),
        )
        self.chart_type = widgets.Dropdown(
            options=[(_CHART_TYPE_LABELS.get(t, t), t) for t in CHART_TYPES],
            value="TIME",
            description="Chart",
            layout=widgets.Layout(width="230px"),
        )
        self.chart_name = widgets.Text(
            placeholder="chart name (optional)",
            layout=widgets.Layout(width="200px"),
        )
        self.link_button = widgets.Button(
            description="Create explore link",
            icon="link",
            tooltip="Send the same query to Scuba as an explore link with this chart type",
            layout=widgets.Layout(width="auto"),
        )
        self.output = widgets.Output()
        super().__init__(
            children=[
                widgets.HBox(
                    [self.plot_button, self.chart_type, self.chart_name, self.link_button],
                    layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
                ),
                self.output,
            ]
        )
        # Plain attributes, not traits: none of this is synced to the frontend or saved.
        self.dataframe = df
        self.figure: go.Figure | None = None
        self.link: ExploreLink | None = None
        self._create_link = create_link
        self._max_groups = max_groups
        self._chart_outputs: tuple[dict[str, Any], ...] = ()
        self._link_outputs: tuple[dict[str, Any], ...] = ()
        self.plot_button.on_click(self._on_plot)
        self.link_button.on_click(self._on_create_link)
        if create_link is None:
            self.link_button.disabled = True
            self.link_button.tooltip = "Only a result fetched from Scuba can become an explore link"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # Frontends that draw widgets use the widget view; the others show the summary.
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = static_summary(self.dataframe)
        bundle["text/html"] = _summary_html(self.dataframe)
        return bundle

    def _on_plot(self, _button: widgets.Button | None = None) -> None:
        try:
            figure = plots.plot_time_buckets(self.dataframe, max_groups=self._max_groups)
        except ValueError as exc:
            self._chart_outputs = (_error_line(f"Cannot plot: {exc}"),)
        except Exception as exc:  # noqa: BLE001 - a bug: show it where the user clicked
            self._chart_outputs = (_error_output(exc),)
        else:
            self.figure = figure
            self._chart_outputs = (_display_data(figure_bundle(figure)),)
        self._refresh()

    def _on_create_link(self, _button: widgets.Button | None = None) -> None:
        if self._create_link is None:
            return
        chart_type = self.chart_type.value
        chart_name = self.chart_name.value.strip() or None
        self.link_button.disabled = True
        self.link_button.description = "Creating link…"
        try:
            link = self._create_link(chart_type, chart_name)
        except (ScubaError, ValueError) as exc:
            self._link_outputs = (_error_line(f"Cannot create explore link: {exc}"),)
        except Exception as exc:  # noqa: BLE001 - a bug: show it where the user clicked
            self._link_outputs = (_error_output(exc),)
        else:
            self.link = link
            self._link_outputs = (_display_data(_link_bundle(link, chart_type, chart_name)),)
        finally:
            self.link_button.disabled = False
            self.link_button.description = "Create explore link"
        self._refresh()

    def _refresh(self) -> None:
        # Setting the Output widget's outputs directly (rather than capturing with
        # `with output:`) works the same in a kernel, in nbclient and in a plain process.
        self.output.outputs = self._chart_outputs + self._link_outputs


def _display_data(bundle: dict[str, Any]) -> dict[str, Any]:
    return {"output_type": "display_data", "data": bundle, "metadata": {}}


def _error_line(message: str) -> dict[str, Any]:
    """One line of stderr: how a failed action shows, with no traceback."""
    return {"output_type": "stream", "name": "stderr", "text": " ".join(message.split()) + "\n"}


def _error_output(exc: BaseException) -> dict[str, Any]:
    return {
        "output_type": "error",
        "ename": type(exc).__name__,
        "evalue": str(exc),
        "traceback": traceback.format_exception(type(exc), exc, exc.__traceback__),
    }


def _link_bundle(link: ExploreLink, chart_type: str, chart_name: str | None) -> dict[str, Any]:
    """The link as HTML (opens in a new tab), its rid, and the URL as copyable text."""
    url = str(link.url)
    rid = str(link.rid) if link.rid else "unknown"
    what = f"{chart_type} chart" + (f" “{chart_name}”" if chart_name else "")
    plain = f"Explore link ({what}, rid {rid}): {url}"
    # Only a web address becomes a link; anything else the server sent is shown as text.
    if urlsplit(url).scheme in ("http", "https"):
        anchor = (
            f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">'
            f"Open {html.escape(what)} in Scuba</a>"
        )
    else:
        anchor = f"Not a web address: {html.escape(what)}"
    markup = (
        '<div class="scuba-explore-link">'
        f"{anchor} · rid <code>{html.escape(rid)}</code><br>"
        f'<code style="user-select: all">{html.escape(url)}</code>'
        "</div>"
    )
    return {"text/html": markup, "text/plain": plain}


def _summary_lines(df: pd.DataFrame) -> list[tuple[str, str]]:
    shape = plots.describe_result(df)
    if shape.buckets:
        time_range = plots.format_time_range(shape.start, shape.end)
        buckets = f"{shape.buckets} × {plots.format_buckets(shape)}"
    elif plots.START_COLUMN in df.columns:
        time_range = buckets = "none (no rows)"
    else:
        time_range = buckets = f"none (no {plots.START_COLUMN} column)"
    return [
        ("", f"Scuba result: {shape.rows:,} row{'' if shape.rows == 1 else 's'}"),
        ("time range", time_range),
        ("buckets", buckets),
        ("measures", ", ".join(map(str, shape.measures)) or "(none)"),
        ("groups", ", ".join(map(str, shape.groups)) or "(none)"),
    ]


def _summary_html(df: pd.DataFrame) -> str:
    lines = _summary_lines(df)
    title = html.escape(lines[0][1])
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
        f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
        for name, value in lines[1:]
    )
    return f"<div class='scuba-summary'><b>{title}</b><table>{rows}</table></div>"
