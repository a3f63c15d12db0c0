"""Ingest and the raw CSV contract: what a landed file may look like and what it becomes.

A file that is not a CSV of the contract at all fails with one clear line (ContractError); a
file that is, however awkward (BOM, CRLF, Latin-1, quoted newlines, extra columns), is read
with every record accounted for: parsed, or kept as a malformed record with its text.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from flows.contract import RAW_COLUMNS
from flows.errors import ContractError
from flows.generate import GeneratorConfig
from flows.ingest import (
    land_files,
    parse_raw_csv,
    partition_lock,
    raw_files,
    read_raw_partition,
    write_synthetic_day,
)
from flows.storage import DataLake
from flows.transform import clean_transactions

DAY = date(2024, 3, 5)
HEADER = ",".join(RAW_COLUMNS)


def row(i: int = 1, **fields: str) -> str:
    values = {
        "transaction_id": f"TXN-{i}",
        "transaction_ts": "2024-03-05T10:00:00Z",
        "customer_id": "CUST-000001",
        "city": "Pune",
        "state": "Maharashtra",
        "channel": "UPI",
        "amount": "10.00",
        "status": "SUCCESS",
        "processing_time_s": "1.200",
        **fields,
    }
    return ",".join(values[c] for c in RAW_COLUMNS)


def csv_bytes(*lines: str, newline: str = "\n", encoding: str = "utf-8") -> bytes:
    return newline.join(lines).encode(encoding) + newline.encode(encoding)


def parse(data: bytes) -> tuple[pa.Table, pa.Table, list[str]]:
    return parse_raw_csv(data, source_file="in.csv")


def one_line(message: str) -> bool:
    return "\n" not in message and "\r" not in message and len(message) < 500


# --- files that are not the contract at all -> one clear line --------------------------------------

NOT_A_CONTRACT_FILE = [
    ("empty", b"", "empty"),
    ("blank lines only", b"\n\n  \r\n", "empty"),
    ("BOM only", b"\xef\xbb\xbf", "empty"),
    ("binary NULs", b"\x00\x01\x02\x03" * 100, "binary"),
    ("gzip named .csv", gzip.compress(csv_bytes(HEADER, row())), "binary"),
    ("PNG", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "binary"),
    ("UTF-16 text", csv_bytes(HEADER, row(), encoding="utf-16"), "binary"),
    ("NUL byte far into the file", csv_bytes(HEADER, *[row(i) for i in range(2000)]) + b"TXN-X,\x00\n", "binary"),
    ("missing column", csv_bytes(HEADER.replace(",amount", ""), "x"), "missing column(s) amount"),
    ("wrong columns", csv_bytes("id,date,value", "1,2024-03-05,10"), "missing column(s) transaction_id"),
    ("JSON", b'[{"transaction_id": "T1", "amount": 10}]', "missing column(s)"),
    ("HTML error page", b"<html><body><h1>502 Bad Gateway</h1></body></html>\n", "missing column(s)"),
    ("duplicated column", csv_bytes(HEADER + ",Amount", row() + ",1"), "duplicated column(s) amount"),
    ("semicolon delimiter", csv_bytes(HEADER.replace(",", ";"), row().replace(",", ";")), "delimiter"),
    ("tab delimiter", csv_bytes(HEADER.replace(",", "\t"), row().replace(",", "\t")), "delimiter"),
    ("pipe delimiter", csv_bytes(HEADER.replace(",", "|"), row().replace(",", "|")), "delimiter"),
]


@pytest.mark.parametrize(
    "data, message", [(d, m) for _, d, m in NOT_A_CONTRACT_FILE], ids=[name for name, _, _ in NOT_A_CONTRACT_FILE]
)
def test_a_file_that_is_not_the_contract_fails_with_one_clear_line(data: bytes, message: str) -> None:
    with pytest.raises(ContractError) as info:
        parse(data)
    text = str(info.value)
    assert message in text
    assert "in.csv" in text, "the message names the file"
    assert one_line(text)


def test_the_wrong_delimiter_message_says_what_is_expected() -> None:
    with pytest.raises(ContractError, match="another delimiter than a comma") as info:
        parse(csv_bytes(HEADER.replace(",", ";"), row().replace(",", ";")))
    assert HEADER in str(info.value)


# --- awkward but valid files -> every record read ---------------------------------------------------


def test_header_only_gives_zero_records() -> None:
    records, bad, notes = parse(csv_bytes(HEADER))
    assert (records.num_rows, bad.num_rows, notes) == (0, 0, [])
    assert records.column_names == [*RAW_COLUMNS, "source_file", "source_row"]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(csv_bytes(HEADER, row(1), row(2)), id="LF"),
        pytest.param(csv_bytes(HEADER, row(1), row(2), newline="\r\n"), id="CRLF"),
        pytest.param(csv_bytes(HEADER, row(1), row(2), newline="\r"), id="CR only"),
        pytest.param(b"\xef\xbb\xbf" + csv_bytes(HEADER, row(1), row(2)), id="UTF-8 BOM"),
        pytest.param(b"\xef\xbb\xbf" + csv_bytes(HEADER, row(1), row(2), newline="\r\n"), id="BOM + CRLF"),
        pytest.param(csv_bytes(HEADER, row(1), row(2))[:-1], id="no final newline"),
        pytest.param(csv_bytes(HEADER, row(1), "", row(2), ""), id="blank lines between records"),
    ],
)
def test_line_ends_and_bom_do_not_change_the_values(data: bytes) -> None:
    records, bad, _ = parse(data)
    assert bad.num_rows == 0
    assert records.column("transaction_id").to_pylist() == ["TXN-1", "TXN-2"]
    assert records.column("processing_time_s").to_pylist() == ["1.200", "1.200"], "no stray \\r in the last field"


def test_header_names_are_matched_by_name_case_and_blanks_ignored() -> None:
    header = [" Transaction ID", "AMOUNT", *[c for c in RAW_COLUMNS if c not in ("transaction_id", "amount")]]
    values = {"transaction_id": "T-7", "amount": "12.34"}
    line = ",".join(values.get(c, "x") for c in ["transaction_id", "amount", *header[2:]])
    records, _, _ = parse(csv_bytes(",".join(header), line))
    assert records.column_names[: len(RAW_COLUMNS)] == list(RAW_COLUMNS)
    assert records.column("transaction_id").to_pylist() == ["T-7"]
    assert records.column("amount").to_pylist() == ["12.34"]


def test_extra_columns_are_ignored_with_a_note() -> None:
    records, _, notes = parse(csv_bytes(HEADER + ",merchant,Notes", row() + ",ACME,hello"))
    assert records.column_names == [*RAW_COLUMNS, "source_file", "source_row"]
    assert notes == ["in.csv: extra column(s) ignored: merchant, Notes"]


def test_quoted_fields_keep_commas_quotes_and_newlines() -> None:
    line = 'TXN-1,2024-03-05T10:00:00Z,CUST-1,"Kochi, Ernakulam","Ker\nala",UPI,"10.00",SUCCESS,1.2'
    quoted_quote = 'TXN-2,2024-03-05T10:00:00Z,"CUST ""VIP""",Pune,Maharashtra,UPI,10.00,SUCCESS,1.2'
    records, bad, _ = parse(csv_bytes(HEADER, line, quoted_quote, row(3)))
    assert bad.num_rows == 0
    assert records.column("city").to_pylist()[0] == "Kochi, Ernakulam"
    assert records.column("state").to_pylist()[0] == "Ker\nala"
    assert records.column("customer_id").to_pylist()[1] == 'CUST "VIP"'
    assert records.column("source_row").to_pylist() == [1, 2, 3], "records are numbered, not lines"


