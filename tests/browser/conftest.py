"""Browser tier: pages driven in headless Chromium through pytest-playwright.

The system Chromium is used (Debian package ``chromium``), never a browser downloaded by
``playwright install``. pytest-playwright has no command-line switch for that, so this file
overrides its session fixture ``browser_type_launch_args`` to add ``executable_path`` and the
flags a container needs. Set ``SCUBA_MAGIC_CHROMIUM`` to use another Chromium binary.

Fixtures for every browser test:

- ``browser_type_launch_args``: pytest-playwright's launch options plus the system Chromium;
- ``emulator``: one demo emulator (port 0, 50 000 events, fixed ``now``) for the session;
- ``screenshot``: ``screenshot(page, "name")`` saves ``<artifacts>/name.png`` and returns it
  (artifacts go to ``$SCUBA_MAGIC_ARTIFACTS`` or ``./test-artifacts``);
- ``jupyterlab``: a JupyterLab server for the session (``JupyterLab``: ``root_dir`` to put
  notebooks in, ``url(path)`` to open them), with its settings, runtime files and the kernels'
  IPython profile in temporary folders.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

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


JUPYTERLAB_START_TIMEOUT_S = 120
# what a fresh JupyterLab would otherwise put over the outputs or keep out of the DOM
JUPYTERLAB_SETTINGS = {
    # the "get notified about Jupyter news?" toast
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # every cell attached to the page, also those scrolled out of view
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


@dataclass
class JupyterLab:
    """A running JupyterLab server."""

    base_url: str
    token: str
    root_dir: Path

    def url(self, path: str) -> str:
        """The address that opens ``path`` (relative to ``root_dir``) in a fresh workspace."""
        return f"{self.base_url}/lab/tree/{path}?reset&token={self.token}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """JupyterLab on a free loopback port, its kernels in this Python environment."""
    home = tmp_path_factory.mktemp("jupyterlab")
    root_dir = home / "notebooks"
    root_dir.mkdir()
    settings_dir = home / "settings"
    for name, values in JUPYTERLAB_SETTINGS.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SCUBA_HOST", "SCUBA_API_TOKEN", "SCUBA_PROFILE")
    }
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        SCUBA_MAGIC_CONFIG=str(home / "scuba-magic.toml"),
    )
    token = secrets.token_hex(16)
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI runs as root
    base_url = f"http://127.0.0.1:{port}"
    log_path = home / "jupyterlab.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_ready(server, f"{base_url}/api/status?token={token}", log_path)
        yield JupyterLab(base_url=base_url, token=token, root_dir=root_dir)
    finally:
        _stop(server, f"{base_url}/api/shutdown?token={token}")


def _wait_until_ready(server: subprocess.Popen, status_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + JUPYTERLAB_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            if requests.get(status_url, timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    log = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
    _stop(server, None)
    pytest.fail(f"JupyterLab did not start; the end of its log:\n{log}", pytrace=False)


def _stop(server: subprocess.Popen, shutdown_url: str | None) -> None:
    """Stop the server (and with it its kernels, which a clean shutdown stops first)."""
    if server.poll() is None and shutdown_url:
        try:
            requests.post(shutdown_url, timeout=10)
            server.wait(timeout=20)
        except (requests.RequestException, subprocess.TimeoutExpired):
            pass
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
