"""Encoding statistics, noise ceilings, banded ridge and variance partitioning."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.core import BrainalignInputError, DesignMatrix, Recording
from brainalign.encoding import (
    BandedRidgeEncoder,
    bootstrap_best_layer_ci,
    cross_validate,
    explainable_variance,
    fdr,
    intersubject_ceiling,
    normalize_scores,
    permutation_pvalues,
    sweep_layers,
    variance_partitioning,
)
from brainalign.encoding._stats import circular_shift_null, draw_shifts


def test_fdr_matches_benjamini_hochberg_by_hand():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    m = p.size
    order = np.argsort(p)
    by_hand = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    np.testing.assert_allclose(fdr(p)[order], np.minimum(by_hand, 1))
    assert fdr(p, alpha=0.05).sum() == 2
    with pytest.raises(BrainalignInputError, match="p-values"):
        fdr([0.5, np.nan])


def test_permutation_pvalues_uniform_under_null_and_small_for_signal(rng):
    n, t = 300, 200
    y = rng.normal(size=(n, t))
    pred = rng.normal(size=(n, t))
    pred[:, :20] = y[:, :20] + rng.normal(size=(n, 20))
    shifts = draw_shifts(n, 199, 10, rng)
    null = circular_shift_null(y, pred, shifts)
    obs = np.sum((y - y.mean(0)) * (pred - pred.mean(0)), 0) / (n * y.std(0) * pred.std(0))
    p = permutation_pvalues(obs, null)
    assert p[:20].max() == pytest.approx(1 / 200)
    assert 0.35 < p[20:].mean() < 0.65
    assert np.mean(p[20:] < 0.05) < 0.12


def test_bootstrap_interval_contains_the_planted_best_layer(rng):
    profile = np.array([0.05, 0.1, 0.3, 0.2, 0.1])
    scores = profile[:, None] + 0.05 * rng.normal(size=(5, 200))
    ci = bootstrap_best_layer_ci(scores, n_bootstraps=300)
    assert ci["best"] == 2 and ci["low"] <= 2 <= ci["high"]
    assert ci["peak_score_ci"][0] < 0.3 < ci["peak_score_ci"][1]


def test_explainable_variance_and_intersubject_ceiling_recover_signal_share(rng):
    n, t = 2000, 3
    signal = rng.normal(size=(n, t)) * np.array([1.0, 1.0, 0.0])
    reps = np.stack([signal + rng.normal(size=(n, t)) for _ in range(5)])
    ev = explainable_variance(reps)
    np.testing.assert_allclose(ev, [0.5, 0.5, 0.0], atol=0.05)
    subjects = [Recording(r, 2.0) for r in reps]
    isc = intersubject_ceiling(subjects)
    # corr(one subject, mean of 4 others) = 1 / sqrt(2 * (1 + 1/4)) with unit signal and noise variance
    np.testing.assert_allclose(isc[:, :2].mean(), 1 / np.sqrt(2 * 1.25), atol=0.05)
    assert abs(isc[:, 2].mean()) < 0.05
    norm = normalize_scores(np.array([0.3, 0.3, 0.1]), np.sqrt(np.clip(ev, 0, None)))
    assert norm[0] == pytest.approx(0.3 / np.sqrt(ev[0])) and (np.isnan(norm[2]) or abs(norm[2]) > 1)
    with pytest.raises(BrainalignInputError, match="same shape"):
        intersubject_ceiling([reps[0], reps[1][:10]])


@pytest.mark.parametrize("n", [300, 60], ids=["group-ridge", "multiple-kernel"])
def test_banded_ridge_attributes_variance_to_the_right_band(rng, n):
    W = rng.normal(size=(5, 4))
    A, B = rng.normal(size=(n + 500, 5)), rng.normal(size=(n + 500, 80))
    Y = A @ W + rng.normal(size=(n + 500, 4))
    train, test = slice(0, n), slice(n, None)
    enc = BandedRidgeEncoder(n_iter=10, backend="numpy").fit([A[train], B[train]], Y[train])
    assert enc.form_ == ("primal" if n >= 85 else "kernel")
    split = enc.score_bands([A[test], B[test]], Y[test])  # held-out split R^2 per band
    assert np.all(split[0] > 0.5)
    # with few samples the random search may leave the noise band a little weight on some target
    assert np.mean(np.abs(split[1])) < 0.1 * np.mean(split[0])
    assert np.mean(enc.deltas_[0] > enc.deltas_[1]) >= 0.75


def test_variance_partitioning_and_banded_cv(rng):
    n = 300
    runs = np.repeat(["r1", "r2", "r3"], 100)
    layer = DesignMatrix(rng.normal(size=(n, 8)), runs, 2.0, name="layer.3")
    rate = DesignMatrix(rng.normal(size=(n, 2)), runs, 2.0, name="word_rate")
    Y = layer.X @ rng.normal(size=(8, 5)) + 2 * rate.X[:, :1] + rng.normal(size=(n, 5)) * 2
    rec = Recording(Y, 2.0, runs, kind="fmri")
    table = variance_partitioning({"layer": layer, "baseline": rate}, rec, backend="numpy")
    assert list(table.columns) == ["joint", "unique:layer", "unique:baseline", "shared"]
    assert (table["unique:layer"] > 0.3).all() and (table["unique:baseline"] > 0.02).all()
    assert (table["unique:layer"] > table["unique:baseline"]).all()
    sweep = sweep_layers({"layer.3": layer}, rec, baseline=rate, backend="numpy", estimator="banded", n_iter=5)
    assert sweep.results["layer.3"].config["bands"] == [2, 8]
    assert sweep.gain_over_baseline().min() > 0.2
    with pytest.raises(BrainalignInputError, match="stacked"):
        cross_validate(layer, rec, estimator="banded")
