"""COPYing Arrow tables: the compact CSV reads back exactly what the table held."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from flows.warehouse.bulk import copy_table

ROWS = 120_000  # above the size that streams slices through the pipe


def _round_trip(engine: sa.Engine, table: pa.Table) -> list[tuple[object, ...]]:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("CREATE TEMP TABLE t (id int, s text, ts timestamp)")
        copy_table(cur, table, "t", ("id", "s", "ts"))
        cur.execute("SELECT id, s, ts FROM t ORDER BY id")
        return list(cur.fetchall())
    finally:
        raw.rollback()
        raw.close()


@pytest.mark.parametrize(
    "special, stamp",
    [
        ("", datetime(2024, 6, 3, 10, 0, 0)),  # an empty string is not NULL
        ('say "hi", then\nleave', datetime(2024, 6, 3, 10, 0, 0)),  # delimiter, quote, line break
        ("plain", datetime(2024, 6, 3, 10, 0, 0, 250_000)),  # a fraction of a second is kept
    ],
)
def test_strings_nulls_and_timestamps_read_back_exactly(engine: sa.Engine, special: str, stamp: datetime) -> None:
    ids = list(range(ROWS))
    strings: list[str | None] = [f"TXN-{i:07d}" for i in ids]
    stamps: list[datetime | None] = [datetime(2024, 6, 3, 9, 0, 0)] * ROWS
    strings[ROWS // 2], stamps[ROWS // 2] = special, stamp
    strings[ROWS - 1], stamps[ROWS - 1] = None, None
    table = pa.table(
        {
            "id": pa.array(ids, pa.int32()),
            "s": pa.array(strings, pa.string()),
            "ts": pa.array(stamps, pa.timestamp("us")),
        }
    )
    rows = _round_trip(engine, table)
    assert len(rows) == ROWS
    assert rows[ROWS // 2] == (ROWS // 2, special, stamp)
    assert rows[ROWS - 1] == (ROWS - 1, None, None)
    assert rows[0] == (0, "TXN-0000000", datetime(2024, 6, 3, 9, 0, 0))


def test_the_embedded_warehouse_writes_new_partitions_without_wal(tmp_path: Path) -> None:
    """Its server runs with wal_level = minimal: a load's fresh or renewed partition skips the WAL."""
    from flows.warehouse.embedded import embedded_url

    engine = sa.create_engine(embedded_url(tmp_path / "pgdata"), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW wal_level").scalar() == "minimal"
        assert conn.exec_driver_sql("SHOW max_wal_senders").scalar() == "0"
    engine.dispose()
