"""``scuba_magic.notebook_demo``: the demo command's headless run of the quickstart."""

from __future__ import annotations

import io
import re

import nbformat
import pytest

from scuba_magic.notebook_demo import NotebookDemoError, find_notebook, run_quickstart

pytestmark = pytest.mark.notebook


def test_run_quickstart_prints_the_run_and_saves_the_executed_notebook(tmp_path):
    transcript = io.StringIO()
    path = run_quickstart(tmp_path / "demo", out=transcript)

    assert path == tmp_path / "demo" / "quickstart.ipynb"
    nb = nbformat.read(path, as_version=4)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code_cells)
    assert nb.metadata["widgets"]  # the toolbar clicked by the notebook is saved with it

    text = transcript.getvalue()
    assert text.startswith(f"Running {find_notebook()} in a new Python kernel...\n")
    assert "\n# scuba-magic quickstart\n" in text  # the tutorial's words come with its code
    assert "\nIn [2]: %scuba_connect --local\n" in text
    assert re.search(r"\nIn \[4\]: %%bql\n        select count\(\*\) from foreverMusic", text)
    assert re.search(r"\nExplore link r\d+: http://127\.0\.0\.1:\d+/explorer/r\d+\n", text)
    assert text.index("## Next") > text.index("In [4]:")  # trailing markdown comes last
    assert text.rstrip().endswith("plot a result, make an explore link.")
    assert f"The executed notebook is {path}." in text


def test_a_missing_notebook_says_where_the_notebooks_come_from():
    with pytest.raises(NotebookDemoError, match=r"no-such\.ipynb .*clone it"):
        find_notebook("no-such.ipynb")
