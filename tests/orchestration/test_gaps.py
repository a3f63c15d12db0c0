"""The gap detector over the load audit: days missing, failed or blocked are gaps; loaded days are not."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from flows.errors import BapError
from flows.orchestration.gaps import find_gaps, gap_report

AUDIT = [
    # run_date, status, loaded_at (rows of an earlier good load)
    (date(2024, 1, 1), "loaded", True),
    (date(2024, 1, 2), "failed", False),
    (date(2024, 1, 3), "loaded", True),
    (date(2024, 1, 4), "blocked", False),
    # 2024-01-05 never attempted
    (date(2024, 1, 6), "failed", True),  # a re-run failed after an earlier load
    (date(2024, 1, 7), "loaded", True),
]


@pytest.fixture
def audited(engine: sa.Engine) -> sa.Engine:
    now = datetime(2024, 1, 8, tzinfo=UTC)
    with engine.begin() as conn:
        for day, status, loaded in AUDIT:
            conn.exec_driver_sql(
                "INSERT INTO load_audit (run_date, status, started_at, finished_at, loaded_at, message) "
                "VALUES (%(d)s, %(s)s, %(t)s, %(t)s, %(l)s, %(m)s)",
                {"d": day, "s": status, "t": now, "l": now if loaded else None, "m": f"{status} on purpose"},
            )
    return engine


@pytest.mark.parametrize(
    "start, end, gaps",
    [
        (date(2024, 1, 1), date(2024, 1, 7), [date(2024, 1, 2), date(2024, 1, 4), date(2024, 1, 5), date(2024, 1, 6)]),
        (date(2024, 1, 1), date(2024, 1, 1), []),
        (date(2024, 1, 5), date(2024, 1, 5), [date(2024, 1, 5)]),
        (date(2023, 12, 30), date(2024, 1, 2), [date(2023, 12, 30), date(2023, 12, 31), date(2024, 1, 2)]),
        (date(2024, 1, 7), date(2024, 1, 9), [date(2024, 1, 8), date(2024, 1, 9)]),
    ],
)
def test_find_gaps(audited: sa.Engine, start: date, end: date, gaps: list[date]) -> None:
    assert find_gaps(audited, start, end) == gaps


def test_the_report_says_why_each_day_is_a_gap(audited: sa.Engine) -> None:
    report = {
        g.run_date: (g.status, g.has_rows, g.message) for g in gap_report(audited, date(2024, 1, 1), date(2024, 1, 7))
    }
    assert report == {
        date(2024, 1, 2): ("failed", False, "failed on purpose"),
        date(2024, 1, 4): ("blocked", False, "blocked on purpose"),
        date(2024, 1, 5): ("missing", False, None),
        date(2024, 1, 6): ("failed", True, "failed on purpose"),
    }


def test_an_empty_warehouse_is_all_gaps(engine: sa.Engine) -> None:
    assert len(find_gaps(engine, date(2024, 1, 1), date(2024, 12, 31))) == 366


def test_a_reversed_range_is_a_user_error(engine: sa.Engine) -> None:
    with pytest.raises(BapError, match="starts after it ends"):
        find_gaps(engine, date(2024, 1, 2), date(2024, 1, 1))