def test_latin1_bytes_are_read_as_latin1_with_a_note() -> None:
    records, _, notes = parse(csv_bytes(HEADER, row(city="Pondichéry", state="Puducherry"), encoding="latin-1"))
    assert records.column("city").to_pylist() == ["Pondichéry"]
    assert notes == ["in.csv: not valid UTF-8, read as Latin-1"]


def test_utf8_text_is_kept() -> None:
    records, _, notes = parse(csv_bytes(HEADER, row(city="Bengaluru ಬೆಂಗಳೂರು")))
    assert records.column("city").to_pylist() == ["Bengaluru ಬೆಂಗಳೂರು"]
    assert notes == []


@pytest.mark.parametrize("length", [100_000, 17 << 20], ids=["100 KB", "17 MB (beyond one read block)"])
def test_a_very_long_line_is_one_record(length: int) -> None:
    records, bad, _ = parse(csv_bytes(HEADER, row(1), row(2, city="P" * length), row(3)))
    assert bad.num_rows == 0
    assert records.column("transaction_id").to_pylist() == ["TXN-1", "TXN-2", "TXN-3"]
    assert len(records.column("city").to_pylist()[1]) == length


def test_empty_fields_are_null() -> None:
    records, _, _ = parse(csv_bytes(HEADER, row(amount="", status='""')))
    assert records.column("amount").to_pylist() == [None]
    assert records.column("status").to_pylist() == [None]


# --- malformed records: kept with their text and position, never lost -------------------------------


