"""Studies on a real SLURM: identical to sequential, a cancelled job replaced, refused and stuck jobs said so.

Needs a running SLURM (``sudo .ci/slurm_up.sh`` starts a single-node one) and
``BRAINALIGN_SLURM=1``; without that variable these tests skip, with it they
fail when ``sbatch`` is missing (CI expected a scheduler and has none).  The
``[execution.jobqueue]`` checks at the end need no scheduler.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from test_pipeline_integrity import ENV, leftovers, scores, write_small_study

from brainalign.pipeline import ExecutorError, parse_config, run_study, validate_jobqueue_options

JOB_NAME = "ba-test-worker"


@pytest.fixture(scope="module")
def slurm():
    if os.environ.get("BRAINALIGN_SLURM") != "1":
        pytest.skip("BRAINALIGN_SLURM is not 1: no SLURM to submit to (sudo .ci/slurm_up.sh starts one)")
    if shutil.which("sbatch") is None or shutil.which("squeue") is None:
        pytest.fail("BRAINALIGN_SLURM=1 but sbatch/squeue are not on PATH: the SLURM tests could not run")
    info = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0 or not info.stdout.strip():
        pytest.fail(f"BRAINALIGN_SLURM=1 but SLURM does not answer: {info.stderr.strip()}")


@pytest.fixture(scope="module")
def study(tmp_path_factory, slurm):
    from brainalign.features import make_random_text_model

    root = tmp_path_factory.mktemp("slurm")
    model = make_random_text_model(root / "gpt2", n_layers=2, hidden_size=16)
    toml = write_small_study(root, model)
    return toml, run_study(toml, output=root / "sequential")


def _config(toml: Path, **jobqueue):
    raw = tomllib.loads(toml.read_text())
    raw["execution"] = {"executor": "dask", "threads_per_worker": 1,
                        "jobqueue": {"kind": "slurm", "jobs": 1, "cores": 1, "memory": "1GB",
                                     "walltime": "00:10:00", "job_name": JOB_NAME,
                                     "log_directory": str(toml.parent / "slurm-logs"), **jobqueue}}
    return parse_config(raw, base_dir=toml.parent)


def _our_jobs(state: str = "") -> list[str]:
    out = subprocess.run(["squeue", "-h", "-n", JOB_NAME, "-o", "%i", *(["-t", state] if state else [])],
                         capture_output=True, text=True, timeout=30).stdout
    return out.split()


def _no_jobs_left(timeout: float = 60) -> bool:
    end = time.monotonic() + timeout
    while _our_jobs() and time.monotonic() < end:
        time.sleep(1)
    return not _our_jobs()


def test_study_on_slurm_equals_sequential(study):
    toml, sequential = study
    out = toml.parent / "on-slurm"
    seen = []
    run = run_study(_config(toml, jobs=2), output=out, on_task_done=lambda t: seen.append(len(_our_jobs("R"))))
    assert sum(run.ran.values()) == len(run.plan.tasks)
    assert max(seen) >= 1  # the tasks ran while worker jobs were running on SLURM
    pd.testing.assert_frame_equal(scores(out), scores(sequential.output))
    assert _no_jobs_left(), "the worker jobs were not cancelled at the end"


def test_every_worker_job_cancelled_mid_run_is_replaced(study):
    toml, sequential = study
    out = toml.parent / "cancelled"
    cancelled = []

    def cancel_all_once(task):
        # after the first few tasks, scancel every worker job: the only one there is (jobs = 1)
        if len(cancelled) == 0 and task.kind in ("features", "design"):
            jobs = _our_jobs("R")
            cancelled.extend(jobs)
            subprocess.run(["scancel", *jobs], check=True, timeout=30)

    run = run_study(_config(toml, jobs=1), output=out, on_task_done=cancel_all_once, no_workers_timeout=120)
    assert cancelled, "no running worker job was found to cancel"
    assert sum(run.ran.values()) == len(run.plan.tasks)
    pd.testing.assert_frame_equal(scores(out), scores(sequential.output))
    assert not leftovers(out)
    assert _no_jobs_left()


def test_jobs_that_never_start_end_the_run_with_one_line(study):
    toml, _ = study
    # accepted by SLURM but held for an hour: no worker ever connects
    config = _config(toml, job_extra_directives=["--begin=now+3600"])
    start = time.monotonic()
    with pytest.raises(ExecutorError, match=r"^no Dask worker for 15 s .*run again to resume") as err:
        run_study(config, output=toml.parent / "held", no_workers_timeout=15)
    assert "\n" not in str(err.value) and time.monotonic() - start < 90
    assert _no_jobs_left(), "the held jobs were not cancelled"


def test_a_refused_submission_is_one_line_and_exit_2(study):
    toml, _ = study
    text = toml.read_text() + ('\n[execution.jobqueue]\nkind = "slurm"\ncores = 1\nmemory = "1GB"\n'
                               'queue = "no-such-partition"\n')
    text = text.replace("[execution]\n", '[execution]\nexecutor = "dask"\n')
    bad = toml.parent / "bad-partition.toml"
    bad.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "brainalign.cli", "-q", "run", str(bad)], cwd=toml.parent,
                          env=ENV, capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "refused the first worker job" in lines[0] and "partition" in lines[0], proc.stderr


def test_ctrl_c_cancels_the_worker_jobs(study):
    toml, _ = study
    out = toml.parent / "ctrl-c"
    errors = []

    def interrupt_soon():
        end = time.monotonic() + 120
        while not _our_jobs("R") and time.monotonic() < end:
            time.sleep(0.5)
        import _thread

        _thread.interrupt_main()

    thread = threading.Thread(target=interrupt_soon, daemon=True)
    thread.start()
    try:
        run_study(_config(toml, jobs=1), output=out, on_task_done=lambda t: time.sleep(1))
    except KeyboardInterrupt as err:
        errors.append(str(err))
    thread.join()
    assert errors and "interrupted:" in errors[0]
    assert _no_jobs_left(), "Ctrl-C left worker jobs running"
    assert not leftovers(out)


# ------------------------------------------------------------------ [execution.jobqueue] checks (no SLURM needed)
def test_jobqueue_typos_name_the_closest_key_and_required_ones():
    assert validate_jobqueue_options("slurm", {"kind": "slurm", "cores": 2, "memory": "8GB",
                                               "walltime": "01:00:00", "jobs": 3}) == []
    problems = validate_jobqueue_options("slurm", {"kind": "slurm", "corse": 2, "memroy": "8GB", "queu": "a"})
    assert "[execution.jobqueue] unknown key 'corse' (did you mean 'cores'?)" in problems
    assert "[execution.jobqueue] unknown key 'memroy' (did you mean 'memory'?)" in problems
    assert "[execution.jobqueue] unknown key 'queu' (did you mean 'queue'?)" in problems
    assert any("cores is required" in p for p in problems) and any("memory is required" in p for p in problems)
    assert validate_jobqueue_options("slrum", {}) == [
        "[execution.jobqueue] kind must be one of ['htcondor', 'lsf', 'pbs', 'sge', 'slurm'], got 'slrum' "
        "(did you mean 'slurm'?)"]
    # a PBS cluster takes its own keys (resource_spec), which SLURM does not
    assert validate_jobqueue_options("pbs", {"cores": 1, "memory": "1GB", "resource_spec": "select=1"}) == []
    assert validate_jobqueue_options("slurm", {"cores": 1, "memory": "1GB", "resource_spec": "x"}) == [
        "[execution.jobqueue] unknown key 'resource_spec' for kind 'slurm'"]
    assert any("lifetime" in p for p in validate_jobqueue_options("slurm", {"cores": 1, "memory": "1GB",
                                                                            "lifetime": "soon"}))


def test_worker_lifetimes_retire_before_the_walltime():
    from brainalign.pipeline._execute import _lifetime_args, parse_duration

    assert parse_duration("10 min") == 600 and parse_duration("1-00:00:00") == 86400
    assert _lifetime_args("slurm", {"walltime": "04:00:00"}) == ["--lifetime", "12960s", "--lifetime-stagger",
                                                                "720s"]
    assert _lifetime_args("slurm", {"walltime": "01:00:00", "lifetime": "50 min", "lifetime_stagger": "2 min"}) \
        == ["--lifetime", "3000s", "--lifetime-stagger", "120s"]
