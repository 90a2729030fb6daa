"""Fixtures for the reliability tests: the integration fixtures, a shell, and the long mode.

The emulator fixtures (``emulator``, ``fresh_emulator``, ``client``, ``api``, ``api_for``) are
the integration tier's own, imported from ``tests/integration/conftest.py`` so both tiers
start emulators the same way; the loopback ``RecordingServer`` and the ``TestingShell`` come
from the same folder.

``budget.py`` sets how long the fuzz and load tests run (``SCUBA_MAGIC_LONG_TESTS=1`` for the
long mode).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_INTEGRATION = Path(__file__).resolve().parent.parent / "integration"
if str(_INTEGRATION) not in sys.path:
    # recording_server.py and shell.py are imported by name, as the integration tests do
    sys.path.insert(0, str(_INTEGRATION))


def _load_integration_fixtures() -> Any:
    # a module name of its own: "conftest" is already the name pytest gave another conftest
    spec = importlib.util.spec_from_file_location(
        "scuba_magic_integration_fixtures", _INTEGRATION / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fixtures = _load_integration_fixtures()
emulator = _fixtures.emulator
fresh_emulator = _fixtures.fresh_emulator
client = _fixtures.client
api = _fixtures.api
api_for = _fixtures.api_for
fixed_now = _fixtures.fixed_now
Api = _fixtures.Api
FIXED_NOW = _fixtures.FIXED_NOW


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No host, token or profile from the machine running the tests."""
    for name in ("SCUBA_HOST", "SCUBA_API_TOKEN", "SCUBA_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config.toml"
    monkeypatch.setenv("SCUBA_MAGIC_CONFIG", str(config))
    return config


@pytest.fixture(scope="session")
def ipython(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The process-wide testing shell (IPython allows one per process)."""
    from shell import TestingShell

    return TestingShell.create(tmp_path_factory.mktemp("ipython"))


@pytest.fixture
def bare_shell(ipython: Any, isolated_env: Path) -> Iterator[Any]:
    """The shell with the extension loaded and no connection; unloaded afterwards."""
    ipython.user_ns.clear()
    ipython.init_user_ns()
    ipython.config.pop("ScubaMagics", None)
    ipython.extension_manager.load_extension("scuba_magic")
    yield ipython
    ipython.extension_manager.unload_extension("scuba_magic")


@pytest.fixture
def shell(bare_shell: Any, fresh_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shell connected to the session emulator, result widgets off."""
    from IPython.utils.capture import capture_output

    monkeypatch.setenv("SCUBA_API_TOKEN", fresh_emulator.token)
    with capture_output():
        bare_shell.run_cell(f"%scuba_connect {fresh_emulator.url}")
    bare_shell.run_cell("%config ScubaMagics.widgets = False")
    return bare_shell
