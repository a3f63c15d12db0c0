"""What a validation tells the pipeline: one outcome per expectation, one report per suite.

Plain frozen dataclasses (no GX types), so the flow, the Prefect artifacts, dq_results and the
tests read them without knowing GX. `outcome_from_gx` is the single place that maps a GX result.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

Severity = Literal["critical", "warning"]
SuiteName = Literal["raw", "processed", "warehouse"]

_SAMPLE = 5  # unexpected values kept per failed map expectation


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict on one day's batch."""

    suite: str
    expectation: str  # stable id, e.g. "expect_column_values_to_not_be_null:transaction_id"
    severity: Severity
    success: bool
    observed_value: object  # JSON-serialisable
    unexpected_count: int | None
    element_count: int | None

    @property
    def observed_text(self) -> str:
        """The observed value as JSON text (the dq_results.observed_value column)."""
        return json.dumps(self.observed_value, default=str, sort_keys=True)

    def describe(self) -> str:
        """`expectation` with what was observed, for messages: '... (10.2% of 500 unexpected, e.g. ["-1.00"])'."""
        if self.unexpected_count is not None and self.element_count:
            share = 100.0 * self.unexpected_count / self.element_count
            detail = f"{self.unexpected_count} of {self.element_count} unexpected ({share:.1f}%)"
            sample = self.observed_value.get("sample") if isinstance(self.observed_value, dict) else None
            if sample:
                detail += f", e.g. {json.dumps(sample[:3], default=str)}"
        else:
            detail = f"observed {json.dumps(self.observed_value, default=str)}"
        return f"{self.expectation} ({detail})"


@dataclass(frozen=True)
class SuiteReport:
    """Every expectation of one suite on one day; `passed` means no critical expectation failed."""

    suite: str  # "raw" | "processed" | "warehouse"
    run_date: date
    outcomes: tuple[ExpectationOutcome, ...]
    data_docs_url: str | None
    validated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def critical_failures(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.success and o.severity == "critical")

    @property
    def warnings(self) -> tuple[ExpectationOutcome, ...]:
        """Failed expectations of severity warning (reported, never blocking)."""
        return tuple(o for o in self.outcomes if not o.success and o.severity == "warning")

    @property
    def passed(self) -> bool:
        return not self.critical_failures

    def outcome(self, expectation: str) -> ExpectationOutcome:
        """The outcome of one expectation by its stable id (KeyError if the suite has none)."""
        for o in self.outcomes:
            if o.expectation == expectation:
                return o
        raise KeyError(f"{self.suite} has no expectation {expectation!r}")


def format_failure(reports: list[SuiteReport] | tuple[SuiteReport, ...]) -> str:
    """One message naming every failed critical expectation and the Data Docs page to open."""
    failed = [r for r in reports if not r.passed]
    if not failed:
        return "every quality suite passed"
    day = failed[0].run_date.isoformat()
    parts = []
    for report in failed:
        names = "; ".join(o.describe() for o in report.critical_failures)
        where = f" - see {report.data_docs_url}" if report.data_docs_url else ""
        parts.append(f"{report.suite} suite: {names}{where}")
    return f"quality gate failed for {day}, the day was not loaded: " + " | ".join(parts)


# --- GX result -> outcome --------------------------------------------------------------------------


def expectation_key(type_: str, kwargs: dict[str, Any], meta: dict[str, Any] | None) -> str:
    """Stable id of an expectation: its type, its columns, and meta.variant when a suite holds two
    expectations of the same type on the same columns (e.g. status in its set vs the failure rate)."""
    if "column" in kwargs:
        domain = str(kwargs["column"])
    elif "column_A" in kwargs:
        domain = f"{kwargs['column_A']},{kwargs['column_B']}"
    elif "column_list" in kwargs and not type_.startswith("expect_table_"):  # a table check's list is its argument
        domain = ",".join(kwargs["column_list"])
    else:
        domain = ""
    key = f"{type_}:{domain}" if domain else type_
    variant = (meta or {}).get("variant")
    return f"{key}[{variant}]" if variant else key


def _error_message(exception_info: dict[str, Any] | None) -> str | None:
    """The message of an exception GX caught while evaluating the expectation, if any. GX 1.x puts
    it either at the top level or under the id of each metric that failed (e.g. a missing column)."""
    if not exception_info:
        return None
    entries = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for entry in entries:
        if isinstance(entry, dict) and (entry.get("raised_exception") or entry.get("exception_message")):
            text = (entry.get("exception_message") or entry.get("exception_traceback") or "error").strip()
            return str(text).splitlines()[-1]
    return None


def _distinct(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _json_safe(value: Any) -> Any:
    from great_expectations.util import convert_to_json_serializable

    value = convert_to_json_serializable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def outcome_from_gx(suite: str, result: Any) -> ExpectationOutcome:
    """Map one GX ExpectationValidationResult to an ExpectationOutcome."""
    config = result.expectation_config
    severity = getattr(config.severity, "value", config.severity)
    body = dict(result.result or {})
    error = _error_message(result.exception_info)
    if error is not None:
        observed: Any = {"error": error}
    elif "observed_value" in body:
        observed = body["observed_value"]
    elif "unexpected_count" in body:
        observed = {
            "unexpected_percent": round(float(body.get("unexpected_percent") or 0.0), 4),
            "sample": _distinct(body.get("partial_unexpected_list") or [])[:_SAMPLE],
        }
    else:
        observed = None
    unexpected = body.get("unexpected_count")
    elements = body.get("element_count")
    return ExpectationOutcome(
        suite=suite,
        expectation=expectation_key(config.type, dict(config.kwargs), config.meta),
        severity="critical" if severity == "critical" else "warning",  # GX "info" (unused here) never blocks
        success=bool(result.success),
        observed_value=_json_safe(observed),
        unexpected_count=None if unexpected is None else int(unexpected),
        element_count=None if elements is None else int(elements),
    )
