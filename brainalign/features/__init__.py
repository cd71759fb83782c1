"""Layerwise model features aligned to stimulus timelines.

Text: :func:`extract_text_features` (exact word alignment, strided long
context, unit-level capture, resumable cache).  Images, video and audio:
:func:`extract_image_features`, :func:`extract_video_features` (movie files
decoded with PyAV: :class:`VideoReader`, :func:`probe_video`,
:func:`read_audio_track`), :func:`extract_audio_features`.  All four run on
one engine (``_engine.py``): one resumable chunk loop, one model fingerprint
(:func:`model_fingerprint`), one metadata schema, one out-of-memory back-off
(:class:`BatchRunner`).  Generic helpers to find the
blocks / MLP / attention modules of any transformer and capture their
activations live in :mod:`brainalign.features._hooks`; :class:`FeatureStore`
is the content-keyed on-disk cache shared by all modalities.
"""

from ._audio import extract_audio_features
from ._hooks import (
    capture,
    find_attention_output_modules,
    find_blocks,
    find_embedding_module,
    find_mlp_activation_modules,
    find_mlp_output_projections,
    hidden_size,
)
from ._stimulus import read_stimulus_file
from ._random import make_random_text_model
from ._groups import layer_groups
from ._reduce import principal_components
from ._store import FeatureStore, load_features
from ._text import (
    TextModel,
    WordAlignment,
    align_words,
    bundled_model_dir,
    extract_text_features,
    load_text_model,
    plan_windows,
)
from ._vision import extract_image_features
from ._video import VideoInfo, VideoReader, extract_video_features, probe_video, read_audio_track
from ._engine import BatchRunner, model_fingerprint
from ._movie import extract_movie_features
from ._instructions import best_per_target, extract_instruction_features, feature_key, parse_feature_key

__all__ = [
    "layer_groups",
    "BatchRunner",
    "FeatureStore",
    "TextModel",
    "VideoInfo",
    "VideoReader",
    "WordAlignment",
    "align_words",
    "best_per_target",
    "bundled_model_dir",
    "capture",
    "extract_audio_features",
    "extract_image_features",
    "extract_instruction_features",
    "extract_movie_features",
    "extract_text_features",
    "extract_video_features",
    "feature_key",
    "find_attention_output_modules",
    "find_blocks",
    "find_embedding_module",
    "find_mlp_activation_modules",
    "find_mlp_output_projections",
    "hidden_size",
    "load_features",
    "load_text_model",
    "make_random_text_model",
    "model_fingerprint",
    "parse_feature_key",
    "plan_windows",
    "principal_components",
    "probe_video",
    "read_audio_track",
    "read_stimulus_file",
]
