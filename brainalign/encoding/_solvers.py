"""Ridge with per-target alphas chosen by inner cross-validation, one decomposition per fold.

The solver diagonalises the (centred) training Gram matrix once per inner fold
and once for the refit, and reuses that decomposition for every alpha and
every batch of targets.  With ``X = U S V^T`` the ridge prediction of new rows
``X_new`` is::

    X_new @ V @ diag(1 / (s^2 + alpha)) @ V^T @ X^T @ Y        (primal form)
    X_new @ X^T @ U @ diag(1 / (s^2 + alpha)) @ U^T @ Y        (kernel form)

so with ``Z_new = X_new @ basis`` (``basis`` = ``V`` or ``X^T U``) and
``B = basis^T X^T Y`` (primal) or ``U^T Y`` (kernel), each alpha costs one
``(n_new, rank) @ (rank, n_targets)`` product.  himalaya's ``RidgeCV`` builds
``(n_new, n_train)`` resolution matrices and multiplies them with the training
targets, which is ``n_train / rank`` times more work; the alpha-selection rule
(mean negative MSE over inner folds, ties broken towards larger alphas) is
himalaya's, so both select the same alphas and predict the same values.

Everything runs on himalaya's backend abstraction (numpy, torch, torch_cuda);
targets are processed in batches so memory stays bounded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .._logging import progress_disabled
from ..core import BrainalignInputError
from ..core.validation import positive_int

logger = logging.getLogger("brainalign.encoding")

#: bytes a batch of targets may occupy per sample row (float32), bounding memory
_BATCH_BYTES = 64 * 2**20


@dataclass
class _Decomposition:
    """One fold's diagonalised training design."""

    x_mean: object  # (n_features,)
    basis: object  # (n_features, rank): V (primal) or Xc^T U (kernel)
    eigenvalues: object  # (rank,), clipped at zero
    kernel_vectors: object | None  # U (n_train, rank) in kernel form
    n_train: int


