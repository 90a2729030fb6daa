"""The emulator's /v1/query contract over real HTTP: formats, rids, explore URLs, tokens, state.

Numbers are checked against SQL run directly on the emulator's DuckDB tables, not against
constants, so a wrong count in any layer fails here.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

FIXED_NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)  # the session emulator's now (conftest)
GENDER_7_DAYS = "select count(*) from foreverMusic group by gender between 7 days ago and now"


def _epoch_ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _gender_counts_from_sql(emulator, days: int) -> dict:
    start = (FIXED_NOW - timedelta(days=days)).replace(tzinfo=None)
    end = FIXED_NOW.replace(tzinfo=None)
    cursor = emulator.connection.cursor()
    try:
        rows = cursor.execute(
            'select gender, count(*) from "foreverMusic" where time >= ? and time < ? '
            "group by gender",
            [start, end],
        ).fetchall()
    finally:
        cursor.close()
    return dict(rows)


def test_power_bi_rows_match_the_table(api, emulator):
    response = api.query({"bql": GENDER_7_DAYS, "result_format": "JSON_POWER_BI"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    rows = response.json()
    assert isinstance(rows, list)
    assert {frozenset(row) for row in rows} == {
        frozenset({"gender", "start_time_0", "end_time_0", "count of events"})
    }
    assert {row["gender"]: row["count of events"] for row in rows} == _gender_counts_from_sql(
        emulator, 7
    )
    assert {row["start_time_0"] for row in rows} == {_epoch_ms(FIXED_NOW - timedelta(days=7))}
    assert {row["end_time_0"] for row in rows} == {_epoch_ms(FIXED_NOW)}
    assert None in {row["gender"] for row in rows}, "the demo has users without a gender"


def test_power_bi_is_the_default_format(api):
    explicit = api.query({"bql": GENDER_7_DAYS, "result_format": "JSON_POWER_BI"}).json()
    default = api.query({"bql": GENDER_7_DAYS}).json()

    assert default == explicit


def test_csv_has_the_power_bi_rows_in_column_order(api):
    bql = (
        "select count(*) as plays, avg(length) from foreverMusic group by gender, platform "
        "for every day between 3 days ago and now"
    )
    power_bi = api.query({"bql": bql}).json()
    response = api.query({"bql": bql, "result_format": "CSV"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert b"\r\n" in response.content, "RFC 4180 records end with CRLF"
    records = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    header, body = records[0], records[1:]
    assert header == ["gender", "platform", "start_time_0", "end_time_0", "plays", "avg(length)"]
    assert len(body) == len(power_bi)
    for record, obj in zip(body, power_bi, strict=True):
        expected = ["" if obj[key] is None else str(obj[key]) for key in header[:4]]
        assert record[:4] == expected
        assert int(record[4]) == obj["plays"]
        assert (record[5] == "" and obj["avg(length)"] is None) or float(record[5]) == (
            pytest.approx(obj["avg(length)"])
        )


def test_csv_quotes_values_with_commas_and_quotes(api):
    response = api.query(
        {
            "bql": 'select count(*) as `count, "quoted"` from foreverMusic',
            "result_format": "CSV",
        }
    )

    assert response.status_code == 200, response.text
    header = response.content.decode("utf-8").split("\r\n", 1)[0]
    assert header == 'start_time_0,end_time_0,"count, ""quoted"""'


def test_default_format_has_typed_columns_and_row_lists(api):
    power_bi = api.query({"bql": GENDER_7_DAYS}).json()
    response = api.query({"bql": GENDER_7_DAYS, "result_format": "default"})

    assert response.status_code == 200
    body = response.json()
    assert body["columns"] == [
        {"name": "gender", "type": "string"},
        {"name": "start_time_0", "type": "epoch_ms"},
        {"name": "end_time_0", "type": "epoch_ms"},
        {"name": "count of events", "type": "integer"},
    ]
    names = [column["name"] for column in body["columns"]]
    assert [dict(zip(names, row, strict=True)) for row in body["rows"]] == power_bi


