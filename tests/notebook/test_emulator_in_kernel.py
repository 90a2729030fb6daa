"""The embedded emulator inside a real Jupyter kernel, as ``%scuba_connect --local`` runs it."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

PROBE = """\
import duckdb
from scuba_magic.emulator import Emulator

setting = "select current_setting('enable_progress_bar')"
plain = duckdb.connect().execute(setting).fetchone()[0]
with Emulator(demo_events=1_000) as emulator:
    embedded = emulator.connection.execute(setting).fetchone()[0]
print(plain, embedded)
"""


def test_duckdb_draws_no_progress_widget_for_the_emulator_in_a_kernel(tmp_path):
    # In a kernel DuckDB turns its ipywidgets progress bar on for every new connection, so
    # generating the demo table put a stray progress bar into the user's notebook.
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
    NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    printed = "".join(o.get("text", "") for o in notebook.cells[0].outputs)
    assert printed.split() == ["True", "False"]
