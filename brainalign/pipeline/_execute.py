"""Executors: run a study plan in this process or on Dask (local cluster, a scheduler, SLURM/PBS).

The Dask path submits one future per unfinished task with its upstream
futures as arguments, so the scheduler orders them, spreads them over workers
and re-runs the tasks of a worker that dies (each task writes its output
atomically and marks it done last, so a killed task leaves nothing
half-written that could be taken for finished).

On a batch system (``[execution.jobqueue]``, dask-jobqueue) the cluster is
sized adaptively between ``jobs`` and ``jobs`` so a job lost to its walltime,
``scancel``, pre-emption or a node failure is replaced; workers retire
(staggered) before the walltime so their work migrates first; a run with no
worker for ``no_workers_timeout`` ends with one line and exit code 2, as does a
first job submission the scheduler refuses.  Ctrl-C cancels the jobs and ends
with exit code 130; finished tasks are kept, so a rerun resumes.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..core import BrainalignInputError
from ._config import StudyConfig, load_config, parse_config
from ._jobqueue import (JOBQUEUE_OWN_KEYS, _cluster_class, import_dask_jobqueue, parse_duration,
                        validate_jobqueue_options)
from ._plan import StudyPlan, Task, plan_study
from ._tasks import run_task
from ._work import study_lock

logger = logging.getLogger("brainalign.pipeline")


class ExecutorError(BrainalignInputError):
    """The executor cannot go on (no workers, a refused job submission, a task that kills its workers).

    Always one line; ``brainalign run`` prints it and exits with code 2.
    """


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C during a study: jobs cancelled, finished tasks kept (``brainalign run`` exits with 130)."""


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
#: more than they give.  Setting any malloc threshold also freezes glibc's mmap threshold at 128 KiB (it
#: otherwise grows to the size of the buffers a process frees), so that every larger numpy temporary would
#: be a fresh mmap whose pages fault in again: the mmap threshold is set to glibc's maximum (32 MiB), as a
#: plain process ends up with (benchmarks/bench_study.py measures each setting).
WORKER_SETTINGS = {
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 256 * 2**20,
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 32 * 2**20,
    "distributed.worker.daemon": False,
}

def _lifetime_args(kind: str, options: dict) -> list[str]:
    """``--lifetime`` / ``--lifetime-stagger`` worker arguments: retire before the walltime kills the job."""
    import dask

    walltime = options.get("walltime") or dask.config.get(f"jobqueue.{kind}.walltime", None)
    if "lifetime" in options:
        lifetime = parse_duration(options["lifetime"])
    elif walltime:
        lifetime = 0.9 * parse_duration(walltime)
    else:
        return []
    stagger = (parse_duration(options["lifetime_stagger"]) if "lifetime_stagger" in options
               else 0.05 * (parse_duration(walltime) if walltime else lifetime))
    stagger = min(stagger, lifetime / 4)
    return ["--lifetime", f"{int(lifetime)}s", "--lifetime-stagger", f"{int(stagger)}s"]


def worker_environment(threads: int | None = None) -> dict[str, str]:
    """Environment every worker process starts with (the job-script prologue of batch workers).

    The same as :data:`WORKER_SETTINGS` for local workers, plus BLAS / OpenMP /
    torch thread counts when ``threads`` is given: a worker started by a batch
    system is a fresh Python that sees none of this process's Dask config.
    """
    env = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False", "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    prefix = "distributed.nanny.pre-spawn-environ."
    env.update({k[len(prefix):]: str(v) for k, v in WORKER_SETTINGS.items() if k.startswith(prefix)})
    if threads:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
            env[name] = str(int(threads))
    return env


