"""RSA: comparing model RDMs with brain RDMs (rsatoolbox), with bootstrap intervals and noise ceilings."""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from typing import Mapping

import numpy as np
import pandas as pd

from ..core import BrainalignInputError

logger = logging.getLogger("brainalign.similarity")

#: rsatoolbox comparison methods: Spearman, Kendall tau-a, Pearson, cosine and their whitened versions
COMPARE_METHODS = ("spearman", "tau-a", "rho-a", "corr", "cosine", "corr_cov", "cosine_cov", "kendall")
BOOTSTRAPS = ("pattern", "rdm", "both", "none")


@contextmanager
def _numpy_global_seed(seed: int):
    """rsatoolbox draws its resamples from numpy's global generator: seed it, and give the caller's state back."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _rdms(obj, what: str):
    from rsatoolbox.rdm import RDMs

    if not isinstance(obj, RDMs):
        raise BrainalignInputError(f"{what} must be rsatoolbox RDMs (from compute_rdm, layer_rdms, ...), got "
                                   f"{type(obj).__name__}.")
    return obj


def _check_method(method: str) -> str:
    if method not in COMPARE_METHODS:
        raise BrainalignInputError(f"method={method!r} is not one of {COMPARE_METHODS} "
                                   "('cosine_cov' is the whitened cosine, 'tau-a' Kendall's tau-a).")
    return method


def compare_rdms(rdms_a, rdms_b, *, method: str = "spearman") -> np.ndarray:
    """Similarity of every RDM of ``rdms_a`` with every RDM of ``rdms_b`` (``rsatoolbox.rdm.compare``).

    Examples
    --------
    >>> import numpy as np
    >>> from rsatoolbox.rdm import RDMs
    >>> a = RDMs(np.array([[1.0, 2.0, 3.0]]))
    >>> compare_rdms(a, a, method="spearman").round(3).tolist()
    [[1.0]]
    """
    from rsatoolbox.rdm import compare

    return compare(_rdms(rdms_a, "rdms_a"), _rdms(rdms_b, "rdms_b"), method=_check_method(method))


def _models(models) -> list:
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs

    if isinstance(models, RDMs):
        names = None
        for key in ("layer", "name", "roi"):
            if key in models.rdm_descriptors:
                names = [str(n) for n in models.rdm_descriptors[key]]
                break
        names = names or [f"model-{i}" for i in range(models.n_rdm)]
        return [ModelFixed(n, models[i]) for i, n in enumerate(names)]
    if isinstance(models, Mapping) and models:
        return [ModelFixed(str(n), _rdms(r, f"model {n!r}")) for n, r in models.items()]
    raise BrainalignInputError("models must be RDMs or a non-empty mapping of name -> RDMs.")


def _set_groups(rdms, pattern_groups):
    """Copy of ``rdms`` with a ``group`` pattern descriptor (conditions of one block resampled together)."""
    rdms = rdms.copy()
    if pattern_groups is None:
        rdms.pattern_descriptors["group"] = list(range(rdms.n_cond))
        return rdms
    if isinstance(pattern_groups, Mapping):
        conds = rdms.pattern_descriptors.get("conditions", rdms.pattern_descriptors.get("index"))
        missing = [c for c in conds if c not in pattern_groups and str(c) not in pattern_groups]
        if missing:
            raise BrainalignInputError(f"pattern_groups has no group for conditions {missing[:5]}.")
        groups = [pattern_groups.get(c, pattern_groups.get(str(c))) for c in conds]
    else:
        groups = list(pattern_groups)
    if len(groups) != rdms.n_cond:
        raise BrainalignInputError(f"pattern_groups needs one label per condition ({rdms.n_cond}), got {len(groups)}.")
    rdms.pattern_descriptors["group"] = groups
    return rdms


def evaluate_models(models, data, *, method: str = "spearman", bootstrap: str = "pattern",
                    n_bootstraps: int = 1000, ci: float = 0.95, pattern_groups=None, seed: int = 0) -> pd.DataFrame:
    """Model RDMs scored against data RDMs (one per subject / session), with intervals and noise ceiling.

    The score of a model is its mean similarity (``method``) with the data
    RDMs.  The interval is the percentile interval of an rsatoolbox
    bootstrap: over stimuli (``"pattern"``, whole ``pattern_groups`` at a time,
    e.g. the runs or blocks the stimuli were shown in), over subjects
    (``"rdm"``) or both.  The noise ceiling (lower: leave-one-subject-out;
    upper: all subjects) needs at least two data RDMs; with one it is NaN and
    a split-half ceiling (:func:`split_half_ceiling`) is the alternative.

    With few conditions and a categorical model, some stimulus resamples
    miss a category entirely; the model RDM is then constant and scores 0,
    which pulls the interval's lower end to 0 (seen with Haxby's 8
    categories): prefer many conditions, or ``bootstrap="rdm"`` over subjects.

    Parameters
    ----------
    models : RDMs or mapping name -> RDMs
    data : RDMs
        One RDM per subject (or session), same conditions as the models.
    method : str
        ``"spearman"``, ``"tau-a"`` (Kendall, for models with ties such as
        categorical RDMs), ``"corr"``, ``"cosine"`` or whitened ``"corr_cov"`` /
        ``"cosine_cov"``.
    bootstrap : {"pattern", "rdm", "both", "none"}

    Returns
    -------
    pandas.DataFrame
        ``model``, ``score``, ``ci_low``, ``ci_high``, ``p_zero`` (one-sided
        bootstrap p of score <= 0), ``noise_ceiling_low``, ``noise_ceiling_high``;
        ``attrs["result"]`` is the rsatoolbox Result.

    Examples
    --------
    >>> import numpy as np
    >>> from rsatoolbox.rdm import RDMs
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.random(45)
    >>> data = RDMs(truth + 0.3 * rng.random((4, 45)))
    >>> table = evaluate_models({"truth": RDMs(truth), "random": RDMs(rng.random(45))}, data, n_bootstraps=100)
    >>> table["model"].tolist(), bool(table["score"][0] > table["ci_high"][1])
    (['truth', 'random'], True)
    """
    from rsatoolbox.inference import boot_noise_ceiling, eval_bootstrap, eval_bootstrap_pattern, eval_bootstrap_rdm
    from rsatoolbox.inference import eval_fixed

    method = _check_method(method)
    if bootstrap not in BOOTSTRAPS:
        raise BrainalignInputError(f"bootstrap={bootstrap!r} is not one of {BOOTSTRAPS}.")
    from rsatoolbox.model import ModelFixed

    data = _set_groups(_rdms(data, "data"), pattern_groups)
    # the models carry the same stimulus groups: rsatoolbox subsamples them alongside the data
    model_list = [ModelFixed(m.name, _set_groups(m.rdm_obj, pattern_groups)) for m in _models(models)]
    for m in model_list:
        if m.rdm_obj.n_cond != data.n_cond:
            raise BrainalignInputError(
                f"model {m.name!r} has {m.rdm_obj.n_cond} conditions but the data RDMs have {data.n_cond}."
            )
    if bootstrap == "rdm" and data.n_rdm < 2:
        raise BrainalignInputError("bootstrap='rdm' resamples subjects: the data need at least two RDMs.")
    # the point estimate is that of the full data; the bootstrap gives its interval
    fixed = eval_fixed(model_list, data, method=method)
    score = np.nanmean(fixed.evaluations.reshape(len(model_list), -1), axis=1)
    with _numpy_global_seed(seed):
        with warnings.catch_warnings():
            # rsatoolbox warns about its tau noise ceiling even when none is bootstrapped (ours is computed below)
            warnings.filterwarnings("ignore", message="Noise ceiling for tau based on averaged ranks")
            result = fixed
            if bootstrap == "pattern":
                result = eval_bootstrap_pattern(model_list, data, method=method, N=n_bootstraps,
                                                pattern_descriptor="group", boot_noise_ceil=False)
            elif bootstrap == "rdm":
                result = eval_bootstrap_rdm(model_list, data, method=method, N=n_bootstraps, boot_noise_ceil=False)
            elif bootstrap == "both":
                result = eval_bootstrap(model_list, data, method=method, N=n_bootstraps, pattern_descriptor="group",
                                        boot_noise_ceil=False)
    if bootstrap != "none":
        perf = result.evaluations
        while perf.ndim > 2:
            perf = np.nanmean(perf, axis=-1)
        q = (1.0 - ci) / 2.0
        low, high = np.nanquantile(perf, q, axis=0), np.nanquantile(perf, 1 - q, axis=0)
        p_zero = (1.0 + np.sum(perf <= 0, axis=0)) / (1.0 + np.sum(np.isfinite(perf), axis=0))
    else:
        low = high = p_zero = np.full(len(model_list), np.nan)
    if data.n_rdm >= 2:
        nc_low, nc_high = boot_noise_ceiling(data, method=method)
    else:
        nc_low = nc_high = np.nan
    table = pd.DataFrame({"model": [m.name for m in model_list], "score": score, "ci_low": low, "ci_high": high,
                          "p_zero": p_zero, "noise_ceiling_low": float(nc_low), "noise_ceiling_high": float(nc_high)})
    table.attrs.update({"result": result, "method": method, "bootstrap": bootstrap, "n_bootstraps": int(n_bootstraps),
                        "ci": float(ci), "n_data_rdms": int(data.n_rdm)})
    return table


def split_half_ceiling(rdm_a, rdm_b, *, method: str = "spearman") -> dict:
    """Reliability of an RDM from two independent halves (e.g. odd and even runs) and the ceiling it implies.

    ``reliability`` is the similarity of the halves; ``ceiling`` its
    Spearman-Brown correction ``2 r / (1 + r)``: the similarity a perfect model
    could reach with the full-data RDM.

    Examples
    --------
    >>> import numpy as np
    >>> from rsatoolbox.rdm import RDMs
    >>> out = split_half_ceiling(RDMs(np.arange(10.0)), RDMs(np.arange(10.0) ** 2))
    >>> round(out["reliability"], 3), round(out["ceiling"], 3)
    (1.0, 1.0)
    """
    r = float(compare_rdms(rdm_a, rdm_b, method=method)[0, 0])
    return {"reliability": r, "ceiling": 2 * r / (1 + r) if r > -1 else float("nan"), "method": method}


def layer_roi_profile(layers, rois, *, method: str = "spearman", n_bootstraps: int = 1000, ci: float = 0.95,
                      pattern_groups=None, seed: int = 0) -> pd.DataFrame:
    """Similarity of every model layer's RDM with every ROI's RDM, with stimulus-bootstrap intervals.

    Parameters
    ----------
    layers : RDMs with ``rdm_descriptors["layer"]`` (:func:`layer_rdms`)
    rois : mapping ROI name -> RDMs (one per subject), or RDMs with ``rdm_descriptors["roi"]``

    Returns
    -------
    pandas.DataFrame
        ``layer``, ``roi``, ``score``, ``ci_low``, ``ci_high``, ``p_zero``,
        ``noise_ceiling_low``, ``noise_ceiling_high`` (a layer x ROI profile).
    """
    from rsatoolbox.rdm import RDMs

    if isinstance(rois, RDMs):
        if "roi" not in rois.rdm_descriptors:
            raise BrainalignInputError("rois RDMs need rdm_descriptors['roi'] (from roi_rdms).")
        names = list(dict.fromkeys(rois.rdm_descriptors["roi"]))
        rois = {n: rois.subset("roi", n) for n in names}
    frames = []
    for roi, data in rois.items():
        table = evaluate_models(layers, data, method=method, n_bootstraps=n_bootstraps, ci=ci,
                                pattern_groups=pattern_groups, seed=seed)
        table.insert(1, "roi", str(roi))
        frames.append(table.rename(columns={"model": "layer"}))
    return pd.concat(frames, ignore_index=True)


def time_resolved_rsa(models, data_rdms, *, method: str = "spearman", n_bootstraps: int = 0, ci: float = 0.95,
                      seed: int = 0) -> pd.DataFrame:
    """Similarity of each model RDM with the data RDM of every time point (:func:`time_resolved_rdms`).

    With ``n_bootstraps > 0``, conditions are resampled (the same draw for all
    time points and models; pairs of a condition with its own copy are left
    out, as rsatoolbox does) for a percentile interval per time point.

    Returns a tidy table ``time``, ``model``, ``score`` (and ``ci_low``, ``ci_high``).
    """
    from rsatoolbox.inference import bootstrap_sample_pattern

    data_rdms = _rdms(data_rdms, "data_rdms")
    if "time" not in data_rdms.rdm_descriptors:
        raise BrainalignInputError("data_rdms need rdm_descriptors['time'] (from time_resolved_rdms).")
    model_list = _models(models)
    draws = []
    if n_bootstraps:
        with _numpy_global_seed(seed):
            draws = [bootstrap_sample_pattern(data_rdms, "index")[1] for _ in range(int(n_bootstraps))]
    q = (1.0 - ci) / 2.0
    rows = []
    for m in model_list:
        frame = pd.DataFrame({"time": np.asarray(data_rdms.rdm_descriptors["time"], dtype=float), "model": m.name,
                              "score": compare_rdms(m.rdm_obj, data_rdms, method=method)[0]})
        if draws:
            boot = np.array([compare_rdms(m.rdm_obj.subsample_pattern("index", idx),
                                          data_rdms.subsample_pattern("index", idx), method=method)[0]
                             for idx in draws])
            frame["ci_low"], frame["ci_high"] = np.nanquantile(boot, q, axis=0), np.nanquantile(boot, 1 - q, axis=0)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def searchlight_map(model, searchlight, *, method: str = "spearman", n_voxels: int | None = None) -> np.ndarray:
    """Similarity of one model RDM with every searchlight RDM, as a vector over the mask's voxels (NaN elsewhere).

    ``searchlight`` is the ``(rdms, centres)`` pair from :func:`searchlight_rdms`.
    """
    rdms, centres = searchlight
    scores = compare_rdms(_rdms(model, "model"), rdms, method=method)[0]
    size = int(n_voxels) if n_voxels is not None else int(np.max(centres)) + 1
    out = np.full(size, np.nan)
    out[np.asarray(centres)] = scores
    return out
