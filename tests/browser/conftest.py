"""Browser tier: pages driven in headless Chromium through pytest-playwright.

The system Chromium is used (Debian package ``chromium``), never a browser downloaded by
``playwright install``. pytest-playwright has no command-line switch for that, so this file
overrides its session fixture ``browser_type_launch_args`` to add ``executable_path`` and the
flags a container needs. Set ``SCUBA_MAGIC_CHROMIUM`` to use another Chromium binary.

Fixtures for every browser test:

- ``browser_type_launch_args``: pytest-playwright's launch options plus the system Chromium;
- ``emulator``: one demo emulator (port 0, 50 000 events, fixed ``now``) for the session;
- ``screenshot``: ``screenshot(page, "name")`` saves ``<artifacts>/name.png`` and returns it
  (artifacts go to ``$SCUBA_MAGIC_ARTIFACTS`` or ``./test-artifacts``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EMULATOR_NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
EMULATOR_EVENTS = 50_000


def chromium_executable() -> str:
    """Path of the system Chromium, or a test failure that says how to install it."""
    configured = os.environ.get("SCUBA_MAGIC_CHROMIUM")
    candidates = [configured] if configured else ["chromium", "chromium-browser"]
    for candidate in candidates:
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found:
            return found
    pytest.fail(
        "No Chromium for the browser tests. Install it with `apt-get install -y "
        "--no-install-recommends chromium fonts-dejavu-core` or set SCUBA_MAGIC_CHROMIUM to a "
        "Chromium binary (do not run `playwright install`).",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch options (``--headed``, ``--slowmo``...) + system Chromium."""
    return {
        **browser_type_launch_args,
        "executable_path": chromium_executable(),
        "args": [*CHROMIUM_ARGS, *browser_type_launch_args.get("args", [])],
    }


@pytest.fixture(scope="session")
def emulator() -> Iterator[Any]:
    """A running demo emulator on a free loopback port, shared by the session."""
    from scuba_magic.emulator import Emulator

    with Emulator(demo=True, port=0, demo_events=EMULATOR_EVENTS, now=EMULATOR_NOW) as running:
        yield running


@pytest.fixture
def screenshot(artifacts_dir: Path) -> Callable[[Any, str], Path]:
    """Save a full-page screenshot as a test artifact a person can look at."""

    def save(page: Any, name: str) -> Path:
        path = artifacts_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
