"""Ordered, idempotent migrations from warehouse_sql/migrations, recorded in schema_migrations."""

from __future__ import annotations

import hashlib
import logging

import sqlalchemy as sa

from flows.errors import MigrationChanged
from flows.reference import CHANNELS
from flows.warehouse.sql import migration_files, sql

log = logging.getLogger("bap.warehouse")

_MIGRATION_LOCK = 0x62617001  # advisory lock id: one migrator at a time

# Texts 001 had while it was edited in place after its release (before migrations were immutable).
# Warehouses created with them are upgraded by 005, which makes every one of them equal to a fresh one.
_EARLIER_TEXTS = {
    1: {
        "ab7ba08d7a55510640625a0fb0461acd71a3e64073776be39013bd5e1f499838",
        "3b9adbab89a0ca65cab45357b1feb3edfdae1b0c0afa73a1876bfdbbe71248ad",
        "16d5be69bd1d3567714efd8ecde30dd50059b3bfb3fdd9aa9f21d9e9efe5a8a4",
    }
}

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    sha256      char(64) NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


def check_unchanged(name: str, version: int, applied: str, current: str) -> None:
    """Raise MigrationChanged when the text of an applied migration differs from what was applied."""
    if applied.strip() != current and applied.strip() not in _EARLIER_TEXTS.get(version, set()):
        raise MigrationChanged(
            f"migration {name} was changed after it was applied to this warehouse "
            f"(applied sha256 {applied.strip()[:12]}, now {current[:12]}); restore its text and put the change "
            "in a new numbered migration"
        )


def apply_migrations(engine: sa.Engine) -> list[str]:
    """Apply every migration not yet recorded; return the names applied. Safe to call concurrently."""
    applied: list[str] = []
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%(id)s)", {"id": _MIGRATION_LOCK})
        conn.exec_driver_sql(_LEDGER)
        done = {row[0]: row[1] for row in conn.exec_driver_sql("SELECT version, sha256 FROM schema_migrations")}
        for path in migration_files():
            version = int(path.name[:3])
            text = path.read_text(encoding="utf-8")
            digest = hashlib.sha256(text.encode()).hexdigest()
            if version in done:
                check_unchanged(path.name, version, done[version], digest)
                continue
            # Through the DB-API cursor without parameters: migration text is taken literally
            # (a '%' in a comment or a string is not a placeholder).
            raw = conn.connection.dbapi_connection
            assert raw is not None  # a checked-out connection always has its DB-API connection
            raw.cursor().execute(text)
            conn.exec_driver_sql(
                "INSERT INTO schema_migrations (version, name, sha256) VALUES (%(v)s, %(n)s, %(s)s)",
                {"v": version, "n": path.name, "s": digest},
            )
            applied.append(path.name)
        for name, (key, fee) in CHANNELS.items():
            conn.exec_driver_sql(
                sql("load/upsert_channel.sql"), {"channel_key": key, "channel_name": name, "fee_percent": fee}
            )
    if applied:
        log.info("migrations applied", extra={"migrations": applied})
    return applied
