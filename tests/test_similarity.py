"""Representational similarity: planted RDMs recovered, CKA / shape invariances, identification, searchlight."""

import mne
import numpy as np
import pytest
from rsatoolbox.rdm import RDMs

from brainalign.core import BrainalignInputError, Recording
from brainalign.encoding import cross_validate
from brainalign.similarity import (
    angular_shape_distance,
    cka,
    cka_with_ci,
    compute_rdm,
    evaluate_models,
    identification_scores,
    layer_rdms,
    layer_roi_profile,
    procrustes_distance,
    roi_rdms,
    searchlight_map,
    searchlight_rdms,
    shape_distance_with_ci,
    split_half_ceiling,
    time_resolved_rdms,
    time_resolved_rsa,
    top_k_accuracy,
    two_vs_two,
)

N_COND = 12


def _planted_subjects(n_subjects=8, n_runs=4, n_voxels=80, noise=1.5, seed=0):
    """Condition patterns = a planted latent geometry seen through each subject's own voxel mixing, plus noise."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(N_COND, 5))
    latent[:6, 0] += 2.0  # two categories along the first latent axis
    subjects = []
    conditions = np.tile(np.arange(N_COND), n_runs)
    runs = np.repeat(np.arange(n_runs), N_COND)
    for _ in range(n_subjects):
        W = rng.normal(size=(5, n_voxels))
        X = latent[conditions] @ W + noise * np.sqrt(5) * rng.normal(size=(conditions.size, n_voxels))
        subjects.append(X)
    return latent, subjects, conditions, runs


def test_planted_rdm_recovered_with_noise_ceiling_containing_truth():
    from rsatoolbox.rdm import concat

    latent, subjects, conditions, runs = _planted_subjects()
    data = concat([compute_rdm(X, conditions, method="crossnobis", runs=runs, name=f"sub-{i}")
                   for i, X in enumerate(subjects)])
    rng = np.random.default_rng(1)
    models = {"truth": compute_rdm(latent, np.arange(N_COND), method="euclidean"),
              "wrong": compute_rdm(rng.normal(size=(N_COND, 5)), np.arange(N_COND), method="euclidean")}
    for method in ("spearman", "cosine_cov"):
        table = evaluate_models(models, data, method=method, bootstrap="rdm", n_bootstraps=300).set_index("model")
        truth, wrong = table.loc["truth"], table.loc["wrong"]
        assert truth["ci_low"] > max(wrong["ci_high"], 0), table
        assert truth["noise_ceiling_low"] <= truth["score"] <= truth["noise_ceiling_high"], table
        assert wrong["score"] < truth["noise_ceiling_low"]
    # a bootstrap over stimuli works too, and the wrong model's interval covers zero-ish similarity
    table = evaluate_models(models, data, method="tau-a", bootstrap="pattern", n_bootstraps=200,
                            pattern_groups=np.arange(N_COND) // 2).set_index("model")
    assert table.loc["truth", "ci_low"] > table.loc["wrong", "ci_high"]


def test_split_half_reliability_and_layer_roi_profile():
    latent, subjects, conditions, runs = _planted_subjects(n_subjects=1, noise=1.0)
    X = subjects[0]
    odd, even = runs % 2 == 1, runs % 2 == 0
    half = split_half_ceiling(compute_rdm(X[odd], conditions[odd]), compute_rdm(X[even], conditions[even]))
    assert 0.5 < half["reliability"] < half["ceiling"] <= 1.0
    # ROI A carries the planted geometry, ROI B pure noise; the "layers" are the truth and noise
    Xb = np.hstack([X, np.random.default_rng(3).normal(size=X.shape)])
    rois = roi_rdms(Xb, conditions, {"A": np.arange(80), "B": np.arange(80, 160)})
    layers = layer_rdms({"latent": latent, "noise": np.random.default_rng(4).normal(size=(N_COND, 5))})
    profile = layer_roi_profile(layers, rois, n_bootstraps=200).set_index(["layer", "roi"])
    assert profile.loc[("latent", "A"), "ci_low"] > 0.3
    assert profile.loc[("latent", "B"), "ci_low"] < 0 < profile.loc[("latent", "B"), "ci_high"]
    assert np.isnan(profile["noise_ceiling_low"]).all()  # one data RDM: no between-subject ceiling


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("debiased", [True, False])
def test_cka_invariances(kernel, debiased):
    for seed in range(5):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(60, 8))
        Y = X @ rng.normal(size=(8, 6)) + rng.normal(size=(60, 6))  # related, not identical
        base = cka(X, Y, kernel=kernel, debiased=debiased)
        Q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
        assert cka(X @ Q, Y, kernel=kernel, debiased=debiased) == pytest.approx(base, abs=1e-9)
        assert cka(7.5 * X, Y, kernel=kernel, debiased=debiased) == pytest.approx(base, abs=1e-9)
        assert cka(X + 3.0, Y, kernel=kernel, debiased=debiased) == pytest.approx(base, abs=1e-9)
        # an arbitrary (badly conditioned) invertible linear map changes the geometry and the score
        U, _ = np.linalg.qr(rng.normal(size=(8, 8)))
        A = U @ np.diag(np.logspace(0, 2, 8)) @ Q
        assert abs(cka(X @ A, Y, kernel=kernel, debiased=debiased) - base) > 0.02


def test_debiased_cka_removes_the_bias_of_few_stimuli_many_units():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(30, 500)), rng.normal(size=(30, 500))  # independent
    assert cka(X, Y, debiased=False) > 0.5  # the biased estimator sees similarity in noise
    assert abs(cka(X, Y, debiased=True)) < 0.1
    out = cka_with_ci(X[:, :5], X[:, :5] @ rng.normal(size=(5, 5)), n_bootstraps=100, groups=np.arange(30) // 3)
    assert out["ci_low"] <= out["score"] <= out["ci_high"] and out["ci_low"] > 0.5


def test_shape_metrics():
    for seed in range(5):
        rng = np.random.default_rng(seed)
        X, Y, Z = (rng.normal(size=(40, 6)) for _ in range(3))
        Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
        assert angular_shape_distance(X, 3 * X @ Q + 1) == pytest.approx(0, abs=1e-6)
        assert procrustes_distance(X, X @ Q) == pytest.approx(0, abs=1e-6)
        A = np.diag(np.logspace(0, 2, 6))
        assert angular_shape_distance(X, X @ A) > 0.1
        # a metric: symmetric, triangle inequality
        dxy, dyz, dxz = angular_shape_distance(X, Y), angular_shape_distance(Y, Z), angular_shape_distance(X, Z)
        assert dxy == pytest.approx(angular_shape_distance(Y, X))
        assert dxz <= dxy + dyz + 1e-12
    # different widths compare (zero-padding)
    assert 0 <= angular_shape_distance(X, X[:, :3]) < np.pi / 2
    out = shape_distance_with_ci(X, X @ A, n_bootstraps=50)
    assert out["ci_low"] > 0


def test_identification_from_cross_validated_predictions():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(200, 10))
    Y = F @ rng.normal(size=(10, 30)) + 2.0 * rng.normal(size=(200, 30))
    rec = Recording(Y, sampling_period=1.0)
    result = cross_validate(F, rec, backend="numpy", gap_s=0, return_predictions=True)
    table = identification_scores(result, rec, ks=(1, 10), n_bootstraps=200, groups=np.arange(200) // 10)
    table = table.set_index("score")
    assert table.loc["2v2", "ci_low"] > 0.8
    assert table.loc["top-10", "ci_low"] > table.loc["top-10", "chance"]
    assert table.loc["top-1", "chance"] == pytest.approx(1 / 200)
    # predictions of the wrong stimuli are at chance
    perm = rng.permutation(200)
    null = identification_scores(Y, result.predictions[perm], ks=(10,), n_bootstraps=200).set_index("score")
    assert null.loc["2v2", "ci_low"] < 0.5 < null.loc["2v2", "ci_high"]
    assert two_vs_two(Y, Y) == 1.0 and top_k_accuracy(Y, Y, k=1) == 1.0


def test_searchlight_finds_the_planted_region():
    rng = np.random.default_rng(0)
    mask = np.zeros((8, 8, 8), dtype=bool)
    mask[1:7, 1:7, 1:7] = True
    n_vox = int(mask.sum())
    conditions = np.tile(np.arange(N_COND), 3)
    latent = rng.normal(size=(N_COND, 4))
    X = rng.normal(size=(conditions.size, n_vox))
    coords = np.argwhere(mask)
    planted = (coords[:, 0] <= 3) & (coords[:, 1] <= 3)  # one corner of the mask carries the geometry
    X[:, planted] += 2 * latent[conditions] @ rng.normal(size=(4, int(planted.sum())))
    sl = searchlight_rdms(X, conditions, mask, radius=1.5, threshold=0.3)
    scores = searchlight_map(compute_rdm(latent, np.arange(N_COND), method="euclidean"), sl, n_voxels=n_vox)
    assert np.nanmean(scores[planted]) > 0.5
    assert np.nanmean(scores[~planted & (coords[:, 0] >= 5) & (coords[:, 1] >= 5)]) < 0.2


def test_time_resolved_rsa_peaks_where_the_geometry_is_planted():
    rng = np.random.default_rng(0)
    n_ep, n_ch, sfreq = 48, 20, 100.0
    cond = np.tile(np.arange(6), 8)
    latent = rng.normal(size=(6, 3))
    times = np.arange(-0.2, 0.5, 1 / sfreq)
    data = rng.normal(size=(n_ep, n_ch, times.size))
    window = (times >= 0.1) & (times <= 0.3)
    data[:, :, window] += 2 * (latent[cond] @ rng.normal(size=(3, n_ch)))[:, :, None]
    events = np.column_stack([np.arange(n_ep) * 100, np.zeros(n_ep, int), cond + 1])
    epochs = mne.EpochsArray(data, mne.create_info(n_ch, sfreq, "eeg"), events, tmin=-0.2,
                             event_id={f"c{i}": i + 1 for i in range(6)}, verbose="error")
    rdms = time_resolved_rdms(epochs, method="euclidean")
    model = compute_rdm(latent, [f"c{i}" for i in range(6)], method="euclidean")
    table = time_resolved_rsa({"latent": model}, rdms, n_bootstraps=100).set_index("time")
    curve = table["score"]
    inside = (curve.index >= 0.12) & (curve.index <= 0.28)
    assert curve[inside].min() > 0.6
    assert abs(curve[curve.index < 0].mean()) < 0.25
    assert (table.loc[inside, "ci_low"] > 0).all()
    # before the stimulus the interval covers 0 at most time points
    before = table[table.index < 0]
    assert ((before["ci_low"] < 0) & (before["ci_high"] > 0)).mean() > 0.8


def test_bad_inputs():
    with pytest.raises(BrainalignInputError, match="kernel"):
        cka(np.ones((5, 2)), np.ones((5, 2)), kernel="poly")
    with pytest.raises(BrainalignInputError, match="same stimuli"):
        cka(np.random.default_rng(0).normal(size=(6, 2)), np.random.default_rng(1).normal(size=(7, 2)))
    with pytest.raises(BrainalignInputError, match="crossnobis"):
        compute_rdm(np.random.default_rng(0).normal(size=(6, 3)), [0, 1, 2] * 2, method="crossnobis")
    with pytest.raises(BrainalignInputError, match="conditions"):
        evaluate_models({"m": RDMs(np.ones(3))}, RDMs(np.ones((2, 6))))
    with pytest.raises(BrainalignInputError, match="method"):
        evaluate_models({"m": RDMs(np.ones(3))}, RDMs(np.ones((2, 3))), method="pearson")
    with pytest.raises(BrainalignInputError, match="constant"):
        angular_shape_distance(np.ones((5, 2)), np.random.default_rng(0).normal(size=(5, 2)))
    with pytest.raises(BrainalignInputError, match="ks"):
        identification_scores(np.eye(4), np.eye(4), ks=(9,))
    with pytest.raises(BrainalignInputError, match="mask has"):
        searchlight_rdms(np.ones((4, 3)), [0, 1, 0, 1], np.ones((2, 2, 2), bool))


def test_haxby_category_rdm_separates_faces_and_houses(shared_data):
    """Real fMRI: the ventral-temporal category RDM is reliable across halves and faces/houses are furthest apart."""
    import nibabel as nib
    import pandas as pd
    from nilearn.maskers import NiftiMasker

    folder = shared_data / "haxby2001_subset"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    attrs = pd.read_csv(folder / "attributes_literal.txt", sep=" ", header=None, names=["label", "chunk"])
    labels = attrs["label"].shift(2).fillna("rest").to_numpy()  # ~5 s haemodynamic delay
    runs = attrs["chunk"].to_numpy()
    X = NiftiMasker(nib.load(folder / "mask.nii.gz"), standardize="zscore_sample", detrend=True,
                    runs=runs).fit_transform(nib.load(folder / "bold.nii.gz"))
    keep = labels != "rest"
    X, labels, runs = X[keep], labels[keep], runs[keep]
    rdm = compute_rdm(X, labels, method="crossnobis", runs=runs)
    conds = list(rdm.pattern_descriptors["conditions"])
    D = rdm.get_matrices()[0]
    i, j = np.unravel_index(np.argmax(D), D.shape)
    assert {conds[i], conds[j]} == {"face", "house"}
    odd = np.isin(runs, np.unique(runs)[1::2])
    halves = [compute_rdm(X[m], labels[m], method="crossnobis", runs=runs[m]) for m in (odd, ~odd)]
    assert split_half_ceiling(*halves)["reliability"] > 0.2  # measured 0.30 (Spearman)
