"""Deterministic synthetic data: the customer feed and one day of transactions.

Faker only builds the small reference pools (customer names); every per-row draw is a numpy
vector operation, so a 1,000,000-row day takes about a second. The random stream is seeded by
(seed, date), so the same date, seed and settings always give byte-identical files, and days
are independent of each other (a backfill can run them in any order).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from flows.contract import CUSTOMER_COLUMNS, RAW_COLUMNS
from flows.reference import CHANNELS, CITIES, SEGMENTS

_CHANNEL_NAMES: Final = tuple(CHANNELS)
# Channel mix: UPI dominates small everyday payments, more so at weekends.
_CHANNEL_WEIGHTS_WEEKDAY: Final = np.array([0.28, 0.24, 0.36, 0.12])
_CHANNEL_WEIGHTS_WEEKEND: Final = np.array([0.24, 0.20, 0.46, 0.10])
# Median amount per channel (INR) and its spread (lognormal sigma).
_AMOUNT_MEDIAN: Final = np.array([2400.0, 1100.0, 350.0, 5200.0])
_AMOUNT_SIGMA: Final = 0.9
# Hour-of-day profile (UTC hours of Indian daytime activity), normalised below.
_HOUR_WEIGHTS: Final = np.array(
    [4, 3, 3, 4, 6, 8, 9, 9, 8, 8, 9, 10, 11, 12, 12, 11, 9, 7, 5, 3, 2, 2, 2, 3], dtype=float
)
_SEGMENT_WEIGHTS: Final = np.array([0.62, 0.20, 0.08, 0.10])
_SUCCESS_RATE: Final = 0.90

SCENARIOS: Final[tuple[str, ...]] = (
    "duplicate-storm",
    "null-ids",
    "negative-amounts",
    "status-drift",
    "volume-drop",
    "failure-rate-surge",
)


@dataclass(frozen=True)
class GeneratorConfig:
    transactions: int = 500
    customers: int = 2000
    seed: int = 42
    defect_rate: float = 0.0
    scenario: str | None = None


def _rng(seed: int, *salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, *salt])


def customer_ids(count: int) -> pa.Array:
    return pc.binary_join_element_wise(
        "CUST-", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, count + 1)), pa.string()), 6, "0"), ""
    )


FEED_HISTORY_START = date(2024, 1, 1)  # the customer feed as first published; it evolves monthly from here
MONTHLY_SEGMENT_CHANGE_SHARE = 0.02


def generate_customers(count: int, seed: int, as_of: date | None = None) -> pa.Table:
    """One row per customer: the customer feed behind dim_customer (names from Faker, seeded), as it
    stands on `as_of`: from FEED_HISTORY_START on, about 2% of customers change segment on the first
    day of each month. The same count, seed and as-of month give byte-identical feeds."""
    from faker import Faker

    fake = Faker("en_IN")
    fake.seed_instance(seed)
    names = [fake.name() for _ in range(count)]
    rng = _rng(seed, 0xC057)
    codes = rng.choice(len(SEGMENTS), size=count, p=_SEGMENT_WEIGHTS)
    start = np.datetime64("2019-01-01")
    signup_dates = (start + rng.integers(0, 5 * 365, size=count).astype("timedelta64[D]")).astype(str)
    if as_of is not None:
        codes = _evolve_segments(codes, seed, as_of)
    return pa.table(
        {
            "customer_id": customer_ids(count),
            "customer_name": pa.array(names, pa.string()),
            "segment": pa.array(np.array(SEGMENTS)[codes], pa.string()),
            "signup_date": pa.array(signup_dates, pa.string()),
        }
    ).select(list(CUSTOMER_COLUMNS))


def _evolve_segments(codes: np.ndarray, seed: int, as_of: date) -> np.ndarray:
    """Apply each month's segment changes from FEED_HISTORY_START through `as_of`'s month."""
    codes = codes.copy()
    changes = max(1, round(MONTHLY_SEGMENT_CHANGE_SHARE * len(codes))) if len(codes) else 0
    month = FEED_HISTORY_START.year * 12 + FEED_HISTORY_START.month
    last = as_of.year * 12 + as_of.month
    while month < last:
        month += 1
        rng = _rng(seed, 0x5E6, month)
        who = rng.choice(len(codes), size=changes, replace=False)
        shift = rng.integers(1, len(SEGMENTS), size=changes)
        codes[who] = (codes[who] + shift) % len(SEGMENTS)
    return codes


def _ascii_rows(n: int, parts: list[npt.NDArray[np.uint8]]) -> pa.Array:
    """Equal-length ASCII texts, one per row, laid side by side from byte columns (a constant part
    is one row, repeated): the strings' buffers are built at once, with no work per value."""
    width = sum(p.shape[1] for p in parts)
    data = np.empty((n, width), dtype=np.uint8)
    start = 0
    for part in parts:
        data[:, start : start + part.shape[1]] = part
        start += part.shape[1]
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _text(value: str) -> npt.NDArray[np.uint8]:
    return np.frombuffer(value.encode("ascii"), dtype=np.uint8).reshape(1, -1)


