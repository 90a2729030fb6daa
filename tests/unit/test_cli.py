"""The ``scuba-magic`` command line, without a server: parsing, one-line errors, rendering."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from scuba_magic import __version__, frames
from scuba_magic.bql import QueryShape
from scuba_magic.cli import main, render

SECRET = "tok+en/with==secret"
HOST = "http://127.0.0.1:9"  # nothing listens there; only --dry-run may "reach" it


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No profiles file, host or token from the machine running the tests."""
    monkeypatch.setenv("SCUBA_MAGIC_CONFIG", str(tmp_path / "absent.toml"))
    for name in ("SCUBA_HOST", "SCUBA_API_TOKEN", "SCUBA_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def with_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCUBA_API_TOKEN", SECRET)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert SECRET not in out and SECRET not in err
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("scuba-magic: error: ")
    return lines[0]


# help and version


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"scuba-magic {__version__}"


@pytest.mark.usefixtures("with_token")
@pytest.mark.parametrize("argv", [["--help"], ["query", "--help"]])
def test_help_describes_the_options_and_never_shows_the_token(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "query" in out
    if argv[0] == "query":
        for option in ("--rid", "--format", "--explore", "--chart-type", "--chart-name",
                       "--profile", "--host", "--timeout", "--result-format", "--dry-run",
                       "--output"):  # fmt: skip
            assert option in out


def test_serve_help_shows_the_emulator_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "serve", "--help")
    assert code == 0
    assert "--demo" in out and "--port" in out


# usage errors: one line, exit status 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["query", "select count(*) from music", "--rid", "r1"], "not both"),
        (["query"], "give a BQL query"),
        (["query", "   "], "the BQL query is blank"),
        (["query", "--rid", "9372"], "did you mean r9372?"),
        (["query", "--rid", "x1"], "not a query response id"),
        (["query", "select count(*) from music", "--format", "xml"], "invalid choice: 'xml'"),
        (["query", "select count(*) from music", "--timeout", "-1"], "positive number"),
        (["query", "select count(*) from music", "--chart-type", "table"], "add --explore"),
        (["query", "select count(*) from music", "--chart-name", "x"], "add --explore"),
        (["query", "select 1 from t", "--explore", "--result-format", "csv"], "not to --explore"),
        (["query", "select 1 from t", "--explore", "--chart-type", "pie"], "invalid choice"),
        (["query", "select 1 from t", "--result-format", "default", "--format", "csv"], "JSON"),
        ([], "required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in one_error_line(err)


def test_no_host_anywhere_is_one_line_with_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "query", "select count(*) from music")
    assert code == 1
    assert out == ""
    line = one_error_line(err)
    assert "SCUBA_HOST" in line


# --dry-run: the request as curl, nothing sent


@pytest.mark.usefixtures("with_token")
def test_dry_run_prints_curl_with_the_token_as_a_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys, "query", "select count(*) from music", "--host", HOST, "--dry-run",
        "--result-format", "csv",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("curl ")
    assert "'http://127.0.0.1:9/v1/query'" in out
    assert '"Authorization: Token $SCUBA_API_TOKEN"' in out
    body = json.loads(out.split("--data-binary ", 1)[1].strip().strip("'"))
    assert body == {
        "bql": "select count(*) from music",
        "return_type": "data",
        "result_format": "CSV",
    }


@pytest.mark.usefixtures("with_token")
def test_dry_run_of_an_explore_link(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "query", "--rid", "r12345", "--host", HOST, "--dry-run", "--explore",
        "--chart-type", "table", "--chart-name", "Weekly plays",
    )  # fmt: skip
    assert code == 0
    body = json.loads(out.split("--data-binary ", 1)[1].strip().strip("'"))
    assert body == {
        "query_response_id": "r12345",
        "return_type": "explore_url",
        "chart_options": {"type": "TABLE", "name": "Weekly plays"},
    }


