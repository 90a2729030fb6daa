"""Fixtures for integration tests: the emulator on 127.0.0.1 (port 0) and clients for it.

``emulator`` is started once per session with a small, fixed demo data set (``DEMO_EVENTS``
events over the 90 days before ``FIXED_NOW``), so every number a test sees is reproducible.
``client`` resets the emulator's tokens and rate limits and hands out a ``ScubaClient``;
``api`` is a thin ``requests`` wrapper for tests that need to send what the client never sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

FIXED_NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)
DEMO_EVENTS = 200_000
# generous: a test waits this long for any answer, so a hang fails instead of blocking the run
HTTP_TIMEOUT_S = 60


@pytest.fixture(scope="session")
def emulator() -> Iterator[Any]:
    """One emulator with demo data for the whole session."""
    from scuba_magic.emulator import Emulator

    with Emulator(demo=True, port=0, demo_events=DEMO_EVENTS, now=FIXED_NOW) as running:
        yield running


@pytest.fixture
def fresh_emulator(emulator: Any) -> Any:
    """The session emulator with its start-up tokens restored and rate limits refilled."""
    emulator.reset()
    return emulator


@pytest.fixture
def client(fresh_emulator: Any) -> Iterator[Any]:
    """A ``ScubaClient`` connected to the emulator with its token."""
    from scuba_magic.client import ScubaClient

    with ScubaClient(fresh_emulator.url, token=fresh_emulator.token) as scuba:
        yield scuba


class Api:
    """Raw HTTP calls to an emulator with ``requests`` (no retries, no client-side checks)."""

    def __init__(self, url: str, token: str) -> None:
        import requests

        self.url = url
        self.token = token
        self.session = requests.Session()

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        """Headers with ``Authorization: Token <token>`` (the emulator's token by default)."""
        return {"Authorization": f"Token {token or self.token}", **extra}

    def query(self, body: Any = None, *, token: str | None = None, **kwargs: Any) -> Any:
        """POST ``body`` as JSON to ``/v1/query``; ``kwargs`` go to ``requests``."""
        kwargs.setdefault("headers", self.headers(token))
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        if body is not None:
            kwargs["json"] = body
        return self.session.post(f"{self.url}/v1/query", **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET ``path`` (no token unless ``headers`` say so)."""
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        return self.session.get(f"{self.url}{path}", **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        """POST to ``path`` (no token unless ``headers`` say so)."""
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        return self.session.post(f"{self.url}{path}", **kwargs)


@pytest.fixture(scope="session")
def fixed_now() -> datetime:
    """The ``now`` of the session emulator (its demo data ends there)."""
    return FIXED_NOW


@pytest.fixture
def api_for() -> Iterator[Any]:
    """A factory ``api_for(url, token) -> Api`` for emulators a test starts itself."""
    made: list[Api] = []

    def make(url: str, token: str) -> Api:
        made.append(Api(url, token))
        return made[-1]

    yield make
    for caller in made:
        caller.session.close()


@pytest.fixture
def api(fresh_emulator: Any) -> Iterator[Api]:
    """Raw ``requests`` access to the session emulator."""
    caller = Api(fresh_emulator.url, fresh_emulator.token)
    yield caller
    caller.session.close()


# --- the testing shell for the magics (IPython allows one shell per process) ---------------


@pytest.fixture(scope="session")
def ipython(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from shell import TestingShell

    return TestingShell.create(tmp_path_factory.mktemp("ipython"))


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    """No host, token or profile from the machine running the tests."""
    for name in ("SCUBA_HOST", "SCUBA_API_TOKEN", "SCUBA_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config.toml"
    monkeypatch.setenv("SCUBA_MAGIC_CONFIG", str(config))
    return config


@pytest.fixture
def bare_shell(ipython: Any, isolated_env: Any) -> Iterator[Any]:
    """The shell with the extension loaded and no connection; unloaded afterwards."""
    ipython.user_ns.clear()
    ipython.init_user_ns()
    # %config writes to the shell's config, which outlives the extension: start clean
    ipython.config.pop("ScubaMagics", None)
    ipython.extension_manager.load_extension("scuba_magic")
    yield ipython
    ipython.extension_manager.unload_extension("scuba_magic")


@pytest.fixture
def shell(bare_shell: Any, fresh_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shell connected to the emulator, widgets off unless a test turns them on."""
    from IPython.utils.capture import capture_output

    monkeypatch.setenv("SCUBA_API_TOKEN", fresh_emulator.token)
    with capture_output():
        bare_shell.run_cell(f"%scuba_connect {fresh_emulator.url}")
    bare_shell.run_cell("%config ScubaMagics.widgets = False")
    return bare_shell
