"""The magics in an IPython shell, against the emulator over real HTTP.

Every cell goes through ``TestingShell.run_cell``, IPython's full input path, so magic syntax,
``?`` help and the (switched off) ``$var`` expansion behave as in a notebook. Display outputs
are captured with ``IPython.utils.capture.capture_output``.
"""

from __future__ import annotations

import _thread
import datetime as dt
import io
import json
import re
import subprocess
import sys
import threading
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from recording_server import RecordingServer, Reply

from scuba_magic.client import ExploreLink
from scuba_magic.errors import AuthError, QueryError
from scuba_magic.magics import ScubaMagics

COUNT_BY_GENDER = "select count(*) from music group by gender between 7 days ago and now"
# the emulator can only hold a query for seconds through its own time limit; a recording
# server that waits before answering stands in for a slow cluster
SLOW_ANSWER_S = 60


def run(shell: Any, cell: str) -> tuple[Any, Any]:
    """Run a cell; return its value and the captured output."""
    with capture_output() as captured:
        result = shell.run_cell(cell)
    return result.result, captured


def usage_error(shell: Any, cell: str) -> str:
    with capture_output(), pytest.raises(UsageError) as info:
        shell.run_cell(cell)
    return str(info.value)


def magics_of(shell: Any) -> ScubaMagics:
    return shell.magics_manager.registry["ScubaMagics"]


def plain_texts(captured: Any) -> list[str]:
    return [output.data.get("text/plain", "") for output in captured.outputs]


# --- loading ---------------------------------------------------------------------------


def test_loading_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.extension_manager.load_extension('scuba_magic')\n"
        "assert 'bql' in shell.magics_manager.magics['cell']\n"
        "print(sorted(m for m in ('pandas', 'requests', 'plotly', 'duckdb', 'numpy', "
        "'pyarrow', 'ipywidgets') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


def test_registers_magics_and_settings(bare_shell):
    manager = bare_shell.magics_manager
    assert {"bql", "scuba_rid", "scuba_connect"} <= set(manager.magics["line"])
    assert "bql" in manager.magics["cell"]
    magics = magics_of(bare_shell)
    assert magics in bare_shell.configurables
    bare_shell.run_cell("%config ScubaMagics.max_groups = 3")
    bare_shell.run_cell("%config ScubaMagics.result_format = 'csv'")
    bare_shell.run_cell("%config ScubaMagics.timeout = 12.5")
    assert (magics.max_groups, magics.result_format, magics.timeout) == (3, "CSV", 12.5)


def test_unload_removes_magics_and_settings(ipython, isolated_env):
    ipython.extension_manager.load_extension("scuba_magic")
    magics = magics_of(ipython)
    ipython.extension_manager.unload_extension("scuba_magic")
    manager = ipython.magics_manager
    for kind, name in [
        ("line", "bql"),
        ("cell", "bql"),
        ("line", "scuba_rid"),
        ("line", "scuba_connect"),
    ]:
        assert name not in manager.magics[kind]
    assert magics not in ipython.configurables
    assert "ScubaMagics" not in manager.registry
    with pytest.raises(UsageError, match="Cell magic `%%bql` not found"):
        ipython.run_cell("%%bql\nselect count(*) from music")


def test_another_bql_magic_is_replaced_with_a_warning_and_restored_on_unload(
    ipython, isolated_env, capsys
):
    def other_bql(line, cell=None):
        return "theirs"

    ipython.register_magic_function(other_bql, "line_cell", "bql")
    try:
        ipython.extension_manager.load_extension("scuba_magic")
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        # the module's name depends on pytest's import mode
        assert err.startswith(f"scuba_magic: %%bql and %bql came from {other_bql.__module__}.")
        assert err.endswith(
            "other_bql; they now run Scuba queries (%unload_ext scuba_magic puts them back).\n"
        )
        assert magics_of(ipython) is ipython.magics_manager.magics["cell"]["bql"].__self__
        ipython.extension_manager.unload_extension("scuba_magic")
        assert ipython.run_cell("%bql anything").result == "theirs"
    finally:
        for kind in ("line", "cell"):
            ipython.magics_manager.magics[kind].pop("bql", None)


def test_reload_keeps_one_instance(bare_shell):
    with capture_output():
        bare_shell.run_cell("%reload_ext scuba_magic")
    instances = [c for c in bare_shell.configurables if isinstance(c, ScubaMagics)]
    assert len(instances) == 1


# --- %%bql and %bql --------------------------------------------------------------------


def test_cell_returns_a_dataframe_and_keeps_it_as__bql(shell, fresh_emulator):
    df, captured = run(shell, f"%%bql\n{COUNT_BY_GENDER}")
    assert list(df.columns) == ["gender", "start_time_0", "end_time_0", "count of events"]
    assert df.attrs["scuba"]["bql"] == COUNT_BY_GENDER
    assert shell.user_ns["_bql"] is df
    receipt = captured.stdout.splitlines()[0]
    assert re.fullmatch(
        rf"{len(df)} rows in \d+\.\d\d s from {re.escape(fresh_emulator.url)}\.", receipt
    )