def test_bql_from_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("select count(*)\nfrom music\n"))
    code, out, _ = run(capsys, "query", "-", "--host", HOST, "--dry-run")
    assert code == 0
    assert '"bql":"select count(*)\\nfrom music\\n"' in out


def test_output_file_receives_what_stdout_would(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "request.sh"
    code, out, _ = run(
        capsys, "query", "select count(*) from music", "--host", HOST, "--dry-run",
        "--output", str(target),
    )  # fmt: skip
    assert code == 0
    assert out == ""
    assert target.read_text(encoding="utf-8").startswith("curl -sS -X POST")


def test_unwritable_output_is_one_line_with_status_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "missing-dir" / "out.csv"
    code, _, err = run(
        capsys, "query", "select 1 from t", "--host", HOST, "--dry-run", "--output", str(target)
    )
    assert code == 1
    assert "cannot write" in one_error_line(err)
    assert "missing-dir" in err


def test_query_command_never_imports_the_emulator() -> None:
    script = (
        "import sys\n"
        "from scuba_magic.cli import main\n"
        "code = main(['query', 'select count(*) from music', '--host', 'http://127.0.0.1:9',"
        " '--dry-run'])\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('scuba_magic.emulator'))\n"
        "print(code, loaded, 'pandas' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "0 [] False"


# rendering a result


@pytest.fixture
def result() -> pd.DataFrame:
    body = (
        b'[{"gender":"F","start_time_0":1616025600000,"end_time_0":1616112000000,'
        b'"count of events":3.0,"avg(length)":1.5},'
        b'{"gender":null,"start_time_0":1616025600000,"end_time_0":1616112000000,'
        b'"count of events":4.0,"avg(length)":null}]'
    )
    shape = QueryShape(
        measures=["count of events", "avg(length)"], groups=["gender"], timezone="US/Pacific"
    )
    return frames.from_power_bi(body, shape=shape)


def test_render_csv_writes_iso_times_with_their_offset(result: pd.DataFrame) -> None:
    assert render(result, "csv") == (
        "gender,start_time_0,end_time_0,count of events,avg(length)\n"
        "F,2021-03-17T17:00:00.000-07:00,2021-03-18T17:00:00.000-07:00,3,1.5\n"
        ",2021-03-17T17:00:00.000-07:00,2021-03-18T17:00:00.000-07:00,4,\n"
    )


def test_render_json_writes_records(result: pd.DataFrame) -> None:
    assert json.loads(render(result, "json")) == [
        {
            "gender": "F",
            "start_time_0": "2021-03-17T17:00:00.000-07:00",
            "end_time_0": "2021-03-18T17:00:00.000-07:00",
            "count of events": 3,
            "avg(length)": 1.5,
        },
        {
            "gender": None,
            "start_time_0": "2021-03-17T17:00:00.000-07:00",
            "end_time_0": "2021-03-18T17:00:00.000-07:00",
            "count of events": 4,
            "avg(length)": None,
        },
    ]


def test_render_table(result: pd.DataFrame) -> None:
    lines = render(result, "table").splitlines()
    assert lines[0].split() == ["gender", "start_time_0", "end_time_0", "count", "of", "events",
                                "avg(length)"]  # fmt: skip
    assert lines[1].split()[0] == "F" and lines[1].split()[-2:] == ["3", "1.5"]
    assert lines[2].split()[0] == "<NA>" and lines[2].split()[-2:] == ["4", "NaN"]


def test_render_empty_results(result: pd.DataFrame) -> None:
    empty = result.iloc[0:0]
    assert render(empty, "table") == (
        "gender  start_time_0  end_time_0  count of events  avg(length)\n"
    )
    assert render(empty, "csv") == "gender,start_time_0,end_time_0,count of events,avg(length)\n"
    assert render(empty, "json") == "[]\n"


def test_demo_help_says_what_the_demo_runs_and_what_it_needs(capsys):
    from scuba_magic.cli import main

    assert main(["demo", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "quickstart.ipynb" in text
    assert "pip install -e '.[emulator,notebook]'" in text
