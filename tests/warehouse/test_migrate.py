import sqlalchemy as sa

from flows.warehouse.connection import make_engine
from flows.warehouse.migrate import apply_migrations
from flows.warehouse.sql import migration_files


def test_migrations_apply_once_and_are_recorded(warehouse_url: str) -> None:
    engine = make_engine(warehouse_url)
    first = apply_migrations(engine)
    second = apply_migrations(engine)
    assert first == [p.name for p in migration_files()]
    assert second == []
    with engine.connect() as conn:
        tables = {r[0] for r in conn.exec_driver_sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        channels = conn.exec_driver_sql("SELECT channel_name, fee_percent FROM dim_channel ORDER BY channel_key").all()
    assert {"dim_date", "dim_channel", "dim_customer", "dim_city", "load_audit", "schema_migrations"} <= tables
    assert [c[0] for c in channels] == ["Credit Card", "Debit Card", "UPI", "Net Banking"]
    engine.dispose()


def test_migration_files_are_idempotent_when_rerun_by_hand(engine: sa.Engine) -> None:
    """Every migration can be executed again (IF NOT EXISTS everywhere) without error."""
    with engine.begin() as conn:
        for path in migration_files():
            conn.connection.dbapi_connection.cursor().execute(path.read_text())