def test_cell_with_var_stores_the_result_and_returns_nothing(shell):
    value, captured = run(shell, f"%%bql plays\n{COUNT_BY_GENDER}")
    assert value is None
    df = shell.user_ns["plays"]
    assert shell.user_ns["_bql"] is df
    assert ", stored in plays." in captured.stdout
    assert int(df["count of events"].sum()) > 0


def test_line_form_takes_options_then_the_query(shell):
    df, captured = run(shell, f"%bql --quiet --timeout 30 {COUNT_BY_GENDER}")
    assert len(df) == 3
    assert "rows in" not in captured.stdout


def test_line_form_without_a_query(shell):
    assert usage_error(shell, "%bql --quiet") == (
        "No query: write it after %bql on the same line, or in the cell below %%bql. "
        "Example: %bql select count(*) from foreverMusic"
    )


def test_csv_gives_the_same_dataframe_and_default_the_parsed_json(shell):
    as_json, _ = run(shell, f"%bql --quiet {COUNT_BY_GENDER}")
    as_csv, _ = run(shell, f"%bql --quiet --result-format csv {COUNT_BY_GENDER}")
    assert as_csv.attrs["scuba"]["result_format"] == "CSV"
    assert as_csv.equals(as_json)
    body, captured = run(shell, f"%bql --result-format DEFAULT {COUNT_BY_GENDER}")
    assert isinstance(body, dict) and len(body["rows"]) == 3
    assert "3 rows in" in captured.stdout


def test_config_result_format_is_the_default(shell):
    shell.run_cell("%config ScubaMagics.result_format = 'DEFAULT'")
    body, _ = run(shell, f"%bql --quiet {COUNT_BY_GENDER}")
    assert isinstance(body, dict)


def test_quiet_leaves_no_receipt(shell):
    _, captured = run(shell, f"%%bql df --quiet\n{COUNT_BY_GENDER}")
    assert "rows in" not in captured.stdout
    assert captured.outputs == []


def test_plot_draws_the_chart(shell):
    _, captured = run(
        shell,
        "%%bql df --plot\nselect count(*) from music for every day between 3 days ago and now",
    )
    mimetypes = [set(output.data) for output in captured.outputs]
    assert mimetypes == [{"application/vnd.plotly.v1+json", "text/plain"}]


def test_widgets_show_the_toolbar_unless_turned_off(shell):
    shell.run_cell("%config ScubaMagics.widgets = True")
    _, captured = run(shell, f"%%bql df\n{COUNT_BY_GENDER}")
    assert any(
        "application/vnd.jupyter.widget-view+json" in output.data for output in captured.outputs
    )
    _, captured = run(shell, f"%%bql df --no-widgets\n{COUNT_BY_GENDER}")
    assert captured.outputs == []


def kinds_of(outputs: list[Any]) -> list[str]:
    """What each captured output is: the cell's value, a chart or a widget."""
    kinds = []
    for output in outputs:
        if "application/vnd.jupyter.widget-view+json" in output.data:
            kinds.append("widget")
        elif "application/vnd.plotly.v1+json" in output.data:
            kinds.append("chart")
        elif "text/html" in output.data and "<table" in output.data["text/html"]:
            kinds.append("table")
        else:
            kinds.append(output.data.get("text/plain", "?"))
    return kinds


def run_showing_value(shell: Any, cell: str) -> tuple[Any, Any]:
    """Like ``run``, with the cell's value (as IPython's displayhook shows it) among the
    captured outputs, in the order it was shown."""
    hook = shell.displayhook
    with capture_output() as captured:
        shown = shell.display_pub.outputs  # the capturing publisher's list of outputs
        hook.write_format_data = lambda data, metadata=None: shown.append({"data": data})
        try:
            result = shell.run_cell(cell)
        finally:
            del hook.write_format_data
    return result.result, captured


def test_a_result_without_var_shows_first_then_its_chart_and_toolbar(shell):
    shell.run_cell("%config ScubaMagics.widgets = True")
    value, captured = run_showing_value(
        shell,
        "%%bql --plot\nselect count(*) from music group by gender "
        "for every day between 3 days ago and now",
    )
    assert kinds_of(captured.outputs) == ["table", "chart", "widget"]
    assert shell.user_ns["_bql"] is value
    assert shell.user_ns["_bql_toolbar"].dataframe is value
    # shown once: the next cell shows nothing of this result
    _, captured = run_showing_value(shell, "1")
    assert kinds_of(captured.outputs) == ["1"]


def test_a_result_with_var_shows_chart_and_toolbar_at_once(shell):
    shell.run_cell("%config ScubaMagics.widgets = True")
    _, captured = run(shell, f"%%bql df --plot --quiet\n{COUNT_BY_GENDER}\n")
    assert kinds_of(captured.outputs) == ["chart", "widget"]


def test_the_toolbar_buttons_work_from_code(shell, fresh_emulator):
    shell.run_cell("%config ScubaMagics.widgets = True")
    run(shell, f"%%bql df\n{COUNT_BY_GENDER}")
    toolbar = shell.user_ns["_bql_toolbar"]
    toolbar.plot_button.click()
    assert toolbar.figure is not None
    toolbar.chart_type.value = "BAR"
    toolbar.link_button.click()
    assert toolbar.link.url == f"{fresh_emulator.url}/explorer/{toolbar.link.rid}"

    run(shell, f"%%bql df --no-widgets\n{COUNT_BY_GENDER}")
    assert "_bql_toolbar" not in shell.user_ns  # it belonged to the previous result


