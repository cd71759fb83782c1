"""Trainable encoders against known truths: no false gain over ridge on a linear truth, clear gains where
the truth is nonlinear, cross-subject sharing, content routing; checkpoints, streaming and bad input.

Sizes are small (1 CPU thread, the whole file in about a minute and a half); every margin is stated in
its assertion message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
import torch

from brainalign.alignment import fir_delays
from brainalign.core import BrainalignInputError
from brainalign.encoding import (
    AttentionReadoutEncoder,
    BandedRidgeEncoder,
    FactorizedReadoutEncoder,
    SoftmaxEnsembleEncoder,
    TemporalTransformerEncoder,
    correlation_score,
    cross_validate_subjects,
)
from brainalign.simulation import (
    simulate_interaction_truth,
    simulate_linear_truth,
    simulate_routed_tokens,
    simulate_shared_subjects,
)

torch.set_num_threads(1)

#: a small transformer that trains in seconds on one CPU thread
SMALL = dict(width=32, depth=2, window=24, lr=3e-3, batch_size=8, modality_dropout=0.0, band_sizes=[4, 4])
FIR_DELAYS = [0, 1, 2, 3]  # samples: the linear model's window, shorter than the interaction truth's history


def _banded_ridge_r(sim, train, test):
    """Held-out r of banded ridge on an FIR design (delays 0-3 samples), penalties chosen on the training runs."""
    fir = fir_delays(sim.design(), delays=FIR_DELAYS).X
    sizes = [4] * (2 * len(FIR_DELAYS))  # one band per (modality, delay): banded ridge's most flexible use
    enc = BandedRidgeEncoder(n_iter=10, inner_cv=3, backend="numpy", band_sizes=sizes, random_state=0)
    with warnings.catch_warnings():
        # on the interaction truth ridge rightly picks the largest penalty (the design predicts nothing)
        warnings.simplefilter("ignore", UserWarning)
        enc.fit(fir[train], sim.Y[train], runs=sim.runs[train], gap=len(FIR_DELAYS))
    return correlation_score(sim.Y[test], enc.predict(fir[test]))


def test_linear_truth_no_false_gain():
    """(a) On a linear FIR truth the transformer must not beat ridge beyond noise (margin 0.02 in mean r)."""
    sim = simulate_linear_truth(n_runs=4, n_per_run=300, snr=1.0, seed=1)
    diffs = []
    for held_out in ("run-3", "run-4"):
        test = sim.runs == held_out
        train = ~test
        deep = TemporalTransformerEncoder(**SMALL, max_epochs=15).fit(sim.X[train], sim.Y[train],
                                                                      groups=sim.runs[train], gap=4)
        r_deep = correlation_score(sim.Y[test], deep.predict(sim.X[test], groups=sim.runs[test]))
        diffs.append(r_deep - _banded_ridge_r(sim, train, test))
    diff = float(np.mean(diffs))
    assert diff <= 0.02, f"transformer beats ridge on a linear truth by {diff:.3f} mean r (allowed <= 0.02)"


def test_interaction_truth_transformer_beats_banded_ridge():
    """(b) Cross-modal product with a 12-sample history: transformer ahead of banded FIR ridge by >= 0.15 r."""
    sim = simulate_interaction_truth(n_runs=4, n_per_run=1500, history=12, snr=2.0, seed=0)
    test = sim.runs == "run-4"
    train = ~test
    deep = TemporalTransformerEncoder(**SMALL, max_epochs=12).fit(sim.X[train], sim.Y[train],
                                                                  groups=sim.runs[train], gap=4)
    r_deep = correlation_score(sim.Y[test], deep.predict(sim.X[test]))
    r_ridge = _banded_ridge_r(sim, train, test)
    gain = float(np.mean(r_deep - r_ridge))
    assert gain >= 0.15, f"transformer - banded ridge = {gain:.3f} mean held-out r (needs >= 0.15)"
    assert abs(float(np.mean(r_ridge))) < 0.1, f"ridge should be near 0 on a pure interaction, got {r_ridge.mean():.3f}"


def test_multi_subject_training_helps_data_poor_subject():
    """(c) Shared response, subject gains: training across subjects beats the poor subject alone by >= 0.1 r."""
    sims = simulate_shared_subjects(n_per_run=1000, runs_per_subject=(3, 3, 2), seed=0)
    poor = sims["sub-03"]
    train = poor.runs == "run-1"
    test = ~train
    designs = {s: d.X for s, d in sims.items()}
    responses = {s: d.Y for s, d in sims.items()}
    groups = {s: d.runs for s, d in sims.items()}
    designs["sub-03"], responses["sub-03"], groups["sub-03"] = poor.X[train], poor.Y[train], poor.runs[train]
    multi = TemporalTransformerEncoder(**SMALL, max_epochs=15).fit_subjects(designs, responses, groups, gap=4)
    alone = TemporalTransformerEncoder(**SMALL, max_epochs=15).fit(poor.X[train], poor.Y[train],
                                                                   groups=poor.runs[train], gap=4)
    r_multi = correlation_score(poor.Y[test], multi.predict_subject("sub-03", poor.X[test])).mean()
    r_alone = correlation_score(poor.Y[test], alone.predict(poor.X[test])).mean()
    assert r_multi - r_alone >= 0.1, (
        f"multi-subject r {r_multi:.3f} vs single-subject r {r_alone:.3f} for the data-poor subject "
        "(needs a gain >= 0.1)"
    )


def test_attention_readout_beats_factorized_and_routes_to_planted_tokens():
    """(d) Content-routed targets: attention readout ahead of factorized by >= 0.3 r; routing argmax on the
    planted token for >= 70% of held-out image-target pairs (chance 1/16)."""
    sim = simulate_routed_tokens(n_images=1500, seed=0)
    train, test = np.arange(1200), np.arange(1200, 1500)
    att = AttentionReadoutEncoder(token_grid=sim.grid, max_epochs=30).fit(sim.X[train], sim.Y[train])
    fac = FactorizedReadoutEncoder(token_grid=sim.grid, max_epochs=30).fit(sim.X[train], sim.Y[train])
    r_att = correlation_score(sim.Y[test], att.predict(sim.X[test])).mean()
    r_fac = correlation_score(sim.Y[test], fac.predict(sim.X[test])).mean()
    assert r_att - r_fac >= 0.3, f"attention r {r_att:.3f} vs factorized r {r_fac:.3f} (needs a gap >= 0.3)"
    maps = att.routing_maps(sim.X[test])
    assert maps.shape == (300, 8, 4, 4)
    hit = (maps.reshape(300, 8, -1).argmax(-1) == sim.planted[test]).mean()
    assert hit >= 0.7, f"routing maps peak on the planted token in {hit:.2f} of pairs (needs >= 0.70, chance 0.06)"
    assert att.routing_maps_.shape == (8, 4, 4)


def test_query_groups_share_routing_maps_and_figure():
    sim = simulate_routed_tokens(n_images=200, n_targets=4, seed=1)
    enc = AttentionReadoutEncoder(token_grid=sim.grid, query_groups=["V1", "V1", "FFA", "FFA"], max_epochs=2)
    enc.fit(sim.X, sim.Y)
    assert enc.query_labels_ == ["FFA", "V1"] and enc.routing_maps_.shape == (2, 4, 4)
    from brainalign.plotting import plot_routing_maps

    fig = plot_routing_maps(enc.routing_maps_, enc.query_labels_)
    assert [ax.get_title() for ax in fig.axes] == ["FFA", "V1"]


def test_readout_token_grid_from_band_metadata_and_errors():
    sim = simulate_routed_tokens(n_images=100, n_targets=2)
    band = {"name": "vit.tokens", "n_features": sim.X.shape[1], "metadata": sim.band_metadata}
    enc = FactorizedReadoutEncoder(max_epochs=1).fit(sim.X, sim.Y, bands=(band,))
    assert enc.grid_ == (4, 4, 16) and enc.spatial_masks_.shape == (2, 4, 4)
    with pytest.raises(BrainalignInputError, match="token grid"):
        FactorizedReadoutEncoder(max_epochs=1).fit(sim.X, sim.Y)
    with pytest.raises(BrainalignInputError, match="holds 128 values"):
        AttentionReadoutEncoder(token_grid=(4, 4, 8), max_epochs=1).fit(sim.X, sim.Y)


def test_ensemble_weights_follow_validation_r():
    """The member that validates better gets the larger softmax weight for every target; weights sum to 1."""
    sim = simulate_interaction_truth(n_runs=2, n_per_run=400, n_targets=3, seed=2)
    good = TemporalTransformerEncoder(**SMALL, max_epochs=6, random_state=0)
    bad = TemporalTransformerEncoder(**{**SMALL, "lr": 1e-6}, max_epochs=1, random_state=1)  # barely trained
    ens = SoftmaxEnsembleEncoder([good, bad], temperature=0.1).fit(sim.X, sim.Y, groups=sim.runs, gap=4)
    np.testing.assert_allclose(ens.weights_.sum(0), 1.0, rtol=1e-6)
    val = ens.fit_info_["validation_r"]
    assert np.all((ens.weights_[0] > ens.weights_[1]) == (val[0] > val[1]))
    expected = sum(w * e.predict(sim.X) for w, e in zip(ens.weights_, ens.estimators_))
    np.testing.assert_allclose(ens.predict(sim.X), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(BrainalignInputError, match="same val_fraction"):
        SoftmaxEnsembleEncoder([good, TemporalTransformerEncoder(**SMALL, max_epochs=1, val_fraction=0.3)]).fit(
            sim.X, sim.Y, groups=sim.runs, gap=4)


def test_cross_validate_subjects_scores_each_subject_on_held_out_runs():
    sims = simulate_shared_subjects(n_per_run=120, runs_per_subject=(3, 2), n_targets=2, seed=3)
    designs = {s: d.design() for s, d in sims.items()}
    recordings = {s: d.recording(subject=s) for s, d in sims.items()}
    est = TemporalTransformerEncoder(**{**SMALL, "window": 12}, max_epochs=2)
    results = cross_validate_subjects(designs, recordings, est, gap_s=4.0)
    assert results["sub-01"].r.shape == (3, 2) and results["sub-02"].r.shape == (2, 2)
    assert results["sub-01"].subject == "sub-01"
    assert results["sub-02"].metadata["folds"] == [[0, 120], [120, 240]]
    assert np.all(np.isfinite(results["sub-01"].r))


def test_memmap_input_gives_the_same_fit_as_an_array(tmp_path):
    """Streaming from a memory map reads the same rows: identical predictions (same seeds)."""
    sim = simulate_interaction_truth(n_runs=2, n_per_run=200, n_targets=2, seed=4)
    path = tmp_path / "X.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=sim.X.shape)
    mm[:] = sim.X
    mm.flush()
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=sim.X.shape)
    kw = dict(**SMALL, max_epochs=2)
    a = TemporalTransformerEncoder(**kw).fit(sim.X, sim.Y, groups=sim.runs).predict(sim.X, groups=sim.runs)
    b = TemporalTransformerEncoder(**kw).fit(mm, sim.Y, groups=sim.runs).predict(mm, groups=sim.runs)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


_TRAIN_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, torch
    torch.set_num_threads(1)
    from brainalign.encoding import TemporalTransformerEncoder
    from brainalign.simulation import simulate_interaction_truth
    sim = simulate_interaction_truth(n_runs=2, n_per_run=150, n_targets=2, seed=5)
    TemporalTransformerEncoder(width=16, depth=1, window=16, batch_size=4, max_epochs=int(sys.argv[2]), patience=50,
                               band_sizes=[4, 4], checkpoint_dir=sys.argv[1]).fit(sim.X, sim.Y, groups=sim.runs)
""")


