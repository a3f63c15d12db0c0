"""Migrations: applied once, immutable, and every earlier warehouse upgrades to a fresh one's schema."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.errors import MigrationChanged
from flows.warehouse.connection import make_engine
from flows.warehouse.migrate import apply_migrations
from flows.warehouse.sql import migration_files
from tests.conftest import _create_database, _drop_database

SNAPSHOTS = Path(__file__).parent / "snapshots"

SCHEMA_QUERIES = {
    "columns": "SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision,"
    " numeric_scale, is_nullable, column_default FROM information_schema.columns"
    " WHERE table_schema = 'public' AND table_name NOT LIKE 'fact_transactions_d%%' ORDER BY 1, 2",
    "constraints": "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
    " WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text NOT LIKE 'fact_transactions_d%%'"
    " ORDER BY 1, 2",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    " AND tablename NOT LIKE 'fact_transactions_d%%' ORDER BY 1, 2",
}


def schema_of(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {name: [tuple(r) for r in conn.exec_driver_sql(q).all()] for name, q in SCHEMA_QUERIES.items()}


@pytest.fixture
def other_url(pg_admin_url: str) -> Iterator[str]:
    url = _create_database(pg_admin_url)
    yield url
    _drop_database(pg_admin_url, url)


def _apply_old(engine: sa.Engine, files: list[Path]) -> None:
    """Migrate as an earlier release did: run each file and record it in the ledger."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " sha256 char(64) NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for path in files:
            text = path.read_text(encoding="utf-8")
            conn.connection.dbapi_connection.cursor().execute(text)
            digest = hashlib.sha256(text.encode()).hexdigest()
            conn.exec_driver_sql(
                "INSERT INTO schema_migrations (version, name, sha256) VALUES (%(v)s, %(n)s, %(s)s)",
                {
                    "v": int(path.name.removeprefix("released_")[:3]),
                    "n": path.name.removeprefix("released_"),
                    "s": digest,
                },
            )


def test_migrations_apply_once_and_are_recorded(warehouse_url: str) -> None:
    engine = make_engine(warehouse_url)
    assert apply_migrations(engine) == [p.name for p in migration_files()]
    assert apply_migrations(engine) == []
    with engine.connect() as conn:
        channels = conn.exec_driver_sql("SELECT channel_name FROM dim_channel ORDER BY channel_key").scalars().all()
    assert channels == ["Credit Card", "Debit Card", "UPI", "Net Banking"]
    engine.dispose()


def test_migration_files_are_idempotent_when_rerun_by_hand(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for path in migration_files():
            conn.connection.dbapi_connection.cursor().execute(path.read_text())


def test_a_changed_applied_migration_fails_with_one_clear_line(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE schema_migrations SET sha256 = repeat('0', 64) WHERE version = 2")
    with pytest.raises(MigrationChanged, match=r"002_dq_results.sql was changed after it was applied") as info:
        apply_migrations(engine)
    assert "\n" not in str(info.value)


def test_a_warehouse_of_the_released_schema_migrates_to_a_fresh_ones(engine: sa.Engine, other_url: str) -> None:
    old = make_engine(other_url)
    _apply_old(old, [SNAPSHOTS / "released_001_star_schema.sql"])
    apply_migrations(old)
    assert schema_of(old) == schema_of(engine)
    old.dispose()


# What the previous release (migrations 001-004 as on main) wrote for a day of three transactions
# (T1, T2 successful, T3 failed; 100.00 each by Credit Card in Mumbai, customer CUST-000001 inferred).
PREVIOUS_RELEASE_DAY = """
INSERT INTO dim_date VALUES (20240501, '2024-05-01', 1, 5, 2, 2024, 3, 'Wednesday', 1);
INSERT INTO dim_city (city_name, state, region) VALUES ('Mumbai', 'Maharashtra', 'West');
INSERT INTO dim_customer (customer_id, segment, is_inferred) VALUES ('CUST-000001', 'Unknown', true);
CREATE TABLE fact_transactions_d20240501 PARTITION OF fact_transactions FOR VALUES FROM (20240501) TO (20240502);
INSERT INTO fact_transactions
SELECT 20240501, t.id, 1, 1, 1, '2024-05-01 12:00:00+00', 100.00, t.status, 1.5, 'fast', 2.00, t.revenue
FROM (VALUES ('T1', 'SUCCESS', 2.00), ('T2', 'SUCCESS', 2.00), ('T3', 'FAILED', 0.00)) AS t (id, status, revenue);
INSERT INTO agg_daily_city VALUES (20240501, 1, 1, 'Unknown', 'SUCCESS', 2, 200.00, 4.00, 3.000),
                                  (20240501, 1, 1, 'Unknown', 'FAILED', 1, 100.00, 0.00, 1.500);
INSERT INTO agg_daily_region VALUES (20240501, 1, 'West', 'Unknown', 'SUCCESS', 2, 200.00, 4.00, 3.000),
                                    (20240501, 1, 'West', 'Unknown', 'FAILED', 1, 100.00, 0.00, 1.500);
INSERT INTO load_audit (run_date, status, rows_received, rows_loaded, rows_quarantined, duplicates_dropped, loaded_at)
VALUES ('2024-05-01', 'loaded', 3, 3, 0, 0, now());
"""


def test_days_loaded_with_the_previous_release_upgrade_to_equal_a_fresh_load(engine: sa.Engine, other_url: str) -> None:
    """Issue 10 item 7: the facts, rollups and accounting of the previous release's load survive."""
    from tests.warehouse.conftest import Txn, at, file_day, load, warehouse_state

    old = make_engine(other_url)
    _apply_old(old, sorted((SNAPSHOTS / "main_before_identity").glob("*.sql")))
    with old.begin() as conn:
        conn.connection.dbapi_connection.cursor().execute(PREVIOUS_RELEASE_DAY)
    apply_migrations(old)
    day = date(2024, 5, 1)
    txns = [Txn("T1", at(day)), Txn("T2", at(day)), Txn("T3", at(day), status="FAILED")]
    load(engine, file_day(day, txns))
    assert schema_of(old) == schema_of(engine)
    assert warehouse_state(old) == warehouse_state(engine)
    old.dispose()
