"""A finished study folder: its table, its sweeps and the model comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, load_json
from ..report import (
    BestLayer,
    best_layer_summary,
    fold_instructions,
    group_gains,
    rsa_layer_profiles,
    split_recordings,
    subject_gains,
)


class StudyResults:
    """The results folder of a study.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model, layer, subject (or ``group``) and target: ``r``,
        ``r2``, ``r_baseline``, ``gain`` and, with a baseline, the gain's
        bootstrap ``ci_low`` / ``ci_high``, ``p`` and ``p_fdr``; ``depth`` is the
        layer's position in its model, 0 (embeddings) to 1 (last block).
        The group-average recording (``kind == "group"``) is a row set of its
        own: every summary below keeps it apart from the subjects.  With a
        model that lists instructions, an ``instruction`` column follows
        ``model`` and the summaries treat each instruction as its own model.
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
        self.table = pd.read_csv(self.folder / "study_scores.tsv", sep="\t",
                                 dtype={"target": str, "subject": str, "instruction": str})
        # the summaries below treat each instruction of a model as a model of its own ("model [instruction]")
        self._by_model = fold_instructions(self.table)

    @classmethod
    def load(cls, folder: str | Path) -> "StudyResults":
        return cls(folder)

    @property
    def models(self) -> list[str]:
        return list(self.summary["models"])

    @property
    def recordings(self) -> list[str]:
        return list(self.summary["recordings"])

    def sweep(self, model: str, recording: str, instruction: str | None = None):
        """The :class:`~brainalign.encoding.LayerSweep` of one model on one subject (or ``"group"``);
        ``instruction`` names one of a model's instructions (a model that lists instructions needs it)."""
        from ..encoding import LayerSweep
        from ._instructions import sweep_folder

        if model not in self.models or recording not in self.recordings:
            raise BrainalignInputError(f"No sweep for model {model!r} on {recording!r}; models are {self.models}, "
                                       f"recordings {self.recordings}.")
        names = (self.summary.get("instructions") or {}).get(model, [])
        if (instruction is None) != (not names) or (instruction is not None and instruction not in names):
            raise BrainalignInputError(f"Model {model!r} has instructions {names}; got instruction={instruction!r}."
                                       if names else f"Model {model!r} lists no instructions; leave instruction out.")
        return LayerSweep.load(sweep_folder(self.folder, model, instruction, recording))

    def layer_profiles(self, *, recordings: str = "subjects") -> pd.DataFrame:
        """Mean r per model and layer over targets, with the mean and SEM over subjects, by depth.

        ``recordings="group"`` gives the group-average recording alone (``n_subjects`` 1,
        no SEM); subjects and the group average are never pooled.
        """
        subjects, group = split_recordings(self._by_model)
        if recordings not in ("subjects", "group"):
            raise BrainalignInputError(f"recordings must be 'subjects' or 'group', got {recordings!r}.")
        table = subjects if recordings == "subjects" else group
        per_subject = table.groupby(["model", "layer", "layer_index", "depth", "subject"], sort=False)["r"].mean()
        grouped = per_subject.groupby(level=["model", "layer", "layer_index", "depth"], sort=False)
        out = pd.DataFrame({"r": grouped.mean(), "sem": grouped.std(ddof=1) / np.sqrt(grouped.count()),
                            "n_subjects": grouped.count()}).reset_index()
        return out.sort_values(["model", "layer_index"]).reset_index(drop=True)

    def gains(self, *, recordings: str = "subjects", by_target: bool = False) -> pd.DataFrame:
        """Gain over the baseline per model and layer (and target): over subjects with a 95 % t interval,
        or the group average alone with its bootstrap interval (see :func:`brainalign.report.subject_gains`,
        :func:`brainalign.report.group_gains`)."""
        if recordings == "subjects":
            return subject_gains(self._by_model, by_target=by_target)
        if recordings == "group":
            return group_gains(self._by_model, by_target=by_target)
        raise BrainalignInputError(f"recordings must be 'subjects' or 'group', got {recordings!r}.")

    @property
    def rsa(self) -> pd.DataFrame:
        """The RSA table (``rsa_scores.tsv``): one row per model, layer, recording and ROI (empty without RSA).

        ``score`` is the similarity of the layer's RDM with the ROI's, ``ci_low`` /
        ``ci_high`` its bootstrap interval over conditions, ``p`` the one-sided
        bootstrap p of score <= 0, ``p_fdr`` BH across the recording's layers x
        ROIs, ``ceiling_low`` / ``ceiling_high`` the noise ceiling.
        """
        from ._rsa_tasks import RSA_COLUMNS

        path = self.folder / "rsa_scores.tsv"
        if not path.is_file():
            return pd.DataFrame(columns=RSA_COLUMNS)
        return pd.read_csv(path, sep="\t", dtype={"recording": str, "roi": str})

    def rsa_profiles(self, *, recordings: str = "subjects") -> pd.DataFrame:
        """RSA score per model, layer and ROI: mean over subjects with a 95 % t interval, the all-subjects rows
        (``"all-subjects"``) or the group average alone (:func:`brainalign.report.rsa_layer_profiles`; subjects
        and the group average are never pooled)."""
        return rsa_layer_profiles(self.rsa, recordings=recordings, q=float(self.summary.get("rsa_q", 0.05)))

    def best_layers(self, **kwargs) -> list[BestLayer]:
        """Each model's best layer with its uncertainty (:func:`brainalign.report.best_layer_summary`)."""
        return best_layer_summary(self._by_model, **kwargs)

    def verdicts(self, **kwargs) -> list[str]:
        """One plain sentence per model: its best layer with its interval, or that no layer beats the baseline."""
        return [best.sentence() for best in self.best_layers(**kwargs)] if len(self.table) else []

    def comparisons(self, *, recordings: str = "all") -> pd.DataFrame:
        """The ``[comparisons]`` per target: one row per comparison, pair, recording and target.

        Columns ``comparison, model_a, model_b, layer_a, layer_b, target, r_a,
        r_b, difference, ci_low, ci_high, p, p_fdr, q, wins`` (the winning
        model's name, or empty) with ``subject`` and ``kind``;
        ``recordings="subjects"`` or ``"group"`` keeps one kind (never pooled).
        """
        return self._comparison_file("comparisons.tsv", recordings)

    def comparison_counts(self, *, recordings: str = "all") -> pd.DataFrame:
        """Targets won by each side per comparison, pair and recording, with the mean difference and CI bounds
        and the smallest p_fdr; ``model_b == "criterion: all of against"`` rows count the composite sites."""
        return self._comparison_file("comparison_counts.tsv", recordings)

    def _comparison_file(self, name: str, recordings: str) -> pd.DataFrame:
        if recordings not in ("all", "subjects", "group"):
            raise BrainalignInputError(f"recordings must be 'all', 'subjects' or 'group', got {recordings!r}.")
        path = self.folder / name
        if not path.is_file():
            raise BrainalignInputError(f"{self.folder} has no {name}: the study config has no [comparisons].")
        frame = pd.read_csv(path, sep="\t", dtype={"target": str, "subject": str, "wins": str})
        if "wins" in frame:
            frame["wins"] = frame["wins"].fillna("")  # no winner is an empty cell
        if recordings != "all":
            frame = frame[frame["kind"] == ("group" if recordings == "group" else "subject")]
        return frame.reset_index(drop=True)

    def __repr__(self) -> str:
        return f"StudyResults({self.folder}, models={self.models}, recordings={len(self.recordings)})"