def test_every_query_gets_a_new_rid_that_replays_it(api):
    first = api.query({"bql": GENDER_7_DAYS})
    second = api.query({"bql": GENDER_7_DAYS})
    rid1 = first.headers["X-Scuba-Query-Response-Id"]
    rid2 = second.headers["X-Scuba-Query-Response-Id"]

    assert rid1.startswith("r") and rid2.startswith("r")
    assert int(rid2[1:]) > int(rid1[1:])
    replay = api.query({"query_response_id": rid1, "result_format": "CSV"})
    assert replay.status_code == 200
    assert int(replay.headers["X-Scuba-Query-Response-Id"][1:]) > int(rid2[1:])
    csv_direct = api.query({"bql": GENDER_7_DAYS, "result_format": "CSV"})
    assert replay.content == csv_direct.content


def test_explore_url_mints_a_new_rid_each_time(api, emulator):
    body = {
        "bql": "select count(*) as `event count` from music group by gender "
        "between 7 days ago and now",
        "return_type": "explore_url",
        "chart_options": {"name": "This is a time chart", "type": "time"},
    }
    first = api.query(body)
    assert first.status_code == 200, first.text
    url = first.json()["url"]
    rid = url.rsplit("/", 1)[1]
    assert url == f"{emulator.url}/explorer/{rid}"
    assert first.headers["X-Scuba-Query-Response-Id"] == rid

    again = api.query(
        {
            "query_response_id": rid,
            "return_type": "explore_url",
            "chart_options": {"name": "This is now a table chart", "type": "table"},
        }
    )
    assert again.status_code == 200, again.text
    new_rid = again.json()["url"].rsplit("/", 1)[1]
    assert int(new_rid[1:]) > int(rid[1:])
    assert emulator.state.get_record(rid).chart_type == "TIME"
    record = emulator.state.get_record(new_rid)
    assert (record.chart_type, record.chart_name) == ("TABLE", "This is now a table chart")
    assert record.bql == body["bql"]


def test_explore_of_a_rid_without_chart_options_keeps_its_chart(api, emulator):
    made = api.query(
        {
            "bql": GENDER_7_DAYS,
            "return_type": "explore_url",
            "chart_options": {"name": "By gender", "type": "Bar"},
        }
    ).json()["url"]
    rid = made.rsplit("/", 1)[1]

    copy = api.query({"query_response_id": rid, "return_type": "explore_url"}).json()["url"]

    record = emulator.state.get_record(copy.rsplit("/", 1)[1])
    assert (record.chart_type, record.chart_name, record.source_rid) == ("BAR", "By gender", rid)
    retyped = api.query(
        {"query_response_id": rid, "return_type": "explore_url", "chart_options": {"type": "table"}}
    ).json()["url"]
    record = emulator.state.get_record(retyped.rsplit("/", 1)[1])
    assert (record.chart_type, record.chart_name) == ("TABLE", "By gender")


@pytest.mark.parametrize(
    "chart_type", ["time", "TABLE", "Sankey", "number", "bar", "sunburst", "SCATTER"]
)
def test_chart_types_are_case_insensitive_and_pages_render(api, emulator, chart_type):
    response = api.query(
        {
            "bql": GENDER_7_DAYS,
            "return_type": "explore_url",
            "chart_options": {"name": f"Chart {chart_type}", "type": chart_type},
        }
    )
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert emulator.state.get_record(url.rsplit("/", 1)[1]).chart_type == chart_type.upper()

    page = api.session.get(url, timeout=60)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f"Chart {chart_type}" in page.text


def test_explorer_page_of_unknown_rid_is_a_404_page(api):
    page = api.get("/explorer/r987654321")

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "r987654321" in page.text


def test_plotly_js_is_served_locally(api):
    response = api.get("/static/plotly.min.js")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert b"plotly" in response.content[:2000].lower()