def test_plotting_an_empty_result_is_a_one_line_error_and_keeps_the_data(shell):
    with pytest.raises(UsageError, match=r"^Cannot plot this result: no rows to plot.*in df\.$"):
        run(
            shell,
            "%%bql df --plot\nselect count(*) from music group by gender "
            "for every day between 2001-01-01 and 2001-01-03",
        )
    assert shell.user_ns["df"].empty


def test_explore_returns_a_link_with_its_rid(shell, fresh_emulator):
    link, _ = run(
        shell, f'%bql --explore --chart-type table --chart-name "By gender" {COUNT_BY_GENDER}'
    )
    assert isinstance(link, ExploreLink)
    assert link.url == f"{fresh_emulator.url}/explorer/{link.rid}"
    assert re.fullmatch(r"r\d+", link.rid)
    assert 'target="_blank"' in link._repr_html_()
    assert shell.user_ns["_bql"] is link


def test_explore_with_var_displays_a_clickable_link(shell):
    value, captured = run(shell, f"%%bql link --explore\n{COUNT_BY_GENDER}")
    link = shell.user_ns["link"]
    assert value is None
    [output] = captured.outputs
    assert output.data["text/plain"] == f"Explore link {link.rid}: {link.url}"
    html = output.data["text/html"]
    assert f'href="{link.url}"' in html and 'target="_blank"' in html and link.rid in html


def test_chart_options_need_explore(shell):
    assert usage_error(shell, f"%bql --chart-type bar {COUNT_BY_GENDER}") == (
        "--chart-type and --chart-name describe an explore URL: add --explore."
    )


def test_result_format_and_explore_exclude_each_other(shell):
    assert usage_error(shell, f"%bql --explore --result-format csv {COUNT_BY_GENDER}") == (
        "--result-format applies to data, not to --explore: drop one."
    )


def test_bad_option_values_are_usage_errors(shell):
    assert "invalid choice: 'PIE'" in usage_error(
        shell, f"%bql --explore --chart-type pie {COUNT_BY_GENDER}"
    )
    # the client's own check, which also refuses nan
    assert usage_error(shell, f"%bql --timeout 0 {COUNT_BY_GENDER}") == (
        "timeout must be a positive number of seconds, not 0.0."
    )
    assert usage_error(shell, f"%bql --timeout nan {COUNT_BY_GENDER}") == (
        "timeout must be a positive number of seconds, not nan."
    )
    assert usage_error(shell, "%%bql df --chart-name 'unclosed\nselect count(*) from music") == (
        "Cannot read the magic's options (No closing quotation): check the quotes."
    )


def test_var_must_be_a_python_name(shell):
    assert usage_error(shell, f"%%bql 1st\n{COUNT_BY_GENDER}") == (
        "'1st' is not a valid Python variable name to store the result in. Put options "
        "after the variable (e.g. %%bql df --quiet)."
    )


def test_dry_run_shows_curl_and_body_and_sends_nothing(bare_shell, monkeypatch):
    with RecordingServer() as server:
        monkeypatch.setenv("SCUBA_HOST", server.url)
        monkeypatch.setenv("SCUBA_API_TOKEN", "tok-" + "x" * 30)
        bare_shell.user_ns["page"] = 'Err"or'
        value, captured = run(
            bare_shell, "%%bql --dry-run\nselect count(* where page = {page}) from music"
        )
        assert value is None
        assert server.requests == []
        url = server.url
    out = captured.stdout
    assert out.startswith("Dry run: nothing was sent.")
    assert f"curl -sS -X POST '{url}/v1/query'" in out
    assert '-H "Authorization: Token $SCUBA_API_TOKEN"' in out
    assert "x" * 30 not in out
    body = json.loads(out.split("JSON body:\n", 1)[1])
    assert body == {
        "bql": 'select count(* where page = "Err\\"or") from music',
        "return_type": "data",
        "result_format": "JSON_POWER_BI",
    }


def test_dry_run_of_an_explore_request(shell):
    _, captured = run(
        shell,
        f'%bql --dry-run --explore --chart-type sunburst --chart-name "Pie" {COUNT_BY_GENDER}',
    )
    body = json.loads(captured.stdout.split("JSON body:\n", 1)[1])
    assert body["return_type"] == "explore_url"
    assert body["chart_options"] == {"type": "SUNBURST", "name": "Pie"}


def test_timeout_option_bounds_the_wait(bare_shell, monkeypatch):
    with RecordingServer() as server:
        server.enqueue(Reply(200, [], delay=SLOW_ANSWER_S))
        monkeypatch.setenv("SCUBA_HOST", server.url)
        monkeypatch.setenv("SCUBA_API_TOKEN", "slow-server-token")
        message = usage_error(bare_shell, "%bql --timeout 0.5 select count(*) from music")
        url = server.url
    assert message == (
        f"No answer from {url} within the read timeout of 0.5 s; the query may still "
        "be running on the server. Raise the timeout with --timeout SECONDS (magics, CLI) or "
        "timeout=SECONDS (Python), or make the query cheaper."
    )