def test_records_with_the_wrong_field_count_are_kept_as_malformed() -> None:
    data = csv_bytes(HEADER, row(1), "TXN-2,too,few", row(3), row(4) + ",one,too,many", row(5))
    records, bad, _ = parse(data)
    assert records.column("transaction_id").to_pylist() == ["TXN-1", "TXN-3", "TXN-5"]
    assert bad.column("raw_text").to_pylist() == ["TXN-2,too,few", row(4) + ",one,too,many"]
    assert set(bad.column("reason").to_pylist()) == {"malformed_record"}
    # Every record keeps its own position in the file (header excluded): 1..5, none repeated.
    assert records.column("source_row").to_pylist() == [1, 3, 5]
    assert bad.column("source_row").to_pylist() == [2, 4]


def test_record_numbers_count_records_not_lines() -> None:
    quoted = 'TXN-2,2024-03-05T10:00:00Z,CUST-1,"Navi\nMumbai",Maharashtra,UPI,1.00,SUCCESS,1'
    records, bad, _ = parse(csv_bytes(HEADER, row(1), quoted, "broken", row(4)))
    assert records.column("source_row").to_pylist() == [1, 2, 4]
    assert bad.column("source_row").to_pylist() == [3]


def test_an_unterminated_quote_at_the_end_is_one_malformed_record() -> None:
    records, bad, _ = parse(csv_bytes(HEADER, row(1), 'TXN-2,"2024-03-05,CUST-1'))
    assert records.column("transaction_id").to_pylist() == ["TXN-1"]
    assert bad.num_rows == 1 and bad.column("source_row").to_pylist() == [2]


def test_data_rows_in_another_delimiter_are_all_malformed_not_lost() -> None:
    records, bad, _ = parse(csv_bytes(HEADER, row(1).replace(",", ";"), row(2).replace(",", ";")))
    assert records.num_rows == 0
    assert bad.num_rows == 2


# --- field values through the parser: what the transform makes of them -----------------------------


@pytest.mark.parametrize(
    "line, reason",
    [
        (row(amount='"1,000.00"'), "invalid_amount"),
        (row(amount="abc"), "invalid_amount"),
        (row(amount="-5.00"), "amount_not_positive"),
        (row(amount="99999999999999999999"), "amount_out_of_range"),
        (row(amount="10.999"), "amount_too_many_decimals"),
        (row(channel="Cash"), "unknown_channel"),
        (row(status="REFUNDED"), "unknown_status"),
        (row(transaction_ts="2024-03-06T00:00:01Z"), "timestamp_outside_day"),
        (row(transaction_ts="2024-03-06T03:00:00-05:30"), "timestamp_outside_day"),
        (row(transaction_ts="2024-02-27T01:00:00+05:30"), "too_late"),  # 19:30 UTC on 02-26
        (row(transaction_id=""), "missing_transaction_id"),
        ("a,b", "malformed_record"),
    ],
)
def test_bad_values_in_a_csv_are_quarantined_with_their_reason(line: str, reason: str) -> None:
    records, bad, _ = parse(csv_bytes(HEADER, row(1), line))
    result = clean_transactions(records, bad, DAY, late_arrival_days=7)
    assert result.processed.column("transaction_id").to_pylist() == ["TXN-1"]
    assert result.quarantine_reasons == {reason: 1}
    assert result.reconciles


# --- the raw zone: synthetic days, landed files and folders ----------------------------------------


@pytest.fixture
def lake(tmp_path: Path) -> DataLake:
    return DataLake(str(tmp_path / "data"))


def test_a_synthetic_day_is_written_to_its_partition_and_read_back(lake: DataLake) -> None:
    path = write_synthetic_day(lake, DAY, GeneratorConfig(transactions=50))
    assert path.endswith("raw/2024/03/05/transactions.csv")
    batch = read_raw_partition(lake, DAY, "synthetic")
    assert batch.records.num_rows == 50 and batch.malformed.num_rows == 0
    assert batch.rows_received == 50
    assert not [p for p in Path(path).parent.iterdir() if ".tmp-" in p.name], "no temporary file left"


