"""Alerts: a failed run, a critical data-quality failure, or a day not loaded by its deadline.

One target, BAP_ALERT_WEBHOOK_URL, two ways to reach it:
- an http(s) URL gets a JSON POST (below) - any webhook receiver, and Slack/Mattermost-style
  incoming webhooks read its `text` field. Plain httpx: the payload is a documented contract
  that a receiver can parse, and it is testable against a local endpoint;
- any other scheme goes through apprise, which Prefect already ships: slack://, msteams://,
  discord://, mailto://, ntfy://, ... (apprise does not accept plain https:// URLs, hence both).
Unset = the alert is only logged. Sending never raises: an alert must not fail the pipeline.

JSON payload:
    {"source": "bap", "kind": "run_failed" | "quality_failed" | "freshness",
     "severity": "error" | "warning", "title": "...", "text": "<title>: <details>",
     "sent_at": "2024-01-16T07:00:00+00:00", "details": {...}}
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from flows.orchestration.prefect_api import jsonable
from flows.settings import Settings

log = logging.getLogger("bap.orchestration")

AlertKind = Literal["run_failed", "quality_failed", "freshness"]


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    title: str
    message: str
    severity: Literal["error", "warning"] = "error"
    details: dict[str, Any] = field(default_factory=dict)

    def payload(self, now: datetime | None = None) -> dict[str, Any]:
        return {
            "source": "bap",
            "kind": self.kind,
            "severity": self.severity,
            "title": self.title,
            "text": f"{self.title}: {self.message}",
            "sent_at": (now or datetime.now(UTC)).isoformat(),
            "details": self.details,
        }


def describe_target(url: str) -> str:
    """The target without path, query or credentials (webhook URLs often embed a token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def send_alert(alert: Alert, settings: Settings, *, attempts: int = 3, timeout_s: float = 5.0) -> bool:
    """Deliver `alert` to the configured target; True when it was accepted. Never raises."""
    secret = settings.alert_webhook_url
    if secret is None:
        log.warning("alert (no BAP_ALERT_WEBHOOK_URL set): %s: %s", alert.title, alert.message)
        return False
    url = secret.get_secret_value()
    try:
        if urlsplit(url).scheme in ("http", "https"):
            ok = _post_json(url, alert.payload(), attempts=attempts, timeout_s=timeout_s)
        else:
            ok = _apprise(url, alert)
    except Exception:  # an alert must never break the run that raised it
        log.exception("sending the alert to %s failed", describe_target(url))
        return False
    if ok:
        log.info("alert sent to %s: %s", describe_target(url), alert.title)
    else:
        log.error("alert not delivered to %s: %s: %s", describe_target(url), alert.title, alert.message)
    return ok


def _post_json(url: str, payload: dict[str, Any], *, attempts: int, timeout_s: float) -> bool:
    for attempt in range(1, attempts + 1):
        try:
            response = httpx.post(url, json=payload, timeout=timeout_s)
            if response.status_code < 500:
                return response.is_success
        except httpx.TransportError:
            pass
        if attempt < attempts:
            time.sleep(attempt)  # 1 s, 2 s: a receiver restarting gets a second chance
    return False


def _apprise(url: str, alert: Alert) -> bool:
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        log.error("BAP_ALERT_WEBHOOK_URL is not a URL apprise understands (%s)", describe_target(url))
        return False
    notify_type = apprise.NotifyType.FAILURE if alert.severity == "error" else apprise.NotifyType.WARNING
    return bool(notifier.notify(title=alert.title, body=alert.message, notify_type=notify_type))


# --- the three alerts -------------------------------------------------------------------------


def notify_failure(
    settings: Settings,
    *,
    flow_name: str,
    message: str,
    flow_run_id: str | None = None,
    flow_run_name: str | None = None,
    flow_run_url: str | None = None,
    parameters: dict[str, Any] | None = None,
    state: str = "Failed",
    kind: AlertKind = "run_failed",
) -> bool:
    """Alert that a flow run ended Failed or Crashed (kind 'quality_failed' when a quality gate stopped it)."""
    what = f"{flow_name} run {flow_run_name}" if flow_run_name else f"{flow_name} run"
    reason = " (critical data-quality failure)" if kind == "quality_failed" else ""
    alert = Alert(
        kind=kind,
        title=f"bap: {what} {state.lower()}{reason}",
        message=message or "(no message)",
        details={
            "flow_name": flow_name,
            "flow_run_id": flow_run_id,
            "flow_run_name": flow_run_name,
            "flow_run_url": flow_run_url,
            "state": state,
            "parameters": jsonable(parameters or {}),
        },
    )
    return send_alert(alert, settings)


def notify_quality_failure(
    settings: Settings,
    *,
    run_date: date,
    suite: str,
    failed_expectations: list[str],
    data_docs_url: str | None = None,
    flow_run_id: str | None = None,
) -> bool:
    """Alert that a critical expectation failed for a day (the day was blocked, not loaded)."""
    shown = ", ".join(failed_expectations[:5]) + (" ..." if len(failed_expectations) > 5 else "")
    alert = Alert(
        kind="quality_failed",
        title=f"bap: critical data-quality failure on {run_date}",
        message=f"suite {suite}: {shown}; the day was not loaded",
        details={
            "run_date": run_date.isoformat(),
            "suite": suite,
            "failed_expectations": failed_expectations,
            "data_docs_url": data_docs_url,
            "flow_run_id": flow_run_id,
        },
    )
    return send_alert(alert, settings)


def freshness_window(settings: Settings, now: datetime) -> tuple[date, date]:
    """The days whose deadline has passed, within the lookback: day D is due at the end of D (UTC) + the SLA."""
    last_due = (now.astimezone(UTC) - timedelta(hours=settings.freshness_sla_hours)).date() - timedelta(days=1)
    return last_due - timedelta(days=settings.freshness_lookback_days - 1), last_due


def deadline_of(day: date, settings: Settings) -> datetime:
    return datetime.combine(day + timedelta(days=1), dtime(0), UTC) + timedelta(hours=settings.freshness_sla_hours)


def check_freshness(
    engine: sa.Engine, settings: Settings, *, now: datetime | None = None, notify: bool = True
) -> list[date]:
    """Days past their deadline and not loaded (within the lookback); one alert lists them."""
    from flows.orchestration.gaps import find_gaps

    now = now or datetime.now(UTC)
    start, end = freshness_window(settings, now)
    late = find_gaps(engine, start, end)
    if late and notify:
        listed = ", ".join(d.isoformat() for d in late)
        send_alert(
            Alert(
                kind="freshness",
                title=f"bap: {len(late)} day(s) not loaded by the deadline",
                message=f"{listed} (due {settings.freshness_sla_hours:g} h after the end of the day, UTC)",
                severity="warning",
                details={
                    "late_days": [d.isoformat() for d in late],
                    "deadlines": {d.isoformat(): deadline_of(d, settings).isoformat() for d in late},
                    "checked_at": now.isoformat(),
                    "sla_hours": settings.freshness_sla_hours,
                },
            ),
            settings,
        )
    return late
