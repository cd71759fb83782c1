"""cross_validate on target batches: a memory-mapped recording is read a batch at a time, memory does not
grow with the voxel count, and a ridge core that can share one decomposition across batches is used."""

import tracemalloc

import numpy as np
import pytest

from brainalign.core import BrainalignInputError, Recording
from brainalign.encoding import RidgeEncoder, _solvers, cross_validate



def _runs(n):
    return np.repeat([0, 1, 2, 3], n // 4)


def _mapped_recording(tmp_path, rng, n_targets, n=800):
    np.save(tmp_path / f"y{n_targets}.npy", rng.normal(size=(n, n_targets)).astype(np.float32))
    return Recording(np.load(tmp_path / f"y{n_targets}.npy", mmap_mode="r"), sampling_period=2.0, runs=_runs(n))


def _peak_bytes(call) -> int:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    try:
        call()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_peak_memory_follows_the_batch_budget_not_the_number_of_targets(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 10))
    small, large = (_mapped_recording(tmp_path, rng, t) for t in (2000, 8000))
    cross_validate(X, Recording(rng.normal(size=(800, 3)), 2.0, runs=_runs(800)), backend="numpy")  # lazy imports
    batched = [_peak_bytes(lambda rec=rec: cross_validate(X, rec, backend="numpy", batch_bytes=8 * 2**20))
               for rec in (small, large)]
    whole = [_peak_bytes(lambda rec=rec: cross_validate(X, rec, backend="numpy", batch_bytes=10**12))
             for rec in (small, large)]
    # the Y slices and the solver's arrays stay within the batch; what grows is the result (5 folds x r, r2,
    # alpha per target); without batches every fold copies Y[train] and Y[test]: the peak grows ~4x
    assert batched[1] < 1.3 * batched[0], batched
    assert whole[1] > 3.5 * whole[0], whole
    assert batched[1] < 0.15 * whole[1], (batched, whole)


def test_fold_outer_batches_are_bit_identical_to_one_batch(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 6))
    Y = X @ rng.normal(size=(6, 300)) + 3 * rng.normal(size=(400, 300))
    np.save(tmp_path / "y.npy", Y.astype(np.float32))
    rec = Recording(np.load(tmp_path / "y.npy", mmap_mode="r"), 2.0, runs=_runs(400))
    kw = dict(backend="numpy", return_predictions=True, alphas=[0.1, 10.0, 1e3])
    whole = cross_validate(X, rec, batch_bytes=10**12, **kw)
    batched = cross_validate(X, rec, batch_bytes=300_000, **kw)  # 23 targets a batch: 14 batches
    for key in ("r", "r2", "alphas", "predictions"):
        np.testing.assert_array_equal(getattr(batched, key), getattr(whole, key), err_msg=key)
    assert whole.n_folds == 4 and whole.mean_r.min() > 0.1  # a real signal in every target


class _ReferencePlan:
    """The proposed ridge-core API (``prepare_ridge_cv`` / ``plan.solve``), written with ``solve_ridge_cv``:
    checks the calling side (one plan per outer fold, shared by every target batch, same bits)."""

    def __init__(self, X, alphas, inner_splits, **options):
        self.args, self.options = (X, alphas, inner_splits), options

    def solve(self, Y, n_targets_batch=None):
        X, alphas, splits = self.args
        return _solvers.solve_ridge_cv(X, Y, alphas, splits, n_targets_batch=n_targets_batch, **self.options)


@pytest.mark.parametrize("n_permutations", [0, 30])
def test_a_shared_decomposition_serves_every_target_batch(monkeypatch, n_permutations):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 8))
    Y = X @ rng.normal(size=(8, 90)) + 2 * rng.normal(size=(400, 90))
    rec = Recording(Y, 2.0, runs=_runs(400))
    kw = dict(backend="numpy", n_permutations=n_permutations, seed=4, return_predictions=True)
    reference = cross_validate(X, rec, batch_bytes=10**12, **kw)
    without = cross_validate(X, rec, batch_bytes=100_000, **kw)  # 7 targets a batch, no plan
    # the ridge core's own prepare_ridge_cv once it has one, else the reference above; counted
    prepare = getattr(_solvers, "prepare_ridge_cv", _ReferencePlan)
    made = []
    monkeypatch.setattr(_solvers, "prepare_ridge_cv", lambda *a, **k: made.append(1) or prepare(*a, **k),
                        raising=False)
    shared = cross_validate(X, rec, batch_bytes=100_000, **kw)
    assert len(made) == 4  # one per outer fold (4 runs), not one per fold and batch (13 batches)
    for key in ("r", "r2", "alphas", "predictions") + (("p_values",) if n_permutations else ()):
        np.testing.assert_array_equal(getattr(shared, key), getattr(reference, key), err_msg=key)
        np.testing.assert_array_equal(getattr(without, key), getattr(reference, key), err_msg=key)
    # the himalaya reference path has no plan: a clone per batch
    assert RidgeEncoder(solver="himalaya")._batch_fitter(X) is None


def test_recording_checks_a_mapped_file_without_reading_it_whole(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.normal(size=(1000, 16000)).astype(np.float32)  # 61 MiB, checked in two column blocks
    data[750:, 15000] = 2.0  # constant within the last run only, in the second block
    np.save(tmp_path / "y.npy", data)
    del data
    mapped = np.load(tmp_path / "y.npy", mmap_mode="r")
    caught = []

    def check():
        try:
            Recording(mapped, 2.0, runs=_runs(1000))
        except BrainalignInputError as err:
            caught.append(str(err))

    peak = _peak_bytes(check)
    assert caught and "1 target(s) are constant within a run" in caught[0] and "15000" in caught[0]
    # column blocks of ~32 MiB are checked as views: only their boolean masks are allocated (a run mask
    # would copy a quarter of the file, np.isfinite of the whole file allocate another quarter)
    assert peak < 0.2 * mapped.nbytes, peak


def test_recording_check_finds_bad_targets_in_every_block_and_run():
    data = np.random.default_rng(4).normal(size=(40, 9))
    data[10:20, 2] = 5.0  # constant in run 1 only
    data[3, 8] = np.nan
    rec = Recording(data, 2.0, runs=_runs(40), on_bad_targets="drop")
    assert rec.metadata["dropped_targets"] == ["2", "8"] and rec.n_targets == 7
