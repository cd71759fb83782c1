"""Why does a model layer sometimes score *below* word rate + sound power on Alice? (issue #11)

Group-average (and per-subject) Alice ROI time courses, HRF designs of the
bundled all-MiniLM-L6-v2 (128 context tokens), the authors' word-rate +
sound-power baseline, the default outer folds (5 contiguous blocks, 20 s gap;
5 inner blocks for the penalties).  Every route below is scored on the *same*
outer folds as the baseline alone, so a gain is paired:

``banded``        the previous default: ``BandedRidgeEncoder`` (himalaya
                  ``MultipleKernelRidgeCV`` random search, 20 band weightings)
``banded100``     the same with 100 random band weightings
``grid``          two-band ridge with an exhaustive (alpha_baseline x
                  alpha_layer) grid, alpha_layer = inf included (the layer
                  switched off is a candidate of the inner CV)
``ridge``         one ridge penalty over the stacked columns
``stacked``       baseline ridge, then the layer ridge on the training
                  residual (alpha = inf included), same folds
``pca10``         layer reduced to 10 principal components fitted on the
                  training rows, stacked with the baseline, one ridge (the
                  issue's reference analysis)
``pcacv``         as pca10 with k in {1, 2, 5, 10, 20, 50} chosen by inner CV
``stacked<z>se``  stacked with the one-standard-error rule (SE over the
                  5 inner folds) at z standard errors; the 0.1.x default
                  was ``stacked1se``
``pca10gate``, ``pcacvgate``, ``pca10stack``, ``pcastack``
                  PCA routes with the fold-SE rule deciding "layer or not"
``pcr``           brainalign's default since #11 (``estimator="pcr"``):
                  baseline ridge, then k layer PCs (k in 2, 5, 10, 20 here,
                  0 = no layer) by ridge on the baseline's training
                  residual, k and the penalty by inner CV, the layer kept
                  only when it beats "no layer" by more than 1 standard
                  error (the larger of the SE over blocks of 10 validation
                  rows and over the inner folds); ``pcr<z>`` the same at z
                  standard errors
``stk_*``, ``pcaj_*``, ``pcar_*``, ...
                  block-SE gate experiments (see the section in the code)

Then a layer of pure noise (Gaussian word features through the same HRF)
replaces the real layer: an honest route scores it within noise of the
baseline.  Finally: the chosen default against 3-fold ("leave more out")
CV and with the motion parameters regressed out.

    python benchmarks/alice_gains_investigation.py --cache-dir /tmp/brainalign-features
    python benchmarks/alice_gains_investigation.py --quick   # group halves only, 3 layers
    # the #11 evidence for the pcr default:
    python benchmarks/alice_gains_investigation.py --per-subject --routes pcr pcr0 pcr0.5 pcr1.5 stacked1se \
        pca10 ridge banded --subject-routes pcr pcr0.5 pcr1.5 stacked1se pca10 ridge

Prints tables; timings are not measured (2 shared CPU cores).
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import sys
from collections import defaultdict

import numpy as np
import pandas as pd

ALPHAS = np.logspace(-1, 7, 17)
PCR = re.compile(r"pcr([0-9.]+)?")  # brainalign's default (gate_se 1) or pcr<gate_se>
EXTRA = re.compile(r"(stk|pcaj10|pcajt|pcaj|pcarf|pcar)_(gate|onese)[0-9.]+")
ROUTES = ("pcr", "banded", "banded100", "grid", "ridge", "stacked", "stacked1se", "stacked2se", "stackedgate", "pca10stack", "pcastack", "pca10gate", "pcacvgate", "pca10", "pcacv")


# ----------------------------------------------------------------- small numpy solvers
def _standardize(train, *others):
    mean, std = train.mean(0), train.std(0)
    std = np.where(std > 0, std, 1.0)
    return [(a - mean) / std for a in (train, *others)]


def _n_se(route):
    """Standard errors of the one-SE rule in a route name: stacked1se -> 1, stacked1.5se -> 1.5, stacked -> 0."""
    m = re.fullmatch(r"stacked([0-9.]+)se(_i10)?", route)
    return float(m.group(1)) if m else (1.0 if route == "stackedgate" else 0.0)


def _select(fold_curves, one_se, gate_only=False):
    """Index of the chosen candidate per target; candidates ordered from least to most penalised.

    ``one_se``: the most penalised candidate whose mean inner-CV error is within one standard
    error (over inner folds, paired with the best candidate) of the best one.
    """
    curve = fold_curves.mean(0)
    n_a = curve.shape[0]
    best = n_a - 1 - np.argmin(curve[::-1], axis=0)
    if not one_se:
        return best
    cols = np.arange(curve.shape[1])
    diff = fold_curves - fold_curves[:, best, cols][:, None, :]
    se = diff.std(0, ddof=1) / np.sqrt(fold_curves.shape[0])
    ok = diff.mean(0) <= one_se * se
    if gate_only:
        # the rule only decides "off" (the last candidate) against the best; otherwise the best
        return np.where(ok[-1], n_a - 1, best)
    return n_a - 1 - np.argmax(ok[::-1], axis=0)


def ridge_cv(Xtr, Ytr, Xte, splits, alphas=ALPHAS, allow_off=False, one_se=0.0, gate_only=False):
    """Per-target ridge with alphas from inner CV (mean squared error), kernel form.

    Returns test predictions, training predictions, chosen alphas (inf = off)
    and the inner-CV curve (n_alphas [+1], n_targets) of mean validation MSE.
    """
    alphas = np.asarray(alphas, dtype=float)
    n_a = alphas.size + (1 if allow_off else 0)
    fold_curves = np.zeros((len(splits), n_a, Ytr.shape[1]))
    for f, (tr, va) in enumerate(splits):
        curve = fold_curves[f]
        xm, ym = Xtr[tr].mean(0), Ytr[tr].mean(0)
        Xc, Yc = Xtr[tr] - xm, Ytr[tr] - ym
        U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
        UtY = U.T @ Yc
        Zv = (Xtr[va] - xm) @ Vt.T
        for i, a in enumerate(alphas):
            pred = Zv @ ((s / (s ** 2 + a))[:, None] * UtY) + ym
            curve[i] += ((Ytr[va] - pred) ** 2).mean(0)
        if allow_off:
            curve[-1] += ((Ytr[va] - ym) ** 2).mean(0)
    curve = fold_curves.mean(0)
    # ties go to the larger penalty (himalaya's rule): argmin over the reversed grid
    best = _select(fold_curves, one_se, gate_only)
    grid = np.concatenate([alphas, [np.inf]]) if allow_off else alphas
    xm, ym = Xtr.mean(0), Ytr.mean(0)
    U, s, Vt = np.linalg.svd(Xtr - xm, full_matrices=False)
    UtY = U.T @ (Ytr - ym)
    Zte, Ztr = (Xte - xm) @ Vt.T, (Xtr - xm) @ Vt.T
    pte, ptr = np.empty((Xte.shape[0], Ytr.shape[1])), np.empty_like(Ytr)
    for t in range(Ytr.shape[1]):
        a = grid[best[t]]
        w = np.zeros_like(s) if np.isinf(a) else s / (s ** 2 + a)
        coef = w * UtY[:, t]
        pte[:, t] = Zte @ coef + ym[t]
        ptr[:, t] = Ztr @ coef + ym[t]
    return pte, ptr, grid[best], curve, fold_curves


def _baseline_fit(Btr, Ytr, Bte, splits, alphas=ALPHAS):
    """The baseline alone as brainalign fits it (test and training predictions): routes that leave
    the layer out then reproduce the baseline's scores exactly (gain 0, not 1e-8)."""
    from brainalign.encoding._solvers import solve_ridge_cv

    out = solve_ridge_cv(Btr, Ytr, alphas, splits, X_test=np.vstack([Btr, Bte]), return_weights=False)
    p = out["predictions"].astype(float)
    return p[len(Btr):], p[:len(Btr)]


