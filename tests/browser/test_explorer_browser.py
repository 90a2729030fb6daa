"""The emulator's explorer page in headless Chromium: every chart type is drawn for real."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.browser

DRAWN = ".js-plotly-plot .main-svg"

# chart type -> (query, CSS selector of one drawn mark, how many marks; None: one per node,
# i.e. per distinct group value of each level, counted from the API's data)
CHARTS = {
    "TIME": (
        "select count(*) from music group by gender for every day between 14 days ago and now",
        ".scatterlayer .trace",
        3,
    ),
    "TABLE": (
        "select count(*), avg(length) from music group by country limit 8",
        "#result-table tbody tr",
        8,
    ),
    "BAR": ("select count(*) from music group by platform", ".barlayer .point", 5),
    "SUNBURST": ("select count(*) from music group by genre limit 6", ".pielayer .slice", 6),
    "NUMBER": ("select count(*) from music", ".big-number .value", 1),
    "SCATTER": ("select count(*) from music group by level", ".scatterlayer .trace", 1),
    "SANKEY": (
        "select count(*) from music group by country limit 4 and by platform limit 3",
        ".sankey .sankey-node",
        None,
    ),
}


def query_rows(emulator, bql: str) -> list[dict]:
    response = requests.post(
        f"{emulator.url}/v1/query",
        json={"bql": bql, "result_format": "JSON_POWER_BI"},
        headers={"Authorization": f"Token {emulator.token}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()


def explore_url(emulator, bql: str, chart_type: str, name: str) -> str:
    response = requests.post(
        f"{emulator.url}/v1/query",
        json={
            "bql": bql,
            "return_type": "explore_url",
            "chart_options": {"name": name, "type": chart_type.lower()},
        },
        headers={"Authorization": f"Token {emulator.token}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()["url"]


def watch_for_errors(page) -> list[str]:
    """Collect script errors and console errors (a CSP violation is one)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda message: (
            errors.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return errors


@pytest.mark.parametrize("chart_type", list(CHARTS))
def test_explorer_draws_each_chart_type(emulator, page, screenshot, chart_type):
    bql, mark, count = CHARTS[chart_type]
    if count is None:
        rows = query_rows(emulator, bql)
        count = len({r["country"] for r in rows}) + len({r["platform"] for r in rows})
    name = f"{chart_type.title()} chart of the demo data"
    url = explore_url(emulator, bql, chart_type, name)
    errors = watch_for_errors(page)

    response = page.goto(url)
    assert response.status == 200
    page.locator(mark).first.wait_for(timeout=20_000)

    assert page.locator("#chart-name").inner_text() == name
    assert page.locator("#query").inner_text() == bql
    assert page.locator("#chart-type").inner_text() == chart_type
    assert " to " in page.locator("#time-range").inner_text()
    assert page.locator(mark).count() == count
    if chart_type not in ("TABLE", "NUMBER"):
        assert page.locator(DRAWN).count() >= 1
    screenshot(page, f"explorer-{chart_type.lower()}")
    assert errors == []


def test_number_shows_the_count_the_api_returns(emulator, page):
    bql = "select count(*) from music"
    data = query_rows(emulator, bql)
    page.goto(explore_url(emulator, bql, "NUMBER", "Total"))
    shown = page.locator("#number-0 .value").inner_text()
    assert int(shown.replace(",", "")) == int(data[0]["count of events"]) > 0


def test_sankey_with_one_group_level_shows_a_message(emulator, page, screenshot):
    url = explore_url(emulator, "select count(*) from music group by gender", "SANKEY", "One level")
    page.goto(url)
    message = page.locator("#chart-message")
    assert message.inner_text().startswith("SANKEY needs two group levels")
    assert page.locator(DRAWN).count() == 0
    screenshot(page, "explorer-sankey-one-level")


def test_hostile_chart_name_is_shown_as_text_and_never_runs(emulator, page, screenshot):
    name = '<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script>'
    url = explore_url(emulator, "select count(*) from music group by gender", "TIME", name)
    errors = watch_for_errors(page)
    page.goto(url)
    page.locator(f"{DRAWN}").first.wait_for(timeout=20_000)
    assert page.locator("#chart-name").inner_text() == name
    assert page.evaluate("window.__pwned") is None
    assert page.locator("header img").count() == 0
    screenshot(page, "explorer-hostile-name")
    assert errors == []


def test_unknown_rid_gets_a_404_page(emulator, page):
    response = page.goto(f"{emulator.url}/explorer/r987654")
    assert response.status == 404
    assert "r987654" in page.locator("#not-found-message").inner_text()
