"""Order invariance (issue 10 item 4): any order or repetition of file-day loads gives the warehouse
that loading every day's current source once, in day order, gives."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.transform import CleanResult
from tests.warehouse.conftest import Txn, at, file_day, load, reset, warehouse_state

START = date(2024, 5, 1)
DAYS = 5


def _files() -> list[CleanResult]:
    """Five file days; each re-sends (with a new status and time) transactions of the previous
    days and carries late records of them; customers C1..C3, some never in a feed (inferred)."""
    files = []
    for n in range(DAYS):
        day = START + timedelta(days=n)
        own = [Txn(f"D{n}-{i}", at(day, i), customer_id=f"C{i % 3}") for i in range(4)]
        resent = [
            Txn(f"D{k}-0", at(day, 20 + k), status="FAILED" if n % 2 else "SUCCESS") for k in range(max(0, n - 2), n)
        ]
        late = [Txn(f"L{n}", at(day - timedelta(days=min(n, 2)), 5), amount="250.00")]
        files.append(file_day(day, own + resent + late))
    return files


FILES = _files()


def test_day_order_load_is_what_the_property_compares_against(engine: sa.Engine) -> None:
    for clean in FILES:
        load(engine, clean)
    state = warehouse_state(engine)
    assert len(state["facts"]) == len(
        {t for clean in FILES for t in clean.processed.column("transaction_id").to_pylist()}
    )


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.lists(st.integers(min_value=0, max_value=DAYS - 1), min_size=DAYS, max_size=DAYS + 4))
def test_any_order_or_repetition_of_loads_gives_the_day_order_warehouse(engine: sa.Engine, order: list[int]) -> None:
    reset(engine)
    for clean in FILES:
        load(engine, clean)
    expected = warehouse_state(engine)
    reset(engine)
    missing = [d for d in reversed(range(DAYS)) if d not in order]
    for index in [*order, *missing]:  # a random order with repetitions, every day at least once
        load(engine, FILES[index], sha=str(index % 10))
    assert warehouse_state(engine) == expected
