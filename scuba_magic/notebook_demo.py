"""Run the quickstart notebook headless against the embedded emulator, for the demo command.

The quickstart (``notebooks/quickstart.ipynb`` in a checkout of the repository) starts its
own emulator with ``%scuba_connect --local``, so running it needs no cluster and no token::

    from scuba_magic.notebook_demo import run_quickstart
    path = run_quickstart("demo-output")   # prints the notebook as it runs, cell by cell

The executed notebook is written to the output folder, to open in JupyterLab, Notebook 7 or
VS Code, where the toolbar's buttons and charts are live. Running it needs ``nbclient`` and
``ipykernel`` (``pip install 'scuba-magic[notebook]'``).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

__all__ = ["NotebookDemoError", "find_notebook", "run_quickstart"]

QUICKSTART = "quickstart.ipynb"
DEMO_KERNEL = "scuba-magic-demo"
INSTALL_HINT = "pip install 'scuba-magic[notebook]'"


class NotebookDemoError(Exception):
    """The quickstart cannot be run here: a package or the notebook itself is missing."""


def find_notebook(name: str = QUICKSTART) -> Path:
    """The path of a notebook of the repository's ``notebooks/`` folder.

    The notebooks are not part of the installed package: they are found next to it in a
    checkout installed with ``pip install -e``.

    Args:
        name: The notebook's file name.

    Returns:
        The notebook's path.

    Raises:
        NotebookDemoError: If the package is not installed from a checkout.
    """
    path = Path(__file__).resolve().parent.parent / "notebooks" / name
    if not path.is_file():
        raise NotebookDemoError(
            f"The notebook {name} is not next to this installation of scuba-magic ({path} does "
            "not exist). The notebooks come with the source repository: clone it and install "
            "it with `pip install -e '.[emulator,notebook]'`, then run the demo again."
        )
    return path


def run_quickstart(out_dir: str | Path, *, out: TextIO | None = None, timeout: float = 180) -> Path:
    """Execute the quickstart notebook in a new kernel and save the executed copy.

    Args:
        out_dir: Folder for the executed notebook (created if missing); the kernel runs there.
        out: Where to print the notebook as it runs (default: standard output); cells'
            markdown, code and text outputs, in order.
        timeout: Most seconds any one cell may take.

    Returns:
        The path of the executed notebook, ``<out_dir>/quickstart.ipynb``.

    Raises:
        NotebookDemoError: If nbclient or ipykernel is missing, the notebook is not found, or
            a cell fails (the message names the cell and its error).
    """
    out = sys.stdout if out is None else out
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
    except ModuleNotFoundError as exc:
        raise NotebookDemoError(
            f"Running the quickstart needs {exc.name}, which is not installed: {INSTALL_HINT}"
        ) from None
    try:
        import ipykernel  # noqa: F401 - the kernel the notebook runs in
    except ModuleNotFoundError:
        raise NotebookDemoError(
            f"Running the quickstart needs ipykernel, which is not installed: {INSTALL_HINT}"
        ) from None

    source = find_notebook(QUICKSTART)
    target_dir = Path(out_dir).expanduser().resolve()
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / QUICKSTART
    nb = nbformat.read(source, as_version=4)
    print(f"Running {source} in a new Python kernel...\n", file=out, flush=True)
    transcript = _Transcript(nb.cells, out)
    with tempfile.TemporaryDirectory(prefix="scuba-magic-kernel-") as kernels:
        client = NotebookClient(
            nb,
            km=_this_python_kernel(Path(kernels)),
            timeout=int(timeout),
            resources={"metadata": {"path": str(target_dir)}},
            on_cell_executed=transcript.cell_executed,
        )
        try:
            # the kernel manager is ours, so ask for the kernel to be shut down at the end
            client.execute(cleanup_kc=True)
        except CellExecutionError as exc:
            nbformat.write(nb, target)
            raise NotebookDemoError(
                f"A cell of the quickstart failed; the notebook as far as it ran is in {target}."
                f"\n{exc}"
            ) from None
    transcript.finish()
    nbformat.write(nb, target)
    print(
        f"\nThe executed notebook is {target}.\nOpen it in JupyterLab, Notebook 7 or VS Code and "
        "run it again to click the toolbar's buttons: plot a result, make an explore link.",
        file=out,
        flush=True,
    )
    return target


def _this_python_kernel(kernels_dir: Path) -> Any:
    """A kernel manager for an IPython kernel of this very Python, where scuba-magic is.

    A kernel named ``python3`` could be another Python: ``ipykernel install --user`` makes one.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = kernels_dir / DEMO_KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (scuba-magic demo)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(kernels_dir)])
    return KernelManager(kernel_name=DEMO_KERNEL, kernel_spec_manager=specs)


class _Transcript:
    """Prints the notebook as it runs: each code cell with its outputs, after the markdown
    cells that come before it (markdown cells are not executed, so they have no event)."""

    def __init__(self, cells: list[Any], out: TextIO) -> None:
        self._cells = cells
        self._out = out
        self._printed = 0  # cells[:_printed] are printed

    def cell_executed(self, cell: Any, cell_index: int, **_: Any) -> None:
        self._print_markdown(cell_index)
        count = cell.get("execution_count") or " "
        prompt = f"In [{count}]: "
        lines = cell.source.splitlines() or [""]
        self._print(prompt + lines[0])
        for line in lines[1:]:
            self._print(" " * len(prompt) + line)
        for text in _output_texts(cell.outputs):
            self._print(text.rstrip("\n"))
        self._print("")
        self._printed = cell_index + 1

    def finish(self) -> None:
        self._print_markdown(len(self._cells))

    def _print_markdown(self, until: int) -> None:
        for cell in self._cells[self._printed : until]:
            if cell.cell_type == "markdown":
                self._print(cell.source.rstrip() + "\n")
        self._printed = max(self._printed, until)

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)


def _output_texts(outputs: list[Any]) -> list[str]:
    texts = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            texts.append(output.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            text = output.get("data", {}).get("text/plain")
            if text:
                texts.append(text)
        elif kind == "error":
            texts.append(f"{output.get('ename')}: {output.get('evalue')}")
    return texts
