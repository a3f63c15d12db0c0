"""The GX file project under expectations/ and running its checkpoints on an in-memory day.

The project (suites, validation definitions, checkpoints, great_expectations.yml) is committed and
only ever read here. What a run produces goes under the quality folder of the data directory:
validation results in <quality>/validations, Data Docs in <quality>/data_docs. Those locations
reach GX as the context's runtime environment (the ${gx_*} variables of great_expectations.yml),
so nothing is written into the repository.

Loading a context costs ~0.3 s and GX itself ~2 s to import, so one context per quality folder is
kept for the life of the process (a backfill validates hundreds of days with it), together with
its checkpoints and validation definitions. GX contexts are not thread-safe, so every use goes
through one process-wide lock (validation of a day is short; the threads of a backfill queue).

One process-wide adjustment of GX makes it fast enough: `_skip_batch_fingerprint` sets GX's
module constant HASH_THRESHOLD (see its docstring for the figure and the test that guards it).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from flows.quality import offline_docs
from flows.quality.model import SuiteReport, outcome_from_gx
from flows.settings import Settings

log = logging.getLogger("bap.quality")

PROJECT_ROOT = Path(__file__).resolve().parents[2] / "expectations"  # GX project_root_dir; the context is <it>/gx
SITE = "local_site"
SUITES = ("raw", "processed")  # one suite, validation definition and checkpoint of that name each

# When a validation updates Data Docs: "always" (a daily run: page + index, via the checkpoint's
# UpdateDataDocsAction), "on_failure" (a backfill: only a blocked day's page; build the site once at
# the end), "never" (benchmarks, tests).
Docs = Literal["always", "on_failure", "never"]

_lock = threading.RLock()


@dataclass(frozen=True)
class QualityPaths:
    results_dir: Path  # GX validation results (JSON)
    docs_dir: Path  # the Data Docs site; index.html at its root

    @property
    def docs_index(self) -> Path:
        return self.docs_dir / "index.html"


def quality_paths(settings: Settings) -> QualityPaths:
    """<data_dir>/quality when the data dir is local, else <state dir>/quality (GX writes local files)."""
    if settings.data_is_local:
        base = Path(settings.data_dir.removeprefix("file://")).expanduser().resolve() / "quality"
    else:
        base = settings.local_state_dir / "quality"
    return QualityPaths(results_dir=base / "validations", docs_dir=base / "data_docs")


def _skip_batch_fingerprint() -> None:
    """GX hashes every in-memory pandas batch under 1 GB (`pandas_data_fingerprint`, a batch marker
    nothing here reads). The threshold is a module constant read at call time; 0 turns the hash off.
    Kept under the rule for library internals because it buys more than 2x on a `bap bench` figure:
    raw + processed validation of a 1M-row day took 2.7-4.3 s with it and 14.4-19.5 s without
    (same run, 2-core machine; validate_vs_transform 0.27-0.44 vs 1.46-1.98, over its 1.5 budget).
    tests/quality/test_suite_files.py fails when an upgrade renames the constant, stops reading it
    or renames the marker."""
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0


class _Project:
    """A loaded context with its checkpoints and validation definitions, reused across runs."""

    def __init__(self, paths: QualityPaths, index_limit: int) -> None:
        import great_expectations as gx

        import flows.quality.gx_extensions  # noqa: F401 - registers the custom expectations the suites use

        _skip_batch_fingerprint()
        paths.results_dir.mkdir(parents=True, exist_ok=True)
        paths.docs_dir.mkdir(parents=True, exist_ok=True)
        offline_docs.install_assets(paths.docs_dir)
        self.paths = paths
        self.context = gx.get_context(
            mode="file",
            project_root_dir=PROJECT_ROOT,
            runtime_environment={
                "gx_results_dir": str(paths.results_dir),
                "gx_data_docs_dir": str(paths.docs_dir),
                "gx_data_docs_index_limit": index_limit,
            },
        )
        self.checkpoints = {name: self.context.checkpoints.get(name) for name in SUITES}
        self.validation_definitions = {name: self.context.validation_definitions.get(name) for name in SUITES}
        # GX returns results grouped by domain; reports list them in suite (file) order.
        self.positions = {
            name: {e.id: i for i, e in enumerate(vd.suite.expectations)}
            for name, vd in self.validation_definitions.items()
        }

    def run(
        self,
        suite: str,
        frame: pd.DataFrame,
        run_date: date,
        parameters: dict[str, Any],
        *,
        docs: Docs,
        run_name: str | None = None,
    ) -> SuiteReport:
        from great_expectations.core.run_identifier import RunIdentifier

        validated_at = datetime.now(UTC)
        started = time.time()
        run_id = RunIdentifier(run_name=run_name or run_date.isoformat(), run_time=validated_at)
        batch = {"dataframe": frame}
        if docs == "always":
            # The committed checkpoint: validate, store the result, UpdateDataDocsAction (page + index).
            checkpoint_result = self.checkpoints[suite].run(
                batch_parameters=batch, expectation_parameters=parameters, run_id=run_id
            )
            ((result_id, result),) = checkpoint_result.run_results.items()
        else:
            # The same validation definition without the action; the result is still stored.
            result = self.validation_definitions[suite].run(
                batch_parameters=batch, expectation_parameters=parameters, run_id=run_id
            )
            result_id = self._result_identifier(suite, result, run_id)
        position = self.positions[suite]
        ordered = sorted(
            result.results,
            key=lambda r: position.get(r.expectation_config.id if r.expectation_config else None, len(position)),
        )
        outcomes = tuple(outcome_from_gx(suite, r) for r in ordered)
        page = None
        if docs == "always":
            page = self.page_url(result_id)
        elif docs == "on_failure" and any(not o.success and o.severity == "critical" for o in outcomes):
            # A blocked day always gets its page (the failure message points at it); the index is
            # left to build_data_docs, which a backfill runs once at its end.
            self.context.build_data_docs(site_names=[SITE], resource_identifiers=[result_id], build_index=False)
            page = self.page_url(result_id)
        if page is not None:
            self.localise(started)
        return SuiteReport(
            suite=suite, run_date=run_date, outcomes=outcomes, data_docs_url=page, validated_at=validated_at
        )

    @staticmethod
    def _result_identifier(suite: str, result: Any, run_id: Any) -> Any:
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        return ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite),
            run_id=run_id,
            batch_identifier=result.batch_id,
        )

    def page_url(self, result_id: Any) -> str | None:
        urls = self.context.get_docs_sites_urls(resource_identifier=result_id, site_name=SITE, only_if_exists=False)
        return urls[0]["site_url"] if urls else None

    def build_docs(self) -> Path:
        """Rebuild the site: suite pages, the latest validations' pages, the bounded index."""
        started = time.time()
        self.context.build_data_docs(site_names=[SITE])
        self.localise(started)
        return self.paths.docs_index

    def localise(self, since: float) -> None:
        """Point the pages GX just wrote at the site's vendored CSS/JS (see offline_docs)."""
        # 2 s of slack: file mtimes come from a coarser clock than time.time() (rewriting is idempotent).
        external = offline_docs.localise_pages(self.paths.docs_dir, since - 2.0)
        if external:
            log.warning("Data Docs still load assets from outside the site", extra={"urls": external})