# --- placeholders ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("F", '"F"'),
        ('quote " and \\ backslash', '"quote \\" and \\\\ backslash"'),
        (30, "30"),
        (2.5, "2.5"),
        (["jack", "jill"], '("jack", "jill")'),
        (("a", "b"), '("a", "b")'),
        ({"zz", "aa"}, '("aa", "zz")'),
        (dt.date(2024, 5, 1), "2024-05-01"),
        (dt.datetime(2024, 5, 1, 13, 30), "2024-05-01 13:30:00"),
    ],
)
def test_placeholder_types_render_as_bql_literals(shell, value, literal):
    shell.user_ns["v"] = value
    _, captured = run(shell, "%%bql --dry-run\nselect count(* where x = {v}) from music")
    body = json.loads(captured.stdout.split("JSON body:\n", 1)[1])
    assert body["bql"] == f"select count(* where x = {literal}) from music"


def test_placeholders_filter_like_the_literal_query(shell):
    shell.user_ns["genders"] = ["F", "M"]
    shell.user_ns["since"] = dt.date(2024, 5, 25)
    filtered, _ = run(
        shell,
        "%%bql --quiet\nselect count(* where gender in {genders}) as n from music "
        "between {since} and now",
    )
    literal, _ = run(
        shell,
        '%bql --quiet select count(* where gender in ("F", "M")) as n from music '
        "between 2024-05-25 and now",
    )
    assert filtered["n"].tolist() == literal["n"].tolist()
    assert filtered["n"].iloc[0] > 0


def test_line_form_placeholders_are_ours_and_ipython_expansion_is_off(shell):
    shell.user_ns["g"] = "F"
    _, captured = run(shell, "%bql --dry-run select count(* where gender = {g} and x = $g) from t")
    body = json.loads(captured.stdout.split("JSON body:\n", 1)[1])
    assert body["bql"] == 'select count(* where gender = "F" and x = $g) from t'


def test_unknown_placeholder_is_an_error(shell):
    assert usage_error(shell, "%%bql\nselect count(* where page = {nowhere}) from music") == (
        "Placeholder {nowhere} at line 1, column 29: no variable named 'nowhere' is defined. "
        "Assign it in a cell above, or write {{ and }} for literal braces."
    )


def test_unsupported_placeholder_type_is_an_error_naming_it(shell):
    shell.user_ns["v"] = {"a": 1}
    assert usage_error(shell, "%%bql\nselect count(* where page = {v}) from music") == (
        "Placeholder {v}: a value of type dict has no BQL literal; use a str, int, float, date, "
        "datetime, or a list/tuple/set of those."
    )


def test_debug_shows_the_original_error(shell):
    with capture_output(), pytest.raises(Exception) as info:
        shell.run_cell("%%bql --debug\nselect count(* where page = {nowhere}) from music")
    assert type(info.value).__name__ == "PlaceholderError"


# --- errors ----------------------------------------------------------------------------


def test_server_error_is_one_line_with_message_and_hint(shell):
    message = usage_error(shell, "%bql select count(* from music")
    assert message == (
        "Scuba rejected the query at line 1, column 16 (HTTP 400 Bad Request): BQL syntax "
        "error at line 1, column 16: expected ')' (or where / on inside the aggregation), "
        "found keyword from select count(* from music ^ (bql_syntax_error). Fix the query and "
        "run it again."
    )
    assert "\n" not in message


def test_debug_option_and_setting_reraise_the_client_error(shell):
    with capture_output(), pytest.raises(QueryError):
        shell.run_cell("%bql --debug select count(* from music")
    shell.run_cell("%config ScubaMagics.debug = True")
    with capture_output(), pytest.raises(QueryError):
        shell.run_cell("%bql select count(* from music")


def test_rejected_token_names_where_to_get_one(bare_shell, fresh_emulator, monkeypatch):
    monkeypatch.setenv("SCUBA_HOST", fresh_emulator.url)
    monkeypatch.setenv("SCUBA_API_TOKEN", "not-the-right-token")
    message = usage_error(bare_shell, f"%bql {COUNT_BY_GENDER}")
    assert message.startswith("Scuba did not accept the API token (HTTP 401 Unauthorized)")
    assert f"open {fresh_emulator.url}/api/create_token in a browser" in message
    with capture_output(), pytest.raises(AuthError):
        bare_shell.run_cell(f"%bql --debug {COUNT_BY_GENDER}")


def test_no_host_anywhere(bare_shell):
    message = usage_error(bare_shell, f"%bql {COUNT_BY_GENDER}")
    assert message.startswith("No Scuba host is configured.")
    assert "%scuba_connect --local" in message


def test_no_token_anywhere(bare_shell, monkeypatch):
    monkeypatch.setenv("SCUBA_HOST", "http://127.0.0.1:9")
    assert usage_error(bare_shell, f"%bql {COUNT_BY_GENDER}") == (
        "No API token for http://127.0.0.1:9. Run %scuba_connect http://127.0.0.1:9 to enter "
        "one at a hidden prompt, or set SCUBA_API_TOKEN; get a token at "
        "http://127.0.0.1:9/api/create_token."
    )


