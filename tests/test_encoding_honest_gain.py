"""Honest gains over a baseline (issue #11): the default estimator, gain columns, report sections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.core import BrainalignInputError, DesignMatrix, FeatureSet
from brainalign.encoding import LayerSweep, cross_validate, gain_sensitivity, sweep_layers
from brainalign.encoding._stacked import select_one_se

from test_encoding_gain import N_HALF, _simulate

GAIN_COLUMNS = ["gain", "gain_ci_low", "gain_ci_high", "gain_p", "gain_p_fdr"]


@pytest.fixture(scope="module")
def planted():
    design, baseline, recording = _simulate(seed=1)
    sweep = sweep_layers({"layer.3": design}, recording, baseline=baseline, autocorrelation=False,
                         backend="numpy", gain_bootstraps=400)
    return design, baseline, recording, sweep


def test_planted_layer_gains_where_it_adds_signal_and_is_switched_off_elsewhere(planted):
    _, _, _, sweep = planted
    assert sweep.config["cross_validate"]["estimator"] == "pcr"  # the default with a baseline
    assert sweep.config["baseline_combination"] == "gated principal components"
    table = sweep.gain_table()
    signal, null = table.iloc[:N_HALF], table.iloc[N_HALF:]
    assert (signal["gain"] > 0).all() and signal["gain"].mean() > 0.1
    assert (signal["ci_low"] > 0).mean() >= 0.8 and (signal["p_fdr"] < 0.05).mean() >= 0.8
    # where the layer carries nothing it is mostly left out (gain exactly 0) and never hurts much;
    # the interval is conditional on the fitted models, so a fold that took the layer in by chance
    # can put a small loss's interval just below 0 (2 of 20 targets here)
    assert (null["gain"] == 0).mean() >= 0.6
    assert (null["ci_high"] >= 0).mean() >= 0.85 and null["gain"].min() > -0.05
    assert (null["gain"] >= -(null["ci_high"] - null["ci_low"])).all()  # never more than a CI width
    assert (null["p_fdr"] < 0.05).sum() == 0
    res = sweep.results["layer.3"]
    off = np.asarray(res.metadata["n_components"]) == 0  # (folds, targets); 0 = the baseline alone
    assert off.shape == res.r.shape
    assert off[:, N_HALF:].mean() > 0.6 > off[:, :N_HALF].mean()
    assert res.metadata["layer_off_fraction"] == pytest.approx(off.mean())
    assert res.config["n_components"] == "auto" and res.config["gate_se"] == 1.0


def test_gain_columns_in_scores_table_and_summary_by_default(planted, tmp_path):
    _, _, _, sweep = planted
    frame = sweep.to_frame()
    assert set(GAIN_COLUMNS) <= set(frame.columns)
    layer_rows, base_rows = frame[frame["kind"] == "layer"], frame[frame["kind"] == "baseline"]
    assert layer_rows[GAIN_COLUMNS].notna().all().all() and base_rows[GAIN_COLUMNS].isna().all().all()
    # the gain is the fold-averaged layer r minus the baseline's, as gain_over_baseline()
    np.testing.assert_allclose(sweep.gain_table()["gain"], sweep.gain_over_baseline()[0], atol=1e-12)
    summary = sweep.summary()["gain_over_baseline"]["layer.3"]
    assert set(summary["0"]) == {"gain", "ci_low", "ci_high", "p", "p_fdr"}
    sweep.save(tmp_path / "run")
    written = pd.read_csv(tmp_path / "run" / "scores.tsv", sep="\t")
    assert set(GAIN_COLUMNS) <= set(written.columns)
    again = LayerSweep.load(tmp_path / "run")
    pd.testing.assert_frame_equal(again.gain_table(), sweep.gain_table())


def test_gain_test_can_be_skipped_and_is_part_of_the_resume_key(tmp_path):
    design, baseline, recording = _simulate(seed=2, n=300)
    kwargs = dict(baseline=baseline, autocorrelation=False, backend="numpy", results_dir=tmp_path)
    plain = sweep_layers({"layer.3": design}, recording, gain_bootstraps=0, **kwargs)
    assert plain.gain_table().empty and "gain" not in plain.to_frame().columns
    tested = sweep_layers({"layer.3": design}, recording, gain_bootstraps=100, **kwargs)
    assert len(tested.gain_table()) == recording.n_targets  # not the cached result without a test
    with pytest.raises(BrainalignInputError, match="gain_bootstraps"):
        sweep_layers({"layer.3": design}, recording, gain_bootstraps=-1, **kwargs)


def test_stacked_estimator_needs_bands_and_a_valid_rule():
    design, baseline, recording = _simulate(seed=3, n=300)
    with pytest.raises(BrainalignInputError, match="estimator='stacked' needs a design stacked"):
        cross_validate(design, recording, estimator="stacked", backend="numpy")
    both = DesignMatrix.stack([baseline, design], name="both")
    with pytest.raises(BrainalignInputError, match="one_se"):
        cross_validate(both, recording, estimator="stacked", one_se=-1, backend="numpy")
    res = cross_validate(both, recording, estimator="stacked", backend="numpy")
    assert res.config["one_se"] == 1.0 and res.config["bands"] == [2, 6]


def test_one_se_rule_prefers_the_most_penalised_candidate_within_one_standard_error():
    best = np.array([1.00, 1.10, 0.90])  # inner-fold errors of the least penalised candidate
    consistent = best + np.array([0.02, 0.01, 0.03])  # worse in every fold: mean 0.02 > SE 0.006
    noisy = best + np.array([-0.05, 0.10, 0.01])  # mean +0.02, SE 0.044: within noise
    errors = np.stack([np.stack([best, consistent, noisy], axis=1)] * 2, axis=2)  # (3 folds, 3, 2 targets)
    errors[:, 2, 1] = best + 0.02  # target 1: a constant gap, no spread, is never noise
    assert select_one_se(errors, 0.0).tolist() == [0, 0]  # plain rule: lowest mean error
    assert select_one_se(errors, 1.0).tolist() == [2, 0]
    errors[:, 1, 0] = best - 0.001  # a better, less penalised candidate wins over a noisy tie
    assert select_one_se(errors, 0.0)[0] == 1
    assert select_one_se(errors, 1.0)[0] == 2


def _noise_layer(timeline, recording, seed: int, width: int = 384) -> DesignMatrix:
    from brainalign.alignment import hrf_design

    rng = np.random.default_rng(seed)
    features = FeatureSet({"noise": rng.normal(size=(timeline.n_events, width)).astype(np.float32)}, timeline)
    return hrf_design(features, recording)["noise"]


def test_pure_noise_layer_on_the_real_alice_baseline_stays_within_noise_of_it(shared_data):
    """A layer of Gaussian word features through the HRF, on top of the authors' word rate + sound power.

    The default (pcr) route must not score it below the baseline by more than noise, on the group of
    all usable participants.
    """
    from brainalign.core import Recording
    from brainalign.datasets import list_subjects_alice, load_alice

    root = shared_data / "alice_brennan2016"
    subjects = [s for s in list_subjects_alice(root) if s != "s33"]
    data = [load_alice(root, subject=s) for s in subjects]
    first = data[0].recording
    recording = Recording(np.mean([d.recording.data for d in data], axis=0), first.sampling_period, first.runs,
                          first.target_names, first.kind, subject="group")
    b = data[0].baseline_design
    baseline = DesignMatrix(np.mean([d.baseline_design.X for d in data], axis=0), b.runs, b.sampling_period,
                            "baseline", b.feature_names)
    layers = {f"noise{seed}": _noise_layer(data[0].timeline, recording, seed) for seed in (21, 22, 23)}
    sweep = sweep_layers(layers, recording, baseline=baseline, autocorrelation=False, backend="numpy",
                         gain_bootstraps=500)
    table = sweep.gain_table()
    assert len(table) == 3 * 6
    # a data-driven gate can take a noise layer in by chance; what it must not do is lose to the
    # baseline by more than noise: at most one interval of 18 just below 0 (these seeds: noise23
    # in LIPL, -0.004 [-0.008, -0.0002])
    assert (table["ci_high"] < 0).sum() <= 1 and (table["ci_high"] > -0.005).all(), table[table["ci_high"] < 0]
    assert table["gain"].min() > -0.05
    assert (table["p_fdr"] < 0.05).sum() == 0


def test_sensitivity_table_and_report_sections(planted, tmp_path):
    from brainalign.report import write_report

    design, baseline, recording, sweep = planted
    folder = sweep.save(tmp_path / "run")
    table = gain_sensitivity(design, baseline, recording, {"leave one run out": {}, "2 blocks": {"cv": 2}},
                             n_bootstraps=200, backend="numpy")
    assert table["variant"].unique().tolist() == ["leave one run out", "2 blocks"]
    assert {"target", "gain", "ci_low", "ci_high", "p", "p_fdr"} <= set(table.columns)
    (folder / "tables").mkdir()
    table.to_csv(folder / "tables" / "sensitivity.tsv", sep="\t", index=False)
    html = write_report(folder).read_text()
    assert "Gain over the baseline" in html and "Sensitivity of the gain" in html
    assert "conclusion depends on the choice" in html
    with pytest.raises(BrainalignInputError, match="at least one variant"):
        gain_sensitivity(design, baseline, recording, {})


def test_sweep_interval_is_gain_over_baseline_test(planted):
    from brainalign.encoding import gain_over_baseline_test

    design, baseline, recording, sweep = planted
    alone = gain_over_baseline_test(design, baseline, recording, n_bootstraps=400, seed=0, backend="numpy")
    assert alone.attrs["cv"] == sweep.results["layer.3"].config["cv"]
    np.testing.assert_allclose(sweep.gain_table()[["gain", "ci_low", "ci_high", "p", "p_fdr"]].to_numpy(),
                               alone[["gain", "ci_low", "ci_high", "p", "p_fdr"]].to_numpy(), atol=1e-9)


def test_pcr_estimator_validates_its_options_and_needs_bands():
    design, baseline, recording = _simulate(seed=3, n=300)
    with pytest.raises(BrainalignInputError, match="estimator='pcr' needs a design stacked"):
        cross_validate(design, recording, estimator="pcr", backend="numpy")
    both = DesignMatrix.stack([baseline, design], name="both")
    for bad in (0, [2, -1], "all", [2.5]):
        with pytest.raises(BrainalignInputError, match="n_components"):
            cross_validate(both, recording, estimator="pcr", n_components=bad, backend="numpy")
    with pytest.raises(BrainalignInputError, match="gate_se"):
        cross_validate(both, recording, estimator="pcr", gate_se=-0.5, backend="numpy")
    with pytest.raises(BrainalignInputError, match="estimator must be one of"):
        cross_validate(both, recording, estimator="pca", backend="numpy")
    res = cross_validate(both, recording, estimator="pcr", n_components=[1, 3], backend="numpy")
    assert res.config["n_components"] == [1, 3] and res.config["bands"] == [2, 6]
    assert set(np.unique(res.metadata["n_components"])) <= {0, 1, 3}


def test_component_candidates_grow_with_the_recording_and_stay_below_a_tenth_of_it():
    from brainalign.encoding._pcr import component_candidates

    assert component_candidates(290, 384) == [2, 5, 10, 20]  # Alice: ~290 training scans
    assert component_candidates(5000, 4096) == [2, 5, 10, 20, 50, 100, 200, 500]
    assert component_candidates(400, 6) == [2, 5, 6]  # a narrow layer is also tried whole
    assert component_candidates(15, 384) == [1]  # at least one candidate
    assert component_candidates(300, 8, [4, 50, 50]) == [4, 8]  # capped at the layer's width


def test_pcr_finds_a_low_dimensional_signal_in_a_wide_layer_and_leaves_noise_out():
    """A 3-dimensional signal hidden in a 200-column layer: the layer is taken where it carries the
    signal (with a handful of components) and left out where it carries nothing."""
    from brainalign.core import Recording

    rng = np.random.default_rng(5)
    n, n_targets = 500, 20
    base = rng.normal(size=(n, 2))
    latent = rng.normal(size=(n, 3))
    layer = latent @ rng.normal(size=(3, 200)) * 3 + rng.normal(size=(n, 200))
    Y = base @ rng.normal(size=(2, n_targets)) + rng.normal(size=(n, n_targets))
    Y[:, :10] += latent @ rng.normal(size=(3, 10))
    recording = Recording(Y, 2.0, kind="roi")
    runs = recording.runs
    both = DesignMatrix.stack([DesignMatrix(base, runs, 2.0, "baseline"), DesignMatrix(layer, runs, 2.0, "layer")],
                              name="layer")
    res = cross_validate(both, recording, estimator="pcr", gap_s=0, backend="numpy")
    k = np.asarray(res.metadata["n_components"])
    assert (k[:, :10] >= 2).all() and (k[:, :10] <= 20).all()
    assert (k[:, 10:] == 0).mean() >= 0.8
    alone = cross_validate(DesignMatrix(base, runs, 2.0, "baseline"), recording, gap_s=0, backend="numpy")
    left_out = (k == 0).all(axis=0)
    np.testing.assert_array_equal(res.r[:, left_out], alone.r[:, left_out])  # exactly the baseline
    assert (res.mean_r[:10] > alone.mean_r[:10] + 0.05).all()