def grid_banded(Xb_tr, Xl_tr, Ytr, Xb_te, Xl_te, splits, alphas=ALPHAS):
    """Two-band ridge, every (alpha_b, alpha_l) pair scored by inner CV (alpha_l = inf included)."""
    al_grid = np.concatenate([alphas, [np.inf]])
    curve = np.zeros((alphas.size, al_grid.size, Ytr.shape[1]))
    for tr, va in splits:
        bm, lm, ym = Xb_tr[tr].mean(0), Xl_tr[tr].mean(0), Ytr[tr].mean(0)
        Bt, Lt = Xb_tr[tr] - bm, Xl_tr[tr] - lm
        Bv, Lv = Xb_tr[va] - bm, Xl_tr[va] - lm
        Kb, Kl, Kbv, Klv = Bt @ Bt.T, Lt @ Lt.T, Bv @ Bt.T, Lv @ Lt.T
        Yc = Ytr[tr] - ym
        eye = np.eye(len(tr))
        for i, ab in enumerate(alphas):
            for j, al in enumerate(al_grid):
                K = Kb / ab + (0 if np.isinf(al) else Kl / al)
                Kv = Kbv / ab + (0 if np.isinf(al) else Klv / al)
                dual = np.linalg.solve(K + eye, Yc)
                curve[i, j] += ((Ytr[va] - Kv @ dual - ym) ** 2).mean(0)
    curve /= len(splits)
    flat = curve.reshape(-1, Ytr.shape[1])
    best = flat.shape[0] - 1 - np.argmin(flat[::-1], axis=0)
    bi, bj = np.unravel_index(best, curve.shape[:2])
    bm, lm, ym = Xb_tr.mean(0), Xl_tr.mean(0), Ytr.mean(0)
    Bt, Lt, Bte, Lte = Xb_tr - bm, Xl_tr - lm, Xb_te - bm, Xl_te - lm
    Kb, Kl, Kbe, Kle = Bt @ Bt.T, Lt @ Lt.T, Bte @ Bt.T, Lte @ Lt.T
    pte = np.empty((Xb_te.shape[0], Ytr.shape[1]))
    share = np.empty(Ytr.shape[1])
    for t in range(Ytr.shape[1]):
        ab, al = alphas[bi[t]], al_grid[bj[t]]
        lw = 0 if np.isinf(al) else 1 / al
        dual = np.linalg.solve(Kb / ab + lw * Kl + np.eye(len(Ytr)), Ytr[:, t] - ym[t])
        pb, pl = Kbe @ dual / ab, lw * (Kle @ dual)
        pte[:, t] = pb + pl + ym[t]
        share[t] = pl.std() / max(1e-12, (pb + pl).std())
    return pte, alphas[bi], al_grid[bj], share, curve


