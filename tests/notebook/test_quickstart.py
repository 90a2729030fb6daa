"""``notebooks/quickstart.ipynb`` runs headless, top to bottom, and never shows the token.

The notebook starts its own emulator in the kernel (``%scuba_connect --local``); after the run
the test asks that same kernel for the emulator's token and searches the executed notebook,
as saved to disk, for it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.notebook

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"
TOKEN_PROBE = "import scuba_magic.magics as m\nprint(m._local_emulator.token, end='')"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> tuple[Path, str]:
    """The executed notebook's path, and the token of the emulator it ran against."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # one extra cell reads the token in the same kernel; it is dropped before saving
    nb.cells.append(nbformat.v4.new_code_cell(TOKEN_PROBE))
    workdir = tmp_path_factory.mktemp("quickstart")
    NotebookClient(
        nb,
        kernel_name="python3",
        timeout=180,
        resources={"metadata": {"path": str(workdir)}},
    ).execute()
    probe = nb.cells.pop()
    token = "".join(o.get("text", "") for o in probe.outputs)
    path = artifacts_dir / "quickstart.executed.ipynb"
    nbformat.write(nb, path)
    return path, token


def outputs_of(nb: nbformat.NotebookNode, source_start: str) -> list[dict]:
    [cell] = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start)]
    return cell.outputs


def text_of(outputs: list[dict]) -> str:
    parts = []
    for output in outputs:
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def test_the_saved_notebook_holds_no_token(executed):
    path, token = executed
    assert len(token) >= 20  # the probe really read the emulator's token
    saved = path.read_text(encoding="utf-8")
    assert token not in saved
    assert token not in json.dumps(json.loads(saved))  # nor in an escaped form


def test_every_cell_ran_without_error(executed):
    nb = nbformat.read(executed[0], as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells)
    errors = [o for c in code_cells for o in c.outputs if o["output_type"] == "error"]
    assert errors == []


def test_the_tutorial_shows_what_it_says(executed):
    nb = nbformat.read(executed[0], as_version=4)
    connected = text_of(outputs_of(nb, "%scuba_connect --local"))
    assert "Connected to the local Scuba emulator at http://127.0.0.1:" in connected

    [show_cell] = [c for c in nb.cells if c.source == "%scuba_connect"]
    shown = text_of(show_cell.outputs)
    assert "token from the local emulator" in shown

    first = outputs_of(nb, "%%bql\nselect count(*) from foreverMusic")
    assert re.search(r"\d+ rows in \d+\.\d\d s from http://127\.0\.0\.1:\d+\.", text_of(first))
    results = [o for o in first if o["output_type"] == "execute_result"]
    assert "gender" in results[0]["data"]["text/html"]

    in_three = text_of(outputs_of(nb, "%%bql --no-widgets\nselect count(* where country in"))
    assert "songs_in_three_countries" in in_three

    link_html = "".join(
        o["data"].get("text/html", "") for o in outputs_of(nb, "link = %bql --explore")
        if "data" in o
    )
    assert re.search(r'<a href="http://127\.0\.0\.1:\d+/explorer/r\d+" target="_blank"', link_html)

    replayed = text_of(outputs_of(nb, "%scuba_rid {link.rid} replayed"))
    assert re.search(r"rows in .* stored in replayed\.", replayed)

    dry_run = text_of(outputs_of(nb, "%%bql --dry-run"))
    assert dry_run.startswith("Dry run: nothing was sent.")
    assert '-H "Authorization: Token $SCUBA_API_TOKEN"' in dry_run
