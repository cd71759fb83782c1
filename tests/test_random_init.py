"""Trained vs randomly initialised controls for every model family (issue #21: ``random = true`` beside a model).

A random-init copy keeps the architecture and every processor file of the
trained model and draws new weights: its features must differ from the trained
model's, repeat for the same seed and change with the seed; a study with
``random = true`` fits the twin as an ordinary model under its own cache keys.
"""

from __future__ import annotations

import filecmp

import numpy as np
import pytest
import torch

from brainalign.core import BrainalignInputError, Timeline
from brainalign.features import (bundled_model_dir, extract_audio_features, extract_image_features,
                                 extract_text_features, make_random_init_model, model_fingerprint)
from brainalign.pipeline import ConfigError, parse_config, plan_study

WORDS = Timeline("the old man saw a ship far out on the grey sea".split(), np.arange(12) * 0.4)


def _net(folder):
    from transformers import AutoModel

    return AutoModel.from_pretrained(folder)


def test_text_copy_same_inputs_new_weights(tmp_path):
    a = make_random_init_model("bundled:all-MiniLM-L6-v2", tmp_path / "a", seed=0)
    again = make_random_init_model("bundled:all-MiniLM-L6-v2", tmp_path / "again", seed=0)
    other = make_random_init_model("bundled:all-MiniLM-L6-v2", tmp_path / "other", seed=1)
    trained = bundled_model_dir()
    # inputs identical: every tokenizer file copied byte for byte
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json"):
        assert filecmp.cmp(trained / name, a / name, shallow=False)
    fingerprints = [model_fingerprint(_net(f)) for f in (trained, a, again, other)]
    assert fingerprints[1] == fingerprints[2]  # same seed, same weights
    assert len({fingerprints[0], fingerprints[1], fingerprints[3]}) == 3
    options = dict(layers=["layer.5"], context_tokens=16, device="cpu")
    f_trained = extract_text_features(WORDS, trained, **options)["layer.5"]
    f_random = extract_text_features(WORDS, a, **options)["layer.5"]
    f_again = extract_text_features(WORDS, again, **options)["layer.5"]
    np.testing.assert_array_equal(f_random, f_again)
    assert np.corrcoef(f_trained.ravel(), f_random.ravel())[0, 1] < 0.9
    # reused, not rebuilt, when the copy exists
    stamp = a / "brainalign_random_init.json"
    before = stamp.stat().st_mtime_ns
    make_random_init_model("bundled:all-MiniLM-L6-v2", a, seed=0)
    assert stamp.stat().st_mtime_ns == before


def _save(net, processor, folder):
    net.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_vision_and_audio_copies(tmp_path):
    from transformers import ViTConfig, ViTImageProcessor, ViTModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor, \
        Wav2Vec2Model

    torch.manual_seed(123)  # the 'trained' weights: another draw than the copies' seed 0
    vit = _save(ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                   image_size=32, patch_size=8)),
                ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3),
                tmp_path / "vit")
    wav = _save(Wav2Vec2Model(Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                             intermediate_size=64, conv_dim=(16, 16, 16), conv_stride=(5, 4, 4),
                                             conv_kernel=(10, 4, 4), num_conv_pos_embeddings=8,
                                             num_conv_pos_embedding_groups=2, feat_extract_norm="layer")),
                Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True), tmp_path / "wav")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    sound = rng.normal(size=16000).astype(np.float32)
    for trained, extract in [(vit, lambda m: extract_image_features(images, m, device="cpu")),
                             (wav, lambda m: extract_audio_features(sound, 16000, m, device="cpu"))]:
        copy = make_random_init_model(trained, tmp_path / f"{trained.name}-random", seed=0)
        assert filecmp.cmp(trained / "preprocessor_config.json", copy / "preprocessor_config.json", shallow=False)
        a, b = extract(trained), extract(copy)
        assert a.layer_names == b.layer_names
        last = a.layer_names[-1]
        assert a[last].shape == b[last].shape
        assert not np.allclose(a[last], b[last])
        np.testing.assert_array_equal(b[last], extract(make_random_init_model(trained, tmp_path / "x", seed=0))[last])


def _study(tmp_path, **model):
    words = tmp_path / "words.tsv"
    words.write_text("token\tonset\toffset\n" + "".join(f"w{i % 7}\t{i + 1.0}\t{i + 1.5}\n" for i in range(300)))
    np.save(tmp_path / "sub-1.npy", np.random.default_rng(0).normal(size=(320, 3)))
    np.save(tmp_path / "sub-2.npy", np.random.default_rng(1).normal(size=(320, 3)))
    return {"name": "rnd", "output": "out", "dataset": {"name": "files"}, "stimulus": {"words": "words.tsv"},
            "recording": {"files": {"sub-1": ["sub-1.npy"], "sub-2": ["sub-2.npy"]}, "tr": 1.0},
            "models": [{"model": "bundled:all-MiniLM-L6-v2", **model}],
            "features": {"layers": ["layer.5"], "context_tokens": 8, "future_context": True},
            "encoding": {"backend": "numpy", "alphas": [1.0, 100.0], "gain_bootstraps": 0, "cv": 2}}


