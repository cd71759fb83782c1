"""Dataset adapters as the study pipeline sees them: the registry of :mod:`brainalign.datasets`, plus files.

Each dataset's adapter lives in its own module of :mod:`brainalign.datasets`
(with its card facts, fetcher and loader) and is found by name through
:func:`brainalign.datasets.get_dataset`.  This module adds the ``files``
adapter (your own files, from a config's ``[stimulus]`` and ``[recording]``)
and turns bad ``[dataset.options]`` into config errors.  Adding a dataset to
studies means writing one adapter and registering it::

    class MyAdapter(DatasetAdapter):
        name = "my_dataset"
        def list_subjects(self, root, options): ...
        def load(self, subject, root, options): ...   # -> SubjectData

    register_adapter(MyAdapter())
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..core import BrainalignInputError, Timeline, validate_options
from ..datasets import DatasetAdapter, DatasetOptionsError, SubjectData, get_dataset, registered_datasets
from ..datasets import register_dataset as register_adapter
from ._bids_ieeg import BidsIeegAdapter

__all__ = ["DatasetAdapter", "SubjectData", "dataset_options", "register_adapter", "get_adapter", "list_adapters"]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


def get_adapter(name: str) -> DatasetAdapter:
    """The adapter of ``[dataset] name``: a registered dataset, ``files`` or ``bids_ieeg``."""
    if name == _FILES.name:
        return _FILES
    if name == BIDS_IEEG.name:
        return BIDS_IEEG
    return get_dataset(name)


def list_adapters() -> list[str]:
    return sorted([*registered_datasets(), _FILES.name, BIDS_IEEG.name])


def dataset_options(adapter: DatasetAdapter, values: dict) -> BaseModel:
    """``[dataset.options]`` validated by the adapter, problems raised as a config error."""
    from ._config import ConfigError

    try:
        return adapter.options(values)
    except DatasetOptionsError as err:
        raise ConfigError(str(err)) from None


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
        from ..recordings import RecordingFiles
        from ..stimuli import StimulusFiles

        for section, values, model in (("stimulus", self.stimulus, StimulusFiles),
                                       ("recording", self.recording, RecordingFiles)):
            if section == "recording" and not values.get("files"):
                raise BrainalignInputError("config [recording]: needs 'files' (ROI text/.npy or NIfTI, one per run).")
            validate_options(model, values, section)

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
        else:  # no transcript: one event per media file, for the recording's runs
            timeline = Timeline([Path(p).stem for p in media.values()], [0.0] * len(media), None, list(media))
        shift = float(s.get("shift_s", 0.0))
        timeline = timeline.shift(shift) if shift else timeline
        r = self.recording
        recording = load_recording([self._path(f) for f in self._files()[subject]], tr=r.get("tr"),
                                   mask=str(self._path(r["mask"])) if r.get("mask") else None, runs=r.get("runs"),
                                   subject=subject, skip_rows=int(r.get("skip_rows", 0)),
                                   clean=r.get("clean", "detrend"))
        return SubjectData(timeline, recording, media=media, media_shift_s=shift)


_FILES = FilesAdapter()
# your own BIDS iEEG folder (no card, so not in the datasets registry)
BIDS_IEEG = BidsIeegAdapter()