def jobqueue_cluster(section: dict, *, threads: int | None = None):
    """A dask-jobqueue cluster from ``[execution.jobqueue]`` (``kind`` + that cluster class's options).

    Example (SLURM; every key but ``kind``, ``jobs``, ``lifetime`` and
    ``lifetime_stagger`` goes to ``SLURMCluster``)::

        [execution]
        executor = "dask"
        no_workers_timeout = "30 min"
        [execution.jobqueue]
        kind = "slurm"
        jobs = 20                  # batch jobs, one Dask worker each; lost ones are replaced
        cores = 8
        memory = "32GB"
        queue = "normal"
        walltime = "04:00:00"      # workers retire (staggered) from 90 % of it on
        job_extra_directives = ["--gres=gpu:1"]

    Workers start with :func:`worker_environment` (profiler off, heap
    trimming, thread counts) in their job script.
    """
    import_dask_jobqueue()
    problems = validate_jobqueue_options(section.get("kind"), section)
    if problems:
        raise ExecutorError("; ".join(problems))
    kind = str(section["kind"]).lower()
    opts = {k: v for k, v in section.items() if k not in JOBQUEUE_OWN_KEYS}
    extra = list(opts.pop("worker_extra_args", None) or [])
    if not any(a.startswith("--lifetime") for a in extra):
        extra += _lifetime_args(kind, section)
    prologue = list(opts.pop("job_script_prologue", None) or [])
    prologue = [f"export {k}={v}" for k, v in worker_environment(threads).items()] + prologue
    cls = _cluster_class(kind)
    try:
        return cls(worker_extra_args=extra, job_script_prologue=prologue, **opts)
    except (TypeError, ValueError, KeyError, OSError, RuntimeError) as err:
        raise ExecutorError(f"config [execution.jobqueue]: {cls.__name__} rejects the options: "
                            f"{_one_line(err)}") from None


def _submission_error(err: BaseException) -> str:
    """The scheduler's stderr from a failed job submission, on one line."""
    text = str(err)
    if "stderr:" in text:
        text = text.split("stderr:", 1)[1]
    return _one_line(text) or type(err).__name__


def start_jobs(cluster, jobs: int) -> None:
    """Submit the first job and wait for the scheduler to accept it, then keep ``jobs`` jobs (adaptive).

    A refused submission (wrong partition, account, memory) raises
    :class:`ExecutorError` with the scheduler's message instead of a traceback
    repeated by the cluster's background loop.
    """
    # start the first job here, awaited, so that its failure reaches this thread (cluster.scale would start
    # it in the event loop, whose error handler prints the traceback again at every retry)
    cluster.worker_spec.update(cluster.new_worker_spec())
    try:
        cluster.sync(cluster._correct_state_internal)
    except Exception as err:  # the submit command's failure, whatever the batch system
        from distributed.core import Status

        # the failed job never ran: forget it, or closing the cluster trips over a job in state "created"
        failed = [name for name, job in cluster.workers.items() if getattr(job, "status", None) == Status.created]
        for name in failed:
            cluster.workers[name].status = Status.failed
            cluster.workers.pop(name, None)
            cluster.worker_spec.pop(name, None)
        raise ExecutorError(f"the batch system refused the first worker job: {_submission_error(err)} "
                            "(check [execution.jobqueue])") from None
    # adaptive between jobs and jobs: a job lost to its walltime, scancel or a node failure is replaced
    cluster.adapt(minimum_jobs=jobs, maximum_jobs=jobs)


class StudyWorkerPlugin:
    """Worker set-up for study tasks, on every kind of worker (local, batch job, external scheduler).

    Sets the worker's BLAS / OpenMP / torch thread pools to ``threads`` once
    (not per task) and sends brainalign's log records and Python warnings of
    the worker's tasks to the client (topic ``brainalign-log``), which logs
    them with the task they came from.
    """

    name = "brainalign-study"
    idempotent = True

    def __init__(self, threads: int | None = None, level: int = logging.INFO):
        self.threads, self.level = threads, level

    def setup(self, worker):
        if self.threads:
            import torch
            from threadpoolctl import threadpool_limits

            threadpool_limits(int(self.threads))  # process-wide, for every later task
            torch.set_num_threads(int(self.threads))
        handler = _ForwardToClient(worker)
        for name in ("brainalign", "py.warnings"):
            log = logging.getLogger(name)
            log.handlers[:] = [h for h in log.handlers if not isinstance(h, _ForwardToClient)] + [handler]
            log.setLevel(min(self.level, logging.WARNING) if name == "py.warnings" else self.level)
            log.propagate = False
        logging.captureWarnings(True)

    def teardown(self, worker):
        pass


