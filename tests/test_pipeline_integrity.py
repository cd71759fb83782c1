"""Study folders under concurrent runs, damaged tasks, interrupted tasks and Ctrl-C.

A small user-files study (3 subjects, a tiny random GPT-2, 29 tasks, ~10 s) is
run sequentially once; every other run must end with the same tables.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainalign.pipeline import parse_config, run_study
from brainalign.pipeline._work import StudyLockedError, run_in_task_folder, study_lock, task_problem

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
       "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg"}


def write_small_study(root: Path, model: Path, n_subjects: int = 3) -> Path:
    """A user-files study (words.tsv + one text file per subject) and its TOML; returns the TOML."""
    rng = np.random.default_rng(0)
    words = "the cat sat on the mat and then the dog ran after a bird in the garden".split() * 6
    onsets = np.arange(len(words)) * 1.3 + 2.0
    pd.DataFrame({"token": words, "onset": onsets, "offset": onsets + 0.4}).to_csv(
        root / "words.tsv", sep="\t", index=False)
    n = int(np.ceil((onsets[-1] + 16) / 2.0))
    files = {}
    for s in "abcdefgh"[:n_subjects]:
        np.savetxt(root / f"{s}.txt", rng.normal(size=(n, 3)))
        files[f"sub-{s}"] = [f"{s}.txt"]
    listing = ", ".join(f'"{k}" = ["{v[0]}"]' for k, v in files.items())
    toml = root / "study.toml"
    toml.write_text(f'''output = "out"
[stimulus]
words = "words.tsv"
[recording]
files = {{ {listing} }}
tr = 2.0
clean = "zscore"
[features]
model = "{model}"
context_tokens = 8
[baseline]
word_rate = true
[encoding]
backend = "numpy"
alphas = "0,4,5"
gap_s = 6.0
gain_bootstraps = 50
[execution]
threads_per_worker = 1
''')
    return toml


def scores(folder: Path) -> pd.DataFrame:
    table = pd.read_csv(folder / "study_scores.tsv", sep="\t", dtype={"target": str})
    return table.sort_values(["model", "subject", "layer", "target"]).reset_index(drop=True)


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if ".tmp-" in p.name or ".old-" in p.name]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from brainalign.features import make_random_text_model

    root = tmp_path_factory.mktemp("integrity")
    model = make_random_text_model(root / "gpt2", n_layers=2, hidden_size=16)
    toml = write_small_study(root, model)
    run = run_study(toml, output=root / "sequential")
    return toml, run


def _python(code: str, cwd: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _brainalign(*args: str, cwd: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "brainalign.cli", "-q", *args], cwd=cwd, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the first run ended early: {proc.communicate()}"
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.1)


def test_concurrent_runs_end_with_one_complete_correct_folder(study):
    toml, sequential = study
    out = toml.parent / "concurrent"
    # the first run is slowed down (0.4 s after each task) so the others surely start while it holds the study
    first = _python(f"import time; from brainalign.pipeline import run_study; "
                    f"r = run_study({str(toml)!r}, output={str(out)!r}, on_task_done=lambda t: time.sleep(0.4)); "
                    f"print(sum(r.ran.values()))", cwd=toml.parent)
    _wait_for(out / ".work" / "study.lock.json", first)
    holder = json.loads((out / ".work" / "study.lock.json").read_text())
    assert holder["pid"] == first.pid
    # a second `brainalign run` refuses at once, in one line naming the holder
    second = _brainalign("run", str(toml), "-o", str(out), cwd=toml.parent)
    # a third waits for the lock, then finds every task done
    third = _python(f"from brainalign.pipeline import run_study; "
                    f"r = run_study({str(toml)!r}, output={str(out)!r}, lock_timeout=600); print(r.ran)",
                    cwd=toml.parent)
    err = second.communicate(timeout=300)[1]
    assert second.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "in use by another run" in lines[0], err
    assert f"pid {first.pid}" in lines[0] and holder["host"] in lines[0] and holder["started"] in lines[0]
    stdout, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert int(stdout.strip().splitlines()[-1]) == len(sequential.plan.tasks)
    stdout, err = third.communicate(timeout=300)
    assert third.returncode == 0, err
    assert stdout.strip().splitlines()[-1] == "{}"
    pd.testing.assert_frame_equal(scores(out), scores(sequential.output))
    assert not leftovers(out) and not (out / ".work" / "study.lock.json").exists()


def test_a_run_killed_with_the_lock_does_not_block_the_next(study, tmp_path):
    toml, sequential = study
    out = tmp_path / "out"
    holder = _python(f"import time; from pathlib import Path; from brainalign.pipeline._work import study_lock\n"
                     f"with study_lock(Path({str(out)!r})):\n    print('held', flush=True); time.sleep(600)",
                     cwd=tmp_path)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(StudyLockedError, match=f"pid {holder.pid}"):
        run_study(toml, output=out)
    holder.kill()
    holder.wait()
    # the kernel released the dead run's lock: the next run takes over without anyone deleting anything
    run = run_study(toml, output=out)
    assert sum(run.ran.values()) == len(run.plan.tasks)
    pd.testing.assert_frame_equal(scores(out), scores(sequential.output))


def test_lock_refusal_in_process_names_this_process(study, tmp_path):
    toml, _ = study
    with study_lock(tmp_path / "out"):
        with pytest.raises(StudyLockedError, match=rf"in use by another run \(host .*, pid {os.getpid()}, started "):
            run_study(toml, output=tmp_path / "out")


def test_damaged_tasks_are_recomputed_with_a_warning(study, tmp_path, caplog):
    toml, sequential = study
    out = tmp_path / "out"
    run_study(toml, output=out)
    fits = sorted((out / "gpt2" / "sub-b" / "layers").iterdir())
    deleted = next(p for p in sorted(fits[0].rglob("*")) if p.is_file() and p.name != "task.json")
    deleted.unlink()
    design = next(p for p in sorted((out / ".work" / "designs").glob("*/design/X.npy")))
    with open(design, "ab") as fh:  # a file that grew after its task finished
        fh.write(b"\0" * 16)
    with caplog.at_level(logging.WARNING, logger="brainalign"):
        again = run_study(toml, output=out)
    damaged = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert any("fit" in m and str(deleted.relative_to(fits[0])) in m and "missing" in m for m in damaged), damaged
    assert any("design" in m and "X.npy has" in m for m in damaged), damaged
    assert again.ran == {"design": 1, "fit": 1}
    assert task_problem(fits[0], again.plan.by_key()[next(k for k, t in again.plan.by_key().items()
                                                           if t.folder == str(fits[0]))].key) is None
    pd.testing.assert_frame_equal(scores(out), scores(sequential.output))


def test_a_task_that_fails_midway_leaves_nothing(tmp_path):
    task = {"key": "k1", "kind": "fit", "label": "fit x", "folder": str(tmp_path / "fits" / "k1"), "inputs": []}

    def runner(t):
        Path(t["folder"]).mkdir(parents=True)
        (Path(t["folder"]) / "half.npy").write_bytes(b"123")
        raise RuntimeError("killed midway")

    with pytest.raises(RuntimeError, match="midway"):
        run_in_task_folder(task, runner)
    assert list((tmp_path / "fits").iterdir()) == []

    def good(t):
        Path(t["folder"]).mkdir(parents=True)
        (Path(t["folder"]) / "whole.npy").write_bytes(b"12345")
        return {"path": str(Path(t["folder"]) / "whole.npy")}

    marker = run_in_task_folder(task, good)
    # paths the task reported point to the final folder, and the marker records its file
    assert marker["path"] == str(tmp_path / "fits" / "k1" / "whole.npy")
    assert marker["files"]["whole.npy"]["size"] == 5
    assert [p.name for p in (tmp_path / "fits").iterdir()] == ["k1"]


def test_ctrl_c_exits_130_and_the_rerun_resumes(study):
    toml, sequential = study
    out = toml.parent / "interrupted"
    run = _brainalign("run", str(toml), "-o", str(out), "--executor", "dask", "--n-workers", "1", cwd=toml.parent)
    # interrupt once the study is under way (at least one task finished)
    end = time.monotonic() + 240
    while not any((out / ".work" / "recordings").glob("*/task.json")):
        assert run.poll() is None and time.monotonic() < end, run.communicate()
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)
    err = run.communicate(timeout=120)[1]
    assert run.returncode == 130, err
    assert "interrupted:" in err and "run the same command again to resume" in err
    assert "Traceback" not in err
    again = run_study(toml, output=out)
    assert 0 < sum(again.ran.values()) < len(again.plan.tasks)
    assert not leftovers(out)
    pd.testing.assert_frame_equal(scores(out), scores(sequential.output))


def test_importing_dask_jobqueue_keeps_the_sigint_handler():
    from brainalign.pipeline._jobqueue import import_dask_jobqueue

    before = signal.getsignal(signal.SIGINT)
    import_dask_jobqueue()
    assert signal.getsignal(signal.SIGINT) is before


def test_a_jobqueue_section_with_the_sequential_executor_is_warned_about(study, tmp_path, caplog):
    toml, _ = study
    config = parse_config({**__import__("tomllib").loads(toml.read_text()),
                           "execution": {"jobqueue": {"kind": "slurm", "cores": 1, "memory": "1GB"}}},
                          base_dir=toml.parent)
    with caplog.at_level(logging.WARNING, logger="brainalign"):
        run_study(config, output=tmp_path / "out")
    assert any("[execution.jobqueue] is ignored" in r.getMessage() for r in caplog.records)
