"""``scuba-magic serve`` as a user runs it: a separate process, its banner, its log, Ctrl-C."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVE = [sys.executable, "-m", "scuba_magic.emulator.command"]
SMALL = ["--port", "0", "--demo-events", "500", "--now", "2024-06-01T00:00:00Z"]
START_TIMEOUT_S = 60


class ServeProcess:
    """A running ``serve`` process whose stdout lines are collected by a reader thread."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("SCUBA_EMULATOR_TOKEN", None)
        self.process = subprocess.Popen(
            [*SERVE, *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.banner: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_banner(self) -> list[str]:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.banner.append(line)
            if line.startswith("Press Ctrl-C"):
                return self.banner
        raise AssertionError(f"no banner; got {self.banner}; stderr: {self.stop()[1]}")

    def export(self, name: str) -> str:
        prefix = f"  export {name}="
        return next(line[len(prefix) :] for line in self.banner if line.startswith(prefix))

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError("serve did not stop within 30 s of the signal") from None
        assert self.process.stderr is not None
        return self.process.returncode, self.process.stderr.read()


@pytest.mark.parametrize(
    "command",
    [SERVE, [sys.executable, "-m", "scuba_magic.cli", "serve"]],
    ids=["module", "scuba-magic serve"],
)
def test_help_documents_every_option(command):
    result = subprocess.run(
        [*command, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )

    assert result.returncode == 0
    for option in [
        "--demo",
        "--demo-events",
        "--table",
        "--time-column",
        "--actor",
        "--host",
        "--port",
        "--token",
        "--now",
        "--state-dir",
        "--query-timeout",
        "--rate-limit",
        "--allow-remote",
    ]:
        assert f"{option} " in result.stdout, option


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_how_to_connect_and_stops_on_signal(api_for, sig):
    serve = ServeProcess(*SMALL)
    try:
        serve.wait_for_banner()
        url, token = serve.export("SCUBA_HOST"), serve.export("SCUBA_API_TOKEN")
        assert url.startswith("http://127.0.0.1:")
        assert any("foreverMusic" in line for line in serve.banner)
        response = api_for(url, token).query({"bql": "select count(*) from foreverMusic"})
        assert response.status_code == 200
        assert response.json()[0]["count of events"] == 500
    finally:
        status, log = serve.stop(sig)

    assert status == 0
    assert "POST /v1/query 200" in log
    assert token not in log, "the log never shows a token"


def test_a_given_token_is_never_printed(api_for):
    serve = ServeProcess(*SMALL, "--token", "my-own-secret-token")
    try:
        banner = "\n".join(serve.wait_for_banner())
        url = serve.export("SCUBA_HOST")
        assert (
            api_for(url, "my-own-secret-token")
            .query({"bql": "select count(*) from music"})
            .status_code
            == 200
        )
    finally:
        status, log = serve.stop()

    assert "my-own-secret-token" not in banner + log
    assert "SCUBA_API_TOKEN=<" in banner
    assert status == 0


def test_non_loopback_host_needs_allow_remote():
    result = subprocess.run(
        [*SERVE, *SMALL, "--host", "0.0.0.0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )

    assert result.returncode == 2
    assert "--allow-remote" in result.stderr


def test_allow_remote_warns():
    serve = ServeProcess(*SMALL, "--host", "0.0.0.0", "--allow-remote")
    try:
        banner = serve.wait_for_banner()
    finally:
        status, _ = serve.stop()

    assert any(line.startswith("WARNING") and "other machines" in line for line in banner)
    assert status == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--rate-limit", "fast"], "N/s"),
        (["--now", "yesterday"], "ISO 8601"),
        (["--table", "no-equals-sign"], "NAME=PATH"),
        (["--query-timeout", "0"], "above 0"),
        (["--port", "70000"], "65535"),
    ],
)
def test_bad_options_are_refused_with_a_reason(args, words):
    result = subprocess.run(
        [*SERVE, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )

    assert result.returncode == 2
    assert words in result.stderr
