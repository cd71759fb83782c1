"""Sweep every layer of a model: the encoding cell (:mod:`brainalign.encoding.cell`) over all layers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

from tqdm.auto import tqdm

from .._logging import progress_disabled
from ..core import BrainalignInputError, DesignMatrix, EncodingResult, Recording, content_key, hash_array
from ._crossval import _jsonable, as_design
from ._layer_sweep import LayerSweep, layer_dirname
from .cell import assemble_sweep, fit_baselines, fit_layer, sweep_config

logger = logging.getLogger("brainalign.encoding")


def _cached(path: Path, key: str) -> EncodingResult | None:
    if not (path / "result.json").is_file() or not (path / "scores.npz").is_file():
        return None
    try:
        res = EncodingResult.load(path)
    except (OSError, ValueError, KeyError) as err:
        logger.warning("Ignoring unreadable cached result in %s: %s", path, err)
        return None
    return res if res.metadata.get("config_key") == key else None


def sweep_layers(
    designs: Mapping[str, DesignMatrix],
    recording: Recording,
    *,
    baseline: DesignMatrix | None = None,
    autocorrelation: bool = True,
    results_dir: str | Path | None = None,
    gain_bootstraps: int = 1000,
    **cv_kwargs,
) -> LayerSweep:
    """Cross-validate every layer's design against ``recording``, baselines side by side.

    Parameters
    ----------
    designs : mapping of layer name to DesignMatrix (or array)
        In model order.
    recording : Recording
    baseline : DesignMatrix or None
        User regressors (e.g. word rate + sound power).  It is fitted alone
        (``baselines["baseline"]``) and stacked with every layer, so a layer's
        gain over the baseline is what the layer adds.
    autocorrelation : bool
        Also fit :func:`autocorrelation_baseline` (time-only model) and report
        it as ``baselines["autocorrelation"]``.
    results_dir : path or None
        Write each layer to ``layers/<layer>/`` as soon as it is done and skip
        layers already there with the same configuration (resume after an
        interruption); the full results folder is written at the end.
    gain_bootstraps : int
        With a baseline: resamples of the paired circular block bootstrap of
        every layer's gain over the baseline (interval, one-sided p, FDR; see
        :func:`gain_over_baseline_test`), stored in each layer result's
        ``metadata["gain_test"]`` and shown by :meth:`LayerSweep.gain_table`,
        the scores table and the summary.  0 skips it.
    **cv_kwargs
        Passed to :func:`cross_validate` (alphas, cv, gap_s, inner_cv, shuffle,
        n_permutations, seed, backend, model, ...).  Without ``gap_s`` the
        largest default gap over all designs is used for every fit, so layers
        and baselines are scored on the same folds.  With a baseline the
        default ``estimator`` is ``"pcr"``: the baseline is fitted first, then
        the layer's top ``k`` principal components (fitted on the training
        rows) on its training residual, ``k`` chosen per target by inner CV
        with "no layer" among the candidates, and the layer's prediction
        weighted by how clearly it helps (none below ``gate_se`` = 1 standard
        error), so a layer that carries nothing scores within noise of the
        baseline.  ``"stacked"`` (the layer's ridge
        on the baseline's residual, one-standard-error rule), ``"banded"``
        (banded ridge, one penalty per band) and ``"ridge"`` (one penalty over
        the stacked columns) are the alternatives; see the encoding guide for
        the comparison on real data.

    Returns
    -------
    LayerSweep
    """
    if not isinstance(designs, Mapping):
        raise BrainalignInputError(f"sweep_layers takes a dict of layer name to design, got {type(designs).__name__}.")
    if not designs:
        raise BrainalignInputError("sweep_layers needs at least one design.")
    if "return_predictions" in cv_kwargs:
        raise BrainalignInputError("return_predictions is not supported by sweep_layers; use cross_validate.")
    if int(gain_bootstraps) < 0:
        raise BrainalignInputError(f"gain_bootstraps must be >= 0 (0 skips the gain test), got {gain_bootstraps!r}.")
    checked = {str(name): as_design(d, recording) for name, d in designs.items()}
    for design in checked.values():
        design.check_matches(recording)
    has_baseline = baseline is not None
    fits = fit_baselines(recording, baseline=baseline, designs=checked.values(), autocorrelation=autocorrelation,
                         gain_test=has_baseline and int(gain_bootstraps) > 0, **cv_kwargs)
    results_path = Path(results_dir) if results_dir is not None else None
    if results_path is not None:
        for name, res in fits.results.items():
            res.save(results_path / "baselines" / layer_dirname(name))
    rec_hash = fits.data_hashes["recording"]
    data_hashes: dict[str, str] = {}
    results: dict[str, EncodingResult] = {}
    for name, design in tqdm(list(checked.items()), desc="layers", disable=progress_disabled()):
        data_hashes[f"design:{name}"] = hash_array(design.X)
        # resume: a layer already written with the same configuration is read back, not refitted
        parts = {"cv": _jsonable(fits.options, max_array_size=None), "design": hash_array(design.X),
                 "baseline": fits.data_hashes.get("baseline"), "recording": rec_hash,
                 "runs": list(map(str, design.runs)), "target_names": recording.target_names,
                 "gain_test": int(gain_bootstraps) if has_baseline else 0}
        key = content_key(parts)
        path = results_path / "layers" / layer_dirname(name) if results_path is not None else None
        cached = _cached(path, key) if path is not None else None
        if cached is not None:
            logger.info("Reusing %s from %s", name, path)
            results[name] = cached
            continue
        result = fit_layer(design, recording, fits, name=name, gain_bootstraps=int(gain_bootstraps))
        result.metadata["config_key"] = key
        if path is not None:
            result.save(path)
        results[name] = result
    config = sweep_config(fits, results, recording, gain_bootstraps=int(gain_bootstraps))
    sweep = assemble_sweep(results, fits, config=config, data_hashes=data_hashes)
    if results_path is not None:
        sweep.save(results_path, write_results=False)
    return sweep
