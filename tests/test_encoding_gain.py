"""Significance test and confidence interval of a layer's gain over a baseline."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from brainalign.core import BrainalignInputError, DesignMatrix, Recording
from brainalign.encoding import cross_validate, gain_over_baseline_test, sweep_layers
from brainalign.encoding import correlation_score
from brainalign.encoding._bootstrap import block_resample_rows, bootstrap_fold_gains, draw_block_starts

N_HALF = 20
TR = 2.0


def _smooth(x: np.ndarray) -> np.ndarray:
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    out = np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="same"), 0, x)
    return out / out.std(0)


def _simulate(seed: int = 0, n: int = 600):
    """Targets 0..N_HALF-1: baseline + layer signal + AR(1) noise; the rest: baseline + noise only."""
    rng = np.random.default_rng(seed)
    base = _smooth(rng.normal(size=(n, 2)))
    layer = _smooth(rng.normal(size=(n, 6)))
    noise = lfilter([1.0], [1.0, -0.6], rng.normal(size=(n, 2 * N_HALF)), axis=0)
    layer_signal = layer @ rng.normal(size=(6, N_HALF))
    Y = 0.5 * base @ rng.normal(size=(2, 2 * N_HALF)) + noise / noise.std(0)
    Y[:, :N_HALF] += 0.6 * layer_signal / layer_signal.std(0)
    runs = np.repeat(["run-1", "run-2", "run-3"], n // 3)
    recording = Recording(Y, TR, runs, kind="roi")
    return DesignMatrix(layer, runs, TR, "layer.3"), DesignMatrix(base, runs, TR, "baseline"), recording


@pytest.fixture(scope="module")
def simulated():
    design, baseline, recording = _simulate()
    table = gain_over_baseline_test(design, baseline, recording, n_bootstraps=500, seed=3, backend="numpy")
    return design, baseline, recording, table


def test_gain_found_where_the_layer_adds_signal_and_not_elsewhere(simulated):
    _, _, _, table = simulated
    assert list(table.columns) == ["target", "r_model", "r_baseline", "gain", "ci_low", "ci_high", "p", "p_fdr"]
    signal, null = table.iloc[:N_HALF], table.iloc[N_HALF:]
    assert (signal["gain"] > 0).all()
    assert (signal["p_fdr"] < 0.05).mean() >= 0.8
    assert (null["p_fdr"] < 0.05).mean() < 0.1
    assert (null["p"] < 0.05).mean() < 0.15
    # intervals: above zero where the layer adds signal, not above zero where it adds nothing
    assert (signal["ci_low"] > 0).mean() >= 0.8
    assert (null["ci_low"] > 0).mean() < 0.1
    assert ((table["ci_low"] <= table["gain"]) & (table["gain"] <= table["ci_high"])).mean() >= 0.95
    assert ((table["p"] > 0) & (table["p"] <= 1)).all() and (table["p_fdr"] >= table["p"]).all()
    assert table["p"].min() >= 1 / 501
    assert table.attrs["block_samples"] == 10  # default block = 20 s gap at TR 2 s


def test_scores_are_the_held_out_fold_scores_of_the_sweep(simulated):
    design, baseline, recording, table = simulated
    sweep = sweep_layers({"layer.3": design}, recording, baseline=baseline, autocorrelation=False,
                         backend="numpy")
    np.testing.assert_allclose(table["gain"], sweep.gain_over_baseline()[0], atol=1e-6)
    np.testing.assert_allclose(table["r_baseline"], sweep.baseline_scores(), atol=1e-6)
    alone = cross_validate(baseline, recording, backend="numpy", gap_s=20.0)
    np.testing.assert_allclose(table["r_baseline"], alone.r.mean(0), atol=1e-6)
    assert table.attrs["n_folds"] == 3  # leave-one-run-out


def test_same_seed_same_result_other_seed_same_gain(simulated):
    design, baseline, recording, table = simulated
    again = gain_over_baseline_test(design, baseline, recording, n_bootstraps=500, seed=3, backend="numpy")
    np.testing.assert_array_equal(again[["gain", "ci_low", "ci_high", "p"]].to_numpy(),
                                  table[["gain", "ci_low", "ci_high", "p"]].to_numpy())
    other = gain_over_baseline_test(design, baseline, recording, n_bootstraps=500, seed=4, backend="numpy")
    np.testing.assert_allclose(other["gain"], table["gain"])
    assert not np.array_equal(other["ci_low"].to_numpy(), table["ci_low"].to_numpy())


def test_unstacked_comparison_of_two_designs():
    design, baseline, recording = _simulate(seed=1, n=300)
    table = gain_over_baseline_test(design, baseline, recording, stack_baseline=False, n_bootstraps=200,
                                    backend="numpy")
    # the layer alone misses the baseline signal that every target carries
    assert table.attrs["model"] == "layer.3" and not table.attrs["stack_baseline"]
    assert (table["gain"].iloc[N_HALF:] < 0).mean() > 0.8


def test_block_sums_equal_scores_of_explicitly_resampled_rows(rng):
    n, block, n_boot = 47, 6, 30
    Y = rng.normal(size=(2 * n, 3))
    pred_model, pred_base = Y + rng.normal(size=Y.shape), rng.normal(size=Y.shape)
    folds = [np.arange(n), np.arange(n, 2 * n)]
    gains = bootstrap_fold_gains(Y, pred_model, pred_base, folds, block, n_boot, np.random.default_rng(5))
    draw = np.random.default_rng(5)
    expected = np.zeros((n_boot, 3))
    for test in folds:
        rows = test[block_resample_rows(n, block, draw_block_starts(n, block, n_boot, draw))]
        assert rows.shape == (n_boot, n)
        # every resample is made of runs of `block` consecutive rows (circularly within the fold)
        steps = np.diff(rows - test[0], axis=1) % n
        assert ((steps == 1).sum(1) >= n - -(-n // block)).all()
        for b in range(n_boot):
            expected[b] += (correlation_score(Y[rows[b]], pred_model[rows[b]])
                            - correlation_score(Y[rows[b]], pred_base[rows[b]])) / len(folds)
    np.testing.assert_allclose(gains, expected, atol=1e-10)


def test_clear_errors_on_mismatched_or_bad_input():
    design, baseline, recording = _simulate(seed=2, n=300)
    with pytest.raises(BrainalignInputError, match="baseline has shape"):
        gain_over_baseline_test(design, baseline.X[:-5], recording)
    other_runs = DesignMatrix(baseline.X, np.repeat(["a", "b", "c"], 100), TR, "baseline")
    with pytest.raises(BrainalignInputError, match="baseline does not line up.*runs"):
        gain_over_baseline_test(design, other_runs, recording)
    short = Recording(recording.data[:-3], TR, recording.runs[:-3], kind="roi")
    with pytest.raises(BrainalignInputError, match="design does not line up.*rows"):
        gain_over_baseline_test(design, baseline, short)
    with pytest.raises(BrainalignInputError, match="fewer than two bootstrap blocks"):
        gain_over_baseline_test(design, baseline, recording, block_s=150.0, backend="numpy")
    with pytest.raises(BrainalignInputError, match="shuffle"):
        gain_over_baseline_test(design, baseline, recording, shuffle=True)
    with pytest.raises(BrainalignInputError, match="return_predictions"):
        gain_over_baseline_test(design, baseline, recording, return_predictions=True)
    with pytest.raises(BrainalignInputError, match="ci must"):
        gain_over_baseline_test(design, baseline, recording, ci=95)
    with pytest.raises(BrainalignInputError, match="n_bootstraps"):
        gain_over_baseline_test(design, baseline, recording, n_bootstraps=0)


def test_pvalues_calibrated_and_interval_covers_zero_when_two_designs_predict_equally():
    # two independent regressors with equal weights: the true gain of one over the other is exactly 0
    p_values, covered = [], []
    for seed in range(25):
        rng = np.random.default_rng(100 + seed)
        first, second = _smooth(rng.normal(size=(300, 1))), _smooth(rng.normal(size=(300, 1)))
        noise = lfilter([1.0], [1.0, -0.6], rng.normal(size=(300, 10)), axis=0)
        runs = np.repeat(["run-1", "run-2", "run-3"], 100)
        recording = Recording(0.5 * first + 0.5 * second + noise / noise.std(0), TR, runs, kind="roi")
        table = gain_over_baseline_test(DesignMatrix(first, runs, TR, "first"),
                                        DesignMatrix(second, runs, TR, "second"), recording,
                                        stack_baseline=False, n_bootstraps=300, seed=seed, backend="numpy")
        p_values.append(table["p"].to_numpy())
        covered.append(((table["ci_low"] <= 0) & (table["ci_high"] >= 0)).to_numpy())
    p_values = np.concatenate(p_values)
    assert 0.01 < (p_values < 0.05).mean() < 0.1
    assert 0.35 < np.median(p_values) < 0.65
    assert np.concatenate(covered).mean() >= 0.9


def test_block_length_follows_gap_and_block_s():
    design, baseline, recording = _simulate(seed=2, n=300)
    table = gain_over_baseline_test(design, baseline, recording, n_bootstraps=20, gap_s=0.0, backend="numpy")
    assert table.attrs["block_samples"] == 10 and table.attrs["gap_s"] == 0.0
    table = gain_over_baseline_test(design, baseline, recording, n_bootstraps=20, block_s=5.0, backend="numpy")
    assert table.attrs["block_samples"] == 3
