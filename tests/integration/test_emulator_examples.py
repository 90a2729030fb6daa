"""Every BQL example of the public docs runs on the demo data (table names -> foreverMusic).

The examples are the documented ones (scuba-api.md section 4) with only the table name replaced;
flows, which BQL cannot define, get a clear 400 instead.
"""

from __future__ import annotations

import re

import pytest

DOC_TABLES = ("my_table", "nightly1_usage", "fashion", "music")

# (example as documented, whether its time range covers the demo data's 90 days)
EXAMPLES = [
    ("select count(*) from foreverMusic", True),
    ("select count(*) from foreverMusic group by gender between 7 days ago and now", True),
    (
        'select count(* where page = "Error") from my_table group by ROUND(length,10) '
        "between 6 months ago and now",
        True,
    ),
    (
        "select count(*) as cnt from nightly1_usage group by username limit 5 order by cnt "
        "between 7 days ago and now",
        True,
    ),
    ('select count(* where action="hate") from fashion between beginning_of_time and now', True),
    (
        "select count(*) from my_table for every day over 2 days between 2021-01-01 and 2021-01-15",
        False,
    ),
    ("select count(*) from my_table between 7 days ago and now timezone US/Pacific", True),
    ("select count(* where authenticated) from fashion", True),
    ("select count(*) from my_table group by `hello.world` between 7 days ago and now", True),
    ("select count_unique(user) from my_table", True),
    ('select count(* where not(user="jack" or user="jill")) from my_table', True),
    ("select count_unique(purchase) as purchases, user from my_table order by purchases asc", True),
    ('select count(* where user in ("jack","jill")) from my_table', True),
    ("select count(*) from my_table group by user, country limit 5 and by platform limit 3", True),
    ("select count(* on Actor<user>) from my_table group by Actor<user>(max(age))", True),
    ("select count_unique(user where sqrt(age) > 5) from my_table", True),
    ("select percentile(user_high_score, 90) from my_table", True),
    (
        "select count(*) from my_table for every week over 7 days "
        "between beginning_of_time and now",
        True,
    ),
    ("select count(* where name like '.*jack.*') from my_table", True),
    (
        "with prev_week_activity as Actor<user>(count(*) over 1 week offset -1 week)\n"
        "  select count_unique(user where prev_week_activity = 0) from my_table "
        "between 2021-01-08 and 2021-01-15",
        False,
    ),
]


def _on_demo(bql: str) -> str:
    """The example with its table name replaced by the demo table."""
    return re.sub(rf"\bfrom ({'|'.join(DOC_TABLES)})\b", "from foreverMusic", bql)


@pytest.mark.parametrize(("example", "covers_data"), EXAMPLES, ids=range(len(EXAMPLES)))
def test_documented_example_returns_rows(api, example, covers_data):
    response = api.query({"bql": _on_demo(example)})

    assert response.status_code == 200, response.text
    rows = response.json()
    assert rows, "every example returns at least one row"
    measures = [key for key in rows[0] if key not in ("start_time_0", "end_time_0")]
    assert measures
    if covers_data:
        values = [row[key] for row in rows for key in measures]
        assert any(isinstance(v, (int, float)) and v > 0 for v in values), rows[:3]


def test_examples_use_only_documented_table_names():
    for example, _ in EXAMPLES:
        assert "from foreverMusic" in _on_demo(example)


@pytest.mark.parametrize(
    "bql",
    [
        "select count(*) from foreverMusic group by Flow<sessions>",
        "select count(* where Flow<sessions> = 1) from foreverMusic",
    ],
)
def test_flows_get_a_clear_400(api, bql):
    response = api.query({"bql": bql})

    assert response.status_code == 400
    body = response.json()
    assert "flow" in body["message"].lower()
    assert body["error"] == "unsupported_query"
    assert "not supported" in body["message"]
