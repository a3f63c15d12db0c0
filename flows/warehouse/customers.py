"""The customer feed applied to dim_customer as type 2 history (see warehouse_sql/load/merge_customers.sql)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time

import pyarrow as pa
import sqlalchemy as sa

from flows.contract import CUSTOMER_COLUMNS
from flows.dates import date_key
from flows.warehouse.bulk import LOAD_LOCK, copy_table, fetch, rollback_quietly, run
from flows.warehouse.rollups import rebuild_rollups

log = logging.getLogger("bap.load")


def load_customers(engine: sa.Engine, customers: pa.Table, as_of: date) -> int:
    """Apply the feed as it stands at the start of `as_of` (UTC); return the versions opened or
    completed. Facts of a changed customer from as_of on move to the new version, and the rollups
    of their days follow, in the same transaction, serialised with the day loads by their lock; a
    feed that changes nothing takes no lock (every run syncs the feed before its days)."""
    start = datetime.combine(as_of, time(), UTC)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        run(cur, "load/stage_customers.sql")
        copy_table(cur, customers, "_customer_stage", CUSTOMER_COLUMNS)
        if not fetch(cur, "load/feed_differs.sql", {"as_of": start})[0][0]:
            raw.rollback()
            return 0
        run(cur, "load/begin_day.sql", {"lock_id": LOAD_LOCK})
        run(cur, "load/merge_customers.sql", {"as_of": start})
        days = [r[0] for r in fetch(cur, "load/repoint_facts.sql", {"as_of": start, "as_of_key": date_key(as_of)})]
        rebuild_rollups(cur, days)
        changed = len(fetch(cur, "load/customer_changes.sql"))
        raw.commit()
    except BaseException:
        rollback_quietly(raw)
        raise
    finally:
        raw.close()
    log.info("customer feed applied", extra={"customers": customers.num_rows, "changed": changed, "days": len(days)})
    return changed
