"""Ingestion: put a day's source into the raw zone and read it back as text, held to the contract.

The raw partition `raw/YYYY/MM/DD/` is the day's source of truth: synthetic days are written
there as `transactions.csv`; landed files are copied there byte for byte. Every later step (and
every re-run) reads the day from that partition, so a re-run replays exactly what arrived.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from filelock import FileLock
from fsspec.implementations.local import LocalFileSystem

from flows.contract import RAW_COLUMNS
from flows.errors import ContractError
from flows.generate import GeneratorConfig, generate_transactions, to_csv_bytes
from flows.storage import DataLake

log = logging.getLogger("bap.ingestion")

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class RawBatch:
    """The day's raw records as text, one row per parsed record, plus the records that did not parse."""

    run_date: date
    records: pa.Table  # RAW_COLUMNS as strings + source_file (string) + source_row (int64)
    malformed: pa.Table  # source_file, source_row, raw_text, reason
    source: str
    sha256: str
    files: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def rows_received(self) -> int:
        return int(self.records.num_rows + self.malformed.num_rows)


MALFORMED_SCHEMA = pa.schema(
    [("source_file", pa.string()), ("source_row", pa.int64()), ("raw_text", pa.string()), ("reason", pa.string())]
)


def write_synthetic_day(lake: DataLake, run_date: date, config: GeneratorConfig) -> str:
    """Generate the day and write it atomically to the raw partition; returns the file path."""
    table = generate_transactions(run_date, config)
    path = lake.raw_path(run_date)
    _clear_partition(lake, run_date)
    lake.write_atomic(path, to_csv_bytes(table))
    log.info("synthetic day written", extra={"run_date": str(run_date), "rows": table.num_rows, "path": path})
    return path


def land_files(lake: DataLake, run_date: date, input_path: str) -> list[str]:
    """Copy a landed CSV file (or every *.csv of a folder) into the day's raw partition, unchanged."""
    fs, path = fsspec.core.url_to_fs(input_path)
    if not fs.exists(path):
        raise ContractError(f"input {input_path} does not exist")
    if fs.isdir(path):
        sources = sorted(p for p in fs.ls(path, detail=False) if p.lower().endswith(".csv"))
        if not sources:
            raise ContractError(f"input folder {input_path} holds no .csv file")
    else:
        sources = [path]
    # Until every file is in place the partition is not the day: readers refuse it while this
    # marker exists, so a landing killed half way is never replayed as complete (or as synthetic).
    marker = _landing_marker(lake, run_date)
    lake.write_atomic(marker, input_path.encode())
    _clear_partition(lake, run_date)
    written = []
    for i, source in enumerate(sources):
        if len(sources) == 1:
            target = lake.raw_path(run_date)
        else:
            target = f"{lake.raw_folder(run_date)}/transactions-{i + 1:03d}-{source.rsplit('/', 1)[-1]}"
        lake.write_atomic(target, fs.cat_file(source))
        written.append(target)
    try:
        lake.fs.rm_file(marker)
    except FileNotFoundError:  # a concurrent landing of the same day finished first
        pass
    log.info("landed files copied", extra={"run_date": str(run_date), "files": written})
    return written


@contextmanager
def partition_lock(lake: DataLake, run_date: date) -> Iterator[None]:
    """Runs of the same day take turns landing (or generating) and reading its raw partition.

    On a local lake this is a `filelock` lock on raw/YYYY/MM/DD/.lock (an flock, which the
    kernel releases when its holder dies: a crash never leaves it held). An object store has no
    such lock: there, two runs writing the same day's raw partition at the same moment are not
    serialised.
    """
    if not isinstance(lake.fs, LocalFileSystem):
        yield
        return
    folder = lake.raw_folder(run_date)
    os.makedirs(folder, exist_ok=True)
    with FileLock(os.path.join(folder, ".lock")):
        yield


def _landing_marker(lake: DataLake, run_date: date) -> str:
    return f"{lake.raw_folder(run_date)}/_LANDING_IN_PROGRESS"


def _clear_partition(lake: DataLake, run_date: date) -> None:
    for existing in raw_files(lake, run_date):
        lake.fs.rm_file(existing)


def raw_files(lake: DataLake, run_date: date) -> list[str]:
    folder = lake.raw_folder(run_date)
    if not lake.fs.exists(folder):
        return []
    return sorted(p for p in lake.fs.ls(folder, detail=False) if p.lower().endswith(".csv"))  # as land_files picks


