"""The emulator under attack: fuzzed bodies and BQL, and hostile queries, never a 500 or a hang.

Hypothesis sends ``POST /v1/query`` random JSON values, query bodies with random field values,
random text as BQL, BQL built from the grammar with random pieces, and valid queries mutated
character by character. Every answer must be a 2xx, or a 4xx JSON error saying what was wrong;
every request must be answered within ``ANSWER_TIMEOUT_S``. Hostile queries (huge ``in``
lists, deep nesting, enormous numbers, regular-expression bombs in ``like``) are answered
within the emulator's query timeout. The emulator keeps rids in a state directory, so the
path that writes them is attacked too. ``SCUBA_MAGIC_LONG_TESTS=1`` runs many more examples.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from .budget import scaled

pytestmark = pytest.mark.timeout(scaled(300, 3600))

QUERY_TIMEOUT_S = 5.0
# a hostile query is answered within the query timeout, plus this for reading the request and
# a loaded CI machine (the emulator answers at the timeout even while parsing still runs)
HOSTILE_GRACE_S = 10.0
# far above the query timeout: an answer later than this is a hang
ANSWER_TIMEOUT_S = 60.0
EXAMPLES = scaled(150, 3000)
TOKEN = "fuzz-t0ken"
COLUMNS = [
    "user",
    "gender",
    "age",
    "country",
    "level",
    "platform",
    "page",
    "artist",
    "song",
    "genre",
    "length",
    "price",
    "authenticated",
    "user_high_score",
    "`hello.world`",
    "nosuchcolumn",
    "time",
]
VALID = [
    "select count(*) from music",
    "select count(*) from foreverMusic group by gender between 7 days ago and now",
    'select count(* where page = "NextSong") as songs, avg(length) from music group by '
    "platform limit 3 for every day between 14 days ago and now timezone US/Pacific",
    "select count_unique(user), percentile(age, 90) from music group by country, level "
    "order by country desc limit 5",
    "select sum(price) / count(*) from music group by Actor<user>(max(age)) and by gender",
    "select max(ROUND(length, 10)), min(sqrt(age)) from music where age > 3",
    'select count(* where artist like "^Ad.*e$" and not authenticated) from music '
    "for every 2 hours over 1 day between 2024-05-01 and 2024-05-03 8pm",
]

# any code point, with lone surrogates ("\udcff": valid JSON, not Unicode text) and the
# characters BQL and JSON treat specially drawn often enough to matter
wild_chars = (
    st.characters(exclude_categories=())
    | st.characters(categories=["Cs"])
    | st.sampled_from(list("\"'`\\%_*(),.\x00\n\u201c\u2028"))
)
# strings that broke or could break servers: half a surrogate pair, NUL, bidi overrides,
# markup, format directives, a line separator, a long run
NASTY = [
    "\udcff",
    "a\ud800b",
    "\udfff\ud800",
    "\x00",
    "\u202e",
    "</script><script>x()</script>",
    "%s%n{0}",
    "\\",
    "\u2028",
    "\ufeff",
    "x" * 5000,
    "\U0001f600",
]
wild_text = st.sampled_from(NASTY) | st.text(wild_chars, max_size=30)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | wild_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
field_values = {
    "bql": json_values | st.sampled_from(VALID),
    "query_response_id": json_values | st.from_regex(r"\Ar[0-9]{1,25}\Z") | st.just("r1"),
    "return_type": json_values | st.sampled_from(["data", "explore_url", "DATA", ""]),
    "result_format": json_values | st.sampled_from(["JSON_POWER_BI", "csv", "DEFAULT", "xml"]),
    "chart_options": json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "type": json_values | st.sampled_from(["time", "TABLE", "pie"]),
            "name": json_values,
        },
    ),
}
explore_bodies = st.fixed_dictionaries(
    {
        "bql": st.sampled_from(VALID),
        "return_type": st.just("explore_url"),
        "chart_options": st.fixed_dictionaries(
            {"name": wild_text},
            optional={"type": st.sampled_from(["TIME", "table", "Bar"])},
        ),
    }
)
query_bodies = (
    st.fixed_dictionaries({}, optional=field_values)
    | explore_bodies
    | st.dictionaries(
        st.sampled_from([*field_values, "limit", "", "bql "]), json_values, max_size=4
    )
)


@st.composite
def literals(draw: Any) -> str:
    kind = draw(st.sampled_from(["int", "float", "big", "string", "name"]))
    if kind == "int":
        return str(draw(st.integers(min_value=-(2**70), max_value=2**70)))
    if kind == "float":
        return repr(draw(st.floats(allow_nan=False, allow_infinity=False)))
    if kind == "big":
        return draw(st.sampled_from(["1e308", "1e309", "-1e400", "0.000001e-330", "9" * 400]))
    if kind == "string":
        text = draw(wild_text)
        return json.dumps(text)
    return draw(st.sampled_from(COLUMNS))


@st.composite
def conditions(draw: Any, depth: int = 0) -> str:
    shape = draw(st.integers(0, 5 if depth < 3 else 2))
    column = draw(st.sampled_from(COLUMNS))
    if shape == 0:
        op = draw(st.sampled_from(["=", "!=", "<>", "<", "<=", ">", ">="]))
        return f"{column} {op} {draw(literals())}"
    if shape == 1:
        items = draw(st.lists(literals(), min_size=1, max_size=6))
        return f"{column} in ({', '.join(items)})"
    if shape == 2:
        pattern = draw(st.text(string.printable, max_size=12))
        return f"{column} like {json.dumps(pattern)}"
    if shape == 3:
        return f"not {draw(conditions(depth + 1))}"
    if shape == 4:
        joiner = draw(st.sampled_from(["and", "or"]))
        return f"({draw(conditions(depth + 1))} {joiner} {draw(conditions(depth + 1))})"
    return f"{column} {draw(st.sampled_from(['+', '-', '*', '/']))} {draw(literals())} > 0"


@st.composite
def measures(draw: Any) -> str:
    function = draw(
        st.sampled_from(
            ["count", "count_unique", "sum", "avg", "min", "max", "last", "percentile", "median"]
        )
    )
    target = "*" if function == "count" and draw(st.booleans()) else draw(st.sampled_from(COLUMNS))
    extra = f", {draw(literals())}" if function == "percentile" else ""
    where = f" where {draw(conditions())}" if draw(st.booleans()) else ""
    alias = ""
    if draw(st.booleans()):
        quoted = draw(wild_text.filter(lambda text: "`" not in text))
        alias = f" as {draw(st.sampled_from(['m', 'select', f'`{quoted}`']))}"
    return f"{function}({target}{extra}{where}){alias}"


units = st.sampled_from(["second", "minutes", "hour", "day", "weeks", "month", "year", "fortnight"])


@st.composite
def grammar_queries(draw: Any) -> str:
    parts = ["select " + ", ".join(draw(st.lists(measures(), min_size=1, max_size=3)))]
    parts.append("from " + draw(st.sampled_from(["music", "foreverMusic", "musik"])))
    if draw(st.booleans()):
        groups = ", ".join(draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=2)))
        limit = f" limit {draw(st.integers(-1, 10**12))}" if draw(st.booleans()) else ""
        parts.append(f"group by {groups}{limit}")
    if draw(st.booleans()):
        every = f"for every {draw(st.integers(0, 10**6))} {draw(units)}"
        if draw(st.booleans()):
            every += f" over {draw(st.integers(0, 400))} {draw(units)}"
        parts.append(every)
    if draw(st.booleans()):
        start = draw(st.sampled_from(["beginning_of_time", "now", "2024-02-30", "0001-01-01"]))
        ago = f"{draw(st.integers(0, 10**9))} {draw(units)} ago"
        parts.append(f"between {draw(st.sampled_from([start, ago]))} and now")
    if draw(st.booleans()):
        zone = draw(st.sampled_from(["UTC", "US/Pacific", "Etc/GMT+14", '"Mars/Olympus"', "x"]))
        parts.append(f"timezone {zone}")
    return " ".join(parts)


@st.composite
def mutated_queries(draw: Any) -> str:
    text = draw(st.sampled_from(VALID) | grammar_queries())
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        at = draw(st.integers(0, len(text) - 1))
        action = draw(st.sampled_from(["delete", "insert", "duplicate", "replace"]))
        if action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 8)) :]
        elif action == "insert":
            piece = draw(
                st.sampled_from(["(", ")", '"', "`", "\\", ",", " and ", " by ", "\x00", "\u201c"])
                | st.text(wild_chars, max_size=3)
            )
            text = text[:at] + piece + text[at:]
        elif action == "duplicate":
            text = text[:at] + text[at : at + 20] + text[at:]
        else:
            text = text[:at] + draw(wild_chars) + text[at + 1 :]
    return text


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An emulator with a short query timeout and a state directory, and a session to it."""
    from scuba_magic.emulator import Emulator

    state = tmp_path_factory.mktemp("fuzz-state")
    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    with (
        Emulator(
            demo_events=5_000,
            now=now,
            tokens=[TOKEN],
            state_dir=state,
            query_timeout=QUERY_TIMEOUT_S,
        ) as running,
        requests.Session() as session,
    ):
        session.headers["Authorization"] = f"Token {TOKEN}"
        running.session = session
        yield running