def test_checkpoint_resumes_after_kill_and_finished_fit_is_not_retrained(tmp_path):
    """kill -9 mid-training, then the same fit resumes from the last saved epoch and ends exactly like an
    uninterrupted fit; a finished checkpoint is loaded as is (file untouched)."""
    script = tmp_path / "train.py"
    script.write_text(_TRAIN_SCRIPT)
    ckpt_dir = tmp_path / "ckpt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt_dir), "30"], env=env)
    killed_at = None
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            files = list(ckpt_dir.glob("deep-*.pt")) if ckpt_dir.exists() else []
            if files:
                epoch = torch.load(files[0], weights_only=True)["record"]["epoch"]
                if epoch >= 2:
                    proc.send_signal(signal.SIGKILL)
                    killed_at = epoch
                    break
            time.sleep(0.05)
    finally:
        proc.wait()
    assert killed_at is not None, "training finished before it could be killed; raise max_epochs"
    state = torch.load(next(ckpt_dir.glob("deep-*.pt")), weights_only=True)
    assert not state["record"]["finished"]

    sim = simulate_interaction_truth(n_runs=2, n_per_run=150, n_targets=2, seed=5)
    kw = dict(width=16, depth=1, window=16, batch_size=4, max_epochs=30, patience=50, band_sizes=[4, 4])
    resumed = TemporalTransformerEncoder(**kw, checkpoint_dir=ckpt_dir).fit(sim.X, sim.Y, groups=sim.runs)
    fresh = TemporalTransformerEncoder(**kw).fit(sim.X, sim.Y, groups=sim.runs)
    assert [h["val_r"] for h in resumed.history_] == pytest.approx([h["val_r"] for h in fresh.history_], abs=1e-5)
    np.testing.assert_allclose(resumed.predict(sim.X, groups=sim.runs), fresh.predict(sim.X, groups=sim.runs),
                               atol=1e-4)

    path = next(ckpt_dir.glob("deep-*.pt"))
    stamp = path.stat().st_mtime_ns
    again = TemporalTransformerEncoder(**kw, checkpoint_dir=ckpt_dir).fit(sim.X, sim.Y, groups=sim.runs)
    assert path.stat().st_mtime_ns == stamp, "a finished fit was retrained (checkpoint rewritten)"
    np.testing.assert_allclose(again.predict(sim.X, groups=sim.runs), resumed.predict(sim.X, groups=sim.runs))
    other = TemporalTransformerEncoder(**{**kw, "random_state": 1}, checkpoint_dir=ckpt_dir)
    other.fit(sim.X, sim.Y, groups=sim.runs)
    assert other.fit_info_["checkpoint"] != resumed.fit_info_["checkpoint"], "different params, same checkpoint key"


