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
from pathlib import Path
from typing import Any

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
ipython = _fixtures.ipython
isolated_env = _fixtures.isolated_env
bare_shell = _fixtures.bare_shell
shell = _fixtures.shell
