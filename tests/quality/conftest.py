"""Days to validate: a clean one from the real generator and transform, and helpers to break it.

The GX context is loaded once per quality folder and kept by the process, so the suite-level
tests share one session data dir (`quality_settings`); tests about Data Docs or the warehouse get
their own folder or database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from flows.generate import GeneratorConfig, generate_transactions
from flows.ingest import MALFORMED_SCHEMA
from flows.settings import Settings
from flows.transform import CleanResult, clean_transactions

DAY = date(2024, 1, 15)
ROWS = 500


def with_source_columns(raw: pa.Table) -> pa.Table:
    """The raw batch as the reader hands it over: the contract columns plus where each row came from."""
    n = raw.num_rows
    return raw.append_column("source_file", pa.array(["transactions.csv"] * n, pa.string())).append_column(
        "source_row", pa.array(range(1, n + 1), pa.int64())
    )


def raw_day(scenario: str | None = None, rows: int = ROWS, day: date = DAY) -> pa.Table:
    return with_source_columns(generate_transactions(day, GeneratorConfig(transactions=rows, scenario=scenario)))


def transform(raw: pa.Table, day: date = DAY) -> CleanResult:
    return clean_transactions(raw, MALFORMED_SCHEMA.empty_table(), day)


def replace(table: pa.Table, column: str, values: list | pa.Array) -> pa.Table:
    """`table` with `column` replaced (same type unless `values` is an Arrow array of another)."""
    index = table.schema.get_field_index(column)
    array = (
        values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, table.schema.field(index).type)
    )
    return table.set_column(index, column, array)


def replace_rows(table: pa.Table, column: str, every: int, value: object) -> pa.Table:
    """`column` set to `value` on every `every`-th row (row 0, every, 2*every, ...)."""
    values = table.column(column).to_pylist()
    for i in range(0, len(values), every):
        values[i] = value
    return replace(table, column, values)


@dataclass(frozen=True)
class CleanDay:
    raw: pa.Table
    clean: CleanResult

    @property
    def processed(self) -> pa.Table:
        return self.clean.processed


@pytest.fixture(scope="session")
def clean_day() -> CleanDay:
    raw = raw_day()
    return CleanDay(raw=raw, clean=transform(raw))


@pytest.fixture(scope="session")
def quality_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a session data dir (no database needed): 500 rows a day, default thresholds."""
    return Settings(data_dir=str(tmp_path_factory.mktemp("quality") / "data"), transactions_per_day=ROWS)


@pytest.fixture
def own_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings with a data dir of this test's own (a fresh quality folder), overridable by keyword."""

    def make(**overrides: object) -> Settings:
        return Settings(data_dir=str(tmp_path / "data"), transactions_per_day=ROWS, **overrides)

    return make
