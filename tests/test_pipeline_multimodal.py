"""A movie study from one config: frames, soundtrack and transcript through three models, fitted together."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.features import load_features
from brainalign.pipeline import ConfigError, StudyResults, parse_config, run_study

DURATION, TR = 200.0, 1.0


@pytest.fixture(scope="module")
def movie_models(tmp_path_factory):
    import torch
    from transformers import (ViTConfig, ViTImageProcessor, ViTModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor,
                              Wav2Vec2Model)

    from brainalign.features import make_random_text_model

    root = tmp_path_factory.mktemp("movie-models")
    torch.manual_seed(0)
    ViTModel(ViTConfig(hidden_size=48, num_hidden_layers=2, num_attention_heads=2, intermediate_size=96,
                       image_size=32, patch_size=8), add_pooling_layer=False).save_pretrained(root / "vit")
    ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3,
                      image_std=[0.5] * 3).save_pretrained(root / "vit")
    Wav2Vec2Model(Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                 conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4),
                                 num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)).save_pretrained(root / "w2v")
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(root / "w2v")
    make_random_text_model(root / "gpt", n_layers=2, hidden_size=32)
    return root


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    from brainalign.stimuli import write_synthetic_movie

    root = tmp_path_factory.mktemp("movie")
    transcript = write_synthetic_movie(root / "movie.mp4", duration=DURATION, fps=10.0, size=(32, 32), seed=1)
    transcript.to_frame().to_csv(root / "words.tsv", sep="\t", index=False)
    return root


def _config(tmp_path, models_root, movie_root, recording: str, output: str, cache) -> dict:
    return {
        "name": "movie", "output": str(tmp_path / output), "cache_dir": str(cache),
        "stimulus": {"media": str(movie_root / "movie.mp4"), "words": str(movie_root / "words.tsv")},
        "recording": {"files": [recording], "tr": TR, "clean": "zscore"},
        "models": [
            {"name": "frames", "model": str(models_root / "vit"), "modality": "video",
             "options": {"sample_fps": 2.0, "layers": ["layer.1"]}},
            {"name": "sound", "model": str(models_root / "w2v"), "modality": "audio",
             "options": {"frame_rate": 10.0, "layers": ["layer.1"]}},
            {"name": "words", "model": str(models_root / "gpt"), "options": {"layers": ["layer.1"]}},
        ],
        "features": {"context_tokens": 16},
        "joint": {"layers": {"frames": "layer.1", "sound": "layer.1", "words": "layer.1"}, "n_iter": 8,
                  "sweeps": False},
        "encoding": {"backend": "numpy", "gap_s": 10.0},
    }


def test_three_modalities_fit_together_from_one_config(tmp_path, movie_models, movie):
    from brainalign.simulation import simulate_multimodal_fmri

    cache = tmp_path / "cache"
    n_scans = int(np.ceil(DURATION / TR)) + 15
    np.savetxt(tmp_path / "placeholder.txt", np.random.default_rng(0).normal(size=(n_scans, 3)))
    first = run_study(parse_config(_config(tmp_path, movie_models, movie, str(tmp_path / "placeholder.txt"),
                                           "placeholder", cache)))
    assert first.ran["features"] == 3 and first.ran["joint"] == 1 and "fit" not in first.ran

    # the features the study extracted drive a simulated participant: each ROI follows one modality
    feats = {}
    for task in first.plan.tasks:
        if task.kind == "features":
            from brainalign.core import load_json

            marker = load_json(f"{task.folder}/task.json")
            if "path" in marker:
                feats[task.params["model"]] = load_features(marker["path"])
            else:
                from brainalign.features import FeatureStore

                feats[task.params["model"]] = FeatureStore(cache).get(marker["store_key"])
    assert feats["frames"].n_events == 2 * DURATION and feats["sound"].times[1] == pytest.approx(0.1)
    recording, truth = simulate_multimodal_fmri(feats, layers={m: ["layer.1"] for m in feats}, n_targets=30,
                                                tr=TR, n_scans=n_scans, snr=1.5, seed=2)
    np.savetxt(tmp_path / "rois.txt", recording.data)

    run = run_study(parse_config(_config(tmp_path, movie_models, movie, str(tmp_path / "rois.txt"), "study", cache)))
    assert run.ran["features"] == 3  # cheap now: the feature store already holds every chunk
    joint = pd.read_csv(run.output / "joint_scores.tsv", sep="\t")
    planted = np.array(truth.params["modality_of_target"])
    assert (joint["best_model"].to_numpy() == planted).mean() >= 0.9
    for model in ("frames", "sound", "words"):
        assert joint.loc[planted == model, f"unique:{model}"].mean() > 0.1
    summary = StudyResults(run.output).summary
    assert set(summary["joint_headline"]) >= {"joint", "unique:frames", "unique:sound", "unique:words", "shared"}


def test_joint_section_is_checked(tmp_path, movie_models, movie):
    config = _config(tmp_path, movie_models, movie, "r.txt", "out", tmp_path / "cache")
    config["joint"]["layers"]["pictures"] = "layer.1"
    with pytest.raises(ConfigError, match=r"\[joint\] layers names model\(s\) \['pictures'\]"):
        parse_config(config)
    config = _config(tmp_path, movie_models, movie, "r.txt", "out", tmp_path / "cache")
    config["models"][0]["options"]["context_tokens"] = 8  # a text option on a video model
    with pytest.raises(ConfigError, match=r"\[models\[0\]\.options\]: unknown key 'context_tokens'"):
        parse_config(config)


def test_report_of_a_joint_only_study(tmp_path, movie_models, movie):
    from brainalign.report import write_report

    n_scans = int(np.ceil(DURATION / TR)) + 15
    np.savetxt(tmp_path / "r.txt", np.random.default_rng(0).normal(size=(n_scans, 2)))
    run = run_study(parse_config(_config(tmp_path, movie_models, movie, str(tmp_path / "r.txt"), "out",
                                         tmp_path / "cache")))
    page = write_report(run.output).read_text()
    # random ROI data: nothing is predicted, and the page says so instead of drawing an empty figure
    assert "Models fitted together" in page and "no target has a held-out joint R² above 0" in page
    assert "No per-layer sweeps in this study" in page and StudyResults(run.output).table.empty
