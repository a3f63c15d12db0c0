"""The raw CSV contract: what a day's transactions file must look like.

A landed file that is not this contract at all fails the day; rows that break a field rule are
quarantined by the transform instead (see README "Raw CSV contract").
"""

from __future__ import annotations

from typing import Final

# Column order of files the generator writes; landed files may order columns freely.
RAW_COLUMNS: Final[tuple[str, ...]] = (
    "transaction_id",  # text, required, unique within the day
    "transaction_ts",  # ISO 8601 timestamp; no offset means UTC; must fall inside the day (UTC)
    "customer_id",  # text, required; joins the customer feed
    "city",  # text, required
    "state",  # text, required; region is derived from it
    "channel",  # one of reference.CHANNELS
    "amount",  # decimal > 0 with at most 2 decimals, < 10,000,000,000
    "status",  # SUCCESS or FAILED (case and surrounding blanks ignored)
    "processing_time_s",  # seconds >= 0, < 1,000,000
)

CUSTOMER_COLUMNS: Final[tuple[str, ...]] = ("customer_id", "customer_name", "segment", "signup_date")

# Processed Parquet columns (data/processed/YYYY/MM/DD/cleaned_transactions.parquet), in order.
PROCESSED_COLUMNS: Final[tuple[str, ...]] = (
    "transaction_id",
    "transaction_ts",
    "date_key",
    "customer_id",
    "city",
    "state",
    "region",
    "channel",
    "channel_key",
    "amount",
    "status",
    "processing_time_s",
    "processing_delay_bucket",
    "fee_percent",
    "revenue",
    "source_row",
)

# Quarantine Parquet: every RAW_COLUMNS field as text, plus these two.
QUARANTINE_EXTRA_COLUMNS: Final[tuple[str, ...]] = ("source_file", "source_row", "reject_reason")

# Longest text the warehouse columns hold (characters, after trimming); longer values are quarantined.
MAX_TEXT_LENGTH: Final[dict[str, int]] = {"transaction_id": 64, "customer_id": 50, "city": 100, "state": 100}

MAX_AMOUNT_EXCLUSIVE: Final[int] = 10_000_000_000
MAX_PROCESSING_TIME_S: Final[float] = 1_000_000.0
