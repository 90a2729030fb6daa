"""Suite-wide test settings: hypothesis profiles and the artifacts folder.

Tiers live in their own folders: ``unit/`` (pure functions), ``integration/`` (the emulator
over real HTTP), ``notebook/`` (nbclient) and ``browser/`` (JupyterLab in headless Chromium).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI runs derandomized so a failure reproduces; locally the default profile explores more.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for screenshots and executed notebooks that a person can inspect after a run."""
    path = Path(os.environ.get("SCUBA_MAGIC_ARTIFACTS", "test-artifacts")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
