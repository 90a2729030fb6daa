"""The quickstart in JupyterLab, in headless Chromium: the toolbar's buttons, clicked for real.

The notebook runs as a user runs it (Run All); its kernel starts its own emulator. The test
then clicks **Plot time buckets** under the first result and sees plotly draw the chart in the
toolbar's output area, picks a chart type, clicks **Create explore link**, follows the link to
a new tab and sees the emulator's explorer page draw that chart.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"
FIRST_QUERY = "select count(*) from foreverMusic group by gender between 7 days ago and now"
DRAWN = ".js-plotly-plot .main-svg"
RUN_TIMEOUT_MS = 120_000
DRAW_TIMEOUT_MS = 30_000


@pytest.fixture
def quickstart_page(jupyterlab, page):
    """JupyterLab with the quickstart open and every cell run."""
    shutil.copy(QUICKSTART, jupyterlab.root_dir / "quickstart.ipynb")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(jupyterlab.url("quickstart.ipynb"))
    page.wait_for_function(
        "window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel",
        timeout=RUN_TIMEOUT_MS,
    )
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    # the last cell's output: every cell before it has run
    page.locator(".jp-OutputArea-output", has_text="Dry run: nothing was sent.").wait_for(
        timeout=RUN_TIMEOUT_MS
    )
    return page


def test_quickstart_toolbar_plots_and_makes_a_link_that_draws_the_chart(
    quickstart_page, screenshot
):
    page = quickstart_page
    cell = page.locator(".jp-CodeCell", has_text=FIRST_QUERY)
    assert cell.count() == 1
    output_area = cell.locator(".widget-output")  # the toolbar's output area
    cell.get_by_role("button", name="Plot time buckets").wait_for(timeout=DRAW_TIMEOUT_MS)
    assert output_area.locator(".js-plotly-plot").count() == 0  # nothing drawn before the click

    cell.get_by_role("button", name="Plot time buckets").click()
    output_area.locator(DRAWN).first.wait_for(timeout=DRAW_TIMEOUT_MS)
    # one bucket, grouped by gender: a bar chart with a bar per gender
    assert output_area.locator(".barlayer .point").count() >= 2
    cell.scroll_into_view_if_needed()
    screenshot(page, "jupyterlab-quickstart-plot")

    cell.locator("select").select_option("BAR")
    name_field = cell.get_by_placeholder("chart name (optional)")
    name_field.fill("Plays by gender")
    name_field.press("Enter")
    cell.get_by_role("button", name="Create explore link").click()
    link = output_area.locator(".scuba-explore-link a")
    link.wait_for(timeout=DRAW_TIMEOUT_MS)
    assert link.get_attribute("target") == "_blank"
    href = link.get_attribute("href")
    rid = re.fullmatch(r"http://127\.0\.0\.1:\d+/explorer/(r\d+)", href).group(1)
    assert rid in output_area.inner_text()
    screenshot(page, "jupyterlab-quickstart-link")

    with page.context.expect_page() as new_tab:
        link.click()
    explorer = new_tab.value
    explorer.wait_for_load_state()
    assert explorer.url == href
    explorer.locator(".barlayer .point").first.wait_for(timeout=DRAW_TIMEOUT_MS)
    assert explorer.locator("#chart-type").inner_text() == "BAR"
    assert explorer.locator("#chart-name").inner_text() == "Plays by gender"
    assert explorer.locator("#query").inner_text() == FIRST_QUERY
    assert (
        explorer.locator(".barlayer .point").count()
        == output_area.locator(".barlayer .point").count()
    )
    screenshot(explorer, "jupyterlab-quickstart-explorer")

    # the toolbar clicked from code by a later cell drew its time series in the browser too
    clicked_in_code = page.locator(".jp-CodeCell", has_text="toolbar = _bql_toolbar")
    chart = clicked_in_code.locator(f".widget-output {DRAWN}").first
    chart.wait_for(timeout=DRAW_TIMEOUT_MS)
    assert clicked_in_code.locator(".widget-output .scatterlayer .trace").count() >= 2
    clicked_in_code.scroll_into_view_if_needed()
    screenshot(page, "jupyterlab-quickstart-toolbar-from-code")
