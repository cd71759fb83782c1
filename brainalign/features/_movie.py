"""All modalities of a movie in one call: frames, soundtrack and transcript, one run per file."""

from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from ..core import BrainalignInputError, FeatureSet, Timeline
from ._audio import extract_audio_features
from ._text import extract_text_features
from ._video import extract_video_features


def _runs_of(movies) -> dict[str, str]:
    if isinstance(movies, (str, os.PathLike)):
        return {"run-1": os.fspath(movies)}
    if not isinstance(movies, Mapping) or not movies:
        raise BrainalignInputError(
            "movies must be a movie file or a non-empty mapping of run label to movie file (one run per file)."
        )
    return {str(run): os.fspath(path) for run, path in movies.items()}


def _join_runs(parts: list[FeatureSet]) -> FeatureSet:
    """One feature set from one per run (same layers), rows in run order."""
    if len(parts) == 1:
        return parts[0]
    layers = {name: np.vstack([np.asarray(p[name]) for p in parts]) for name in parts[0].layer_names}
    metadata = dict(parts[0].metadata)
    metadata["runs"] = [{"run": p.timeline.run_ids[0], **{k: p.metadata.get(k) for k in ("source", "store_key")}}
                        for p in parts]
    return FeatureSet(layers, Timeline.concatenate([p.timeline for p in parts]), metadata)


def extract_movie_features(
    movies,
    *,
    video_model=None,
    processor=None,
    sample_fps: float = 2.0,
    video_layers=None,
    pooling: str = "auto",
    audio_model=None,
    feature_extractor=None,
    audio_layers=None,
    audio_frame_rate: float | None = None,
    text_model=None,
    transcript: Timeline | None = None,
    text_layers=None,
    context_tokens: int = 256,
    device="auto",
    dtype=None,
    batch_size: int = 16,
    cache_dir=None,
) -> dict[str, FeatureSet]:
    """Features of a movie's frames, soundtrack and transcript, each through its own model.

    Each movie file is one run.  Frames go through ``video_model``
    (:func:`extract_video_features`, sampled at ``sample_fps``), the
    soundtrack through ``audio_model`` (:func:`extract_audio_features`), the
    transcript words through ``text_model`` (:func:`extract_text_features`);
    a modality whose model is ``None`` is skipped.  The result goes straight
    to :func:`brainalign.alignment.multimodal_designs`.

    Parameters
    ----------
    movies : path or mapping of str to path
        One movie file, or run label to movie file.
    video_model, processor : image model (hub id, folder or object) and its processor
    sample_fps : float
        Frames sampled per second.
    video_layers, audio_layers, text_layers : layer selections or None (all)
    pooling : str
        Frame pooling (see :func:`extract_image_features`).
    audio_model, feature_extractor : speech model and its feature extractor
    audio_frame_rate : float or None
        Output rate of the speech features (``None``: the model's own frames).
    text_model : language model (hub id, folder or TextModel) or None
    transcript : Timeline or None
        The words and their times, with the movies' run labels; required with
        ``text_model``.
    context_tokens : int
        Preceding tokens each word sees.
    device, dtype, batch_size, cache_dir
        As in the extractors (``batch_size`` for frames).

    Returns
    -------
    dict of str to FeatureSet
        ``"video"``, ``"audio"``, ``"text"`` (those with a model), each with
        the runs of ``movies`` in order.

    Raises
    ------
    BrainalignInputError
        Without any model, with ``text_model`` but no transcript, or a
        transcript whose runs are not the movies' runs.
    """
    runs = _runs_of(movies)
    if video_model is None and audio_model is None and text_model is None:
        raise BrainalignInputError("Give at least one of video_model, audio_model and text_model.")
    out: dict[str, FeatureSet] = {}
    if video_model is not None:
        out["video"] = _join_runs([
            extract_video_features(path, video_model, processor=processor, sample_fps=sample_fps,
                                   layers=video_layers, pooling=pooling, batch_size=batch_size, device=device,
                                   dtype=dtype, run=run, cache_dir=cache_dir)
            for run, path in runs.items()
        ])
    if audio_model is not None:
        out["audio"] = _join_runs([
            extract_audio_features(path, None, audio_model, feature_extractor=feature_extractor,
                                   layers=audio_layers, frame_rate=audio_frame_rate, device=device, dtype=dtype,
                                   run=run, cache_dir=cache_dir)
            for run, path in runs.items()
        ])
    if text_model is not None:
        if not isinstance(transcript, Timeline):
            raise BrainalignInputError("text_model needs transcript= (a Timeline of the words and their times).")
        if sorted(transcript.run_ids) != sorted(runs):
            raise BrainalignInputError(
                f"The transcript's runs {transcript.run_ids} are not the movies' runs {list(runs)}."
            )
        out["text"] = extract_text_features(transcript, text_model, layers=text_layers,
                                            context_tokens=context_tokens, device=device, dtype=dtype,
                                            cache_dir=cache_dir)
    return out
