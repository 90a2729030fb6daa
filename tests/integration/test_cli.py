"""The installed ``scuba-magic`` command end to end, as a subprocess talking to the emulator."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from scuba_magic.cli import render

pytestmark = pytest.mark.timeout(120)

SCUBA_MAGIC = Path(sys.executable).with_name("scuba-magic")
BQL = "select count(*) from music group by gender between 30 days ago and now"
# counts only: the emulator's float sums may differ in the last digit between two runs
SERIES_BQL = (
    "select count(*) as plays, count_unique(user) from music group by gender "
    "for every week between 21 days ago and now timezone US/Pacific"
)
# seconds a command may take: generous for a loaded machine, bounded so a hang fails
COMMAND_TIMEOUT_S = 60

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def scuba(fresh_emulator: Any, tmp_path: Path) -> Iterator[Run]:
    """Run ``scuba-magic ARGS`` against the emulator; no token ever shows in what it prints."""
    outputs: list[str] = []
    secrets = [fresh_emulator.token]

    def run(*args: str, token: str | None = None, host: str | None = None) -> Any:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("SCUBA_HOST", "SCUBA_API_TOKEN", "SCUBA_PROFILE")
        }
        env.update(
            SCUBA_MAGIC_CONFIG=str(tmp_path / "no-profiles.toml"),
            SCUBA_HOST=host or fresh_emulator.url,
            SCUBA_API_TOKEN=token or fresh_emulator.token,
        )
        if token:
            secrets.append(token)
        done = subprocess.run(
            [str(SCUBA_MAGIC), *args],
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=COMMAND_TIMEOUT_S,
        )
        outputs.extend([done.stdout, done.stderr])
        return done

    yield run
    for text in outputs:
        for secret in secrets:
            assert secret not in text


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("scuba-magic: error: ")
    return lines[0]


def test_the_console_script_is_installed() -> None:
    assert SCUBA_MAGIC.exists(), "pip install the package: it provides the scuba-magic command"


def test_table_output_is_the_clients_dataframe(scuba: Run, client: Any) -> None:
    done = scuba("query", BQL)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    expected = client.query(BQL)
    assert done.stdout == render(expected, "table")
    assert set(expected["gender"].dropna()) <= set(done.stdout.split())


def test_csv_output_reads_back_to_the_same_values(scuba: Run, client: Any) -> None:
    done = scuba("query", SERIES_BQL, "--format", "csv")

    assert done.returncode == 0, done.stderr
    expected = client.query(SERIES_BQL)
    printed = pd.read_csv(io.StringIO(done.stdout), keep_default_na=False, na_values=[""])
    assert list(printed.columns) == list(expected.columns)
    assert printed["plays"].tolist() == expected["plays"].tolist()
    # ISO 8601 with the query's UTC offset, the same instants
    assert printed["start_time_0"].iloc[0].endswith(("-07:00", "-08:00"))
    assert pd.to_datetime(printed["start_time_0"], utc=True).tolist() == [
        t.tz_convert("UTC") for t in expected["start_time_0"]
    ]


def test_json_output_is_records(scuba: Run, client: Any) -> None:
    done = scuba("query", SERIES_BQL, "--format", "json")

    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    expected = client.query(SERIES_BQL)
    assert len(records) == len(expected)
    assert [r["plays"] for r in records] == expected["plays"].tolist()
    assert [r["gender"] for r in records] == [None if pd.isna(g) else g for g in expected["gender"]]
    first = pd.Timestamp(records[0]["end_time_0"])
    assert first == expected["end_time_0"].iloc[0]


def test_csv_on_the_wire_prints_the_same_as_json_on_the_wire(scuba: Run) -> None:
    as_json = scuba("query", SERIES_BQL, "--format", "csv")
    as_csv = scuba("query", SERIES_BQL, "--format", "csv", "--result-format", "csv")

    assert as_json.returncode == as_csv.returncode == 0
    assert as_csv.stdout == as_json.stdout


def test_explore_link_and_replaying_its_rid(scuba: Run) -> None:
    done = scuba("query", BQL, "--explore", "--chart-type", "table", "--chart-name", "By gender")

    assert done.returncode == 0, done.stderr
    url, rid_line = done.stdout.splitlines()
    rid = rid_line.removeprefix("rid: ")
    assert url.endswith(f"/explorer/{rid}")
    page = requests.get(url, timeout=COMMAND_TIMEOUT_S)
    assert page.status_code == 200
    assert "By gender" in page.text

    replay = scuba("query", "--rid", rid)
    original = scuba("query", BQL)
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout == original.stdout


def test_explore_link_as_json(scuba: Run) -> None:
    done = scuba("query", BQL, "--explore", "--format", "json")

    assert done.returncode == 0, done.stderr
    link = json.loads(done.stdout)
    assert link["url"].endswith("/explorer/" + link["rid"])


def test_output_file_holds_the_data(scuba: Run, tmp_path: Path) -> None:
    target = tmp_path / "plays.csv"

    done = scuba("query", SERIES_BQL, "--format", "csv", "--output", str(target))
    on_stdout = scuba("query", SERIES_BQL, "--format", "csv")

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert target.read_text(encoding="utf-8") == on_stdout.stdout


def test_default_result_format_prints_the_parsed_json(scuba: Run) -> None:
    done = scuba("query", BQL, "--result-format", "default", "--format", "json")

    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert [c["name"] for c in body["columns"]] == [
        "gender", "start_time_0", "end_time_0", "count of events",
    ]  # fmt: skip


def test_bql_error_is_one_line_naming_the_position(scuba: Run) -> None:
    line = error_line(scuba("query", "select cunt(*) from music"))

    assert "line 1, column 8" in line
    assert "cunt" in line


def test_unknown_rid_is_one_line(scuba: Run) -> None:
    line = error_line(scuba("query", "--rid", "r987654321"))

    assert "r987654321" in line


def test_wrong_token_is_one_line_without_the_token(scuba: Run) -> None:
    line = error_line(scuba("query", BQL, token="not+the/right==token"))

    assert "401" in line or "403" in line
    assert "not+the/right==token" not in line


def test_refused_connection_is_one_line(scuba: Run) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # nothing listens on the port any more

    line = error_line(scuba("query", BQL, "--timeout", "5", host=f"http://127.0.0.1:{port}"))

    assert f"127.0.0.1:{port}" in line


def test_ctrl_c_while_waiting_exits_130_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as silent:
        # accepts the connection, then never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        env = dict(
            os.environ,
            SCUBA_MAGIC_CONFIG=str(tmp_path / "no-profiles.toml"),
            SCUBA_HOST=f"http://127.0.0.1:{silent.getsockname()[1]}",
            SCUBA_API_TOKEN="waiting-token",
        )
        proc = subprocess.Popen(
            [str(SCUBA_MAGIC), "query", BQL],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            silent.settimeout(COMMAND_TIMEOUT_S)
            connection, _ = silent.accept()
            with connection:
                connection.settimeout(COMMAND_TIMEOUT_S)
                assert connection.recv(65536).startswith(b"POST /v1/query")
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=COMMAND_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    assert proc.returncode == 130
    assert out == ""
    assert err.splitlines() == ["scuba-magic: error: interrupted"]


def test_serve_then_query_it(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SCUBA_HOST", "SCUBA_API_TOKEN", "SCUBA_PROFILE", "SCUBA_EMULATOR_TOKEN")
    }
    env["SCUBA_MAGIC_CONFIG"] = str(tmp_path / "no-profiles.toml")
    serve = subprocess.Popen(
        [str(SCUBA_MAGIC), "serve", "--port", "0", "--demo-events", "2000",
         "--now", "2024-06-01T00:00:00Z"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        exports = {}
        for line in serve.stdout:  # the banner ends with how to stop it
            if line.strip().startswith("export "):
                name, _, value = line.strip().removeprefix("export ").partition("=")
                exports[name] = value
            if line.startswith("Press Ctrl-C"):
                break
        done = subprocess.run(
            [str(SCUBA_MAGIC), "query", "select count(*) from foreverMusic", "--format", "json"],
            env={**env, **exports},
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)[0]["count of events"] == 2000
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=COMMAND_TIMEOUT_S)
        finally:
            if serve.poll() is None:
                serve.kill()
    assert serve.returncode == 0
