"""Lineage of a day as Prefect assets: landed file -> raw partition -> processed and quarantine
partitions -> fact_transactions and the rollups.

Keys are URIs: the lake's own (file:///..., s3://bucket/...; fsspec's URL of the path) and
postgresql://host[:port]/database/table for the warehouse, never with credentials. Each layer a
day wrote is one materialization, with its row counts and its suite's verdict as metadata; a
layer the day did not reach (a blocked day is never loaded) is not materialized.

`day_layers` is plain; `record_day` hands the layers to Prefect (`prefect.assets.materialize`),
one small task run per layer, and never fails the run it reports on.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from flows.settings import Settings
from flows.steps import DayRun, lake_of

log = logging.getLogger("bap.pipeline")

WAREHOUSE_TABLES = ("fact_transactions", "agg_daily_city", "agg_daily_region")
_NOT_IN_KEYS = re.compile(r"[\s#?&%\"'<>\[\]{}|\\^`\x00]")  # characters Prefect refuses in an asset key


@dataclass(frozen=True)
class Layer:
    """Assets one step of the day wrote, what they were made from, and their metadata."""

    name: str
    upstream: tuple[str, ...]
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # asset key -> metadata

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.metadata)


def lake_key(settings: Settings, path: str) -> str:
    """The URI of a lake path (file:///abs/path locally, the object store's URL otherwise)."""
    lake = lake_of(settings)
    return _NOT_IN_KEYS.sub("_", lake.fs.unstrip_protocol(path))


def warehouse_key(url: str, table: str) -> str:
    """postgresql://host[:port]/database/table of a warehouse URL, without user or password."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    host = parsed.host or "localhost"  # the embedded warehouse listens on a Unix socket
    port = f":{parsed.port}" if parsed.port else ""
    return _NOT_IN_KEYS.sub("_", f"postgresql://{host}{port}/{parsed.database}/{table}")


def _verdict(run: DayRun, suite: str) -> str:
    return next(("passed" if r.passed else "failed" for r in run.reports if r.suite == suite), "not run")


def _landed_source(settings: Settings, source: str) -> tuple[str, ...]:
    if not source.startswith("landed:"):
        return ()
    import fsspec

    fs, path = fsspec.core.url_to_fs(source.removeprefix("landed:"))
    return (_NOT_IN_KEYS.sub("_", fs.unstrip_protocol(path)),)


def day_layers(settings: Settings, run: DayRun, warehouse_url: str | None) -> list[Layer]:
    """The layers the day wrote, in order. `warehouse_url` is needed once the day is loaded."""
    day = run.day.isoformat()
    lake = lake_of(settings)
    if run.raw is None:
        return []
    raw_key = lake_key(settings, lake.raw_path(run.day).rsplit("/", 1)[0])
    raw_meta = {"day": day, "rows_received": run.raw.rows_received, "files": len(run.raw.files)}
    raw_meta |= {"source": run.raw.source.split(":", 1)[0], "sha256": run.raw.sha256, "raw_suite": _verdict(run, "raw")}
    layers = [Layer("raw", _landed_source(settings, run.raw.source), {raw_key: raw_meta})]
    if run.clean is None:
        return layers
    clean = run.clean
    processed_key = lake_key(settings, lake.processed_path(run.day))
    quarantine_key = lake_key(settings, lake.quarantine_path(run.day))
    processed_meta = {"day": day, "rows": clean.processed.num_rows, "processed_suite": _verdict(run, "processed")}
    quarantine_meta = {"day": day, "rows": clean.rejected.num_rows, "reasons": dict(clean.quarantine_reasons)}
    layers.append(Layer("processed", (raw_key,), {processed_key: processed_meta, quarantine_key: quarantine_meta}))
    if run.status != "loaded" or warehouse_url is None:
        return layers
    facts = {"day": day, "rows": clean.processed.num_rows, "warehouse_suite": _verdict(run, "warehouse")}
    tables = {warehouse_key(warehouse_url, t): {"day": day} for t in WAREHOUSE_TABLES}
    tables[warehouse_key(warehouse_url, "fact_transactions")] = facts
    layers.append(Layer("warehouse", (processed_key,), tables))
    return layers


def record_day(settings: Settings, run: DayRun) -> None:
    """Materialize the day's layers as Prefect assets (inside a flow or task run)."""
    from prefect.assets import add_asset_metadata, materialize
    from prefect.cache_policies import NO_CACHE

    try:
        url = None
        if run.status == "loaded":
            from flows.warehouse.connection import resolve_url

            url = resolve_url(settings)
        for layer in day_layers(settings, run, url):

            def add_metadata(layer: Layer = layer) -> None:
                for key, values in layer.metadata.items():
                    add_asset_metadata(key, values)

            materializing = materialize(
                *layer.keys,
                asset_deps=list(layer.upstream),
                name=f"lineage-{layer.name}",
                task_run_name=f"lineage-{layer.name}-{run.day.isoformat()}",
                cache_policy=NO_CACHE,
            )
            materializing(add_metadata)()
    except Exception as exc:  # lineage is a report, never a reason to fail the run
        log.warning("could not record the day's lineage", extra={"error": str(exc)})
