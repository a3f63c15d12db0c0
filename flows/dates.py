"""Day arithmetic shared by the lake, the transform, the load, the quality suites and the UI.

The warehouse keys a day as the integer YYYYMMDD (`dim_date.date_key`, the fact partitions,
the rollups); this module is the one place that turns a date into that key and back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def date_key(day: date) -> int:
    """The warehouse key of a day: 2024-05-01 -> 20240501."""
    return day.year * 10_000 + day.month * 100 + day.day


def key_date(key: int) -> date:
    """The day of a warehouse key: 20240501 -> 2024-05-01."""
    return date(key // 10_000, key // 100 % 100, key % 100)


def yesterday_utc() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)
