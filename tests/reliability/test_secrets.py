"""One known token, every output path a user sees: the token appears in none of them.

``tests/integration/test_token_secrecy.py`` checks the client's own outputs (exceptions,
reprs, logs, ``df.attrs``, curl). This suite runs the paths around it with one known token
on an emulator of its own: the magics' outputs and errors (also with full tracebacks, plain and
verbose), ``--dry-run``, the result widgets' saved state after their buttons were clicked, the
explore link and its page, an executed notebook as saved to disk, and the ``scuba-magic``
command's help, output and errors. Every log record at DEBUG (client, emulator, urllib3,
uvicorn) is checked too. Token files open to other users are refused on every surface.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
import traceback
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from recording_server import RecordingServer, Reply

pytestmark = pytest.mark.timeout(120)

TOKEN = "Kn0wn-secret-scuba-t0ken_4f7c1e9a2b3d"
# a distinctive piece, so a token cut short or wrapped still counts as a leak
FRAGMENT = "secret-scuba-t0ken"
BQL = "select count(*) from music group by gender for every day between 7 days ago and now"


def assert_secret_free(*texts: Any) -> None:
    for text in texts:
        if isinstance(text, bytes):
            assert TOKEN.encode() not in text and FRAGMENT.encode() not in text
        else:
            text = str(text)
            assert TOKEN not in text and FRAGMENT not in text, text[:2000]


@pytest.fixture(scope="module")
def secret_emulator() -> Iterator[Any]:
    """An emulator that accepts exactly the known token."""
    from scuba_magic.emulator import Emulator

    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    with Emulator(demo_events=5_000, now=now, tokens=[TOKEN]) as running:
        yield running


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record, of every logger, at DEBUG during the test: none may hold the token."""
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "scuba_magic", "uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield caplog
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.get_records("setup") + caplog.get_records("call"):
        assert_secret_free(formatter.format(record), repr(record.args))


