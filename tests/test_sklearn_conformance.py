"""scikit-learn's own estimator checks, and composition with Pipeline / GridSearchCV / cross_val_score.

No check is listed as an expected failure: both encoders pass every check of ``parametrize_with_checks``
(small alpha grids keep the run short; scikit-learn itself skips its array-API checks unless
SCIPY_ARRAY_API is set).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from brainalign.core import BrainalignInputError
from brainalign.encoding import BandedRidgeEncoder, RidgeEncoder, correlation_score, cross_validate, default_alphas

ESTIMATORS = [
    RidgeEncoder(alphas=[0.1, 1.0, 10.0], cv=3, backend="numpy"),
    BandedRidgeEncoder(alphas=[0.1, 1.0, 10.0], cv=3, n_iter=3, backend="numpy"),
]


@pytest.mark.filterwarnings("ignore::UserWarning")  # alpha-at-grid-edge warnings on the checks' toy data
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _two_band_data(rng, n=240):
    A, B = rng.normal(size=(n, 4)), rng.normal(size=(n, 6))
    W = rng.normal(size=(4, 3))
    Y = A @ W + 0.3 * rng.normal(size=(n, 3))
    return A, B, Y


def test_score_is_scalar_r2_and_score_targets_gives_per_target_r(rng):
    A, B, Y = _two_band_data(rng)
    X = np.hstack([A, B])
    enc = RidgeEncoder(alphas=np.logspace(-2, 4, 7), backend="numpy").fit(X[:200], Y[:200])
    score = enc.score(X[200:], Y[200:])
    assert isinstance(score, float)
    pred = enc.predict(X[200:])
    ss_res = ((Y[200:] - pred) ** 2).sum(0)
    ss_tot = ((Y[200:] - Y[200:].mean(0)) ** 2).sum(0)
    assert score == pytest.approx(np.mean(1 - ss_res / ss_tot), rel=1e-6)
    r = enc.score_targets(X[200:], Y[200:])
    assert r.shape == (3,)
    np.testing.assert_allclose(r, correlation_score(Y[200:], pred))
    np.testing.assert_allclose(enc.score_targets(X[200:], Y[200:], metric="r2"), 1 - ss_res / ss_tot, rtol=1e-6)
    with pytest.raises(BrainalignInputError, match="metric must be 'r'"):
        enc.score_targets(X[200:], Y[200:], metric="pearson")


def test_one_dimensional_y_is_predicted_one_dimensional(rng):
    A, B, Y = _two_band_data(rng)
    for enc in (RidgeEncoder(backend="numpy"), BandedRidgeEncoder(n_iter=3, backend="numpy", band_sizes=[4, 6])):
        enc.fit(np.hstack([A, B]), Y[:, 0])
        assert enc.predict(np.hstack([A, B])).shape == (A.shape[0],)
        assert enc.score(np.hstack([A, B]), Y[:, 0]) > 0.8


def test_banded_array_with_band_sizes_equals_band_list(rng):
    A, B, Y = _two_band_data(rng)
    listed = BandedRidgeEncoder(n_iter=5, backend="numpy").fit([A, B], Y)
    stacked = BandedRidgeEncoder(n_iter=5, backend="numpy", band_sizes=[4, 6]).fit(np.hstack([A, B]), Y)
    assert stacked.band_sizes_ == listed.band_sizes_ == [4, 6]
    np.testing.assert_allclose(stacked.coef_, listed.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stacked.predict(np.hstack([A, B])), listed.predict([A, B]), rtol=1e-5, atol=1e-5)
    # the informative band A gets the larger share of the penalty budget for most targets
    assert np.mean(stacked.deltas_[0] > stacked.deltas_[1]) >= 2 / 3


def test_banded_band_size_errors_name_the_sizes(rng):
    A, B, Y = _two_band_data(rng)
    with pytest.raises(BrainalignInputError, match=r"band_sizes \[4, 5\] add up to 9 columns but X has 10"):
        BandedRidgeEncoder(band_sizes=[4, 5], backend="numpy").fit(np.hstack([A, B]), Y)
    with pytest.raises(BrainalignInputError, match="positive ints"):
        BandedRidgeEncoder(band_sizes=[4, 0, 6], backend="numpy").fit(np.hstack([A, B]), Y)
    with pytest.raises(BrainalignInputError, match=r"band_sizes=\[6, 4\] but the band list has blocks of \[4, 6\]"):
        BandedRidgeEncoder(band_sizes=[6, 4], backend="numpy").fit([A, B], Y)
    enc = BandedRidgeEncoder(n_iter=2, backend="numpy").fit([A, B], Y)
    with pytest.raises(BrainalignInputError, match=r"bands have \[6, 4\] columns; fitted on \[4, 6\]"):
        enc.predict([B, A])
    with pytest.raises(BrainalignInputError, match="same number of samples"):
        BandedRidgeEncoder(backend="numpy").fit([A, B[:10]], Y)


def test_encoders_compose_with_pipeline_gridsearch_and_cross_val_score(rng):
    A, B, Y = _two_band_data(rng)
    X = np.hstack([A, B])
    y = Y[:, 0]
    folds = KFold(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pipe = make_pipeline(StandardScaler(), BandedRidgeEncoder(n_iter=3, backend="numpy", band_sizes=[4, 6]))
        scores = cross_val_score(pipe, X, y, cv=folds)
        assert scores.shape == (4,) and scores.min() > 0.8
        search = GridSearchCV(RidgeEncoder(backend="numpy"), {"alphas": [[1e-3], [1e5]]}, cv=folds).fit(X, y)
        # a huge fixed penalty shrinks the predictions to the mean: the small one must win
        assert search.best_params_ == {"alphas": [1e-3]}
        banded = GridSearchCV(BandedRidgeEncoder(n_iter=3, backend="numpy"),
                              {"band_sizes": [[4, 6], None], "alphas": [[1e-3, 1.0], [1e5]]}, cv=folds).fit(X, y)
        assert banded.best_params_["alphas"] == [1e-3, 1.0]
        assert banded.best_score_ > 0.8


def test_unfitted_error_is_both_sklearn_and_brainalign(rng):
    X = rng.normal(size=(10, 3))
    for enc in (RidgeEncoder(), BandedRidgeEncoder()):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            enc.predict(X)
        with pytest.raises(BrainalignInputError, match="not fitted yet"):
            enc.score_targets(X, np.zeros(10))


def test_more_inner_folds_than_samples_is_refused(rng):
    X, y = rng.normal(size=(6, 2)), rng.normal(size=6)
    for enc in (RidgeEncoder(cv=10, backend="numpy"), BandedRidgeEncoder(cv=10, backend="numpy")):
        with pytest.raises(BrainalignInputError, match=r"cv=10 inner folds need at least 10 samples, got n_samples=6"):
            enc.fit(X, y)


def test_alpha_at_the_edge_of_the_grid_warns(rng):
    X = rng.normal(size=(200, 5))
    Y = X @ rng.normal(size=(5, 4)) + 0.01 * rng.normal(size=(200, 4))
    # almost no noise: the best penalty is below the whole grid
    with pytest.warns(UserWarning, match=r"lowest value of the grid \(100\) for 100% of targets"):
        RidgeEncoder(alphas=[100.0, 1000.0, 1e4], backend="numpy").fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        RidgeEncoder(backend="numpy").fit(X[:, :3], Y[:, :1] + 2 * rng.normal(size=(200, 1)))


def test_cross_validate_records_alphas_at_the_low_edge(rng, caplog):
    import logging

    from brainalign.core import Recording

    X = rng.normal(size=(300, 4))
    rec = Recording(X @ rng.normal(size=(4, 3)) + 0.01 * rng.normal(size=(300, 3)), 2.0)
    with caplog.at_level(logging.WARNING, logger="brainalign"):
        result = cross_validate(X, rec, alphas=[1e3, 1e4], backend="numpy")
    assert "lowest value of the grid (1000) for 100% of fold-target pairs" in caplog.text
    assert any("lowest value of the grid" in w for w in result.metadata["warnings"])


def test_inner_folds_from_splitters(rng):
    from brainalign.encoding import ContiguousBlockCV

    X = rng.normal(size=(120, 3))
    y = X @ np.array([1.0, -1.0, 0.5]) + 0.5 * rng.normal(size=120)
    by_int = RidgeEncoder(cv=4, backend="numpy").fit(X, y)
    by_ours = RidgeEncoder(cv=ContiguousBlockCV(4), backend="numpy").fit(X, y)
    by_sklearn = RidgeEncoder(cv=KFold(4), backend="numpy").fit(X, y)  # KFold without shuffling: the same blocks
    np.testing.assert_allclose(by_ours.best_alphas_, by_int.best_alphas_)
    np.testing.assert_allclose(by_sklearn.best_alphas_, by_int.best_alphas_)
    with pytest.raises(BrainalignInputError, match=r"gap must be >= 0 samples, got 'a'"):
        RidgeEncoder(backend="numpy").fit(X, y, gap="a")


def test_alpha_choice_does_not_depend_on_the_units_of_y(rng):
    # EEG in volts has errors of ~1e-10 V^2; an absolute tie-break between alphas used to outweigh
    # them and pick the largest alpha for every target
    X = rng.normal(size=(300, 20))
    Y = X @ rng.normal(size=(20, 6)) + 3.0 * rng.normal(size=(300, 6))
    in_units = RidgeEncoder(backend="numpy").fit(X, Y)
    in_micro_units = RidgeEncoder(backend="numpy").fit(X, Y * 1e-6)
    np.testing.assert_array_equal(in_micro_units.best_alphas_, in_units.best_alphas_)
    assert in_units.best_alphas_.max() < default_alphas().max()
