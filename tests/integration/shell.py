"""An IPython shell for tests: errors are re-raised, history is off, IPYTHONDIR is a temp dir.

    shell = TestingShell.create(tmp_path)
    shell.run_cell("%load_ext scuba_magic")
    shell.run_cell("%%bql df\\nselect count(*) from music")   # raises what the cell raised

``run_cell`` goes through IPython's whole input path (magic syntax, var expansion, ``?`` help),
so a test sees what a notebook user would, and a failing cell fails the test with its own
exception instead of a printed traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config


class TestingShell(InteractiveShell):
    """``InteractiveShell`` whose ``run_cell`` raises the cell's exception."""

    __test__ = False  # not a test class, despite the name

    @classmethod
    def create(cls, ipython_dir: Path) -> TestingShell:
        """The process-wide shell (IPython shells are singletons), made on first call.

        Args:
            ipython_dir: where IPython may write its profile; never the user's ``~/.ipython``.
        """
        if cls.initialized():
            return cls.instance()
        ipython_dir.mkdir(parents=True, exist_ok=True)
        os.environ["IPYTHONDIR"] = str(ipython_dir)
        config = Config()
        config.HistoryManager.enabled = False
        config.HistoryManager.hist_file = ":memory:"
        return cls.instance(config=config, ipython_dir=str(ipython_dir))

    def run_cell(self, raw_cell: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        result = super().run_cell(raw_cell, *args, **kwargs)
        result.raise_error()
        return result

    def showtraceback(self, *args: Any, **kwargs: Any) -> None:
        # the error is re-raised by run_cell; printing it too would only clutter the output
        pass
