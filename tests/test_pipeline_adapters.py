"""Every registered dataset is reachable from a study config; miniature layouts run through the study path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _layouts import broderick_copy, lebel_copy, meg_masc_copy, narratives_copy

from brainalign.core import BrainalignInputError, Recording, Timeline
from brainalign.datasets import REGISTRY
from brainalign.pipeline import (
    DatasetAdapter,
    StudyResults,
    SubjectData,
    list_adapters,
    parse_config,
    plan_study,
    register_adapter,
    run_study,
)


@pytest.fixture(scope="module")
def random_gpt2(tmp_path_factory):
    from brainalign.features import make_random_text_model

    return make_random_text_model(tmp_path_factory.mktemp("models") / "gpt2", n_layers=1, hidden_size=16)


def _study(tmp_path, model, dataset: dict, **sections) -> dict:
    config = {"output": str(tmp_path / "out"), "cache_dir": str(tmp_path / "cache"), "dataset": dataset,
              "models": [{"name": "tiny", "model": str(model)}], "features": {"context_tokens": 8},
              "encoding": {"backend": "numpy", "alphas": [1.0, 1000.0], "gain_bootstraps": 50}}
    config.update(sections)
    return config


def test_every_dataset_with_a_loader_has_an_adapter():
    with_loaders = {"alice_brennan2016", "narratives", "lebel2023", "pereira2018", "meg_masc", "broderick2018",
                    "haxby2001_subset", "eeglab_tutorial"}
    assert with_loaders <= set(REGISTRY)
    assert with_loaders | {"files"} <= set(list_adapters())


def test_narratives_layout_through_the_study_path(tmp_path, rng, random_gpt2):
    root = narratives_copy(tmp_path / "narratives", rng, n_vols=120)
    # a second participant of the same story
    import shutil

    for sub in ("sub-001",):
        shutil.copytree(root / sub, root / "sub-002")
        for f in (root / "sub-002" / "func").iterdir():
            f.rename(f.with_name(f.name.replace("sub-001", "sub-002")))
    deriv = root / "derivatives" / "afni-nosmooth"
    shutil.copytree(deriv / "sub-001", deriv / "sub-002")
    for f in (deriv / "sub-002" / "func").iterdir():
        f.rename(f.with_name(f.name.replace("sub-001", "sub-002")))
    config = parse_config(_study(tmp_path, random_gpt2, {"name": "narratives", "path": str(root),
                                                         "options": {"task": "slumlord"}, "group_average": True},
                                 encoding={"backend": "numpy", "gap_s": 6.0, "alphas": [1.0, 1000.0],
                                           "gain_bootstraps": 50}))
    plan = plan_study(config)
    assert plan.subjects == ["sub-001", "sub-002"] and plan.recordings == ["sub-001", "sub-002", "group"]
    run = run_study(config)
    results = StudyResults.load(run.output)
    assert set(results.table.subject) == {"sub-001", "sub-002", "group"}
    assert run.ran["features"] == 1  # one story, extracted once for both participants
    sweep = results.sweep("tiny", "sub-001")
    assert sweep.score_matrix().shape == (2, 8)  # embeddings + layer.0, 8 voxels in the mask
    assert (run.output / "tiny" / "sub-001" / "maps" / "best_layer.nii.gz").is_file()


def test_meg_masc_layout_through_the_study_path(tmp_path, rng, random_gpt2):
    root = meg_masc_copy(tmp_path / "meg_masc", rng, subjects=("01", "02"))
    config = parse_config(_study(tmp_path, random_gpt2, {"name": "meg_masc", "path": str(root),
                                                         "options": {"sfreq": 50.0}},
                                 alignment={"method": "auto", "tmin": 0.0, "tmax": 0.2}))
    run = run_study(config)
    results = StudyResults.load(run.output)
    assert results.recordings == ["sub-01", "sub-02"]
    design = run.plan.tasks[[t.kind for t in run.plan.tasks].index("design")]
    assert design.params["method"] == "lagged"  # the dataset's default for M/EEG
    assert (run.output / "tiny" / "sub-02" / "maps" / "layer_scores-ave.fif").is_file()
    assert set(results.table.target) == {"MEG 001", "MEG 002", "MEG 003"}


def test_lebel_broderick_and_pereira_layouts(tmp_path, rng, random_gpt2):
    from scipy.io import savemat

    lebel = lebel_copy(tmp_path / "lebel", rng)
    run = run_study(parse_config(_study(tmp_path / "l", random_gpt2, {
        "name": "lebel2023", "path": str(lebel), "options": {"stories": ["storya"], "trim_start": 0,
                                                             "trim_end": 0}},
        encoding={"backend": "numpy", "gap_s": 4.0, "cv": 3, "alphas": [1.0], "gain_bootstraps": 0})))
    assert StudyResults.load(run.output).recordings == ["UTS01"]

    broderick, _ = broderick_copy(tmp_path / "broderick", rng, n=512)
    run = run_study(parse_config(_study(tmp_path / "b", random_gpt2, {
        "name": "broderick2018", "path": str(broderick), "subjects": [1], "options": {"runs": [1, 2]}},
        alignment={"tmin": 0.0, "tmax": 0.1})))
    table = StudyResults.load(run.output).table
    assert set(table.subject) == {"Subject1"} and table.target.nunique() == 128

    pereira = tmp_path / "pereira"
    (pereira / "M02").mkdir(parents=True)
    n = 243
    sentences = np.empty((n, 1), dtype=object)
    for i in range(n):
        sentences[i, 0] = f"Sentence number {i}."
    savemat(pereira / "M02" / "data_243sentences.mat", {
        "examples_passagesentences": rng.normal(size=(n, 5)), "keySentences": sentences})
    run = run_study(parse_config(_study(tmp_path / "p", random_gpt2, {
        "name": "pereira2018", "path": str(pereira), "options": {"experiment": 3}},
        encoding={"backend": "numpy", "gap_s": 2.0, "alphas": [1.0, 1000.0], "gain_bootstraps": 50})))
    assert run.plan.tasks[[t.kind for t in run.plan.tasks].index("design")].params["method"] == "epochs"
    assert StudyResults.load(run.output).table.shape[0] == 2 * 5


def test_haxby_test_copy_through_the_study_path(shared_data, tmp_path, random_gpt2):
    run = run_study(parse_config(_study(tmp_path, random_gpt2, {
        "name": "haxby2001_subset", "path": str(shared_data / "haxby2001_subset")},
        encoding={"backend": "numpy", "alphas": [1.0, 1000.0], "autocorrelation": False, "gain_bootstraps": 0})))
    sweep = StudyResults.load(run.output).sweep("tiny", "sub-001")
    assert sweep.score_matrix().shape == (2, 530) and set(sweep.baselines) == set()
    assert (run.output / "tiny" / "sub-001" / "maps" / "best_layer.nii.gz").is_file()


class _PlantedAdapter(DatasetAdapter):
    """Two simulated subjects whose ROI 0 follows the word rate: the baseline must find it."""

    name = "test_planted"

    def list_subjects(self, root, options):
        return ["p1", "p2"]

    def grid_id(self, subject, options):
        return "shared"

    def load(self, subject, root, options):
        from brainalign.alignment import event_rate_design

        rng = np.random.default_rng(int(subject[1:]))
        words = ["the", "cat", "sat", "on", "a", "mat"] * 40
        onsets = np.sort(rng.uniform(5, 580, size=len(words)))
        timeline = Timeline(words, onsets, onsets + 0.3)
        data = rng.normal(size=(300, 3))
        grid = Recording(data, 2.0, kind="roi", subject=subject)
        rate = event_rate_design(timeline, grid)
        data[:, 0] += 3 * (rate.X[:, 0] - rate.X[:, 0].mean()) / rate.X[:, 0].std()
        return SubjectData(timeline, Recording(data, 2.0, kind="roi", subject=subject, target_names=["a", "b", "c"]))


def test_a_new_dataset_is_one_adapter(tmp_path, random_gpt2):
    register_adapter(_PlantedAdapter(), replace=True)
    run = run_study(parse_config(_study(tmp_path, random_gpt2, {"name": "test_planted"},
                                        baseline={"word_rate": True, "dataset": False})))
    table = StudyResults.load(run.output).table
    by_target = table.groupby("target").r_baseline.mean()
    assert by_target["a"] > 0.6 and abs(by_target["b"]) < 0.2 and abs(by_target["c"]) < 0.2
    assert run.ran["design"] == 2  # one shared grid: designs computed once for both subjects
    with pytest.raises(BrainalignInputError, match="already registered"):
        register_adapter(_PlantedAdapter())


def test_files_config_of_0_1_0_still_runs(tmp_path, rng, random_gpt2):
    words = "the cat sat on the mat and then the dog ran after a bird in the garden".split() * 6
    onsets = np.arange(len(words)) * 1.3 + 2.0
    pd.DataFrame({"token": words, "onset": onsets, "offset": onsets + 0.4}).to_csv(
        tmp_path / "words.tsv", sep="\t", index=False)
    n = int(np.ceil((onsets[-1] + 16) / 2.0))
    np.savetxt(tmp_path / "a.txt", rng.normal(size=(n, 3)))
    np.savetxt(tmp_path / "b.txt", rng.normal(size=(n, 3)))
    config = {"output": "out", "stimulus": {"words": "words.tsv"},
              "recording": {"files": {"sub-a": ["a.txt"], "sub-b": ["b.txt"]}, "tr": 2.0, "clean": "zscore"},
              "features": {"model": str(random_gpt2), "context_tokens": 8},
              "baseline": {"word_rate": True}, "encoding": {"backend": "numpy", "alphas": "0,4,5", "gap_s": 6.0}}
    run = run_study(parse_config(config, base_dir=tmp_path))
    assert StudyResults.load(tmp_path / "out").recordings == ["sub-a", "sub-b"] and run.ran["fit"] == 4
    config["recording"]["tr_s"] = 2.0
    with pytest.raises(BrainalignInputError, match=r"\[recording\]: unknown key 'tr_s' \(did you mean 'tr'\?\)"):
        run_study(parse_config(config, base_dir=tmp_path), output=tmp_path / "other")