class _ForwardToClient(logging.Handler):
    def __init__(self, worker):
        super().__init__()
        self.worker = worker

    def emit(self, record):
        try:
            from distributed.worker import thread_state

            key = getattr(thread_state, "key", None)
            task = re.sub(r"-\d+$", "", str(key)) if key else None
            self.worker.log_event("brainalign-log", {"level": record.levelno, "name": record.name,
                                                     "message": record.getMessage(), "task": task,
                                                     "worker": self.worker.address})
        except Exception:  # logging must never fail a task
            pass


def _log_from_worker(event) -> None:
    _, msg = event if isinstance(event, tuple) else (None, event)
    where = f"[{msg['task']}] " if msg.get("task") else f"[worker {msg.get('worker')}] "
    name = "brainalign.pipeline" if msg.get("name") == "py.warnings" else msg.get("name", "brainalign")
    logging.getLogger(name).log(msg.get("level", logging.INFO), "%s%s", where, msg.get("message", "").strip())


def attach_study_workers(client, threads: int | None = None) -> None:
    """Register :class:`StudyWorkerPlugin` on ``client``'s workers (present and future) and show their logs here."""
    from distributed.diagnostics.plugin import WorkerPlugin

    plugin = type("StudyWorkerPlugin", (StudyWorkerPlugin, WorkerPlugin), {})(
        threads, logging.getLogger("brainalign").getEffectiveLevel())
    client.register_plugin(plugin, name=StudyWorkerPlugin.name)
    client.subscribe_topic("brainalign-log", _log_from_worker)


@contextlib.contextmanager
def dask_client(config: StudyConfig, *, n_workers: int | None = None, threads_per_worker: int | None = None,
                scheduler: str | None = None):
    """A ``distributed.Client`` for the config's execution section (a cluster it starts is closed after)."""
    import dask
    from distributed import Client, LocalCluster

    ex = config.execution
    scheduler = scheduler or ex.scheduler
    threads = threads_per_worker or ex.threads_per_worker
    with dask.config.set(WORKER_SETTINGS), \
            dask.config.set({"distributed.scheduler.allowed-failures": ex.allowed_failures}):
        if scheduler:
            try:
                client = Client(scheduler, timeout="30s")
            except (OSError, TimeoutError) as err:
                raise ExecutorError(f"cannot reach the Dask scheduler at {scheduler}: {_one_line(err)} (is it "
                                    "running, and is the address reachable from here?)") from None
            with client:
                yield client
            return
        if ex.jobqueue:
            jobs = int(ex.jobqueue.get("jobs", n_workers or ex.n_workers))
            if n_workers and "jobs" in ex.jobqueue and n_workers != jobs:
                logger.warning("--n-workers %d is ignored: [execution.jobqueue] jobs = %d sets how many worker "
                               "jobs run", n_workers, jobs)
            with jobqueue_cluster(ex.jobqueue, threads=threads) as cluster:
                logger.info("submitting %d %s worker job(s); job logs go to %s", jobs,
                            str(ex.jobqueue["kind"]).upper(),
                            ex.jobqueue.get("log_directory") or "the scheduler's default (e.g. slurm-<id>.out "
                            "in the folder brainalign runs from)")
                start_jobs(cluster, jobs)
                with Client(cluster) as client:
                    yield client
            return
        with LocalCluster(n_workers=n_workers or ex.n_workers, threads_per_worker=threads, processes=True,
                          memory_limit=ex.memory_limit, dashboard_address=None) as cluster:
            with Client(cluster) as client:
                yield client


#: fit tasks estimated to need at most this much memory (ROI-sized: hundreds of samples x tens of targets)
#: take tens of milliseconds; scheduling one costs a few milliseconds, so they go to workers in batches
SMALL_TASK_BYTES = 64 * 2**20


def run_task_batch(tasks: list[dict], context: dict, *upstream: Any) -> list[dict]:
    """Run several small tasks one after the other in one worker call; returns their markers."""
    out = []
    for task in tasks:
        try:
            out.append(run_task(task, context))
        except BrainalignInputError as err:
            raise BrainalignInputError(f"{task['label']}: {err}") from err
    return out