def test_profile_option_and_setting(bare_shell, fresh_emulator, isolated_env, tmp_path):
    token_file = tmp_path / "emulator.token"
    token_file.write_text(fresh_emulator.token)
    token_file.chmod(0o600)
    isolated_env.write_text(
        f'[profiles.local]\nhost = "{fresh_emulator.url}"\ntoken_file = "{token_file}"\n'
    )
    df, _ = run(bare_shell, f"%bql --quiet --no-widgets --profile local {COUNT_BY_GENDER}")
    assert len(df) == 3
    bare_shell.run_cell("%config ScubaMagics.profile = 'local'")
    bare_shell.run_cell("%config ScubaMagics.widgets = False")
    df, _ = run(bare_shell, f"%bql --quiet {COUNT_BY_GENDER}")
    assert len(df) == 3
    message = usage_error(bare_shell, f"%bql --profile nope {COUNT_BY_GENDER}")
    assert "nope" in message and "profile" in message


# --- tokens never typed ----------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        "%bql --token abc select count(*) from music",
        "%%bql df --api-token=abc\nselect count(*) from music",
        "%scuba_connect my_cluster.scuba.io --token abc",
        "%scuba_connect aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY",
        "%scuba_rid r12 Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA+/==",
    ],
)
def test_a_token_on_the_magic_line_is_refused(shell, cell):
    assert usage_error(shell, cell) == (
        "That looks like an API token typed into the magic line; it was not used. Don't paste "
        "tokens into notebooks: set SCUBA_API_TOKEN in the environment, or run "
        "%scuba_connect HOST and enter the token at its prompt."
    )


def test_the_session_token_in_a_query_is_refused(shell, fresh_emulator):
    message = usage_error(
        shell, f'%%bql\nselect count(* where user = "{fresh_emulator.token}") from music'
    )
    assert message.startswith("That looks like an API token typed into the magic line")
    assert fresh_emulator.token not in message


# --- %scuba_rid ------------------------------------------------------------------------


def test_rid_replays_a_query(shell):
    first, _ = run(shell, f"%bql --quiet {COUNT_BY_GENDER}")
    link, _ = run(shell, f"%bql --explore {COUNT_BY_GENDER}")
    value, captured = run(shell, f"%scuba_rid {link.rid} replay")
    assert value is None
    replay = shell.user_ns["replay"]
    assert replay.attrs["scuba"]["rid"] == link.rid
    assert replay["count of events"].tolist() == first["count of events"].tolist()
    assert ", stored in replay." in captured.stdout


def test_rid_from_a_python_variable(shell):
    link, _ = run(shell, f"%bql --explore {COUNT_BY_GENDER}")
    shell.user_ns["link"] = link
    shell.user_ns["rid"] = link.rid
    by_attribute, _ = run(shell, "%scuba_rid {link.rid} --quiet")
    by_name, _ = run(shell, "%scuba_rid {rid} --quiet")
    assert by_attribute.attrs["scuba"]["rid"] == by_name.attrs["scuba"]["rid"] == link.rid
    assert usage_error(shell, "%scuba_rid {nothing}") == (
        "Placeholder {nothing}: no variable named 'nothing' is defined."
    )
    shell.user_ns["n"] = 12
    assert usage_error(shell, "%scuba_rid {n}") == (
        "Placeholder {n} is int, not a query response id string such as 'r9372'."
    )


def test_rid_options(shell):
    link, _ = run(shell, f"%bql --explore {COUNT_BY_GENDER}")
    relink, _ = run(shell, f"%scuba_rid {link.rid} --explore --chart-type table")
    assert relink.rid != link.rid
    _, captured = run(shell, f"%scuba_rid {link.rid} --dry-run --result-format csv")
    body = json.loads(captured.stdout.split("JSON body:\n", 1)[1])
    assert body == {
        "query_response_id": link.rid,
        "return_type": "data",
        "result_format": "CSV",
    }


def test_rid_errors(shell):
    # the client's check, with its hint
    assert usage_error(shell, "%scuba_rid 9372") == (
        "'9372' is not a query response id: it is the letter r followed by digits, e.g. "
        "r9372 (did you mean r9372?). Copy it from the browser URL after RUN in the Scuba UI."
    )
    message = usage_error(shell, "%scuba_rid r999999")
    assert message.startswith("Unknown query response id r999999 (HTTP 404 Not Found)")


# --- %scuba_connect --------------------------------------------------------------------


def test_connect_prompts_for_a_missing_token(bare_shell, fresh_emulator, monkeypatch):
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return fresh_emulator.token

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    _, captured = run(bare_shell, f"%scuba_connect {fresh_emulator.url}")
    assert prompts == [
        f"API token for {fresh_emulator.url} (get one at {fresh_emulator.url}/api/create_token "
        "in a browser logged into Scuba; input is hidden): "
    ]
    assert captured.stdout == (
        f"Connected to {fresh_emulator.url}, token from the %scuba_connect prompt.\n"
    )
    bare_shell.run_cell("%config ScubaMagics.widgets = False")
    df, _ = run(bare_shell, f"%bql --quiet {COUNT_BY_GENDER}")
    assert len(df) == 3
    _, captured = run(bare_shell, "%scuba_connect")
    assert captured.stdout == (
        f"Connected to {fresh_emulator.url}, token from the %scuba_connect prompt "
        "(set by %scuba_connect).\n"
    )
    assert fresh_emulator.token not in json.dumps(bare_shell.user_ns, default=repr)


