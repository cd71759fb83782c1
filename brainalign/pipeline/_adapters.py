"""Dataset adapters: the one interface a study needs from a dataset.

An adapter lists subjects, says which subjects share a stimulus (so features
are extracted once per model and stimulus) and a sample grid (so designs are
shared), and loads one subject as a :class:`SubjectData`.  Adding a dataset to
studies means writing one adapter and registering it::

    class MyAdapter(DatasetAdapter):
        name = "my_dataset"
        def list_subjects(self, root, options): ...
        def load(self, subject, root, options): ...

    register_adapter(MyAdapter())
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from ..core import BrainalignInputError, DesignMatrix, Recording, Timeline

__all__ = ["DatasetAdapter", "SubjectData", "register_adapter", "get_adapter", "list_adapters"]


@dataclass
class SubjectData:
    """What an adapter returns for one subject: stimulus events on the recording's clock and the recording.

    ``baseline``: the dataset's own baseline regressors on the recording's
    grid (e.g. Alice's word rate and sound power), or None.  ``epochs``: for
    recordings with one row per trial (Pereira betas), the trials' Timeline.
    """

    timeline: Timeline
    recording: Recording
    baseline: DesignMatrix | None = None
    epochs: Timeline | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    media: dict[str, str] | None = None
    media_shift_s: float = 0.0


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetAdapter:
    """Base class of dataset adapters (override ``list_subjects`` and ``load``)."""

    #: registry name, used as ``[dataset] name``
    name: str = ""
    #: pydantic model of ``[dataset.options]`` (unknown keys are errors)
    Options: type[BaseModel] = _Options
    #: alignment used when the config says ``method = "auto"``
    default_alignment: str = "hrf"

    def options(self, values: dict) -> BaseModel:
        from ._config import ConfigError, _format_errors

        try:
            return self.Options(**values)
        except ValidationError as err:
            raise ConfigError(_format_errors(err, "dataset.options", self.Options)) from None

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


_ADAPTERS: dict[str, DatasetAdapter] = {}


def register_adapter(adapter: DatasetAdapter, *, replace: bool = False) -> DatasetAdapter:
    """Make ``adapter`` reachable as ``[dataset] name = adapter.name`` in study configs."""
    if not adapter.name:
        raise BrainalignInputError("A dataset adapter needs a name.")
    if adapter.name in _ADAPTERS and not replace:
        raise BrainalignInputError(f"A dataset adapter named {adapter.name!r} is already registered.")
    _ADAPTERS[adapter.name] = adapter
    return adapter


def get_adapter(name: str) -> DatasetAdapter:
    if name not in _ADAPTERS:
        import difflib

        close = difflib.get_close_matches(name, list(_ADAPTERS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise BrainalignInputError(
            f"config [dataset]: unknown dataset {name!r}{hint}; registered datasets: {', '.join(sorted(_ADAPTERS))}")
    return _ADAPTERS[name]


def list_adapters() -> list[str]:
    return sorted(_ADAPTERS)


def _dirs(root: Path, pattern: str, regex: str) -> list[str]:
    out = [p.name for p in root.glob(pattern) if p.is_dir() and re.fullmatch(regex, p.name)]
    return sorted(out, key=lambda s: (int(re.sub(r"\D", "", s) or 0), s))


# ---------------------------------------------------------------------------------- Alice
class _AliceOptions(_Options):
    resolution: Literal["6mm", "10mm"] = "6mm"
    detrend: bool = True
    high_pass: Optional[float] = None
    standardize: Union[str, bool] = "zscore_sample"


class AliceAdapter(DatasetAdapter):
    name = "alice_brennan2016"
    Options = _AliceOptions

    def list_subjects(self, root, options):
        from ..datasets import list_subjects_alice

        return list_subjects_alice(root, options.resolution)

    def canonical_subject(self, subject):
        from ..datasets._loaders import _alice_subject

        return _alice_subject(subject)

    def excluded_by_default(self):
        return ["s33"]  # all-zero time courses in the release (load_alice raises on it)

    def grid_id(self, subject, options):
        return "alice-362x2s"  # every participant heard the same audio, scanned on the same grid

    def shape_hint(self, subject, options):
        return (362, 6)

    def load(self, subject, root, options):
        from ..datasets import load_alice

        data = load_alice(root, subject=subject, **options.model_dump())
        return SubjectData(data.timeline, data.recording, data.baseline_design)


# ---------------------------------------------------------------------------------- Narratives
class _NarrativesOptions(_Options):
    task: str
    run: Optional[Union[int, str]] = None
    space: str = "MNI152NLin2009cAsym"
    pipeline: str = "afni-nosmooth"
    mask_img: Optional[str] = "auto"
    detrend: bool = True
    high_pass: Optional[float] = None
    standardize: Union[str, bool] = "zscore_sample"


class NarrativesAdapter(DatasetAdapter):
    name = "narratives"
    Options = _NarrativesOptions

    def list_subjects(self, root, options):
        from ..datasets import find_dataset_dir

        root = find_dataset_dir("narratives", root)
        return [s for s in _dirs(root, "sub-*", r"sub-\d+")
                if any((root / s / "func").glob(f"{s}_task-{options.task}*_events.tsv"))]

    def canonical_subject(self, subject):
        from ..datasets._loaders_public import _narratives_subject

        return _narratives_subject(subject)

    def stimulus_id(self, subject, options):
        return f"task-{options.task}"

    def load(self, subject, root, options):
        from ..datasets import load_narratives

        data = load_narratives(subject, path=root, **options.model_dump())
        return SubjectData(data.timeline, data.recording, metadata={"story": data.story,
                                                                     "n_unaligned": data.n_unaligned})


# ---------------------------------------------------------------------------------- LeBel 2023
class _LeBelOptions(_Options):
    stories: Union[str, list[str]]
    tr: float = 2.0
    sound_start: float = 10.0
    trim_start: int = 10
    trim_end: int = 5
    detrend: bool = False
    standardize: Union[str, bool] = False


class LeBelAdapter(DatasetAdapter):
    name = "lebel2023"
    Options = _LeBelOptions

    def list_subjects(self, root, options):
        from ..datasets import find_dataset_dir

        root = find_dataset_dir("lebel2023", root)
        return _dirs(root / "derivative" / "preprocessed_data", "UTS*", r"UTS\d+")

    def canonical_subject(self, subject):
        from ..datasets._loaders_public import _lebel_subject

        return _lebel_subject(subject)

    def stimulus_id(self, subject, options):
        stories = [options.stories] if isinstance(options.stories, str) else options.stories
        return "stories-" + "+".join(stories)

    def grid_id(self, subject, options):
        return self.stimulus_id(subject, options)  # words and TR grid come from the stories alone

    def load(self, subject, root, options):
        from ..datasets import load_lebel2023

        data = load_lebel2023(subject, path=root, **options.model_dump())
        return SubjectData(data.timeline, data.recording)


# ---------------------------------------------------------------------------------- Pereira 2018
class _PereiraOptions(_Options):
    experiment: Literal[2, 3] = 2


class PereiraAdapter(DatasetAdapter):
    name = "pereira2018"
    Options = _PereiraOptions
    default_alignment = "epochs"

    def list_subjects(self, root, options):
        from ..datasets import find_dataset_dir
        from ..datasets._loaders_public import PEREIRA_EXPERIMENTS

        root = find_dataset_dir("pereira2018", root)
        n = PEREIRA_EXPERIMENTS[options.experiment]
        return sorted(p.parent.name for p in root.glob(f"*/data_{n}sentences.mat"))

    def stimulus_id(self, subject, options):
        return f"experiment-{options.experiment}"

    def grid_id(self, subject, options):
        return f"experiment-{options.experiment}"

    def load(self, subject, root, options):
        from ..datasets import load_pereira2018

        data = load_pereira2018(subject, options.experiment, root)
        if data.recording is None:
            raise BrainalignInputError(f"Pereira 2018 participant {subject!r} has no betas in {root}.")
        return SubjectData(data.timeline, data.recording, epochs=data.timeline)


# ---------------------------------------------------------------------------------- MEG-MASC
class _MegMascOptions(_Options):
    session: Union[int, str] = 0
    task: Union[int, str] = 0
    l_freq: Optional[float] = None
    h_freq: Optional[float] = None
    sfreq: Optional[float] = None


class MegMascAdapter(DatasetAdapter):
    name = "meg_masc"
    Options = _MegMascOptions
    default_alignment = "lagged"

    def list_subjects(self, root, options):
        from ..datasets import find_dataset_dir

        return _dirs(find_dataset_dir("meg_masc", root), "sub-*", r"sub-\d+")

    def canonical_subject(self, subject):
        m = re.fullmatch(r"(?:sub-)?0*(\d+)", str(subject).strip())
        return f"sub-{int(m.group(1)):02d}" if m else str(subject)

    def stimulus_id(self, subject, options):
        return f"task-{options.task}"

    def load(self, subject, root, options):
        from ..datasets import load_meg_masc

        opts = options.model_dump()
        data = load_meg_masc(subject.removeprefix("sub-"), opts.pop("session"), opts.pop("task"), root,
                             **{k: v for k, v in opts.items() if v is not None})
        return SubjectData(data.timeline, data.recording)


# ---------------------------------------------------------------------------------- Broderick 2018
class _BroderickOptions(_Options):
    runs: Union[int, list[int]] = [1]
    reference: Optional[str] = "mastoids"
    l_freq: Optional[float] = None
    h_freq: Optional[float] = None
    sfreq: Optional[float] = None


class BroderickAdapter(DatasetAdapter):
    name = "broderick2018"
    Options = _BroderickOptions
    default_alignment = "lagged"

    def list_subjects(self, root, options):
        from ..datasets import find_dataset_dir
        from ..datasets._loaders_public import _broderick_root

        return _dirs(_broderick_root(find_dataset_dir("broderick2018", root)) / "EEG", "Subject*", r"Subject\d+")

    def canonical_subject(self, subject):
        m = re.fullmatch(r"(?:Subject)?0*(\d+)", str(subject).strip(), flags=re.IGNORECASE)
        return f"Subject{int(m.group(1))}" if m else str(subject)

    def stimulus_id(self, subject, options):
        runs = [options.runs] if isinstance(options.runs, int) else options.runs
        return "runs-" + "+".join(map(str, runs))

    def load(self, subject, root, options):
        from ..datasets import load_broderick2018

        data = load_broderick2018(subject, path=root, **options.model_dump())
        return SubjectData(data.timeline, data.recording)


# ---------------------------------------------------------------------------------- test copies
class _HaxbyOptions(_Options):
    runs: list[int] = [1, 2]
    resolution: Literal["1slice", "25mm"] = "1slice"
    detrend: bool = True
    high_pass: Optional[float] = None
    standardize: Union[str, bool] = "zscore_sample"


class HaxbyAdapter(DatasetAdapter):
    """The Haxby (2001) subset: one participant, block design; events are category labels."""

    name = "haxby2001_subset"
    Options = _HaxbyOptions

    def list_subjects(self, root, options):
        return ["sub-001"]

    def load(self, subject, root, options):
        from ..datasets import load_haxby_subset

        data = load_haxby_subset(root, **options.model_dump())
        return SubjectData(data.timeline, data.recording)


class _EEGLABOptions(_Options):
    l_freq: Optional[float] = None
    h_freq: Optional[float] = None
    sfreq: Optional[float] = None
    events: Optional[str] = None


class EEGLABAdapter(DatasetAdapter):
    """The EEGLAB tutorial recording: events are its annotations (``square`` targets, ``rt`` presses)."""

    name = "eeglab_tutorial"
    Options = _EEGLABOptions
    default_alignment = "lagged"

    def list_subjects(self, root, options):
        return ["eeglab"]

    def load(self, subject, root, options):
        from ..datasets import load_eeglab_tutorial

        opts = {k: v for k, v in options.model_dump().items() if v is not None and k != "events"}
        data = load_eeglab_tutorial(root, **opts)
        events = data.events
        if options.events:
            events = events.select(np.array([bool(re.fullmatch(options.events, t)) for t in events.tokens]))
        return SubjectData(events, data.recording)


# ---------------------------------------------------------------------------------- your own files
class _FilesOptions(_Options):
    pass


class FilesAdapter(DatasetAdapter):
    """Your own files, from the config's ``[stimulus]`` and ``[recording]`` sections.

    ``[recording] files`` is a list (one subject, named by ``subject``) or a
    table ``{subject = [files, ...]}`` for several subjects who were given the
    same stimulus.
    """

    name = "files"
    Options = _FilesOptions

    def __init__(self, stimulus: dict | None = None, recording: dict | None = None, base: Path | None = None):
        self.stimulus, self.recording, self.base = stimulus or {}, recording or {}, base or Path(".")

    def bind(self, stimulus: dict, recording: dict, base: Path) -> "FilesAdapter":
        return FilesAdapter(stimulus, recording, base)

    def _files(self) -> dict[str, list[str]]:
        files = self.recording.get("files")
        if not files:
            raise BrainalignInputError("config [recording]: needs 'files' (ROI text/.npy or NIfTI, one per run).")
        if isinstance(files, dict):
            return {str(k): list(v) if isinstance(v, (list, tuple)) else [v] for k, v in files.items()}
        return {str(self.recording.get("subject", "sub-01")): list(files) if isinstance(files, list) else [files]}

    def list_subjects(self, root, options):
        self._check()
        return list(self._files())

    def _check(self) -> None:
        known_stim = {"textgrid", "words", "tier", "run", "shift_s", "media"}
        known_rec = {"files", "tr", "mask", "runs", "subject", "skip_rows", "clean"}
        for section, values, known in (("stimulus", self.stimulus, known_stim), ("recording", self.recording, known_rec)):
            unknown = sorted(set(values) - known)
            if unknown:
                from ._config import closest_key

                close = closest_key(unknown[0], sorted(known))
                hint = f" (did you mean {close!r}?)" if close else ""
                raise BrainalignInputError(f"config [{section}]: unknown key {unknown[0]!r}{hint}; "
                                           f"valid keys: {', '.join(sorted(known))}")

    def grid_id(self, subject, options):
        return None

    def _path(self, value) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p

    def load(self, subject, root, options):
        from ..recordings import load_recording
        from ..stimuli import read_textgrid, read_word_table

        self._check()
        s = self.stimulus
        media = s.get("media")
        if media is not None:
            media = {str(k): str(self._path(v)) for k, v in media.items()} if isinstance(media, dict) \
                else {str(s.get("run") or "run-1"): str(self._path(media))}
            for run, path in media.items():
                if not Path(path).is_file():
                    raise BrainalignInputError(f"config [stimulus] media: no file {path} (run {run!r}).")
        if "textgrid" in s:
            timeline = read_textgrid(self._path(s["textgrid"]), tier=s.get("tier"), run=s.get("run"))
        elif "words" in s:
            timeline = read_word_table(self._path(s["words"]), run=s.get("run"))
        elif media is not None:  # no transcript: one event per media file, for the recording's runs
            timeline = Timeline([Path(p).stem for p in media.values()], [0.0] * len(media), None, list(media))
        else:
            raise BrainalignInputError("config [stimulus]: needs 'textgrid' or 'words' (a word table with onsets), "
                                       "or 'media' (a movie or sound file).")
        shift = float(s.get("shift_s", 0.0))
        timeline = timeline.shift(shift) if shift else timeline
        r = self.recording
        recording = load_recording([self._path(f) for f in self._files()[subject]], tr=r.get("tr"),
                                   mask=str(self._path(r["mask"])) if r.get("mask") else None, runs=r.get("runs"),
                                   subject=subject, skip_rows=int(r.get("skip_rows", 0)),
                                   clean=r.get("clean", "detrend"))
        return SubjectData(timeline, recording, media=media, media_shift_s=shift)


for _adapter in (AliceAdapter(), NarrativesAdapter(), LeBelAdapter(), PereiraAdapter(), MegMascAdapter(),
                 BroderickAdapter(), HaxbyAdapter(), EEGLABAdapter(), FilesAdapter()):
    register_adapter(_adapter)
