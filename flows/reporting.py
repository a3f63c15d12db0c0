"""What a run reports to people: the quality summary, the row accounting, the Data Docs link.

Plain functions returning text and rows; the flow publishes them as Prefect artifacts.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import quote

from flows.settings import Settings
from flows.transform import CleanResult
from flows.warehouse.load import LoadResult


def _observed(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def quality_markdown(day: date, reports: list[Any], *, status: str) -> str:
    """Passed and failed expectations per suite, with observed values (failures first)."""
    lines = [f"# Data quality of {day}: {status}", ""]
    if not reports:
        lines.append("No suite ran (the day failed before validation).")
    for report in reports:
        outcomes = sorted(report.outcomes, key=lambda o: (o.success, o.severity != "critical"))
        passed = sum(1 for o in outcomes if o.success)
        verdict = "passed" if report.passed else "FAILED"
        lines += [f"## {report.suite} suite: {verdict} ({passed}/{len(outcomes)} expectations)", ""]
        if report.data_docs_url:
            lines += [f"Data Docs: {report.data_docs_url}", ""]
        lines += ["| expectation | severity | result | observed | unexpected |", "| --- | --- | --- | --- | --- |"]
        for o in outcomes:
            result = "pass" if o.success else "**FAIL**"
            unexpected = "" if o.unexpected_count is None else str(o.unexpected_count)
            lines.append(
                f"| `{o.expectation}` | {o.severity} | {result} | {_observed(o.observed_value)} | {unexpected} |"
            )
        lines.append("")
    return "\n".join(lines)


def accounting_rows(clean: CleanResult, loaded: LoadResult | None = None) -> list[dict[str, Any]]:
    """One row per destination of the file's records; received = the sum of the other rows, except
    the "of which" rows (parts of the loaded rows). Without the load's result, all loaded, own day."""
    in_facts = loaded.rows_loaded if loaded else clean.processed.num_rows
    earlier = loaded.rows_loaded_earlier if loaded else 0
    rows: list[dict[str, Any]] = [
        {"rows": "received", "count": clean.rows_received},
        {"rows": "loaded into the file's day", "count": in_facts - earlier},
        {"rows": "loaded into earlier days", "count": earlier},
        {"rows": "  of which corrections (any day)", "count": loaded.rows_corrections if loaded else 0},
        {"rows": "superseded by a later file day", "count": loaded.rows_superseded if loaded else 0},
        {"rows": "duplicates dropped", "count": clean.duplicates_dropped},
    ]
    rows += [{"rows": f"quarantined: {reason}", "count": n} for reason, n in clean.quarantine_reasons.items()]
    return rows


def data_docs_link(settings: Settings, reports: list[Any]) -> str | None:
    """The day's Data Docs page as the dashboard serves it under /data-docs/ (or the file URL)."""
    page: str | None = next((r.data_docs_url for r in reports if r.data_docs_url), None)
    if page is None:
        return None
    marker = "/data_docs/"
    if page.startswith("file://") and marker in page:
        relative = page.split(marker, 1)[1]
        host = "127.0.0.1" if settings.dashboard_host in ("0.0.0.0", "::") else settings.dashboard_host
        return f"http://{host}:{settings.dashboard_port}/data-docs/{quote(relative)}"
    return page
