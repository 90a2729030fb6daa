"""The emulator's demo data: a deterministic table of music-listening events, ``foreverMusic``.

``create_demo_table(con, now=...)`` fills a DuckDB table ``foreverMusic`` (alias ``music``, time
column ``time``, actor column ``user``) with about a million events over the 90 days before
``now``. The same ``seed``, ``events``, ``days`` and ``now`` always give the same rows, so tests
and notebooks can rely on the numbers.

The data has the shapes analysts expect, so that every documented BQL example returns something
worth looking at:

- a few users listen a lot and most a little (log-normal activity per user);
- popular artists take most plays (Zipf-like popularity), and within an artist a few hits do;
- more events in the evening (UTC) and at weekends, and slow growth over the period;
- per-user attributes (``gender``, ``age``, ``country``, ``level``, ``music_service``, ``name``)
  are the same on every event of a user; users ``jack`` and ``jill`` exist, and ``name`` values
  match ``'.*jack.*'``;
- ``page`` includes ``"NextSong"`` and ``"Error"``, ``action`` includes ``"hate"``, and
  ``authenticated`` is a boolean; song columns are NULL on pages that play no song.

Everything is generated with NumPy from one seeded generator and handed to DuckDB as Arrow
dictionary arrays (string columns are built from small dictionaries, never a million Python
strings), which keeps a million-event start-up to a couple of seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import numpy as np

    from scuba_magic.emulator.catalog import Table

TABLE_NAME = "foreverMusic"
TABLE_ALIASES = ["music"]
TIME_COLUMN = "time"
ACTOR_COLUMN = "user"

# Column order and DuckDB types of the demo table.
COLUMNS: dict[str, str] = {
    "time": "TIMESTAMP",
    "user": "VARCHAR",
    "username": "VARCHAR",
    "name": "VARCHAR",
    "gender": "VARCHAR",
    "age": "INTEGER",
    "country": "VARCHAR",
    "level": "VARCHAR",
    "music_service": "VARCHAR",
    "platform": "VARCHAR",
    "page": "VARCHAR",
    "action": "VARCHAR",
    "artist": "VARCHAR",
    "song": "VARCHAR",
    "genre": "VARCHAR",
    "length": "DOUBLE",
    "another_length": "DOUBLE",
    "play_time": "DOUBLE",
    "price": "DOUBLE",
    "purchase": "VARCHAR",
    "time_in_app": "DOUBLE",
    "user_high_score": "BIGINT",
    "authenticated": "BOOLEAN",
    "hello.world": "VARCHAR",
}

_FEMALE_NAMES = [
    "jill",
    "alice",
    "maria",
    "emma",
    "olivia",
    "sofia",
    "mia",
    "chloe",
    "lena",
    "yuki",
    "aisha",
    "priya",
    "fatima",
    "ana",
    "julia",
    "nora",
    "ella",
    "zoe",
    "ingrid",
    "mei",
    "lucia",
    "amara",
    "hannah",
    "sara",
    "camille",
    "jackie",
    "freya",
    "isabel",
    "leila",
    "noor",
]
_MALE_NAMES = [
    "jack",
    "bob",
    "liam",
    "noah",
    "lucas",
    "mateo",
    "omar",
    "ravi",
    "kenji",
    "david",
    "felix",
    "hugo",
    "ivan",
    "leo",
    "marco",
    "nico",
    "oscar",
    "pablo",
    "sam",
    "tariq",
    "jackson",
    "theo",
    "wei",
    "yusuf",
    "arjun",
    "emil",
    "jonas",
    "diego",
    "kofi",
    "max",
]
_LAST_NAMES = [
    "smith",
    "garcia",
    "muller",
    "rossi",
    "kim",
    "silva",
    "nguyen",
    "kowalski",
    "haddad",
    "sato",
    "okafor",
    "jensen",
    "dubois",
    "novak",
    "patel",
    "lopez",
    "brown",
    "tanaka",
    "schmidt",
    "blackjack",
    "hill",
    "ivanova",
    "costa",
    "larsen",
    "moreau",
    "chen",
    "ali",
    "fischer",
]
_COUNTRIES = [
    ("US", 30),
    ("GB", 9),
    ("DE", 8),
    ("BR", 8),
    ("FR", 6),
    ("IN", 7),
    ("JP", 5),
    ("CA", 4),
    ("MX", 4),
    ("ES", 3),
    ("SE", 2),
    ("AU", 3),
    ("NG", 2),
    ("KR", 2),
    ("PL", 2),
    ("IT", 3),
    ("NL", 2),
]
_PLATFORMS = [("iOS", 34), ("Android", 38), ("Web", 16), ("Desktop", 9), ("Smart Speaker", 3)]
_SERVICES = [
    ("Spotify", 40),
    ("Apple Music", 20),
    ("YouTube Music", 14),
    ("Amazon Music", 10),
    ("Deezer", 6),
    ("Tidal", 4),
    ("Pandora", 6),
]
_GENRES = [
    ("Pop", 20),
    ("Hip-Hop", 16),
    ("Rock", 14),
    ("Electronic", 10),
    ("R&B", 8),
    ("Latin", 7),
    ("Indie", 6),
    ("Country", 5),
    ("K-Pop", 4),
    ("Metal", 3),
    ("Jazz", 2),
    ("Classical", 2),
    ("Reggae", 1),
    ("Folk", 1),
    ("Blues", 1),
]
_WORDS_A = [
    "Velvet",
    "Electric",
    "Silent",
    "Golden",
    "Midnight",
    "Crimson",
    "Paper",
    "Neon",
    "Lonely",
    "Wild",
    "Hollow",
    "Crystal",
    "Broken",
    "Northern",
    "Burning",
    "Gentle",
    "Cosmic",
    "Secret",
    "Little",
    "Endless",
    "Blue",
    "Summer",
    "Iron",
    "Sleepy",
    "Lucky",
    "Faded",
    "Bright",
    "Quiet",
]
_WORDS_B = [
    "Foxes",
    "Harbor",
    "Rivers",
    "Echoes",
    "Lights",
    "Wolves",
    "Gardens",
    "Machines",
    "Hearts",
    "Satellites",
    "Shadows",
    "Tides",
    "Parade",
    "Comets",
    "Lanterns",
    "Mirrors",
    "Horizon",
    "Roses",
    "Thunder",
    "Ghosts",
    "Canyons",
    "Birds",
    "Rain",
    "Dreams",
    "Streets",
    "Stars",
]
# (page, weight, plays a song); "NextSong" dominates as in real listening logs.
_PAGES = [
    ("NextSong", 800, True),
    ("Home", 45, False),
    ("Thumbs Up", 45, True),
    ("Thumbs Down", 10, True),
    ("Add to Playlist", 25, True),
    ("Add Friend", 15, False),
    ("Roll Advert", 15, False),
    ("Logout", 12, False),
    ("Settings", 8, False),
    ("Help", 6, False),
    ("Error", 4, True),
    ("Upgrade", 5, False),
    ("Downgrade", 2, False),
    ("About", 3, False),
    ("Save Settings", 2, False),
]
# action -> weight, per page; pages not listed get "view".
_ACTIONS_BY_PAGE = {
    "NextSong": [("play", 74), ("skip", 20), ("pause", 6)],
    "Thumbs Up": [("like", 70), ("love", 30)],
    "Thumbs Down": [("hate", 80), ("dislike", 20)],
    "Add to Playlist": [("save", 85), ("share", 15)],
    "Error": [("retry", 60), ("view", 40)],
    "Upgrade": [("purchase", 100)],
}
_HELLO_WORLD = [("hello", 40), ("world", 30), ("hello world", 20)]  # remaining 10%: NULL
# Relative activity by UTC hour of day: quiet nights, a lunch bump, an evening peak.
_HOUR_WEIGHTS = [
    0.55,
    0.40,
    0.30,
    0.25,
    0.25,
    0.30,
    0.45,
    0.65,
    0.80,
    0.85,
    0.90,
    0.95,
    1.05,
    1.00,
    0.95,
    0.95,
    1.05,
    1.25,
    1.50,
    1.70,
    1.75,
    1.60,
    1.25,
    0.85,
]
_WEEKEND_FACTOR = 1.35
_GROWTH_OVER_PERIOD = 0.25
_EVENTS_PER_USER = 100
_EVENTS_PER_ARTIST = 2500


def create_demo_table(
    con: duckdb.DuckDBPyConnection,
    *,
    events: int = 1_000_000,
    days: int = 90,
    now: datetime,
    seed: int = 42,
) -> Table:
    """Create (or replace) the ``foreverMusic`` table in ``con`` and describe it.

    Args:
        con: the DuckDB connection to create the table in.
        events: how many events to generate.
        days: the events fall in the ``days`` days before ``now``.
        now: the end of the data (exclusive); a naive datetime is taken as UTC.
        seed: the random seed; equal arguments give identical tables.

    Returns:
        The catalog entry: name ``foreverMusic``, alias ``music``, time column ``time``,
        actor column ``user``.

    Raises:
        ValueError: ``events`` is negative or ``days`` is not positive.
    """
    import numpy as np
    import pyarrow as pa

    from scuba_magic.emulator.catalog import Table, quote_identifier

    if events < 0:
        raise ValueError(f"events must be 0 or more, got {events}")
    if days <= 0:
        raise ValueError(f"days must be 1 or more, got {days}")
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)

    rng = np.random.default_rng(seed)
    users = _make_users(rng, max(20, events // _EVENTS_PER_USER))
    catalog_songs = _make_songs(rng, max(30, events // _EVENTS_PER_ARTIST))

    columns = _make_events(rng, events, days, now, users, catalog_songs)
    arrow_table = pa.table({name: columns[name] for name in COLUMNS})

    # A private view name for the Arrow data, dropped as soon as the table is copied.
    source = f"_scuba_demo_source_{seed}"
    con.register(source, arrow_table)
    try:
        select = ", ".join(
            f"CAST({quote_identifier(name)} AS {sql_type}) AS {quote_identifier(name)}"
            for name, sql_type in COLUMNS.items()
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {quote_identifier(TABLE_NAME)} AS "
            f"SELECT {select} FROM {quote_identifier(source)}"
        )
    finally:
        con.unregister(source)
    return Table(
        TABLE_NAME,
        dict(COLUMNS),
        time_column=TIME_COLUMN,
        actor_columns=[ACTOR_COLUMN],
        aliases=list(TABLE_ALIASES),
        sql_name=TABLE_NAME,
    )


def _weights(pairs: list[tuple[str, float]]) -> tuple[list[str], np.ndarray]:
    import numpy as np

    labels = [label for label, _ in pairs]
    weights = np.array([weight for _, weight in pairs], dtype=float)
    return labels, weights / weights.sum()


def _make_users(rng: np.random.Generator, count: int) -> dict[str, Any]:
    """Per-user attributes; index 0 is ``jack`` and index 1 is ``jill``."""
    import numpy as np

    is_female = rng.random(count) < 0.48
    is_female[0], is_female[1] = False, True
    first_index = rng.integers(0, 10**9, count)
    last_index = rng.integers(0, len(_LAST_NAMES), count)
    seen: dict[str, int] = {}
    handles, usernames, names = [], [], []
    for i in range(count):
        pool = _FEMALE_NAMES if is_female[i] else _MALE_NAMES
        first = pool[first_index[i] % len(pool)]
        if i == 0:
            first = "jack"
        elif i == 1:
            first = "jill"
        last = _LAST_NAMES[last_index[i]]
        # The first user of a name gets the bare name ("jack"), later ones a number ("jack2").
        seen[first] = seen.get(first, 0) + 1
        handle = first if seen[first] == 1 else f"{first}{seen[first]}"
        handles.append(handle)
        usernames.append(f"{handle}_{last}")
        names.append(f"{first} {last}")

    gender = np.where(is_female, 0, 1)
    gender_null = rng.random(count) < 0.04
    gender_null[:2] = False

    countries, country_p = _weights(_COUNTRIES)
    services, service_p = _weights(_SERVICES)
    platforms, platform_p = _weights(_PLATFORMS)
    # Log-normal activity: most users listen a little, a few listen a great deal.
    activity = rng.lognormal(0.0, 1.4, count)
    activity[:2] = np.quantile(activity, 0.9)
    return {
        "user": handles,
        "username": usernames,
        "name": names,
        "gender": gender,
        "gender_null": gender_null,
        "age": np.clip(np.round(rng.normal(31, 11, count)), 13, 85).astype(np.int32),
        "countries": countries,
        "country": rng.choice(len(countries), count, p=country_p),
        "paid": rng.random(count) < 0.3,
        "services": services,
        "music_service": rng.choice(len(services), count, p=service_p),
        "platforms": platforms,
        "platform_p": platform_p,
        "platform": rng.choice(len(platforms), count, p=platform_p),
        "skill": rng.lognormal(7.0, 0.6, count),
        "activity": activity / activity.sum(),
    }


def _make_songs(rng: np.random.Generator, artist_count: int) -> dict[str, Any]:
    """Artists (with Zipf-like popularity and a genre) and their songs."""
    import numpy as np

    artists: list[str] = []
    taken: set[str] = set()
    while len(artists) < artist_count:
        a, b = rng.integers(0, len(_WORDS_A)), rng.integers(0, len(_WORDS_B))
        style = rng.integers(0, 3)
        if style == 0:
            candidate = f"The {_WORDS_A[a]} {_WORDS_B[b]}"
        elif style == 1:
            candidate = f"{_WORDS_A[a]} {_WORDS_B[b]}"
        else:
            candidate = f"DJ {_WORDS_A[a]} {_WORDS_B[b][:-1]}"
        if candidate in taken:
            candidate = f"{candidate} {len(artists)}"
        taken.add(candidate)
        artists.append(candidate)
    # Zipf-like: the first artists are the hits; the offset keeps the top one from owning it all.
    rank = np.arange(1, artist_count + 1, dtype=float)
    popularity = 1.0 / (rank + 2.0) ** 1.1
    genres, genre_p = _weights(_GENRES)
    songs_per_artist = rng.integers(8, 30, artist_count)
    first_song = np.concatenate([[0], np.cumsum(songs_per_artist)[:-1]])
    total_songs = int(songs_per_artist.sum())
    titles = [
        f"{_WORDS_A[rng.integers(0, len(_WORDS_A))]} {_WORDS_B[rng.integers(0, len(_WORDS_B))]}"
        for _ in range(total_songs)
    ]
    return {
        "artists": artists,
        "popularity": popularity / popularity.sum(),
        "genres": genres,
        "genre": rng.choice(len(genres), artist_count, p=genre_p),
        "songs_per_artist": songs_per_artist,
        "first_song": first_song,
        "titles": titles,
        "length": np.round(np.clip(rng.lognormal(5.4, 0.3, total_songs), 60, 900), 2),
        "price": np.where(rng.random(total_songs) < 0.7, 0.99, 1.29),
    }


def _dictionary(indices: np.ndarray, labels: list[str], null: np.ndarray | None = None) -> Any:
    """An Arrow dictionary array: cheap string columns from small integer codes."""
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(
        pa.array(indices.astype("int32"), mask=null), pa.array(labels, type=pa.string())
    )


def _make_events(
    rng: np.random.Generator,
    count: int,
    days: int,
    now: datetime,
    users: dict[str, Any],
    songs: dict[str, Any],
) -> dict[str, Any]:
    """Every event column, as Arrow arrays keyed by column name."""
    import numpy as np
    import pyarrow as pa

    start = now - timedelta(days=days)
    start_us = _epoch_us(start)
    hours = days * 24
    hour_start_s = start_us // 1_000_000 + np.arange(hours, dtype=np.int64) * 3600
    hour_of_day = (hour_start_s // 3600) % 24
    weekday = (hour_start_s // 86400 + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    hour_weight = np.array(_HOUR_WEIGHTS)[hour_of_day]
    hour_weight *= np.where(weekday >= 5, _WEEKEND_FACTOR, 1.0)
    hour_weight *= 1.0 + _GROWTH_OVER_PERIOD * np.arange(hours) / hours
    slot = rng.choice(hours, count, p=hour_weight / hour_weight.sum())
    offset_us = slot.astype(np.int64) * 3_600_000_000 + rng.integers(0, 3_600_000_000, count)
    times = np.sort(start_us + offset_us)

    user = rng.choice(len(users["user"]), count, p=users["activity"])
    page_labels, page_p = _weights([(p, w) for p, w, _ in _PAGES])
    page = rng.choice(len(page_labels), count, p=page_p)
    plays_song = np.array([plays for _, _, plays in _PAGES])[page]

    artist = rng.choice(len(songs["artists"]), count, p=songs["popularity"])
    # Squaring a uniform number favours each artist's first songs: a few hits per artist.
    hit = (rng.random(count) ** 2 * songs["songs_per_artist"][artist]).astype(np.int64)
    song = songs["first_song"][artist] + hit
    no_song = ~plays_song

    action_labels = sorted({a for pairs in _ACTIONS_BY_PAGE.values() for a, _ in pairs} | {"view"})
    action = np.full(count, action_labels.index("view"), dtype=np.int64)
    for page_name, pairs in _ACTIONS_BY_PAGE.items():
        mask = page == page_labels.index(page_name)
        labels, p = _weights(pairs)
        codes = np.array([action_labels.index(label) for label in labels])
        action[mask] = codes[rng.choice(len(labels), int(mask.sum()), p=p)]

    length = songs["length"][song]
    fraction = rng.random(count)
    is_skip = action == action_labels.index("skip")
    is_play = action == action_labels.index("play")
    fraction = np.where(is_skip, fraction * 0.3, np.where(is_play, 0.8 + 0.2 * fraction, fraction))
    play_time = np.round(length * fraction, 2)
    another_length = np.round(length * rng.uniform(0.6, 1.1, count), 2)

    # Purchases: some plays buy the track, every upgrade buys a subscription.
    buys_track = (page == page_labels.index("NextSong")) & (rng.random(count) < 0.02)
    upgrades = page == page_labels.index("Upgrade")
    purchase_labels = [f"track-{i:06d}" for i in range(len(songs["titles"]))]
    purchase_labels.append("premium-monthly")
    purchase = np.where(upgrades, len(purchase_labels) - 1, song)
    price = np.where(upgrades, 9.99, songs["price"][song])
    no_purchase = ~(buys_track | upgrades)

    paid = users["paid"][user]
    authenticated = paid | (rng.random(count) < 0.8)
    authenticated &= page != page_labels.index("Logout")
    platform = np.where(
        rng.random(count) < 0.75,
        users["platform"][user],
        rng.choice(len(users["platforms"]), count, p=users["platform_p"]),
    )
    hello_labels, hello_p = _weights(_HELLO_WORLD + [("", 10)])
    hello = rng.choice(len(hello_labels), count, p=hello_p)
    time_in_app = np.round(np.clip(rng.lognormal(6.0, 1.0, count), 1, 36000), 1)
    high_score = (users["skill"][user] * rng.uniform(0.4, 1.0, count)).astype(np.int64)

    return {
        "time": pa.array(times, type=pa.timestamp("us")),
        "user": _dictionary(user, users["user"]),
        "username": _dictionary(user, users["username"]),
        "name": _dictionary(user, users["name"]),
        "gender": _dictionary(users["gender"][user], ["F", "M"], users["gender_null"][user]),
        "age": pa.array(users["age"][user]),
        "country": _dictionary(users["country"][user], users["countries"]),
        "level": _dictionary(paid.astype(np.int64), ["free", "paid"]),
        "music_service": _dictionary(users["music_service"][user], users["services"]),
        "platform": _dictionary(platform, users["platforms"]),
        "page": _dictionary(page, page_labels),
        "action": _dictionary(action, action_labels),
        "artist": _dictionary(artist, songs["artists"], no_song),
        "song": _dictionary(song, songs["titles"], no_song),
        "genre": _dictionary(songs["genre"][artist], songs["genres"], no_song),
        "length": pa.array(length, mask=no_song),
        "another_length": pa.array(another_length, mask=no_song),
        "play_time": pa.array(play_time, mask=no_song),
        "price": pa.array(price, mask=no_purchase),
        "purchase": _dictionary(purchase, purchase_labels, no_purchase),
        "time_in_app": pa.array(time_in_app),
        "user_high_score": pa.array(high_score),
        "authenticated": pa.array(authenticated),
        "hello.world": _dictionary(hello, hello_labels, hello == len(hello_labels) - 1),
    }


def _epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch of a naive UTC datetime, exactly (no float rounding)."""
    delta = moment - datetime(1970, 1, 1)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
