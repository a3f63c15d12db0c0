"""Prefect state hooks that turn a failed or crashed flow run into an alert.

Attach them to a flow:

    @flow(on_failure=[alert_on_failure], on_crashed=[alert_on_failure])
    def daily_pipeline(...): ...

A hook runs in the flow-run process after the final state is set; it reads the settings then
(never at import) and never raises. A run killed outright (SIGKILL, lost machine) runs no hook;
the freshness check catches the day it did not load.
"""

from __future__ import annotations

import logging
from typing import Any

from flows.errors import QualityGateFailed
from flows.orchestration.alerts import notify_failure
from flows.settings import get_settings

log = logging.getLogger("bap.orchestration")


def alert_on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """on_failure / on_crashed hook: notify the alert target with the run, its parameters and why it failed."""
    try:
        exc = _exception_of(state)
        notify_failure(
            get_settings(),
            flow_name=getattr(flow, "name", str(flow)),
            flow_run_id=str(flow_run.id),
            flow_run_name=getattr(flow_run, "name", None),
            flow_run_url=_ui_url(flow_run),
            parameters=dict(getattr(flow_run, "parameters", None) or {}),
            message=(str(exc) if exc is not None else None) or state.message or "",
            state=getattr(state, "name", None) or "Failed",
            kind="quality_failed" if isinstance(exc, QualityGateFailed) else "run_failed",
        )
    except Exception:  # a hook must never turn a failure report into a second failure
        log.exception("the failure alert hook failed")


def _exception_of(state: Any) -> BaseException | None:
    """The exception a failed state holds, when Prefect kept it in memory (it does for the run's own process)."""
    try:
        result = state.result(raise_on_failure=False)
    except Exception:
        return None
    return result if isinstance(result, BaseException) else None


def _ui_url(flow_run: Any) -> str | None:
    try:
        from prefect.utilities.urls import url_for

        return url_for(flow_run)
    except Exception:
        return None