def test_connect_with_nothing_entered(bare_shell, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "  ")
    assert usage_error(bare_shell, "%scuba_connect my_cluster.scuba.io") == (
        "No token entered, so the connection to https://my_cluster.scuba.io was not changed. "
        "Get a token at https://my_cluster.scuba.io/api/create_token and run %scuba_connect "
        "again."
    )


def test_connect_where_the_frontend_cannot_prompt(bare_shell, monkeypatch):
    from IPython.core.error import StdinNotImplementedError

    def no_stdin(prompt: str = "") -> str:
        raise StdinNotImplementedError("getpass was called, but this frontend does not support")

    monkeypatch.setattr("getpass.getpass", no_stdin)
    message = usage_error(bare_shell, "%scuba_connect my_cluster.scuba.io")
    assert message.startswith(
        "No API token for https://my_cluster.scuba.io, and this frontend cannot prompt for one."
    )


def test_connect_without_arguments_shows_the_connection_never_the_token(bare_shell, monkeypatch):
    _, captured = run(bare_shell, "%scuba_connect")
    assert captured.stdout.startswith("Not connected. No Scuba host is configured.")
    monkeypatch.setenv("SCUBA_HOST", "my_cluster.scuba.io")
    monkeypatch.setenv("SCUBA_API_TOKEN", "Secret-Token-Value-1234567890")
    _, captured = run(bare_shell, "%scuba_connect")
    assert captured.stdout == (
        "Not connected by %scuba_connect; queries go to https://my_cluster.scuba.io, token "
        "from environment variable SCUBA_API_TOKEN.\n"
    )


def test_connect_local_and_host_exclude_each_other(bare_shell):
    assert usage_error(bare_shell, "%scuba_connect --local my_cluster.scuba.io") == (
        "--local connects to the embedded emulator: drop HOST and --profile, or drop --local."
    )


# --- help ------------------------------------------------------------------------------


def test_help_has_an_example_and_the_visible_measures_note(bare_shell, capsys):
    bare_shell.run_cell("%%bql?")
    bql_help = capsys.readouterr().out
    assert "%%bql weekly" in bql_help and "--result-format FORMAT" in bql_help
    assert "returns only its" in bql_help and "visible measures" in bql_help
    bare_shell.run_cell("%scuba_rid?")
    rid_help = capsys.readouterr().out
    assert "%scuba_rid r9372 ui_result" in rid_help
    assert "returns only its visible measures" in rid_help


# --- waiting and Ctrl-C ----------------------------------------------------------------


def test_ctrl_c_stops_waiting_and_the_shell_stays_usable(bare_shell, monkeypatch):
    with RecordingServer() as server:
        server.enqueue(Reply(200, [], delay=SLOW_ANSWER_S))
        monkeypatch.setenv("SCUBA_HOST", server.url)
        monkeypatch.setenv("SCUBA_API_TOKEN", "slow-server-token")
        arrived = threading.Event()

        def interrupt_once_the_query_arrived() -> None:
            # the request reaching the server proves the shell is waiting for the answer
            for _ in range(200):
                if server.requests:
                    arrived.set()
                    _thread.interrupt_main()
                    return
                threading.Event().wait(0.05)

        threading.Thread(target=interrupt_once_the_query_arrived, daemon=True).start()
        message = usage_error(bare_shell, "%bql select count(*) from music")
        assert arrived.is_set()
        assert message == "Stopped waiting for the query; the server may still be running it."
        # the server has not answered yet: the shell is free well before the query finished
        waiting = [t for t in threading.enumerate() if t.name == "scuba-magic-query"]
        assert waiting and all(t.is_alive() for t in waiting)
        assert len(server.requests) == 1
        # and it runs the next query (the server now answers at once)
        body, _ = run(bare_shell, "%bql --quiet --result-format DEFAULT select count(*) from t")
        assert body == {"columns": [], "rows": []}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_kernel_sees_one_running_line_updated_then_the_receipt(bare_shell, monkeypatch):
    with RecordingServer() as server:
        server.enqueue(Reply(200, {"columns": [], "rows": [[1]]}, delay=1.0))
        monkeypatch.setenv("SCUBA_HOST", server.url)
        monkeypatch.setenv("SCUBA_API_TOKEN", "slow-server-token")
        # what makes the shell a kernel's shell, as far as the feedback is concerned
        monkeypatch.setattr(bare_shell, "kernel", object(), raising=False)
        _, captured = run(bare_shell, "%bql --result-format DEFAULT select count(*) from t")
        url = server.url
    first, *updates = captured.outputs
    assert re.fullmatch(rf"Running query on {re.escape(url)}… \d+\.\d s", first.data["text/plain"])
    assert first.transient["display_id"]
    assert updates and all(o.update for o in updates)
    assert {o.transient["display_id"] for o in updates} == {first.transient["display_id"]}
    assert re.fullmatch(
        rf"1 row in \d+\.\d\d s from {re.escape(url)}\.", updates[-1].data["text/plain"]
    )