def test_fine_grid_pooling_and_offset():
    """With fine_factor=2 each row holds two fine steps per band, pooled back to one prediction per row; with
    offset_samples=1 the response at row t is read from row t-1's tokens: a target equal to the previous
    row's cross-band product is learned (r > 0.5)."""
    rng = np.random.default_rng(6)
    n = 1600
    fine = rng.normal(size=(n, 2, 2)).astype(np.float32)  # (rows, fine steps, 2 bands x 1 feature)
    X = np.concatenate([fine[:, :, 0], fine[:, :, 1]], axis=1)  # band A: 2 steps, band B: 2 steps
    drive = (fine[:, :, 0] * fine[:, :, 1]).mean(1)
    Y = np.roll(drive, 1)[:, None] + 0.2 * rng.normal(size=(n, 1))
    Y[0] = 0
    kw = dict(width=16, depth=1, n_heads=2, window=16, lr=3e-3, batch_size=8, modality_dropout=0.0, max_epochs=8,
              fine_factor=2, band_sizes=[2, 2])
    train, test = slice(0, 1200), slice(1200, n)
    enc = TemporalTransformerEncoder(**kw, offset_samples=1.0).fit(X[train], Y[train])
    r = float(correlation_score(Y[test], enc.predict(X[test]))[0])
    assert r > 0.5, f"with the planted offset r = {r:.3f} (needs > 0.5)"
    with pytest.raises(BrainalignInputError, match="fine_factor=3 must divide"):
        TemporalTransformerEncoder(**{**kw, "fine_factor": 3}).fit(X, Y)


