"""``[execution.jobqueue]`` (dask-jobqueue clusters) and durations: checked when a config is read, used by the executor.

Its own module so that the config (which checks) and the executor (which
starts clusters) both import it without importing each other.
"""

from __future__ import annotations

import difflib
import inspect
import re
import signal
import threading
from typing import Any

from ..core import BrainalignInputError

_UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60,
          "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400}


def parse_duration(value: str | float | int) -> float:
    """Seconds in ``value``: a number of seconds, ``"10 min"``, ``"2h"``, ``"01:30:00"`` or ``"1-12:00:00"``.

    >>> parse_duration("10 min"), parse_duration("01:30:00"), parse_duration(90)
    (600.0, 5400.0, 90.0)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    days = 0
    if re.fullmatch(r"\d+-\d+(:\d+){0,2}", text):
        d, text = text.split("-", 1)
        days = int(d)
    if re.fullmatch(r"\d+(:\d+){1,2}", text):  # SLURM/PBS walltime: MM:SS or HH:MM:SS
        parts = [int(x) for x in text.split(":")]
        parts = [0] * (3 - len(parts)) + parts
        return float(days * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2])
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)", text)
    if match and not days and match.group(2).lower() in {**_UNITS, "": 1}:
        return float(match.group(1)) * _UNITS.get(match.group(2).lower(), 1)
    raise ValueError(f"cannot read {value!r} as a duration (e.g. 600, \"10 min\", \"2h\", \"04:00:00\")")


#: cluster classes of ``[execution.jobqueue] kind``
CLUSTER_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster",
                   "htcondor": "HTCondorCluster"}
#: keys of ``[execution.jobqueue]`` that brainalign reads itself (all others go to the cluster class)
JOBQUEUE_OWN_KEYS = {
    "kind": "the batch system: " + ", ".join(CLUSTER_CLASSES),
    "jobs": "number of worker jobs kept running (lost ones are replaced)",
    "lifetime": "how long a worker runs before it retires and hands over its work (default: walltime - 10 %)",
    "lifetime_stagger": "random spread of the lifetimes, so workers do not retire together (default: 5 % of "
                        "the walltime)",
}
#: parameters of the cluster and job classes that brainalign sets itself or that make no sense in a TOML
_JOBQUEUE_INTERNAL = {"self", "n_workers", "job_cls", "loop", "asynchronous", "job_kwargs", "scheduler", "name",
                      "config_name", "base_class_kwargs", "args", "kwargs"}


def import_dask_jobqueue():
    """``import dask_jobqueue``, keeping this process's Ctrl-C handler.

    dask-jobqueue 0.9.0 replaces the SIGINT handler with ``sys.exit()`` when
    imported (``dask_jobqueue/runner.py``), which turns Ctrl-C into a silent
    exit with status 0 and changes SIGINT for the rest of a test session.
    """
    on_main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT) if on_main else None
    try:
        import dask_jobqueue
    except ImportError:
        raise BrainalignInputError("config [execution.jobqueue] needs dask-jobqueue: "
                                   "pip install 'brainalign[cluster]'") from None
    if on_main:
        if getattr(before, "__module__", "") == "dask_jobqueue.runner":
            before = signal.default_int_handler
        if signal.getsignal(signal.SIGINT) is not before:
            signal.signal(signal.SIGINT, before)
    return dask_jobqueue


def jobqueue_parameters(kind: str) -> dict[str, str]:
    """Every key ``[execution.jobqueue]`` accepts for ``kind``, with where it goes (brainalign or the class)."""
    import_dask_jobqueue()
    cls = _cluster_class(kind)
    from dask_jobqueue.core import Job

    out = dict(JOBQUEUE_OWN_KEYS)
    for owner in (cls, cls.job_cls, Job):
        for name in inspect.signature(owner.__init__).parameters:
            if name not in _JOBQUEUE_INTERNAL and name not in out:
                out[name] = f"{owner.__name__} parameter"
    return out


def _cluster_class(kind: str):
    import dask_jobqueue

    return getattr(dask_jobqueue, CLUSTER_CLASSES[str(kind).lower()])


def validate_jobqueue_options(kind: str | None, options: dict[str, Any]) -> list[str]:
    """Problems with an ``[execution.jobqueue]`` section, one sentence each (empty when it is sound).

    Keys are checked against the dask-jobqueue cluster class of ``kind``
    (its ``__init__`` and its job class's parameters) plus brainalign's own
    (``kind``, ``jobs``, ``lifetime``, ``lifetime_stagger``); a typo is named
    with the closest valid spelling, and the parameters the class needs but
    neither the section nor the dask config gives (``cores``, ``memory``) are
    named.  For config loaders: call it when the config is read.

    Examples
    --------
    >>> validate_jobqueue_options("slurm", {"cores": 1, "memory": "4GB", "walltim": "01:00:00"})
    ["[execution.jobqueue] unknown key 'walltim' (did you mean 'walltime'?)"]
    """
    import dask

    kind = str(kind or options.get("kind") or "").lower()
    if kind not in CLUSTER_CLASSES:
        close = difflib.get_close_matches(kind, CLUSTER_CLASSES, n=1)
        return [f"[execution.jobqueue] kind must be one of {sorted(CLUSTER_CLASSES)}, got {kind!r}"
                + (f" (did you mean {close[0]!r}?)" if close else "")]
    known = jobqueue_parameters(kind)
    problems = []
    for key in options:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            problems.append(f"[execution.jobqueue] unknown key {key!r}"
                            + (f" (did you mean {close[0]!r}?)" if close else f" for kind {kind!r}"))
    for required in ("cores", "memory"):
        if options.get(required) is None and dask.config.get(f"jobqueue.{kind}.{required}", None) is None:
            problems.append(f"[execution.jobqueue] {required} is required for kind {kind!r} (per job, e.g. "
                            + ("cores = 4" if required == "cores" else 'memory = "16GB"') + ")")
    jobs = options.get("jobs", 1)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        problems.append(f"[execution.jobqueue] jobs must be a whole number >= 1, got {jobs!r}")
    for key in ("lifetime", "lifetime_stagger"):
        if key in options:
            try:
                parse_duration(options[key])
            except ValueError as err:
                problems.append(f"[execution.jobqueue] {key}: {err}")
    return problems