def test_a_terminal_sees_the_running_line_rewritten_then_erased(bare_shell, monkeypatch):
    terminal = _Terminal()
    with RecordingServer() as server:
        server.enqueue(Reply(200, {"columns": [], "rows": []}, delay=1.0))
        monkeypatch.setenv("SCUBA_HOST", server.url)
        monkeypatch.setenv("SCUBA_API_TOKEN", "slow-server-token")
        monkeypatch.setattr(sys, "stderr", terminal)
        with capture_output(stderr=False) as captured:
            bare_shell.run_cell("%bql --result-format DEFAULT select count(*) from t")
        url = server.url
    written = terminal.getvalue()
    assert written.startswith(f"\rRunning query on {url}… ")
    blank = " " * len(written.rsplit("\r", 3)[1])
    assert written.endswith(f"\r{blank}\r")
    assert captured.stdout.startswith("0 rows in ")


# --- tokens and names ------------------------------------------------------------------

# Names a notebook uses for results, profiles and charts: long, mixed case, with digits.
REALISTIC_NAMES = [
    "plays_By_Country_2024_weekly",
    "MyWeeklyRevenueChartQ3v2024",
    "daily_active_users_by_country_v2",
    "weekly_revenue_by_region_2024Q3",
    "monthlyActiveUsersByPlatform",
    "ActiveUsersPerCountryWeekly2024",
    "retention_cohort_2024_01_to_2024_06",
    "countOfEventsByGenderAndAge",
    "df_plays_by_gender_last_7_days",
    "topArtistsByCountryLast30Days",
    "sessionLengthP95ByAppVersion",
    "q3_2024_revenue_forecast_model_v17",
    "UserEngagementScoreByCohortV2",
    "averagePlayDurationSecondsByGenre",
    "abTestVariantB_conversion_uplift_2024_09",
    "hourly_p99_latency_by_endpoint_us_east_1",
    "deviceTypeBreakdownForMobileUsersQ4",
    "HTTP5xxErrorRateByServiceAndRegion",
    "userIDsWithMoreThan10PlaysPerDay",
    "top10ArtistsIn2024ByPlayCountUS",
    "ABTestResultsQ3FY2024ByRegionEMEA",
    "eventsPerSecondP99LatencyMsV3Build42",
    "p95_ms_by_os_v2_ios_and_android",
    "avg_ms_p50_p90_p99_by_os_and_app_v2",
    "analytics-production-eu.scuba.io",
]


def random_tokens(kind: str, count: int = 500) -> list[str]:
    """``count`` tokens as ``secrets`` and ``base64`` make them, from a seeded generator.

    Seeded so the test is the same on every run: about 3 in 100,000 url-safe tokens are
    plain enough to pass as names (see ``_TOKEN_SCORE``), which a run of 500 fresh ones
    would hit now and then.
    """
    import base64
    import random

    rng = random.Random(f"tokens-{kind}")
    make = {
        # secrets.token_urlsafe(32), token_hex(32) and a base64-encoded 32-byte key
        "urlsafe": lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
        "hex": lambda raw: raw.hex(),
        "base64": lambda raw: base64.b64encode(raw).decode(),
    }[kind]
    return [make(rng.randbytes(32)) for _ in range(count)]


@pytest.mark.parametrize("kind", ["urlsafe", "hex", "base64"])
def test_generated_tokens_look_like_tokens(kind):
    from scuba_magic.magics import _looks_like_token

    missed = [token for token in random_tokens(kind) if not _looks_like_token(token)]
    assert missed == []


def test_realistic_names_do_not_look_like_tokens():
    from scuba_magic.magics import _looks_like_token

    assert [name for name in REALISTIC_NAMES if _looks_like_token(name)] == []


def test_long_mixed_case_names_work_as_var_profile_and_chart_name(shell, isolated_env):
    value, _ = run(shell, f"%%bql plays_By_Country_2024_weekly --quiet\n{COUNT_BY_GENDER}")
    assert value is None
    assert len(shell.user_ns["plays_By_Country_2024_weekly"]) == 3
    _, captured = run(
        shell,
        f"%bql --dry-run --explore --chart-name MyWeeklyRevenueChartQ3v2024 {COUNT_BY_GENDER}",
    )
    body = json.loads(captured.stdout.split("JSON body:\n", 1)[1])
    assert body["chart_options"]["name"] == "MyWeeklyRevenueChartQ3v2024"
    # an option's value after "=" is a name like any other
    message = usage_error(
        shell, f"%bql --profile=daily_active_users_by_country_v2 {COUNT_BY_GENDER}"
    )
    assert "daily_active_users_by_country_v2" in message and "profile" in message


def test_a_chart_name_is_free_text_but_never_the_token(shell, fresh_emulator):
    # a display name may hold anything a title holds, even something token-shaped...
    _, captured = run(
        shell,
        '%bql --dry-run --explore --chart-name "Plays aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY" '
        f"{COUNT_BY_GENDER}",
    )
    assert "JSON body:" in captured.stdout
    # ...but not the session's token
    message = usage_error(
        shell, f'%bql --explore --chart-name "{fresh_emulator.token}" {COUNT_BY_GENDER}'
    )
    assert message.startswith("That looks like an API token typed into the magic line")


