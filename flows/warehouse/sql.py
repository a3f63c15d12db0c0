"""SQL lives in warehouse_sql/ as files; Python names a file by its path and passes parameters.

Every file uses the DB-API "pyformat" style (`%(name)s`), executed with the driver's own
parameter binding, so no value is ever formatted into SQL text.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_ROOT = Path(__file__).resolve().parents[2] / "warehouse_sql"


@cache
def sql(relative_path: str) -> str:
    """Text of warehouse_sql/<relative_path>, cached."""
    path = (SQL_ROOT / relative_path).resolve()
    if SQL_ROOT not in path.parents:
        raise ValueError(f"SQL file outside warehouse_sql/: {relative_path}")
    return path.read_text(encoding="utf-8")


def migration_files() -> list[Path]:
    """Migrations in the order they apply (by their NNN_ prefix)."""
    return sorted((SQL_ROOT / "migrations").glob("[0-9][0-9][0-9]_*.sql"))
