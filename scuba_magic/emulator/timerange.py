"""Turn BQL time points, durations and timezones into UTC epoch microseconds.

Rules (design.md section 7): ``now`` is the caller's clock; ``N units ago`` is exact arithmetic
with a month of 30 days and a year of 365 days; a date or wall-clock time is read in the query
timezone, using that zone's actual UTC offset on that date (so daylight saving time counts);
``beginning_of_time`` is the table's first event, which only the data knows, so it resolves to
``None`` here and the compiler computes it in SQL. Only zones whose offset is a whole number of
hours are accepted, as in Scuba.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import zoneinfo

from scuba_magic.bql import ast
from scuba_magic.emulator.compile_errors import CompileError

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_US_PER_SECOND = 1_000_000


def to_epoch_us(moment: dt.datetime) -> int:
    """Epoch microseconds of a datetime; a naive datetime is taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * _US_PER_SECOND + delta.microseconds


def duration_us(duration: ast.Duration) -> int:
    """Length of a duration in microseconds (month = 30 days, year = 365 days)."""
    return duration.seconds * _US_PER_SECOND


@functools.lru_cache(maxsize=1)
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


@functools.lru_cache(maxsize=64)
def _load_zone(name: str) -> dt.tzinfo:
    return zoneinfo.ZoneInfo(name)


def resolve_zone(name: str | None, now_us: int) -> dt.tzinfo:
    """The zone of a ``timezone`` clause (UTC when there is none).

    Args:
        name: a tz database name such as ``"US/Pacific"``, or ``None``.
        now_us: the query's ``now``; the zone's offset at that moment must be whole hours.

    Raises:
        CompileError: unknown zone (the message names close ones) or a zone whose offset is
            not a whole number of hours (e.g. Asia/Kolkata, UTC+05:30).
    """
    if name is None or name == "UTC":
        return dt.timezone.utc
    try:
        if "\x00" in name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        zone = _load_zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        close = [zone for zone in _zone_names() if zone.lower() == name.lower()]
        close = close or difflib.get_close_matches(name, _zone_names(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CompileError(
            f"unknown timezone {name!r}: use a tz database name such as US/Pacific or "
            f"Europe/Berlin{hint}"
        ) from exc
    check_whole_hour(zone, name, now_us)
    return zone


def check_whole_hour(zone: dt.tzinfo, name: str, moment_us: int) -> None:
    """Raise CompileError unless ``zone``'s UTC offset at ``moment_us`` is whole hours."""
    moment = _EPOCH + dt.timedelta(microseconds=moment_us)
    offset = moment.astimezone(zone).utcoffset() or dt.timedelta(0)
    if offset.total_seconds() % 3600:
        raise CompileError(
            f"timezone {name!r} has a UTC offset of {_format_offset(offset)} there: BQL only "
            "supports timezones whose offset is a whole number of hours; use UTC or a zone "
            "such as US/Pacific"
        )


def _format_offset(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def point_us(point: ast.TimePoint, zone: dt.tzinfo, zone_name: str, now_us: int) -> int | None:
    """Epoch microseconds of a time point, or ``None`` for ``beginning_of_time``.

    Raises:
        CompileError: an impossible date (2021-02-30) or a moment before 1970.
    """
    if isinstance(point, ast.Now):
        return now_us
    if isinstance(point, ast.BeginningOfTime):
        return None
    if isinstance(point, ast.Ago):
        return now_us - duration_us(point.duration)
    if isinstance(point, ast.AbsoluteTime):
        try:
            local = point.to_datetime()
        except ValueError as exc:
            raise CompileError(
                f"{point.year:04d}-{point.month:02d}-{point.day:02d} is not a valid date "
                f"({exc}); write times as YYYY-MM-DD [HH:MM[:SS]]",
                **_where(point),
            ) from None
        # fold=0: an ambiguous wall-clock time (the repeated hour when DST ends) means the
        # first occurrence; a time inside the spring-forward gap uses the pre-gap offset.
        aware = local.replace(tzinfo=zone)
        offset = aware.utcoffset() or dt.timedelta(0)
        if offset.total_seconds() % 3600:
            raise CompileError(
                f"timezone {zone_name!r} has a UTC offset of {_format_offset(offset)} on "
                f"{local.date()}: BQL only supports whole-hour offsets",
                **_where(point),
            )
        return to_epoch_us(aware)
    raise CompileError(f"unsupported time point {point!r}")


def _where(node: ast.Node) -> dict[str, int]:
    if node.pos is None:
        return {}
    return {"line": node.pos[0], "column": node.pos[1]}


def format_us(value: int) -> str:
    """A readable UTC rendering of epoch microseconds, for error messages."""
    moment = _EPOCH + dt.timedelta(microseconds=value)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
