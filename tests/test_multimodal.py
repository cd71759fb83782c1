"""Multimodal designs, joint banded fits and variance partitioning on a simulated movie-watching participant."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.alignment import SampleGrid, multimodal_designs
from brainalign.core import BrainalignInputError, FeatureSet, Timeline
from brainalign.encoding import fit_multimodal
from brainalign.simulation import simulate_multimodal_fmri


def _movie_features(seed: int = 0, seconds: float = 300.0) -> dict[str, FeatureSet]:
    """Frames every 0.5 s, speech-model frames every 0.1 s, words at irregular onsets; two runs each."""
    rng = np.random.default_rng(seed)

    def modality(step=None, n_irregular=None, dims=6, n_layers=2):
        tokens, onsets, runs = [], [], []
        for run in ("run-1", "run-2"):
            t = np.arange(0, seconds, step) if step else np.sort(rng.uniform(0, seconds, n_irregular))
            tokens += ["e"] * t.size
            onsets += t.tolist()
            runs += [run] * t.size
        n = len(tokens)
        layers = {f"layer.{k}": rng.normal(size=(n, dims)) for k in range(n_layers)}
        return FeatureSet(layers, Timeline(tokens, onsets, runs=runs))

    return {"video": modality(0.5), "audio": modality(0.1), "text": modality(n_irregular=int(seconds * 2.3))}


def test_multimodal_designs_one_band_per_modality_and_layer():
    feats = _movie_features(seconds=60.0)
    grid = SampleGrid({"run-1": 40, "run-2": 40}, 1.5)
    bands = multimodal_designs(feats, grid, layers={"audio": ["layer.1"]})
    assert list(bands) == ["video:layer.0", "video:layer.1", "audio:layer.1", "text:layer.0", "text:layer.1"]
    assert all(d.n_samples == 80 and d.name == name for name, d in bands.items())
    assert bands["audio:layer.1"].metadata["modality"] == "audio"
    with pytest.raises(BrainalignInputError, match="unknown modality"):
        multimodal_designs(feats, grid, layers={"smell": None})
    with pytest.raises(BrainalignInputError, match="contain no ':'"):
        multimodal_designs({"a:b": feats["video"]}, grid)
    short = SampleGrid({"run-1": 10, "run-2": 10}, 1.5)
    with pytest.raises(BrainalignInputError, match="Modality 'video'"):
        multimodal_designs(feats, short)


def test_planted_modalities_are_recovered_with_variance_partitioning():
    feats = _movie_features()
    rec, truth = simulate_multimodal_fmri(feats, n_targets=60, tr=1.5, snr=1.0, seed=3)
    bands = multimodal_designs(feats, rec)
    assert len(bands) == 6
    res = fit_multimodal(bands, rec, n_iter=8, backend="numpy")
    planted = np.array(truth.params["modality_of_target"])
    recovered = res.best_modality()
    assert (recovered == planted).mean() >= 0.9
    # the planted modality holds the unique variance; the others add (almost) nothing
    scores = res.scores
    for modality in ("video", "audio", "text"):
        mine = planted == modality
        assert scores.loc[mine, f"unique:{modality}"].mean() > 0.2
        assert scores.loc[~mine, f"unique:{modality}"].mean() < 0.05
    assert abs(scores["shared"].mean()) < 0.05
    # split R^2 of the bands sums to the joint R^2 and the layer x modality map counts every target
    split = scores[[f"split:{b}" for b in res.bands]].sum(axis=1)
    np.testing.assert_allclose(split, scores["joint"], atol=0.1)  # up to the test-set intercept mismatch
    table = res.layer_modality_map(threshold=None)
    assert table.to_numpy().sum() == 60 and list(table.index) == ["video", "audio", "text"]
    best_layer_ok = np.mean([b == p for b, p in zip(res.best_band(), truth.layer_of_target)])
    assert best_layer_ok >= 0.8


def test_duplicated_modality_is_shared_not_unique():
    feats = _movie_features(seed=1, seconds=240.0)
    # the "audio" stream carries exactly the video features: nothing of it is unique
    feats["audio"] = FeatureSet(dict(feats["video"].layers), feats["video"].timeline)
    rec, truth = simulate_multimodal_fmri({"video": feats["video"], "text": feats["text"]},
                                          band_of_target=["video"] * 20, n_targets=20, snr=2.0, seed=0)
    bands = multimodal_designs(feats, rec, layers={"video": ["layer.0"], "audio": ["layer.0"], "text": ["layer.0"]})
    res = fit_multimodal(bands, rec, n_iter=8, backend="numpy")
    s = res.scores
    assert s["joint"].mean() > 0.5
    assert s["unique:video"].abs().mean() < 0.05 and s["unique:audio"].abs().mean() < 0.05
    assert s["shared"].mean() > 0.5
    with pytest.raises(BrainalignInputError, match="no '<modality>:' prefix"):
        fit_multimodal({"x": bands["video:layer.0"], "y": bands["text:layer.0"]}, rec)


def test_variance_partition_and_layer_modality_figures(tmp_path):
    from brainalign.plotting import plot_layer_modality_map, plot_variance_partition

    feats = _movie_features(seed=2, seconds=200.0)
    rec, truth = simulate_multimodal_fmri(feats, n_targets=24, snr=2.0, seed=1)
    res = fit_multimodal(multimodal_designs(feats, rec), rec, n_iter=5, backend="numpy")
    fig = plot_variance_partition(res, groups=truth.params["modality_of_target"], output_file=tmp_path / "vp.png")
    left = fig.axes[0]
    assert [t.get_text().split("\n")[0] for t in left.get_xticklabels()] == list(dict.fromkeys(
        g for g, j in zip(truth.params["modality_of_target"], res.scores["joint"]) if j > 0))
    assert {t.get_text() for t in fig.legends[0].get_texts()} == {
        "unique video", "unique audio", "unique text", "shared", "joint"}
    assert (tmp_path / "vp.png").stat().st_size > 10_000
    heat = plot_layer_modality_map(res, threshold=None, normalize=False)
    shown = heat.axes[0].images[0].get_array()
    assert shown.shape == (3, 2) and shown.sum() == 24
    with pytest.raises(BrainalignInputError, match="no variance partition"):
        plot_variance_partition(res.scores[["joint"]], groups=["a"] * 24)


def test_multimodal_result_round_trip(tmp_path):
    from brainalign.encoding import MultimodalResult

    feats = _movie_features(seed=4, seconds=120.0)
    rec, _ = simulate_multimodal_fmri(feats, layers={m: ["layer.0"] for m in feats}, n_targets=6, snr=2.0, seed=0)
    res = fit_multimodal(multimodal_designs(feats, rec, layers={m: ["layer.0"] for m in feats}), rec, n_iter=3,
                         backend="numpy")
    back = MultimodalResult.load(res.save(tmp_path / "mm"))
    assert back.bands == res.bands and back.modalities == res.modalities
    np.testing.assert_allclose(back.scores.to_numpy(), res.scores.to_numpy(), rtol=1e-12)
    assert list(back.scores.index) == list(res.scores.index)
    assert list(back.best_modality()) == list(res.best_modality())
    with pytest.raises(BrainalignInputError, match="holds no multimodal result"):
        MultimodalResult.load(tmp_path)
