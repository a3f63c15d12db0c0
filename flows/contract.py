"""The raw CSV contract and the lake's table layouts: the one definition of each column list.

A landed file that is not this contract at all fails the day; rows that break a field rule are
quarantined by the transform instead (see README "Raw CSV contract"). The processed and
quarantine Parquet schemas below are what the transform writes and the load reads.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

# Column order of files the generator writes; landed files may order columns freely.
RAW_COLUMNS: Final[tuple[str, ...]] = (
    "transaction_id",  # text, required; the last record of a repeated id in a file wins
    "transaction_ts",  # ISO 8601 timestamp; no offset means UTC; on the file's day or up to
    #                    BAP_LATE_ARRIVAL_DAYS days before it (UTC)
    "customer_id",  # text, required; joins the customer feed
    "city",  # text, required
    "state",  # text, required; region is derived from it
    "channel",  # one of reference.CHANNELS
    "amount",  # decimal > 0 with at most 2 decimals, < 10,000,000,000
    "status",  # SUCCESS or FAILED (case and surrounding blanks ignored)
    "processing_time_s",  # seconds >= 0, < 1,000,000
)

CUSTOMER_COLUMNS: Final[tuple[str, ...]] = ("customer_id", "customer_name", "segment", "signup_date")

# Processed Parquet (data/processed/YYYY/MM/DD/cleaned_transactions.parquet): one row per accepted
# transaction of the file; date_key is the UTC day of transaction_ts (flows.dates.date_key).
PROCESSED_SCHEMA: Final[pa.Schema] = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("transaction_ts", pa.timestamp("us", tz="UTC")),
        ("date_key", pa.int32()),
        ("customer_id", pa.string()),
        ("city", pa.string()),
        ("state", pa.string()),
        ("region", pa.string()),
        ("channel", pa.string()),
        ("channel_key", pa.int16()),
        ("amount", pa.decimal128(12, 2)),
        ("status", pa.string()),
        ("processing_time_s", pa.float64()),
        ("processing_delay_bucket", pa.string()),
        ("fee_percent", pa.decimal128(5, 2)),
        ("revenue", pa.decimal128(12, 2)),
        ("source_row", pa.int64()),
    ]
)
PROCESSED_COLUMNS: Final[tuple[str, ...]] = tuple(PROCESSED_SCHEMA.names)

# Quarantine Parquet (data/quarantine/YYYY/MM/DD/rejected.parquet) and the warehouse's
# quarantine_rows: one row per rejected record, every RAW_COLUMNS field as text, where it came
# from and why it was rejected.
QUARANTINE_SCHEMA: Final[pa.Schema] = pa.schema(
    [(c, pa.string()) for c in RAW_COLUMNS]
    + [("source_file", pa.string()), ("source_row", pa.int64()), ("reject_reason", pa.string())]
)
QUARANTINE_COLUMNS: Final[tuple[str, ...]] = tuple(QUARANTINE_SCHEMA.names)

# Longest text the warehouse columns hold (characters, after trimming); longer values are quarantined.
MAX_TEXT_LENGTH: Final[dict[str, int]] = {"transaction_id": 64, "customer_id": 50, "city": 100, "state": 100}

MAX_AMOUNT_EXCLUSIVE: Final[int] = 10_000_000_000
MAX_PROCESSING_TIME_S: Final[float] = 1_000_000.0