def pca_route(Xb_tr, Xl_tr, Ytr, Xb_te, Xl_te, splits, ks):
    """Layer -> top-k PCs of the training rows, stacked with the baseline, one ridge; k by inner CV."""
    mean = Xl_tr.mean(0)
    _, _, Vt = np.linalg.svd(Xl_tr - mean, full_matrices=False)
    per_k = {}
    for k in ks:
        Ptr, Pte = (Xl_tr - mean) @ Vt[:k].T, (Xl_te - mean) @ Vt[:k].T
        Ztr, Zte = _standardize(np.hstack([Xb_tr, Ptr]), np.hstack([Xb_te, Pte]))
        pte, _, _, curve, _ = ridge_cv(Ztr, Ytr, Zte, splits)
        per_k[k] = (pte, curve.min(0))
    # k per target by the inner-CV error at its best alpha
    errs = np.stack([per_k[k][1] for k in ks])
    choice = np.argmin(errs, axis=0)
    pred = np.stack([per_k[ks[c]][0][:, t] for t, c in enumerate(choice)], axis=1)
    return pred, np.asarray(ks)[choice]


def gated_pca(Xb_tr, Xl_tr, Ytr, Xb_te, Xl_te, splits, ks, alphas=ALPHAS):
    """Baseline alone (k = 0) or baseline + k whitened layer PCs, one ridge each; the layer only
    when its inner-CV error beats the simpler candidates by more than one paired standard error."""
    mean = Xl_tr.mean(0)
    _, _, Vt = np.linalg.svd(Xl_tr - mean, full_matrices=False)
    cols = np.arange(Ytr.shape[1])
    Btr, Bte = _standardize(Xb_tr, Xb_te)
    _, _, _, curve, fc = ridge_cv(Btr, Ytr, Bte, splits, alphas)
    pb, _ = _baseline_fit(Xb_tr, Ytr, Xb_te, splits, alphas)
    preds, folds = [pb], [fc[:, np.argmin(curve, 0), cols]]
    for k in ks:
        Ztr, Zte = _standardize(np.hstack([Xb_tr, (Xl_tr - mean) @ Vt[:k].T]),
                                np.hstack([Xb_te, (Xl_te - mean) @ Vt[:k].T]))
        pte, _, _, curve, fc = ridge_cv(Ztr, Ytr, Zte, splits, alphas)
        preds.append(pte)
        folds.append(fc[:, np.argmin(curve, 0), cols])
    fold_curves = np.stack(folds, axis=1)[:, ::-1]
    choice = len(ks) - _select(fold_curves, 1.0)
    pred = np.stack([preds[c][:, t] for t, c in enumerate(choice)], axis=1)
    return pred, np.array([0] + list(ks))[choice]


def pca_residual(Xl_tr, R, Xl_te, splits, ks, alphas=ALPHAS):
    """Layer PCs (k = 0, i.e. off, or one of ``ks``) fitted to the baseline's residual ``R``.

    Per k the penalty with the lowest inner-CV error; then the smallest k (0 first) whose error
    is within one paired standard error of the best k.
    """
    mean = Xl_tr.mean(0)
    _, _, Vt = np.linalg.svd(Xl_tr - mean, full_matrices=False)
    per_k, folds = [], []
    for k in ks:
        Ptr, Pte = _standardize((Xl_tr - mean) @ Vt[:k].T, (Xl_te - mean) @ Vt[:k].T)
        pte, _, _, curve, fold_curves = ridge_cv(Ptr, R, Pte, splits, alphas)
        best = np.argmin(curve, axis=0)
        per_k.append(pte)
        folds.append(fold_curves[:, best, np.arange(R.shape[1])])
    off = np.stack([((R[va] - R[tr].mean(0)) ** 2).mean(0) for tr, va in splits])
    # candidates from most to least constrained; _select wants least constrained first
    fold_curves = np.stack([off] + folds, axis=1)[:, ::-1]
    choice = len(ks) - _select(fold_curves, 1.0)  # 0 = off
    pred = np.zeros((Xl_te.shape[0], R.shape[1]))
    for t, c in enumerate(choice):
        if c > 0:
            pred[:, t] = per_k[c - 1][:, t]
    return pred, np.array([0] + list(ks))[choice]


# ----------------------------------------------------------------- block-SE gates (experiments for the pcr default)
# The gate of these routes compares "layer" with "no layer" by the paired difference of squared
# validation errors, its standard error taken over blocks of BLOCK validation rows (not over the 5
# inner folds); the components are whitened.  stk_*: stacked on the baseline's residual, whole
# layer; pcaj_*: baseline + k layer PCs in one ridge (k in 2, 5, 10, 20); pcar_*: k PCs on the
# baseline's residual (brainalign's "pcr" is this with unwhitened components and the larger of the
# block and inner-fold standard errors); pcarf_*: as pcar with k = 50 and the whole layer too;
# pcajt_*: k in 5, 10, 20; pcaj10_*: k = 10 only.
# _gate<z>: the best candidate unless "no layer" is within z SE of it; _onese<z>: the simplest
# candidate within z SE of the best.
BLOCK = 10

