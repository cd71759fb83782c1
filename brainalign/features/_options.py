"""Feature-extraction options per modality (a study's ``[features]`` / model ``options``; ``extract``'s flags).

Kept free of torch so that building the command line (``--help``) stays
fast.  ``tests/test_cli_options.py`` checks that every field has the name and
default of the matching keyword of :func:`extract_text_features`,
:func:`extract_video_features` and :func:`extract_audio_features`.
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field, field_validator

from ..core import Options

__all__ = ["TextFeatureOptions", "VideoFeatureOptions", "AudioFeatureOptions", "FEATURE_OPTIONS"]

_Layers = Optional[Union[Literal["all"], list[Union[int, str]]]]
_Dtype = Optional[Literal["auto", "float32", "bfloat16", "float16"]]


class _Common(Options):
    layers: _Layers = Field(None, description="layer names (embeddings, layer.0, ...) or indices; default: all")
    device: str = Field("auto", description="cpu, cuda, cuda:1, mps or auto (CUDA when available)")
    dtype: _Dtype = Field(None, description="compute dtype (default: the model's own; text: bfloat16 on CUDA)")
    revision: Optional[str] = Field(None, description="model revision (branch, tag or commit) on the hub")
    weights: Literal["pretrained", "random"] = Field("pretrained", description=(
        "pretrained: the trained model; random: the same architecture with seeded random weights "
        "(the untrained control; same tokenizer/processor)"))
    init_seed: int = Field(0, ge=0, description="seed of the random weights (weights = 'random')")

    @field_validator("dtype")
    @classmethod
    def _auto_is_none(cls, value):
        return None if value == "auto" else value

    @field_validator("layers", mode="before")
    @classmethod
    def _digits_are_indices(cls, value):
        # from the command line every layer comes as text: "3" means index 3
        if isinstance(value, (list, tuple)):
            return [int(v) if isinstance(v, str) and v.lstrip("-").isdigit() else v for v in value]
        return value


class TextFeatureOptions(_Common):
    """Options of :func:`~brainalign.features.extract_text_features` (a language model on a word timeline)."""

    context_tokens: int = Field(512, ge=0, description="minimum preceding tokens each word sees")
    pooling: Literal["last", "mean", "first"] = Field("last", description="which of a word's tokens it keeps")
    batch_size: int = Field(8, ge=1, description="windows per forward pass")
    trust_remote_code: bool = Field(False, description="let transformers run the model repository's own code")
    units: Optional[Union[Literal["mlp", "attn_heads"], list[Literal["mlp", "attn_heads"]]]] = Field(
        None, description="also capture MLP neurons / attention head outputs of the selected blocks")
    storage_dtype: Literal["float32", "float16"] = Field("float32", description="dtype of the stored features")
    stride: Optional[int] = Field(None, ge=1, description="tokens computed per window (default: context_tokens)")
    future_context: bool = Field(False, description=(
        "bidirectional models: share windows (much faster) although words then see following tokens"))
    strategy: Literal["auto", "strided", "per_word"] = Field("auto", description=(
        "strided windows (causal models, or future_context) or one pass per word"))
    special_tokens: bool = Field(True, description="add the tokenizer's special tokens ([CLS], <s>) to windows")
    chunk_words: Optional[int] = Field(None, ge=1, description="words per stored, resumable chunk")


class VideoFeatureOptions(_Common):
    """Options of :func:`~brainalign.features.extract_video_features` (an image model on a movie's frames)."""

    sample_fps: Optional[float] = Field(None, gt=0, description=(
        "sample frames at this rate (default: every frame at its own timestamp)"))
    pooling: Literal["auto", "cls", "mean", "spatial_mean"] = Field("auto", description="how patch tokens are pooled")
    batch_size: int = Field(16, ge=1, description="frames per forward pass")
    chunk_frames: int = Field(256, ge=1, description="sample times per stored, resumable chunk")
    storage_dtype: Literal["float32", "float16"] = Field("float32", description="dtype of the stored features")


class AudioFeatureOptions(_Common):
    """Options of :func:`~brainalign.features.extract_audio_features` (a speech model on a soundtrack)."""

    frame_rate: Optional[float] = Field(None, gt=0, description=(
        "output grid rate in Hz (default: the model's own frames)"))
    interpolation: Literal["linear", "nearest"] = Field("linear", description="from model frames to the grid")
    chunk_seconds: float = Field(30.0, gt=0, description="seconds of audio per forward pass")
    overlap_seconds: float = Field(5.0, ge=0, description="context on each side of a chunk, dropped afterwards")
    channel: Optional[Union[int, Literal["mean"]]] = Field(None, description=(
        "channel of multi-channel audio, or 'mean'"))


#: modality -> option model
FEATURE_OPTIONS = {"text": TextFeatureOptions, "video": VideoFeatureOptions, "audio": AudioFeatureOptions}