def batches(tasks: list[Task], batch_size: int) -> list[list[Task]]:
    """``tasks`` in submission units: small fits of one layer sweep grouped by up to ``batch_size``, others alone.

    A fit is small when its planned memory is known and under :data:`SMALL_TASK_BYTES`.
    """
    units: list[list[Task]] = []
    open_batch: dict[tuple, list[Task]] = {}
    for task in tasks:
        small = (batch_size > 1 and task.kind == "fit" and task.memory_bytes is not None
                 and task.memory_bytes <= SMALL_TASK_BYTES)
        if not small:
            units.append([task])
            continue
        group = (task.params.get("model"), task.params.get("recording"))
        batch = open_batch.get(group)
        if batch is None or len(batch) >= batch_size:
            batch = open_batch[group] = []
            units.append(batch)
        batch.append(task)
    return units


def run_dask(plan: StudyPlan, context: dict, client, on_task_done: Callable | None = None, *,
             no_workers_timeout: float | None = None, batch_size: int = 16) -> list[Task]:
    """Submit every unfinished task to ``client``; returns them once all have finished.

    ``no_workers_timeout`` (seconds; ``None`` or 0 waits forever): the run
    ends with :class:`ExecutorError` when the cluster has had no worker for
    that long (every job lost and none replaced, or jobs stuck in the queue).
    Small fits are submitted ``batch_size`` at a time (:func:`batches`), so a
    study of tiny ROI fits is not dominated by scheduling.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    from .._logging import progress_disabled

    by_key = plan.by_key()
    futures: dict[str, Any] = {}  # task key -> the future that runs it (a batch's future for each member)
    members: dict[str, list[Task]] = {}  # future key -> its tasks
    todo = [t for t in plan.tasks if t.key not in plan.done]
    for unit in batches(todo, batch_size):
        inside = {t.key for t in unit}
        upstream = list({futures[k].key: futures[k] for t in unit for k in t.deps
                         if k in futures and k not in inside}.values())
        if len(unit) == 1:
            future = client.submit(run_task, payload(unit[0], by_key), context, *upstream,
                                   key=f"{unit[0].name}-{time.monotonic_ns()}", pure=False)
        else:
            future = client.submit(run_task_batch, [payload(t, by_key) for t in unit], context, *upstream,
                                   key=f"{unit[0].name}-batch{len(unit)}-{time.monotonic_ns()}", pure=False)
        members[future.key] = unit
        for t in unit:
            futures[t.key] = future
    unique = list({f.key: f for f in futures.values()}.values())
    watch = _WorkerWatch(client, no_workers_timeout)
    try:
        with tqdm(total=len(todo), desc="study tasks", unit="task", disable=progress_disabled()) as bar:
            finished = as_completed(unique)
            while not finished.is_empty():
                batch = finished.next_batch(block=False)
                if not batch:
                    watch.check()
                    time.sleep(0.2)
                    continue
                for future in batch:
                    unit = members[future.key]
                    _result(future, unit[0] if len(unit) == 1 else unit)
                    bar.update(len(unit))
                    if on_task_done is not None:
                        for task in unit:
                            on_task_done(task)
    finally:
        with contextlib.suppress(Exception):
            client.cancel([f for f in unique if not f.done()])
    return todo


def _result(future, task: Task | list[Task]):
    """A task's result, its failures as one line naming the task (a batch names its own tasks)."""
    from distributed import KilledWorker

    batch = isinstance(task, list)
    label = f"batch of {len(task)} tasks ({task[0].label} ...)" if batch else task.label
    try:
        return future.result()
    except BrainalignInputError as err:
        if batch:
            raise
        raise BrainalignInputError(f"{label}: {err}") from err
    except KilledWorker as err:
        raise ExecutorError(f"{label}: its worker died while running it, {_one_line(err)} (raise "
                            "[execution] allowed_failures, or give the jobs more memory or walltime)") from err


class _WorkerWatch:
    """Ends a Dask run that has had no worker for ``timeout`` seconds."""

    def __init__(self, client, timeout: float | None, every: float = 1.0):
        self.client, self.timeout, self.every = client, timeout, every
        self.last_seen = self.last_check = time.monotonic()

    def check(self) -> None:
        now = time.monotonic()
        if not self.timeout or now - self.last_check < self.every:
            return
        self.last_check = now
        if self.client.nthreads():
            self.last_seen = now
        elif now - self.last_seen > self.timeout:
            raise ExecutorError(f"no Dask worker for {self.timeout:.0f} s (every job ended or none started: "
                                "check the scheduler's queue and the jobs' logs); finished tasks are kept, run "
                                "again to resume, or raise [execution] no_workers_timeout")


