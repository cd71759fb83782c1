"""Studies on the real Alice data: 2 models x 4 subjects, sequential vs Dask, killed workers, kill -9, resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainalign.encoding import LayerSweep
from brainalign.pipeline import StudyResults, parse_config, plan_study, run_study
from brainalign.pipeline._tasks import study_table

SUBJECTS = ["s18", "s23", "s26", "s30"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def random_gpt2(tmp_path_factory):
    from brainalign.features import make_random_text_model

    return make_random_text_model(tmp_path_factory.mktemp("models") / "random-gpt2", n_layers=2, hidden_size=32)


@pytest.fixture(scope="module")
def feature_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("feature-cache")


def alice_study(shared_data, minilm_dir, random_gpt2, cache, **execution) -> dict:
    return {
        "name": "alice-two-models",
        "output": "out",
        "cache_dir": str(cache),
        "dataset": {"name": "alice_brennan2016", "path": str(shared_data / "alice_brennan2016"),
                    "subjects": SUBJECTS},
        "features": {"context_tokens": 32},
        "models": [
            {"name": "minilm", "model": str(minilm_dir),
             "options": {"future_context": True, "layers": ["embeddings", "layer.3"]}},
            {"name": "random-gpt2", "model": str(random_gpt2)},
        ],
        "encoding": {"backend": "numpy", "alphas": [1.0, 100.0, 10000.0], "gain_bootstraps": 200},
        "execution": {"threads_per_worker": 1, **execution},
    }


def _scores(folder: Path) -> pd.DataFrame:
    table = pd.read_csv(folder / "study_scores.tsv", sep="\t", dtype={"target": str})
    return table.sort_values(["model", "subject", "layer", "target"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def alice_dir():
    from conftest import shared_data_dir

    root = shared_data_dir() / "alice_brennan2016"
    if not root.is_dir():
        pytest.skip(f"real Alice data {root} is absent (set BRAINALIGN_SHARED_DATA to its location)")
    return root.parent


@pytest.fixture(scope="module")
def sequential_study(alice_dir, minilm_dir, random_gpt2, feature_cache, tmp_path_factory):
    base = tmp_path_factory.mktemp("sequential")
    config = parse_config(alice_study(alice_dir, minilm_dir, random_gpt2, feature_cache), base_dir=base)
    run = run_study(config)
    return config, run


def test_study_writes_sweeps_table_and_summary(sequential_study):
    config, run = sequential_study
    # features once per model, designs once per model layer (all subjects share Alice's scan grid)
    assert run.ran == {"recording": 4, "features": 2, "design": 5, "baseline": 4, "fit": 20, "sweep": 8, "study": 1}
    results = run.results()
    assert results.models == ["minilm", "random-gpt2"] and results.recordings == SUBJECTS
    sweep = results.sweep("random-gpt2", "s23")
    assert isinstance(sweep, LayerSweep) and sweep.layer_names == ["embeddings", "layer.0", "layer.1"]
    assert set(sweep.baselines) == {"baseline", "autocorrelation"}
    assert LayerSweep.load(run.output / "minilm" / "s18").layer_names == ["embeddings", "layer.3"]
    table = _scores(run.output)
    assert len(table) == (2 + 3) * 4 * 6
    assert {"model", "layer", "subject", "target", "r", "r2", "gain", "ci_low", "ci_high", "p", "p_fdr",
            "depth"} <= set(table.columns)
    assert np.isfinite(table[["r", "gain", "ci_low", "ci_high", "p_fdr"]].to_numpy()).all()
    assert ((table.ci_low <= table.gain + 1e-9) & (table.gain <= table.ci_high + 1e-9)).mean() > 0.9
    assert sorted(table.depth.unique()) == [0.0, 0.5, 1.0]
    # the word-rate + sound-power baseline predicts these language ROIs of listening participants
    assert table.r_baseline.mean() > 0.05
    parquet = pd.read_parquet(run.output / "study_scores.parquet")
    assert len(parquet) == len(table)
    summary = results.summary
    assert summary["kind"] == "study" and summary["versions"]["dask"] and summary["versions"]["pydantic"]
    assert len(summary["data_hashes"]) == 8 and summary["config"]["name"] == "alice-two-models"
    profiles = results.layer_profiles()
    assert set(profiles.model) == {"minilm", "random-gpt2"} and (profiles.n_subjects == 4).all()
    # the table is streamed sweep by sweep; it equals the table built at once, and so does the headline
    whole = study_table(run.output, results.models, results.recordings)
    assert (run.output / "study_scores.tsv").read_text() == whole.to_csv(sep="\t", index=False)
    for model, frame in whole.groupby("model"):
        profile = frame.groupby("layer")["r"].mean()
        head = summary["headline"][model]
        assert head["best_layer"] == profile.idxmax()
        assert head["best_layer_mean_r"] == pytest.approx(profile.max(), abs=1e-12)
        assert head["mean_gain_over_baseline"] == pytest.approx(frame[frame.layer == head["best_layer"]].gain.mean(),
                                                                abs=1e-12)


def test_second_run_does_no_work(sequential_study):
    config, run = sequential_study
    again = run_study(config)
    assert again.ran == {} and sum(again.skipped.values()) == len(again.plan.tasks)
    assert plan_study(config).describe().splitlines()[-1].split()[1:] == [str(len(again.plan.tasks))] * 2 + ["0"]


def test_dask_cluster_gives_identical_results(sequential_study, shared_data, minilm_dir, random_gpt2,
                                              feature_cache, tmp_path):
    _, reference = sequential_study
    config = parse_config(alice_study(shared_data, minilm_dir, random_gpt2, feature_cache,
                                      executor="dask", n_workers=2), base_dir=tmp_path)
    run = run_study(config)
    assert run.executor == "dask" and run.ran["fit"] == 20 and run.ran["features"] == 2
    pd.testing.assert_frame_equal(_scores(run.output), _scores(reference.output), check_exact=True)


def test_a_worker_killed_mid_study_changes_nothing(sequential_study, shared_data, minilm_dir, random_gpt2,
                                                   feature_cache, tmp_path):
    from distributed import Client, LocalCluster

    _, reference = sequential_study
    config = parse_config(alice_study(shared_data, minilm_dir, random_gpt2, feature_cache), base_dir=tmp_path)
    killed = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        pids = list(client.run(os.getpid).values())

        def kill_one_worker(task):
            if task.kind == "fit" and not killed:
                os.kill(pids[0], signal.SIGKILL)  # the nanny starts a fresh worker; its tasks run elsewhere
                killed.append(pids[0])

        run = run_study(config, client=client, on_task_done=kill_one_worker)
    assert killed and run.ran["fit"] == 20
    pd.testing.assert_frame_equal(_scores(run.output), _scores(reference.output), check_exact=True)


def test_kill_9_mid_study_resumes_without_redoing_fits(sequential_study, shared_data, minilm_dir, random_gpt2,
                                                       feature_cache, tmp_path):
    import json

    _, reference = sequential_study
    raw = alice_study(shared_data, minilm_dir, random_gpt2, feature_cache)
    (tmp_path / "study.json").write_text(json.dumps(raw))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "brainalign.cli", "-q", "run", str(tmp_path / "study.json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(out.glob("*/*/layers/*/task.json"))) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(list(out.glob("*/*/layers/*/task.json")))
    assert 3 <= finished < 20
    run = run_study(tmp_path / "study.json")
    assert run.ran["fit"] == 20 - finished
    pd.testing.assert_frame_equal(_scores(run.output), _scores(reference.output), check_exact=True)


def test_group_average_and_bad_subjects(shared_data, minilm_dir, random_gpt2, feature_cache, tmp_path):
    raw = alice_study(shared_data, minilm_dir, random_gpt2, feature_cache)
    raw["models"] = raw["models"][1:]
    raw["dataset"].update(subjects=SUBJECTS[:2], per_subject=False, group_average=True)
    run = run_study(parse_config(raw, base_dir=tmp_path))
    results = StudyResults.load(run.output)
    assert results.recordings == ["group"] and run.ran["group"] == 1
    group = results.sweep("random-gpt2", "group")
    assert group.results["layer.1"].subject == "group"
    raw["dataset"]["subjects"] = ["s18", "s99"]
    with pytest.raises(Exception, match=r"subjects: \['s99'\] not found.*'s18', 's23'"):
        plan_study(parse_config(raw, base_dir=tmp_path))


def test_report_compares_the_models(sequential_study):
    import base64
    import re

    from brainalign.report import write_report

    _, run = sequential_study
    page = write_report(run.output, run.output / "report.html").read_text()
    assert "brainalign study: alice-two-models" in page and "Layer profiles" in page
    assert page.count("<td>minilm</td>") >= 2 and "random-gpt2" in page
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert images and base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"


def test_dry_run_prints_the_plan_and_writes_nothing(sequential_study, tmp_path):
    import json

    config, run = sequential_study
    from brainalign.pipeline._config import raw_config

    (tmp_path / "study.json").write_text(json.dumps(raw_config(config)))
    proc = subprocess.run([sys.executable, "-m", "brainalign.cli", "run", str(tmp_path / "study.json"),
                           "--dry-run", "-o", str(run.output)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines() if line and line[0].isalpha()}
    assert lines["fit"][:3] == ["20", "20", "0"] and lines["features"][:3] == ["2", "2", "0"]
    proc = subprocess.run([sys.executable, "-m", "brainalign.cli", "run", str(tmp_path / "study.json"),
                           "--dry-run", "-o", str(tmp_path / "fresh")], capture_output=True, text=True, timeout=300)
    lines = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines() if line and line[0].isalpha()}
    assert lines["fit"][:3] == ["20", "0", "20"] and not (tmp_path / "fresh").exists()


def test_a_study_cell_equals_sweep_layers(sequential_study, alice_dir, random_gpt2, feature_cache):
    """The study's tasks compute exactly what sweep_layers computes for one model and subject."""
    from threadpoolctl import threadpool_limits

    from brainalign.alignment import hrf_design
    from brainalign.datasets import load_alice
    from brainalign.encoding import sweep_layers
    from brainalign.features import extract_text_features

    _, run = sequential_study
    data = load_alice(alice_dir / "alice_brennan2016", subject="s26")
    features = extract_text_features(data.timeline, str(random_gpt2), context_tokens=32, cache_dir=feature_cache)
    with threadpool_limits(1):
        direct = sweep_layers(hrf_design(features, data.recording), data.recording, baseline=data.baseline_design,
                              backend="numpy", alphas=[1.0, 100.0, 10000.0], gain_bootstraps=200)
    cell = run.results().sweep("random-gpt2", "s26")
    np.testing.assert_array_equal(cell.score_matrix(), direct.score_matrix())
    np.testing.assert_array_equal(cell.baseline_scores(), direct.baseline_scores())
    pd.testing.assert_frame_equal(cell.gain_table(), direct.gain_table())
    assert cell.config["baseline_combination"] == direct.config["baseline_combination"] == "gated principal components"