def post(target: Any, data: bytes, timeout: float = ANSWER_TIMEOUT_S) -> requests.Response:
    """POST ``data`` to ``/v1/query``; an answer later than ``timeout`` fails as a hang."""
    return target.session.post(
        f"{target.url}/v1/query",
        data=data,
        headers={"Content-Type": "application/json"},
        timeout=timeout,
    )


def check_answer(response: requests.Response, sent: Any) -> None:
    """A 2xx, or a 4xx JSON error with a code and a message; never a 5xx."""
    assert response.status_code < 500, f"{response.status_code} for {sent!r}: {response.text}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("error"), str) and body["error"], body
        assert isinstance(body.get("message"), str) and len(body["message"]) > 10, body
    elif "application/json" in response.headers.get("content-type", ""):
        response.json()


def send_json(target: Any, value: Any) -> None:
    # ensure_ascii writes lone surrogates as \\uXXXX escapes: valid JSON, invalid text
    data = json.dumps(value, ensure_ascii=True, allow_nan=False).encode()
    check_answer(post(target, data), value)


fuzz_settings = settings(
    max_examples=EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)


@fuzz_settings
@given(value=json_values)
def test_random_json_values(target: Any, value: Any) -> None:
    send_json(target, value)


@fuzz_settings
@given(body=query_bodies)
def test_query_bodies_with_random_fields(target: Any, body: dict[str, Any]) -> None:
    send_json(target, body)


