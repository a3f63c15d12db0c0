"""`bap demo`'s backfill: the days a real feed would send, so the quality story shows.

Most days carry a low rate of random defects (the generator's `defect_rate`: null ids, bad
amounts, drifted statuses and duplicates; the transform quarantines them with a reason, far below
the gate). One day every few weeks carries a named scenario of flows/generate.py, cycling through
SCENARIO_CYCLE: two that warn and one that blocks. The blocked day is then fixed the way an
operator would: the source re-sends a clean file and the day is run again (`bap run --date D
--regenerate`). The demo ends with every day loaded and says where to look. It generates its synthetic days
again (same seed and settings: the same bytes, so an unchanged day's load is skipped).

Everything runs through the Prefect flows (a backfill run, one daily run per scenario day and one
per fix), so the Prefect UI shows the blocked run as Failed and its re-run as Completed. The
settings reach the flows through the environment, as for any run: the defect rate is set there for
the demo's runs (unless BAP_DEFECT_RATE is set) and to 0 for the clean re-send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from flows.errors import BapError
from flows.generate import days_between
from flows.settings import Settings, get_settings, overridden

DEMO_DEFECT_RATE: Final = 0.02  # ~1.5 % of a day's rows quarantined, under the 5 % gate
BLOCKING_SCENARIO: Final = "status-drift"  # an upstream system renames statuses: the raw suite blocks the day
SCENARIO_CYCLE: Final[tuple[str, ...]] = ("failure-rate-surge", "duplicate-storm", BLOCKING_SCENARIO)
SCENARIO_EVERY_DAYS: Final = 21


@dataclass(frozen=True)
class ScenarioDay:
    day: date
    scenario: str
    result: str  # what the run said: "loaded, 1 warning: ..." or "blocked: ..."


@dataclass(frozen=True)
class DemoReport:
    first: date
    last: date
    loaded: int
    defect_rate: float
    scenario_days: tuple[ScenarioDay, ...]
    fixed: tuple[date, ...]  # blocked, then re-run clean and loaded

    def where_to_look(self, dashboard_url: str) -> str:
        """What the demo did and where to see it, for the terminal."""
        lines = [
            f"demo: {self.loaded} days {self.first}..{self.last} loaded; every day carries random defects "
            f"at rate {self.defect_rate:g} (quarantined with a reason), and one day every few weeks a scenario:"
        ]
        for s in self.scenario_days:
            fixed = "; the source re-sent it clean, re-run: loaded" if s.day in self.fixed else ""
            lines.append(f"  {s.day}  {s.scenario:<19} {s.result}{fixed}")
        others = [d for d in self.fixed if d not in {s.day for s in self.scenario_days}]
        if others:
            lines.append(f"  also blocked by chance and re-run clean: {', '.join(map(str, others))}")
        lines += [
            f"where to look: {dashboard_url} -> Quality tab (pass rate per suite dips on the scenario days; failed",
            "  expectations; quarantined rows by reason, e.g. of "
            f"{self.scenario_days[0].day if self.scenario_days else self.last});",
            f"  {dashboard_url}/data-docs/ (the blocked run in red, its clean re-run in green);",
            "  the Prefect UI (the blocked daily-pipeline run Failed with the gate's message, its re-run Completed).",
        ]
        return "\n".join(lines)


def plan_scenarios(days: list[date], every: int = SCENARIO_EVERY_DAYS) -> dict[date, str]:
    """One scenario every `every` days (fewer days: every third of them), the first half a period
    in, cycling through SCENARIO_CYCLE, so a range of 3 or more days sees the blocking one."""
    if not days:
        return {}
    spacing = max(2, min(every, len(days) // len(SCENARIO_CYCLE)))
    picked = days[spacing // 2 :: spacing]
    return {day: SCENARIO_CYCLE[i % len(SCENARIO_CYCLE)] for i, day in enumerate(picked)}


def _describe(state: Any) -> str:
    """One line of a daily run's final state: loaded (with its warnings) or why it was not."""
    if state.is_completed():
        warnings = state.result()["quality_warnings"]
        return f"loaded, {len(warnings)} warning(s)" + (f": {warnings[0].split(' (')[0]}" if warnings else "")
    message = str(state.result(raise_on_failure=False)).split(" - see ")[0]
    return f"blocked: {message.split('was not loaded: ')[-1]}"


def not_loaded(settings: Settings, first: date, last: date) -> list[date]:
    """Days of the range whose latest load_audit status is not 'loaded' (or that have none)."""
    from flows import steps

    loaded = {row["run_date"] for row in steps.status_rows(settings, first, last) if row["status"] == "loaded"}
    return [day for day in days_between(first, last) if day not in loaded]


def run_demo(first: date, last: date, *, rate: float = DEMO_DEFECT_RATE, concurrency: int | None = None) -> DemoReport:
    """Backfill first..last with realistic defects (see the module docstring), fix what was
    blocked by re-running it clean, and check that every day ends loaded (BapError otherwise)."""
    from flows.pipeline import backfill_pipeline, daily_pipeline

    days = days_between(first, last)
    scenarios = plan_scenarios(days)
    explicit = "defect_rate" in get_settings().model_fields_set  # BAP_DEFECT_RATE given: it wins
    with overridden(**({} if explicit else {"defect_rate": rate})) as settings:
        plain = [day for day in days if day not in scenarios]
        if plain:  # a failed day is not fatal here: it is re-run clean below
            backfill_pipeline(
                start=first, end=last, days=plain, concurrency=concurrency, regenerate=True, return_state=True
            )
        results = [
            ScenarioDay(day, name, _describe(daily_pipeline(run_date=day, scenario=name, return_state=True)))
            for day, name in scenarios.items()
        ]
    blocked = not_loaded(settings, first, last)
    with overridden(defect_rate=0.0):  # the corrected re-send
        for day in blocked:
            daily_pipeline(run_date=day, regenerate=True, return_state=True)
    missing = not_loaded(settings, first, last)
    if missing:
        raise BapError(f"demo: {len(missing)} day(s) still not loaded: {', '.join(map(str, missing[:5]))}")
    return DemoReport(
        first=first,
        last=last,
        loaded=len(days),
        defect_rate=settings.defect_rate,
        scenario_days=tuple(results),
        fixed=tuple(blocked),
    )
