"""The ingest flow's task runner, chosen when a run starts (NETDOCS_TASK_RUNNER).

``thread`` (default): Prefect's ThreadPoolTaskRunner in the flow's process. ``dask``:
prefect-dask's DaskTaskRunner, on the scheduler at NETDOCS_DASK_ADDRESS or on a local
cluster of NETDOCS_DASK_WORKERS single-threaded worker processes. The choice is made per
run, so the same flow object runs either way from the CLI, a deployment or a test.
Vectors hand over through PostgreSQL (the embedding cache), never through Dask: between
tasks travel a batch's document ids, chunk texts and counters. Each worker process builds
its own connections and embedder on first use.
"""

from __future__ import annotations

from typing import Any

from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from netdocs.config import Settings, get_settings
from netdocs.errors import ConfigError

THREADS = 3  # one per pipeline stage (read+chunk, embed, validate+commit)


def dask_runner(settings: Settings) -> tuple[TaskRunner[Any], int]:
    """A DaskTaskRunner for ``settings`` and its worker count (when known up front)."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as e:  # pragma: no cover - prefect-dask is a dependency
        raise ConfigError(f"NETDOCS_TASK_RUNNER=dask needs prefect-dask: {e}") from e
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address), 0
    kwargs = {
        "n_workers": settings.dask_workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,  # no web server per run
    }
    return DaskTaskRunner(cluster_kwargs=kwargs), settings.dask_workers


class ConfiguredTaskRunner(TaskRunner[PrefectFuture[Any]]):
    """Delegates to the runner the settings name when the flow run starts.

    ``lanes``: how many batches may be embedded at once (1 on threads: the model already
    uses every core; the number of Dask workers otherwise). ``distributed``: tasks run in
    other processes (no in-process callbacks such as a progress bar).
    """

    def __init__(self) -> None:
        super().__init__()
        self.inner: TaskRunner[Any] | None = None
        self.lanes = 1
        self.distributed = False

    def duplicate(self) -> ConfiguredTaskRunner:
        return type(self)()

    def __enter__(self) -> ConfiguredTaskRunner:
        super().__enter__()
        settings = get_settings()
        if settings.task_runner == "dask":
            self.inner, workers = dask_runner(settings)
            self.distributed = True
        else:
            self.inner, workers = ThreadPoolTaskRunner(max_workers=THREADS), 1
        self.inner.__enter__()
        if not workers:  # an existing scheduler: as many lanes as it has workers now
            try:
                info = getattr(self.inner, "client").scheduler_info()  # noqa: B009
            except OSError as e:  # unreachable: say which setting, not a traceback
                raise ConfigError(
                    f"NETDOCS_DASK_ADDRESS={settings.dask_address}: cannot reach the Dask "
                    f"scheduler ({type(e).__name__}: {e})"
                ) from None
            workers = max(1, len(info.get("workers", {})))
        self.lanes = workers
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.inner is not None:
                self.inner.__exit__(*exc)
        finally:
            self.inner = None
            super().__exit__(*exc)

    def submit(
        self,
        task: Any,
        parameters: dict[str, Any],
        wait_for: Any = None,
        dependencies: Any = None,
    ) -> PrefectFuture[Any]:
        if self.inner is None:
            raise RuntimeError("the task runner must be started before submitting work")
        return self.inner.submit(task, parameters, wait_for, dependencies)


def current_runner() -> ConfiguredTaskRunner | None:
    """The running flow's ConfiguredTaskRunner, if it uses one."""
    ctx = FlowRunContext.get()
    runner = ctx.task_runner if ctx else None
    return runner if isinstance(runner, ConfiguredTaskRunner) else None