@pytest.fixture
def connected(bare_shell: Any, secret_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The testing shell connected to the secret emulator, widgets on."""
    monkeypatch.setenv("SCUBA_API_TOKEN", TOKEN)
    with capture_output() as captured:
        bare_shell.run_cell(f"%scuba_connect {secret_emulator.url}")
    assert_secret_free(captured.stdout, captured.stderr)
    return bare_shell


def outputs_text(captured: Any) -> str:
    """Everything a cell printed or displayed, every mimetype."""
    parts = [captured.stdout, captured.stderr]
    for output in captured.outputs:
        parts.append(json.dumps(output.data, default=repr))
        parts.append(json.dumps(output.metadata, default=repr))
    return "\n".join(parts)


def error_texts(exc: BaseException) -> list[str]:
    """str, repr and the full traceback of an exception and all it chains to."""
    texts = ["".join(traceback.format_exception(exc))]
    current: BaseException | None = exc
    while current is not None:
        texts += [str(current), repr(current), repr(vars(current))]
        current = current.__cause__ or current.__context__
    return texts


def widget_state(widget: Any) -> str:
    """The state a notebook saves for ``widget`` and every widget it contains."""
    from ipywidgets.embed import dependency_state, embed_data

    return json.dumps(dependency_state(widget), default=repr) + json.dumps(
        embed_data(views=[widget]), default=repr
    )


def test_success_outputs_attrs_and_reprs(connected: Any) -> None:
    with capture_output() as captured:
        connected.run_cell(f"%%bql plays\n{BQL}")
    df = connected.user_ns["plays"]
    toolbar = connected.user_ns["_bql_toolbar"]
    magics = connected.magics_manager.registry["ScubaMagics"]

    assert len(df) > 0
    assert_secret_free(
        outputs_text(captured),
        repr(df),
        df._repr_html_(),
        df.to_json(date_format="iso"),
        repr(df.attrs),
        pickle.dumps(df),
        repr(magics),
        repr(vars(magics)),
        repr(toolbar),
        toolbar._repr_mimebundle_(),
    )


def test_widget_state_after_plotting_and_making_a_link(connected: Any) -> None:
    with capture_output():
        connected.run_cell(f"%%bql plays\n{BQL}")
    toolbar = connected.user_ns["_bql_toolbar"]
    toolbar.chart_name.value = "plays by gender"

    toolbar.plot_button.click()
    toolbar.link_button.click()

    assert toolbar.figure is not None and toolbar.link is not None
    state = widget_state(toolbar)
    assert "application/vnd.plotly.v1+json" in state and toolbar.link.url in state
    assert_secret_free(state, repr(toolbar.link), toolbar.link._repr_html_())


def test_widget_state_when_making_the_link_fails(
    bare_shell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"gender": "F", "start_time_0": 0, "end_time_0": 86_400_000, "count of events": 3}]
    echo = {"error": "not_logged_in", "message": f"token {TOKEN} was revoked"}
    monkeypatch.setenv("SCUBA_API_TOKEN", TOKEN)
    with RecordingServer() as server:
        server.enqueue(Reply(200, rows))
        server.default = Reply(401, echo)  # a careless server quoting the token back
        with capture_output():
            bare_shell.run_cell(f"%scuba_connect {server.url}")
            bare_shell.run_cell(f"%%bql plays\n{BQL}")
        toolbar = bare_shell.user_ns["_bql_toolbar"]
        toolbar.link_button.click()

    state = widget_state(toolbar)
    assert "Cannot create explore link" in state
    assert_secret_free(state)


def test_explore_link_and_its_page(connected: Any, secret_emulator: Any) -> None:
    import requests

    with capture_output() as captured:
        link = connected.run_cell(f"%bql --explore --chart-name plays {BQL}").result
    page = requests.get(link.url, timeout=30)

    assert page.status_code == 200
    assert_secret_free(outputs_text(captured), repr(link), str(link), link._repr_html_(), page.text)


def test_dry_run(connected: Any) -> None:
    with capture_output() as captured:
        connected.run_cell(f"%bql --dry-run {BQL}")
        connected.run_cell(f"%bql --dry-run --explore --chart-type bar {BQL}")
        connected.run_cell("%scuba_rid r1 --dry-run")

    assert "$SCUBA_API_TOKEN" in captured.stdout
    assert_secret_free(outputs_text(captured))


def test_connection_shown_without_the_token(connected: Any) -> None:
    with capture_output() as captured:
        connected.run_cell("%scuba_connect")

    assert "Connected to" in captured.stdout
    assert_secret_free(outputs_text(captured))


def check_error_paths(shell: Any, cell: str) -> str:
    """Run a failing cell as one line, then with --debug: no output or traceback has the token.

    The full traceback is formatted as IPython prints it, plainly and in ``%xmode Verbose``,
    which shows every frame's arguments (urllib3's frames get the request headers).

    Returns:
        The one-line message.
    """
    from IPython.core import ultratb

    with capture_output() as captured, pytest.raises(UsageError) as short:
        shell.run_cell(cell)
    shell.run_cell("%config ScubaMagics.debug = True")
    try:
        with capture_output(), pytest.raises(Exception) as full:
            shell.run_cell(cell)
    finally:
        shell.run_cell("%config ScubaMagics.debug = False")
    printed = [
        ultratb.AutoFormattedTB(mode=mode, theme_name="nocolor", include_vars=True).text(
            full.type, full.value, full.tb
        )
        for mode in ("Context", "Verbose")
    ]
    assert_secret_free(outputs_text(captured), *error_texts(short.value))
    assert_secret_free(*error_texts(full.value), *printed)
    return str(short.value)


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("%bql select count(* from music", "line 1, column 16"),
        ("%bql select count(*) from musik", "unknown table 'musik'"),
        ("%scuba_rid r987654321", "Unknown query response id"),
    ],
    ids=["syntax", "unknown-table", "unknown-rid"],
)
def test_every_emulator_error_in_one_line_and_in_full(
    connected: Any, cell: str, words: str
) -> None:
    assert words in check_error_paths(connected, cell)


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(200, delay=10), "within the read timeout of 0.5 s"),
        (Reply(reset=True), "closed before an answer arrived"),
        (Reply(200, b'[{"gender": "F"', truncate_to=8), "incomplete"),
    ],
    ids=["read-timeout", "reset", "truncated"],
)
def test_every_transport_error_in_one_line_and_in_full(
    bare_shell: Any, monkeypatch: pytest.MonkeyPatch, reply: Reply, words: str
) -> None:
    monkeypatch.setenv("SCUBA_API_TOKEN", TOKEN)
    with RecordingServer() as server:
        server.default = reply
        with capture_output():
            bare_shell.run_cell(f"%scuba_connect {server.url}")
        message = check_error_paths(bare_shell, f"%bql --timeout 0.5 {BQL}")
    assert words in message


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 502, 503])
def test_errors_from_a_server_that_echoes_the_token(
    bare_shell: Any, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    monkeypatch.setenv("SCUBA_API_TOKEN", TOKEN)
    with RecordingServer() as server:
        server.default = Reply(
            status,
            f"<html><pre>Authorization: Token {TOKEN}</pre></html>".encode(),
            headers={"Content-Type": "text/html", "Retry-After": "3600"},
        )
        with capture_output():
            bare_shell.run_cell(f"%scuba_connect {server.url}")
        with capture_output() as captured, pytest.raises(UsageError) as info:
            bare_shell.run_cell(f"%bql {BQL}")
    assert f"HTTP {status}" in str(info.value)
    assert_secret_free(outputs_text(captured), *error_texts(info.value))


@pytest.mark.notebook
@pytest.mark.timeout(240)
def test_an_executed_and_saved_notebook(
    secret_emulator: Any,
    artifacts_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("SCUBA_API_TOKEN", TOKEN)
    monkeypatch.setenv("SCUBA_HOST", secret_emulator.url)
    monkeypatch.setenv("SCUBA_MAGIC_CONFIG", str(tmp_path / "none.toml"))
    slow = RecordingServer().start()
    slow.default = Reply(200, delay=10)
    cells = [
        # DEBUG logging to the cell output, so every log line lands in the saved file
        "import logging, sys\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, force=True)\n"
        "%load_ext scuba_magic",
        f"%scuba_connect {secret_emulator.url}",
        f"%%bql plays\n{BQL}",
        "plays",
        "plays.attrs",
        "_bql_toolbar",
        "_bql_toolbar.plot_button.click()\n_bql_toolbar.link_button.click()\n_bql_toolbar.link",
        f"%bql --explore --chart-type table {BQL}",
        f"%bql --dry-run {BQL}",
        "%scuba_connect",
        "from scuba_magic import ScubaClient\nScubaClient.from_config()",
        "%bql select count(* from music",
        "%xmode Verbose\n%bql --debug select count(* from music",
        # a transport error shown in full: urllib3's frames hold the request headers. Without
        # SCUBA_HOST, SCUBA_API_TOKEN goes with any host (with it, only with that host).
        "import os\ndel os.environ['SCUBA_HOST']\n"
        f"%scuba_connect {slow.url}\n%bql --debug --timeout 0.5 {BQL}",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    try:
        NotebookClient(
            nb,
            kernel_name="python3",
            timeout=120,
            allow_errors=True,
            resources={"metadata": {"path": str(tmp_path)}},
        ).execute()
    finally:
        slow.stop()
    path = artifacts_dir / "secrets.executed.ipynb"
    nbformat.write(nb, path)

    saved = path.read_text(encoding="utf-8")
    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    # the run did reach every path: data, widget state, logs and both errors
    assert '"count of events"' in saved or "count of events" in saved
    assert "application/vnd.jupyter.widget-state+json" in saved
    assert "urllib3" in saved and "$SCUBA_API_TOKEN" in saved
    assert [e.ename for e in errors] == ["QueryError", "ScubaConnectionError"]
    assert "Scuba rejected the query at line 1" in saved, "the one-line error"
    assert_secret_free(saved)


def cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scuba_magic.cli", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def cli_env(secret_emulator: Any, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCUBA_")}
    env.update(
        SCUBA_MAGIC_CONFIG=str(tmp_path / "none.toml"),
        SCUBA_HOST=secret_emulator.url,
        SCUBA_API_TOKEN=TOKEN,
    )
    return env


def test_the_command_line(cli_env: dict[str, str]) -> None:
    runs = [
        cli("--help", env=cli_env),
        cli("query", "--help", env=cli_env),
        cli("serve", "--help", env=cli_env),
        cli("query", BQL, env=cli_env),
        cli("query", BQL, "--format", "json", env=cli_env),
        cli("query", BQL, "--explore", env=cli_env),
        cli("query", BQL, "--dry-run", env=cli_env),
        cli("query", "-", "--dry-run", env=cli_env, stdin=BQL),
        cli("query", "select count(* from music", env=cli_env),
        cli("query", "--rid", "r987654321", env=cli_env),
        cli("query", "--rid", "R1", env=cli_env),
        cli("query", BQL, "--host", "http://127.0.0.1:9", env=cli_env),
        cli("query", BQL, "--profile", "missing", env=cli_env),
        cli("query", env=cli_env),
    ]

    assert [done.returncode for done in runs] == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 1, 1, 2]
    assert "$SCUBA_API_TOKEN" in runs[6].stdout
    for done in runs:
        assert_secret_free(done.stdout, done.stderr)


def test_the_command_line_with_a_rejected_token(cli_env: dict[str, str]) -> None:
    # a wrong token is a secret too: a typo'd or old one must not be printed either
    wrong = "Kn0wn-secret-scuba-t0ken_but-wrong"
    done = cli("query", BQL, env={**cli_env, "SCUBA_API_TOKEN": wrong})

    assert done.returncode == 1 and "HTTP 401" in done.stderr
    assert wrong not in done.stderr and wrong not in done.stdout
    assert_secret_free(done.stdout, done.stderr)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
@pytest.mark.parametrize("where", ["token_file", "profiles_file"])
def test_token_files_open_to_others_are_refused_everywhere(
    bare_shell: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: int,
    where: str,
) -> None:
    with RecordingServer() as server:
        if where == "token_file":
            exposed = tmp_path / "prod.token"
            exposed.write_text(TOKEN + "\n")
            profiles = f'[profiles.prod]\nhost = "{server.url}"\ntoken_file = "{exposed}"\n'
            config = tmp_path / "config.toml"
            config.write_text(profiles)
            config.chmod(0o600)
        else:
            exposed = config = tmp_path / "config.toml"
            config.write_text(f'[profiles.prod]\nhost = "{server.url}"\ntoken = "{TOKEN}"\n')
        exposed.chmod(mode)
        monkeypatch.setenv("SCUBA_MAGIC_CONFIG", str(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCUBA_")}
        env["SCUBA_MAGIC_CONFIG"] = str(config)

        with capture_output(), pytest.raises(UsageError) as magic:
            bare_shell.run_cell(f"%bql --profile prod {BQL}")
        with capture_output(), pytest.raises(UsageError) as connect:
            bare_shell.run_cell("%scuba_connect --profile prod")
        command = cli("query", BQL, "--profile", "prod", env=env)

        assert server.requests == [], "a token from an exposed file is never used"
    for message in (str(magic.value), str(connect.value), command.stderr):
        assert f"chmod 600 {exposed}" in message
    assert command.returncode == 1
    assert_secret_free(*error_texts(magic.value), *error_texts(connect.value), command.stderr)


def test_a_private_token_file_is_used(
    bare_shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "prod.token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    config = tmp_path / "config.toml"
    with RecordingServer() as server:
        server.default = Reply(200, {"url": f"{server.url}/explorer/r5"})
        config.write_text(f'[profiles.prod]\nhost = "{server.url}"\ntoken_file = "{token_file}"\n')
        config.chmod(0o644)  # no token in it: it may be readable by others
        monkeypatch.setenv("SCUBA_MAGIC_CONFIG", str(config))
        with capture_output() as captured:
            link = bare_shell.run_cell(f"%bql --profile prod --explore {BQL}").result

    assert link.rid == "r5"
    assert server.requests[0].header("Authorization") == f"Token {TOKEN}"
    assert_secret_free(outputs_text(captured))
