"""Significance and confidence interval of a design's gain over a baseline, on held-out folds."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, DesignMatrix, Recording
from ._registry import DEFAULT_ESTIMATOR
from .cell import fit_baselines, fit_layer

logger = logging.getLogger("brainalign.encoding")


def gain_over_baseline_test(
    design,
    baseline,
    recording: Recording,
    *,
    stack_baseline: bool = True,
    n_bootstraps: int = 1000,
    block_s: float | None = None,
    ci: float = 0.95,
    seed: int = 0,
    **cv_kwargs,
) -> pd.DataFrame:
    """Paired block-bootstrap test of the gain in r of ``design`` over ``baseline``, per target.

    Both models are cross-validated on the *same* outer folds
    (:func:`cross_validate` with ``return_predictions=True``); the gain of a
    target is the fold average of ``r(y, p_model) - r(y, p_baseline)``,
    each r computed on that fold's held-out test rows only, exactly as the
    headline of :meth:`LayerSweep.gain_over_baseline`.

    Method.  The fitted models are kept fixed and the uncertainty that is left
    is that of the test samples, which are autocorrelated (haemodynamics,
    drifts, TRFs): within every test fold the rows are resampled as a circular
    block bootstrap [1]_ -- contiguous blocks of ``block_s`` seconds (default:
    the cross-validation gap, ~20 s for fMRI, the TRF length for M/EEG, so a
    block spans the response to one event), drawn with replacement until the
    fold's length is filled.  Both r's are recomputed on the *same* resampled
    rows (a paired test: what the two models share cancels in the difference),
    folds are resampled independently and averaged, and the same rows are used
    for every target (so the spatial correlation of targets is preserved for
    the FDR step).  This gives the bootstrap distribution of the fold-averaged
    gain, from which come the percentile interval (``ci_low``, ``ci_high``)
    and the one-sided p-value of "the model adds nothing to the baseline"
    (gain <= 0): ``(1 + #{bootstrap gains <= 0}) / (1 + n_bootstraps)``.
    Benjamini-Hochberg FDR across targets gives ``p_fdr`` (see :func:`fdr`).

    Why this rather than a permutation null: a circular-shift null of the
    model's predictions tests "r = 0", which a model containing the baseline
    rejects whenever the baseline predicts anything; shifting only the part of
    the prediction that the baseline does not explain would need that part to
    be estimated, with its own error.  The paired bootstrap needs no such
    decomposition, is valid for nested (``stack_baseline=True``, as
    :func:`sweep_layers` does) and non-nested comparisons, and gives an
    interval as well as a p-value.  With a nested model that adds nothing, the
    cross-validated gain is slightly negative (extra weights only add variance),
    so the test is conservative there.  The interval is conditional on the
    models fitted in each fold: it covers the test-sample uncertainty, not the
    variability of refitting on new training data.

    Parameters
    ----------
    design : DesignMatrix or ndarray (n_samples, n_features)
        The model, e.g. one layer's design.
    baseline : DesignMatrix or ndarray (n_samples, n_baseline_features)
        The baseline regressors (word rate, sound power, ...), on the same grid.
    recording : Recording
    stack_baseline : bool
        Fit the model on ``baseline`` stacked with ``design`` (as
        :func:`sweep_layers` does), so the gain is what ``design`` adds to the
        baseline.  ``False`` compares ``design`` as given with the baseline.
    n_bootstraps : int
        Bootstrap resamples (the smallest p-value is ``1 / (n_bootstraps + 1)``).
    block_s : float or None
        Bootstrap block length in seconds (default: the cross-validation gap,
        or the designs' default gap when ``gap_s=0``).  Every test fold must
        hold at least two blocks; a fold's test rows are taken in order and
        wrapped around at its end (a shorter fold is an error; the default
        block is shrunk instead, see :func:`brainalign.encoding.cell.gain_test`).
    ci : float
        Coverage of the percentile interval, in (0, 1).
    seed : int
        Seeds the bootstrap (and is passed to :func:`cross_validate`).
    **cv_kwargs
        Passed to :func:`cross_validate` for both fits (alphas, cv, gap_s,
        inner_cv, backend, estimator, ...).  Without ``gap_s`` the larger
        default gap of the two designs is used, so both share the same folds.
        With ``stack_baseline=True`` the default estimator is ``"pcr"``,
        as in :func:`sweep_layers`.  ``estimator="pcr"``, ``"stacked"`` or
        ``"banded"`` applies to the stacked model only.

    Returns
    -------
    pandas.DataFrame
        One row per target: ``target``, ``r_model``, ``r_baseline``, ``gain``
        (fold-averaged test r's and their difference), ``ci_low``,
        ``ci_high``, ``p`` and ``p_fdr``.  ``frame.attrs`` holds the
        configuration (designs, folds, block length in samples, ...).

    References
    ----------
    .. [1] Politis, D. N. & Romano, J. P. (1992). A circular block-resampling
       procedure for stationary data. In *Exploring the Limits of Bootstrap*, 263-270.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.core import Recording
    >>> rng = np.random.default_rng(0)
    >>> base, layer = rng.normal(size=(400, 2)), rng.normal(size=(400, 3))
    >>> Y = base @ rng.normal(size=(2, 2)) + rng.normal(size=(400, 2))
    >>> Y[:, 0] += layer @ rng.normal(size=3)
    >>> rec = Recording(Y, sampling_period=2.0)
    >>> table = gain_over_baseline_test(layer, base, rec, n_bootstraps=200, backend="numpy")
    >>> table["p_fdr"].lt(0.05).tolist(), bool(table["gain"][0] > 0.2)
    ([True, False], True)
    """
    if not isinstance(recording, Recording):
        raise BrainalignInputError(f"recording must be a brainalign Recording, got {type(recording).__name__}.")
    if "return_predictions" in cv_kwargs:
        raise BrainalignInputError("return_predictions is set by gain_over_baseline_test; do not pass it.")
    if cv_kwargs.get("shuffle"):
        raise BrainalignInputError(
            "gain_over_baseline_test needs contiguous test folds for its block bootstrap; shuffle=True "
            "mixes neighbouring samples into train and test sets."
        )
    if int(n_bootstraps) < 1:
        raise BrainalignInputError(f"n_bootstraps must be a positive integer, got {n_bootstraps!r}.")
    if not 0 < ci < 1:
        raise BrainalignInputError(f"ci must be a coverage in (0, 1), e.g. 0.95, got {ci!r}.")
    if block_s is not None and not (np.isfinite(float(block_s)) and float(block_s) > 0):
        raise BrainalignInputError(f"block_s must be a positive number of seconds, got {block_s!r}.")
    model, base = _check_designs(design, baseline, recording)
    if not stack_baseline:
        # a non-nested comparison: the design alone, by the estimator given (ridge by default)
        cv_kwargs.setdefault("estimator", DEFAULT_ESTIMATOR)
    logger.info("Gain test: cross-validating %s and %s", model.name, base.name)
    fits = fit_baselines(recording, baseline=base, designs=[model], autocorrelation=False, seed=seed, **cv_kwargs)
    name = f"{base.name}+{model.name}" if stack_baseline else model.name
    result = fit_layer(model, recording, fits, name=name, gain_bootstraps=int(n_bootstraps),
                       stack_baseline=stack_baseline, block_s=block_s, ci=ci)
    test = result.metadata["gain_test"]
    r_model = result.r.mean(0)
    r_base = fits.results["baseline"].r.mean(0)
    table = pd.DataFrame({
        "target": recording.target_names,
        "r_model": r_model,
        "r_baseline": r_base,
        "gain": r_model - r_base,
        **{k: np.asarray(test[k]) for k in ("ci_low", "ci_high", "p", "p_fdr")},
    })
    table.attrs.update({
        "model": name,
        "baseline": base.name,
        "stack_baseline": bool(stack_baseline),
        "n_bootstraps": int(n_bootstraps),
        "block_s": test["block_s"],
        "block_samples": test["block_samples"],
        "ci": float(ci),
        "seed": int(seed),
        "n_folds": len(result.metadata["folds"]),
        "cv": result.config.get("cv"),
        "gap_s": float(fits.options["gap_s"]),
        "method": "paired circular block bootstrap of test rows within each outer fold; "
                  "percentile CI; one-sided p of gain <= 0; BH-FDR across targets",
    })
    return table


def gain_sensitivity(
    design,
    baseline,
    recording: Recording,
    variants,
    *,
    n_bootstraps: int = 1000,
    seed: int = 0,
    **cv_kwargs,
) -> pd.DataFrame:
    """The gain over the baseline and its interval under several analysis choices, side by side.

    Does a conclusion ("the layer adds to the baseline in this ROI") depend on a
    choice the analyst made?  Each variant reruns :func:`gain_over_baseline_test`
    with its own options, e.g. the default cross-validation against leaving more
    out (``{"cv": 3}``), or the recording with motion confounds regressed out
    (``{"recording": cleaned}``).  The report
    (:func:`brainalign.report.write_report`) shows a results folder's
    ``tables/sensitivity.tsv`` (this table) with a column saying where the
    verdict changes.

    Parameters
    ----------
    design, baseline : DesignMatrix or ndarray
        As for :func:`gain_over_baseline_test`.
    recording : Recording
        Used by every variant that does not bring its own ``"recording"``.
    variants : mapping of str to dict
        Variant name to options: ``"recording"`` (a Recording on the same
        grid), ``"design"`` / ``"baseline"`` (replacements) and any
        :func:`gain_over_baseline_test` / :func:`cross_validate` option,
        overriding ``cv_kwargs``.
    n_bootstraps : int
        Bootstrap resamples of every variant.
    seed : int
        Seeds every variant's bootstrap and folds.
    **cv_kwargs
        Options shared by all variants (passed to :func:`gain_over_baseline_test`).

    Returns
    -------
    pandas.DataFrame
        The variants' tables stacked, with a leading ``variant`` column.

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign.core import Recording
    >>> rng = np.random.default_rng(0)
    >>> base, layer = rng.normal(size=(400, 2)), rng.normal(size=(400, 3))
    >>> rec = Recording(base.sum(1, keepdims=True) + layer @ np.ones((3, 1)) + rng.normal(size=(400, 1)),
    ...                 sampling_period=2.0)
    >>> table = gain_sensitivity(layer, base, rec, {"5 folds": {}, "3 folds": {"cv": 3}},
    ...                          n_bootstraps=100, backend="numpy")
    >>> table["variant"].tolist(), bool((table["ci_low"] > 0).all())
    (['5 folds', '3 folds'], True)
    """
    if not variants:
        raise BrainalignInputError("gain_sensitivity needs at least one variant, e.g. {'default': {}}.")
    frames = []
    for name, options in variants.items():
        if not isinstance(options, dict):
            raise BrainalignInputError(f"Variant {name!r} must be a dict of options, got {type(options).__name__}.")
        options = dict(options)
        rec = options.pop("recording", recording)
        d = options.pop("design", design)
        b = options.pop("baseline", baseline)
        kwargs = {**cv_kwargs, **options}
        kwargs.setdefault("n_bootstraps", n_bootstraps)
        kwargs.setdefault("seed", seed)
        table = gain_over_baseline_test(d, b, rec, **kwargs)
        table.insert(0, "variant", str(name))
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def _check_designs(design, baseline, recording: Recording) -> tuple[DesignMatrix, DesignMatrix]:
    """Both designs as DesignMatrix on the recording's grid, with errors naming which one is off."""
    checked = []
    for role, d in (("design", design), ("baseline", baseline)):
        if d is None:
            raise BrainalignInputError(f"{role} is None; gain_over_baseline_test needs a design and a baseline.")
        if isinstance(d, DesignMatrix):
            candidate = d
        else:
            X = np.asarray(d)
            if X.ndim != 2 or X.shape[0] != recording.n_samples:
                raise BrainalignInputError(
                    f"{role} has shape {X.shape} but the recording has {recording.n_samples} samples; "
                    "design and baseline must both have one row per recording sample."
                )
            candidate = DesignMatrix(X, recording.runs, recording.sampling_period, name=role)
        try:
            candidate.check_matches(recording)
        except BrainalignInputError as err:
            raise BrainalignInputError(f"{role} does not line up with the recording: {err}") from err
        checked.append(candidate)
    model, base = checked
    if model.name == base.name:
        # results and the stacked name would be ambiguous otherwise
        base = DesignMatrix(base.X, base.runs, base.sampling_period, "baseline", base.feature_names,
                            base.metadata)
    return model, base
