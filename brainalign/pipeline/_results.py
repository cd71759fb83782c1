"""A finished study folder: its table, its sweeps and the model comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, load_json


class StudyResults:
    """The results folder of a study.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model, layer, subject (or ``group``) and target: ``r``,
        ``r2``, ``r_baseline``, ``gain`` and, with a baseline, the gain's
        bootstrap ``ci_low`` / ``ci_high``, ``p`` and ``p_fdr``; ``depth`` is the
        layer's position in its model, 0 (embeddings) to 1 (last block).
    summary : dict
        Config, package versions, data hashes and per-model headline.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        summary_file = self.folder / "summary.json"
        if not summary_file.is_file():
            raise BrainalignInputError(f"{self.folder} is not a finished study folder (no summary.json).")
        self.summary = load_json(summary_file)
        if self.summary.get("kind") != "study":
            raise BrainalignInputError(f"{self.folder} holds a {self.summary.get('kind')!r} result, not a study.")
        self.table = pd.read_csv(self.folder / "study_scores.tsv", sep="\t", dtype={"target": str, "subject": str})

    @classmethod
    def load(cls, folder: str | Path) -> "StudyResults":
        return cls(folder)

    @property
    def models(self) -> list[str]:
        return list(self.summary["models"])

    @property
    def recordings(self) -> list[str]:
        return list(self.summary["recordings"])

    def sweep(self, model: str, recording: str):
        """The :class:`~brainalign.encoding.LayerSweep` of one model on one subject (or ``"group"``)."""
        from ..encoding import LayerSweep

        if model not in self.models or recording not in self.recordings:
            raise BrainalignInputError(f"No sweep for model {model!r} on {recording!r}; models are {self.models}, "
                                       f"recordings {self.recordings}.")
        return LayerSweep.load(self.folder / model / recording)

    def layer_profiles(self, *, subjects_only: bool = True) -> pd.DataFrame:
        """Mean r per model and layer over targets, with the mean and SEM over subjects, by depth."""
        table = self.table
        if subjects_only and (table.kind == "subject").any():
            table = table[table.kind == "subject"]
        per_subject = table.groupby(["model", "layer", "layer_index", "depth", "subject"], sort=False)["r"].mean()
        grouped = per_subject.groupby(level=["model", "layer", "layer_index", "depth"], sort=False)
        out = pd.DataFrame({"r": grouped.mean(), "sem": grouped.std(ddof=1) / np.sqrt(grouped.count()),
                            "n_subjects": grouped.count()}).reset_index()
        return out.sort_values(["model", "layer_index"]).reset_index(drop=True)

    def __repr__(self) -> str:
        return f"StudyResults({self.folder}, models={self.models}, recordings={len(self.recordings)})"
