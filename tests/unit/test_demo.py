"""The demo table: deterministic, complete for the documented examples, realistically shaped."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from scuba_magic.emulator.catalog import Catalog
from scuba_magic.emulator.demo import COLUMNS, create_demo_table
from scuba_magic.emulator.engine import Engine

NOW = datetime(2021, 3, 1, 12, 0)
EVENTS = 20_000

# scuba-api.md section 4, with each table name replaced by foreverMusic.
DOCUMENTED_EXAMPLES = [
    "select count(*) from foreverMusic",
    "select count(*) from foreverMusic group by gender between 7 days ago and now",
    'select count(* where page = "Error") from foreverMusic group by ROUND(length,10) '
    "between 6 months ago and now",
    "select count(*) as cnt from foreverMusic group by username limit 5 order by cnt "
    "between 7 days ago and now",
    'select count(* where action="hate") from foreverMusic between beginning_of_time and now',
    "select count(*) from foreverMusic for every day over 2 days between 2021-01-01 and 2021-01-15",
    "select count(*) from foreverMusic between 7 days ago and now timezone US/Pacific",
    "select count(* where authenticated) from foreverMusic",
    "select count(*) from foreverMusic group by `hello.world` between 7 days ago and now",
    "select count_unique(user) from foreverMusic",
    'select count(* where not(user="jack" or user="jill")) from foreverMusic',
    "select count_unique(purchase) as purchases, user from foreverMusic order by purchases asc",
    'select count(* where user in ("jack","jill")) from foreverMusic',
    "select count(*) from foreverMusic group by user, country limit 5 and by platform limit 3",
    "select count(* on Actor<user>) from foreverMusic group by Actor<user>(max(age))",
    "select count_unique(user where sqrt(age) > 5) from foreverMusic",
    "select percentile(user_high_score, 90) from foreverMusic",
    "select count(*) from foreverMusic for every week over 7 days "
    "between beginning_of_time and now",
    "select count(* where name like '.*jack.*') from foreverMusic",
    "with prev_week_activity as Actor<user>(count(*) over 1 week offset -1 week)\n"
    "  select count_unique(user where prev_week_activity = 0) from foreverMusic "
    "between 2021-01-08 and 2021-01-15",
]


@pytest.fixture(scope="module")
def demo() -> tuple[duckdb.DuckDBPyConnection, object]:
    con = duckdb.connect()
    table = create_demo_table(con, events=EVENTS, now=NOW)
    yield con, table
    con.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


def all_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute('SELECT * FROM "foreverMusic" ORDER BY ALL').fetchall()


def test_catalog_entry_describes_the_table(demo):
    con, table = demo
    assert table.name == "foreverMusic"
    assert table.aliases == ["music"]
    assert table.time_column == "time"
    assert table.actor_columns == ["user"]
    described = {name: kind for name, kind, *_ in con.execute('DESCRIBE "foreverMusic"').fetchall()}
    assert described == table.columns == COLUMNS


def test_has_every_column_the_documented_examples_use(demo):
    _, table = demo
    needed = {
        "time",
        "user",
        "username",
        "gender",
        "age",
        "country",
        "platform",
        "level",
        "artist",
        "song",
        "genre",
        "page",
        "action",
        "length",
        "another_length",
        "play_time",
        "music_service",
        "price",
        "purchase",
        "name",
        "time_in_app",
        "user_high_score",
        "authenticated",
        "hello.world",
    }
    assert needed <= set(table.columns)
    assert table.columns["time"] == "TIMESTAMP"
    assert table.columns["authenticated"] == "BOOLEAN"
    assert table.columns["age"] == "INTEGER"


def test_row_count_and_time_window(demo):
    con, _ = demo
    count, first, last = con.execute(
        'SELECT count(*), min(time), max(time) FROM "foreverMusic"'
    ).fetchone()
    assert count == EVENTS
    assert NOW - timedelta(days=90) <= first < NOW - timedelta(days=89)
    assert NOW - timedelta(days=1) < last < NOW


def test_same_arguments_give_identical_rows(demo):
    con, _ = demo
    other = duckdb.connect()
    create_demo_table(other, events=EVENTS, now=NOW)
    assert all_rows(other) == all_rows(con)


def test_aware_now_is_the_same_instant_as_naive_utc(demo):
    con, _ = demo
    other = duckdb.connect()
    aware = NOW.replace(tzinfo=timezone.utc).astimezone(timezone(timedelta(hours=-5)))
    create_demo_table(other, events=EVENTS, now=aware)
    assert all_rows(other) == all_rows(con)


def test_another_seed_gives_other_rows(demo):
    con, _ = demo
    other = duckdb.connect()
    create_demo_table(other, events=EVENTS, now=NOW, seed=7)
    assert all_rows(other) != all_rows(con)


def test_per_user_attributes_are_the_same_on_every_event(demo):
    con, _ = demo
    inconsistent = scalar(
        con,
        'SELECT count(*) FROM (SELECT "user" FROM "foreverMusic" GROUP BY "user" HAVING '
        "count(DISTINCT (coalesce(gender, '?'), age, country, level, username, name, "
        "music_service)) > 1)",
    )
    assert inconsistent == 0


def test_values_the_examples_filter_on_exist(demo):
    con, _ = demo
    pages = {r[0] for r in con.execute('SELECT DISTINCT page FROM "foreverMusic"').fetchall()}
    assert {"NextSong", "Error"} <= pages
    actions = {r[0] for r in con.execute('SELECT DISTINCT action FROM "foreverMusic"').fetchall()}
    assert "hate" in actions
    genders = {r[0] for r in con.execute('SELECT DISTINCT gender FROM "foreverMusic"').fetchall()}
    assert genders == {"F", "M", None}
    users = {r[0] for r in con.execute('SELECT DISTINCT "user" FROM "foreverMusic"').fetchall()}
    assert {"jack", "jill"} <= users
    jacks = "SELECT count(*) FROM \"foreverMusic\" WHERE regexp_full_match(name, '.*jack.*')"
    assert scalar(con, jacks) > 0
    assert scalar(con, 'SELECT count(DISTINCT "hello.world") FROM "foreverMusic"') == 3
    both = 'SELECT bool_or(authenticated) AND NOT bool_and(authenticated) FROM "foreverMusic"'
    assert scalar(con, both)


def test_song_columns_are_null_exactly_where_no_song_plays(demo):
    con, _ = demo
    home_with_song = scalar(
        con,
        'SELECT count(artist) + count(song) + count(length) FROM "foreverMusic" '
        "WHERE page = 'Home'",
    )
    plays_without_song = scalar(
        con,
        "SELECT count(*) FROM \"foreverMusic\" WHERE page = 'NextSong' "
        "AND (artist IS NULL OR song IS NULL OR genre IS NULL OR length IS NULL)",
    )
    assert home_with_song == 0
    assert plays_without_song == 0
    assert scalar(con, 'SELECT count(*) FROM "foreverMusic" WHERE play_time > length') == 0


def test_price_goes_with_purchase(demo):
    con, _ = demo
    mismatched = scalar(
        con, 'SELECT count(*) FROM "foreverMusic" WHERE (price IS NULL) <> (purchase IS NULL)'
    )
    assert mismatched == 0
    assert scalar(con, 'SELECT count(purchase) FROM "foreverMusic"') > 0


def test_evenings_and_weekends_are_busier(demo):
    con, _ = demo
    evening, night = con.execute(
        "SELECT count(*) FILTER (WHERE hour(time) BETWEEN 18 AND 21), "
        'count(*) FILTER (WHERE hour(time) BETWEEN 2 AND 5) FROM "foreverMusic"'
    ).fetchone()
    assert evening > 3 * night
    weekend_daily, weekday_daily = con.execute(
        "SELECT avg(n) FILTER (WHERE dow IN (0, 6)), avg(n) FILTER (WHERE dow NOT IN (0, 6)) "
        "FROM (SELECT dayofweek(time) AS dow, date_trunc('day', time) AS d, count(*) AS n "
        'FROM "foreverMusic" WHERE time >= ? GROUP BY ALL)',
        [NOW - timedelta(days=84)],
    ).fetchone()
    assert weekend_daily > 1.15 * weekday_daily


def test_few_users_and_artists_take_most_events(demo):
    con, _ = demo
    counts = [
        r[0]
        for r in con.execute(
            'SELECT count(*) AS n FROM "foreverMusic" GROUP BY "user" ORDER BY n DESC'
        ).fetchall()
    ]
    top_tenth = sum(counts[: len(counts) // 10])
    assert top_tenth > 0.35 * sum(counts)
    assert counts[-1] <= 3
    artists = [
        r[0]
        for r in con.execute(
            'SELECT count(*) AS n FROM "foreverMusic" WHERE artist IS NOT NULL '
            "GROUP BY artist ORDER BY n DESC"
        ).fetchall()
    ]
    assert artists[0] > 5 * artists[len(artists) // 2]


@pytest.fixture(scope="module")
def engine(demo):
    con, table = demo
    engine = Engine(con, Catalog([table]), now=NOW)
    yield engine
    engine.close()


@pytest.mark.parametrize("bql", DOCUMENTED_EXAMPLES)
def test_documented_example_finds_events(engine, bql):
    result = engine.run(bql)
    assert result.rows
    # The first measure counts something the demo data has, so some row is positive.
    first_measure = result.columns.index(result.measures[0])
    assert any((row[first_measure] or 0) > 0 for row in result.rows)


def test_zero_events_makes_an_empty_table():
    con = duckdb.connect()
    table = create_demo_table(con, events=0, now=NOW)
    assert scalar(con, 'SELECT count(*) FROM "foreverMusic"') == 0
    assert table.columns == COLUMNS


@pytest.mark.parametrize(("events", "days"), [(-1, 90), (10, 0)])
def test_bad_sizes_are_refused(events, days):
    with pytest.raises(ValueError, match="events|days"):
        create_demo_table(duckdb.connect(), events=events, days=days, now=NOW)