def test_client_reads_every_format_the_same(client, emulator):
    df = client.query(GENDER_7_DAYS)
    df_csv = client.query(GENDER_7_DAYS, result_format="CSV")
    default = client.query(GENDER_7_DAYS, result_format="DEFAULT")

    assert list(df.columns) == ["gender", "start_time_0", "end_time_0", "count of events"]
    genders = df["gender"].astype(object).where(df["gender"].notna(), None).tolist()
    counts = dict(zip(genders, df["count of events"].tolist(), strict=True))
    assert counts == _gender_counts_from_sql(emulator, 7)
    assert df_csv.equals(df)
    assert len(default["rows"]) == len(df)


def test_a_rid_in_csv_and_json_decodes_to_the_same_frame_with_number_like_groups(api):
    import pandas as pd

    from scuba_magic import frames

    # a rid's answer has no shape: the CSV column order must tell its groups (all digits here)
    # from its measures, as JSON's types do
    made = api.query(
        {
            "bql": "select avg(age), count(*) from music group by age limit 5 "
            "and by country limit 2",
        }
    )
    assert made.status_code == 200, made.text
    rid = made.headers["X-Scuba-Query-Response-Id"]
    bodies = {
        fmt: api.query({"query_response_id": rid, "result_format": fmt}).content
        for fmt in ("JSON_POWER_BI", "CSV")
    }

    from_json = frames.to_dataframe(bodies["JSON_POWER_BI"], "JSON_POWER_BI")
    from_csv = frames.to_dataframe(bodies["CSV"], "CSV")

    assert from_csv.attrs["scuba"]["groups"] == ["age", "country"]
    assert from_csv["age"].str.fullmatch("[0-9]+").all()
    pd.testing.assert_frame_equal(from_csv, from_json)


def test_client_replays_a_rid_and_makes_explore_links(client, emulator):
    link = client.explore_url(GENDER_7_DAYS, chart_name="Weekly plays", chart_type="TABLE")
    assert link.url == f"{emulator.url}/explorer/{link.rid}"

    replayed = client.query(rid=link.rid)
    direct = client.query(GENDER_7_DAYS)
    assert replayed.reset_index(drop=True).equals(direct.reset_index(drop=True))
    relinked = client.explore_url(rid=link.rid, chart_type="number")
    assert int(relinked.rid[1:]) > int(link.rid[1:])


def test_create_and_revoke_tokens(api):
    made_by_get = api.get("/api/create_token", headers=api.headers())
    made_by_post = api.post("/api/create_token", headers=api.headers())
    assert made_by_get.status_code == made_by_post.status_code == 200
    token = made_by_get.json()["token"]
    assert made_by_get.json()["success"] is True
    assert token != made_by_post.json()["token"]
    assert api.query({"bql": "select count(*) from music"}, token=token).status_code == 200

    revoked = api.post("/api/revoke_token", headers=api.headers(token), json={"token": token})
    assert revoked.status_code == 200
    assert revoked.json() == {"success": True}

    refused = api.query({"bql": "select count(*) from music"}, token=token)
    assert refused.status_code == 401
    assert refused.json()["error"] == "not_logged_in"
    assert refused.json()["message"].startswith("Not logged in")
    assert api.query({"bql": "select count(*) from music"}).status_code == 200


def test_revoking_an_unknown_token_says_nothing_was_revoked(api):
    response = api.post("/api/revoke_token", headers=api.headers(), json={"token": "never-issued"})

    assert response.status_code == 404
    assert response.json()["error"] == "unknown_token"
    assert response.json()["success"] is False


def test_create_token_needs_a_token(api):
    response = api.get("/api/create_token")

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response.json()["message"].startswith("Not using authentication token")