def test_a_placeholder_holding_the_token_is_refused_before_anything_shows_it(shell, fresh_emulator):
    shell.user_ns["who"] = fresh_emulator.token
    with capture_output() as captured, pytest.raises(UsageError) as info:
        shell.run_cell("%%bql --dry-run\nselect count(* where user = {who}) from music")
    assert str(info.value) == (
        "With its {placeholders} filled in, the query contains the API token; it was not "
        "sent. Don't put tokens into queries."
    )
    assert fresh_emulator.token not in captured.stdout
    assert "_bql" not in shell.user_ns


def test_the_client_cache_does_not_hold_the_token_as_text(shell, fresh_emulator):
    run(shell, f"%bql --quiet {COUNT_BY_GENDER}")
    magics = magics_of(shell)
    assert magics._client is not None
    assert fresh_emulator.token not in repr(vars(magics))


# --- more usage errors -----------------------------------------------------------------


def test_a_query_on_the_cell_magic_line_says_where_it_goes(shell):
    # blank lines below the magic line reach %%bql (with none, IPython itself says the cell
    # body is empty and suggests %bql)
    assert usage_error(shell, "%%bql select count(*) from music\n\n") == (
        "The query goes in the cell below %%bql (or use the line magic %bql <query>)."
    )
    # with a query in the cell, a bad line is still argparse's error
    assert "unrecognized arguments" in usage_error(
        shell, f"%%bql df extra words\n{COUNT_BY_GENDER}"
    )


def test_max_groups_must_be_positive(bare_shell):
    from traitlets import TraitError

    magics = magics_of(bare_shell)
    for bad in (0, -3):
        with pytest.raises(TraitError) as info:
            magics.max_groups = bad
        assert str(info.value) == (
            f"ScubaMagics.max_groups must be at least 1 (how many groups a plot shows), not {bad}."
        )
    magics.max_groups = 1
    assert magics.max_groups == 1


# --- %scuba_connect: refused hosts and the local emulator ---------------------------------


def test_connect_to_plain_http_elsewhere_is_refused_at_connect(bare_shell, monkeypatch):
    monkeypatch.setenv("SCUBA_API_TOKEN", "a-token-for-the-refused-host")
    with capture_output() as captured, pytest.raises(UsageError) as info:
        bare_shell.run_cell("%scuba_connect http://example.com")
    message = str(info.value)
    assert message.startswith("Refusing to send the API token over plain http:// to ")
    assert "\n" not in message
    assert "Connected" not in captured.stdout
    # the session's connection was not changed
    assert magics_of(bare_shell)._connection is None


@pytest.fixture
def no_local_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """No emulator started by an earlier %scuba_connect --local in this process."""
    monkeypatch.setattr("scuba_magic.magics._local_emulator", None)


def test_connect_local_without_the_emulator_packages(bare_shell, monkeypatch, no_local_emulator):
    # what a missing package looks like to an import
    monkeypatch.setitem(sys.modules, "duckdb", None)
    assert usage_error(bare_shell, "%scuba_connect --local") == (
        "%scuba_connect --local needs the emulator's packages (missing: duckdb): "
        "pip install 'scuba-magic[emulator]'"
    )
    assert magics_of(bare_shell)._connection is None


def test_connect_local_when_the_emulator_cannot_start(bare_shell, monkeypatch, no_local_emulator):
    from scuba_magic.emulator import Emulator

    def no_port(self: Any) -> Any:
        raise OSError("[Errno 98] Address already in use\n(while binding)")

    monkeypatch.setattr(Emulator, "start", no_port)
    assert usage_error(bare_shell, "%scuba_connect --local") == (
        "The local Scuba emulator could not start: [Errno 98] Address already in use "
        "(while binding)"
    )


def test_ctrl_c_frees_the_shell_while_the_emulator_is_still_running_the_query(
    bare_shell, monkeypatch
):
    from scuba_magic.emulator import Emulator

    # distinct users in each of 64,800 overlapping two-month windows: tens of seconds of
    # DuckDB work, held by a real emulator whose own time limit is far away
    slow = "select count_unique(user) from foreverMusic for every 2 minutes over 60 days"
    with Emulator(demo_events=50_000, tokens=["slow-emulator-token"], query_timeout=300) as em:
        monkeypatch.setenv("SCUBA_HOST", em.url)
        monkeypatch.setenv("SCUBA_API_TOKEN", "slow-emulator-token")

        def interrupt_once_the_query_runs() -> None:
            for _ in range(600):
                if em.engine.running_queries:
                    _thread.interrupt_main()
                    return
                threading.Event().wait(0.05)

        threading.Thread(target=interrupt_once_the_query_runs, daemon=True).start()
        message = usage_error(bare_shell, f"%bql {slow}")
        assert message == "Stopped waiting for the query; the server may still be running it."
        # the shell is free while the emulator is still busy with the query
        assert em.engine.running_queries == 1
        value, _ = run(bare_shell, "%bql --quiet --no-widgets select count(*) from music")
        assert int(value["count of events"].iloc[0]) == 50_000
        assert em.engine.running_queries == 1
