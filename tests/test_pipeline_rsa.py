"""RSA as a study analysis: a layer's geometry planted in simulated subjects is found by the study's rsa table.

A user-files study (one saved FeatureSet with three random layers, three
subjects, one run of ~400 s at TR 2 s): every subject's 30 voxels are a
subject-specific random mixture of layer ``b``'s HRF design plus noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.core import FeatureSet, Recording, Timeline
from brainalign.pipeline import ConfigError, StudyResults, parse_config, run_study

LAYERS = ["a", "b", "c"]
N_WORDS, TR = 300, 2.0


def _write_study(root, *, n_subjects=3, noise=1.0):
    from brainalign.alignment import make_designs

    rng = np.random.default_rng(0)
    vocabulary = "the cat sat on a mat dog ran after bird in garden tree sun moon".split()
    words = [vocabulary[i] for i in rng.integers(0, len(vocabulary), N_WORDS)]
    onsets = np.arange(N_WORDS) * 1.2 + 2.0
    pd.DataFrame({"token": words, "onset": onsets, "offset": onsets + 0.4}).to_csv(root / "words.tsv", sep="\t",
                                                                                  index=False)
    timeline = Timeline(words, onsets, onsets + 0.4)
    # features varying over a few words (a moving average of white noise): segments differ by more than noise,
    # and the layers share no slow drift (random walks would all look alike: far in time = far in features)
    kernel = np.ones(6) / 6
    layers = {name: np.stack([np.convolve(col, kernel, "same") for col in rng.normal(size=(6, N_WORDS))], axis=1)
              for name in LAYERS}
    FeatureSet(layers, timeline, {"model_id": "planted"}).save(root / "features")
    n = int(np.ceil((onsets[-1] + 16) / TR))
    grid = Recording(rng.normal(size=(n, 1)), TR)  # only its sample grid is used
    design = make_designs(FeatureSet({"b": layers["b"]}, timeline), grid, "hrf")["b"].X
    design = (design - design.mean(0)) / design.std(0)
    files = {}
    for i in range(n_subjects):
        voxels = design @ rng.normal(size=(design.shape[1], 30)) + noise * rng.normal(size=(n, 30))
        np.savetxt(root / f"s{i}.txt", voxels)
        files[f"sub-{i}"] = [f"s{i}.txt"]
    return {"output": "out", "stimulus": {"words": "words.tsv"},
            "recording": {"files": files, "tr": TR, "clean": "zscore"},
            "models": [{"name": "planted", "path": "features"}],
            "encoding": {"backend": "numpy", "alphas": "0,4,5", "gap_s": 6.0, "gain_bootstraps": 0},
            "analysis": {"kinds": ["rsa"]}, "rsa": {"segment_s": 10.0, "rdm_method": "euclidean", "n_bootstraps": 200},
            "maps": False, "execution": {"threads_per_worker": 1}}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("rsa-study")
    return root, _write_study(root)


@pytest.fixture(scope="module")
def rsa_run(planted):
    root, data = planted
    return run_study(parse_config(data, base_dir=root), output=root / "rsa-only")


def test_planted_layer_ranks_first_with_ci_above_zero_inside_the_ceiling(rsa_run):
    # rsa alone: no baseline, fit or sweep tasks (user files: each subject its own grid, so its own designs)
    assert rsa_run.ran == {"recording": 3, "features": 1, "design": 9, "rdm": 3, "rsa": 3, "ceiling": 1,
                           "study": 1}
    results = StudyResults(rsa_run.output)
    table = results.rsa
    assert list(table.columns) == ["model", "layer", "layer_index", "depth", "recording", "kind", "roi", "score",
                                   "ci_low", "ci_high", "p", "p_fdr", "ceiling_low", "ceiling_high"]
    assert len(table) == 3 * 3 and set(table.roi) == {"all"}
    for _, frame in table.groupby("recording"):
        frame = frame.set_index("layer")
        assert frame["score"].idxmax() == "b"
        assert frame.loc["b", "ci_low"] > 0 and frame.loc["b", "p_fdr"] < 0.05
        assert frame.loc["b", "ci_low"] > frame.drop("b")["score"].max()
    b = table[table.layer == "b"]
    assert (b.ceiling_low < b.ceiling_high).all()
    # the truth's mean score lies in the leave-one-subject-out ceiling
    assert b.ceiling_low.iloc[0] - 0.05 <= b.score.mean() <= b.ceiling_high.iloc[0]
    assert results.summary["rsa_headline"]["planted"]["best_layer"] == "b"
    assert pd.read_csv(rsa_run.output / "study_scores.tsv", sep="\t").empty


def test_resume_recomputes_nothing(planted, rsa_run):
    root, data = planted
    again = run_study(parse_config(data, base_dir=root), output=root / "rsa-only")
    assert again.ran == {}


def test_encoding_and_rsa_share_features_and_designs(planted, rsa_run):
    root, data = planted
    both = {**data, "analysis": {"kinds": ["encoding", "rsa"]}}
    run = run_study(parse_config(both, base_dir=root), output=root / "rsa-only")
    # the recordings, features, designs and RSA tasks are the rsa-only run's: only the encoding is new
    assert run.ran == {"baseline": 3, "fit": 9, "sweep": 3, "study": 1}
    results = StudyResults(run.output)
    assert len(results.table) and len(results.rsa) == 9
    profile = results.rsa_profiles()
    assert set(profile.columns) >= {"model", "layer", "roi", "score", "ci_low", "ci_high", "n_recordings", "n_fdr"}


def test_report_has_the_rsa_section(planted, rsa_run):
    from brainalign.report import study_report

    page = study_report(rsa_run.output).read_text()
    assert "Representational similarity" in page and "noise ceiling" in page


@pytest.mark.parametrize("rsa, message", [
    ({"segmnt_s": 10.0}, "config [rsa]: unknown key 'segmnt_s' (did you mean 'segment_s'?)"),
    ({"conditions": "events", "segment_s": 10.0}, "config [rsa]: key 'segment_s' applies to conditions"),
    ({"comparison": "pearson"}, "comparison"),
])
def test_bad_rsa_options_are_named(planted, rsa, message):
    root, data = planted
    with pytest.raises(ConfigError) as err:
        parse_config({**data, "rsa": rsa}, base_dir=root)
    assert message in str(err.value)


def test_rois_split_the_targets_and_a_wrong_target_is_named(planted):
    root, data = planted
    # the planted geometry is in every voxel: both halves find layer b
    halves = {**data, "rsa": {**data["rsa"], "rois": {"first": list(range(15)), "second": list(range(15, 30))}}}
    table = StudyResults(run_study(parse_config(halves, base_dir=root), output=root / "rois").output).rsa
    assert set(table.roi) == {"first", "second"} and len(table) == 3 * 3 * 2
    for _, frame in table.groupby(["recording", "roi"]):
        assert frame.set_index("layer")["score"].idxmax() == "b"
    wrong = {**data, "rsa": {**data["rsa"], "rois": {"first": [0, 99]}}}
    from brainalign.core import BrainalignInputError

    with pytest.raises(BrainalignInputError, match=r"config \[rsa\] rois: region 'first' lists 99"):
        run_study(parse_config(wrong, base_dir=root), output=root / "wrong-rois")


def test_rsa_options_without_rsa_kind_are_refused(planted):
    root, data = planted
    with pytest.raises(ConfigError, match=r"\[rsa\] options are given but \[analysis\] kinds has no 'rsa'"):
        parse_config({**data, "analysis": {"kinds": ["encoding"]}}, base_dir=root)


def test_haxby_study_form_matches_the_library_split_half_ceiling(tmp_path):
    """Real data: the study's events conditions and split-half ceiling equal the library's on the same fMRI."""
    from conftest import shared_data_dir

    from brainalign.datasets.haxby2001_subset import load_haxby_subset
    from brainalign.similarity import compute_rdm, split_half_ceiling

    root = shared_data_dir() / "haxby2001_subset"
    if not root.is_dir():
        pytest.skip(f"real Haxby data {root} is absent (set BRAINALIGN_SHARED_DATA to its location)")
    runs = list(range(1, 13))
    data = load_haxby_subset(root, runs=runs)
    tokens = [str(t) for t in data.timeline.tokens]
    cats = sorted(set(tokens))
    FeatureSet({"category": np.array([[float(t == c) for c in cats] for t in tokens]),
                "animacy": np.array([[float(t in ("face", "cat")), float(t == "scrambledpix")] for t in tokens])},
               data.timeline).save(tmp_path / "codings")
    config = parse_config({"output": "out", "dataset": {"name": "haxby2001_subset", "path": str(root),
                                                        "options": {"runs": runs}},
                           "models": [{"name": "codings", "path": "codings"}], "analysis": {"kinds": ["rsa"]},
                           "rsa": {"conditions": "events", "rdm_method": "crossnobis", "comparison": "tau-a",
                                   "n_bootstraps": 200}}, base_dir=tmp_path)
    table = StudyResults(run_study(config).output).rsa
    assert list(table.layer) == ["category", "animacy"] and set(table.roi) == {"all"}
    # the same halves by hand: volumes inside each block 5 s (2 TRs) later, odd vs even runs
    rec = data.recording
    labels = np.full(rec.n_samples, "", dtype=object)
    t_runs = np.asarray(data.timeline.runs).astype(str)
    for run in dict.fromkeys(np.asarray(rec.runs).astype(str)):
        rows = np.flatnonzero(np.asarray(rec.runs).astype(str) == run)
        times = np.arange(rows.size) * rec.sampling_period
        for e in np.flatnonzero(t_runs == run):
            inside = (times >= data.timeline.onsets[e] + 5) & (times < data.timeline.offsets[e] + 5)
            labels[rows[inside]] = tokens[e]
    runs_of = np.asarray(rec.runs).astype(str)
    odd = np.isin(runs_of, sorted(set(runs_of))[1::2])
    halves = [compute_rdm(rec.data[m & (labels != "")], labels[m & (labels != "")].astype(str), method="crossnobis",
                          runs=runs_of[m & (labels != "")]) for m in (odd, ~odd)]
    half = split_half_ceiling(*halves, method="tau-a")
    assert table.ceiling_low.iloc[0] == pytest.approx(half["reliability"], abs=1e-9)
    assert table.ceiling_high.iloc[0] == pytest.approx(half["ceiling"], abs=1e-9)
    # one-hot codings are equidistant: their RDM is flat and scores 0, whatever the brain
    assert table.set_index("layer").loc["category", "score"] == 0


def test_group_average_is_its_own_row_set(planted):
    root, data = planted
    with_group = {**data, "dataset": {"name": "files", "group_average": True}}
    run = run_study(parse_config(with_group, base_dir=root), output=root / "with-group")
    results = StudyResults(run.output)
    rsa = results.rsa
    group = rsa[rsa.kind == "group"].set_index("layer")
    assert list(rsa[rsa.kind == "group"].recording.unique()) == ["group"]
    # averaging the subjects' voxels mixes their different voxel codes, yet the planted geometry stays first
    assert group["score"].idxmax() == "b" and group["ceiling_low"].isna().all()
    subjects = results.rsa_profiles(recordings="subjects")
    alone = results.rsa_profiles(recordings="group")
    assert (subjects.n_recordings == 3).all() and (alone.n_recordings == 1).all()
    assert alone.set_index("layer").loc["b", "ci_low"] == group.loc["b", "ci_low"]


def test_bootstrap_over_subjects_adds_all_subject_rows_and_recomputes_only_the_comparisons(planted, rsa_run):
    import shutil

    root, data = planted
    shutil.copytree(rsa_run.output, root / "over-subjects")
    both = {**data, "rsa": {**data["rsa"], "bootstrap": "subjects"}}
    run = run_study(parse_config(both, base_dir=root), output=root / "over-subjects")
    # the brain RDMs and the ceiling do not depend on how the interval is drawn
    assert run.ran == {"rsa": 3, "rsa_subjects": 1, "study": 1}
    results = StudyResults(run.output)
    together = results.rsa[results.rsa.kind == "all-subjects"].set_index("layer")
    assert list(together.recording.unique()) == ["all-subjects"]
    assert together["score"].idxmax() == "b" and together.loc["b", "ci_low"] > together.drop("b")["ci_high"].max()
    # the mean over subjects, and the ceiling of those subjects
    subjects = results.rsa[results.rsa.kind == "subject"]
    assert together.loc["b", "score"] == pytest.approx(subjects[subjects.layer == "b"].score.mean())
    assert together.loc["b", "ceiling_low"] == pytest.approx(subjects.ceiling_low.iloc[0])
    assert len(results.rsa_profiles(recordings="all-subjects")) == 3
    from brainalign.report import study_report

    assert "Subjects together (bootstrap over subjects)" in study_report(run.output).read_text()
