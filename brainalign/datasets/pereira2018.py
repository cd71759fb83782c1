"""Pereira et al. (2018): sentence-level fMRI responses (one beta image per sentence).

Card facts (:data:`INFO`), fetcher, loader (:func:`load_pereira2018`) and
study adapter; the long description is ``datasets/pereira2018.md``.
"""

from __future__ import annotations

import os
from typing import Literal

import numpy as np

from ..core import BrainalignInputError, Recording, Timeline
from ._base import DatasetAdapter, SubjectData, _Options, register_dataset
from ._common import mat_strings, require_file
from ._fetch import find_dataset_dir, make_fetcher
from ._registry import DatasetInfo, RemoteFile, register_info

INFO = register_info(
    DatasetInfo(
        name="pereira2018",
        title="Sentence-level fMRI responses for decoding linguistic meaning (Pereira et al. 2018)",
        landing_url="https://osf.io/crwz7/",
        licence="see the OSF project page (not stated in the article); check before redistributing",
        citation=(
            "Pereira, F., Lou, B., Pritchett, B., et al. (2018). Toward a universal decoder of linguistic "
            "meaning from brain activation. Nature Communications, 9, 963."
        ),
        modality="fmri-betas",
        folder="pereira2018",
        files=(
            RemoteFile("stimuli_243sentences.txt", None,
                       "ed524b56872fd5107bcd11260eea5a312eea1b095db8faf591495b0525e797ae"),
            RemoteFile("stimuli_384sentences.txt", None,
                       "ffccef442608de624da943b9c52f8b348c737ff5ace2f1ff2dfec56cf579dfdc"),
        ),
        shared_folder="pereira2018_sentences",
        notes="One response image (beta) per sentence in MATLAB files per participant; no time series.",
    )
)


fetch_pereira2018 = make_fetcher(INFO.name)

PEREIRA_EXPERIMENTS = {2: 384, 3: 243}


