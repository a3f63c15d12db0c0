"""Dimensions of a load: calendar days, cities, customers (SCD type 2), and the surrogate keys.

Each fact points at the customer version in force at its transaction_ts. A customer the feed has
not named yet gets an inferred version (segment 'Unknown', valid for all time) that the feed later
completes in place, so facts pointing at it keep their key.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flows.dates import date_key
from flows.warehouse.bulk import Cursor, fetch, run


def dim_date_params(day: date) -> dict[str, Any]:
    return {
        "date_key": date_key(day),
        "full_date": day,
        "day": day.day,
        "month": day.month,
        "quarter": (day.month - 1) // 3 + 1,
        "year": day.year,
        "day_of_week": day.isoweekday(),
        "day_name": day.strftime("%A"),
        "weekday_flag": 1 if day.weekday() < 5 else 0,
    }


def upsert_days(cursor: Cursor, days: list[date]) -> None:
    for day in days:
        run(cursor, "load/upsert_date.sql", dim_date_params(day))


def city_rows(cursor: Cursor, facts: pa.Table) -> list[tuple[Any, ...]]:
    """Upsert the cities the facts name; return every (city_key, city_name, state, region)."""
    cities = facts.select(["city", "state", "region"]).group_by(["city", "state", "region"]).aggregate([])
    params = {
        "cities": cities.column("city").to_pylist(),
        "states": cities.column("state").to_pylist(),
        "regions": cities.column("region").to_pylist(),
    }
    run(cursor, "load/upsert_cities.sql", params)
    return fetch(cursor, "load/city_keys.sql")


def customer_versions(cursor: Cursor, facts: pa.Table) -> list[tuple[Any, ...]]:
    """Add inferred customers for ids no version names; return the versions of the facts' customers:
    (customer_id, customer_key, valid_from in epoch seconds, segment, is_inferred), in validity order."""
    ids = pc.unique(facts.column("customer_id")).to_pylist()
    run(cursor, "load/upsert_inferred_customers.sql", {"customer_ids": ids})
    return fetch(cursor, "load/customer_versions.sql", {"customer_ids": ids})


def city_keys(facts: pa.Table, cities: list[tuple[Any, ...]]) -> pa.Array:
    names = pa.array([f"{r[1]}\x1f{r[2]}" for r in cities], pa.string())
    wanted = pc.binary_join_element_wise(facts.column("city"), facts.column("state"), "\x1f")
    positions = pc.index_in(wanted, value_set=names)
    if positions.null_count:
        raise RuntimeError("a city key could not be resolved")  # programming error: upserted above
    return pc.take(pa.array([r[0] for r in cities], pa.int32()), positions)


def customer_keys(facts: pa.Table, versions: list[tuple[Any, ...]]) -> pa.Array:
    """The key of the version in force at each fact's transaction_ts (an as-of join, vectorised):
    versions and facts are ranked by (customer, seconds) in one int64 and matched by binary search."""
    ids = [v[0] for v in versions]
    first = {cid: i for i, cid in reversed(list(enumerate(ids)))}
    rank = pa.array([first[cid] for cid in ids], pa.int64())
    version_order = rank.to_numpy() << 32 | np.array([v[2] for v in versions], dtype=np.int64)
    fact_rank = pc.index_in(facts.column("customer_id"), value_set=pa.array(ids, pa.string()))
    if fact_rank.null_count:
        raise RuntimeError("a customer key could not be resolved")  # programming error: upserted above
    seconds = pc.cast(facts.column("transaction_ts"), pa.int64()).to_numpy() // 1_000_000
    fact_order = fact_rank.to_numpy().astype(np.int64) << 32 | np.maximum(seconds, 0)
    position = np.searchsorted(version_order, fact_order, side="right") - 1
    return pa.array(np.array([v[1] for v in versions], dtype=np.int32)[position], pa.int32())
