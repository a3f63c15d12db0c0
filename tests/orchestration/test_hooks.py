"""The state hooks: a failed or crashed flow run reaches the webhook; a completed one does not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect import flow

from flows.errors import QualityGateFailed
from flows.orchestration.hooks import alert_on_failure
from flows.settings import get_settings
from tests.orchestration.conftest import Webhook


@flow(name="hooked", on_failure=[alert_on_failure], on_crashed=[alert_on_failure])
def hooked(run_date: str = "2024-01-15", fail: str = "") -> str:
    if fail == "quality":
        raise QualityGateFailed("2024-01-15: expect_column_values_to_not_be_null:transaction_id failed")
    if fail == "error":
        raise RuntimeError("the warehouse went away")
    return "ok"


@pytest.fixture
def alerting(webhook: Webhook, monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    monkeypatch.setenv("BAP_ALERT_WEBHOOK_URL", webhook.url)
    get_settings.cache_clear()
    yield webhook
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "fail, kind, text",
    [
        ("error", "run_failed", "the warehouse went away"),
        ("quality", "quality_failed", "expect_column_values_to_not_be_null:transaction_id"),
    ],
)
def test_a_failed_run_alerts_with_its_reason(
    prefect_api: None, alerting: Webhook, fail: str, kind: str, text: str
) -> None:
    state = hooked(fail=fail, return_state=True)
    assert state.is_failed()
    (payload,) = alerting.wait_for(1)
    assert payload["kind"] == kind and text in payload["text"]
    details = payload["details"]
    assert details["flow_name"] == "hooked" and details["state"] == "Failed"
    assert details["parameters"] == {"run_date": "2024-01-15", "fail": fail}
    assert details["flow_run_url"].endswith(f"/runs/flow-run/{details['flow_run_id']}")


def test_a_completed_run_does_not_alert(prefect_api: None, alerting: Webhook) -> None:
    assert hooked() == "ok"
    assert alerting.received == []


def test_a_broken_alert_target_does_not_change_the_runs_outcome(
    prefect_api: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAP_ALERT_WEBHOOK_URL", "nosuchservice://x")
    get_settings.cache_clear()
    try:
        state = hooked(fail="error", return_state=True)
    finally:
        get_settings.cache_clear()
    assert state.is_failed() and "the warehouse went away" in state.message