def oof_errors(X, Y, splits, alphas=ALPHAS):
    """Squared OOF errors per alpha (+ off as last): (n_a+1, n, t); NaN where never validated."""
    n, t = Y.shape
    E = np.full((alphas.size + 1, n, t), np.nan)
    for tr, va in splits:
        xm, ym = X[tr].mean(0), Y[tr].mean(0)
        U, s, Vt = np.linalg.svd(X[tr] - xm, full_matrices=False)
        UtY = U.T @ (Y[tr] - ym)
        Zv = (X[va] - xm) @ Vt.T
        for i, a in enumerate(alphas):
            pred = Zv @ ((s / (s ** 2 + a))[:, None] * UtY) + ym
            E[i, va] = (Y[va] - pred) ** 2
        E[-1, va] = (Y[va] - ym) ** 2
    return E

def fit_predict(X, Y, Xte, alpha_per_t):
    xm, ym = X.mean(0), Y.mean(0)
    U, s, Vt = np.linalg.svd(X - xm, full_matrices=False)
    UtY = U.T @ (Y - ym)
    Zte, Ztr = (Xte - xm) @ Vt.T, (X - xm) @ Vt.T
    pte = np.tile(ym, (Xte.shape[0], 1)); ptr = np.tile(ym, (X.shape[0], 1))
    for t, a in enumerate(alpha_per_t):
        if np.isinf(a):
            continue
        coef = (s / (s ** 2 + a)) * UtY[:, t]
        pte[:, t] += Zte @ coef; ptr[:, t] += Ztr @ coef
    return pte, ptr

def block_stats(D, block=BLOCK):
    """D: (n_valid, t) paired differences in time order -> mean, block SE."""
    nb = D.shape[0] // block
    bm = D[: nb * block].reshape(nb, block, -1).mean(1)
    return D.mean(0), bm.std(0, ddof=1) / np.sqrt(nb)

def gate_select(E, order_simple_last, z, rule):
    """E: (c, n, t) candidate OOF errors; candidate index c; 'simplicity' ranking: larger = simpler.
    rule 'gate': best candidate unless the simplest (off) is within z SE of it.
    rule 'onese': the simplest candidate within z SE of the best."""
    valid = ~np.isnan(E[0, :, 0])
    E = E[:, valid]
    mean = E.mean(1)  # (c, t)
    best = np.argmin(mean, axis=0)
    c, n, t = E.shape
    choice = best.copy()
    for ti in range(t):
        eb = E[best[ti], :, ti]
        if rule == "gate":
            cands = [order_simple_last[-1]]
        else:
            cands = list(order_simple_last[::-1])  # simplest first
        for ci in cands:
            m, se = block_stats((E[ci, :, ti] - eb)[:, None])
            if m[0] <= z * se[0]:
                choice[ti] = ci
                break
    return choice

def route_stacked(Btr, Ltr, Ytr, Bte, Lte, splits, z, rule):
    pb, pb_tr = _baseline_fit(Btr, Ytr, Bte, splits)
    R = Ytr - pb_tr
    E = oof_errors(Ltr, R, splits)  # alphas ascending = least to most penalised, then off
    ch = gate_select(E, list(range(E.shape[0])), z, rule)
    grid = np.concatenate([ALPHAS, [np.inf]])
    pl, _ = fit_predict(Ltr, R, Lte, grid[ch])
    return pb + pl - R.mean(0) * 0, ch == E.shape[0] - 1

def route_pcajoint(Btr, Ltr, Ytr, Bte, Lte, splits, z, rule, ks=(2, 5, 10, 20)):
    """baseline + k layer PCs in one ridge; k=0 = baseline alone; best alpha per k by inner mean."""
    mean = Ltr.mean(0)
    _, _, Vt = np.linalg.svd(Ltr - mean, full_matrices=False)
    Es, preds = [], []
    for k in (0,) + tuple(ks):
        Xtr = np.hstack([Btr, (Ltr - mean) @ Vt[:k].T]) if k else Btr
        Xte = np.hstack([Bte, (Lte - mean) @ Vt[:k].T]) if k else Bte
        Xtr, Xte = _standardize(Xtr, Xte)
        E = oof_errors(Xtr, Ytr, splits)[:-1]
        a = np.argmin(np.nanmean(E, axis=1), axis=0)
        Es.append(E[a, :, np.arange(Ytr.shape[1])].transpose(1, 0))  # (n, t)
        preds.append(fit_predict(Xtr, Ytr, Xte, ALPHAS[a])[0])
    E = np.stack(Es)  # (K, n, t), index 0 = baseline alone (simplest)
    order = list(range(E.shape[0]))[::-1]  # least simple first ... simplest (k=0) last
    ch = gate_select(E, order, z, rule)
    pred = np.stack([preds[c][:, t] for t, c in enumerate(ch)], 1)
    return pred, ch == 0

