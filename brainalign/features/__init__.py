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

import importlib

# Names load on first use (PEP 562) so that option models and the command line
# (``brainalign extract --help``) do not import torch.
_LAZY = {
    "extract_audio_features": "_audio",
    "capture": "_hooks", "find_attention_output_modules": "_hooks", "find_blocks": "_hooks",
    "find_embedding_module": "_hooks", "find_mlp_activation_modules": "_hooks",
    "find_mlp_output_projections": "_hooks", "hidden_size": "_hooks",
    "read_stimulus_file": "_stimulus",
    "make_random_text_model": "_random", "make_random_init_model": "_random",
    "principal_components": "_reduce",
    "layer_groups": "_groups",
    "FeatureStore": "_store", "load_features": "_store",
    "TextModel": "_text", "WordAlignment": "_text", "align_words": "_text", "extract_text_features": "_text",
    "load_text_model": "_text", "plan_windows": "_text",
    "BUNDLED": "_loading", "bundled_model_dir": "_loading", "resolve_model_name": "_loading",
    "resolve_device": "_loading",
    "model_problem": "_loading", "randomly_initialised": "_loading",
    "extract_image_features": "_vision",
    "VideoInfo": "_video", "VideoReader": "_video", "extract_video_features": "_video", "probe_video": "_video",
    "read_audio_track": "_video",
    "BatchRunner": "_engine", "model_fingerprint": "_engine",
    "extract_movie_features": "_movie",
    "best_per_target": "_instructions", "extract_instruction_features": "_instructions",
    "feature_key": "_instructions", "parse_feature_key": "_instructions",
    "InstructionOptions": "_instructions", "check_instructions": "_instructions",
    "TextFeatureOptions": "_options", "VideoFeatureOptions": "_options", "AudioFeatureOptions": "_options",
    "FEATURE_OPTIONS": "_options",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BUNDLED",
    "AudioFeatureOptions",
    "FEATURE_OPTIONS",
    "InstructionOptions",
    "TextFeatureOptions",
    "VideoFeatureOptions",
    "model_problem",
    "resolve_device",
    "resolve_model_name",
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
    "check_instructions",
    "extract_audio_features",
    "extract_image_features",
    "extract_instruction_features",
    "extract_movie_features",
    "extract_text_features",
    "make_random_init_model",
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
    "randomly_initialised",
    "read_audio_track",
    "read_stimulus_file",
]