def default_targets_batch(n_samples: int, n_targets: int) -> int:
    """Targets per batch so that one (n_samples, batch) float32 block stays under ~64 MiB."""
    return int(max(1, min(n_targets, _BATCH_BYTES // (4 * max(n_samples, 1)))))


def choose_form(n_train: int, n_features: int, form: str = "auto") -> str:
    """``"primal"`` (p x p eigenproblem) when samples >= features, else ``"kernel"`` (n x n)."""
    if form not in ("auto", "primal", "kernel"):
        raise BrainalignInputError(f"solver form must be 'auto', 'primal' or 'kernel', got {form!r}.")
    if form != "auto":
        return form
    return "primal" if n_train >= n_features else "kernel"


def _eigh_psd(matrix64, backend, dtype, eigh_dtype="float64"):
    if eigh_dtype != "float64":
        matrix64 = backend.asarray(matrix64, dtype=eigh_dtype)
    eigenvalues, vectors = backend.eigh(matrix64)
    eigenvalues = backend.clip(eigenvalues, 0, None)
    return backend.asarray(eigenvalues, dtype=dtype), backend.asarray(vectors, dtype=dtype)


def _decompose(X, rows, gram_all64, fit_intercept, form, backend, dtype, eigh_dtype="float64") -> _Decomposition:
    """Diagonalise the centred training design ``X[rows]``.

    ``gram_all64`` (float64 ``X^T X`` over all rows, primal form) lets the
    fold's Gram matrix be obtained by subtracting the excluded rows.
    """
    n_all, n_features = X.shape
    Xtr = X[rows]
    n_train = int(Xtr.shape[0])
    x_mean = Xtr.mean(0) if fit_intercept else backend.zeros_like(X, shape=(n_features,))
    if form == "primal":
        if gram_all64 is not None and n_train > n_all // 2:
            excluded = _complement(rows, n_all, backend, X)
            Xex64 = backend.asarray(X[excluded], dtype="float64")
            gram64 = gram_all64 - Xex64.T @ Xex64
        else:
            Xtr64 = backend.asarray(Xtr, dtype="float64")
            gram64 = Xtr64.T @ Xtr64
        if fit_intercept:
            m64 = backend.asarray(x_mean, dtype="float64")
            gram64 = gram64 - n_train * (m64[:, None] * m64[None, :])
        eigenvalues, V = _eigh_psd(gram64, backend, dtype, eigh_dtype)
        return _Decomposition(x_mean, V, eigenvalues, None, n_train)
    Xc64 = backend.asarray(Xtr - x_mean, dtype="float64")
    eigenvalues, U = _eigh_psd(Xc64 @ Xc64.T, backend, dtype, eigh_dtype)
    basis = (Xtr - x_mean).T @ U
    return _Decomposition(x_mean, basis, eigenvalues, U, n_train)


def _complement(rows, n_all, backend, like):
    mask = np.ones(n_all, dtype=bool)
    mask[backend.to_numpy(rows) if not isinstance(rows, np.ndarray) else rows] = False
    return backend.asarray(np.flatnonzero(mask), device=_device_of(like))


def _device_of(array):
    return getattr(array, "device", None) if not isinstance(array, np.ndarray) else None


def _fold_targets(dec: _Decomposition, Xb, Yb, rows, excluded, XtY_all, Ysum_all, fit_intercept, backend):
    """``B`` of the module docstring and the training target mean for one fold.

    In primal form ``X_train^T Y_train`` is obtained as ``X^T Y`` over all rows
    minus the excluded rows' share, so each inner fold only touches its
    validation (and gap) rows of the targets.
    """
    if dec.kernel_vectors is not None:
        Ytr = Yb[rows]
        if not fit_intercept:
            return dec.kernel_vectors.T @ Ytr, None
        y_mean = Ytr.mean(0)
        return dec.kernel_vectors.T @ (Ytr - y_mean), y_mean
    if excluded is None:
        XtY, Ysum = XtY_all, Ysum_all
    elif excluded.shape[0] < dec.n_train:
        Yex = Yb[excluded]
        XtY = XtY_all - Xb[excluded].T @ Yex
        Ysum = Ysum_all - Yex.sum(0)
    else:
        Ytr = Yb[rows]
        XtY = Xb[rows].T @ Ytr
        Ysum = Ytr.sum(0)
    y_mean = Ysum / dec.n_train
    if fit_intercept:
        # Xc^T Y = X^T Y - mean_x (sum Y)^T: the centred design is never materialised
        XtY = XtY - dec.x_mean[:, None] * Ysum[None, :]
    return dec.basis.T @ XtY, (y_mean if fit_intercept else None)


def solve_ridge_cv(
    X,
    Y,
    alphas: Sequence[float],
    inner_splits: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    fit_intercept: bool = True,
    X_test=None,
    return_weights: bool = True,
    n_targets_batch: int | None = None,
    form: str = "auto",
    backend=None,
    eigh_dtype: str | None = None,
    progress: bool | None = None,
) -> dict:
    """Per-target ridge with alphas chosen by inner CV; refit on all rows of ``X``.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
        Training design (already standardised if wanted).
    Y : ndarray, shape (n_samples, n_targets)
        Training targets; stays on the CPU, moved to the backend batch by batch.
    alphas : sequence of float
        Candidate penalties (all > 0).
    inner_splits : sequence of (train_rows, validation_rows)
        Inner folds over the rows of ``X``.
    fit_intercept : bool
        Centre design and targets on each training set (inner and refit).
    X_test : ndarray or None
        Rows to predict with the refitted model.
    return_weights : bool
        Return the refitted coefficients (n_features, n_targets).
    n_targets_batch : int or None
        Targets per batch (default: bounded to ~64 MiB per sample-by-target block).
    form : {"auto", "primal", "kernel"}
    backend : himalaya backend module or None (the current one).
    eigh_dtype : {"float64", "float32"} or None
        Precision of the eigendecompositions (Gram matrices are always
        accumulated in float64).  Default: float64 on the CPU, float32 on GPU
        backends, where float64 eigensolvers are slow.

    Returns
    -------
    dict with ``best_alphas`` (n_targets,), ``cv_scores`` (n_targets,: mean
    negative MSE of the chosen alpha), ``intercept`` (n_targets,),
    ``weights`` (n_features, n_targets) or None, ``predictions``
    (n_test, n_targets) or None, ``form``.  All numpy arrays.
    """
    if backend is None:
        from himalaya.backend import get_backend

        backend = get_backend()
    alphas_np = np.asarray(alphas, dtype=np.float64).ravel()
    if alphas_np.size == 0 or not np.all(np.isfinite(alphas_np)) or np.any(alphas_np <= 0):
        raise BrainalignInputError(f"alphas must be positive finite numbers, got {alphas_np.tolist()}.")
    Y = np.asarray(Y)
    n_samples, n_targets = Y.shape
    if X.shape[0] != n_samples:
        raise BrainalignInputError(f"X has {X.shape[0]} rows but Y has {n_samples}.")
    if not inner_splits:
        raise BrainalignInputError("At least one inner split is needed to choose alphas.")
    dtype = "float32"
    if eigh_dtype is None:
        eigh_dtype = "float32" if backend.name in ("torch_cuda", "cupy", "torch_mps") else "float64"
    if eigh_dtype not in ("float32", "float64"):
        raise BrainalignInputError(f"eigh_dtype must be 'float32' or 'float64', got {eigh_dtype!r}.")
    Xb = backend.asarray(np.asarray(X, dtype=np.float32))
    device = _device_of(Xb)
    n_features = Xb.shape[1]
    form = choose_form(n_samples, n_features, form)
    batch_size = (positive_int(n_targets_batch, "n_targets_batch") if n_targets_batch is not None
                  else default_targets_batch(n_samples, n_targets))

    # --- one decomposition per inner fold and one for the refit, shared by all alphas and targets
    gram_all64 = None
    if form == "primal":
        X64 = backend.asarray(Xb, dtype="float64")
        gram_all64 = X64.T @ X64
        del X64
    folds = []
    for train_rows, val_rows in inner_splits:
        train_rows = np.asarray(train_rows)
        val_rows = np.asarray(val_rows)
        if train_rows.size == 0 or val_rows.size == 0:
            raise BrainalignInputError("An inner fold has an empty training or validation set.")
        inner_form = choose_form(train_rows.size, n_features, form if form == "kernel" else "auto")
        tr = backend.asarray(train_rows, device=device)
        va = backend.asarray(val_rows, device=device)
        ex = np.ones(n_samples, dtype=bool)
        ex[train_rows] = False
        ex = backend.asarray(np.flatnonzero(ex), device=device)
        dec = _decompose(Xb, tr, gram_all64 if inner_form == "primal" else None, fit_intercept,
                         inner_form, backend, dtype, eigh_dtype)
        Z_val = (Xb[va] - dec.x_mean) @ dec.basis
        folds.append((tr, va, ex, dec, Z_val))
    all_rows = backend.asarray(np.arange(n_samples), device=device)
    full = _decompose(Xb, all_rows, gram_all64, fit_intercept, form, backend, dtype, eigh_dtype)
    del gram_all64
    Xtest_b = None if X_test is None else backend.asarray(np.asarray(X_test, dtype=np.float32), device=device)

    alphas_b = backend.asarray(alphas_np, dtype=dtype, device=device)
    tie_break = np.log(alphas_np) * 1e-10  # himalaya's: equal scores -> larger alpha
    best_alphas = np.empty(n_targets)
    cv_scores = np.empty(n_targets)
    intercept = np.zeros(n_targets, dtype=np.float32)
    weights = np.empty((n_features, n_targets), dtype=np.float32) if return_weights else None
    predictions = None if X_test is None else np.empty((X_test.shape[0], n_targets), dtype=np.float32)

    from tqdm.auto import tqdm

    starts = range(0, n_targets, batch_size)
    show = (progress if progress is not None else not progress_disabled()) and len(starts) > 1
    for start in tqdm(starts, desc="ridge target batches", disable=not show, leave=False):
        batch = slice(start, min(start + batch_size, n_targets))
        Yb = backend.asarray(np.ascontiguousarray(Y[:, batch], dtype=np.float32), device=device)
        # accumulated on the device (one transfer per batch), in float64 like himalaya's mean_float64
        scores_dev = backend.zeros_like(Yb, shape=(alphas_np.size, Yb.shape[1]), dtype="float64")
        XtY_all = Xb.T @ Yb if form == "primal" else None
        Ysum_all = Yb.sum(0)
        for tr, va, ex, dec, Z_val in folds:
            B, y_mean = _fold_targets(dec, Xb, Yb, tr, ex, XtY_all, Ysum_all, fit_intercept, backend)
            E = Yb[va] - y_mean if fit_intercept else Yb[va]
            n_val = E.shape[0]
            for k in range(alphas_np.size):
                # scaling the (n_val, rank) side is cheaper than the (rank, n_targets) side
                P = (Z_val / (dec.eigenvalues + alphas_b[k])[None, :]) @ B
                P -= E
                P *= P
                scores_dev[k] -= backend.asarray(P.sum(0), dtype="float64") / n_val
            del B, E
        scores = backend.to_numpy(scores_dev) / len(folds)
        # the tie-break is relative to each target's error scale: an absolute one (himalaya's, made
        # for scale-free R^2 scores) outweighs the MSE differences of data in small units (EEG in
        # volts, ~1e-10 V^2) and silently picks the largest alpha for every target
        scale = np.abs(scores).max(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        best = np.argmax(scores + tie_break[:, None] * scale[None, :], axis=0)
        best_alphas[batch] = alphas_np[best]
        cv_scores[batch] = scores[best, np.arange(best.size)]

        B, _ = _fold_targets(full, Xb, Yb, all_rows, None, XtY_all, Ysum_all, fit_intercept, backend)
        del XtY_all
        chosen = backend.asarray(alphas_np[best], dtype=dtype, device=device)
        W = full.basis @ (B / (full.eigenvalues[:, None] + chosen[None, :]))
        b0 = (Yb.mean(0) - full.x_mean @ W) if fit_intercept else backend.zeros_like(Yb, shape=(Yb.shape[1],))
        if return_weights:
            weights[:, batch] = backend.to_numpy(W)
        intercept[batch] = backend.to_numpy(b0)
        if Xtest_b is not None:
            predictions[:, batch] = backend.to_numpy(Xtest_b @ W + b0)
        del Yb, B, W
    return {
        "best_alphas": best_alphas,
        "cv_scores": cv_scores,
        "intercept": intercept,
        "weights": weights,
        "predictions": predictions,
        "form": form,
    }
