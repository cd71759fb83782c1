"""Ridge solver routes (Gram, kernel, SVD): same alphas and weights as direct solves, on random data."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.core import BrainalignInputError
from brainalign.encoding import _solvers
from brainalign.encoding._solvers import F32_TOLERANCE, prepare_ridge_cv, ridge_cv_flops, solve_ridge_cv

ALPHAS = np.logspace(-1, 4, 8)


def _data(rng, n, p, t=12):
    """Targets from dense weights at SNRs spread over two decades, so the best alpha differs by target."""
    X = (rng.normal(size=(n, p)) + 0.5).astype(np.float32)
    W = rng.normal(size=(p, t)) / np.sqrt(p)
    signal = X.astype(np.float64) @ W
    snr = np.logspace(-1, 1, t)
    Y = signal * snr / signal.std(0) + rng.normal(size=(n, t)) + 2.0
    return X, Y.astype(np.float32)


def _splits(n, k=4):
    edges = np.linspace(0, n, k + 1).astype(int)
    rows = np.arange(n)
    return [(np.setdiff1d(rows, rows[a:b]), rows[a:b]) for a, b in zip(edges[:-1], edges[1:])]


def _direct_ridge(X, Y, alpha):
    """float64 ridge with intercept through np.linalg.solve on the smaller system."""
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    xm, ym = X.mean(0), Y.mean(0)
    Xc, Yc = X - xm, Y - ym
    n, p = X.shape
    if p <= n:
        W = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(p), Xc.T @ Yc)
    else:
        W = Xc.T @ np.linalg.solve(Xc @ Xc.T + alpha * np.eye(n), Yc)
    return W, ym - xm @ W


def _direct_ridge_cv(X, Y, alphas, splits):
    """Per-target alphas by mean validation MSE (ties to the larger alpha), refit on all rows."""
    scores = np.zeros((len(alphas), Y.shape[1]))
    for train, val in splits:
        for k, alpha in enumerate(alphas):
            W, b = _direct_ridge(X[train], Y[train], alpha)
            scores[k] -= ((X[val].astype(np.float64) @ W + b - Y[val]) ** 2).mean(0)
    best = len(alphas) - 1 - np.argmax(scores[::-1], axis=0)
    best_alphas = np.asarray(alphas)[best]
    weights = np.column_stack([_direct_ridge(X, Y[:, [j]], a)[0][:, 0] for j, a in enumerate(best_alphas)])
    return best_alphas, weights


@pytest.mark.parametrize("shape", [(160, 30), (60, 140)], ids=["p<n", "p>n"])
def test_routes_agree_with_direct_solve_and_each_other(rng, shape):
    n, p = shape
    X, Y = _data(rng, n, p)
    X_test = rng.normal(size=(25, p)).astype(np.float32)
    splits = _splits(n)
    truth_alphas, truth_weights = _direct_ridge_cv(X, Y, ALPHAS, splits)
    assert len(np.unique(truth_alphas)) >= 3  # the selection is not trivially one alpha for all targets
    outs = {}
    for form in ("primal", "kernel", "svd"):
        out = solve_ridge_cv(X, Y, ALPHAS, splits, X_test=X_test, form=form, eigh_dtype="float64",
                             n_targets_batch=5)
        np.testing.assert_array_equal(out["best_alphas"], truth_alphas, err_msg=form)
        np.testing.assert_allclose(out["weights"], truth_weights, rtol=2e-3, atol=2e-4 * np.abs(truth_weights).max(),
                                   err_msg=form)
        outs[form] = out
    for form in ("kernel", "svd"):
        np.testing.assert_allclose(outs[form]["predictions"], outs["primal"]["predictions"], rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(outs[form]["intercept"], outs["primal"]["intercept"], rtol=1e-3, atol=1e-3)
    auto = solve_ridge_cv(X, Y, ALPHAS, splits)  # float32 eigensolver where its error bound allows
    assert auto["form"] == ("primal" if n >= p else "kernel") == ridge_cv_flops(n, p, Y.shape[1], len(ALPHAS), splits)["route"]
    np.testing.assert_array_equal(auto["best_alphas"], truth_alphas)


def test_single_alpha_refit_equals_direct_solve_on_every_route(rng):
    X, Y = _data(rng, 50, 80, t=4)
    W, b = _direct_ridge(X, Y, 3.0)
    for form in ("primal", "kernel", "svd"):
        out = solve_ridge_cv(X, Y, [3.0], _splits(50, 2), form=form, eigh_dtype="float64")
        np.testing.assert_allclose(out["weights"], W, rtol=1e-3, atol=1e-4 * np.abs(W).max(), err_msg=form)
        np.testing.assert_allclose(out["intercept"], b, rtol=1e-3, atol=1e-3, err_msg=form)
    X64 = X.astype(np.float64)
    W0 = X64.T @ np.linalg.solve(X64 @ X64.T + 3.0 * np.eye(50), Y)  # no intercept: X is not centred
    for form in ("primal", "kernel", "svd"):
        out = solve_ridge_cv(X, Y, [3.0], _splits(50, 2), form=form, eigh_dtype="float64", fit_intercept=False)
        np.testing.assert_allclose(out["weights"], W0, rtol=1e-3, atol=1e-4 * np.abs(W0).max(), err_msg=form)


def test_kernel_route_on_torch_matches_numpy(rng):
    from himalaya.backend import set_backend

    X, Y = _data(rng, 60, 140)
    splits = _splits(60)
    ref = solve_ridge_cv(X, Y, ALPHAS, splits, backend=set_backend("numpy"), eigh_dtype="float64")
    try:
        out = solve_ridge_cv(X, Y, ALPHAS, splits, backend=set_backend("torch"), eigh_dtype="float64")
    finally:
        set_backend("numpy")
    assert out["form"] == "kernel"
    np.testing.assert_array_equal(out["best_alphas"], ref["best_alphas"])
    np.testing.assert_allclose(out["weights"], ref["weights"], rtol=1e-3, atol=1e-5)


def test_float64_eigensolver_is_chosen_where_float32_would_be_wrong():
    """Nearly collinear features (lambda_max ~ 1e7) with alpha = 0.1: float32 eigenpairs lose the small directions."""
    rng = np.random.default_rng(3)
    n, p = 300, 40
    latent = rng.normal(size=(n, 3))
    X = (latent @ rng.normal(size=(3, p)) * 30 + 0.1 * rng.normal(size=(n, p))).astype(np.float32)
    Y = (X[:, :5].astype(np.float64) @ rng.normal(size=(5, 6)) + 0.1 * rng.normal(size=(n, 6))).astype(np.float32)
    splits = _splits(n, 3)

    def prediction_error(alpha, eigh_dtype):
        W, b = _direct_ridge(X, Y, alpha)
        P = X.astype(np.float64) @ W + b
        out = solve_ridge_cv(X, Y, [alpha], splits, X_test=X, eigh_dtype=eigh_dtype)
        return out["eigh_dtype"], np.abs(out["predictions"] - P).max() / np.abs(P - P.mean(0)).max()

    chosen, err_auto = prediction_error(0.1, None)
    _, err_f32 = prediction_error(0.1, "float32")
    assert chosen == "float64"
    assert err_auto < 1e-3 < err_f32 / 3, (err_auto, err_f32)
    # the same design with a penalty at the data's scale keeps float32: its error bound is under tolerance
    chosen, err = prediction_error(1e5, None)
    assert chosen == "float32" and err < 1e-4 and F32_TOLERANCE < 1


def test_unknown_route_is_refused(rng):
    X, Y = _data(rng, 40, 5, t=2)
    with pytest.raises(BrainalignInputError, match="form must be one of"):
        solve_ridge_cv(X, Y, ALPHAS, _splits(40), form="cholesky")
    with pytest.raises(BrainalignInputError, match="eigh_dtype"):
        solve_ridge_cv(X, Y, ALPHAS, _splits(40), eigh_dtype="float16")


@pytest.mark.parametrize("shape", [(160, 30), (60, 140)], ids=["primal", "kernel"])
def test_shuffled_folds_and_loop_orders_agree_with_direct_solve(rng, shape):
    """Non-contiguous fold rows (indexed, not sliced) and both loop orders: one batch (folds inside
    the target loop) and many batches (kernel form: folds outside) give the brute-force alphas."""
    n, p = shape
    X, Y = _data(rng, n, p)
    order = rng.permutation(n)
    splits = [(np.sort(order[np.setdiff1d(np.arange(n), np.arange(k, n, 4))]), np.sort(order[k::4])) for k in range(4)]
    truth_alphas, truth_weights = _direct_ridge_cv(X, Y, ALPHAS, splits)
    outs = [solve_ridge_cv(X, Y, ALPHAS, splits, eigh_dtype="float64", n_targets_batch=batch) for batch in (None, 5)]
    for out in outs:
        np.testing.assert_array_equal(out["best_alphas"], truth_alphas)
        np.testing.assert_allclose(out["weights"], truth_weights, rtol=2e-3, atol=2e-4 * np.abs(truth_weights).max())
    np.testing.assert_allclose(outs[1]["weights"], outs[0]["weights"], rtol=1e-5, atol=1e-6 * np.abs(truth_weights).max())
    np.testing.assert_allclose(outs[1]["cv_scores"], outs[0]["cv_scores"], rtol=1e-5)


def test_row_blocks_slice_contiguous_runs_only():
    from brainalign.encoding._solvers import _row_blocks

    rows = np.r_[0:10, 20:30]
    blocks = _row_blocks(rows)
    assert blocks == [(slice(0, 10), slice(0, 10)), (slice(10, 20), slice(20, 30))]
    A = np.arange(40.0)
    np.testing.assert_array_equal(np.concatenate([A[r] for _, r in blocks]), A[rows])
    assert _row_blocks(np.arange(0, 40, 2)) is None  # 20 runs: indexed, not sliced


@pytest.mark.parametrize("held", [True, False], ids=["folds-held", "folds-per-solve"])
@pytest.mark.parametrize("shape", [(160, 30), (60, 140)], ids=["primal", "kernel"])
def test_one_plan_solves_two_target_sets_bit_for_bit(rng, monkeypatch, shape, held):
    n, p = shape
    X, Y1 = _data(rng, n, p)
    Y2 = np.flip(_data(rng, n, p, t=9)[1], 0).copy() * 3.0  # other targets, other scale
    X_test = rng.normal(size=(7, p)).astype(np.float32)
    splits = _splits(n)
    if not held:  # over the budget: kernel folds are decomposed again in every solve
        monkeypatch.setattr(_solvers, "PLAN_FOLD_BYTES", 0)
    plan = prepare_ridge_cv(X, ALPHAS, splits)
    assert plan.form == ("primal" if p < n else "kernel")
    assert (plan.folds is not None) == (held or p < n)  # primal folds are always held
    for Y in (Y1, Y2, Y1):  # the first target set again after another: the plan is unchanged by solving
        for batch in (None, 4):
            got = plan.solve(Y, X_test=X_test, n_targets_batch=batch, progress=False)
            want = solve_ridge_cv(X, Y, ALPHAS, splits, X_test=X_test, n_targets_batch=batch, progress=False)
            assert got.keys() == want.keys()
            for key, value in want.items():
                np.testing.assert_array_equal(got[key], value, err_msg=key)
    # and the plan's answer is the ridge solution, not merely a self-consistent one
    best, W = _direct_ridge_cv(X, Y2, ALPHAS, splits)
    out = plan.solve(Y2)
    assert np.mean(out["best_alphas"] == best) >= 0.9
    np.testing.assert_allclose(out["weights"], W, rtol=0, atol=2e-3 * np.abs(W).max())


def test_plan_refuses_targets_of_another_length(rng):
    X, Y = _data(rng, 80, 10)
    plan = prepare_ridge_cv(X, ALPHAS, _splits(80))
    with pytest.raises(BrainalignInputError, match="80 rows"):
        plan.solve(Y[:50])
