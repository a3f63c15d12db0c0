"""The synthetic generator: deterministic bytes, realistic shape, and the defects it is asked for.

Generated days go through the real parser and transform, so "the generator produces X" is
checked the way the pipeline will see it.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from datetime import date, timedelta
from statistics import median

import pytest

from flows.contract import CUSTOMER_COLUMNS, RAW_COLUMNS
from flows.generate import (
    SCENARIOS,
    GeneratorConfig,
    days_between,
    generate_customers,
    generate_transactions,
    to_csv_bytes,
)
from flows.ingest import parse_raw_csv
from flows.reference import CHANNELS, CITIES, SEGMENTS
from flows.transform import CleanResult, clean_transactions

DAY = date(2024, 3, 5)  # a Tuesday


def day_bytes(day: date = DAY, **config: object) -> bytes:
    return to_csv_bytes(generate_transactions(day, GeneratorConfig(**config)))


def cleaned(day: date = DAY, **config: object) -> CleanResult:
    records, malformed, _ = parse_raw_csv(day_bytes(day, **config), source_file="transactions.csv")
    result = clean_transactions(records, malformed, day)
    assert result.reconciles
    return result


# --- determinism ------------------------------------------------------------------------------


def test_same_date_seed_and_settings_give_byte_identical_files() -> None:
    assert day_bytes() == day_bytes()
    assert (
        hashlib.sha256(day_bytes(seed=7, transactions=800)).digest()
        == hashlib.sha256(day_bytes(seed=7, transactions=800)).digest()
    )


@pytest.mark.parametrize(
    "other",
    [
        {"day": DAY + timedelta(days=1)},
        {"seed": 43},
        {"transactions": 501},
        {"customers": 1999},
        {"defect_rate": 0.1},
        {"scenario": "status-drift"},
    ],
    ids=["another date", "another seed", "another volume", "another customer pool", "defects", "scenario"],
)
def test_another_date_seed_or_setting_gives_another_file(other: dict) -> None:
    day = other.pop("day", DAY)
    assert day_bytes(day, **other) != day_bytes()


@pytest.mark.parametrize(
    "config", [{"defect_rate": 0.2}, *({"scenario": s} for s in SCENARIOS)], ids=["defect_rate", *SCENARIOS]
)
def test_defects_and_scenarios_are_deterministic_too(config: dict) -> None:
    assert day_bytes(**config) == day_bytes(**config)


def test_a_day_does_not_depend_on_which_days_were_generated_before() -> None:
    later = day_bytes(DAY + timedelta(days=3))
    for i in range(3):
        day_bytes(DAY + timedelta(days=i))
    assert day_bytes(DAY + timedelta(days=3)) == later


# --- shape of a day ---------------------------------------------------------------------------


def test_a_default_day_is_500_clean_rows_of_the_contract() -> None:
    data = day_bytes()
    assert next(csv.reader([data.split(b"\n", 1)[0].decode()])) == list(RAW_COLUMNS)
    assert b"\r" not in data
    result = cleaned()
    assert result.rows_received == 500
    assert result.processed.num_rows == 500, "a default synthetic day breaks no rule"
    assert result.duplicates_dropped == 0


def test_ids_are_unique_and_timestamps_inside_the_day_in_order() -> None:
    table = generate_transactions(DAY, GeneratorConfig())
    ids = table.column("transaction_id").to_pylist()
    assert len(set(ids)) == len(ids)
    assert ids[0] == "TXN-20240305-0000001"
    ts = table.column("transaction_ts").to_pylist()
    assert ts == sorted(ts)
    assert all(t.startswith("2024-03-05T") and t.endswith("Z") for t in ts)


def test_cities_and_states_come_from_the_reference_list() -> None:
    table = generate_transactions(DAY, GeneratorConfig(transactions=5000))
    pairs = set(zip(table.column("city").to_pylist(), table.column("state").to_pylist(), strict=True))
    assert pairs <= {(c, s) for c, s, _ in CITIES}
    assert len(pairs) > 30, "a realistic spread of cities"


def _days(count: int, start: date = date(2024, 1, 1)) -> list[date]:
    return [start + timedelta(days=i) for i in range(count)]


def test_over_many_days_all_four_channels_and_about_90_percent_success() -> None:
    statuses: Counter[str] = Counter()
    for day in _days(60):
        table = generate_transactions(day, GeneratorConfig())
        assert set(table.column("channel").to_pylist()) == set(CHANNELS), f"every channel on {day}"
        statuses.update(table.column("status").to_pylist())
    share = statuses["SUCCESS"] / sum(statuses.values())
    assert 0.88 <= share <= 0.92
    assert set(statuses) == {"SUCCESS", "FAILED"}


def test_weekends_differ_from_weekdays() -> None:
    weekday = {"upi": [], "card_amount": [], "seconds": []}
    weekend = {"upi": [], "card_amount": [], "seconds": []}
    for day in _days(70):
        table = generate_transactions(day, GeneratorConfig())
        bucket = weekend if day.weekday() >= 5 else weekday
        channels = table.column("channel").to_pylist()
        amounts = [float(a) for a in table.column("amount").to_pylist()]
        bucket["upi"].append(channels.count("UPI") / len(channels))
        bucket["card_amount"].append(median(a for a, c in zip(amounts, channels, strict=True) if c == "Credit Card"))
        bucket["seconds"].append(median(float(s) for s in table.column("processing_time_s").to_pylist()))
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    assert mean(weekend["upi"]) > mean(weekday["upi"]) + 0.05, "more UPI at weekends"
    assert mean(weekend["card_amount"]) > mean(weekday["card_amount"]) * 1.05, "larger card baskets at weekends"
    assert mean(weekend["seconds"]) > mean(weekday["seconds"]), "slower processing at weekends"


def test_amounts_and_processing_times_are_plausible() -> None:
    table = generate_transactions(DAY, GeneratorConfig(transactions=5000))
    amounts = [float(a) for a in table.column("amount").to_pylist()]
    seconds = [float(s) for s in table.column("processing_time_s").to_pylist()]
    assert min(amounts) >= 1.00
    assert 200 < median(amounts) < 5000
    assert all(a.count(".") == 1 and len(a.split(".")[1]) == 2 for a in table.column("amount").to_pylist())
    assert 0 < min(seconds) and max(seconds) <= 120
    assert 0.8 < median(seconds) < 3.0


def test_customers_named_by_transactions_exist_in_the_customer_feed() -> None:
    feed = set(generate_customers(2000, 42).column("customer_id").to_pylist())
    used = set(generate_transactions(DAY, GeneratorConfig()).column("customer_id").to_pylist())
    assert used <= feed


# --- the customer feed ------------------------------------------------------------------------


def test_the_customer_feed_is_deterministic() -> None:
    first = to_csv_bytes(generate_customers(300, 42))
    assert first == to_csv_bytes(generate_customers(300, 42))
    assert first != to_csv_bytes(generate_customers(300, 43))


def test_the_customer_feed_has_one_row_per_customer_with_a_segment() -> None:
    feed = generate_customers(2000, 42)
    assert feed.column_names == list(CUSTOMER_COLUMNS)
    ids = feed.column("customer_id").to_pylist()
    assert ids[0] == "CUST-000001" and ids[-1] == "CUST-002000" and len(set(ids)) == 2000
    segments = Counter(feed.column("segment").to_pylist())
    assert set(segments) == set(SEGMENTS)
    assert segments["Retail"] == max(segments.values())
    assert all(name.strip() for name in feed.column("customer_name").to_pylist())
    signups = feed.column("signup_date").to_pylist()
    assert all(date.fromisoformat(d) < date(2024, 1, 1) for d in signups)


# --- defects on demand ------------------------------------------------------------------------


def test_no_defects_by_default() -> None:
    result = cleaned(transactions=5000)
    assert result.quarantine_reasons == {} and result.duplicates_dropped == 0


def test_defect_rate_injects_the_four_defect_kinds() -> None:
    result = cleaned(transactions=2000, defect_rate=0.2)
    reasons = result.quarantine_reasons
    assert result.duplicates_dropped > 0, "duplicate rows"
    assert reasons.get("missing_transaction_id", 0) > 0, "missing ids"
    assert reasons.get("amount_not_positive", 0) > 0, "non-positive amounts"
    assert reasons.get("unknown_status", 0) > 0, "unknown statuses"
    defective = result.rows_received - result.processed.num_rows
    assert 0.12 * 2000 < defective < 0.30 * 2000, "roughly the configured rate"


def _failed_share(result: CleanResult) -> float:
    statuses = result.processed.column("status").to_pylist()
    return statuses.count("FAILED") / len(statuses)


SCENARIO_DEFECT = {
    "duplicate-storm": lambda r: (
        r.duplicates_dropped > 50 and r.quarantine_reasons.get("duplicate_transaction_id", 0) > 0
    ),
    "null-ids": lambda r: r.quarantine_reasons.get("missing_transaction_id", 0) > 20,
    "negative-amounts": lambda r: r.quarantine_reasons.get("amount_not_positive", 0) > 20,
    "status-drift": lambda r: r.quarantine_reasons.get("unknown_status", 0) > 30,
    "volume-drop": lambda r: r.rows_received == 50 and r.processed.num_rows == 50,
    "failure-rate-surge": lambda r: 0.40 < _failed_share(r) < 0.60 and r.quarantine_reasons == {},
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_named_scenario_produces_the_defect_it_names(scenario: str) -> None:
    assert SCENARIO_DEFECT[scenario](cleaned(scenario=scenario))


def test_every_scenario_has_a_check() -> None:
    assert set(SCENARIO_DEFECT) == set(SCENARIOS)


def test_an_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'chaos'"):
        generate_transactions(DAY, GeneratorConfig(scenario="chaos"))


def test_zero_transactions_is_a_header_only_file() -> None:
    assert list(csv.reader(day_bytes(transactions=0).decode().splitlines())) == [list(RAW_COLUMNS)]


# --- ranges -----------------------------------------------------------------------------------


def test_days_between_includes_both_ends() -> None:
    assert days_between(date(2024, 2, 28), date(2024, 3, 1)) == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]
    assert days_between(DAY, DAY) == [DAY]
    with pytest.raises(ValueError, match="before start"):
        days_between(DAY, DAY - timedelta(days=1))
