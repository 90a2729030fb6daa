"""The bad-input table: each wrong input gets a clear message and the session keeps working.

Rows go through the surface a user would use: the magics in a ``TestingShell``, the
``scuba-magic`` command, or raw HTTP to the emulator. After every row the same shell (or
emulator) answers a good query, so no bad input leaves the session broken. The client's own
argument checks are covered row by row in ``tests/integration/test_client_wire.py`` and the
emulator's request checks in ``tests/integration/test_emulator_errors.py``; this table adds the
rows those do not reach and the "still works afterwards" check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

pytestmark = pytest.mark.timeout(120)

GOOD_CELL = "%bql --quiet select count(*) from music group by gender"
ONE_MB = 1024 * 1024


def usage_error(shell: Any, cell: str) -> str:
    """The one-line message of the ``UsageError`` the cell raises."""
    with capture_output(), pytest.raises(UsageError) as info:
        shell.run_cell(cell)
    return str(info.value)


def assert_still_works(shell: Any) -> None:
    with capture_output():
        df = shell.run_cell(GOOD_CELL).result
    assert sorted(df["gender"].dropna()) == ["F", "M"]
    assert df["count of events"].sum() > 0


# (cell, fragments the message must contain); the README's troubleshooting section quotes them
MAGIC_ROWS = {
    "blank cell": ("%%bql\n", ["the cell body is empty", "line magic %bql"]),
    "whitespace only": ("%%bql\n   \n\t\n", ["No query: write it after %bql", "Example: %bql"]),
    "line magic without a query": ("%bql", ["No query"]),
    "only -- comments": (
        "%%bql\n-- plays by gender\n  -- another note\n",
        ["BQL has no -- comments: remove the comment", "line 1, column 1"],
    ),
    "only # comments": ("%%bql\n# plays by gender\n", ["BQL has no comments"]),
    "non-UTF-8 bytes": (
        # what bytes that are not UTF-8 become when decoded with surrogateescape
        '%%bql\nselect count(* where artist = "Bj\udcf6rk") from music',
        ["not valid Unicode", "retype the affected part"],
    ),
    "1 MB query": (
        "%%bql\nselect count(* where artist in ("
        + ", ".join(['"x"'] * (ONE_MB // 5))
        + ")) from music",
        ["HTTP 413", "over the limit of 1048576 bytes (1 MB)", "Shorten the query"],
    ),
    "rid r": (
        "%scuba_rid r",
        ["'r' is not a query response id", "the letter r followed by digits"],
    ),
    "rid r12x": ("%scuba_rid r12x", ["'r12x' is not a query response id"]),
    "rid R9372": ("%scuba_rid R9372", ["'R9372' is not a query response id", "e.g. r9372"]),
    "rid 9372": ("%scuba_rid 9372", ["'9372' is not a query response id"]),
    "no rid": ("%scuba_rid", ["the following arguments are required: RID"]),
    "unknown rid": ("%scuba_rid r987654321", ["Unknown query response id r987654321"]),
    "unknown table": (
        "%%bql\nselect count(*) from musik",
        ["unknown table 'musik'", "did you mean 'music'", "case-sensitive"],
    ),
    "unknown column": (
        "%%bql\nselect count(*) from music group by gendr",
        ["no column 'gendr'", "did you mean 'gender', 'genre'", "line 1, column 37"],
    ),
    "typographic double quotes": (
        "%%bql\nselect count(* where gender = \u201cF\u201d) from music",
        ["typographic quote \u201c is not a BQL quote", "use straight quotes"],
    ),
    "typographic single quotes": (
        "%%bql\nselect count(* where gender = \u2018F\u2019) from music",
        ["typographic quote \u2018 is not a BQL quote"],
    ),
    "select *": (
        "%%bql\nselect * from music",
        ["BQL has no select *", "name an aggregation such as count(*)"],
    ),
    "unknown chart type": (
        "%%bql --explore --chart-type pie\nselect count(*) from music",
        ["invalid choice: 'PIE'", "'TIME', 'TABLE', 'SANKEY', 'NUMBER', 'BAR', 'SUNBURST'"],
    ),
    "unknown result format": (
        "%%bql --result-format xml\nselect count(*) from music",
        ["invalid choice: 'XML'", "'JSON_POWER_BI', 'CSV', 'DEFAULT'"],
    ),
    "query text after a rid": (
        "%scuba_rid r1 df select count(*) from music",
        ["unrecognized arguments: select count(*) from music"],
    ),
    "placeholder naming a missing variable": (
        "%%bql\nselect count(* where artist = {favourite}) from music",
        ["Placeholder {favourite}", "no variable named 'favourite' is defined"],
    ),
    "placeholder of an unsupported type": (
        "%%bql\nselect count(* where artist = {shelf}) from music",
        ["Placeholder {shelf}", "type dict has no BQL literal", "use a str, int"],
    ),
    "a token typed into the magic line": (
        "%bql --token 0123456789abcdef0123456789abcdef select count(*) from music",
        ["looks like an API token", "it was not used", "SCUBA_API_TOKEN"],
    ),
}


@pytest.mark.parametrize("row", list(MAGIC_ROWS), ids=list(MAGIC_ROWS))
def test_magic_bad_input_gets_a_clear_message_and_the_session_keeps_working(
    shell: Any, row: str
) -> None:
    cell, fragments = MAGIC_ROWS[row]
    shell.user_ns["shelf"] = {"a": 1}  # a value with no BQL literal, for the placeholder row
    message = usage_error(shell, cell)

    for fragment in fragments:
        assert fragment in message
    assert "Traceback" not in message, "one message, not a traceback"
    assert_still_works(shell)


def test_every_bql_error_row_is_a_400_from_the_emulator(api: Any) -> None:
    """The rows that reach the server get a 4xx JSON answer there too, never a 500."""
    rows = {
        "only comments": ("-- plays by gender", "bql_syntax_error", "no -- comments"),
        "typographic quotes": (
            "select count(* where gender = \u201cF\u201d) from music",
            "bql_syntax_error",
            "typographic quote",
        ),
        "select *": ("select * from music", "bql_syntax_error", "no select *"),
        "unknown table": ("select count(*) from musik", "invalid_query", "did you mean 'music'"),
        "unknown column": ("select count(*) from music group by gendr", "invalid_query", "gender"),
    }
    for bql, code, words in rows.values():
        response = api.query({"bql": bql})
        assert response.status_code == 400, response.text
        assert response.json()["error"] == code
        assert words in response.json()["message"]
    assert api.query({"bql": "select count(*) from music"}).status_code == 200


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_405_naming_post(api: Any, method: str) -> None:
    response = api.session.request(method, f"{api.url}/v1/query", headers=api.headers(), timeout=30)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["message"] == f"/v1/query does not accept {method}; use POST."
    assert api.query({"bql": "select count(*) from music"}).status_code == 200


@pytest.mark.parametrize(
    "escaped",
    [
        '{"bql": "select count(*) as `\\udcff` from music"}',
        '{"bql": "select count(* where gender = \\"\\udcff\\") from music"}',
        '{"bql": "select count(*) from music", "result_format": "CSV\\ud800"}',
    ],
    ids=["alias", "string-literal", "result-format"],
)
def test_lone_surrogate_escapes_are_a_400_about_unicode(api: Any, escaped: str) -> None:
    # valid JSON syntax, but "\udcff" is half a UTF-16 pair: the text is not Unicode
    response = api.query(
        data=escaped.encode(), headers=api.headers(**{"Content-Type": "application/json"})
    )
    assert response.status_code == 400, response.text
    assert "unicode" in response.json()["message"].lower()
    assert api.query({"bql": "select count(*) from music"}).status_code == 200


def test_revoked_token_is_refused_and_a_new_connection_works(
    shell: Any, fresh_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    made = requests.get(
        f"{fresh_emulator.url}/api/create_token",
        headers={"Authorization": f"Token {fresh_emulator.token}"},
        timeout=30,
    ).json()["token"]
    monkeypatch.setenv("SCUBA_API_TOKEN", made)
    with capture_output():
        shell.run_cell(f"%scuba_connect {fresh_emulator.url}")
        shell.run_cell(GOOD_CELL)
    revoked = requests.post(
        f"{fresh_emulator.url}/api/revoke_token",
        headers={"Authorization": f"Token {made}"},
        json={"token": made},
        timeout=30,
    )
    assert revoked.json() == {"success": True}

    message = usage_error(shell, GOOD_CELL)

    assert "HTTP 401" in message and "Not logged in" in message
    assert made not in message
    monkeypatch.setenv("SCUBA_API_TOKEN", fresh_emulator.token)
    with capture_output():
        shell.run_cell(f"%scuba_connect {fresh_emulator.url}")
    assert_still_works(shell)


def test_cli_query_from_non_utf8_standard_input(fresh_emulator: Any, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SCUBA_")},
        "SCUBA_MAGIC_CONFIG": str(tmp_path / "none.toml"),
        "SCUBA_HOST": fresh_emulator.url,
        "SCUBA_API_TOKEN": fresh_emulator.token,
    }
    latin1 = 'select count(* where artist = "Bj\xf6rk") from music'.encode("latin-1")

    done = subprocess.run(
        [sys.executable, "-m", "scuba_magic.cli", "query", "-", "--format", "json"],
        input=latin1,
        env=env,
        capture_output=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert done.stderr.decode() == (
        "scuba-magic: error: The BQL query contains characters that are not valid Unicode "
        "(a broken copy or a bad file encoding); retype the affected part.\n"
    )
    fixed = subprocess.run(
        [sys.executable, "-m", "scuba_magic.cli", "query", "-", "--format", "json"],
        input=latin1.decode("latin-1").encode("utf-8"),
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert fixed.returncode == 0, fixed.stderr
    (record,) = json.loads(fixed.stdout)
    assert isinstance(record['count(* where artist = "Bj\xf6rk")'], int)