def _digits(values: npt.NDArray[np.int64], count: int) -> npt.NDArray[np.uint8]:
    """`values` (0 <= v < 10**count) as `count` zero-padded ASCII digits each."""
    digits = np.empty((len(values), count), dtype=np.uint8)
    rest = values.astype(np.uint32)
    for position in range(count - 1, -1, -1):
        rest, digit = np.divmod(rest, np.uint32(10))
        digits[:, position] = digit + ord("0")
    return digits


def _transaction_ids(run_date: date, n: int) -> pa.Array:
    """TXN-YYYYMMDD-0000001 ...: the day's ids in file order, at least 7 digits."""
    prefix = f"TXN-{run_date:%Y%m%d}-"
    idx = np.arange(1, n + 1, dtype=np.int64)
    if n < 10**7:
        return _ascii_rows(n, [_text(prefix), _digits(idx, 7)])
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(pc.cast(pa.array(idx), pa.string()), 7, "0"), "")


def _timestamps_of_day(run_date: date, seconds: npt.NDArray[np.int64]) -> pa.Array:
    """ISO 8601 UTC texts (YYYY-MM-DDTHH:MM:SSZ) of the given seconds (0 <= s < 86400) of the day."""
    hours, rest = np.divmod(seconds.astype(np.int64), 3600)
    minutes, secs = np.divmod(rest, 60)
    colon = _text(":")
    return _ascii_rows(
        len(seconds),
        [_text(f"{run_date.isoformat()}T"), _digits(hours, 2), colon, _digits(minutes, 2), colon, _digits(secs, 2)]
        + [_text("Z")],
    )


