"""Time alignment: feature events -> designs on a recording's sample grid."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from brainalign import BrainalignInputError, DesignMatrix, FeatureSet, Recording, Timeline
from brainalign.alignment import (
    SampleGrid,
    event_rate_design,
    fir_delays,
    fir_design,
    hrf_design,
    lagged_design,
    lanczos_design,
    make_designs,
    resample_to_samples,
    trim_edges,
)


def _recording(lengths: dict, sampling_period: float, seed: int = 0) -> Recording:
    rng = np.random.default_rng(seed)
    runs = np.concatenate([[r] * n for r, n in lengths.items()])
    return Recording(rng.normal(size=(len(runs), 3)), sampling_period, runs)


def _features(onsets, runs=None, dims=1, seed=0, values=None) -> FeatureSet:
    onsets = np.asarray(onsets, float)
    tl = Timeline([f"w{i}" for i in range(onsets.size)], onsets, runs=runs)
    if values is None:
        values = np.random.default_rng(seed).normal(size=(onsets.size, dims))
    return FeatureSet({"layer.0": values}, tl, {"model_id": "random"})


# ---------------------------------------------------------------------- HRF
def test_hrf_impulse_peaks_about_5s_after_the_word():
    rec = _recording({"run-1": 120}, 0.5)
    fs = _features([20.0], values=np.ones((1, 1)))
    design = hrf_design(fs, rec)["layer.0"]
    assert design.X.shape == (rec.n_samples, 1)
    design.check_matches(rec)
    peak_time = rec.sample_times("run-1")[np.argmax(design.X[:, 0])]
    assert 4.0 <= peak_time - 20.0 <= 6.0
    assert design.X[: int(20.0 / 0.5), 0].max() == 0.0  # nothing before the word
    assert design.X[:, 0].max() == pytest.approx(1.0, abs=0.02)  # kernel scaled to peak at 1
    assert design.metadata["method"] == "hrf" and design.metadata["hrf_model"] == "glover"
    assert design.metadata["model_id"] == "random" and design.metadata["layer"] == "layer.0"


def test_hrf_matches_nilearn_compute_regressor_for_impulses():
    from nilearn.glm.first_level import compute_regressor

    rng = np.random.default_rng(1)
    onsets = np.round(np.sort(rng.uniform(0, 100, 40)) * 2) / 2  # exactly on the oversampled grid
    fs = _features(onsets, dims=3, seed=2)
    rec = _recording({"run-1": 60}, 2.0)
    X = hrf_design(fs, rec, oversampling=20)["layer.0"].X
    for j in range(3):
        condition = np.vstack([onsets, np.zeros_like(onsets), fs["layer.0"][:, j]])
        ref, _ = compute_regressor(condition, "glover", rec.sample_times("run-1"), oversampling=20)
        np.testing.assert_allclose(np.corrcoef(X[:, j], ref[:, 0])[0, 1], 1.0, atol=1e-5)


def test_hrf_is_linear_in_features_and_handles_derivatives_and_boxcars():
    rng = np.random.default_rng(3)
    onsets = np.sort(rng.uniform(0, 50, 30))
    tl = Timeline(["w"] * 30, onsets, onsets + 0.4)
    F = rng.normal(size=(30, 4))
    fs = FeatureSet({"a": F, "b": F @ np.diag([2.0, -1.0, 0.0, 3.0])}, tl)
    grid = SampleGrid({"run-1": 40}, 1.5)
    designs = hrf_design(fs, grid)
    np.testing.assert_allclose(designs["b"].X, designs["a"].X * np.array([2.0, -1.0, 0.0, 3.0]), atol=1e-5)
    with_derivative = hrf_design(fs, grid, hrf_model="spm + derivative", layers="a")["a"]
    assert with_derivative.n_features == 8 and with_derivative.feature_names[:2] == ["dim0", "dim0_derivative"]
    boxcar = hrf_design(fs, grid, events_as="boxcar", layers=["a"])["a"]
    assert boxcar.X.shape == (40, 4) and not np.allclose(boxcar.X, designs["a"].X)
    normalized = hrf_design(fs, grid, normalize=True, name_prefix="gpt2/")["a"]
    assert normalized.name == "gpt2/a"
    np.testing.assert_allclose(normalized.X.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(normalized.X.std(0), 1.0, atol=1e-4)


def test_event_rate_design_counts_events():
    tl = Timeline(["a", "b", "c"], [10.0, 10.0, 40.0])
    design = event_rate_design(tl, SampleGrid({"run-1": 40}, 2.0))
    assert design.feature_names == ["word_rate"] and design.name == "word_rate"
    first, second = design.X[: 20, 0].max(), design.X[20:, 0].max()
    assert first == pytest.approx(2 * second, rel=1e-5)  # two simultaneous words count twice


# ------------------------------------------------------------- run pairing
def test_events_on_an_unknown_run_raise_naming_it():
    fs = _features([1.0, 2.0, 1.0], runs=["story-1", "story-1", "story-9"])
    rec = _recording({"story-1": 20, "story-2": 20}, 2.0)
    with pytest.raises(BrainalignInputError, match="story-9"):
        hrf_design(fs, rec)


def test_events_beyond_the_run_raise():
    fs = _features([1.0, 45.0])
    rec = _recording({"run-1": 20}, 2.0)  # 40 s long
    with pytest.raises(BrainalignInputError, match="after the end"):
        hrf_design(fs, rec)
    with pytest.raises(BrainalignInputError, match="after the end"):
        resample_to_samples(fs, rec)
    assert hrf_design(fs, rec, tolerance_s=6.0)["layer.0"].n_samples == 20


def test_recording_run_without_events_gets_zeros_and_a_warning(caplog):
    fs = _features([1.0, 3.0], runs=["a", "a"])
    rec = _recording({"a": 20, "b": 15}, 2.0)
    with caplog.at_level(logging.WARNING, logger="brainalign"):
        design = hrf_design(fs, rec)["layer.0"]
    assert "'b'" in caplog.text
    assert np.all(design.X[rec.runs == "b"] == 0) and np.any(design.X[rec.runs == "a"] != 0)


def test_content_key_follows_the_inputs():
    rec = _recording({"run-1": 20}, 2.0)
    key1 = hrf_design(_features([1.0, 5.0], seed=0), rec)["layer.0"].metadata["input_key"]
    key2 = hrf_design(_features([1.0, 5.0], seed=1), rec)["layer.0"].metadata["input_key"]
    key3 = hrf_design(_features([1.0, 5.0], seed=0), rec, hrf_model="spm")["layer.0"].metadata["input_key"]
    assert len({key1, key2, key3}) == 3
    assert hrf_design(_features([1.0, 5.0], seed=0), rec)["layer.0"].metadata["input_key"] == key1


# ------------------------------------------------------------------ Lanczos
def test_lanczos_of_constant_features_is_constant_away_from_edges():
    onsets = np.arange(0, 100, 0.25)  # regular word rate, 4 words/s
    fs = _features(onsets, values=np.full((onsets.size, 2), 3.0))
    grid = SampleGrid({"run-1": 50}, 2.0)
    X = lanczos_design(fs, grid, delays=None, rate_normalize=True)["layer.0"].X
    np.testing.assert_allclose(X[4:46], 3.0, rtol=1e-5)
    raw = lanczos_design(fs, grid, delays=None)["layer.0"].X[4:46, 0]
    # un-normalised (Huth et al.): proportional to words per TR (8) times the value
    np.testing.assert_allclose(raw, raw.mean(), rtol=0.02)
    assert raw.mean() == pytest.approx(3.0 * 8, rel=0.05)


def test_lanczos_delays_are_applied_per_run():
    onsets = np.arange(0, 40, 0.5)
    fs = _features(np.concatenate([onsets, onsets]), runs=["a"] * 80 + ["b"] * 80, dims=2)
    grid = SampleGrid({"a": 20, "b": 20}, 2.0)
    plain = lanczos_design(fs, grid, delays=None)["layer.0"]
    delayed = lanczos_design(fs, grid, delays=(1, 2))["layer.0"]
    assert delayed.n_features == 4 and delayed.metadata["method"] == "lanczos"
    assert delayed.metadata["delays_samples"] == [1, 2]
    np.testing.assert_array_equal(delayed.X[1:20, :2], plain.X[:19])
    np.testing.assert_array_equal(delayed.X[20, :], 0.0)  # first sample of run b: no carry-over
    same = lanczos_design(fs, grid, delays_s=(2.0, 4.0))["layer.0"]
    np.testing.assert_array_equal(same.X, delayed.X)


# ---------------------------------------------------------------------- FIR
def test_fir_delays_exact_on_an_impulse_and_no_leak_across_runs():
    X = np.zeros((20, 1))
    X[3, 0] = 1.0
    X[9, 0] = 5.0  # last sample of run "a"
    design = DesignMatrix(X, ["a"] * 10 + ["b"] * 10, 2.0, "x", ["f"])
    delayed = fir_delays(design, [2.0, 4.0, 6.0])
    assert delayed.feature_names == ["f@2s", "f@4s", "f@6s"]
    for k, d in enumerate([1, 2, 3]):
        assert np.flatnonzero(delayed.X[:, k]).tolist() == [3 + d]
    assert np.all(delayed.X[10:] == 0)  # the impulse at the end of run a reaches nothing in run b
    with pytest.raises(BrainalignInputError, match="multiples"):
        fir_delays(design, [3.0])
    negative = fir_delays(design, delays=[-1])
    assert np.flatnonzero(negative.X[:, 0]).tolist() == [2, 8]


def test_fir_design_and_trim_edges():
    fs = _features([0.1, 4.1, 9.9], values=np.array([[1.0], [2.0], [3.0]]))
    rec = _recording({"run-1": 10, "run-2": 8}, 2.0)
    design = fir_design(fs, rec, delays_s=(2.0, 4.0))["layer.0"]
    assert design.metadata["method"] == "fir" and design.X.shape == (18, 2)
    # words at samples 0, 2, 5 (nearest); delayed by 1 and 2 samples
    assert design.X[:10, 0].tolist() == [0, 1, 0, 2, 0, 0, 3, 0, 0, 0]
    assert design.X[:10, 1].tolist() == [0, 0, 1, 0, 2, 0, 0, 3, 0, 0]
    trimmed, rec2 = trim_edges(design, rec, 2)
    assert rec2.run_lengths() == {"run-1": 8, "run-2": 6} and trimmed.n_samples == 14
    np.testing.assert_array_equal(rec2.data, rec.data[np.r_[2:10, 12:18]])
    trimmed.check_matches(rec2)
    with pytest.raises(BrainalignInputError, match="not longer"):
        trim_edges(design, rec, 8)
    with pytest.raises(BrainalignInputError, match="untrimmed"):
        fir_design(fs, rec2)


# --------------------------------------------------------------- M/EEG TRF
def test_resample_to_samples_impulses_and_boxcars():
    tl = Timeline(["a", "b"], [0.104, 0.5], [0.2, 0.5])
    fs = FeatureSet({"l": np.array([[1.0], [2.0]])}, tl)
    grid = SampleGrid({"run-1": 100}, 0.01)
    impulses = resample_to_samples(fs, grid)["l"].X[:, 0]
    assert np.flatnonzero(impulses).tolist() == [10, 50] and impulses[50] == 2.0
    boxes = resample_to_samples(fs, grid, events_as="boxcar")["l"].X[:, 0]
    assert np.flatnonzero(boxes == 1.0).tolist() == list(range(11, 20))  # samples in [0.104, 0.2)
    assert boxes[50] == 2.0  # zero-duration event falls back to its nearest sample


def test_lagged_design_lags_exact_on_an_impulse():
    tl = Timeline(["a", "b", "c"], [0.5, 0.98, 0.02], runs=["r1", "r1", "r2"])
    fs = FeatureSet({"l": np.ones((3, 1))}, tl)
    rec = _recording({"r1": 100, "r2": 100}, 0.01)
    design = lagged_design(fs, rec, tmin=-0.05, tmax=0.2)["l"]
    lags = design.metadata["lags_samples"]
    assert lags == list(range(-5, 21)) and design.n_features == len(lags)
    assert design.metadata["lags_s"][0] == pytest.approx(-0.05)
    for column, lag in enumerate(lags):
        # response at t depends on the stimulus at t - lag, within the stimulus' own run
        expected = [s + lag for s in (50, 98) if 0 <= s + lag < 100]
        expected += [100 + 2 + lag] if 0 <= 2 + lag < 100 else []
        hits = np.flatnonzero(design.X[:, column]).tolist()
        assert hits == expected, (lag, hits)
    assert design.feature_names[5] == "dim0@lag0s"
    with pytest.raises(BrainalignInputError, match="tmin"):
        lagged_design(fs, rec, tmin=0.3, tmax=0.1)


def test_make_designs_dispatches_and_rejects_unknown_methods():
    fs = _features(np.arange(0, 30, 0.5), dims=3)
    rec = _recording({"run-1": 20}, 2.0)
    for method, n_cols in [("hrf", 3), ("lanczos", 12), ("fir", 12)]:
        design = make_designs(fs, rec, method)["layer.0"]
        assert design.X.shape == (20, n_cols) and design.metadata["method"] == method
        design.check_matches(rec)
    lagged = make_designs(fs, rec, "lagged", tmin=0.0, tmax=4.0)["layer.0"]
    assert lagged.n_features == 9 and lagged.metadata["method"] == "lagged"
    with pytest.raises(BrainalignInputError, match="Unknown design method"):
        make_designs(fs, rec, "wavelet")
    with pytest.raises(BrainalignInputError, match="Unknown layer"):
        make_designs(fs, rec, "hrf", layers=["layer.7"])


def test_words_before_the_first_scan_still_contribute_their_hrf_tail():
    fs = _features([-4.0, 10.0], values=np.array([[1.0], [0.0]]))
    X = hrf_design(fs, _recording({"run-1": 20}, 1.0))["layer.0"].X[:, 0]
    assert 0 <= np.argmax(X) <= 2 and X.max() > 0.5  # peak ~1 s into the run (5 s after -4 s)
    with pytest.raises(BrainalignInputError, match="resample_to_samples"):
        hrf_design(fs, _recording({"run-1": 20}, 1.0), hrf_model=None)
    with pytest.raises(BrainalignInputError, match="Unknown hrf_model"):
        hrf_design(fs, _recording({"run-1": 20}, 1.0), hrf_model="gamma")


def test_delays_and_lags_enter_the_content_key():
    fs = _features(np.arange(0, 30, 0.5), dims=2)
    rec = _recording({"run-1": 20}, 2.0)
    keys = {
        fir_design(fs, rec, delays_s=(2.0, 4.0))["layer.0"].metadata["input_key"],
        fir_design(fs, rec, delays_s=(2.0, 6.0))["layer.0"].metadata["input_key"],
        lagged_design(fs, rec, tmin=0.0, tmax=4.0)["layer.0"].metadata["input_key"],
        lagged_design(fs, rec, tmin=0.0, tmax=6.0)["layer.0"].metadata["input_key"],
    }
    assert len(keys) == 4


def test_epoch_design_pools_the_events_of_each_epoch():
    from brainalign.alignment import epoch_design

    words = Timeline(["a", "b", "c", "d", "e"], [0.0, 0.5, 3.0, 0.2, 2.0], runs=["r1"] * 3 + ["r2"] * 2)
    fs = FeatureSet({"l": np.array([[1.0], [3.0], [5.0], [7.0], [9.0]])}, words)
    sentences = Timeline(["s1", "s2", "s3", "s4"], [0.0, 3.0, 0.0, 1.5], [1.0, 4.0, 1.0, 2.5],
                         runs=["r1", "r1", "r2", "r2"])
    assert epoch_design(fs, sentences)["l"].X[:, 0].tolist() == [2.0, 5.0, 7.0, 9.0]
    assert epoch_design(fs, sentences, pool="last")["l"].X[:, 0].tolist() == [3.0, 5.0, 7.0, 9.0]
    rec = Recording(np.random.default_rng(0).normal(size=(4, 2)), 8.0, ["r1", "r1", "r2", "r2"])
    design = epoch_design(fs, sentences, recording=rec)["l"]
    design.check_matches(rec)
    with pytest.raises(BrainalignInputError, match="one row per epoch"):
        epoch_design(fs, sentences, recording=_recording({"r1": 3, "r2": 2}, 8.0))
    empty = Timeline(["s1", "s2"], [0.0, 10.0], [1.0, 11.0], runs=["r1", "r2"])
    with pytest.raises(BrainalignInputError, match="Epoch 1"):
        epoch_design(fs, empty)


def test_sample_grid_designs_warn_about_events_outside_the_run(caplog):
    fs = _features([-0.5, 0.3, 1.0], values=np.ones((3, 1)))
    with caplog.at_level(logging.WARNING, logger="brainalign"):
        X = resample_to_samples(fs, SampleGrid({"run-1": 100}, 0.01))["layer.0"].X[:, 0]
    # -0.5 s is before the run; 1.0 s is within the tolerance but its nearest sample (100) is not
    assert "2 of 3 features events (onsets [-0.5, 1.0] s) lie too far" in caplog.text
    assert np.flatnonzero(X).tolist() == [30]


def test_make_designs_builds_epoch_designs():
    words = Timeline(["a", "b", "c", "d"], [0.0, 0.5, 3.0, 3.5])
    fs = FeatureSet({"l": np.arange(4.0)[:, None]}, words)
    sentences = Timeline(["s1", "s2"], [0.0, 3.0], [1.0, 4.0])
    rec = Recording(np.random.default_rng(0).normal(size=(2, 2)), 4.0)
    design = make_designs(fs, rec, "epochs", epochs=sentences, pool="sum")["l"]
    assert design.X[:, 0].tolist() == [1.0, 5.0] and design.metadata["method"] == "epochs"
    with pytest.raises(BrainalignInputError, match="epochs="):
        make_designs(fs, rec, "epochs")


def test_hrf_boxcars_are_nilearn_blocks_of_unit_area():
    from nilearn.glm.first_level import compute_regressor

    onsets = np.array([4.0, 20.0, 31.0])
    tl = Timeline(["a", "b", "c"], onsets, onsets + 3.0)
    values = np.array([[1.0], [-2.0], [0.5]])
    fs = FeatureSet({"l": values}, tl)
    rec = _recording({"run-1": 40}, 1.0)
    X = hrf_design(fs, rec, events_as="boxcar", oversampling=10)["l"].X[:, 0]
    condition = np.vstack([onsets, np.full(3, 3.0), values[:, 0]])
    ref = compute_regressor(condition, "glover", rec.sample_times("run-1"), oversampling=10)[0][:, 0]
    np.testing.assert_allclose(np.corrcoef(X, ref)[0, 1], 1.0, atol=1e-5)
    # a 3 s block of value v carries the same area as an impulse of v: similar peak height
    impulse = hrf_design(fs, rec, oversampling=10)["l"].X[:, 0]
    assert np.abs(X).max() == pytest.approx(np.abs(impulse).max(), rel=0.25)
