"""Alerts reach a local HTTP endpoint (JSON POST, or apprise for other schemes); freshness SLA maths."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from flows.orchestration.alerts import (
    Alert,
    check_freshness,
    deadline_of,
    describe_target,
    freshness_window,
    notify_failure,
    notify_quality_failure,
    send_alert,
)
from flows.settings import Settings
from tests.orchestration.conftest import Webhook, free_port


def _settings(url: str | None, **extra: object) -> Settings:
    return Settings(alert_webhook_url=url, **extra)


def test_a_failure_is_posted_as_json(webhook: Webhook) -> None:
    ok = notify_failure(
        _settings(webhook.url),
        flow_name="daily-pipeline",
        flow_run_id="1234",
        flow_run_name="brave-fox",
        flow_run_url="http://127.0.0.1:4200/runs/flow-run/1234",
        parameters={"run_date": date(2024, 1, 15), "input_path": None},
        message="ContractError: landed.csv is not a CSV of the raw contract",
    )
    assert ok
    (payload,) = webhook.received
    assert payload["source"] == "bap" and payload["kind"] == "run_failed" and payload["severity"] == "error"
    assert payload["title"] == "bap: daily-pipeline run brave-fox failed"
    assert payload["text"].endswith("ContractError: landed.csv is not a CSV of the raw contract")
    assert payload["details"]["parameters"] == {"run_date": "2024-01-15", "input_path": None}
    assert payload["details"]["flow_run_url"].endswith("/runs/flow-run/1234")
    datetime.fromisoformat(payload["sent_at"])


def test_a_quality_failure_names_the_day_and_the_expectations(webhook: Webhook) -> None:
    assert notify_quality_failure(
        _settings(webhook.url),
        run_date=date(2024, 1, 15),
        suite="processed",
        failed_expectations=["expect_column_values_to_not_be_null:transaction_id"],
        data_docs_url="file:///docs/index.html",
    )
    (payload,) = webhook.received
    assert payload["kind"] == "quality_failed"
    assert "2024-01-15" in payload["title"] and "transaction_id" in payload["text"]


def test_a_receiver_that_is_briefly_down_gets_the_alert_on_a_retry(webhook: Webhook) -> None:
    webhook.fail_first = 1
    assert send_alert(Alert("run_failed", "t", "m"), _settings(webhook.url))
    assert len(webhook.received) == 1


def test_an_unreachable_target_is_logged_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}/token-abc"
    with caplog.at_level(logging.ERROR, logger="bap.orchestration"):
        assert send_alert(Alert("run_failed", "t", "m"), _settings(url), attempts=1) is False
    assert "not delivered" in caplog.text and "token-abc" not in caplog.text


def test_without_a_target_the_alert_is_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bap.orchestration"):
        assert send_alert(Alert("freshness", "late", "2024-01-15"), _settings(None)) is False
    assert "no BAP_ALERT_WEBHOOK_URL" in caplog.text


def test_other_schemes_go_through_apprise(webhook: Webhook) -> None:
    apprise_url = webhook.url.replace("http://", "json://")
    assert send_alert(Alert("run_failed", "bap: daily failed", "boom"), _settings(apprise_url))
    (payload,) = webhook.received
    assert payload["title"] == "bap: daily failed" and payload["message"] == "boom"


def test_a_target_apprise_does_not_know_is_reported() -> None:
    assert send_alert(Alert("run_failed", "t", "m"), _settings("nosuchservice://x")) is False


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://hooks.slack.com/services/T000/B000/SECRET", "https://hooks.slack.com"),
        ("http://user:pw@127.0.0.1:8080/hook?token=x", "http://127.0.0.1:8080"),
        ("slack://T000/B000/SECRET", "slack://t000"),
    ],
)
def test_targets_are_logged_without_their_secrets(url: str, shown: str) -> None:
    assert describe_target(url) == shown


# --- freshness ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now, sla_hours, lookback, window",
    [
        # day D is due at 00:00 UTC of D+1 plus the SLA
        (datetime(2024, 1, 16, 7, 0, tzinfo=UTC), 6, 7, (date(2024, 1, 9), date(2024, 1, 15))),
        (datetime(2024, 1, 16, 5, 59, tzinfo=UTC), 6, 7, (date(2024, 1, 8), date(2024, 1, 14))),
        (datetime(2024, 1, 16, 6, 0, tzinfo=UTC), 6, 1, (date(2024, 1, 15), date(2024, 1, 15))),
        (datetime(2024, 1, 16, 0, 0, tzinfo=UTC), 0, 2, (date(2024, 1, 14), date(2024, 1, 15))),
        (datetime(2024, 1, 17, 1, 0, tzinfo=UTC), 30, 1, (date(2024, 1, 14), date(2024, 1, 14))),
        (
            datetime(2024, 1, 16, 8, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            6,
            1,
            (date(2024, 1, 14), date(2024, 1, 14)),
        ),
    ],
)
def test_freshness_window(now: datetime, sla_hours: float, lookback: int, window: tuple[date, date]) -> None:
    settings = Settings(freshness_sla_hours=sla_hours, freshness_lookback_days=lookback)
    assert freshness_window(settings, now) == window
    assert deadline_of(window[1], settings) <= now < deadline_of(window[1] + timedelta(days=1), settings)


def test_a_day_not_loaded_by_its_deadline_alerts(engine: sa.Engine, webhook: Webhook) -> None:
    settings = _settings(webhook.url, freshness_sla_hours=6, freshness_lookback_days=3)
    loaded = datetime(2024, 1, 15, 2, 5, tzinfo=UTC)
    with engine.begin() as conn:
        for day, status in [(date(2024, 1, 13), "loaded"), (date(2024, 1, 14), "failed")]:
            conn.exec_driver_sql(
                "INSERT INTO load_audit (run_date, status, loaded_at) VALUES (%(d)s, %(s)s, %(l)s)",
                {"d": day, "s": status, "l": loaded if status == "loaded" else None},
            )
    now = datetime(2024, 1, 16, 6, 30, tzinfo=UTC)  # 2024-01-15 was due at 06:00

    assert check_freshness(engine, settings, now=now, notify=False) == [date(2024, 1, 14), date(2024, 1, 15)]
    assert webhook.received == []

    assert check_freshness(engine, settings, now=now) == [date(2024, 1, 14), date(2024, 1, 15)]
    (payload,) = webhook.received
    assert payload["kind"] == "freshness" and payload["severity"] == "warning"
    assert payload["details"]["late_days"] == ["2024-01-14", "2024-01-15"]
    assert payload["details"]["deadlines"]["2024-01-15"] == "2024-01-16T06:00:00+00:00"


def test_nothing_late_means_no_alert(engine: sa.Engine, webhook: Webhook) -> None:
    settings = _settings(webhook.url, freshness_sla_hours=6, freshness_lookback_days=1)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO load_audit (run_date, status, loaded_at) VALUES ('2024-01-15', 'loaded', now())"
        )
    assert check_freshness(engine, settings, now=datetime(2024, 1, 16, 12, 0, tzinfo=UTC)) == []
    assert webhook.received == []