def _format_fixed(units: np.ndarray, decimals: int) -> pa.Array:
    """Integers in 1/10**decimals units -> exact decimal strings ('-12.05'), vectorised."""
    scale = 10**decimals
    sign = np.where(units < 0, "-", "")
    mag = np.abs(units)
    whole = pc.cast(pa.array(mag // scale), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(mag % scale), pa.string()), decimals, "0")
    return pc.binary_join_element_wise(pa.array(sign, pa.string()), whole, ".", frac, "")


def generate_transactions(run_date: date, config: GeneratorConfig) -> pa.Table:
    """One row per synthetic transaction of `run_date`, every column text as in the raw CSV contract."""
    weekend = run_date.weekday() >= 5
    rng = _rng(config.seed, run_date.toordinal())
    n = config.transactions
    if config.scenario == "volume-drop":
        n = max(1, n // 10)

    ids = _transaction_ids(run_date, n)
    hours = rng.choice(24, size=n, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
    seconds = hours * 3600 + rng.integers(0, 3600, size=n)
    seconds.sort()  # files arrive in time order, as an export would
    ts_text = _timestamps_of_day(run_date, seconds)

    # Customers: a few frequent customers, a long tail (Zipf-like weights over the pool).
    pool = config.customers
    cust_weights = 1.0 / np.arange(1, pool + 1) ** 0.6
    cust_index = rng.choice(pool, size=n, p=cust_weights / cust_weights.sum())
    cust = pc.take(customer_ids(pool), pa.array(cust_index))

    city_weights = np.array([c[2] for c in CITIES])
    city_index = rng.choice(len(CITIES), size=n, p=city_weights / city_weights.sum())
    city = pc.take(pa.array([c[0] for c in CITIES]), pa.array(city_index))
    state = pc.take(pa.array([c[1] for c in CITIES]), pa.array(city_index))

    weights = _CHANNEL_WEIGHTS_WEEKEND if weekend else _CHANNEL_WEIGHTS_WEEKDAY
    channel_index = rng.choice(len(_CHANNEL_NAMES), size=n, p=weights)
    channel = pc.take(pa.array(_CHANNEL_NAMES), pa.array(channel_index))

    # Weekend baskets are a little larger; amounts are lognormal per channel, at least 1.00.
    median = _AMOUNT_MEDIAN[channel_index] * (1.15 if weekend else 1.0)
    amount_paise = np.maximum(100, np.round(median * rng.lognormal(0.0, _AMOUNT_SIGMA, size=n) * 100)).astype(np.int64)

    success_rate = 0.5 if config.scenario == "failure-rate-surge" else _SUCCESS_RATE
    success = rng.random(n) < success_rate
    status = pc.if_else(pa.array(success), "SUCCESS", "FAILED")

    # Processing time: lognormal around 1.4 s, failures take longer (timeouts), heavier on weekends.
    proc = rng.lognormal(np.log(1.4 if not weekend else 1.6), 0.6, size=n) * np.where(success, 1.0, 2.2)
    proc_ms = np.minimum(np.round(proc * 1000), 120_000).astype(np.int64)

    table = pa.table(
        {
            "transaction_id": ids,
            "transaction_ts": ts_text,
            "customer_id": cust,
            "city": city,
            "state": state,
            "channel": channel,
            "amount": _format_fixed(amount_paise, 2),
            "status": status,
            "processing_time_s": _format_fixed(proc_ms, 3),
        }
    ).select(list(RAW_COLUMNS))
    return _inject_defects(table, rng, config)


def _replace_at(column: pa.Array | pa.ChunkedArray, mask: np.ndarray, values: pa.Array) -> pa.Array:
    """column with the rows of `mask` replaced by `values` (same length as column), nulls kept."""
    return pc.if_else(pa.array(mask), values, column)


def _inject_defects(table: pa.Table, rng: np.random.Generator, config: GeneratorConfig) -> pa.Table:
    """Defects for exercising the quality path: a random mix at `defect_rate`, or a named scenario."""
    n = table.num_rows
    if n == 0 or (config.defect_rate <= 0 and config.scenario in (None, "volume-drop", "failure-rate-surge")):
        return table
    rate = config.defect_rate
    scenario = config.scenario
    if scenario is not None and scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")

    def pick(share: float) -> npt.NDArray[np.bool_]:
        chosen: npt.NDArray[np.bool_] = rng.random(n) < share
        return chosen

    columns = {name: table.column(name) for name in table.column_names}
    if scenario == "null-ids" or (scenario is None and rate > 0):
        mask = pick(0.10 if scenario else rate / 4)
        columns["transaction_id"] = _replace_at(columns["transaction_id"], mask, pa.nulls(n, pa.string()))
    if scenario == "negative-amounts" or (scenario is None and rate > 0):
        mask = pick(0.10 if scenario else rate / 4)
        negated = pc.binary_join_element_wise("-", columns["amount"], "")
        zero_or_neg = pc.if_else(pa.array(rng.random(n) < 0.3), pa.scalar("0.00"), negated)
        columns["amount"] = _replace_at(columns["amount"], mask, zero_or_neg)
    if scenario == "status-drift" or (scenario is None and rate > 0):
        mask = pick(0.15 if scenario else rate / 4)
        drift = pc.take(pa.array(["COMPLETED", "DECLINED", "pending"]), pa.array(rng.integers(0, 3, size=n)))
        columns["status"] = _replace_at(columns["status"], mask, drift)
    table = pa.table(columns)
    if scenario == "duplicate-storm" or (scenario is None and rate > 0):
        share = 0.30 if scenario else rate / 4
        dup_index = np.flatnonzero(pick(share))
        dups = table.take(pa.array(dup_index))
        pieces = [table, dups]
        if scenario == "duplicate-storm":
            # The same ids again with different content: a corrected re-send.
            changed_index = np.flatnonzero(pick(0.02))
            changed = table.take(pa.array(changed_index))
            flipped = pc.if_else(pc.equal(changed.column("status"), "SUCCESS"), "FAILED", "SUCCESS")
            changed = changed.set_column(changed.schema.get_field_index("status"), "status", flipped)
            pieces.append(changed)
        combined = pa.concat_tables(pieces)
        order = rng.permutation(combined.num_rows)
        table = combined.take(pa.array(order))
    return table


def to_csv_bytes(table: pa.Table) -> bytes:
    """CSV bytes (UTF-8, header, LF line ends, quotes only where needed): the raw file format."""
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return buffer.getvalue()


def days_between(start: date, end: date) -> list[date]:
    """Every day from start to end, both included."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
