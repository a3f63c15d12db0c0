"""The task runner a backfill spreads its days with, chosen from settings at run time.

- `threads` (default): Prefect's ThreadPoolTaskRunner, `backfill_concurrency` days at once. A day
  is I/O-bound glue around pyarrow and PostgreSQL COPY, so threads on one machine go far.
- `dask`: prefect-dask's DaskTaskRunner. With BAP_DASK_ADDRESS it sends days to that scheduler
  (workers on other machines need the same BAP_* environment and a shared data dir, an fsspec
  URL such as s3://...); without it, a local cluster of `dask_workers` processes, one thread each.

Two ways to use it, both read settings only when a flow runs (never at import):
- inside a flow, `with make_task_runner(settings, concurrency) as runner: runner.submit(task, params)`
  (the concurrency of this run can be passed in);
- `@flow(task_runner=ConfiguredTaskRunner())`: a deployment picks threads or Dask from the
  worker's environment when the run starts.
"""

from __future__ import annotations

from typing import Any

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.settings import Settings, get_settings


def make_task_runner(settings: Settings, concurrency: int | None = None) -> TaskRunner[Any]:
    """A fresh (not yet started) task runner as the settings say; `concurrency` overrides backfill_concurrency.

    For a local Dask cluster the concurrency also caps the number of worker processes; a remote
    scheduler's parallelism is its cluster's (bound it there, or with a Prefect concurrency limit).
    """
    limit = concurrency or settings.backfill_concurrency
    if settings.task_runner == "dask":
        from prefect_dask.task_runners import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={
                "n_workers": min(settings.dask_workers, limit),
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": ":0",  # any free port: two backfills must not collide on :8787
            },
        )
    return ThreadPoolTaskRunner(max_workers=limit)


class ConfiguredTaskRunner(TaskRunner[Any]):
    """A task runner for `@flow(task_runner=...)` that becomes make_task_runner(get_settings()) when a run starts."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Prefect leaves TaskRunner.__init__ unannotated
        self._settings = settings
        self._inner: TaskRunner[Any] | None = None

    @property
    def name(self) -> str:
        return "configured"

    def duplicate(self) -> ConfiguredTaskRunner:
        return type(self)(self._settings)

    def __enter__(self) -> ConfiguredTaskRunner:
        super().__enter__()
        self._inner = make_task_runner(self._settings or get_settings())
        self._inner.__enter__()
        self.logger.debug("running tasks with %s", self._inner.name)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        inner, self._inner = self._inner, None
        try:
            if inner is not None:
                inner.__exit__(*exc_info)
        finally:
            super().__exit__(*exc_info)

    @property
    def inner(self) -> TaskRunner[Any]:
        if self._inner is None:
            raise RuntimeError("ConfiguredTaskRunner is not started; use it as a flow's task_runner or in a with block")
        return self._inner

    def submit(self, task: Any, parameters: dict[str, Any], wait_for: Any = None, dependencies: Any = None) -> Any:
        return self.inner.submit(task, parameters, wait_for, dependencies)

    def map(self, task: Any, parameters: dict[str, Any], wait_for: Any = None) -> Any:
        return self.inner.map(task, parameters, wait_for)

    def cancel_all(self) -> None:
        if self._inner is not None and hasattr(self._inner, "cancel_all"):
            self._inner.cancel_all()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfiguredTaskRunner) and other._settings == self._settings

    __hash__ = None  # type: ignore[assignment]