def test_bad_input_messages():
    X = np.zeros((100, 4), dtype=np.float32)
    Y = np.zeros((100, 2), dtype=np.float32)
    with pytest.raises(BrainalignInputError, match="add up to the design's 4 columns"):
        TemporalTransformerEncoder(band_sizes=[3, 3], max_epochs=1).fit(X, Y)
    with pytest.raises(BrainalignInputError, match="has 99 rows but 100"):
        TemporalTransformerEncoder(max_epochs=1).fit(X, Y[:99])
    with pytest.raises(BrainalignInputError, match="multiple of n_heads"):
        TemporalTransformerEncoder(width=10, n_heads=4).fit(X, Y)
    with pytest.raises(BrainalignInputError, match="same subject keys"):
        TemporalTransformerEncoder().fit_subjects({"a": X}, {"b": Y})
    with pytest.raises(BrainalignInputError, match="too few for an inner validation block"):
        TemporalTransformerEncoder(max_epochs=1).fit(X[:5], Y[:5], gap=3)
    with pytest.raises(BrainalignInputError, match="not fitted"):
        TemporalTransformerEncoder().predict(X)


def test_image_features_pooling_tokens_feed_the_attention_readout():
    """pooling="tokens" keeps the patch grid (token-major), its spatial mean is pooling="spatial_mean", and the
    grid in the metadata is what the readout needs."""
    pytest.importorskip("transformers")
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    from brainalign.features import extract_image_features

    torch.manual_seed(0)
    vit = ViTModel(ViTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                             image_size=32, patch_size=8))
    proc = ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    pixels = np.random.default_rng(0).integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    tokens = extract_image_features(pixels, vit, processor=proc, device="cpu", pooling="tokens")
    pooled = extract_image_features(pixels, vit, processor=proc, device="cpu", pooling="spatial_mean")
    assert tokens.metadata["token_grids"]["layer.0"] == [4, 4, 16]
    np.testing.assert_allclose(tokens["layer.0"].reshape(40, 16, 16).mean(1), pooled["layer.0"], atol=1e-5)
    band = {"name": "layer.0", "n_features": 256, "metadata": {"token_grid": tokens.metadata["token_grids"]["layer.0"]}}
    Y = tokens["layer.0"][:, :2]  # the first token's first two channels
    enc = AttentionReadoutEncoder(max_epochs=1).fit(tokens["layer.0"], Y, bands=(band,))
    assert enc.routing_maps_.shape == (2, 4, 4)