def test_rids_and_created_tokens_survive_a_restart(tmp_path, api_for):
    from scuba_magic.emulator import Emulator

    options = dict(demo_events=3000, now=FIXED_NOW, state_dir=tmp_path, tokens=["start-token"])
    with Emulator(**options) as first:
        api = api_for(first.url, "start-token")
        data = api.query({"bql": GENDER_7_DAYS})
        rid = data.headers["X-Scuba-Query-Response-Id"]
        explore = api.query(
            {
                "bql": GENDER_7_DAYS,
                "return_type": "explore_url",
                "chart_options": {"name": "Kept", "type": "sunburst"},
            }
        ).json()["url"]
        chart_rid = explore.rsplit("/", 1)[1]
        created = api.get("/api/create_token", headers=api.headers()).json()["token"]

    stored = "".join(path.read_text() for path in tmp_path.iterdir())
    assert created not in stored and "start-token" not in stored
    journal = (tmp_path / "queries.jsonl").read_text().splitlines()
    assert [json.loads(line)["rid"] for line in journal] == [rid, chart_rid]

    with Emulator(**options) as second:
        api = api_for(second.url, created)
        replay = api.query({"query_response_id": rid})
        assert replay.status_code == 200
        assert replay.json() == data.json()
        assert int(replay.headers["X-Scuba-Query-Response-Id"][1:]) > int(chart_rid[1:])
        record = second.state.get_record(chart_rid)
        assert (record.chart_type, record.chart_name) == ("SUNBURST", "Kept")
        assert api.get(f"/explorer/{chart_rid}").status_code == 200


def test_without_state_dir_a_restart_forgets_rids(api_for):
    from scuba_magic.emulator import Emulator

    with Emulator(demo_events=2000, now=FIXED_NOW, tokens=["t"]) as first:
        rid = (
            api_for(first.url, "t")
            .query({"bql": GENDER_7_DAYS})
            .headers["X-Scuba-Query-Response-Id"]
        )
    with Emulator(demo_events=2000, now=FIXED_NOW, tokens=["t"]) as second:
        response = api_for(second.url, "t").query({"query_response_id": rid})
        assert response.status_code == 404


def test_index_describes_the_api_without_a_token(api):
    response = api.get("/")

    assert response.status_code == 200
    assert "POST /v1/query" in response.json()["endpoints"]


def test_user_tables_are_served_with_their_time_and_actor_columns(tmp_path, api_for):
    from scuba_magic.emulator import Emulator

    data = tmp_path / "clicks.csv"
    now_ms = _epoch_ms(FIXED_NOW)
    lines = ["ts,uid,button"]
    lines += [
        f"{now_ms - (i + 1) * 3_600_000},u{i % 3},{'ok' if i % 4 else 'cancel'}" for i in range(48)
    ]
    data.write_text("\n".join(lines) + "\n")

    with Emulator(
        demo=False,
        now=FIXED_NOW,
        tokens=["t"],
        tables={"clicks": data},
        time_column="ts",
        actor_columns=["uid"],
    ) as em:
        caller = api_for(em.url, "t")
        rows = caller.query(
            {
                "bql": "select count(*), count_unique(uid) from clicks group by button "
                "between 1 day ago and now"
            }
        ).json()
        missing = caller.query({"bql": "select count(*) from foreverMusic"})

    assert {row["button"]: row["count of events"] for row in rows} == {"ok": 18, "cancel": 6}
    assert {row["count_unique(uid)"] for row in rows} == {3}
    assert missing.status_code == 400
    assert "clicks" in missing.json()["message"]


def test_explorer_page_of_a_rid_that_no_longer_runs_shows_the_error(tmp_path, api_for):
    from scuba_magic.emulator import Emulator

    state = tmp_path / "state"
    with Emulator(demo_events=500, now=FIXED_NOW, tokens=["t"], state_dir=state) as first:
        url = (
            api_for(first.url, "t")
            .query({"bql": GENDER_7_DAYS, "return_type": "explore_url"})
            .json()["url"]
        )
    other = tmp_path / "other.csv"
    other.write_text("time,x\n2024-05-30T00:00:00,1\n")
    with Emulator(
        demo=False, now=FIXED_NOW, tokens=["t"], state_dir=state, tables={"other": other}
    ) as second:
        page = api_for(second.url, "t").get(f"/explorer/{url.rsplit('/', 1)[1]}")

    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert "foreverMusic" in page.text and "invalid_query" in page.text