def test_a_landed_file_is_copied_byte_for_byte(lake: DataLake, tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_bytes(b"\xef\xbb\xbf" + csv_bytes(HEADER, row(1), newline="\r\n"))
    written = land_files(lake, DAY, str(source))
    assert [Path(p).name for p in written] == ["transactions.csv"]
    assert Path(written[0]).read_bytes() == source.read_bytes()


def test_a_folder_of_csv_files_is_one_day(lake: DataLake, tmp_path: Path) -> None:
    folder = tmp_path / "landed"
    folder.mkdir()
    (folder / "a.csv").write_bytes(csv_bytes(HEADER, row(1), row(2)))
    (folder / "b.CSV").write_bytes(csv_bytes(HEADER, row(3), "broken"))
    (folder / "c.csv").write_bytes(csv_bytes(HEADER))
    (folder / "readme.txt").write_text("not data")
    land_files(lake, DAY, str(folder))
    batch = read_raw_partition(lake, DAY, "landed")
    assert len(batch.files) == 3, "every .csv (any case) and nothing else"
    assert batch.records.column("transaction_id").to_pylist() == ["TXN-1", "TXN-2", "TXN-3"]
    files = batch.records.column("source_file").to_pylist()
    assert files[0] == files[1] != files[2], "each record names the file it came from"
    assert batch.malformed.num_rows == 1
    assert batch.rows_received == 4


def test_landing_replaces_the_previous_source_of_the_day(lake: DataLake, tmp_path: Path) -> None:
    folder = tmp_path / "landed"
    folder.mkdir()
    for name in ("a.csv", "b.csv"):
        (folder / name).write_bytes(csv_bytes(HEADER, row(1)))
    land_files(lake, DAY, str(folder))
    single = tmp_path / "single.csv"
    single.write_bytes(csv_bytes(HEADER, row(9)))
    land_files(lake, DAY, str(single))
    assert [Path(p).name for p in raw_files(lake, DAY)] == ["transactions.csv"]
    assert read_raw_partition(lake, DAY, "x").records.column("transaction_id").to_pylist() == ["TXN-9"]


def test_the_content_hash_changes_with_the_content(lake: DataLake, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(csv_bytes(HEADER, row(1)))
    land_files(lake, DAY, str(source))
    first = read_raw_partition(lake, DAY, "x").sha256
    assert read_raw_partition(lake, DAY, "x").sha256 == first
    source.write_bytes(csv_bytes(HEADER, row(2)))
    land_files(lake, DAY, str(source))
    assert read_raw_partition(lake, DAY, "x").sha256 != first


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "nowhere.csv", "does not exist"),
        (lambda p: (p / "empty_folder").mkdir() or p / "empty_folder", "holds no .csv file"),
    ],
)
def test_an_input_that_holds_no_file_fails_clearly(lake: DataLake, tmp_path: Path, make, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        land_files(lake, DAY, str(make(tmp_path)))


def test_a_day_without_raw_data_fails_clearly(lake: DataLake) -> None:
    with pytest.raises(ContractError, match="no raw data for 2024-03-05"):
        read_raw_partition(lake, DAY, "replay")


def test_one_bad_file_in_a_folder_fails_the_day(lake: DataLake, tmp_path: Path) -> None:
    folder = tmp_path / "landed"
    folder.mkdir()
    (folder / "a.csv").write_bytes(csv_bytes(HEADER, row(1)))
    (folder / "b.csv").write_bytes(b"")
    land_files(lake, DAY, str(folder))
    with pytest.raises(ContractError, match="b.csv is empty"):
        read_raw_partition(lake, DAY, "landed")


# --- the partition lock: runs of the same day take turns ------------------------------------------


def _enter_in_a_thread(lake: DataLake, day: date, entered: threading.Event) -> threading.Thread:
    def run() -> None:
        with partition_lock(lake, day):
            entered.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_run_of_the_same_day_waits_for_the_lock_and_another_day_does_not(lake: DataLake) -> None:
    same_day, other_day = threading.Event(), threading.Event()
    with partition_lock(lake, DAY):
        waiting = _enter_in_a_thread(lake, DAY, same_day)
        _enter_in_a_thread(lake, DAY + timedelta(days=1), other_day)
        assert other_day.wait(10), "another day's partition is not locked"
        assert not same_day.wait(0.3), "the same day waits while the lock is held"
    assert same_day.wait(10), "and enters once it is released"
    waiting.join(10)


def test_the_lock_of_a_killed_holder_is_released(lake: DataLake) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from datetime import date; from flows.ingest import partition_lock; "
            "from flows.storage import DataLake\n"
            "with partition_lock(DataLake(sys.argv[1]), date(2024, 3, 5)):\n"
            "    print('held', flush=True); time.sleep(600)",
            lake.root,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        entered = threading.Event()
        _enter_in_a_thread(lake, DAY, entered)
        assert not entered.wait(0.3), "held by the other process"
        holder.send_signal(signal.SIGKILL)
        assert entered.wait(10), "the kernel released the dead holder's lock"
    finally:
        holder.kill()
        holder.wait(10)