def test_fine_grid_design_sums_words_over_the_bins_they_overlap():
    from brainalign import FeatureSet, Timeline
    from brainalign.alignment import SampleGrid, fine_grid_design

    tl = Timeline(["a", "b", "c", "d"], [0.1, 0.3, 1.5, 0.2], [0.4, 1.2, 1.6, 0.3], runs=["r1", "r1", "r1", "r2"])
    fs = FeatureSet({"l": np.array([[1.0], [10.0], [100.0], [5.0]])}, tl)
    d = fine_grid_design(fs, SampleGrid({"r1": 2, "r2": 1}, 1.0), fine_factor=2)["l"]
    # r1 bins of 0.5 s: [0, .5) a + b, [.5, 1) b, [1, 1.5) b, [1.5, 2) c; r2: d alone, nothing from r1
    assert d.X.tolist() == [[11.0, 10.0], [10.0, 100.0], [5.0, 0.0]]
    assert d.metadata["fine_factor"] == 2
    with pytest.raises(BrainalignInputError, match="fine_factor must be an int"):
        fine_grid_design(fs, SampleGrid({"r1": 2, "r2": 1}, 1.0), fine_factor=0)


def test_layer_groups_by_fractional_depth():
    from brainalign import FeatureSet, Timeline
    from brainalign.features import layer_groups

    fs = FeatureSet({f"layer.{i}": np.full((2, 3), float(i)) for i in range(9)}, Timeline(["a", "b"], [0.0, 1.0]))
    groups = layer_groups(fs, (0.5, 0.75, 1.0))
    assert groups.metadata["layer_groups"]["depth0.75"] == ["layer.5", "layer.6"]
    assert groups["depth0.75"][0, 0] == 5.5 and groups["depth0.5"][0, 0] == 2.0
    with pytest.raises(BrainalignInputError, match="increasing depths"):
        layer_groups(fs, (0.75, 0.5))


