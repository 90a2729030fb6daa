"""Every notebook in ``notebooks/`` runs headless, top to bottom, and saves small and secret-free.

Each notebook is executed once with nbclient in a fresh kernel, as a user would run it: it
starts its own emulator (``%scuba_connect --local``). One extra cell, dropped before saving,
asks that kernel for the emulator's token, so the tests can search the executed notebook, as
saved to disk (kept as a test artifact), for it. Widget state is saved as Jupyter saves it
(``metadata.widgets``), so the outputs of toolbar buttons clicked by a cell can be checked
without a browser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.notebook

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ["quickstart", "time-series", "explore-links", "scripting"]
TOKEN_PROBE = "from scuba_magic.magics import local_emulator\nprint(local_emulator().token, end='')"
PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# the banner of plotly.min.js, and what plotly's HTML renderers write around a copy of it
PLOTLY_JS_SIGNATURE = re.compile(r"plotly\.js v\d|Copyright 2012-\d{4}, Plotly|PlotlyConfig")
EXPLORER_LINK = re.compile(r'<a href="http://127\.0\.0\.1:\d+/explorer/(r\d+)" target="_blank"')


@dataclass
class Executed:
    """A notebook after its run: as saved, its text on disk, and the token it ran with."""

    nb: nbformat.NotebookNode
    path: Path
    text: str
    token: str


@pytest.fixture(scope="module")
def executed(
    tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path
) -> Iterator[Callable[[str], Executed]]:
    """``executed(name)`` runs ``notebooks/<name>.ipynb`` once per module and returns it."""
    runs: dict[str, Executed] = {}
    with pytest.MonkeyPatch.context() as env:
        # the kernel inherits this process's environment: nothing from the machine's own
        # Scuba setup, and an IPython profile of its own
        for name in ("SCUBA_HOST", "SCUBA_API_TOKEN", "SCUBA_PROFILE"):
            env.delenv(name, raising=False)
        home = tmp_path_factory.mktemp("notebook-home")
        env.setenv("SCUBA_MAGIC_CONFIG", str(home / "config.toml"))
        env.setenv("IPYTHONDIR", str(home / "ipython"))

        def run(name: str) -> Executed:
            if name not in runs:
                runs[name] = _execute(name, tmp_path_factory.mktemp(name), artifacts_dir)
            return runs[name]

        yield run


def _execute(name: str, workdir: Path, artifacts_dir: Path) -> Executed:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(TOKEN_PROBE))
    NotebookClient(
        nb,
        kernel_name="python3",
        timeout=180,
        resources={"metadata": {"path": str(workdir)}},
    ).execute()
    probe = nb.cells.pop()
    token = "".join(output.get("text", "") for output in probe.outputs)
    path = artifacts_dir / f"{name}.executed.ipynb"
    nbformat.write(nb, path)
    return Executed(nb=nb, path=path, text=path.read_text(encoding="utf-8"), token=token)


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def outputs_of(nb: nbformat.NotebookNode, source_start: str) -> list[dict]:
    [cell] = [c for c in code_cells(nb) if c.source.startswith(source_start)]
    return cell.outputs


def text_of(outputs: list[dict]) -> str:
    parts = []
    for output in outputs:
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def widget_outputs(nb: nbformat.NotebookNode) -> list[dict]:
    """The outputs held by every ``Output`` widget in the saved widget state."""
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    return [
        output
        for model in state.values()
        if model["model_name"] == "OutputModel"
        for output in model["state"].get("outputs", [])
    ]


# --- all notebooks --------------------------------------------------------------------


def test_the_tutorials_are_all_here():
    assert sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_the_repository_copy_has_no_outputs_and_starts_on_the_emulator(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    cells = code_cells(nb)
    assert [c.source for c in cells[:2]] == ["%load_ext scuba_magic", "%scuba_connect --local"]
    assert all(c.outputs == [] and c.execution_count is None for c in cells)
    assert "widgets" not in nb.metadata
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("name", NAMES)
def test_every_cell_runs_without_error(executed, name):
    run = executed(name)
    cells = code_cells(run.nb)
    assert all(cell.execution_count for cell in cells)
    errors = [o for c in cells for o in c.outputs if o["output_type"] == "error"]
    assert errors == []
    assert "Connected to the local Scuba emulator at http://127.0.0.1:" in text_of(
        outputs_of(run.nb, "%scuba_connect --local")
    )


@pytest.mark.parametrize("name", NAMES)
def test_the_saved_notebook_holds_no_token(executed, name):
    run = executed(name)
    assert len(run.token) >= 20  # the probe really read the emulator's token
    assert run.token not in run.text
    assert run.token not in json.dumps(json.loads(run.text))  # nor in an escaped form


@pytest.mark.parametrize("name", NAMES)
def test_no_copy_of_plotly_js_is_saved(executed, name):
    run = executed(name)
    assert PLOTLY_JS_SIGNATURE.search(run.text) is None


# --- quickstart -----------------------------------------------------------------------


def test_the_executed_quickstart_stays_small_with_its_charts(executed):
    run = executed("quickstart")
    assert run.path.stat().st_size < 1_000_000
    assert any(PLOTLY_MIMETYPE in output.get("data", {}) for output in widget_outputs(run.nb))


def test_clicked_toolbar_buttons_leave_a_chart_and_an_explore_link_in_the_widget_state(
    executed,
):
    run = executed("quickstart")
    printed = text_of(outputs_of(run.nb, "toolbar = _bql_toolbar"))
    rid = re.search(r"Explore link (r\d+): http://127\.0\.0\.1:\d+/explorer/\1\n", printed)
    assert rid, printed

    outputs = widget_outputs(run.nb)
    [figure] = [o["data"][PLOTLY_MIMETYPE] for o in outputs if PLOTLY_MIMETYPE in o.get("data", {})]
    assert {trace["name"] for trace in figure["data"]} >= {"F", "M"}  # one line per gender
    assert "plays" in figure["layout"]["title"]["text"]
    links = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert [EXPLORER_LINK.search(html).group(1) for html in links] == [rid.group(1)]
    assert "Daily plays by gender" in links[0]


def test_the_toolbar_shows_below_its_result(executed):
    run = executed("quickstart")
    outputs = outputs_of(run.nb, "%%bql\nselect count(*) as plays from music group by gender")
    kinds = [o["output_type"] for o in outputs]
    assert kinds == ["stream", "execute_result", "display_data"]
    assert "gender" in outputs[1]["data"]["text/html"]
    toolbar = outputs[2]["data"]
    assert "application/vnd.jupyter.widget-view+json" in toolbar
    # what GitHub and nbviewer show instead of the widget
    assert toolbar["text/plain"].startswith("Scuba result: 42 rows")


def test_the_quickstart_shows_what_it_says(executed):
    nb = executed("quickstart").nb
    [show_cell] = [c for c in nb.cells if c.source == "%scuba_connect"]
    assert "token from the local emulator" in text_of(show_cell.outputs)

    first = outputs_of(nb, "%%bql\nselect count(*) from foreverMusic")
    assert re.search(r"\d+ rows in \d+\.\d\d s from http://127\.0\.0\.1:\d+\.", text_of(first))
    results = [o for o in first if o["output_type"] == "execute_result"]
    assert "gender" in results[0]["data"]["text/html"]

    in_three = text_of(outputs_of(nb, "%%bql --no-widgets\nselect count(* where country in"))
    assert "songs_in_three_countries" in in_three

    link_html = "".join(
        o["data"].get("text/html", "")
        for o in outputs_of(nb, "link = %bql --explore")
        if "data" in o
    )
    assert EXPLORER_LINK.search(link_html)

    replayed = text_of(outputs_of(nb, "%scuba_rid {link.rid} replayed"))
    assert re.search(r"rows in .* stored in replayed\.", replayed)

    dry_run = text_of(outputs_of(nb, "%%bql --dry-run"))
    assert dry_run.startswith("Dry run: nothing was sent.")
    assert '-H "Authorization: Token $SCUBA_API_TOKEN"' in dry_run


# --- time-series, explore-links, scripting ---------------------------------------------


def test_the_time_series_tutorial_shows_windows_timezones_and_charts(executed):
    nb = executed("time-series").nb
    windows = text_of(outputs_of(nb, 'window = weekly_listeners["end_time_0"]'))
    assert windows.startswith("Each row covers 7 days 00:00:00.")
    week, daily_sum = (int(n.replace(",", "")) for n in re.findall(r"[\d,]{4,}", windows))
    assert 0 < week < daily_sum  # a week's listeners are fewer than the sum of its days

    assert text_of(outputs_of(nb, 'print(pacific["start_time_0"].dt.tz)')).startswith("US/Pacific")

    charts = [
        o["data"][PLOTLY_MIMETYPE]
        for cell in code_cells(nb)
        for o in cell.outputs
        if PLOTLY_MIMETYPE in o.get("data", {})
    ]
    assert len(charts) == 4
    notes = [a["text"] for chart in charts for a in chart["layout"].get("annotations", [])]
    assert any(note.startswith("3 of 5 groups") for note in notes)


def test_the_explore_links_tutorial_makes_every_chart_type(executed):
    nb = executed("explore-links").nb
    table = "".join(o["data"]["text/html"] for o in outputs_of(nb, "from html import escape"))
    for chart_type in ("TIME", "TABLE", "NUMBER", "BAR", "SUNBURST", "SCATTER", "SANKEY"):
        assert f"<td>{chart_type}</td>" in table
    assert len(EXPLORER_LINK.findall(table)) == 7

    links = [o["data"]["text/html"] for o in widget_outputs(nb) if "text/html" in o.get("data", {})]
    assert len(links) == 1 and "SUNBURST chart “Genres, last 30 days”" in links[0]
    printed = text_of(outputs_of(nb, '_bql_toolbar.chart_type.value = "SUNBURST"'))
    assert f"/explorer/{EXPLORER_LINK.search(links[0]).group(1)}\n" in printed


def test_the_scripting_tutorial_runs_its_job_and_the_command(executed):
    nb = executed("scripting").nb
    assert re.fullmatch(
        r"daily_songs: wrote 10 rows in \d+\.\d\d s\n\(exit status 0\)\n",
        text_of(outputs_of(nb, 'run_job(sys.executable, "daily_songs.py")')),
    )
    csv = text_of(
        outputs_of(
            nb, 'run_job(\n    sys.executable, "-m", "scuba_magic.cli", "query", "--format", "csv"'
        )
    )
    assert csv.startswith("platform,start_time_0,end_time_0,plays\n")
    assert csv.endswith("(exit status 0)\n")
    failed = text_of(
        outputs_of(
            nb,
            'run_job(sys.executable, "-m", "scuba_magic.cli", "query", '
            '"select count(*) from nosuchtable")',
        )
    )
    assert re.fullmatch(
        r"scuba-magic: error: [^\n]*unknown table[^\n]*\n\(exit status 1\)\n", failed
    )
