"""Simulated participants: seeded, with the requested SNR / noise, and a recoverable truth."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign import BrainalignInputError, FeatureSet, Recording, Timeline
from brainalign.alignment import hrf_design, lagged_design
from brainalign.simulation import SimulationTruth, simulate_fmri, simulate_meg_eeg


def _features(n_events=400, n_layers=3, dims=8, duration=300.0, runs=("a", "b"), seed=0) -> FeatureSet:
    rng = np.random.default_rng(seed)
    per_run = n_events // len(runs)
    onsets = np.concatenate([np.sort(rng.uniform(0, duration, per_run)) for _ in runs])
    labels = np.repeat(list(runs), per_run)
    tl = Timeline([f"w{i}" for i in range(onsets.size)], onsets, onsets + 0.2, labels)
    layers = {f"layer.{k}": rng.normal(size=(onsets.size, dims)) for k in range(n_layers)}
    return FeatureSet(layers, tl, {"model_id": "random"})


def _cross_run_r(design_X, data, runs):
    """Fit least squares on run a, correlate predictions with data on run b."""
    train, test = runs == "a", runs == "b"
    coef = np.linalg.lstsq(design_X[train], data[train], rcond=None)[0]
    pred, obs = design_X[test] @ coef, data[test]
    pred = (pred - pred.mean(0)) / pred.std(0)
    obs = (obs - obs.mean(0)) / obs.std(0)
    return (pred * obs).mean(0)


def test_simulate_fmri_is_seeded_and_has_the_requested_snr_and_noise():
    fs = _features(n_events=600, duration=600.0)
    rec, truth = simulate_fmri(fs, n_targets=30, snr=0.5, noise_ar=0.6, noise_fraction=0.2, seed=4)
    again, truth2 = simulate_fmri(fs, n_targets=30, snr=0.5, noise_ar=0.6, noise_fraction=0.2, seed=4)
    other, _ = simulate_fmri(fs, n_targets=30, snr=0.5, noise_ar=0.6, noise_fraction=0.2, seed=5)
    np.testing.assert_array_equal(rec.data, again.data)
    assert truth.layer_of_target == truth2.layer_of_target
    assert not np.allclose(rec.data, other.data)

    assert isinstance(rec, Recording) and rec.kind == "fmri" and rec.sampling_period == 2.0
    assert rec.run_ids == ["a", "b"]
    # default length covers each run's events + 20 s
    assert all(n * 2.0 >= 600.0 for n in rec.run_lengths().values())
    assert truth.signal.shape == rec.data.shape and truth.snr.shape == (30,)
    assert truth.noise_targets.sum() == 6
    assert all((p is None) == noise for p, noise in zip(truth.layer_of_target, truth.noise_targets))
    signal_targets = ~truth.noise_targets
    noise = rec.data - truth.signal
    achieved = truth.signal[:, signal_targets].std(0) / noise[:, signal_targets].std(0)
    np.testing.assert_allclose(achieved, 0.5, rtol=1e-3)
    assert np.all(truth.signal[:, truth.noise_targets] == 0)
    lag1 = [np.corrcoef(noise[rec.runs == r][:-1, i], noise[rec.runs == r][1:, i])[0, 1]
            for r in rec.run_ids for i in range(30)]
    assert np.mean(lag1) == pytest.approx(0.6, abs=0.05)
    for i in np.flatnonzero(signal_targets):
        dims = fs[truth.layer_of_target[i]].shape[1]
        assert truth.weights[i].shape == (dims,)


def test_planted_layer_is_recovered_by_a_cross_validated_fit():
    fs = _features(n_events=800, n_layers=3, dims=6)
    rec, truth = simulate_fmri(fs, n_targets=24, snr=2.0, noise_fraction=0.25, seed=1)
    designs = hrf_design(fs, rec)
    scores = np.stack([_cross_run_r(designs[n].X, rec.data, rec.runs) for n in fs.layer_names])
    signal = ~truth.noise_targets
    np.testing.assert_array_equal(scores.argmax(0)[signal], truth.layer_index[signal])
    assert scores.max(0)[signal].min() > 0.6
    assert scores.max(0)[~signal].max() < scores.max(0)[signal].min()


def test_simulate_fmri_on_a_mask_maps_back_to_images_with_a_layer_gradient(tmp_path):
    import nibabel as nib

    mask = np.zeros((5, 8, 4), dtype=np.int8)
    mask[1:4, :, 1:3] = 1
    fs = _features(n_events=200, n_layers=4, dims=4)
    rec, truth = simulate_fmri(fs, mask_img=nib.Nifti1Image(mask, np.eye(4)), layer_of_target="gradient",
                               snr=1.0, seed=0, n_components=2)
    assert rec.n_targets == int(mask.sum())
    index_img = rec.to_image(truth.layer_index.astype(float))
    volume = index_img.get_fdata()
    assert volume.shape == mask.shape
    along_y = [volume[1:4, y, 1:3].mean() for y in range(8)]
    assert np.all(np.diff(along_y) >= 0) and along_y[-1] > along_y[0]  # posterior -> anterior
    assert all(w.shape == (2,) for w in truth.weights)

    truth.save(tmp_path / "truth")
    loaded = SimulationTruth.load(tmp_path / "truth")
    assert loaded.layer_of_target == truth.layer_of_target
    np.testing.assert_array_equal(loaded.signal, truth.signal)
    np.testing.assert_array_equal(loaded.snr, truth.snr)
    np.testing.assert_array_equal(loaded.noise_targets, truth.noise_targets)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.weights, truth.weights))
    assert loaded.params == truth.params and loaded.seed == truth.seed
    with pytest.raises(BrainalignInputError, match="voxels"):
        simulate_fmri(fs, mask_img=nib.Nifti1Image(mask, np.eye(4)), n_targets=3)


def test_simulate_fmri_rejects_bad_inputs():
    fs = _features(n_events=100)
    with pytest.raises(BrainalignInputError, match="noise_ar"):
        simulate_fmri(fs, n_targets=5, noise_ar=1.0)
    with pytest.raises(BrainalignInputError, match="entries"):
        simulate_fmri(fs, n_targets=5, layer_of_target=["layer.0"] * 4)
    with pytest.raises(BrainalignInputError, match="layer.9"):
        simulate_fmri(fs, n_targets=2, layer_of_target=["layer.0", "layer.9"])
    with pytest.raises(BrainalignInputError, match="snr"):
        simulate_fmri(fs, n_targets=5, snr=0.0)
    with pytest.raises(BrainalignInputError, match="after the end"):
        simulate_fmri(fs, n_targets=5, n_scans=50)  # 100 s of scans for 300 s of words
    rec, truth = simulate_fmri(fs, n_targets=3, layer_of_target=[0, "layer.2", None], snr=np.inf)
    assert truth.layer_of_target == ["layer.0", "layer.2", None]
    np.testing.assert_allclose(rec.data[:, :2], truth.signal[:, :2], atol=1e-6)


def test_simulate_meg_eeg_returns_sensor_space_and_recoverable_trfs():
    import mne

    fs = _features(n_events=300, n_layers=2, dims=3, duration=60.0)
    rec, truth = simulate_meg_eeg(fs, sfreq=50.0, n_sensors=6, trf_kernel=(0.0, 0.4), snr=3.0, seed=2)
    assert isinstance(rec.space, mne.Info) and rec.kind == "eeg" and rec.sfreq == 50.0
    assert rec.target_names == list(rec.space["ch_names"])
    assert truth.kernels.shape == (6, 21)
    assert rec.to_evoked(np.ones(6)).info["nchan"] == 6
    again, _ = simulate_meg_eeg(fs, sfreq=50.0, n_sensors=6, trf_kernel=(0.0, 0.4), snr=3.0, seed=2)
    np.testing.assert_array_equal(rec.data, again.data)

    lagged = lagged_design(fs, rec, tmin=0.0, tmax=0.4)
    scores = np.stack([_cross_run_r(lagged[n].X, rec.data, rec.runs) for n in fs.layer_names])
    np.testing.assert_array_equal(scores.argmax(0), truth.layer_index)
    assert scores.max(0).min() > 0.8

    info = mne.create_info(["MEG0111", "MEG0112", "MEG0113"], 100.0, "mag")
    meg, _ = simulate_meg_eeg(fs, info=info, seed=0)
    assert meg.kind == "meg" and meg.space is info and meg.sampling_period == pytest.approx(0.01)
