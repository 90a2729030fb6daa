"""A test table and a pandas oracle for BQL: the expected answer of a query, computed directly.

The oracle reads the rules of design.md section 7 (and the choices documented in the compiler)
and applies them one event and one bucket at a time, in plain Python over the rows of a pandas
DataFrame. It shares nothing with the SQL compiler except the AST, so the two agree only if both
follow the rules:

- buckets are listed by walking ``p_k = min(start + k*R, end)``; each bucket's events are picked
  by comparing timestamps; actor properties are recomputed for every bucket from the events of
  each actor in the property's window;
- conditions on a missing value are false; ``x / 0`` and ``sqrt(-1)`` are missing;
- groups come from the events of the whole range and are ranked by the ranking measure over the
  whole range, ties by group value, missing last.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
import re
import zoneinfo
from collections.abc import Iterable

import pandas as pd

from scuba_magic.bql import ast

NOW = dt.datetime(2021, 3, 1, 12, 0, 0)
"""The ``now`` of every oracle test (naive UTC)."""

FIRST_EVENT = dt.datetime(2021, 1, 1, 3, 17, 0)
TABLE_NAME = "events"
ALIASES = ["music", "foreverMusic", "my_table", "fashion", "nightly1_usage"]

COLUMNS = {
    "time": "TIMESTAMP",
    "user": "VARCHAR",
    "username": "VARCHAR",
    "gender": "VARCHAR",
    "age": "BIGINT",
    "country": "VARCHAR",
    "platform": "VARCHAR",
    "artist": "VARCHAR",
    "page": "VARCHAR",
    "action": "VARCHAR",
    "length": "DOUBLE",
    "name": "VARCHAR",
    "user_high_score": "BIGINT",
    "authenticated": "BOOLEAN",
    "hello.world": "VARCHAR",
    "purchase": "VARCHAR",
    "price": "DOUBLE",
}

_UNIT_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 604800,
    "month": 2592000,
    "year": 31536000,
}


def make_events(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    """A deterministic event table shaped like the demo data (with nulls, ties and outliers).

    Events run from 2021-01-01 03:17 UTC to a little after :data:`NOW`, at distinct
    microsecond timestamps, for 14 users (plus some events without a user).
    """
    rng = random.Random(seed)
    users = [f"u{i:02d}" for i in range(1, 13)] + ["jack", "jill"]
    profile = {
        u: {
            "gender": rng.choice(["F", "M", None]),
            "age": rng.choice([None, 17, 23, 25, 26, 31, 36, 44, 52, 61]),
            "country": rng.choice(["US", "DE", "FR", "JP", "BR"]),
            "platform": rng.choice(["ios", "android", "web"]),
            "weight": rng.choice([1, 2, 3, 5, 8]),
        }
        for u in users
    }
    weights = [profile[u]["weight"] for u in users]
    span_us = int((NOW - FIRST_EVENT).total_seconds() * 1e6) + 3 * 3600 * 10**6
    offsets = sorted(rng.sample(range(1, span_us), n - 1))
    rows = []
    for index, offset in enumerate([0, *offsets]):
        user = rng.choices(users, weights)[0] if rng.random() > 0.03 else None
        prof = (
            profile[user]
            if user
            else {"gender": None, "age": None, "country": "US", "platform": "web"}
        )
        page = rng.choices(["NextSong", "Home", "Error", "Settings", "Logout"], [60, 20, 6, 8, 6])[
            0
        ]
        rows.append(
            {
                "time": FIRST_EVENT + dt.timedelta(microseconds=offset),
                "user": user,
                "username": None if user is None else f"name_{user}",
                "gender": prof["gender"],
                "age": prof["age"],
                "country": prof["country"] if rng.random() > 0.05 else rng.choice(["US", "DE"]),
                "platform": prof["platform"] if rng.random() > 0.2 else rng.choice(["ios", "web"]),
                "artist": rng.choice(["Muse", "Adele", "Queen", "Björk", "Sia", None]),
                "page": page,
                "action": rng.choices(["love", "hate", "skip", None], [5, 2, 6, 3])[0],
                "length": None if rng.random() < 0.1 else round(rng.uniform(20, 420), 1),
                "name": rng.choice(["jack smith", "jill", "jackie o", "bob", "Jack", "", None]),
                "user_high_score": rng.choice([None, *range(0, 1000, 7)]),
                "authenticated": rng.choices([True, False, None], [6, 3, 1])[0],
                "hello.world": rng.choice(["a", "b", "c"]),
                "purchase": rng.choice([None, None, None, "p1", "p2", "p3", f"p{index % 40}"]),
                "price": None if rng.random() < 0.5 else round(rng.uniform(0.5, 30), 2),
            }
        )
    frame = pd.DataFrame(rows)
    frame["time"] = frame["time"].astype("datetime64[us]")
    frame["age"] = frame["age"].astype("Int64")
    frame["user_high_score"] = frame["user_high_score"].astype("Int64")
    frame["authenticated"] = frame["authenticated"].astype("boolean")
    return frame


# -- the oracle ------------------------------------------------------------------------------


def _clean(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _epoch_us(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return round((moment - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).total_seconds() * 1e6)


class Oracle:
    """Evaluate parsed BQL queries on an event DataFrame."""

    def __init__(self, frame: pd.DataFrame, *, actors: Iterable[str] = ("user",)) -> None:
        self.events = []
        for record in frame.to_dict("records"):
            event = {key: _clean(value) for key, value in record.items()}
            event["__t"] = _epoch_us(event["time"])
            self.events.append(event)
        self.actors = set(actors)

    # -- time --

    def _point(self, point, zone, now_us):
        if isinstance(point, ast.Now):
            return now_us
        if isinstance(point, ast.BeginningOfTime):
            return min(e["__t"] for e in self.events)
        if isinstance(point, ast.Ago):
            return now_us - point.duration.n * _UNIT_SECONDS[point.duration.unit] * 10**6
        local = dt.datetime(
            point.year, point.month, point.day, point.hour, point.minute, point.second, tzinfo=zone
        )
        return _epoch_us(local.astimezone(dt.timezone.utc))

    @staticmethod
    def _seconds(duration) -> int:
        return duration.n * _UNIT_SECONDS[duration.unit] * 10**6

    # -- evaluation of one event --

    def value(self, node, event, props):
        if isinstance(node, ast.Number):
            return node.value
        if isinstance(node, ast.String):
            return node.value
        if isinstance(node, ast.Column):
            if node.name in props["named"]:
                return props["named"][node.name].get(
                    event.get(props["actor_of"][node.name]), props["empty"][node.name]
                )
            return event[node.name]
        if isinstance(node, ast.ActorExpr):
            table, empty = props["inline"][node]
            return table.get(event.get(node.actor), empty)
        if isinstance(node, ast.UnaryOp):
            inner = self.value(node.operand, event, props)
            return None if inner is None else -inner
        if isinstance(node, ast.BinaryOp):
            return _arith(
                node.op, self.value(node.left, event, props), self.value(node.right, event, props)
            )
        if isinstance(node, ast.FunctionCall):
            return _function(node, [self.value(a, event, props) for a in node.args])
        raise AssertionError(f"oracle: unexpected value node {node!r}")

    def holds(self, node, event, props) -> bool:
        if isinstance(node, ast.And):
            return self.holds(node.left, event, props) and self.holds(node.right, event, props)
        if isinstance(node, ast.Or):
            return self.holds(node.left, event, props) or self.holds(node.right, event, props)
        if isinstance(node, ast.Not):
            return not self.holds(node.operand, event, props)
        if isinstance(node, ast.Compare):
            left = self.value(node.left, event, props)
            right = self.value(node.right, event, props)
            if left is None or right is None:
                return False
            return {
                "=": left == right,
                "!=": left != right,
                "<>": left != right,
                "<": left < right,
                "<=": left <= right,
                ">": left > right,
                ">=": left >= right,
            }[node.op]
        if isinstance(node, ast.In):
            target = self.value(node.expr, event, props)
            return target is not None and target in [
                self.value(v, event, props) for v in node.values
            ]
        if isinstance(node, ast.Like):
            target = self.value(node.expr, event, props)
            return target is not None and re.search(node.pattern, target) is not None
        result = self.value(node, event, props)
        return bool(result) if result is not None else False

    # -- aggregation over a list of events --

    def aggregate(self, node: ast.Aggregate, events, props):
        chosen = [e for e in events if node.where is None or self.holds(node.where, e, props)]
        if node.func == "count":
            if node.on_actor:
                return len({e[node.on_actor] for e in chosen if e[node.on_actor] is not None})
            if isinstance(node.arg, ast.Star):
                return len(chosen)
            return sum(1 for e in chosen if self.value(node.arg, e, props) is not None)
        pairs = [(e["__t"], self.value(node.arg, e, props)) for e in chosen]
        values = [v for _, v in pairs if v is not None]
        if node.func == "count_unique":
            return len(set(values))
        if not values:
            return None
        if node.func == "sum":
            return sum(values)
        if node.func == "avg":
            return sum(values) / len(values)
        if node.func == "min":
            return min(values)
        if node.func == "max":
            return max(values)
        if node.func == "last":
            return max((t, v) for t, v in pairs if v is not None)[1]
        if node.func == "percentile":
            ordered = sorted(values)
            rank = max(math.ceil(node.percentile / 100 * len(ordered)), 1)
            return ordered[rank - 1]
        raise AssertionError(node.func)

    def measure(self, node, events, props):
        if isinstance(node, ast.Aggregate):
            return self.aggregate(node, events, props)
        if isinstance(node, ast.Number):
            return node.value
        if isinstance(node, ast.UnaryOp):
            inner = self.measure(node.operand, events, props)
            return None if inner is None else -inner
        if isinstance(node, ast.BinaryOp):
            return _arith(
                node.op,
                self.measure(node.left, events, props),
                self.measure(node.right, events, props),
            )
        if isinstance(node, ast.FunctionCall):
            return _function(node, [self.measure(a, events, props) for a in node.args])
        raise AssertionError(f"oracle: unexpected measure node {node!r}")

    # -- actor properties for one bucket --

    def _props(self, query, bucket_end, start, end, zone, now_us):
        no_props = {"named": {}, "actor_of": {}, "empty": {}, "inline": {}}

        def per_actor(actor, expr, timespec):
            if timespec is None:
                lo, hi = start, end
            elif isinstance(timespec, ast.TimeRange):
                lo = self._point(timespec.start, zone, now_us)
                hi = self._point(timespec.end, zone, now_us)
            else:
                offset = self._seconds(timespec.offset) if timespec.offset else 0
                lo = bucket_end + offset - self._seconds(timespec.over)
                hi = bucket_end + offset
            by_actor: dict[object, list] = {}
            for event in self.events:
                if lo <= event["__t"] < hi and event[actor] is not None:
                    by_actor.setdefault(event[actor], []).append(event)
            table = {a: self.measure(expr, evs, no_props) for a, evs in by_actor.items()}
            return table, self.measure(expr, [], no_props)

        props = {"named": {}, "actor_of": {}, "empty": {}, "inline": {}}
        for prop in query.with_props:
            table, empty = per_actor(prop.actor, prop.expr, prop.timespec)
            props["named"][prop.name] = table
            props["empty"][prop.name] = empty
            props["actor_of"][prop.name] = prop.actor
        for node in _actor_exprs(query):
            props["inline"][node] = per_actor(node.actor, node.expr, node.timespec)
        return props

    # -- the whole query --

    def run(self, query: ast.Query, now: dt.datetime = NOW) -> list[tuple]:
        """Rows of the result: group strings, start ms, end ms, measure values, in order."""
        zone = zoneinfo.ZoneInfo(query.timezone) if query.timezone else dt.timezone.utc
        now_us = _epoch_us(now)
        time_range = query.time_range
        start = self._point(time_range.start if time_range else ast.BeginningOfTime(), zone, now_us)
        end = self._point(time_range.end if time_range else ast.Now(), zone, now_us)
        buckets = [(start, end)]
        if query.time_series:
            every = self._seconds(query.time_series.every)
            over = self._seconds(query.time_series.over or query.time_series.every)
            buckets, k = [], 1
            while True:
                point = min(start + k * every, end)
                buckets.append((point - over, point))
                if point >= end:
                    break
                k += 1

        measures = [m.expr for m in query.measures if ast.contains_aggregate(m.expr)]
        levels = query.effective_group_levels()
        keys = [expr for level in levels for expr in level.exprs]

        def key_of(event, props):
            return tuple(self.value(k, event, props) for k in keys)

        whole_props = self._props(query, end, start, end, zone, now_us)
        whole = [(e, key_of(e, whole_props)) for e in self.events if start <= e["__t"] < end]

        rank_pos, descending = 0, True
        if query.order_by:
            labels = [m.alias for m in query.measures if ast.contains_aggregate(m.expr)]
            rank_pos = labels.index(query.order_by.alias)
            descending = query.order_by.descending
        kept: list[tuple] = [()]
        done = 0
        for level in levels:
            size = done + len(level.exprs)
            next_kept = []
            for parent in kept:
                prefixes: dict[tuple, list] = {}
                for event, key in whole:
                    if key[:done] == parent:
                        prefixes.setdefault(key[:size], []).append(event)
                scored = [
                    (self.measure(measures[rank_pos], evs, whole_props), prefix)
                    for prefix, evs in prefixes.items()
                ]
                order = functools.partial(_rank_order, done=done, descending=descending)
                scored.sort(key=functools.cmp_to_key(order))
                if level.limit is not None:
                    scored = scored[: level.limit]
                next_kept.extend(prefix for _, prefix in scored)
            kept = next_kept
            done = size

        result = []
        bucket_data = []
        for lo, hi in buckets:
            props = self._props(query, hi, start, end, zone, now_us)
            events = [e for e in self.events if lo <= e["__t"] < hi]
            bucket_data.append((lo, hi, props, [(e, key_of(e, props)) for e in events]))
        for group in kept:
            for lo, hi, props, events in bucket_data:
                mine = [e for e, key in events if key == group]
                values = [self.measure(m, mine, props) for m in measures]
                result.append((*[_as_text(v) for v in group], lo // 1000, hi // 1000, *values))
        return result


def _compare(a, b) -> int:
    """-1, 0 or 1 with missing values after every present one."""
    if a is None or b is None:
        return (a is None) - (b is None)
    return (a > b) - (a < b)


def _rank_order(x, y, done, descending) -> int:
    """Order two (measure, group key) pairs: by measure, then by the level's key values."""
    by_measure = _compare(x[0], y[0])
    if by_measure and descending and x[0] is not None and y[0] is not None:
        by_measure = -by_measure
    if by_measure:
        return by_measure
    for a, b in zip(x[1][done:], y[1][done:], strict=True):
        if _compare(a, b):
            return _compare(a, b)
    return 0


def _actor_exprs(query: ast.Query):
    found = []
    stack = [m.expr for m in query.measures]
    stack += [e for level in query.group_levels for e in level.exprs]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ActorExpr) and node not in found:
            found.append(node)
        stack.extend(ast.children(node))
    return found


def _arith(op, left, right):
    if left is None or right is None:
        return None
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        return None
    return left / right


def _function(node, args):
    if node.name == "sqrt":
        value = args[0]
        return None if value is None or value < 0 else math.sqrt(value)
    value, digits = args
    if value is None:
        return None
    # Round half away from zero, as SQL's ROUND does (Python's round() rounds half to even).
    if digits >= 0:
        scale = 10.0**digits
        return math.copysign(math.floor(abs(value) * scale + 0.5), value) / scale
    scale = 10.0 ** (-digits)
    return math.copysign(math.floor(abs(value) / scale + 0.5), value) * scale


def _as_text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
