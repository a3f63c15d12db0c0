"""Transaction identity and event time (issue 10): one row per transaction, the latest file day's
version wins, late records load into their own day, order of loads does not matter."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from tests.warehouse.conftest import Txn, at, days, file_day, load, warehouse_state

D1, D2 = date(2024, 5, 1), date(2024, 5, 2)


def _scalar(engine: sa.Engine, query: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(query).scalar()


def _day_one() -> list[Txn]:
    return [Txn(f"T1-{i:04d}", at(D1, i % 24)) for i in range(500)]


def _day_two_resending_three() -> list[Txn]:
    own = [Txn(f"T2-{i:04d}", at(D2, i % 24)) for i in range(500)]
    resent = [Txn(f"T1-{i:04d}", at(D2, 9), status="FAILED") for i in (1, 2, 3)]
    return own + resent


def test_a_resent_transaction_is_one_fact_and_its_revenue_counts_once(engine: sa.Engine) -> None:
    load(engine, file_day(D1, _day_one()))
    result = load(engine, file_day(D2, _day_two_resending_three()))
    assert _scalar(engine, "SELECT count(*) FROM fact_transactions") == 1000
    assert _scalar(engine, "SELECT count(DISTINCT transaction_id) FROM fact_transactions") == 1000
    # 997 successful transactions of 100.00 earn 2.00 each; the three now FAILED earn nothing.
    assert _scalar(engine, "SELECT sum(revenue) FROM fact_transactions") == 997 * 2
    assert _scalar(engine, "SELECT sum(revenue_sum) FROM agg_daily_region") == 997 * 2
    assert _scalar(engine, "SELECT sum(txn_count) FROM agg_daily_city") == 1000
    assert _scalar(engine, "SELECT sum(txn_count) FROM agg_daily_city WHERE date_key = 20240501") == 497
    assert (result.rows_loaded, result.rows_corrections, result.days_changed) == (503, 3, (D1,))
    with engine.connect() as conn:
        audit = dict(conn.exec_driver_sql("SELECT run_date, rows_superseded FROM load_audit").all())
        changed_by = conn.exec_driver_sql("SELECT changed_by FROM load_audit WHERE run_date = '2024-05-01'").scalar()
    assert audit == {D1: 3, D2: 0} and changed_by == D2


def test_late_records_load_into_their_own_day_and_are_not_quarantined(engine: sa.Engine) -> None:
    load(engine, file_day(D1, _day_one()))
    late = [Txn("LATE-1", at(D1, 23)), Txn("LATE-2", at(D1, 22))]
    result = load(engine, file_day(D2, [Txn("T2-1", at(D2)), *late], quarantined=1))
    assert _scalar(engine, "SELECT count(*) FROM fact_transactions WHERE date_key = 20240501") == 502
    assert _scalar(engine, "SELECT sum(txn_count) FROM agg_daily_region WHERE date_key = 20240501") == 502
    assert (result.rows_loaded, result.rows_loaded_earlier, result.rows_corrections) == (3, 2, 0)
    with engine.connect() as conn:
        audit = conn.exec_driver_sql("SELECT * FROM load_audit WHERE run_date = '2024-05-02'").mappings().one()
    assert audit["rows_quarantined"] == 1 and audit["quarantine_reasons"] == {"too_late": 1}
    total = audit["rows_loaded"] + audit["rows_superseded"] + audit["rows_quarantined"] + audit["duplicates_dropped"]
    assert audit["rows_received"] == total == 4


def test_a_correction_flips_a_status_and_relanding_without_it_brings_the_first_version_back(
    engine: sa.Engine,
) -> None:
    load(engine, file_day(D1, [Txn("A", at(D1)), Txn("B", at(D1))]))
    before = warehouse_state(engine)
    load(engine, file_day(D2, [Txn("C", at(D2)), Txn("A", at(D1, 13), status="FAILED")]), sha="1")
    assert _scalar(engine, "SELECT status FROM fact_transactions WHERE transaction_id = 'A'") == "FAILED"
    assert _scalar(engine, "SELECT count(*) FROM fact_superseded") == 1
    load(engine, file_day(D2, [Txn("C", at(D2))]), sha="2")  # re-landed without the correction
    assert _scalar(engine, "SELECT status FROM fact_transactions WHERE transaction_id = 'A'") == "SUCCESS"
    assert _scalar(engine, "SELECT count(*) FROM fact_superseded") == 0
    after = warehouse_state(engine)
    assert after["facts"][:2] == before["facts"] and after["audit"][0] == before["audit"][0]


def test_replaying_the_earlier_day_after_the_later_one_keeps_the_later_versions(engine: sa.Engine) -> None:
    first, second = file_day(D1, _day_one()), file_day(D2, _day_two_resending_three())
    load(engine, first)
    load(engine, second)
    expected = warehouse_state(engine)
    load(engine, first, sha="9")  # a replay (another source digest: not skipped as unchanged)
    state = warehouse_state(engine)
    assert state["facts"] == expected["facts"] and state["city"] == expected["city"]
    assert state["superseded"] == expected["superseded"]


def test_a_rerun_with_the_same_source_replaces_nothing(engine: sa.Engine) -> None:
    clean = file_day(D1, _day_one())
    assert not load(engine, clean).unchanged
    again = load(engine, clean)
    assert again.unchanged and again.rows_loaded == 500


def test_loads_in_reverse_order_equal_loads_in_day_order(engine: sa.Engine) -> None:
    from tests.warehouse.conftest import reset

    files = [
        file_day(d, [Txn(f"{d}-{i}", at(d, i)) for i in range(5)] + [Txn("X", at(d - (d - D1) // 2), status=s)])
        for d, s in zip(days(D1, 4), ["SUCCESS", "FAILED", "SUCCESS", "FAILED"], strict=True)
    ]
    for clean in files:
        load(engine, clean)
    in_order = warehouse_state(engine)
    reset(engine)
    for clean in reversed(files):
        load(engine, clean)
    assert warehouse_state(engine) == in_order
    assert _scalar(engine, "SELECT count(*) FROM fact_transactions WHERE transaction_id = 'X'") == 1


def test_the_dashboard_counts_a_corrected_transaction_once(engine: sa.Engine) -> None:
    """What a user reads on the dashboard after 05-02 re-sent three of 05-01's transactions as FAILED:
    1,000 transactions, the three corrected ones failed and earning nothing, each counted once."""
    from ui.queries import DashboardQueries
    from ui.view import Filters

    load(engine, file_day(D1, _day_one()))
    load(engine, file_day(D2, _day_two_resending_three()))
    kpis = DashboardQueries(engine, ttl_s=0).view(Filters(D1, D2)).kpis.current
    assert (kpis.txn_count, kpis.failed_count, kpis.revenue) == (1000, 3, 997 * 2)


def test_a_day_taken_out_and_loaded_again_goes_into_a_renewed_partition(engine: sa.Engine) -> None:
    relfilenode = "SELECT relfilenode FROM pg_class WHERE relname = 'fact_transactions_d20240501'"
    load(engine, file_day(D1, _day_one()))
    expected = warehouse_state(engine)
    load(engine, file_day(D1, []), "1")  # the day taken out: its partition stays, with dead rows
    emptied = _scalar(engine, relfilenode)
    load(engine, file_day(D1, _day_one()), "2")
    assert _scalar(engine, relfilenode) != emptied  # truncated, then COPYed into anew
    state = warehouse_state(engine)
    assert (state["facts"], state["city"], state["region"]) == (expected["facts"], expected["city"], expected["region"])