def route_pcares(Btr, Ltr, Ytr, Bte, Lte, splits, z, rule, ks=(2, 5, 10, 20)):
    ks = [min(k, Ltr.shape[1]) for k in ks]
    pb, pb_tr = _baseline_fit(Btr, Ytr, Bte, splits)
    R = Ytr - pb_tr
    mean = Ltr.mean(0)
    _, _, Vt = np.linalg.svd(Ltr - mean, full_matrices=False)
    Es, preds = [], []
    off = None
    for k in ks:
        Ptr, Pte = _standardize((Ltr - mean) @ Vt[:k].T, (Lte - mean) @ Vt[:k].T)
        E = oof_errors(Ptr, R, splits)
        off = E[-1]
        a = np.argmin(np.nanmean(E[:-1], axis=1), axis=0)
        Es.append(E[a, :, np.arange(R.shape[1])].transpose(1, 0))
        preds.append(fit_predict(Ptr, R, Pte, ALPHAS[a])[0] - 0)
    E = np.stack(Es[::-1] + [off])  # most complex first ... off last
    ch = gate_select(E, list(range(E.shape[0])), z, rule)
    preds = preds[::-1]
    pl = np.stack([preds[c][:, t] if c < len(preds) else np.full(len(Lte), R[:, t].mean()) for t, c in enumerate(ch)], 1)
    return pb + pl, ch == len(preds)

def dispatch_block_gate(route, Btr, Ltr, Ytr, Bte, Lte, splits):
    m = re.fullmatch(r"(stk|pcaj|pcarf|pcar|pcajt|pcaj10)_(gate|onese)([0-9.]+)", route)
    kind, rule, z = m.group(1), m.group(2), float(m.group(3))
    if kind in ("pcajt", "pcaj10"):
        ks = (5, 10, 20) if kind == "pcajt" else (10,)
        return route_pcajoint(Btr, Ltr, Ytr, Bte, Lte, splits, z, rule, ks=ks)[0]
    if kind == "pcarf":
        p, off = route_pcares(Btr, Ltr, Ytr, Bte, Lte, splits, z, rule, ks=(2, 5, 10, 20, 50, 10**6))
        return p
    fn = {"stk": route_stacked, "pcaj": route_pcajoint, "pcar": route_pcares}[kind]
    p, off = fn(Btr, Ltr, Ytr, Bte, Lte, splits, z, rule)
    return p