@lru_cache(maxsize=8)
def _project(paths: QualityPaths, index_limit: int) -> _Project:
    return _Project(paths, index_limit)


def project_for(settings: Settings) -> _Project:
    """The cached project of these settings' quality folder (loaded on first use)."""
    with _lock:
        return _project(quality_paths(settings), settings.data_docs_index_limit)


def run_suite(
    settings: Settings,
    suite: str,
    frame: pd.DataFrame,
    run_date: date,
    parameters: dict[str, Any],
    *,
    docs: Docs,
    run_name: str | None = None,
) -> SuiteReport:
    """Validate `frame` with the suite; `run_name` names the stored result (default: the day)."""
    if docs not in ("always", "on_failure", "never"):
        raise ValueError(f"docs must be 'always', 'on_failure' or 'never', not {docs!r}")
    with _lock:
        project = project_for(settings)
        report = project.run(suite, frame, run_date, parameters, docs=docs, run_name=run_name)
    log.info(
        "suite validated",
        extra={
            "suite": suite,
            "run_date": run_name or str(run_date),
            "passed": report.passed,
            "rows": len(frame),
            "critical_failures": [o.expectation for o in report.critical_failures],
            "warnings": [o.expectation for o in report.warnings],
        },
    )
    return report


def build_docs(settings: Settings) -> Path:
    with _lock:
        return project_for(settings).build_docs()
