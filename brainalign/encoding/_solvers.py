"""Ridge with per-target alphas chosen by inner cross-validation, one decomposition per fold.

Three routes diagonalise each (centred) training design once per inner fold
and once for the refit, and reuse that decomposition for every alpha and every
batch of targets:

``"primal"`` (alias ``"gram"``)
    eigendecomposition of the ``p x p`` Gram matrix ``X^T X = V diag(lambda) V^T``;
    the cheapest route when features ``p`` <= training rows ``n``.  The Gram
    matrix of every fold is the all-rows one minus the excluded rows' share.
``"kernel"``
    eigendecomposition of the ``n x n`` kernel ``X X^T = U diag(lambda) U^T``;
    the cheapest route when ``p > n`` (wide layers, short recordings).  The
    kernel is built once over all rows; each inner fold is a centred
    sub-block of it, so inner folds never touch the ``p`` features again.
``"svd"``
    float32 SVD of the centred training design ``X = U S V^T``.  Never chosen
    automatically: measured 3-6x slower than the Gram route even at n >> p,
    but it does not square the condition number, so it keeps float32 accuracy
    for ill-conditioned designs with tiny alphas.

With ``Z_new = X_new @ V`` (primal, svd) or ``Xc_new @ Xc^T @ U`` (kernel) and
``B = V^T X^T Y`` or ``U^T Y``, the ridge predictions for one alpha are
``Z_new @ diag(1 / (lambda + alpha)) @ B``: one ``(n_val, rank) @ (rank,
n_targets)`` GEMM per alpha and fold.  himalaya's ``RidgeCV`` builds
``(n_new, n_train)`` resolution matrices and multiplies them with the training
targets; the alpha-selection rule (mean negative MSE over inner folds, ties
broken towards larger alphas) is himalaya's, so both select the same alphas.

Precision: everything is float32 except the accumulation of the Gram matrix
(float64, once per fit: the fold Gram matrices are differences of large
sums; the folds' kernels are sub-blocks, so the kernel stays float32) and, on
the CPU, the eigensolver when float32 would not be accurate enough (the
kernel is then rebuilt in float64): a float32 eigendecomposition is exact for a matrix perturbed
by about ``eps32 * lambda_max``, which changes the ridge solution at the
smallest alpha by up to ``eps32 * lambda_max / alpha_min`` (relative).  That
bound is computed (power iteration on the all-rows matrix, an upper bound of
every fold's) and float64 is used when it exceeds ``F32_TOLERANCE``;
``tests/test_ridge_routes.py`` shows a design where float32 would be wrong.
The bound is pessimistic: on the benchmark's data (n = 3000, p = 3072, bound
0.015) float32 and float64 eigensolvers chose the same alpha for every target
and their predictions differed by 2e-6 (relative).

Everything runs on himalaya's backend abstraction (numpy, torch, torch_cuda);
targets are processed in batches so memory stays bounded.  Loop order: with
kernel-form inner folds, folds outside and target batches inside (one fold's
``n_train x n_train`` eigenvectors in memory at a time, per-target scores
accumulated); with primal inner folds, batches outside (each batch's
all-rows ``X^T Y`` serves every fold, whose ``p x p`` eigenvectors are kept).
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
#: accepted ``form`` values; "gram" is another name for "primal"
FORMS = ("auto", "primal", "gram", "kernel", "svd")
#: largest tolerated ``eps32 * lambda_max / alpha_min`` for float32 eigensolvers on the CPU
F32_TOLERANCE = 0.1
_EPS32 = float(np.finfo(np.float32).eps)
_GPU_BACKENDS = ("torch_cuda", "cupy", "torch_mps")


@dataclass
class _Decomposition:
    """One fold's diagonalised training design (coordinates centred by the all-rows mean)."""

    form: str
    x_mean: object  # (n_features,) training mean
    eigenvalues: object  # (rank,), clipped at zero
    vectors: object  # V (n_features, rank) for primal/svd, U (n_train, rank) for kernel
    n_train: int
    basis: object | None = None  # V, or Xc^T U in kernel form (only built for the refit)
    kernel_means: object | None = None  # kernel form: the training block's row means (X_tr m)