@fuzz_settings
@given(bql=st.text(wild_chars, max_size=200))
def test_random_text_as_bql(target: Any, bql: str) -> None:
    send_json(target, {"bql": bql})


@fuzz_settings
@given(bql=grammar_queries(), result_format=st.sampled_from(["JSON_POWER_BI", "CSV", "DEFAULT"]))
def test_grammar_built_bql(target: Any, bql: str, result_format: str) -> None:
    send_json(target, {"bql": bql, "result_format": result_format})


@fuzz_settings
@given(bql=mutated_queries(), explore=st.booleans())
def test_mutated_bql(target: Any, bql: str, explore: bool) -> None:
    body: dict[str, Any] = {"bql": bql}
    if explore:
        body.update(return_type="explore_url", chart_options={"type": "table", "name": bql[:50]})
    send_json(target, body)


@fuzz_settings
@given(data=st.binary(max_size=300))
def test_random_bytes(target: Any, data: bytes) -> None:
    check_answer(post(target, data), data)


@fuzz_settings
@given(body=json_values)
def test_revoke_token_with_random_bodies(target: Any, body: Any) -> None:
    assume(body != {"token": TOKEN})  # revoking its own token is allowed, and not the point
    response = target.session.post(
        f"{target.url}/api/revoke_token",
        data=json.dumps(body, ensure_ascii=True).encode(),
        headers={"Content-Type": "application/json"},
        timeout=ANSWER_TIMEOUT_S,
    )
    check_answer(response, body)
    # whatever else was sent, the token that sent it still works
    assert post(target, b'{"bql": "select count(*) from music"}').status_code == 200


@fuzz_settings
@given(path=wild_text)
def test_random_paths(target: Any, path: str) -> None:
    from urllib.parse import quote

    encoded = quote(path.encode("utf-8", "surrogatepass"), safe="/")
    for url in (f"{target.url}/explorer/{encoded}", f"{target.url}/{encoded}"):
        response = target.session.get(url, timeout=ANSWER_TIMEOUT_S)
        assert response.status_code < 500, f"{response.status_code} for {url}"


