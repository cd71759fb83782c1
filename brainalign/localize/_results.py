"""The localize results folder (same layout as the encoding engine's)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..core import atomic_write_text, load_json, package_versions, save_json
from ._ablate import DeficitReport
from ._alignment import UnitAlignment
from ._mask import UnitMask

logger = logging.getLogger("brainalign.localize")

__all__ = ["save_localize_results"]


def save_localize_results(
    directory: str | Path,
    mask: UnitMask,
    *,
    deficit: DeficitReport | None = None,
    alignment: UnitAlignment | None = None,
    config: Mapping[str, Any] | None = None,
    data_hashes: Mapping[str, str] | None = None,
    figures: bool = True,
) -> Path:
    """Write a results folder for a localization (and optional ablation / alignment).

    Layout::

        summary.json                 kind "localize", config, versions, data_hashes, headline, created
        mask/mask.npz, mask.json     the UnitMask (t, p, selection, unit means, params)
        tables/units_per_layer.tsv   layer, n_units, n_selected, fraction_selected
        tables/deficits.tsv ...      with ``deficit`` (see DeficitReport.save)
        scores.tsv, layers/<name>/   with ``alignment`` (localized and random-<seed> EncodingResults)
        tables/alignment_summary.tsv
        figures/units_per_layer.png, figures/tvalues.png, figures/deficits.png

    An existing ``summary.json`` is merged: saving the deficit after the mask
    (e.g. ``brainalign ablate`` after ``brainalign localize``) keeps both.
    """
    directory = Path(directory)
    mask.save(directory / "mask")
    atomic_write_text(directory / "tables" / "units_per_layer.tsv", mask.to_frame().to_csv(sep="\t", index=False))
    old = load_json(directory / "summary.json") if (directory / "summary.json").is_file() else {}
    headline = dict(old.get("headline", {}))
    headline.update({"n_selected": mask.n_selected, "n_units": mask.n_units,
                     "max_finite_t": _max_finite(mask)})
    if deficit is not None:
        deficit.save(directory)
        for row in deficit.summary.itertuples():
            headline[f"{row.task}_localized_deficit"] = row.localized_deficit
            headline[f"{row.task}_random_deficit"] = row.random_deficit_mean
    if alignment is not None:
        for name, res in alignment.results.items():
            res.save(directory / "layers" / name)
        atomic_write_text(directory / "scores.tsv", alignment.to_frame().to_csv(sep="\t", index=False))
        atomic_write_text(directory / "tables" / "alignment_summary.tsv",
                          alignment.summary.to_csv(sep="\t", index=False))
        headline["median_localized_r"] = float(alignment.summary.localized_r.median())
        headline["median_random_r"] = float(alignment.summary.random_r_mean.median())
    merged_config = {**old.get("config", {}), **dict(config or {}), "mask": mask.params}
    if deficit is not None:
        merged_config["ablation"] = deficit.params
    if alignment is not None:
        merged_config["alignment"] = alignment.params
    summary = {
        "kind": "localize",
        "config": merged_config,
        "versions": package_versions(("brainalign", "numpy", "scipy", "torch", "transformers")),
        "data_hashes": {**old.get("data_hashes", {}), **dict(data_hashes or {})},
        "headline": headline,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if figures:
        _write_figures(directory / "figures", mask, deficit)
    save_json(directory / "summary.json", summary)
    return directory


def _max_finite(mask: UnitMask) -> float | None:
    t = np.concatenate(list(mask.t_values.values()))
    t = t[np.isfinite(t)]
    return float(t.max()) if t.size else None


def _write_figures(folder: Path, mask: UnitMask, deficit: DeficitReport | None) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..plotting import plot_deficit, plot_localizer_tvalues, plot_units_per_layer

    labels = mask.params.get("labels", ["A", "B"])
    fig = plot_units_per_layer(mask.n_selected_per_layer, mask.layers,
                               title=f"{mask.n_selected} of {mask.n_units} {mask.params.get('unit_type', '')} units",
                               output_file=folder / "units_per_layer.png")
    plt.close(fig)
    fig = plot_localizer_tvalues(np.concatenate(list(mask.t_values.values())), mask.flat_mask(),
                                 contrast=f"{labels[0]} > {labels[1]}", output_file=folder / "tvalues.png")
    plt.close(fig)
    if deficit is not None:
        frame = deficit.deficits[deficit.deficits.task != "perplexity"]  # same information as loss, other scale
        fig = plot_deficit(frame, value="deficit", output_file=folder / "deficits.png")
        plt.close(fig)