def _one_line(err: BaseException | str) -> str:
    return " ".join(str(err).split())


def run_study(config: StudyConfig | str | Path | dict, *, output: str | Path | None = None,
              executor: str | None = None, n_workers: int | None = None, threads_per_worker: int | None = None,
              scheduler: str | None = None, client=None, on_task_done: Callable[[Task], Any] | None = None,
              base_dir: str | Path = ".", lock_timeout: float | str | None = None,
              no_workers_timeout: float | str | None = None) -> StudyRun:
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
        running scheduler (``tcp://host:8786``).  ``threads_per_worker`` is
        also each worker's BLAS / OpenMP / torch thread count (and this
        process's, sequentially).
    client : distributed.Client, optional
        Use this client (and its cluster) as it is.
    on_task_done : callable, optional
        Called with each finished :class:`Task` (progress hooks, tests).
    lock_timeout : seconds or duration string, optional
        One run writes a study folder at a time: another run's lock is waited
        for this long, then the run refuses naming the holder.  Default
        ``[execution] lock_timeout`` or 0 (refuse at once).
    no_workers_timeout : seconds or duration string, optional
        A Dask run with no worker for this long ends with
        :class:`ExecutorError`.  Default ``[execution] no_workers_timeout`` or
        10 min; 0 waits forever.

    Returns
    -------
    StudyRun
        ``ran`` counts the tasks computed by this call, per kind (a study run a
        second time computes none); ``results()`` opens the study folder.

    Raises
    ------
    StudyInterrupted
        On Ctrl-C (a ``KeyboardInterrupt``): worker jobs cancelled, finished
        tasks kept, nothing half-written; run again to resume.

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
    if kind == "sequential" and config.execution.jobqueue:
        logger.warning("[execution.jobqueue] is ignored: the executor is 'sequential' (set [execution] executor = "
                       "\"dask\" or pass --executor dask to submit worker jobs)")
    context = dict(plan.context)
    threads = threads_per_worker or (config.execution.threads_per_worker
                                     if "threads_per_worker" in config.execution.model_fields_set else None)
    context["threads"] = threads
    lock_s = parse_duration(_setting(config, "lock_timeout", lock_timeout, 0))
    no_workers_s = parse_duration(_setting(config, "no_workers_timeout", no_workers_timeout, 600))
    out = Path(context["output"])
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with study_lock(out, timeout=lock_s):
        plan.refresh()  # another run may have finished tasks while this one waited for the lock
        skipped = _count(t for t in plan.tasks if t.key in plan.done)
        logger.info("%d of %d study tasks already done", len(plan.done), len(plan.tasks))
        try:
            if kind == "sequential":
                ran = run_sequential(plan, context, on_task_done)
            else:
                # the worker plugin sets every worker's thread pools once: tasks need not set them each time
                # (threadpoolctl's scan of the loaded libraries costs ~2 ms a task)
                on_workers = dict(context, threads=None)
                if client is not None:
                    attach_study_workers(client, threads)
                    ran = run_dask(plan, on_workers, client, on_task_done, no_workers_timeout=no_workers_s)
                else:
                    with dask_client(config, n_workers=n_workers, threads_per_worker=threads_per_worker,
                                     scheduler=scheduler) as new_client:
                        attach_study_workers(new_client, threads)
                        ran = run_dask(plan, on_workers, new_client, on_task_done, no_workers_timeout=no_workers_s)
        except KeyboardInterrupt:
            done = len(plan.refresh().done)
            raise StudyInterrupted(f"interrupted: {done} of {len(plan.tasks)} study tasks are done and kept in "
                                   f"{out}; worker jobs were cancelled; run the same command again to resume") \
                from None
        run = StudyRun(plan.refresh(), _count(ran), skipped, time.perf_counter() - start, kind)
    logger.info("study done in %.1f s: ran %s", run.wall_s, run.ran or "nothing (all tasks were done)")
    return run


def _setting(config: StudyConfig, name: str, given, default):
    """An ``[execution]`` setting: the argument, else the config's (once the schema declares it), else default."""
    if given is not None:
        return given
    value = getattr(config.execution, name, None)
    return default if value is None else value
