"""Executors: run a study plan in this process or on Dask (local cluster, a scheduler, SLURM/PBS).

The Dask path submits one future per unfinished task with its upstream
futures as arguments, so the scheduler orders them, spreads them over workers
and re-runs the tasks of a worker that dies (each task writes its output
atomically and marks it done last, so a killed task leaves nothing
half-written that could be taken for finished).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..core import BrainalignInputError
from ._config import StudyConfig, load_config, parse_config
from ._plan import StudyPlan, Task, plan_study
from ._tasks import run_task

logger = logging.getLogger("brainalign.pipeline")


@dataclass
class StudyRun:
    """What :func:`run_study` did: the plan, the tasks it ran per kind, wall time, and the results."""

    plan: StudyPlan
    ran: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    executor: str = "sequential"

    @property
    def output(self) -> Path:
        return Path(self.plan.context["output"])

    def results(self):
        from ._results import StudyResults

        return StudyResults.load(self.output)


def payload(task: Task, by_key: dict[str, Task]) -> dict:
    """What a worker needs to run ``task``: its description and its inputs' kinds and folders."""
    out = task.as_dict()
    out["inputs"] = [{"kind": by_key[k].kind, "key": k, "folder": by_key[k].folder} for k in task.deps]
    return out


def _count(tasks) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tasks:
        out[t.kind] = out.get(t.kind, 0) + 1
    return out


def run_sequential(plan: StudyPlan, context: dict, on_task_done: Callable | None = None) -> list[Task]:
    from tqdm.auto import tqdm

    from .._logging import progress_disabled

    by_key = plan.by_key()
    todo = [t for t in plan.tasks if t.key not in plan.done]
    for task in tqdm(todo, desc="study tasks", unit="task", disable=progress_disabled()):
        logger.debug("running %s", task.label)
        try:
            run_task(payload(task, by_key), context)
        except BrainalignInputError as err:
            raise BrainalignInputError(f"{task.label}: {err}") from err
        if on_task_done is not None:
            on_task_done(task)
    return todo


#: Dask settings for study workers: tasks are CPU-bound numpy/torch work of 0.1 s to minutes, so the
#: worker's sampling profiler (a GIL-holding thread waking every 10 ms) and glibc trimming the heap after
#: every freed 64 KiB (distributed's default; numpy buffers then fault their pages back in each task) cost
#: more than they give
WORKER_SETTINGS = {
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 256 * 2**20,
    "distributed.worker.daemon": False,
}


@contextlib.contextmanager
def dask_client(config: StudyConfig, *, n_workers: int | None = None, threads_per_worker: int | None = None,
                scheduler: str | None = None):
    """A ``distributed.Client`` for the config's execution section (a cluster it starts is closed after)."""
    import dask
    from distributed import Client, LocalCluster

    ex = config.execution
    scheduler = scheduler or ex.scheduler
    n_workers = n_workers or ex.n_workers
    threads = threads_per_worker or ex.threads_per_worker
    with dask.config.set(WORKER_SETTINGS), \
            dask.config.set({"distributed.scheduler.allowed-failures": ex.allowed_failures}):
        if scheduler:
            with Client(scheduler) as client:
                yield client
            return
        if ex.jobqueue:
            with jobqueue_cluster(ex.jobqueue) as cluster:
                cluster.scale(jobs=int(ex.jobqueue.get("jobs", n_workers)))
                with Client(cluster) as client:
                    yield client
            return
        with LocalCluster(n_workers=n_workers, threads_per_worker=threads, processes=True,
                          memory_limit=ex.memory_limit, dashboard_address=None) as cluster:
            with Client(cluster) as client:
                yield client


def jobqueue_cluster(section: dict):
    """A dask-jobqueue cluster from ``[execution.jobqueue]`` (``kind`` + that cluster class's options).

    Example (SLURM; every key but ``kind`` and ``jobs`` goes to ``SLURMCluster``)::

        [execution]
        executor = "dask"
        [execution.jobqueue]
        kind = "slurm"
        jobs = 20                  # batch jobs, one Dask worker each
        cores = 8
        memory = "32GB"
        queue = "normal"
        walltime = "04:00:00"
        job_extra_directives = ["--gres=gpu:1"]
    """
    try:
        import dask_jobqueue
    except ImportError:
        raise BrainalignInputError("config [execution.jobqueue] needs dask-jobqueue: "
                                   "pip install 'brainalign[cluster]'") from None
    opts = {k: v for k, v in section.items() if k not in ("kind", "jobs")}
    cls = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster",
           "htcondor": "HTCondorCluster"}[str(section["kind"]).lower()]
    try:
        return getattr(dask_jobqueue, cls)(**opts)
    except TypeError as err:
        raise BrainalignInputError(f"config [execution.jobqueue]: {cls} rejects the options: {err}") from None


