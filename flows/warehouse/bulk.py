"""Running the SQL files on a DB-API cursor, and COPYing Arrow tables into PostgreSQL."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg2
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg2 import sql as pgsql

from flows.warehouse.sql import sql

_COPY_SLICE_ROWS = 100_000
LOAD_LOCK = 0x62617002  # advisory lock id held by every day load and customer feed merge

Cursor = Any  # a psycopg2 cursor (psycopg2 ships no type hints)


def rollback_quietly(raw: Any) -> None:
    """Roll back after a failure; when the connection itself is gone (server down, backend
    terminated) the server has already discarded the transaction, and the original error is
    the one to report, not the "connection already closed" of the rollback."""
    try:
        raw.rollback()
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        pass


def run(cursor: Cursor, relative_path: str, params: Mapping[str, Any] | None = None, **identifiers: str) -> None:
    """Execute a warehouse_sql/ file; `identifiers` fill its {name} placeholders, quoted."""
    text = sql(relative_path)
    if identifiers:
        composed = pgsql.SQL(text).format(**{k: pgsql.Identifier(v) for k, v in identifiers.items()})
        cursor.execute(composed, params)
    else:
        cursor.execute(text, params)


def fetch(cursor: Cursor, relative_path: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
    run(cursor, relative_path, params)
    return list(cursor.fetchall())


def copy_table(cursor: Cursor, table: pa.Table, target: str, columns: tuple[str, ...], *, freeze: bool = False) -> None:
    """COPY an Arrow table into `target` (FREEZE: rows written frozen, for a table created or
    truncated in this transaction).

    Arrow renders slices of the table as CSV in parallel threads (it releases the GIL) while
    PostgreSQL parses the slices already rendered, streamed through a pipe in order, so the two
    cores work at once and the CSV is never held whole.
    """
    statement = pgsql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv{})").format(
        pgsql.Identifier(target),
        pgsql.SQL(", ").join(pgsql.Identifier(c) for c in columns),
        pgsql.SQL(", FREEZE" if freeze else ""),
    )
    # One chunk: Arrow's CSV writer emits stray NUL bytes when a first chunk is empty (apache/arrow#36889).
    selected = table.select(list(columns)).combine_chunks()
    if selected.num_rows < 50_000:
        cursor.copy_expert(statement, io.BytesIO(_render(selected)))
        return
    slices = [selected.slice(start, _COPY_SLICE_ROWS) for start in range(0, selected.num_rows, _COPY_SLICE_ROWS)]
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with ThreadPoolExecutor(max_workers=2) as pool, os.fdopen(write_fd, "wb", buffering=0) as sink:
                for chunk in pool.map(_render, slices):
                    sink.write(chunk)
        except BrokenPipeError:
            pass  # the COPY failed and closed its end; its error is the one that matters
        except BaseException as exc:
            failure.append(exc)

    producer = threading.Thread(target=produce, name="copy-producer", daemon=True)
    producer.start()
    try:
        with os.fdopen(read_fd, "rb", buffering=1 << 20) as source:
            cursor.copy_expert(statement, source, size=1 << 20)
    finally:
        producer.join()
    if failure:
        raise failure[0]


def _render(part: pa.Table) -> bytes:
    """A slice as CSV, as short as PostgreSQL reads it back the same: whole-second timestamps
    without the microseconds, strings unquoted when none is empty (unquoted, it would read as
    NULL) and Arrow finds no delimiter, quote or line break in them (else the slice is quoted).
    About a tenth fewer bytes for the COPY to parse; slices are independent rows, so one quoted
    slice among unquoted ones reads the same."""
    part = _whole_seconds(part)
    if not _has_empty_string(part):
        try:
            return _write_csv(part, "none")
        except pa.ArrowInvalid:  # a value needs quotes
            pass
    return _write_csv(part, "needed")


def _write_csv(part: pa.Table, quoting: str) -> bytes:
    sink = io.BytesIO()
    options = pacsv.WriteOptions(include_header=False, batch_size=65_536, quoting_style=quoting)
    pacsv.write_csv(part, sink, write_options=options)
    return sink.getvalue()


def _whole_seconds(part: pa.Table) -> pa.Table:
    for i, field in enumerate(part.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is None and field.type.unit != "s":
            try:  # a safe cast: refused when a value has a fraction of a second
                part = part.set_column(i, field.name, part.column(i).cast(pa.timestamp("s")))
            except pa.ArrowInvalid:
                pass
    return part


def _has_empty_string(part: pa.Table) -> bool:
    for column in part.itercolumns():
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            shortest = pc.min(pc.binary_length(column)).as_py()
            if shortest == 0:
                return True
    return False
