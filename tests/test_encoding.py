"""Encoding engine: ridge solver, cross-validation, layer sweeps."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from brainalign.core import BrainalignInputError, DesignMatrix, EncodingResult, Recording
from brainalign.encoding import (
    ContiguousBlockCV,
    LayerSweep,
    LeaveOneRunOut,
    RidgeEncoder,
    ShuffledKFold,
    autocorrelation_baseline,
    correlation_score,
    cross_validate,
    r2_score,
    sweep_layers,
)
from brainalign.encoding._solvers import solve_ridge_cv


def _planted(rng, n=300, p=20, t=12, noise=1.0, runs=None):
    X = rng.normal(size=(n, p))
    W = rng.normal(size=(p, t))
    Y = X @ W + noise * rng.normal(size=(n, t)) * np.std(X @ W, axis=0)
    return X, W, Y


# --------------------------------------------------------------------------- solver
@pytest.mark.parametrize("shape", [(240, 30), (80, 150)], ids=["primal", "kernel"])
@pytest.mark.parametrize("backend_name", ["numpy", "torch"])
def test_solver_matches_himalaya_ridgecv(rng, shape, backend_name):
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV
    from sklearn.model_selection import KFold

    n, p = shape
    X = (rng.normal(size=(n, p)) + 0.3).astype(np.float32)
    Y = (X @ rng.normal(size=(p, 25)) * rng.uniform(0, 0.3, 25) + 3 * rng.normal(size=(n, 25)) + 1).astype(np.float32)
    X_test = rng.normal(size=(40, p)).astype(np.float32)
    alphas = np.logspace(-1, 5, 10)
    splits = list(KFold(5).split(X))
    backend = set_backend(backend_name)
    try:
        ours = solve_ridge_cv(X, Y, alphas, splits, X_test=X_test, backend=backend, n_targets_batch=7)
        ref = RidgeCV(alphas=alphas, cv=splits, fit_intercept=True, solver_params={"warn": False}).fit(X, Y)
        ref_pred = backend.to_numpy(ref.predict(X_test))
        np.testing.assert_allclose(ours["best_alphas"], backend.to_numpy(ref.best_alphas_), rtol=1e-5)
        np.testing.assert_allclose(ours["weights"], backend.to_numpy(ref.coef_), atol=2e-4, rtol=1e-3)
    finally:
        set_backend("numpy")
    assert ours["form"] == ("primal" if n >= p else "kernel")
    corr = correlation_score(ref_pred, ours["predictions"])
    assert corr.min() > 0.9999


def test_ridge_encoder_recovers_planted_weights(rng):
    X, W, Y = _planted(rng, n=500, noise=0.2)
    enc = RidgeEncoder(backend="numpy", standardize=False).fit(X, Y)
    # little shrinkage is needed at this SNR: weights come back close to the truth
    assert correlation_score(W, enc.coef_).min() > 0.97
    assert enc.score_targets(X, Y, metric="r").min() > 0.95
    assert enc.score(X, Y) > 0.9  # scikit-learn convention: one R^2 averaged over targets
    assert enc.best_alphas_.shape == (Y.shape[1],)


def test_ridge_encoder_himalaya_solver_agrees(rng):
    X, _, Y = _planted(rng, n=200, noise=2.0)
    ours = RidgeEncoder(backend="numpy").fit(X, Y)
    ref = RidgeEncoder(backend="numpy", solver="himalaya").fit(X, Y)
    np.testing.assert_allclose(ours.best_alphas_, ref.best_alphas_)
    assert correlation_score(ref.predict(X), ours.predict(X)).min() > 0.9999


def test_encoder_errors_are_specific(rng):
    X = rng.normal(size=(50, 3))
    with pytest.raises(BrainalignInputError, match="X has 50 samples but y has 40"):
        RidgeEncoder(backend="numpy").fit(X, rng.normal(size=(40, 2)))
    Y = rng.normal(size=(50, 2))
    Y[3, 1] = np.nan
    with pytest.raises(BrainalignInputError, match="NaN"):
        RidgeEncoder(backend="numpy").fit(X, Y)
    with pytest.raises(BrainalignInputError, match="alphas"):
        RidgeEncoder(alphas=[0.0, 1.0], backend="numpy").fit(X, Y[:, :1])
    with pytest.raises(BrainalignInputError, match="not fitted"):
        RidgeEncoder().predict(X)


# --------------------------------------------------------------------------- splitters
def test_contiguous_blocks_leave_a_gap_within_runs():
    runs = np.repeat(["a", "b"], 50)
    for train, test in ContiguousBlockCV(n_splits=4, gap=5).split(100, groups=runs):
        assert np.all(np.diff(test) == 1)
        for edge in (test[0], test[-1]):
            near = train[np.abs(train - edge) <= 5]
            # rows within the gap are only allowed when they belong to another run
            assert all(runs[i] != runs[edge] for i in near)
        assert np.intersect1d(train, test).size == 0


def test_leave_one_run_out_and_shuffled_warning():
    runs = np.repeat(["r1", "r2", "r3"], 4)
    tests = [te for _, te in LeaveOneRunOut().split(12, groups=runs)]
    assert [t.tolist() for t in tests] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    with pytest.raises(BrainalignInputError, match="two runs"):
        list(LeaveOneRunOut().split(5))
    with pytest.warns(UserWarning, match="inflates scores"):
        ShuffledKFold(3)


# --------------------------------------------------------------------------- cross_validate
def test_cross_validate_scores_are_per_fold_hand_computation(rng):
    runs = np.repeat(["run-1", "run-2", "run-3"], 80)
    X, _, Y = _planted(rng, n=240, noise=1.5)
    rec = Recording(Y, 2.0, runs, kind="roi")
    res = cross_validate(X, rec, backend="numpy", return_predictions=True)
    assert res.n_folds == 3
    for k, test in enumerate(res.folds):
        pred = res.predictions[test]
        for j in range(rec.n_targets):
            y = Y[test, j]
            r_hand = np.corrcoef(y, pred[:, j])[0, 1]
            r2_hand = 1 - np.sum((y - pred[:, j]) ** 2) / np.sum((y - y.mean()) ** 2)
            assert res.r[k, j] == pytest.approx(r_hand, abs=1e-5)
            assert res.r2[k, j] == pytest.approx(r2_hand, abs=1e-5)
    # the headline is the mean of per-fold scores, not the score of concatenated predictions
    np.testing.assert_allclose(res.mean_r, res.r.mean(0))
    assert res.config["cv"] == "LeaveOneRunOut()"
    assert np.isin(res.alphas, res.config["alphas"]).all()


def test_planted_signal_detected_and_noise_centres_on_zero(rng):
    n = 400
    X = rng.normal(size=(n, 10))
    signal = X @ rng.normal(size=(10, 20))
    noise = rng.normal(size=(n, 60))
    rec = Recording(np.hstack([signal + rng.normal(size=signal.shape) * signal.std(0), noise]), 2.0, kind="fmri")
    res = cross_validate(X, rec, backend="numpy", n_permutations=200, seed=1)
    assert res.mean_r[:20].min() > 0.4
    noise_r = res.mean_r[20:]
    assert abs(noise_r.mean()) < 3 * noise_r.std() / np.sqrt(noise_r.size) + 0.02
    assert np.median(res.p_values[:20]) < 0.01
    assert np.mean(np.asarray(res.metadata["p_fdr"])[20:] < 0.05) < 0.1
    assert res.config["cv"].startswith("ContiguousBlockCV(n_splits=5, gap=10)")


def _smooth_series(rng, n, t, phi=0.97):
    Y = np.zeros((n, t))
    e = rng.normal(size=(n, t))
    for i in range(1, n):
        Y[i] = phi * Y[i - 1] + e[i]
    return Y


def test_time_only_model_scores_high_shuffled_and_near_zero_blocked(rng):
    """The Hadidi effect: temporal autocorrelation alone wins under shuffled K-fold."""
    n = 400
    rec = Recording(_smooth_series(rng, n, 20), 2.0, kind="fmri")
    time_model = autocorrelation_baseline(rec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        shuffled = cross_validate(time_model, rec, shuffle=True, backend="numpy")
    blocked = cross_validate(time_model, rec, backend="numpy")
    assert shuffled.mean_r.mean() > 0.7
    assert abs(blocked.mean_r.mean()) < 0.15
    assert any("Shuffled K-fold" in w for w in shuffled.metadata["warnings"])
    assert not any("Shuffled K-fold" in w for w in blocked.metadata["warnings"])
    # a time-only model predicts nothing under blocked folds: most targets take the largest penalty
    assert any("highest value of the grid" in w for w in blocked.metadata["warnings"])
    assert shuffled.config["shuffle"] is True


def test_cross_validate_numpy_and_torch_agree(rng):
    X, _, Y = _planted(rng, n=200, noise=1.0)
    rec = Recording(Y, 1.0, kind="fmri")
    a = cross_validate(X, rec, backend="numpy", gap_s=3)
    b = cross_validate(X, rec, backend="torch", gap_s=3)
    np.testing.assert_allclose(a.r, b.r, atol=1e-4)
    np.testing.assert_allclose(a.alphas, b.alphas)


def test_cross_validate_rejects_mismatched_inputs(rng):
    rec = Recording(rng.normal(size=(100, 3)), 2.0, np.repeat(["a", "b"], 50))
    with pytest.raises(BrainalignInputError, match="100 samples"):
        cross_validate(rng.normal(size=(90, 4)), rec)
    bad_runs = DesignMatrix(rng.normal(size=(100, 4)), np.repeat(["a", "c"], 50), 2.0, name="l0")
    with pytest.raises(BrainalignInputError, match="runs"):
        cross_validate(bad_runs, rec)
    bad_tr = DesignMatrix(rng.normal(size=(100, 4)), np.repeat(["a", "b"], 50), 1.5, name="l0")
    with pytest.raises(BrainalignInputError, match="sampling period"):
        cross_validate(bad_tr, rec)
    Y = rng.normal(size=(100, 3))
    Y[5, 2] = np.nan
    with pytest.raises(BrainalignInputError, match="NaN"):
        Recording(Y, 2.0)


def test_default_gap_follows_design_delays(rng):
    rec = Recording(rng.normal(size=(200, 2)), 2.0, kind="fmri")
    plain = DesignMatrix(rng.normal(size=(200, 3)), None, 2.0)
    fir = DesignMatrix(rng.normal(size=(200, 3)), None, 2.0, metadata={"method": "fir", "delays": [2, 4, 30]})
    assert cross_validate(plain, rec, backend="numpy").metadata["gap_samples"] == 10
    assert cross_validate(fir, rec, backend="numpy").metadata["gap_samples"] == 16
    eeg = Recording(rng.normal(size=(400, 2)), 0.01, kind="eeg")
    lagged = DesignMatrix(rng.normal(size=(400, 3)), None, 0.01, metadata={"lags": [-0.1, 0.0, 0.4]})
    assert cross_validate(lagged, eeg, backend="numpy").metadata["gap_samples"] == 40


# --------------------------------------------------------------------------- sweeps
def test_sweep_layers_finds_the_planted_layer_and_resumes(rng, tmp_path):
    n = 300
    runs = np.repeat(["run-1", "run-2", "run-3"], 100)
    designs = {f"layer.{i}": DesignMatrix(rng.normal(size=(n, 8)), runs, 2.0, name=f"layer.{i}") for i in range(3)}
    rate = DesignMatrix(rng.normal(size=(n, 1)), runs, 2.0, name="word_rate")
    Y = np.hstack([designs["layer.1"].X @ rng.normal(size=(8, 4)), designs["layer.2"].X @ rng.normal(size=(8, 4))])
    Y += rate.X * 2 + rng.normal(size=Y.shape)
    rec = Recording(Y, 2.0, runs, kind="roi", target_names=[f"roi{i}" for i in range(8)])
    sweep = sweep_layers(designs, rec, baseline=rate, results_dir=tmp_path, backend="numpy", model="toy")
    assert sweep.layer_names == ["layer.0", "layer.1", "layer.2"]
    assert sweep.best_layer().tolist() == ["layer.1"] * 4 + ["layer.2"] * 4
    assert sweep.best_layer_index().tolist() == [1] * 4 + [2] * 4
    assert sweep.score_matrix("r2").shape == (3, 8)
    gain = sweep.gain_over_baseline()
    assert gain[1, :4].min() > 0.2 and gain[0].max() < 0.1
    profile = sweep.layer_profile({"early": ["roi0", "roi1"], "late": [4, 5, 6, 7]})
    assert profile["early"].idxmax() == "layer.1" and profile["late"].idxmax() == "layer.2"
    ci = sweep.best_layer_ci(["roi0", "roi1", "roi2", "roi3"], n_bootstraps=200)
    assert ci["best_layer"] == "layer.1" and ci["low"] == ci["high"] == 1
    frame = sweep.to_frame()
    assert {"subject", "model", "layer", "target", "fold", "r", "r2", "alpha"} <= set(frame.columns)
    assert set(frame["layer"]) == {"layer.0", "layer.1", "layer.2", "baseline", "autocorrelation"}

    assert (tmp_path / "summary.json").is_file() and (tmp_path / "scores.tsv").is_file()
    loaded = LayerSweep.load(tmp_path)
    np.testing.assert_allclose(loaded.score_matrix(), sweep.score_matrix())
    summary = __import__("json").loads((tmp_path / "summary.json").read_text())
    assert summary["kind"] == "encoding" and "himalaya" in summary["versions"]
    assert "design:layer.1" in summary["data_hashes"]

    # resume: a finished layer is reused, a layer whose config changed is refitted
    marker = tmp_path / "layers" / "layer.0" / "result.json"
    before = marker.stat().st_mtime_ns
    again = sweep_layers(designs, rec, baseline=rate, results_dir=tmp_path, backend="numpy", model="toy")
    assert marker.stat().st_mtime_ns == before
    np.testing.assert_allclose(again.score_matrix(), sweep.score_matrix())
    sweep_layers(designs, rec, baseline=rate, results_dir=tmp_path, backend="numpy", model="toy", inner_cv=3)
    assert marker.stat().st_mtime_ns != before


def test_encoding_result_roundtrip_keeps_pvalues(rng, tmp_path):
    rec = Recording(rng.normal(size=(120, 3)), 2.0, kind="fmri")
    res = cross_validate(rng.normal(size=(120, 2)), rec, backend="numpy", n_permutations=20, gap_s=4)
    res.save(tmp_path / "r")
    back = EncodingResult.load(tmp_path / "r")
    np.testing.assert_allclose(back.p_values, res.p_values)
    assert back.config == res.config


def test_score_helpers_on_known_values():
    y = np.array([[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    pred = np.array([[1.0, 0.0], [2.0, 0.0], [4.0, 0.0]])
    assert correlation_score(y, pred)[0] == pytest.approx(np.corrcoef([1, 2, 3], [1, 2, 4])[0, 1])
    assert correlation_score(y, pred)[1] == 0.0  # constant column: defined as 0, not NaN
    assert r2_score(y, pred)[0] == pytest.approx(1 - 1 / 2)


def test_pca_inside_folds_keeps_planted_signal(rng):
    n = 300
    latent = rng.normal(size=(n, 3))
    X = latent @ rng.normal(size=(3, 40)) + 0.1 * rng.normal(size=(n, 40))
    Y = latent @ rng.normal(size=(3, 5)) + 0.5 * rng.normal(size=(n, 5))
    rec = Recording(Y, 2.0, kind="fmri")
    res = cross_validate(X, rec, backend="numpy", pca=3)
    assert res.config["pca"] == 3 and res.mean_r.mean() > 0.8
    one = cross_validate(X, rec, backend="numpy", pca=1)  # drops two of the three latent signals
    assert res.mean_r.mean() > one.mean_r.mean() + 0.1
    with pytest.raises(BrainalignInputError, match="pca"):
        cross_validate(X, rec, pca=0)


@pytest.mark.parametrize("shape", [(120, 10), (40, 90)], ids=["primal", "kernel"])
def test_solver_without_intercept_matches_closed_form(rng, shape):
    from himalaya.backend import set_backend

    n, p = shape
    X = rng.normal(size=(n, p)).astype(np.float32)
    Y = (X @ rng.normal(size=(p, 3)) + rng.normal(size=(n, 3)) + 5.0).astype(np.float32)
    splits = [(np.arange(n // 2, n), np.arange(n // 2)), (np.arange(n // 2), np.arange(n // 2, n))]
    out = solve_ridge_cv(X, Y, [10.0], splits, fit_intercept=False, backend=set_backend("numpy"))
    X64 = X.astype(np.float64)
    W = np.linalg.solve(X64.T @ X64 + 10.0 * np.eye(p), X64.T @ Y)
    np.testing.assert_allclose(out["weights"], W, rtol=1e-3, atol=1e-4)
    assert np.all(out["intercept"] == 0)


def test_sweep_maps_go_back_to_image_and_sensor_space(rng):
    import mne
    import nibabel as nib
    from nilearn.maskers import NiftiMasker

    mask = np.zeros((4, 3, 2), dtype=np.int8)
    mask[1:3, :, :] = 1  # 12 voxels
    mask_img = nib.Nifti1Image(mask, np.eye(4))
    masker = NiftiMasker(mask_img).fit()
    n = 200
    designs = {f"layer.{i}": rng.normal(size=(n, 4)) for i in range(2)}
    Y = np.hstack([designs["layer.0"] @ rng.normal(size=(4, 6)), designs["layer.1"] @ rng.normal(size=(4, 6))])
    rec = Recording(Y + rng.normal(size=Y.shape), 2.0, kind="fmri", space=masker)
    sweep = sweep_layers(designs, rec, backend="numpy", autocorrelation=False)
    img = sweep.to_image(rec)
    data = np.asarray(img.dataobj)
    assert data.shape == (4, 3, 2, 2)
    best_in_mask = data[..., 0][mask.astype(bool)]
    assert sorted(np.unique(best_in_mask)) == [1.0, 2.0]  # 1-based layer index, every voxel above zero

    info = mne.create_info([f"EEG{i:02d}" for i in range(12)], 100.0, "eeg")
    eeg = Recording(Y + rng.normal(size=Y.shape), 0.01, kind="eeg", space=info)
    evoked = sweep_layers(designs, eeg, backend="numpy", autocorrelation=False, gap_s=0.05).to_evoked(eeg)
    assert evoked.data.shape == (12, 2)  # one "time point" per layer


def test_float32_eigendecomposition_used_on_gpus_agrees_with_himalaya(rng):
    """torch_cuda runs the same code with float32 eigensolvers; check that precision on the CPU."""
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV
    from sklearn.model_selection import KFold

    X = rng.normal(size=(400, 60)).astype(np.float32)
    Y = (X @ rng.normal(size=(60, 30)) * 0.1 + rng.normal(size=(400, 30))).astype(np.float32)
    X_test = rng.normal(size=(50, 60)).astype(np.float32)
    alphas, splits = np.logspace(-1, 7, 10), list(KFold(5).split(X))
    backend = set_backend("torch")
    try:
        ours = solve_ridge_cv(X, Y, alphas, splits, X_test=X_test, backend=backend, eigh_dtype="float32")
        ref = backend.to_numpy(RidgeCV(alphas=alphas, cv=splits, fit_intercept=True).fit(X, Y).predict(X_test))
    finally:
        set_backend("numpy")
    assert correlation_score(ref, ours["predictions"]).min() > 0.9999


def test_sweep_uses_one_gap_from_the_layers_lags(rng):
    eeg = Recording(rng.normal(size=(2000, 3)), 0.01, kind="eeg")
    lagged = DesignMatrix(rng.normal(size=(2000, 4)), None, 0.01, name="layer.0",
                          metadata={"method": "lagged", "lags_samples": [0, 10, 20, 150]})
    word_rate = DesignMatrix(rng.normal(size=(2000, 1)), None, 0.01, name="rate")
    sweep = sweep_layers({"layer.0": lagged}, eeg, baseline=word_rate, backend="numpy")
    # stacking drops the lag metadata: the sweep still keeps 1.5 s (150 samples) around test blocks
    for res in [*sweep.results.values(), *sweep.baselines.values()]:
        assert res.metadata["gap_samples"] == 150