def read_raw_partition(lake: DataLake, run_date: date, source: str) -> RawBatch:
    """Read every CSV of the day's raw partition, held to the contract."""
    marker = _landing_marker(lake, run_date)
    if lake.exists(marker):
        raise ContractError(
            f"the landing of {run_date} was interrupted, so its raw partition is incomplete; land the day again "
            f"with `bap run --date {run_date} --input PATH` (or delete {lake.url(marker)} to accept the files there)"
        )
    files = raw_files(lake, run_date)
    if not files:
        raise ContractError(f"no raw data for {run_date} under {lake.url(lake.raw_folder(run_date))}")
    digest = hashlib.sha256()
    tables, bad, notes = [], [], []
    for path in files:
        data = lake.read(path)
        digest.update(data)
        name = path.rsplit("/", 1)[-1]
        records, malformed, file_notes = parse_raw_csv(data, source_file=name)
        tables.append(records)
        bad.append(malformed)
        notes.extend(file_notes)
    batch = RawBatch(
        run_date=run_date,
        records=pa.concat_tables(tables),
        malformed=pa.concat_tables(bad),
        source=source,
        sha256=digest.hexdigest(),
        files=tuple(files),
        notes=tuple(notes),
    )
    log.info(
        "raw partition read",
        extra={"run_date": str(run_date), "records": batch.records.num_rows, "malformed": batch.malformed.num_rows},
    )
    return batch


def _normalise(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def parse_raw_csv(data: bytes, *, source_file: str) -> tuple[pa.Table, pa.Table, list[str]]:
    """Parse CSV bytes as text columns of the contract.

    Returns (records, malformed records, notes). Raises ContractError when the bytes are not a CSV
    of the contract at all: empty, binary, or without the contract's columns.
    """
    data, encoding, notes = _decode(data, source_file)
    header = _contract_header(data, encoding, source_file, notes)
    malformed: list[dict[str, object]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append(
            {
                "source_file": source_file,
                # row.number counts records from 1 at the header (known when reading single-threaded).
                "source_row": int(row.number) - 1 if row.number is not None and row.number > 1 else None,
                "raw_text": row.text,
                "reason": "malformed_record",
            }
        )
        return "skip"

    try:
        # In parallel blocks first (records keep their order); a malformed record's number is only
        # known when reading single-threaded, so a file that has one is read again that way.
        seen: list[pacsv.InvalidRow] = []

        def note(row: pacsv.InvalidRow) -> str:
            seen.append(row)
            return "skip"

        table = _read_text_columns(data, encoding, header, note, threads=True)
        if seen:
            table = _read_text_columns(data, encoding, header, on_invalid, threads=False)
    except pa.ArrowInvalid as exc:
        raise ContractError(f"{source_file} could not be parsed as CSV: {exc}") from None
    table = table.rename_columns([_normalise(n) for n in table.column_names]).select(list(RAW_COLUMNS))
    bad = pa.Table.from_pylist(malformed, schema=MALFORMED_SCHEMA)
    return _with_positions(table, bad, source_file), bad, notes


def _read_text_columns(
    data: bytes, encoding: str, header: list[str], on_invalid: Callable[[pacsv.InvalidRow], str], *, threads: bool
) -> pa.Table:
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(encoding=encoding, block_size=16 << 20, use_threads=threads),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in header},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        ),
    )


def _decode(data: bytes, source_file: str) -> tuple[bytes, str, list[str]]:
    """The bytes without a BOM, their encoding (UTF-8, else Latin-1) and a note when not UTF-8."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if not data.strip():
        raise ContractError(f"{source_file} is empty; expected a CSV with the header {','.join(RAW_COLUMNS)}")
    if b"\x00" in data:  # anywhere: PostgreSQL text cannot hold a NUL byte
        raise ContractError(f"{source_file} is binary, not a CSV text file")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data, "latin1", [f"{source_file}: not valid UTF-8, read as Latin-1"]
    return data, "utf8", []


def _contract_header(data: bytes, encoding: str, source_file: str, notes: list[str]) -> list[str]:
    """The file's header as written, once it names every contract column exactly once (notes
    the extra columns it ignores)."""
    first_line = data.splitlines()[0].decode(encoding.replace("utf8", "utf-8"), errors="replace")
    header = next(csv.reader([first_line]))
    names = [_normalise(h) for h in header]
    missing = [c for c in RAW_COLUMNS if c not in names]
    if missing:
        hint = ""
        if len(header) == 1 and any(d in first_line for d in (";", "\t", "|")):
            hint = " (the file seems to use another delimiter than a comma)"
        raise ContractError(
            f"{source_file} does not follow the raw CSV contract: missing column(s) {', '.join(missing)}{hint}; "
            f"expected {','.join(RAW_COLUMNS)}"
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ContractError(f"{source_file} has duplicated column(s) {', '.join(duplicated)}")
    extra = [h for h, n in zip(header, names, strict=True) if n not in RAW_COLUMNS]
    if extra:
        notes.append(f"{source_file}: extra column(s) ignored: {', '.join(extra)}")
    return header


def _with_positions(table: pa.Table, malformed: pa.Table, source_file: str) -> pa.Table:
    """The records with source_file and source_row: parsed records take the record numbers the
    malformed ones did not, so each record keeps its position in the file."""
    n = table.num_rows
    bad_rows = np.array([r for r in malformed.column("source_row").to_pylist() if r is not None], dtype=np.int64)
    rows = np.delete(np.arange(1, n + malformed.num_rows + 1, dtype=np.int64), bad_rows - 1)[:n]
    return table.append_column("source_file", pa.array([source_file] * n, pa.string())).append_column(
        "source_row", pa.array(rows, pa.int64())
    )
