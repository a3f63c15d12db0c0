"""The day load: rollups equal their SQL definition; audit and accounting; concurrency-safe swap."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from flows.generate import GeneratorConfig, generate_customers, generate_transactions, to_csv_bytes
from flows.ingest import parse_raw_csv
from flows.transform import clean_transactions
from flows.warehouse.load import fact_checksum, load_customers, load_day, rebuild_rollups

DAY = date(2024, 2, 29)


def _clean(n: int = 3000, **config: object):
    raw = to_csv_bytes(generate_transactions(DAY, GeneratorConfig(transactions=n, defect_rate=0.08, **config)))
    records, malformed, _ = parse_raw_csv(raw, source_file="transactions.csv")
    return clean_transactions(records, malformed, DAY)


def _load(engine: sa.Engine, clean) -> None:
    load_day(engine, clean, source="test", sha256="0" * 64, flow_run_id="run-1", started_at=datetime.now(UTC))


def _rollups(engine: sa.Engine) -> tuple[list, list]:
    with engine.connect() as conn:
        city = conn.exec_driver_sql("SELECT * FROM agg_daily_city ORDER BY 1, 2, 3, 4, 5").all()
        region = conn.exec_driver_sql("SELECT * FROM agg_daily_region ORDER BY 1, 2, 3, 4, 5").all()
    return city, region


def test_rollups_built_in_the_load_equal_their_sql_definition(engine: sa.Engine) -> None:
    load_customers(engine, generate_customers(500, 7))
    _load(engine, _clean(customers=800))  # some customers are not in the feed: inferred members
    fast = _rollups(engine)
    rebuild_rollups(engine, DAY)
    assert _rollups(engine) == fast
    with engine.connect() as conn:
        inferred = conn.exec_driver_sql("SELECT count(*) FROM dim_customer WHERE is_inferred").scalar()
        unknown_segment = conn.exec_driver_sql("SELECT count(*) FROM agg_daily_city WHERE segment = 'Unknown'").scalar()
    assert inferred > 0 and unknown_segment > 0


def test_a_day_load_records_its_accounting_and_replaces_quarantine(engine: sa.Engine) -> None:
    clean = _clean()
    _load(engine, clean)
    _load(engine, clean)
    with engine.connect() as conn:
        audit = conn.exec_driver_sql("SELECT * FROM load_audit").mappings().one()
        attempts = conn.exec_driver_sql("SELECT count(*) FROM load_runs").scalar()
        quarantined = conn.exec_driver_sql("SELECT count(*) FROM quarantine_rows").scalar()
        reasons = dict(conn.exec_driver_sql("SELECT reject_reason, count(*) FROM quarantine_rows GROUP BY 1").all())
        raw_amount = conn.exec_driver_sql(
            "SELECT raw_record->>'amount' FROM quarantine_rows WHERE reject_reason = 'amount_not_positive' LIMIT 1"
        ).scalar()
    assert audit["rows_received"] == audit["rows_loaded"] + audit["rows_quarantined"] + audit["duplicates_dropped"]
    assert audit["quarantine_reasons"] == clean.quarantine_reasons == reasons
    assert quarantined == clean.rejected.num_rows, "re-loading replaces the day's quarantine rows"
    assert attempts == 2
    assert raw_amount is not None and (raw_amount.startswith("-") or float(raw_amount) == 0)
    assert fact_checksum(engine)[0] == clean.processed.num_rows


def test_loads_of_several_days_keep_each_day_in_its_own_partition(engine: sa.Engine) -> None:
    _load(engine, _clean())
    other = date(2024, 3, 1)
    raw = to_csv_bytes(generate_transactions(other, GeneratorConfig(transactions=100)))
    records, malformed, _ = parse_raw_csv(raw, source_file="t.csv")
    _load(engine, clean_transactions(records, malformed, other))
    with engine.connect() as conn:
        parts = (
            conn.exec_driver_sql(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'fact_transactions'::regclass ORDER BY 1"
            )
            .scalars()
            .all()
        )
        leftovers = conn.exec_driver_sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE '%%\\_load'").scalar()
    assert parts == ["fact_transactions_d20240229", "fact_transactions_d20240301"]
    assert leftovers == 0


def test_reloading_an_unchanged_day_replaces_nothing_but_a_change_anywhere_reloads(engine: sa.Engine) -> None:
    clean = _clean()
    started = datetime.now(UTC)
    first = load_day(engine, clean, source="t", sha256="0" * 64, flow_run_id="a", started_at=started)
    again = load_day(engine, clean, source="t", sha256="0" * 64, flow_run_id="b", started_at=started)
    assert not first.unchanged and again.unchanged
    with engine.connect() as conn:
        audit = conn.exec_driver_sql("SELECT flow_run_id, message FROM load_audit").one()
    assert audit == ("b", "unchanged since the last load; nothing replaced")

    # A customer's segment changed: the rollups must be rebuilt, so the day loads again.
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE dim_customer SET segment = 'Premium' WHERE customer_key = 1")
    assert not load_day(engine, clean, source="t", sha256="0" * 64, flow_run_id="c", started_at=started).unchanged
    fast = _rollups(engine)
    rebuild_rollups(engine, DAY)
    assert _rollups(engine) == fast