def load_pereira2018(
    subject: str | None = None,
    experiment: int = 2,
    path: str | os.PathLike | None = None,
    *,
    on_bad_targets: str = "raise",
) -> SubjectData:
    """Pereira et al. (2018) sentences, and one participant's per-sentence fMRI betas when asked.

    Two layouts are read:

    - ``stimuli_384sentences.txt`` / ``stimuli_243sentences.txt`` (one
      sentence per line in passage order; the shared test copy has only
      these): ``subject=None`` returns the sentences alone.
    - ``<subject>/data_384sentences.mat`` / ``data_243sentences.mat`` (the
      OSF release, one folder per participant, e.g. ``M02``, ``P01``):
      ``examples_passagesentences`` (sentences x voxels, one GLM beta image
      per sentence), ``keySentences`` (the sentences),
      ``labelsPassageForEachSentence`` (passage number of each sentence) and
      ``meta.colToCoord`` (voxel column -> 1-based volume coordinates).

    Parameters
    ----------
    subject : str or None
        Participant folder name; ``None`` reads only the sentence lists.
    experiment : {2, 3}
        Experiment 2 (384 sentences, 96 passages) or 3 (243 sentences, 72 passages).
    path : path or None
        The dataset folder; default ``$BRAINALIGN_DATA/pereira2018``, else the
        shared copy ``pereira2018_sentences``.

    Returns
    -------
    SubjectData
        ``timeline``: one event per sentence on a nominal clock (sentence
        ``i`` from ``i`` to ``i + 0.5`` s, run ``experiment-N``), the layout
        :func:`brainalign.alignment.epoch_design` expects for
        one-row-per-trial data, also as ``epochs``; ``recording``: the betas
        (``kind="fmri"``, nominal sampling period 1.0, one row per sentence)
        or None; ``extra["sentences"]`` (list of str), ``extra["passages"]``
        (1-based passage number per sentence, or None) and
        ``extra["voxel_coords"]`` (n_voxels x 3, 0-based, or None).

    Examples
    --------
    >>> data = load_pereira2018(experiment=3)  # doctest: +SKIP
    >>> len(data.extra["sentences"])  # doctest: +SKIP
    243
    """
    if experiment not in PEREIRA_EXPERIMENTS:
        raise BrainalignInputError(
            f"experiment must be 2 (384 sentences) or 3 (243 sentences), got {experiment!r}; "
            "experiment 1 (180 concepts) has no sentence stimuli."
        )
    n = PEREIRA_EXPERIMENTS[experiment]
    root = find_dataset_dir(INFO.name, path)
    label = f"experiment-{experiment}"
    how = "download it from https://osf.io/crwz7/ into the dataset folder (no direct links)"
    passages = recording = coords = None
    if subject is None:
        text_file = require_file(INFO.name, root / f"stimuli_{n}sentences.txt",
                             f"Sentence list of experiment {experiment}", how)
        sentences = [line.strip() for line in text_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        if len(sentences) != n:
            raise BrainalignInputError(f"{text_file} has {len(sentences)} sentences; experiment {experiment} has {n}.")
    else:
        from scipy.io import loadmat

        mat_file = require_file(INFO.name, root / str(subject) / f"data_{n}sentences.mat",
                            f"Betas of participant {subject!r} for experiment {experiment}", how)
        contents = loadmat(mat_file)
        missing = [k for k in ("examples_passagesentences", "keySentences") if k not in contents]
        if missing:
            present = sorted(k for k in contents if not k.startswith("__"))
            raise BrainalignInputError(f"{mat_file} lacks {missing}; its variables are {present}.")
        betas = np.asarray(contents["examples_passagesentences"], dtype=np.float32)
        sentences = mat_strings(contents["keySentences"])
        if betas.shape[0] != n or len(sentences) != n:
            raise BrainalignInputError(
                f"{mat_file}: {betas.shape[0]} beta rows and {len(sentences)} sentences; expected {n} of each."
            )
        if "labelsPassageForEachSentence" in contents:
            passages = np.asarray(contents["labelsPassageForEachSentence"]).ravel().astype(int)
        meta = contents.get("meta")
        if meta is not None and getattr(meta, "dtype", None) is not None and meta.dtype.names \
                and "colToCoord" in meta.dtype.names:
            coords = np.asarray(meta["colToCoord"].ravel()[0], dtype=int) - 1
            if coords.ndim != 2 or coords.shape != (betas.shape[1], 3):
                raise BrainalignInputError(
                    f"{mat_file}: meta.colToCoord has shape {coords.shape}; expected ({betas.shape[1]}, 3)."
                )
        recording = Recording(
            betas, 1.0, runs=[label] * n, kind="fmri", subject=str(subject), on_bad_targets=on_bad_targets,
            metadata={"dataset": "pereira2018", "experiment": experiment, "source": str(mat_file),
                      "layout": "one beta image per sentence (nominal sampling period 1.0)"},
        )
    onsets = np.arange(n, dtype=float)
    timeline = Timeline(sentences, onsets, onsets + 0.5, [label] * n)
    return SubjectData(timeline, recording, subject=None if subject is None else str(subject), epochs=timeline,
                       metadata={"dataset": INFO.name, "experiment": experiment},
                       extra={"sentences": sentences, "passages": passages, "voxel_coords": coords})


class _PereiraOptions(_Options):
    experiment: Literal[2, 3] = 2


class PereiraAdapter(DatasetAdapter):
    name = INFO.name
    info = INFO
    Options = _PereiraOptions
    default_alignment = "epochs"

    def list_subjects(self, root, options):
        root = find_dataset_dir(INFO.name, root)
        n = PEREIRA_EXPERIMENTS[options.experiment]
        return sorted(p.parent.name for p in root.glob(f"*/data_{n}sentences.mat"))

    def stimulus_id(self, subject, options):
        return f"experiment-{options.experiment}"

    def grid_id(self, subject, options):
        return f"experiment-{options.experiment}"

    def load(self, subject, root, options):
        data = load_pereira2018(subject, options.experiment, root)
        if data.recording is None:
            raise BrainalignInputError(f"Pereira 2018 participant {subject!r} has no betas in {root}.")
        return data


register_dataset(PereiraAdapter())