def _hostile() -> dict[str, str]:
    numbers = ", ".join(str(n) for n in range(60_000))
    words = ", ".join(f'"artist {n}"' for n in range(40_000))
    nested = "(" * 40 + "age > 1" + ")" * 40
    return {
        "in-list of 60,000 numbers": f"select count(* where age in ({numbers})) from music",
        "in-list of 40,000 strings": f"select count(* where artist in ({words})) from music",
        "nesting at the limit": f"select count(* where {nested}) from music",
        "nesting far past the limit": "select count(* where " + "(" * 5000 + "age" + ")" * 5000,
        "not x 5000": "select count(* where " + "not " * 5000 + "authenticated) from music",
        "sums 5000 long": "select sum(" + " + ".join(["age"] * 5000) + ") from music",
        "measures x 500": "select " + ", ".join(["count(*)"] * 500) + " from music",
        "rounds nested 40": "select max(" + "ROUND(" * 38 + "age" + ", 1)" * 38 + ") from music",
        "integer of 5000 digits": "select count(* where age > " + "9" * 5000 + ") from music",
        "integer just past int64": "select count(* where age > 9223372036854775808) from music",
        "float overflow": "select count(* where length > 1e309) from music",
        "float underflow": "select count(* where length > 1e-400) from music",
        "huge limit": "select count(*) from music group by user limit 999999999999999999999",
        "huge for every": "select count(*) from music for every 999999999999 years",
        "every second for a century": "select count(*) from music for every 1 second "
        "between 100 years ago and now",
        "many buckets with a wide window": "select count_unique(user) from music for every "
        "1 minute over 30 days between 60 days ago and now",
        "like (a*)*b": 'select count(* where artist like "(a*)*b") from music',
        "like (a|a)*b": 'select count(* where song like "^(a|a|aa)*$") from music',
        "like nested repeats": 'select count(* where song like "((a{100}){100}){100}") from music',
        "like 30,000 alternations": 'select count(* where song like "'
        + "|".join(f"x{n}" for n in range(30_000))
        + '") from music',
        "like .* x 2000": 'select count(* where song like "' + ".*a" * 2000 + '") from music',
        "group by every column": "select count(*) from music group by user, song, artist, "
        "country, age, length, price, page limit 100000",
        "actor of actor": "select count(*) from music group by "
        "Actor<user>(max(Actor<user>(max(age))))",
    }


HOSTILE = _hostile()


@pytest.mark.parametrize("name", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_bql_is_answered_within_the_query_timeout(target: Any, name: str) -> None:
    response = post(
        target, json.dumps({"bql": HOSTILE[name]}).encode(), QUERY_TIMEOUT_S + HOSTILE_GRACE_S
    )

    check_answer(response, name)
    if response.status_code == 400 and response.json()["error"] == "query_timeout":
        assert f"{QUERY_TIMEOUT_S:g} s" in response.json()["message"]
    # and the worker it used is free again
    assert post(target, b'{"bql": "select count(*) from music"}').status_code == 200


@pytest.mark.parametrize("name", ["\\udcff", "plays \\ud800 by day"])
def test_a_lone_surrogate_in_a_chart_name_is_a_400_not_a_500(target: Any, name: str) -> None:
    # found by test_query_bodies_with_random_fields: the name could not be written to the state
    # directory, and the request failed with a 500 after the rid was minted
    body = (
        '{"bql": "select count(*) from music", "return_type": "explore_url", '
        f'"chart_options": {{"name": "{name}"}}}}'
    )

    response = post(target, body.encode())

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_json"
    assert "not valid Unicode text" in response.json()["message"]


def test_the_state_directory_survives_the_attack(target: Any, tmp_path: Path) -> None:
    """After everything above, rids written to the state directory still load."""
    from scuba_magic.emulator import Emulator

    answer = post(target, b'{"bql": "select count(*) from music group by gender"}')
    rid = answer.headers["X-Scuba-Query-Response-Id"]
    with Emulator(
        demo_events=5_000,
        now=datetime(2024, 6, 1, tzinfo=timezone.utc),
        tokens=[TOKEN],
        state_dir=target.state_dir,
    ) as again:
        replay = requests.post(
            f"{again.url}/v1/query",
            json={"query_response_id": rid},
            headers={"Authorization": f"Token {TOKEN}"},
            timeout=ANSWER_TIMEOUT_S,
        )
    assert replay.status_code == 200, replay.text
    assert replay.json() == answer.json()