def run_dask(plan: StudyPlan, context: dict, client, on_task_done: Callable | None = None) -> list[Task]:
    """Submit every unfinished task to ``client``; returns them once all have finished."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    from .._logging import progress_disabled

    by_key = plan.by_key()
    futures = {}
    todo = [t for t in plan.tasks if t.key not in plan.done]
    for task in todo:
        upstream = [futures[k] for k in task.deps if k in futures]
        futures[task.key] = client.submit(run_task, payload(task, by_key), context, *upstream,
                                          key=f"{task.name}-{time.monotonic_ns()}", pure=False)
    label = {f.key: by_key[k] for k, f in futures.items()}
    try:
        with tqdm(total=len(futures), desc="study tasks", unit="task", disable=progress_disabled()) as bar:
            for future in as_completed(list(futures.values())):
                task = label[future.key]
                try:
                    future.result()
                except BrainalignInputError as err:
                    raise BrainalignInputError(f"{task.label}: {err}") from err
                bar.update()
                if on_task_done is not None:
                    on_task_done(task)
    finally:
        client.cancel([f for f in futures.values() if not f.done()])
    return todo


def run_study(config: StudyConfig | str | Path | dict, *, output: str | Path | None = None,
              executor: str | None = None, n_workers: int | None = None, threads_per_worker: int | None = None,
              scheduler: str | None = None, client=None, on_task_done: Callable[[Task], Any] | None = None,
              base_dir: str | Path = ".") -> StudyRun:
    """Run (or resume) a study: every unfinished task of :func:`plan_study`, on the chosen executor.

    Parameters
    ----------
    config : StudyConfig, path or dict
        A config file (``.toml`` / ``.json``), a parsed config, or a mapping.
    output : path, optional
        Overrides ``config.output``.
    executor : {"sequential", "dask"}, optional
        Overrides ``[execution] executor``; passing ``client`` or ``scheduler``
        implies ``"dask"``.
    n_workers, threads_per_worker, scheduler
        Override ``[execution]``: local-cluster size, or the address of a
        running scheduler (``tcp://host:8786``).
    client : distributed.Client, optional
        Use this client (and its cluster) as it is.
    on_task_done : callable, optional
        Called with each finished :class:`Task` (progress hooks, tests).

    Returns
    -------
    StudyRun
        ``ran`` counts the tasks computed by this call, per kind (a study run a
        second time computes none); ``results()`` opens the study folder.

    Examples
    --------
    >>> run = run_study("study.toml", executor="dask", n_workers=4)  # doctest: +SKIP
    >>> run.ran  # doctest: +SKIP
    {'recording': 13, 'features': 2, 'design': 10, 'baseline': 13, 'fit': 130, 'sweep': 26, 'study': 1}
    """
    if isinstance(config, (str, Path)):
        config = load_config(config)
    elif isinstance(config, dict):
        config = parse_config(config, base_dir=base_dir)
    plan = plan_study(config, output=output)
    kind = "dask" if (client is not None or scheduler) else (executor or config.execution.executor)
    if kind not in ("sequential", "dask"):
        raise BrainalignInputError(f"executor must be 'sequential' or 'dask', got {kind!r}.")
    context = dict(plan.context)
    threads = threads_per_worker or (config.execution.threads_per_worker
                                     if "threads_per_worker" in config.execution.model_fields_set else None)
    context["threads"] = threads
    Path(context["output"]).mkdir(parents=True, exist_ok=True)
    skipped = _count(t for t in plan.tasks if t.key in plan.done)
    logger.info("%d of %d study tasks already done", len(plan.done), len(plan.tasks))
    start = time.perf_counter()
    if kind == "sequential":
        ran = run_sequential(plan, context, on_task_done)
    elif client is not None:
        ran = run_dask(plan, context, client, on_task_done)
    else:
        with dask_client(config, n_workers=n_workers, threads_per_worker=threads_per_worker,
                         scheduler=scheduler) as new_client:
            ran = run_dask(plan, context, new_client, on_task_done)
    run = StudyRun(plan.refresh(), _count(ran), skipped, time.perf_counter() - start, kind)
    logger.info("study done in %.1f s: ran %s", run.wall_s, run.ran or "nothing (all tasks were done)")
    return run