# ----------------------------------------------------------------- one recording, all routes
def evaluate(Y, Xb, layers, routes, n_outer=5, gap=10, inner=5, seed=0, log=None):
    """Fold-averaged test r of the baseline and of each (route, layer); plus predictions for the CI."""
    from brainalign.encoding import BandedRidgeEncoder
    from brainalign.encoding._cv import ContiguousBlockCV, inner_splits
    from brainalign.encoding._stats import correlation_score

    n = Y.shape[0]
    runs = np.array(["run-1"] * n)
    folds = list(ContiguousBlockCV(n_outer, gap).split(n, groups=runs))
    pred = defaultdict(lambda: np.full(Y.shape, np.nan))
    r = defaultdict(list)
    for k, (train, test) in enumerate(folds):
        splits = inner_splits(train, runs, inner, gap, seed=seed + k)
        splits10 = inner_splits(train, runs, 10, gap, seed=seed + k)
        Btr, Bte = _standardize(Xb[train], Xb[test])
        # the baseline alone as the library fits it (a one-band sweep): routes that leave the layer
        # out reproduce it exactly, so their gain is exactly 0
        p, _ = _baseline_fit(Btr, Y[train], Bte, splits)
        pred["baseline"][test] = p
        r["baseline"].append(correlation_score(Y[test], p))
        for lname, Xl in layers.items():
            Ltr, Lte = _standardize(Xl[train], Xl[test])
            for route in routes:
                key = (route, lname)
                if route in ("banded", "banded100"):
                    enc = BandedRidgeEncoder(ALPHAS, n_iter=20 if route == "banded" else 100, cv=splits,
                                             standardize=False, backend="numpy", random_state=seed)
                    enc.fit([Btr, Ltr], Y[train])
                    p = enc.predict([Bte, Lte])
                    parts = enc.predict_bands([Bte, Lte])
                    share = parts[1].std(0) / np.maximum(1e-12, parts.sum(0).std(0))
                    if log is not None:
                        d = enc.deltas_
                        log.append({"route": route, "layer": lname, "fold": k, "target": np.arange(Y.shape[1]),
                                    "log10_ratio": (d[1] - d[0]) / math.log(10), "layer_share": share,
                                    "alpha": enc.best_alphas_})
                elif route == "grid":
                    p, ab, al, share, _ = grid_banded(Btr, Ltr, Y[train], Bte, Lte, splits)
                    if log is not None:
                        log.append({"route": route, "layer": lname, "fold": k, "target": np.arange(Y.shape[1]),
                                    "log10_ratio": np.log10(al / ab), "layer_share": share, "alpha": ab})
                elif route == "ridge":
                    Ztr, Zte = np.hstack([Btr, Ltr]), np.hstack([Bte, Lte])
                    p, _, _, _, _ = ridge_cv(Ztr, Y[train], Zte, splits)
                elif route == "stackedgate" or re.fullmatch(r"stacked([0-9.]+se)?(_i10)?", route):
                    pb, pb_tr = _baseline_fit(Btr, Y[train], Bte, splits)
                    sp = splits10 if route.endswith("_i10") else splits
                    pl, _, al, curve, _ = ridge_cv(Ltr, Y[train] - pb_tr, Lte, sp, allow_off=True,
                                                   one_se=_n_se(route),
                                                   gate_only=route == "stackedgate")
                    p = pb + pl
                    if log is not None:
                        share = (pl - pl.mean(0)).std(0) / np.maximum(1e-12, p.std(0))
                        log.append({"route": route, "layer": lname, "fold": k, "target": np.arange(Y.shape[1]),
                                    "log10_ratio": np.log10(al), "layer_share": share, "alpha": al,
                                    "curve": curve})
                elif route == "pca10stack":
                    pb, pb_tr = _baseline_fit(Btr, Y[train], Bte, splits)
                    mean = Ltr.mean(0)
                    _, _, Vt = np.linalg.svd(Ltr - mean, full_matrices=False)
                    Ptr, Pte = _standardize((Ltr - mean) @ Vt[:10].T, (Lte - mean) @ Vt[:10].T)
                    pl, _, al, curve, _ = ridge_cv(Ptr, Y[train] - pb_tr, Pte, splits, allow_off=True, one_se=1.0)
                    p = pb + pl
                    if log is not None:
                        share = (pl - pl.mean(0)).std(0) / np.maximum(1e-12, p.std(0))
                        log.append({"route": route, "layer": lname, "fold": k, "target": np.arange(Y.shape[1]),
                                    "log10_ratio": np.log10(al), "layer_share": share, "alpha": al})
                elif route in ("pca10gate", "pcacvgate"):
                    ks = [10] if route == "pca10gate" else [2, 5, 10, 20]
                    p, chosen = gated_pca(Btr, Ltr, Y[train], Bte, Lte, splits, ks)
                    if log is not None:
                        log.append({"route": route, "layer": lname, "fold": k, "target": np.arange(Y.shape[1]),
                                    "k": chosen})
                elif route == "pcastack":
                    pb, pb_tr = _baseline_fit(Btr, Y[train], Bte, splits)
                    pl, ks = pca_residual(Ltr, Y[train] - pb_tr, Lte, splits, [1, 2, 5, 10, 20, 50])
                    p = pb + pl
                    if log is not None:
                        log.append({"route": route, "layer": lname, "fold": k, "target": np.arange(Y.shape[1]),
                                    "k": ks})
                elif route == "pca10":
                    p, _ = pca_route(Btr, Ltr, Y[train], Bte, Lte, splits, [10])
                elif route == "pcacv":
                    p, ks = pca_route(Btr, Ltr, Y[train], Bte, Lte, splits, [1, 2, 5, 10, 20, 50])
                    if log is not None:
                        log.append({"route": route, "layer": lname, "fold": k, "target": np.arange(Y.shape[1]),
                                    "k": ks})
                elif PCR.fullmatch(route):
                    from brainalign.encoding._pcr import gated_pcr_predict
                    kw = {} if route == "pcr" else {"gate_se": float(route[3:])}
                    out = gated_pcr_predict(Btr, Ltr, Y[train], Bte, Lte, splits, ALPHAS, block=gap, **kw)
                    p = out["predictions"].astype(float)
                    if log is not None:
                        log.append({"route": route, "layer": lname, "fold": k, "target": np.arange(Y.shape[1]),
                                    "k": out["n_components"]})
                elif EXTRA.match(route):
                    p = dispatch_block_gate(route, Btr, Ltr, Y[train], Bte, Lte, splits)
                else:
                    raise ValueError(route)
                pred[key][test] = p
                r[key].append(correlation_score(Y[test], p))
    scores = {key: np.mean(v, axis=0) for key, v in r.items()}
    return scores, dict(pred), [te for _, te in folds]


def gain_ci(Y, pred_model, pred_base, folds, n_boot=1000, block=10, seed=0):
    from brainalign.encoding._gain import bootstrap_fold_gains

    g = bootstrap_fold_gains(Y, pred_model, pred_base, folds, block, n_boot, np.random.default_rng(seed))
    return np.quantile(g, 0.025, axis=0), np.quantile(g, 0.975, axis=0), (1 + (g <= 0).sum(0)) / (1 + n_boot)


# ----------------------------------------------------------------- data
def load(subjects, motion=False):
    from brainalign.datasets import load_alice

    data = [load_alice(subject=s) for s in subjects]
    Ys = []
    for d in data:
        Y = d.recording.data.astype(float)
        if motion:
            M = np.column_stack([np.ones(len(Y)), d.confounds - d.confounds.mean(0)])
            Y = Y - M @ np.linalg.lstsq(M, Y, rcond=None)[0]
            Y = (Y - Y.mean(0)) / Y.std(0)
        Ys.append(Y)
    Xb = np.mean([d.baseline_design.X for d in data], axis=0)
    return data[0], Ys, Xb