def default_targets_batch(n_samples: int, n_targets: int) -> int:
    """Targets per batch so that one (n_samples, batch) float32 block stays under ~64 MiB."""
    return int(max(1, min(n_targets, _BATCH_BYTES // (4 * max(n_samples, 1)))))


def working_set_batch(n_samples: int, n_features: int, n_targets: int, n_val: int) -> int:
    """Targets per batch so that the solver's per-target arrays stay under ~64 MiB together.

    Per target the loop holds, in float32: its training column and a centred
    copy (``2 n``), the fold's coordinates ``B`` and ``X^T Y`` (``2 min(n, p)``),
    the refitted weights (``p``) and a validation error and prediction
    (``2 n_val``).  Sizing the batch on all of them (not on the ``n``-row block
    alone) keeps peak memory under half of himalaya's on wide layers; 64 MiB
    rather than 128 MiB cost ~2 % of the fit time at n = 1500, p = 768 / 1536
    (5 000 targets) and took the peak from 159 to 123 MiB at p = 1536.
    """
    per_target = 4 * (2 * n_samples + 2 * min(n_samples, n_features) + n_features + 2 * n_val)
    return int(max(1, min(n_targets, _BATCH_BYTES // per_target)))


def choose_form(n_train: int, n_features: int, form: str = "auto") -> str:
    """The route for a training set of ``n_train`` rows and ``n_features`` columns.

    ``"auto"``: ``"primal"`` (p x p eigenproblem) when samples >= features,
    else ``"kernel"`` (n x n): the smaller eigenproblem.  ``"gram"`` is
    returned as ``"primal"``.
    """
    if form not in FORMS:
        raise BrainalignInputError(f"solver form must be one of {FORMS}, got {form!r}.")
    if form == "gram":
        return "primal"
    if form != "auto":
        return form
    return "primal" if n_train >= n_features else "kernel"


def ridge_cv_flops(n_samples: int, n_features: int, n_targets: int, n_alphas: int,
                   inner_splits: Sequence[tuple[np.ndarray, np.ndarray]], form: str = "auto",
                   n_test: int = 0) -> dict:
    """Floating-point operations of :func:`solve_ridge_cv` by stage (GEMM-dominated count).

    Eigendecompositions are counted as ``9 m^3`` (tridiagonalisation plus
    back-transformation) and SVDs as ``4 n p^2 + 8 p^3``; GEMMs as ``2 m k n``.

    Examples
    --------
    >>> splits = [(np.arange(80, 100), np.arange(80)), (np.arange(80), np.arange(80, 100))]
    >>> ridge_cv_flops(100, 10, 5, 3, splits)["route"]
    'primal'
    """
    n, p, t = n_samples, n_features, n_targets
    refit_form = choose_form(n, p, form)
    out = {"route": refit_form, "setup": 0.0, "decompositions": 0.0, "targets": 0.0, "alphas": 0.0}
    uses = set()
    decs = []
    for train, val in inner_splits:
        n_tr, n_va = len(train), len(val)
        f = choose_form(n_tr, p, form if form in ("kernel", "svd") else "auto")
        decs.append((f, n_tr, n_va))
    decs.append((refit_form, n, n_test))
    for f, n_tr, n_va in decs:
        uses.add(f)
        rank = min(n_tr, p)
        if f == "svd":
            out["decompositions"] += 4.0 * n_tr * p * p + 8.0 * p ** 3
        else:
            m = p if f == "primal" else n_tr
            out["decompositions"] += 9.0 * m ** 3
        # validation (or test) projections and the targets' coordinates B
        if f == "kernel":
            out["decompositions"] += 2.0 * n_va * n_tr * rank
            out["targets"] += 2.0 * n_tr * rank * t
        else:
            out["decompositions"] += 2.0 * n_va * p * rank
            out["targets"] += 2.0 * p * rank * t + (2.0 * (n - n_tr) * p * t if n_tr < n else 0.0)
        if n_va and (n_tr < n):
            out["alphas"] += n_alphas * 2.0 * n_va * rank * t
    if "primal" in uses:
        out["setup"] += 2.0 * n * p * p + 2.0 * n * p * t  # all-rows Gram and X^T Y
    if "kernel" in uses:
        out["setup"] += 2.0 * n * n * p + 2.0 * p * n * min(n, p)  # kernel, refit basis Xc^T U
    out["targets"] += 2.0 * p * min(n, p) * t  # refit weights
    out["total"] = sum(v for k, v in out.items() if k not in ("route",))
    return out


def _eigh(matrix, backend, dtype, overwrite: bool = False):
    """Eigenpairs of a symmetric PSD matrix in ``dtype``, eigenvalues clipped at zero.

    ``overwrite``: the caller no longer needs ``matrix`` and lets LAPACK reuse it.
    """
    if backend.name == "numpy":
        import scipy.linalg

        # LAPACK's divide-and-conquer driver: 2x faster than scipy's default (evr) in float32
        eigenvalues, vectors = scipy.linalg.eigh(np.asarray(matrix, dtype=dtype), driver="evd",
                                                 overwrite_a=overwrite, check_finite=False)
    else:
        eigenvalues, vectors = backend.eigh(backend.asarray(matrix, dtype=dtype))
    return backend.clip(eigenvalues, 0, None), vectors


def _largest_eigenvalue(matrix, backend, n_iter: int = 30) -> float:
    """Power-iteration estimate of a PSD matrix's largest eigenvalue (from below; inflated 10%)."""
    rng = np.random.default_rng(0)
    v = backend.asarray(rng.standard_normal(matrix.shape[0]), dtype=str(matrix.dtype).replace("torch.", ""),
                        device=_device_of(matrix))
    value = 0.0
    for _ in range(n_iter):
        w = matrix @ v
        norm = float(backend.to_numpy((w * w).sum()) ** 0.5)
        if norm == 0.0:
            return 0.0
        value = float(backend.to_numpy((v * w).sum()) / backend.to_numpy((v * v).sum()))
        v = w / norm
    return 1.1 * value


def _device_of(array):
    return getattr(array, "device", None) if not isinstance(array, np.ndarray) else None


def _index(rows, device, backend):
    return backend.asarray(np.asarray(rows), device=device)


class _Designs:
    """The all-rows products every fold's decomposition is cut from.

    The Gram matrix is accumulated in float64 (fold Gram matrices are the
    all-rows one minus the excluded rows' share: differences of large sums).
    The kernel is float32: each fold's kernel is a sub-block of it, never a
    difference, so float32 rounding of its entries (``~eps32 |x_i| |x_j|``) is
    of the size of the float32 eigensolver's own error; it is rebuilt in
    float64 (:meth:`promote_kernel`) when the eigensolver must be float64.
    """

    def __init__(self, Xb, fit_intercept, forms, backend):
        self.X = Xb
        self.backend = backend
        self.fit_intercept = fit_intercept
        if "primal" in forms:
            X64 = backend.asarray(Xb, dtype="float64")
            self.gram64 = X64.T @ X64
            del X64
        else:
            self.gram64 = None
        self.kernel = Xb @ Xb.T if "kernel" in forms else None

    def promote_kernel(self):
        """Rebuild the kernel in float64 (for a float64 eigensolver)."""
        if self.kernel is not None:
            X64 = self.backend.asarray(self.X, dtype="float64")
            self.kernel = X64 @ X64.T

    def largest_eigenvalue(self) -> float:
        matrix = self.gram64 if self.gram64 is not None else self.kernel
        if matrix is None:
            return 0.0
        return _largest_eigenvalue(matrix, self.backend)

    def decompose(self, form, rows_np, n_all, eigh_dtype, consume: bool = False) -> _Decomposition:
        backend, X = self.backend, self.X
        device = _device_of(X)
        rows = _index(rows_np, device, backend)
        n_train = int(rows_np.size)
        n_features = X.shape[1]
        Xtr = X[rows]
        x_mean = Xtr.mean(0) if self.fit_intercept else backend.zeros_like(X, shape=(n_features,))
        if form == "svd":
            _, s, Vt = backend.svd(Xtr - x_mean, full_matrices=False) if backend.name != "numpy" else \
                _numpy_svd(Xtr - x_mean)
            return _Decomposition(form, x_mean, s * s, Vt.T, n_train, basis=Vt.T)
        if form == "primal":
            if n_train == n_all:
                gram64 = self.gram64
            elif n_train > n_all // 2:
                excluded = np.ones(n_all, dtype=bool)
                excluded[rows_np] = False
                Xex64 = backend.asarray(X[_index(np.flatnonzero(excluded), device, backend)], dtype="float64")
                gram64 = self.gram64 - Xex64.T @ Xex64
            else:
                Xtr64 = backend.asarray(Xtr, dtype="float64")
                gram64 = Xtr64.T @ Xtr64
            if self.fit_intercept:
                m64 = backend.asarray(x_mean, dtype="float64")
                gram64 = gram64 - n_train * (m64[:, None] * m64[None, :])
            eigenvalues, V = _eigh(gram64, backend, eigh_dtype)
            V = backend.asarray(V, dtype="float32")
            return _Decomposition(form, x_mean, backend.asarray(eigenvalues, dtype="float32"), V, n_train, basis=V)
        if consume:
            # the refit comes after every inner fold's projections: it consumes the all-rows kernel
            K, self.kernel = self.kernel, None
        elif n_train == n_all:
            # a reusable plan's refit keeps the kernel for the folds: a C-ordered copy, so the centring
            # and eigensolver see the same layout (same bits) as the consumed kernel (fancy indexing
            # on both axes would return a Fortran-ordered block)
            K = self.kernel.clone() if hasattr(self.kernel, "clone") else self.kernel.copy()  # torch: clone
        else:
            K = self.kernel[rows][:, rows]
        train_means = None
        if self.fit_intercept:
            # centred in place: transient memory is one n_train x n_train block.  The training rows'
            # means are kept: they centre the validation rows' kernel without cutting this block again
            train_means = K.mean(1)
            grand = train_means.mean()
            K -= train_means[:, None]
            K -= train_means[None, :]
            K += grand
        K = backend.asarray(K, dtype=eigh_dtype)
        eigenvalues, U = _eigh(K, backend, eigh_dtype, overwrite=True)
        del K
        return _Decomposition(form, x_mean, backend.asarray(eigenvalues, dtype="float32"),
                              backend.asarray(U, dtype="float32"), n_train, kernel_means=train_means)

    def validation_projection(self, dec: _Decomposition, train_np, val_np):
        """``Z_val`` of the module docstring for one inner fold."""
        backend, X = self.backend, self.X
        device = _device_of(X)
        va = _index(val_np, device, backend)
        if dec.form != "kernel":
            return (X[va] - dec.x_mean) @ dec.vectors
        tr = _index(train_np, device, backend)
        K_va = self.kernel[va][:, tr]
        if self.fit_intercept:
            # (X_va - m)(X_tr - m)^T = K_va - (X_va m) 1^T - 1 (X_tr m)^T + m^T m, with X_va m the
            # row means of K_va and X_tr m, m^T m those of the training block (kept by decompose)
            tr_means = dec.kernel_means
            K_va = K_va - K_va.mean(1)[:, None] - tr_means[None, :] + tr_means.mean()
        return backend.asarray(K_va, dtype="float32") @ dec.vectors

    def refit_basis(self, dec: _Decomposition):
        if dec.basis is None:
            dec.basis = (self.X - dec.x_mean).T @ dec.vectors
        return dec.basis


def _numpy_svd(A):
    import scipy.linalg

    return scipy.linalg.svd(A, full_matrices=False, check_finite=False)


def _row_blocks(rows_np: np.ndarray, max_blocks: int = 4):
    """``rows`` as at most ``max_blocks`` ``(position slice, row slice)`` pairs, or None.

    Contiguous folds (``KFold``, run-wise splits) select their rows with slices,
    which are views: no copy of the ``(n_rows, n_targets)`` block.
    """
    if rows_np.size == 0:
        return None
    breaks = np.flatnonzero(np.diff(rows_np) != 1) + 1
    if breaks.size >= max_blocks:
        return None
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [rows_np.size]])
    return [(slice(int(a), int(b)), slice(int(rows_np[a]), int(rows_np[a]) + int(b - a))) for a, b in zip(starts, stops)]


class _Rows:
    """Rows of the design or of a target batch, as slices where the rows are contiguous runs."""

    def __init__(self, rows_np, device, backend):
        self.size = int(rows_np.size)
        self.blocks = _row_blocks(np.asarray(rows_np))
        self.index = None if self.blocks is not None else _index(rows_np, device, backend)

    def take(self, A, backend):
        """``A[rows]`` (a view when the rows are one contiguous run)."""
        if self.blocks is None:
            return A[self.index]
        if len(self.blocks) == 1:
            return A[self.blocks[0][1]]
        return backend.concatenate([A[r] for _, r in self.blocks], 0)

    def left_product(self, L, A):
        """``L.T @ A[rows]`` with ``L`` indexed by position, block by block (no copy of ``A``'s rows)."""
        if self.blocks is None:
            return L.T @ A[self.index]
        out = None
        for pos, r in self.blocks:
            part = L[pos].T @ A[r]
            if out is None:
                out = part
            else:
                out += part
        return out

    def sum(self, A):
        if self.blocks is None:
            return A[self.index].sum(0)
        out = None
        for _, r in self.blocks:
            out = A[r].sum(0) if out is None else out + A[r].sum(0)
        return out


def _sub_outer(B, u, v, backend):
    """``B -= u v^T`` in place: a BLAS rank-1 update on numpy, no ``B``-sized temporary."""
    if backend.name == "numpy" and B.dtype == np.float32 and B.flags.c_contiguous and B.size:
        from scipy.linalg.blas import sger

        # B^T is Fortran-ordered (n_targets, rank): sger updates it in place
        sger(-1.0, np.asarray(v, dtype=np.float32), np.asarray(u, dtype=np.float32), a=B.T, overwrite_a=True)
    else:
        B -= u[:, None] * v[None, :]
    return B


@dataclass
class _Fold:
    """One inner fold ready for the target loop: its decomposition and validation projection."""

    train: _Rows
    val: _Rows
    excluded: _Rows
    dec: _Decomposition
    Z_val: object


def _fold_targets(dec: _Decomposition, Xb, Yb, train, excluded, XtY_all, Ysum_all, fit_intercept, backend):
    """``B`` of the module docstring and the training target mean for one fold.

    ``train`` / ``excluded``: :class:`_Rows`, or None for the refit (all rows).
    In primal form ``X_train^T Y_train`` is obtained as ``X^T Y`` over all rows
    minus the excluded rows' share, rotated first (``V^T X^T Y - (X_ex V)^T
    Y_ex``), so each inner fold only touches its validation (and gap) rows of
    the targets and no ``(n_features, n_targets)`` temporary is formed.  The
    centring of design and targets is a rank-1 correction of ``B``.
    """
    if dec.form == "kernel":
        U = dec.vectors
        if train is None:
            B = U.T @ Yb
            Ysum = Ysum_all
        else:
            B = train.left_product(U, Yb)
            Ysum = Ysum_all - excluded.sum(Yb) if excluded.size < train.size else train.sum(Yb)
        if not fit_intercept:
            return B, None
        y_mean = Ysum / dec.n_train
        # U^T (Y - 1 y_mean^T) = U^T Y - (U^T 1) y_mean^T
        return _sub_outer(B, U.sum(0), y_mean, backend), y_mean
    V = dec.vectors
    if train is None:
        B, Ysum = V.T @ XtY_all, Ysum_all
    elif excluded.size < train.size:
        Yex = excluded.take(Yb, backend)
        B = V.T @ XtY_all
        B -= (excluded.take(Xb, backend) @ V).T @ Yex
        Ysum = Ysum_all - Yex.sum(0)
    else:
        B = train.left_product(train.take(Xb, backend) @ V, Yb)  # (X_tr V)^T Y_tr
        Ysum = train.sum(Yb)
    y_mean = Ysum / dec.n_train
    if not fit_intercept:
        return B, None
    # V^T Xc^T Y = V^T X^T Y - (V^T mean_x) (sum Y)^T: the centred design is never materialised
    return _sub_outer(B, V.T @ dec.x_mean, Ysum, backend), y_mean


def _fold_scores(fold: _Fold, Xb, Yb, XtY_all, Ysum_all, alphas_b, fit_intercept, backend):
    """Negative validation MSE of every alpha for one fold and a batch of targets, (n_alphas, batch) float64."""
    dec, Z_val = fold.dec, fold.Z_val
    B, y_mean = _fold_targets(dec, Xb, Yb, fold.train, fold.excluded, XtY_all, Ysum_all, fit_intercept, backend)
    E = fold.val.take(Yb, backend)
    E = E - y_mean if fit_intercept else E
    n_val = E.shape[0]
    scores = backend.zeros_like(Yb, shape=(alphas_b.shape[0], Yb.shape[1]), dtype="float64")
    for k in range(alphas_b.shape[0]):
        # scaling the (n_val, rank) side is cheaper than the (rank, n_targets) side
        P = (Z_val / (dec.eigenvalues + alphas_b[k])[None, :]) @ B
        P -= E
        P *= P
        scores[k] -= backend.asarray(P.sum(0), dtype="float64") / n_val
    return scores


def _choose_eigh_dtype(eigh_dtype, backend, designs: _Designs, alpha_min: float) -> str:
    if eigh_dtype is not None:
        if eigh_dtype not in ("float32", "float64"):
            raise BrainalignInputError(f"eigh_dtype must be 'float32' or 'float64', got {eigh_dtype!r}.")
        return eigh_dtype
    if backend.name in _GPU_BACKENDS:
        return "float32"  # float64 eigensolvers are slow on most GPUs
    bound = _EPS32 * designs.largest_eigenvalue() / alpha_min
    chosen = "float32" if bound <= F32_TOLERANCE else "float64"
    logger.debug("float32 eigensolver error bound %.2e (tolerance %.0e): %s", bound, F32_TOLERANCE, chosen)
    return chosen


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

    ``prepare_ridge_cv(X, alphas, inner_splits, ...).solve(Y, ...)``: see
    :func:`prepare_ridge_cv` to solve several target sets with one set of
    decompositions.

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
        Targets per batch (default: :func:`working_set_batch`, ~64 MiB of per-target arrays).
    form : {"auto", "primal", "gram", "kernel", "svd"}
        Route (module docstring).  ``"auto"`` takes the smaller eigenproblem
        for each training set; a forced ``"primal"`` applies to the refit and
        to the inner folds with at least as many rows as features.
    backend : himalaya backend module or None (the current one).
    eigh_dtype : {"float32", "float64"} or None
        Precision of the eigendecompositions (Gram matrices are always
        accumulated in float64).  Default: float32 on GPU backends; on the CPU
        float32 unless its error bound at the smallest alpha exceeds
        ``F32_TOLERANCE`` (module docstring).

    Returns
    -------
    dict with ``best_alphas`` (n_targets,), ``cv_scores`` (n_targets,: mean
    negative MSE of the chosen alpha), ``intercept`` (n_targets,),
    ``weights`` (n_features, n_targets) or None, ``predictions``
    (n_test, n_targets) or None, ``form`` (the refit's route) and
    ``eigh_dtype``.  All numpy arrays.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 5)).astype(np.float32)
    >>> Y = X @ rng.normal(size=(5, 3)) + 0.1 * rng.normal(size=(60, 3))
    >>> splits = [(np.arange(30, 60), np.arange(30)), (np.arange(30), np.arange(30, 60))]
    >>> out = solve_ridge_cv(X, Y, [0.1, 10.0, 1000.0], splits)
    >>> out["form"], out["best_alphas"].tolist()
    ('primal', [0.1, 0.1, 0.1])
    """
    Y = np.asarray(Y)
    if np.shape(X)[0] != Y.shape[0]:
        raise BrainalignInputError(f"X has {np.shape(X)[0]} rows but Y has {Y.shape[0]}.")
    # one solve: kernel-form folds are decomposed one at a time inside it (memory of one fold)
    plan = prepare_ridge_cv(X, alphas, inner_splits, fit_intercept=fit_intercept, form=form, backend=backend,
                            eigh_dtype=eigh_dtype, _single_use=True)
    return plan.solve(Y, X_test=X_test, return_weights=return_weights, n_targets_batch=n_targets_batch,
                      progress=progress)


#: a reusable plan keeps every kernel-form inner fold's decomposition when they fit in these bytes
PLAN_FOLD_BYTES = 256 * 2**20


def prepare_ridge_cv(
    X,
    alphas: Sequence[float],
    inner_splits: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    fit_intercept: bool = True,
    form: str = "auto",
    backend=None,
    eigh_dtype: str | None = None,
    _single_use: bool = False,
) -> "RidgeCVPlan":
    """Everything of :func:`solve_ridge_cv` that does not depend on the targets, done once.

    Checks, the offset, the routes, every inner fold's decomposition and the
    refit's.  ``prepare_ridge_cv(X, ...).solve(Y, ...)`` equals
    ``solve_ridge_cv(X, Y, ...)`` bit for bit, and one plan solves any number
    of target sets (e.g. the target batches of a whole-brain fit) without
    decomposing again.

    Memory: primal-form folds keep their ``p x p`` eigenvectors (as
    :func:`solve_ridge_cv` does).  Kernel-form folds cost ``n_train^2 +
    n_val n_train`` float32 each; the plan keeps all of them when they fit in
    ``PLAN_FOLD_BYTES`` (256 MiB: about 5 folds of 3 300 training rows).
    Beyond that it keeps the all-rows kernel instead and decomposes one fold
    at a time in every :meth:`RidgeCVPlan.solve` (the refit's decomposition is
    still shared), so memory stays that of a single solve.

    Parameters are those of :func:`solve_ridge_cv`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 5)).astype(np.float32)
    >>> splits = [(np.arange(30, 60), np.arange(30)), (np.arange(30), np.arange(30, 60))]
    >>> plan = prepare_ridge_cv(X, [0.1, 10.0, 1000.0], splits)
    >>> Y = X @ rng.normal(size=(5, 4))
    >>> first, second = plan.solve(Y[:, :2]), plan.solve(Y[:, 2:])
    >>> np.array_equal(first["weights"], solve_ridge_cv(X, Y[:, :2], [0.1, 10.0, 1000.0], splits)["weights"])
    True
    """
    if backend is None:
        from himalaya.backend import get_backend

        backend = get_backend()
    alphas_np = np.asarray(alphas, dtype=np.float64).ravel()
    if alphas_np.size == 0 or not np.all(np.isfinite(alphas_np)) or np.any(alphas_np <= 0):
        raise BrainalignInputError(f"alphas must be positive finite numbers, got {alphas_np.tolist()}.")
    if not inner_splits:
        raise BrainalignInputError("At least one inner split is needed to choose alphas.")
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise BrainalignInputError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}.")
    n_samples, n_features = X.shape
    form = choose_form(n_samples, n_features, form)
    # ridge with an intercept is translation invariant: centring by the all-rows mean once keeps
    # the float32 kernel / Gram products free of the cancellation a large feature offset causes
    offset = X.mean(0) if fit_intercept else np.zeros(n_features, dtype=np.float32)
    Xb = backend.asarray(X - offset)
    splits = []
    for train_rows, val_rows in inner_splits:
        train_rows = np.asarray(train_rows)
        val_rows = np.asarray(val_rows)
        if train_rows.size == 0 or val_rows.size == 0:
            raise BrainalignInputError("An inner fold has an empty training or validation set.")
        inner_form = choose_form(train_rows.size, n_features, form if form in ("kernel", "svd") else "auto")
        splits.append((train_rows, val_rows, inner_form))
    forms = {f for *_, f in splits} | {form}
    designs = _Designs(Xb, fit_intercept, forms, backend)
    eigh_dtype = _choose_eigh_dtype(eigh_dtype, backend, designs, float(alphas_np.min()))
    if eigh_dtype == "float64":
        designs.promote_kernel()
    all_kernel = all(f == "kernel" for *_, f in splits)
    fold_bytes = sum(4 * t.size * (t.size + v.size) for t, v, _ in splits)
    # kernel-form folds held at once only when reused and within budget; else one at a time per solve
    hold = not all_kernel or (not _single_use and fold_bytes <= PLAN_FOLD_BYTES)
    plan = RidgeCVPlan(backend, designs, offset, alphas_np, splits, form, eigh_dtype, fit_intercept)
    if hold:
        # --- one decomposition per inner fold and one for the refit, shared by all alphas and targets
        plan.folds = [plan._prepare_fold(*spec) for spec in splits]
        plan._refit(consume=True)
    elif not _single_use:
        plan._refit(consume=False)  # the kernel stays for the folds
    logger.debug("ridge plan: n=%d, p=%d, refit route %s, inner folds %s (%.0f MiB in kernel form)", n_samples,
                 n_features, form, "held" if hold else "decomposed in every solve", fold_bytes / 2**20)
    return plan


class RidgeCVPlan:
    """Decompositions of one design for :func:`solve_ridge_cv` on any number of target sets.

    Made by :func:`prepare_ridge_cv`; :meth:`solve` returns what
    :func:`solve_ridge_cv` returns for the same arguments, bit for bit.
    """

    def __init__(self, backend, designs, offset, alphas, splits, form, eigh_dtype, fit_intercept):
        self.backend = backend
        self.designs = designs
        self.offset = offset
        self.alphas = alphas
        self.splits = splits
        self.form = form
        self.eigh_dtype = eigh_dtype
        self.fit_intercept = fit_intercept
        self.n_samples, self.n_features = designs.X.shape
        self.folds = None  # the prepared inner folds when held
        self.full = None  # the refit's decomposition
        self.basis = None
        self._consumed = False

    def _prepare_fold(self, train_rows, val_rows, inner_form) -> _Fold:
        designs, backend, n = self.designs, self.backend, self.n_samples
        device = _device_of(designs.X)
        dec = designs.decompose(inner_form, train_rows, n, self.eigh_dtype)
        Z_val = designs.validation_projection(dec, train_rows, val_rows)
        ex = np.ones(n, dtype=bool)
        ex[train_rows] = False
        return _Fold(_Rows(train_rows, device, backend), _Rows(val_rows, device, backend),
                     _Rows(np.flatnonzero(ex), device, backend), dec, Z_val)

    def _refit(self, consume: bool):
        """The all-rows decomposition; ``consume``: the folds are done, free the all-rows products."""
        designs = self.designs
        self.full = designs.decompose(self.form, np.arange(self.n_samples), self.n_samples, self.eigh_dtype,
                                      consume=consume)
        if consume:
            designs.gram64 = designs.kernel = None
            self._consumed = True
        self.basis = designs.refit_basis(self.full)

    def solve(self, Y, *, X_test=None, return_weights: bool = True, n_targets_batch: int | None = None,
              progress: bool | None = None) -> dict:
        """:func:`solve_ridge_cv` on targets ``Y`` (n_samples, n_targets): same arguments, same dict."""
        backend, designs, offset, alphas_np = self.backend, self.designs, self.offset, self.alphas
        fit_intercept, splits = self.fit_intercept, self.splits
        Xb = designs.X
        dtype = "float32"
        Y = np.asarray(Y)
        if Y.ndim != 2 or Y.shape[0] != self.n_samples:
            raise BrainalignInputError(f"X has {self.n_samples} rows but Y has shape {Y.shape}: "
                                       "pass Y as (n_samples, n_targets) over the plan's rows.")
        if self.folds is None and self._consumed:
            raise BrainalignInputError("This ridge plan was made for a single solve (by solve_ridge_cv) and "
                                       "has been used: make one with prepare_ridge_cv to solve again.")
        n_samples, n_targets = Y.shape
        n_features = self.n_features
        device = _device_of(Xb)
        batch_size = (positive_int(n_targets_batch, "n_targets_batch") if n_targets_batch is not None else
                      working_set_batch(n_samples, n_features, n_targets, max(v.size for _, v, _ in splits)))
        logger.info("ridge: n=%d, p=%d, %d targets, refit route %s, inner routes %s, eigensolver %s",
                    n_samples, n_features, n_targets, self.form, sorted({f for *_, f in splits}), self.eigh_dtype)
        Xtest_b = None
        offset_b = backend.asarray(offset, device=device)
        alphas_b = backend.asarray(alphas_np, dtype=dtype, device=device)
        tie_break = np.log(alphas_np) * 1e-10  # himalaya's: equal scores -> larger alpha
        best_alphas = np.empty(n_targets)
        cv_scores = np.empty(n_targets)
        intercept = np.zeros(n_targets, dtype=np.float32)
        weights = np.empty((n_features, n_targets), dtype=np.float32) if return_weights else None
        predictions = None if X_test is None else np.empty((X_test.shape[0], n_targets), dtype=np.float32)
        batches = [slice(start, min(start + batch_size, n_targets)) for start in range(0, n_targets, batch_size)]
        # Loop order.  Folds not held (kernel form): folds outside, target batches inside, so only one
        # fold's n_train x n_train eigenvectors exist at a time (per-target scores are accumulated,
        # n_alphas x n_targets float64).  Held folds: batches outside, each batch's all-rows X^T Y
        # serving every fold.  Both add the folds' float64 scores in the same order: same bits.
        folds_outside = self.folds is None
        n_steps = len(batches) * (len(splits) + 1 if folds_outside else 1)
        show = (progress if progress is not None else not progress_disabled()) and n_steps > 1

        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, desc="ridge target batches", disable=not show, leave=False)

        def load(batch):
            return backend.asarray(np.ascontiguousarray(Y[:, batch], dtype=np.float32), device=device)

        def select(scores, batch):
            """Per-target best alpha from summed fold scores (numpy, (n_alphas, batch))."""
            scores = scores / len(splits)
            # the tie-break is relative to each target's error scale: an absolute one (himalaya's, made
            # for scale-free R^2 scores) outweighs the MSE differences of data in small units (EEG in
            # volts, ~1e-10 V^2) and silently picks the largest alpha for every target
            scale = np.abs(scores).max(axis=0)
            scale = np.where(scale > 0, scale, 1.0)
            best = np.argmax(scores + tie_break[:, None] * scale[None, :], axis=0)
            best_alphas[batch] = alphas_np[best]
            cv_scores[batch] = scores[best, np.arange(best.size)]
            return best

        def refit(full, basis, Yb, batch, best, XtY_all, Ysum_all):
            B, _ = _fold_targets(full, Xb, Yb, None, None, XtY_all, Ysum_all, fit_intercept, backend)
            chosen = backend.asarray(alphas_np[best], dtype=dtype, device=device)
            B /= full.eigenvalues[:, None] + chosen[None, :]
            W = basis @ B
            del B
            y_mean = Yb.mean(0) if fit_intercept else backend.zeros_like(Yb, shape=(Yb.shape[1],))
            if return_weights:
                weights[:, batch] = backend.to_numpy(W)
            if fit_intercept:
                # in the caller's coordinates: centred by ``offset`` then by the (tiny) refit mean
                intercept[batch] = backend.to_numpy(y_mean - (full.x_mean + offset_b) @ W)
            if Xtest_b is not None:
                predictions[:, batch] = backend.to_numpy(Xtest_b @ W + y_mean)

        def test_rows(full):
            if X_test is None:
                return None
            return backend.asarray(np.asarray(X_test, dtype=np.float32) - offset - backend.to_numpy(full.x_mean),
                                   device=device)

        if folds_outside:
            scores_all = np.zeros((alphas_np.size, n_targets))
            for spec in splits:
                fold = self._prepare_fold(*spec)
                for batch in batches:
                    Yb = load(batch)
                    scores_all[:, batch] += backend.to_numpy(
                        _fold_scores(fold, Xb, Yb, None, Yb.sum(0), alphas_b, fit_intercept, backend))
                    bar.update()
                del fold, Yb
            if self.full is None:
                self._refit(consume=True)  # single use: the kernel is no longer needed
            full, basis = self.full, self.basis
            Xtest_b = test_rows(full)
            for batch in batches:
                Yb = load(batch)
                XtY_all = Xb.T @ Yb if full.form != "kernel" else None
                refit(full, basis, Yb, batch, select(scores_all[:, batch], batch), XtY_all, Yb.sum(0))
                bar.update()
        else:
            folds, full, basis = self.folds, self.full, self.basis
            Xtest_b = test_rows(full)
            needs_xty = any(f.dec.form != "kernel" for f in folds) or full.form != "kernel"
            for batch in batches:
                Yb = load(batch)
                XtY_all = Xb.T @ Yb if needs_xty else None
                Ysum_all = Yb.sum(0)
                # accumulated on the device (one transfer per batch), in float64 like himalaya's mean_float64
                scores = None
                for fold in folds:
                    part = _fold_scores(fold, Xb, Yb, XtY_all, Ysum_all, alphas_b, fit_intercept, backend)
                    scores = part if scores is None else scores + part
                best = select(backend.to_numpy(scores), batch)
                refit(full, basis, Yb, batch, best, XtY_all, Ysum_all)
                del Yb, XtY_all
                bar.update()
        bar.close()
        return {
            "best_alphas": best_alphas,
            "cv_scores": cv_scores,
            "intercept": intercept,
            "weights": weights,
            "predictions": predictions,
            "form": self.form,
            "eigh_dtype": self.eigh_dtype,
        }
