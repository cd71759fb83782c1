"""What every dataset module provides: one :class:`SubjectData` per subject and a :class:`DatasetAdapter`.

A dataset lives in one module of :mod:`brainalign.datasets` (e.g.
``alice_brennan2016.py``) holding its card facts (a :class:`DatasetInfo`:
TR, citation, licence, URL, files), its fetcher, its loader (returning a
:class:`SubjectData`) and its adapter (what a study needs: subjects, shared
stimuli and grids, options).  The adapter is registered here and found by
name with :func:`get_dataset`; the study pipeline looks datasets up only
through this registry.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from ..core import BrainalignInputError, DesignMatrix, Recording, Timeline
from ._registry import DatasetInfo

__all__ = ["DatasetAdapter", "DatasetOptionsError", "SubjectData", "get_dataset", "register_dataset",
           "registered_datasets"]


@dataclass
class SubjectData:
    """One subject of a dataset, as every loader and every study adapter returns it.

    Attributes
    ----------
    timeline : Timeline
        The stimulus events (words, blocks, annotations) on the recording's clock.
    recording : Recording or None
        The brain data (None only where a loader was asked for the stimuli
        alone, e.g. ``load_pereira2018()`` without a participant).
    baselines : dict
        The dataset's own baseline regressors on the recording's grid, name
        -> ``(n_samples,)`` array or :class:`~brainalign.DesignMatrix`
        (e.g. Alice's ``{"rate": ..., "sndpwr": ...}``); empty when none.
        :attr:`baseline_design` stacks them into one design.
    confounds : ndarray or None
        ``(n_samples, k)`` nuisance regressors (e.g. Alice's 6 motion parameters).
    subject : str or None
        The subject's canonical name (default: ``recording.subject``).
    metadata : dict
        JSON-serialisable facts (story, dropped words, ...); studies save it
        with the subject.
    events : dict
        Further timelines by name (Narratives' ``trial_type`` events,
        MEG-MASC's ``phonemes``).
    epochs : Timeline or None
        For recordings with one row per trial (Pereira betas), the trials.
    extra : dict
        Objects that are neither JSON nor a regressor and are not saved by
        studies: an MNE ``raw``, Alice's generic ``predictors`` frame,
        Pereira's ``sentences``, ``passages``, ``voxel_coords``.
    media, media_shift_s
        Stimulus media files by run (video/audio studies) and the shift that
        puts their clock on the recording's.

    A ``SubjectData`` is not a tuple: read its fields by name
    (``data.timeline``, ``data.recording``, ``data.baselines``).

    Examples
    --------
    >>> import numpy as np
    >>> from brainalign import Recording, Timeline
    >>> rec = Recording(np.zeros((4, 2)), 2.0, subject="s1")
    >>> data = SubjectData(Timeline(["a"], [1.0]), rec, {"rate": np.arange(4.0)})
    >>> data.subject, data.baseline_design.feature_names
    ('s1', ['rate'])
    """

    timeline: Timeline | None
    recording: Recording | None
    baselines: dict[str, Any] = field(default_factory=dict)
    confounds: np.ndarray | None = None
    subject: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    events: dict[str, Timeline] = field(default_factory=dict)
    epochs: Timeline | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    media: dict[str, str] | None = None
    media_shift_s: float = 0.0

    def __post_init__(self) -> None:
        if self.baselines is None:
            self.baselines = {}
        elif isinstance(self.baselines, DesignMatrix):  # one design given as it is
            self.baselines = {self.baselines.name or "baseline": self.baselines}
        elif not isinstance(self.baselines, Mapping):
            raise BrainalignInputError(
                f"SubjectData baselines must be a dict name -> array or DesignMatrix, got {type(self.baselines).__name__}.")
        n = self.recording.n_samples if self.recording is not None else None
        for name, value in self.baselines.items():
            rows = value.n_samples if isinstance(value, DesignMatrix) else np.shape(value)[0]
            if n is not None and rows != n:
                raise BrainalignInputError(f"SubjectData baseline {name!r} has {rows} rows; the recording has {n}.")
        if self.confounds is not None:
            self.confounds = np.asarray(self.confounds, dtype=float)
            if n is not None and self.confounds.shape[0] != n:
                raise BrainalignInputError(
                    f"SubjectData confounds have {self.confounds.shape[0]} rows; the recording has {n}.")
        if self.subject is None and self.recording is not None:
            self.subject = self.recording.subject

    def __iter__(self):
        # An older API returned tuples of different lengths per dataset; unpacking one fails loudly here.
        raise TypeError("SubjectData is not a tuple: use data.timeline, data.recording, data.baselines "
                        "(see brainalign.datasets.SubjectData).")

    @property
    def baseline_design(self) -> DesignMatrix | None:
        """All :attr:`baselines` as one DesignMatrix on the recording's grid (None when there are none).

        A single DesignMatrix is returned as it is; arrays become columns
        named by their key, in the dict's order.
        """
        if not self.baselines:
            return None
        values = list(self.baselines.values())
        if len(values) == 1 and isinstance(values[0], DesignMatrix):
            return values[0]
        if self.recording is None:
            raise BrainalignInputError("SubjectData without a recording has no baseline design.")
        columns, names = [], []
        for name, value in self.baselines.items():
            if isinstance(value, DesignMatrix):
                columns.append(value.X)
                names += [f"{name}:{f}" for f in (value.feature_names or range(value.n_features))]
            else:
                arr = np.asarray(value, dtype=float)
                columns.append(arr.reshape(arr.shape[0], -1))
                names += [name] if arr.ndim == 1 else [f"{name}:{j}" for j in range(arr.shape[1])]
        meta = {"method": "provided", "source": self.metadata.get("baseline_source", "the dataset's loader"),
                "subject": self.subject}
        return DesignMatrix(np.column_stack(columns), self.recording.runs, self.recording.sampling_period,
                            "baseline", names, meta)

    #: the name the study pipeline reads
    baseline = baseline_design


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetOptionsError(BrainalignInputError):
    """``[dataset.options]`` that do not fit a dataset's ``Options`` (message: one line per problem)."""


def _options_message(err: ValidationError, name: str, options: type[BaseModel]) -> str:
    valid = sorted(options.model_fields)
    lines = []
    for e in err.errors():
        key = ".".join(str(x) for x in e["loc"])
        if e["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(f"config [dataset.options]: unknown key {key!r}{hint}; valid keys for {name!r}: "
                         f"{', '.join(valid) or '(none)'}")
        elif e["type"] == "missing":
            lines.append(f"config [dataset.options]: missing required key {key!r} for dataset {name!r}")
        else:
            lines.append(f"config [dataset.options] {key}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


class DatasetAdapter:
    """What a study needs from a dataset: subjects, shared stimuli and grids, options, one subject's data.

    Subclass it in the dataset's module, override :meth:`list_subjects` and
    :meth:`load`, and :func:`register_dataset` an instance::

        class MyDataset(DatasetAdapter):
            name = "my_dataset"
            def list_subjects(self, root, options): ...
            def load(self, subject, root, options): ...   # -> SubjectData

        register_dataset(MyDataset())
    """

    #: registry name, used as ``[dataset] name``
    name: str = ""
    #: the card facts (None for adapters of data without a card)
    info: DatasetInfo | None = None
    #: pydantic model of ``[dataset.options]`` (unknown keys are errors)
    Options: type[BaseModel] = _Options
    #: alignment used when the config says ``method = "auto"``
    default_alignment: str = "hrf"

    def options(self, values: Mapping[str, Any] | None = None) -> BaseModel:
        """``values`` validated by :attr:`Options` (raises :class:`DatasetOptionsError` naming each key)."""
        try:
            return self.Options(**dict(values or {}))
        except ValidationError as err:
            raise DatasetOptionsError(_options_message(err, self.name, self.Options)) from None

    def fetch(self, data_home=None, *, timeout: float = 5.0) -> Path:
        """Download the dataset's registered files (see :func:`brainalign.datasets.fetch`)."""
        from ._fetch import fetch

        if self.info is None:
            raise BrainalignInputError(f"Dataset {self.name!r} has no card: nothing to fetch.")
        return fetch(self.info.name, data_home, timeout=timeout)

    def list_subjects(self, root: Path | None, options: BaseModel) -> list[str]:
        raise NotImplementedError

    def canonical_subject(self, subject: str) -> str:
        """The subject's spelling in folder names (``18`` -> ``s18``)."""
        return str(subject)

    def stimulus_id(self, subject: str, options: BaseModel) -> str:
        """Subjects with the same id were given the same stimulus (features are shared)."""
        return "stimulus"

    def grid_id(self, subject: str, options: BaseModel) -> str | None:
        """Subjects with the same (non-None) id share a sample grid and event times (designs are shared)."""
        return None

    def shape_hint(self, subject: str, options: BaseModel) -> tuple[int, int] | None:
        """(n_samples, n_targets) when known without loading, for memory estimates."""
        return None

    def excluded_by_default(self) -> list[str]:
        """Subjects left out of ``subjects = "all"`` with the reason (e.g. unusable recordings)."""
        return []

    def load(self, subject: str, root: Path | None, options: BaseModel) -> SubjectData:
        raise NotImplementedError


_DATASETS: dict[str, DatasetAdapter] = {}


def register_dataset(adapter: DatasetAdapter, *, replace: bool = False) -> DatasetAdapter:
    """Make ``adapter`` reachable as :func:`get_dataset` ``(adapter.name)`` and ``[dataset] name`` in studies."""
    if not adapter.name:
        raise BrainalignInputError("A dataset adapter needs a name.")
    if adapter.name in _DATASETS and not replace:
        raise BrainalignInputError(f"A dataset adapter named {adapter.name!r} is already registered.")
    _DATASETS[adapter.name] = adapter
    return adapter


def get_dataset(name: str) -> DatasetAdapter:
    """The registered dataset ``name`` (its adapter; ``.info`` holds the card facts).

    Examples
    --------
    >>> get_dataset("alice_brennan2016").info.tr
    2.0
    """
    if name not in _DATASETS:
        close = difflib.get_close_matches(name, list(_DATASETS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise BrainalignInputError(
            f"config [dataset]: unknown dataset {name!r}{hint}; registered datasets: {', '.join(sorted(_DATASETS))}")
    return _DATASETS[name]


def registered_datasets() -> list[str]:
    """Names of the registered dataset adapters."""
    return sorted(_DATASETS)


def subject_dirs(root: Path, pattern: str, regex: str) -> list[str]:
    """Sub-folder names of ``root`` matching ``pattern`` and ``regex``, in numeric order (``sub-2`` < ``sub-10``)."""
    out = [p.name for p in root.glob(pattern) if p.is_dir() and re.fullmatch(regex, p.name)]
    return sorted(out, key=lambda s: (int(re.sub(r"\D", "", s) or 0), s))