def layer_designs(first, cache_dir, context, layers=None, noise_seeds=(11,)):
    from brainalign.alignment import make_designs
    from brainalign.core import FeatureSet
    from brainalign.features import bundled_model_dir, extract_text_features

    features = extract_text_features(first.timeline, str(bundled_model_dir()), context_tokens=context,
                                     cache_dir=cache_dir)
    designs = make_designs(features, first.recording, "hrf")
    out = {name: designs[name].X.astype(float) for name in designs if layers is None or name in layers}
    # a layer that carries nothing: Gaussian word features through the same HRF
    width = out[next(iter(out))].shape[1]
    for i, seed in enumerate(noise_seeds):
        rng = np.random.default_rng(seed)
        name = "noise" if i == 0 else f"noise{i}"
        noise = FeatureSet({name: rng.normal(size=(first.timeline.n_events, width)).astype(np.float32)},
                           first.timeline)
        out[name] = make_designs(noise, first.recording, "hrf")[name].X.astype(float)
    return out


def table(scores, base, rois, routes, layer_names):
    rows = []
    for route in routes:
        for lname in layer_names:
            g = scores[(route, lname)] - base
            rows.append({"route": route, "layer": lname, **{roi: g[i] for i, roi in enumerate(rois)},
                         "mean": g.mean(), "min": g.min()})
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default="/tmp/brainalign-features")
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--quick", action="store_true", help="group halves only, 3 layers, fewer routes")
    parser.add_argument("--per-subject", action="store_true", help="also fit every subject alone")
    parser.add_argument("--routes", nargs="+", default=list(ROUTES))
    parser.add_argument("--subject-routes", nargs="+", default=["banded", "ridge", "stacked1se", "pca10"])
    parser.add_argument("--noise-layers", type=int, default=3, help="pure-noise layers (different seeds)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pd.set_option("display.width", 200)
    from brainalign.datasets import list_subjects_alice

    subjects = sorted((s for s in list_subjects_alice() if s != "s33"), key=lambda s: int(s[1:]))
    halves = {"all13": subjects, "odd": subjects[0::2], "even": subjects[1::2]}
    first, _, _ = load(subjects[:1])
    layers = layer_designs(first, args.cache_dir, args.context,
                           ["embeddings", "layer.1", "layer.4"] if args.quick else None,
                           noise_seeds=[11 + i for i in range(args.noise_layers)])
    real = [n for n in layers if not n.startswith("noise")]
    noises = [n for n in layers if n.startswith("noise")]
    rois = first.recording.target_names
    routes = [r for r in args.routes if r in ROUTES or PCR.fullmatch(r) or EXTRA.match(r) or re.fullmatch(r"stacked([0-9.]+se)?(_i10)?", r)]
    print(f"subjects: {' '.join(subjects)} (odd half: {' '.join(halves['odd'])}; even: {' '.join(halves['even'])})")
    summary = []
    for group, subs in halves.items():
        if args.quick and group == "all13":
            continue
        _, Ys, Xb = load(subs)
        Y = np.mean(Ys, axis=0)
        log = []
        scores, preds, folds = evaluate(Y, Xb, layers, routes, log=log)
        base = scores["baseline"]
        print(f"\n=== group average {group} ({len(subs)} subjects): baseline r per ROI "
              + " ".join(f"{roi} {b:.3f}" for roi, b in zip(rois, base)))
        t = table(scores, base, rois, routes, real + noises)
        t["kind"] = np.where(t.layer.str.startswith("noise"), "noise", "real")
        print("gain over baseline (r), per route and layer:")
        print(t.round(3).to_string(index=False))
        per_route = t[t.kind == "real"].groupby("route", sort=False).agg(
            best_mean=("mean", "max"), worst_roi=("min", "min"))
        noise = t[t.kind == "noise"].groupby("route", sort=False).agg(
            noise_mean=("mean", "mean"), noise_worst_roi=("min", "min"))
        best_layer = {}
        for route in routes:
            sub = t[(t.route == route) & (t.kind == "real")]
            best_layer[route] = sub.loc[sub["mean"].idxmax(), "layer"]
        cis = []
        for route in routes:
            for lname in [best_layer[route]] + noises:
                lo, hi, p = gain_ci(Y, preds[(route, lname)], preds["baseline"], folds)
                g = scores[(route, lname)] - base
                for i, roi in enumerate(rois):
                    cis.append({"route": route, "layer": lname, "roi": roi, "gain": g[i], "ci_low": lo[i],
                                "ci_high": hi[i], "p": p[i]})
        cis = pd.DataFrame(cis)
        from brainalign.encoding import fdr

        cis["p_fdr"] = cis.groupby(["route", "layer"])["p"].transform(lambda s: fdr(s.to_numpy()))
        best = cis[~cis.layer.str.startswith("noise")]
        nz = cis[cis.layer.str.startswith("noise")]
        agg = per_route.join(noise)
        agg["best_layer"] = pd.Series(best_layer)
        agg["rois_gain_ci>0"] = best.groupby("route", sort=False).apply(lambda d: int((d.ci_low > 0).sum()))
        agg["noise_ci_below0"] = nz.groupby("route", sort=False).apply(lambda d: int((d.ci_high < 0).sum()))
        agg["noise_mean_ci_width"] = nz.assign(w=nz.ci_high - nz.ci_low).groupby("route", sort=False)["w"].mean()
        print("per route: best real layer's mean gain, worst ROI gain of any real layer, noise layer, "
              "ROIs where the best layer's CI is above 0, ROIs x noise layers where the noise layer's CI is below 0:")
        print(agg.round(3).to_string())
        print("best layer per route, per ROI (gain, 95% CI, p_fdr):")
        for route in routes:
            d = best[best.route == route]
            print(f"  {route:<9s} {best_layer[route]:<10s} " + "  ".join(
                f"{row.roi} {row.gain:+.3f} [{row.ci_low:+.3f},{row.ci_high:+.3f}] p={row.p_fdr:.3f}"
                for row in d.itertuples()))
        print("noise layer per route, per ROI (gain, 95% CI):")
        for route in routes:
            for lname in noises:
              d = nz[(nz.route == route) & (nz.layer == lname)]
              print(f"  {route:<9s} {lname:<7s} " + "  ".join(
                f"{row.roi} {row.gain:+.3f} [{row.ci_low:+.3f},{row.ci_high:+.3f}]" for row in d.itertuples()))
        # penalties: how often the layer band is (not) switched off
        pen = []
        for entry in log:
            if "layer_share" not in entry:
                continue
            for t_i in entry["target"]:
                pen.append({"route": entry["route"], "layer": entry["layer"], "fold": entry["fold"],
                            "roi": rois[t_i], "log10_ratio": float(entry["log10_ratio"][t_i]),
                            "layer_share": float(entry["layer_share"][t_i])})
        if pen:
            pen = pd.DataFrame(pen)
            pen["off"] = pen.layer_share < 0.05
            print("layer band's share of the test prediction (std ratio), per route; 'off' = share < 0.05:")
            print(pen.assign(kind=np.where(pen.layer.str.startswith("noise"), "noise", "real")).groupby(["route", "kind"]).agg(
                share_median=("layer_share", "median"), off_fraction=("off", "mean"),
                log10_ratio_median=("log10_ratio", "median")).round(3).to_string())
            sel = pen[(pen.layer == best_layer.get("banded", real[0])) & pen.route.isin(["banded", "grid"])]
            if len(sel) and (group == "all13" or (args.quick and group == "odd")):
                sel = pen[(pen.layer == best_layer.get("banded", real[0])) & pen.route.isin(["banded", "grid"])]
                print("per fold and ROI, best layer: log10(alpha_layer / alpha_baseline) [share]:")
                piv = sel.assign(cell=[f"{a:+.1f} [{s:.2f}]" for a, s in zip(sel.log10_ratio, sel.layer_share)])
                print(piv.pivot_table(index=["route", "fold"], columns="roi", values="cell", aggfunc="first")
                      [rois].to_string())
        curves = [e for e in log if e["route"] == "stacked" and e["layer"] in (best_layer.get("stacked"), "noise")]
        if curves and (group == "all13" or (args.quick and group == "odd")):
            print("stacked route, inner-CV MSE of the layer on the baseline residual relative to 'layer off' "
                  "(<1: the layer helps in the inner CV), fold 0, alpha 1e1..1e7:")
            for e in curves[:1] + [e for e in curves if e["layer"] == "noise"][:1]:
                rel = e["curve"][:-1] / e["curve"][-1]
                print(f"  {e['layer']}: " + "  ".join(
                    f"{roi} " + ",".join(f"{v:.2f}" for v in rel[4::2, i]) for i, roi in enumerate(rois)))
        for rname in ("pcr", "pcacv", "pcastack", "pca10gate", "pcacvgate"):
            for kind in ("real", "noise"):
                pk = [e for e in log if e["route"] == rname and e["layer"].startswith("noise") == (kind == "noise")]
                if pk:
                    ks = np.concatenate([e["k"] for e in pk])
                    print(f"{rname}: chosen k over folds and ROIs, {kind} layers: "
                          + ", ".join(f"{k}: {c}" for k, c in zip(*np.unique(ks, return_counts=True))))
        for route in routes:
            summary.append({"group": group, "route": route, **agg.loc[route].to_dict()})

    if args.per_subject:
        print("\n=== per subject (best layer of each route on the group, gain averaged over subjects)")
        rows = []
        for s in subjects:
            _, Ys, Xb = load([s])
            sroutes = [r for r in args.subject_routes if r in ROUTES or PCR.fullmatch(r) or EXTRA.match(r) or re.fullmatch(r"stacked[0-9.]+se", r)]
            scores, _, _ = evaluate(Ys[0], Xb, {k: v for k, v in layers.items()}, sroutes)
            base = scores["baseline"]
            for route in sroutes:
                for lname in real + noises:
                    g = scores[(route, lname)] - base
                    rows.append({"subject": s, "route": route, "layer": lname, "mean": g.mean(), "min": g.min(),
                                 **{roi: g[i] for i, roi in enumerate(rois)}})
        rows = pd.DataFrame(rows)
        sub_mean = rows.groupby(["route", "layer"], sort=False)[rois + ["mean"]].mean()
        print("mean over subjects of the gain per ROI:")
        print(sub_mean.round(3).to_string())
        best = rows[~rows.layer.str.startswith("noise")].groupby(["subject", "route"])["mean"].max().unstack()
        print("per subject, best real layer's mean gain, per route:")
        print(best[sroutes].round(3).to_string())
        print("mean over subjects: " + ", ".join(f"{r} {best[r].mean():+.3f}" for r in sroutes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