def test_compare_encoders_paired_difference_on_interaction_truth(tmp_path):
    """Deep vs linear per target on the same folds: on the interaction truth every target's CI lies above 0 and
    survives FDR (alpha 0.05); comparing a result with itself gives a difference of exactly 0."""
    from brainalign.encoding import ContiguousBlockCV, compare_encoders, cross_validate

    sims = {"sub-01": simulate_interaction_truth(n_runs=3, n_per_run=1000, n_targets=3, seed=7)}
    sim = sims["sub-01"]
    design, recording = sim.design(), sim.recording()
    cv = ContiguousBlockCV(3, gap=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        linear = cross_validate(fir_delays(design, delays=FIR_DELAYS), recording, cv=cv, gap_s=12.0,
                                backend="numpy", return_predictions=True)
    deep = cross_validate_subjects({"sub-01": design}, {"sub-01": recording},
                                   TemporalTransformerEncoder(**SMALL, max_epochs=10), cv=cv, gap_s=12.0,
                                   return_predictions=True)["sub-01"]
    table = compare_encoders(deep, linear, recording.data, n_bootstraps=300, sampling_period=2.0)
    assert (table["ci_low"] > 0).all(), f"deep - linear CIs should lie above 0:\n{table}"
    assert (table["p_fdr"] < 0.05).all(), f"every target should survive FDR at 0.05:\n{table}"
    same = compare_encoders(linear, linear, recording.data, n_bootstraps=50, sampling_period=2.0)
    assert np.all(same["difference"] == 0) and np.all(same["ci_low"] == 0)
    with pytest.raises(BrainalignInputError, match="no held-out predictions"):
        compare_encoders(deep, cross_validate(design, recording, cv=cv, backend="numpy"), recording.data)

    # the report's generic "model A vs model B per target" section renders the table as written
    from brainalign.encoding import write_model_comparison
    from brainalign.report import comparison_html

    path = write_model_comparison(table, tmp_path)
    assert path.name == "model_comparison_deep_vs_linear.tsv"
    assert "deep minus linear" in comparison_html(table)


def test_compare_fold_scores_pairs_studies_per_target():
    """Two studies' per-fold tables: a planted +0.1 on one target has its CI above 0 (subjects resampled); a
    target where both are equal up to noise has a CI around 0; unmatched tables are refused."""
    import pandas as pd

    from brainalign.encoding import compare_fold_scores

    rng = np.random.default_rng(0)
    rows = [{"subject": f"s{s}", "layer": "layer.2", "target": t, "fold": f, "r": 0.2 + 0.05 * rng.normal()}
            for s in range(6) for t in ("LATL", "LIFG") for f in range(5)]
    ridge = pd.DataFrame(rows)
    deep = ridge.assign(r=ridge["r"] + np.where(ridge["target"] == "LATL", 0.1, 0.0)
                        + 0.02 * rng.normal(size=len(ridge)))
    table = compare_fold_scores(deep, ridge, n_bootstraps=500).set_index("target")
    assert table.loc["LATL", "ci_low"] > 0.05, f"planted +0.1 should have its CI above 0.05:\n{table}"
    assert table.loc["LIFG", "ci_low"] < 0 < table.loc["LIFG", "ci_high"], f"no difference planted:\n{table}"
    assert table.loc["LATL", "n_subjects"] == 6
    with pytest.raises(BrainalignInputError, match="share no"):
        compare_fold_scores(deep, ridge.assign(subject="other"))


def test_registered_transformer_runs_through_cross_validate():
    """estimator="transformer" works wherever a registered name does; per-fold choices land in the metadata."""
    from brainalign.encoding import cross_validate, estimator_options, list_estimators

    assert {"transformer", "attention-readout", "factorized-readout"} <= set(list_estimators())
    assert estimator_options("transformer")["modality_dropout"] == 0.3
    sim = simulate_interaction_truth(n_runs=3, n_per_run=200, n_targets=2, seed=8)
    res = cross_validate(sim.design(), sim.recording(), estimator="transformer", width=16, depth=1, window=16,
                         max_epochs=2, seed=3)
    assert res.r.shape == (3, 2) and np.all(np.isnan(res.alphas))
    assert len(res.metadata["best_epoch"]) == 3 and len(res.metadata["validation_r"]) == 3
    with pytest.raises(BrainalignInputError, match="does not apply to estimator 'transformer'"):
        cross_validate(sim.design(), sim.recording(), estimator="transformer", gate_se=1.0)