def test_random_true_adds_an_untrained_twin(tmp_path):
    config = parse_config(_study(tmp_path, random=True), base_dir=tmp_path)
    assert [m.label for m in config.models] == ["all-MiniLM-L6-v2", "all-MiniLM-L6-v2-random"]
    assert [m.options.get("weights") for m in config.models] == [None, "random"]
    # validated again from its own dump, the study still has one twin
    assert len(type(config).model_validate(config.model_dump()).models) == 2
    plan = plan_study(config)
    features = [t for t in plan.tasks if t.kind == "features"]
    assert len(features) == 2 and features[0].key != features[1].key
    # one source folder, untouched: the twin's extractor draws the weights (nothing copied to disk)
    assert len({t.params["source"] for t in features}) == 1
    assert [t.params["options"].get("weights") for t in features] == [None, "random"]
    compare = [t for t in plan.tasks if t.kind == "compare"]
    assert compare, "the implicit trained-vs-random comparison plans a compare task per recording"


@pytest.mark.parametrize("model, message", [
    ({"random": True, "options": {"weights": "random"}}, "give one of them"),
    ({"model": None, "path": "saved", "random": True}, "needs model"),
])
def test_random_true_errors_name_the_entry(tmp_path, model, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(_study(tmp_path, **model), base_dir=tmp_path)


def test_study_with_random_twin_runs_and_compares(tmp_path):
    from brainalign.pipeline import StudyResults, run_study

    config = parse_config(_study(tmp_path, random=True), base_dir=tmp_path)
    run_study(config)
    results = StudyResults(tmp_path / "out")
    assert set(results.table["model"]) == {"all-MiniLM-L6-v2", "all-MiniLM-L6-v2-random"}
    table = results.comparisons()
    assert set(table["comparison"]) == {"all-MiniLM-L6-v2 vs random"}
    assert set(table["model_b"]) == {"all-MiniLM-L6-v2-random"}


# ----------------------------------------------------- the extractors' own weights = "random" option
def test_extractor_option_matches_the_random_init_copy_and_keys_the_cache(tmp_path):
    """``weights="random"`` on the extractor builds the twin in memory: the same weights as the folder copy."""
    options = dict(layers=["layer.5"], context_tokens=16, device="cpu", future_context=True)
    trained = extract_text_features(WORDS, bundled_model_dir(), cache_dir=tmp_path / "cache", **options)
    rand = extract_text_features(WORDS, bundled_model_dir(), weights="random", cache_dir=tmp_path / "cache", **options)
    again = extract_text_features(WORDS, bundled_model_dir(), weights="random", **options)
    other = extract_text_features(WORDS, bundled_model_dir(), weights="random", init_seed=1, **options)
    copy = make_random_init_model("bundled:all-MiniLM-L6-v2", tmp_path / "copy", seed=0)
    np.testing.assert_array_equal(rand["layer.5"], extract_text_features(WORDS, copy, **options)["layer.5"])
    np.testing.assert_array_equal(rand["layer.5"], again["layer.5"])
    assert not np.allclose(rand["layer.5"], other["layer.5"])
    assert np.corrcoef(trained["layer.5"].ravel(), rand["layer.5"].ravel())[0, 1] < 0.9
    # a random twin never reuses trained features (nor the reverse): distinct store keys, both stored
    assert trained.metadata["store_key"] != rand.metadata["store_key"]
    assert (trained.metadata["weights"], rand.metadata["weights"], rand.metadata["init_seed"]) == (
        "pretrained", "random", 0)
    hit = extract_text_features(WORDS, bundled_model_dir(), cache_dir=tmp_path / "cache", **options)
    assert hit.metadata.get("cache_hit") and hit.metadata["store_key"] == trained.metadata["store_key"]
    with pytest.raises(BrainalignInputError, match="weights must be one of"):
        extract_text_features(WORDS, bundled_model_dir(), weights="untrained", **options)


def test_extractor_option_on_in_memory_image_and_speech_models():
    from transformers import ViTConfig, ViTImageProcessor, ViTModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor, \
        Wav2Vec2Model

    torch.manual_seed(123)
    vit = ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                             image_size=32, patch_size=8))
    wav = Wav2Vec2Model(Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                       intermediate_size=64, conv_dim=(16, 16, 16), conv_stride=(5, 4, 4),
                                       conv_kernel=(10, 4, 4), num_conv_pos_embeddings=8,
                                       num_conv_pos_embedding_groups=2, feat_extract_norm="layer"))
    proc = ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    sound = rng.normal(size=16000).astype(np.float32)
    for net, extract in [(vit, lambda **k: extract_image_features(images, vit, processor=proc, device="cpu", **k)),
                         (wav, lambda **k: extract_audio_features(sound, 16000, wav, device="cpu",
                                                                  feature_extractor=Wav2Vec2FeatureExtractor(), **k))]:
        before = model_fingerprint(net)
        trained, rand = extract(), extract(weights="random")
        last = trained.layer_names[-1]
        assert rand.layer_names == trained.layer_names and rand[last].shape == trained[last].shape
        assert not np.allclose(trained[last], rand[last])
        np.testing.assert_array_equal(rand[last], extract(weights="random")[last])
        assert not np.allclose(rand[last], extract(weights="random", init_seed=1)[last])
        assert model_fingerprint(net) == before  # the model given is not re-initialised in place
        assert rand.metadata["weights"] == "random"
