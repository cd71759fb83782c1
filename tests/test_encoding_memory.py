"""cross_validate runs per-target estimators on batches of targets: same bits, bounded memory."""

import tracemalloc

import numpy as np
import pytest

from brainalign.core import Recording
from brainalign.encoding import cross_validate
from brainalign.encoding._crossval import targets_batch


def _simulated(rng, n=240, p=12, t=61):
    X = rng.normal(size=(n, p))
    Y = X @ rng.normal(size=(p, t)) * (rng.random(t) > 0.5) + 2 * rng.normal(size=(n, t))
    return X, Recording(Y, sampling_period=2.0, runs=np.repeat([0, 1, 2], n // 3))


@pytest.mark.parametrize("batch_bytes", [20_000, 100_000])
def test_batched_targets_give_bit_identical_results(batch_bytes):
    X, rec = _simulated(np.random.default_rng(1))
    # 2 and 13 targets per batch: 30 and 4 batches over 61 targets (a remainder of 1 joins the last)
    assert targets_batch(rec.n_samples, rec.n_targets, batch_bytes) in (2, 13)
    kw = dict(backend="numpy", n_permutations=50, seed=3, return_predictions=True)
    whole = cross_validate(X, rec, batch_bytes=10**12, **kw)
    batched = cross_validate(X, rec, batch_bytes=batch_bytes, **kw)
    for key in ("r", "r2", "alphas", "p_values", "predictions"):
        np.testing.assert_array_equal(getattr(batched, key), getattr(whole, key), err_msg=key)
    assert batched.metadata["p_fdr"] == whole.metadata["p_fdr"]
    assert batched.metadata["solver_form"] == whole.metadata["solver_form"]
    assert whole.mean_r.max() > 0.5  # planted signal found, so the comparison is not between zeros


def test_estimator_coupling_targets_is_not_batched():
    X, rec = _simulated(np.random.default_rng(2), t=8)

    class Coupled:
        """Predicts every target with the training mean of all targets: splitting them changes results."""

        def get_params(self, deep=False):
            return {}

        def set_params(self, **params):
            return self

        def fit(self, X, Y, **kw):
            self.mean_ = float(np.mean(Y))
            self.slope_ = np.linalg.lstsq(X, Y.mean(1), rcond=None)[0]
            return self

        def predict(self, X):
            return np.repeat((X @ self.slope_ + self.mean_)[:, None], 8, axis=1)

    whole = cross_validate(X, rec, estimator=Coupled(), batch_bytes=10**12)
    small = cross_validate(X, rec, estimator=Coupled(), batch_bytes=20_000)
    np.testing.assert_array_equal(small.r, whole.r)


def test_peak_memory_grows_far_less_than_the_number_of_targets():
    rng = np.random.default_rng(0)
    n, p = 400, 10
    X = rng.normal(size=(n, p))
    peaks = []
    for t in (1000, 4000):
        rec = Recording(rng.normal(size=(n, t)).astype(np.float32), sampling_period=2.0,
                        runs=np.repeat([0, 1, 2, 3], n // 4))
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        cross_validate(X, rec, backend="numpy", batch_bytes=2 * 2**20, n_permutations=20)
        peaks.append(tracemalloc.get_traced_memory()[1] - base)
        tracemalloc.stop()
        del rec
    # without batching every fold copies Y[train] and Y[test] (~ 1.6 / 6.4 MB here) and the solver's
    # working set grows with the targets too: the peak would grow ~4x
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_bad_batch_budget_is_refused():
    X, rec = _simulated(np.random.default_rng(3), t=4)
    with pytest.raises(ValueError, match="batch_bytes"):
        cross_validate(X, rec, backend="numpy", batch_bytes=0)
