"""Vision, video and speech feature extraction on small random-init models (no downloads)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from PIL import Image  # noqa: E402
from scipy.io import wavfile  # noqa: E402

from brainalign.core import BrainalignInputError, FeatureSet, Timeline  # noqa: E402
from brainalign.features._audio import extract_audio_features  # noqa: E402
from brainalign.features._video import extract_video_features  # noqa: E402
from brainalign.features._vision import extract_image_features  # noqa: E402

SIZE = 32
PATCH = 8
N_PATCHES = (SIZE // PATCH) ** 2


def _seeded(build):
    torch.manual_seed(0)
    return build().eval()


@pytest.fixture(scope="module")
def vit():
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    config = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=SIZE, patch_size=PATCH)
    processor = ViTImageProcessor(size={"height": SIZE, "width": SIZE}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return _seeded(lambda: ViTModel(config, add_pooling_layer=False)), processor


@pytest.fixture(scope="module")
def convnext():
    from transformers import ConvNextConfig, ConvNextImageProcessor, ConvNextModel

    config = ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2)
    processor = ConvNextImageProcessor(size={"shortest_edge": SIZE}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return _seeded(lambda: ConvNextModel(config)), processor


@pytest.fixture(scope="module")
def clip_processor():
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE})


@pytest.fixture
def pixels(rng):
    return rng.integers(0, 256, size=(5, 40, 44, 3), dtype=np.uint8)


def _manual_hidden_states(net, processor, images):
    inputs = processor(images=list(images), return_tensors="pt")
    with torch.no_grad():
        return net(pixel_values=inputs["pixel_values"], output_hidden_states=True).hidden_states


# ------------------------------------------------------------------------------------------ images

def test_vit_layers_rows_and_default_timeline(vit, pixels):
    net, processor = vit
    fs = extract_image_features(pixels, net, processor=processor, batch_size=2, device="cpu")
    assert isinstance(fs, FeatureSet)
    assert fs.layer_names == ["embeddings", "layer.0", "layer.1"]
    assert all(fs[name].shape == (5, 32) for name in fs.layer_names)
    assert fs.metadata["pooling"] == "cls" and fs.metadata["n_prefix_tokens"] == 1
    assert list(fs.timeline.tokens) == [f"image-{i}" for i in range(5)]
    np.testing.assert_array_equal(fs.times, np.arange(5.0))
    hidden = _manual_hidden_states(net, processor, pixels)
    for i, name in enumerate(fs.layer_names):
        np.testing.assert_allclose(fs[name], hidden[i][:, 0].numpy(), rtol=1e-5, atol=1e-5)
    # Batching must not change the result.
    whole = extract_image_features(pixels, net, processor=processor, batch_size=16, device="cpu")
    np.testing.assert_allclose(whole["layer.1"], fs["layer.1"], rtol=1e-5, atol=1e-5)


def test_pooling_rules_differ_and_are_consistent(vit, pixels):
    net, processor = vit
    pooled = {
        rule: extract_image_features(pixels, net, processor=processor, layers="layer.1", pooling=rule,
                                     device="cpu")["layer.1"]
        for rule in ("cls", "mean", "spatial_mean")
    }
    assert not np.allclose(pooled["cls"], pooled["mean"])
    assert not np.allclose(pooled["mean"], pooled["spatial_mean"])
    # The mean over all tokens is the class token and the patch tokens weighted by their counts.
    combined = (pooled["cls"] + N_PATCHES * pooled["spatial_mean"]) / (N_PATCHES + 1)
    np.testing.assert_allclose(pooled["mean"], combined, rtol=1e-5, atol=1e-5)
    with pytest.raises(BrainalignInputError, match="Unknown pooling 'max'"):
        extract_image_features(pixels, net, processor=processor, pooling="max", device="cpu")


def test_convnext_feature_maps_use_spatial_mean(convnext, pixels):
    net, processor = convnext
    fs = extract_image_features(pixels, net, processor=processor, device="cpu")
    assert fs.layer_names == ["embeddings", "layer.0", "layer.1"]
    assert [fs[n].shape[1] for n in fs.layer_names] == [8, 8, 16]
    assert fs.metadata["pooling"] == "spatial_mean"
    hidden = _manual_hidden_states(net, processor, pixels)
    np.testing.assert_allclose(fs["layer.1"], hidden[2].mean(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(BrainalignInputError, match="needs a class token.*feature maps"):
        extract_image_features(pixels, net, processor=processor, pooling="cls", device="cpu")


def test_clip_uses_the_vision_tower(clip_processor, pixels):
    from transformers import CLIPConfig, CLIPModel, CLIPVisionModel

    vision = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64,
                  image_size=SIZE, patch_size=PATCH)
    text = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=99,
                bos_token_id=0, eos_token_id=1, pad_token_id=1)
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    clip = _seeded(lambda: CLIPModel(config))
    tower = CLIPVisionModel(config.vision_config).eval()
    tower.load_state_dict(clip.vision_model.state_dict())
    both = [extract_image_features(pixels, m, processor=clip_processor, device="cpu") for m in (clip, tower)]
    assert both[0].layer_names == ["embeddings", "layer.0", "layer.1", "layer.2"]
    for name in both[0].layer_names:
        np.testing.assert_allclose(both[0][name], both[1][name], rtol=1e-5, atol=1e-5)


def test_paths_pil_and_float_inputs_agree(vit, pixels, tmp_path):
    net, processor = vit
    paths = []
    for i, image in enumerate(pixels):
        paths.append(tmp_path / f"stim_{i:02d}.png")
        Image.fromarray(image).save(paths[-1])
    from_array = extract_image_features(pixels, net, processor=processor, device="cpu")
    from_files = extract_image_features(paths, net, processor=processor, device="cpu",
                                        timeline=[0.0, 2.0, 4.0, 6.0, 8.0])
    from_pil = extract_image_features([Image.fromarray(p) for p in pixels], net, processor=processor, device="cpu")
    from_float = extract_image_features(pixels.astype(np.float32) / 255.0, net, processor=processor, device="cpu")
    assert list(from_files.timeline.tokens) == [p.name for p in paths]
    np.testing.assert_array_equal(from_files.times, [0.0, 2.0, 4.0, 6.0, 8.0])
    for other in (from_files, from_pil, from_float):
        np.testing.assert_allclose(other["layer.1"], from_array["layer.1"], rtol=1e-4, atol=1e-4)
    grey = tmp_path / "grey.png"
    Image.fromarray(pixels[0, :, :, 0]).save(grey)
    assert extract_image_features([grey], net, processor=processor, device="cpu")["layer.0"].shape == (1, 32)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: [p[0, :, :, 0]], "grayscale image without a channel axis"),
        (lambda p: np.concatenate([p, p[..., :1]], axis=-1), "4 channels.*RGBA"),
        (lambda p: p[:, :, :, 0], "3-D array is ambiguous"),
        (lambda p: np.moveaxis(p, -1, 1), "channels-first"),
        (lambda p: p.astype(np.float32), r"float array with values in \[0, 255\]"),
        (lambda p: p.astype(np.int16), "dtype int16"),
        (lambda p: [], "images is empty"),
        (lambda p: "one_image.png", "single path"),
        (lambda p: [p[0], 3.0], r"images\[1\] is a float"),
    ],
)
def test_bad_image_inputs_raise_clear_errors(vit, pixels, make, message):
    net, processor = vit
    with pytest.raises(BrainalignInputError, match=message):
        extract_image_features(make(pixels), net, processor=processor, device="cpu")


def test_image_alpha_layers_processor_and_timeline_errors(vit, pixels, tmp_path):
    net, processor = vit
    rgba = tmp_path / "alpha.png"
    Image.fromarray(np.concatenate([pixels[0], pixels[0, :, :, :1]], axis=-1), mode="RGBA").save(rgba)
    with pytest.raises(BrainalignInputError, match="alpha channel"):
        extract_image_features([rgba], net, processor=processor, device="cpu")
    with pytest.raises(BrainalignInputError, match=r"Unknown layer name\(s\) \['layer.7'\]; valid layers are "
                                                   r"\['embeddings', 'layer.0', 'layer.1'\]"):
        extract_image_features(pixels, net, processor=processor, layers=["layer.7"], device="cpu")
    with pytest.raises(BrainalignInputError, match="needs processor="):
        extract_image_features(pixels, net, device="cpu")
    with pytest.raises(BrainalignInputError, match="timeline has 2 events but 5 images"):
        extract_image_features(pixels, net, processor=processor, timeline=Timeline(["a", "b"], [0, 1]), device="cpu")


def test_image_cache_hit_and_key(vit, pixels, tmp_path):
    net, processor = vit
    first = extract_image_features(pixels, net, processor=processor, layers="layer.0", cache_dir=tmp_path, device="cpu")
    again = extract_image_features(pixels, net, processor=processor, layers="layer.0", cache_dir=tmp_path, device="cpu")
    assert "cache_hit" not in first.metadata and again.metadata["cache_hit"] is True
    np.testing.assert_array_equal(first["layer.0"], again["layer.0"])
    assert list(again.timeline.tokens) == list(first.timeline.tokens)
    other = extract_image_features(pixels, net, processor=processor, layers="layer.0", pooling="mean",
                                   cache_dir=tmp_path, device="cpu")
    assert "cache_hit" not in other.metadata
    assert not np.allclose(other["layer.0"], first["layer.0"])


# ------------------------------------------------------------------------------------------- video

def test_video_frames_sampled_on_time_grid(vit, rng):
    net, processor = vit
    frames = rng.integers(0, 256, size=(20, 36, 36, 3), dtype=np.uint8)  # 2 s at 10 fps
    times = [0.0, 0.05, 0.1, 0.55, 1.0, 1.99]
    fs = extract_video_features(frames, net, fps=10.0, times=times, processor=processor, device="cpu")
    assert fs.metadata["frame_index"] == [0, 0, 1, 5, 10, 19]
    assert list(fs.timeline.tokens) == ["frame-0", "frame-0", "frame-1", "frame-5", "frame-10", "frame-19"]
    np.testing.assert_array_equal(fs.times, times)
    direct = extract_image_features(frames[[0, 1, 5, 10, 19]], net, processor=processor, device="cpu")
    np.testing.assert_allclose(fs["layer.1"][[0, 2, 3, 4, 5]], direct["layer.1"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(fs["layer.1"][0], fs["layer.1"][1])
    every = extract_video_features(frames[:4], net, fps=10.0, processor=processor, device="cpu")
    np.testing.assert_allclose(every.times, [0.0, 0.1, 0.2, 0.3])
    with pytest.raises(BrainalignInputError, match="outside the video"):
        extract_video_features(frames, net, fps=10.0, times=[0.5, 2.0], processor=processor, device="cpu")
    with pytest.raises(BrainalignInputError, match="movie.mp4' does not exist"):
        extract_video_features("movie.mp4", net, processor=processor)
    with pytest.raises(BrainalignInputError, match="fps must be a positive"):
        extract_video_features(frames, net, fps=0.0, processor=processor)
    with pytest.raises(BrainalignInputError, match="fps .* is required"):
        extract_video_features(frames, net, processor=processor)


# ------------------------------------------------------------------------------------------- audio

SR = 16000
HOP = 80  # product of the conv strides below
RECEPTIVE = 85  # 1 + 9 + 3 * 5 + 3 * 20


@pytest.fixture(scope="module")
def wav2vec():
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4),
                            num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2, feat_extract_norm="layer")
    return _seeded(lambda: Wav2Vec2Model(config)), Wav2Vec2FeatureExtractor(sampling_rate=SR, do_normalize=True)


@pytest.fixture(scope="module")
def whisper():
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    config = WhisperConfig(d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2,
                           decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80,
                           max_source_positions=100, max_target_positions=16, vocab_size=64, pad_token_id=0,
                           bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    # 100 encoder positions = 200 mel frames of 10 ms = a 2 s window.
    extractor = WhisperFeatureExtractor(feature_size=80, sampling_rate=SR, hop_length=160, chunk_length=2)
    return _seeded(lambda: WhisperModel(config)), extractor


@pytest.fixture
def speech(rng):
    t = np.arange(int(3.0 * SR)) / SR
    return 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.7 * t)) + 0.05 * rng.normal(size=t.size)


def test_wav2vec2_native_frames_and_times(wav2vec, speech):
    net, extractor = wav2vec
    audio = speech[:SR]
    fs = extract_audio_features(audio, SR, net, feature_extractor=extractor, device="cpu")
    n_frames = (((SR - 10) // 5 + 1 - 4) // 4 + 1 - 4) // 4 + 1
    assert fs.layer_names == ["embeddings", "layer.0", "layer.1"]
    assert all(fs[n].shape == (n_frames, 32) for n in fs.layer_names)
    np.testing.assert_allclose(fs.times, (np.arange(n_frames) * HOP + RECEPTIVE / 2) / SR)
    assert set(fs.timeline.tokens) == {"frame"}
    assert fs.metadata["native_frame_rate"] == SR / HOP and fs.metadata["n_chunks"] == 1
    normed = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
    with torch.no_grad():
        hidden = net(torch.tensor(normed, dtype=torch.float32)[None], output_hidden_states=True).hidden_states
    np.testing.assert_allclose(fs["layer.1"], hidden[2][0].numpy(), rtol=1e-4, atol=1e-4)


def test_hubert_is_supported(speech):
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    config = HubertConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64,
                          conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4),
                          num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
    net = _seeded(lambda: HubertModel(config))
    fs = extract_audio_features(speech[:8000], SR, net, feature_extractor=Wav2Vec2FeatureExtractor(),
                                layers=["layer.2", "embeddings"], device="cpu")
    assert fs.layer_names == ["embeddings", "layer.2"]
    assert fs.n_events == ((8000 - 10) // 5 + 1 - 4) // 4 + 1


def test_chunked_frames_match_single_pass(wav2vec, speech):
    net, extractor = wav2vec
    single = extract_audio_features(speech, SR, net, feature_extractor=extractor, chunk_seconds=10.0, device="cpu")
    chunked = extract_audio_features(speech, SR, net, feature_extractor=extractor, chunk_seconds=1.0,
                                     overlap_seconds=0.3, device="cpu")
    assert single.metadata["n_chunks"] == 1 and chunked.metadata["n_chunks"] == 4
    np.testing.assert_array_equal(chunked.times, single.times)
    # The embeddings layer sees ~25 ms (CNN + positional convolution), well inside the 150 ms of
    # context every kept frame has, so stitched frames equal single-pass frames everywhere.
    np.testing.assert_allclose(chunked["embeddings"], single["embeddings"], rtol=1e-4, atol=1e-4)
    # Self-attention sees the whole chunk, so deeper layers differ, but their grid is the same.
    assert chunked["layer.1"].shape == single["layer.1"].shape
    # Without overlap the cut frames would lack context: refused with the reason.
    with pytest.raises(BrainalignInputError, match="receptive field"):
        extract_audio_features(speech, SR, net, feature_extractor=extractor, chunk_seconds=1.0,
                               overlap_seconds=0.0, device="cpu")


def test_wav_file_resampling_and_output_grids(wav2vec, speech, tmp_path):
    net, extractor = wav2vec
    from scipy.signal import resample_poly

    low = resample_poly(speech, 1, 2)  # the same sound at 8 kHz
    pcm = np.round(np.clip(low, -1, 1) * 32767).astype(np.int16)
    path = tmp_path / "story.wav"
    wavfile.write(path, 8000, pcm)
    from_file = extract_audio_features(path, None, net, feature_extractor=extractor, layers="layer.0", device="cpu")
    from_array = extract_audio_features(pcm / 32768.0, 8000, net, feature_extractor=extractor, layers="layer.0",
                                        device="cpu")
    np.testing.assert_array_equal(from_file["layer.0"], from_array["layer.0"])
    assert from_file.metadata["input_sfreq"] == 8000 and from_file.metadata["model_sfreq"] == SR
    native = extract_audio_features(speech, SR, net, feature_extractor=extractor, layers="layer.0", device="cpu")
    assert from_file.n_events == native.n_events  # resampled to the model rate: same frame grid
    frame_times, rows = native.times, native["layer.0"]
    nearest = extract_audio_features(speech, SR, net, feature_extractor=extractor, layers="layer.0",
                                     times=frame_times[[3, 10]] + 0.001, interpolation="nearest", device="cpu")
    np.testing.assert_allclose(nearest["layer.0"], rows[[3, 10]], rtol=1e-5, atol=1e-5)
    halfway = (frame_times[[3, 10]] + frame_times[[4, 11]]) / 2
    linear = extract_audio_features(speech, SR, net, feature_extractor=extractor, layers="layer.0",
                                    times=halfway, device="cpu")
    np.testing.assert_allclose(linear["layer.0"], (rows[[3, 10]] + rows[[4, 11]]) / 2, rtol=1e-4, atol=1e-4)
    tenth = extract_audio_features(speech, SR, net, feature_extractor=extractor, layers="layer.0",
                                   frame_rate=10.0, device="cpu")
    np.testing.assert_allclose(tenth.times, np.arange(30) / 10.0)
    with pytest.raises(BrainalignInputError, match="outside the audio"):
        extract_audio_features(speech, SR, net, feature_extractor=extractor, times=[1.0, 3.5], device="cpu")
    with pytest.raises(BrainalignInputError, match="either times= or frame_rate="):
        extract_audio_features(speech, SR, net, feature_extractor=extractor, times=[1.0], frame_rate=2.0)
    with pytest.raises(BrainalignInputError, match="is sampled at 8000 Hz"):
        extract_audio_features(path, 16000, net, feature_extractor=extractor)


def test_channels_and_bad_audio(wav2vec, speech, rng):
    net, extractor = wav2vec
    mono = speech[:8000]
    other = 0.1 * rng.normal(size=mono.size)
    stereo = np.stack([mono, other], axis=1)
    with pytest.raises(BrainalignInputError, match="has 2 channels.*channel="):
        extract_audio_features(stereo, SR, net, feature_extractor=extractor, device="cpu")
    picked = extract_audio_features(stereo, SR, net, feature_extractor=extractor, channel=0, layers="layer.0",
                                    device="cpu")
    direct = extract_audio_features(mono, SR, net, feature_extractor=extractor, layers="layer.0", device="cpu")
    np.testing.assert_array_equal(picked["layer.0"], direct["layer.0"])
    mixed = extract_audio_features(stereo, SR, net, feature_extractor=extractor, channel="mean", layers="layer.0",
                                   device="cpu")
    averaged = extract_audio_features((mono + other) / 2, SR, net, feature_extractor=extractor, layers="layer.0",
                                      device="cpu")
    np.testing.assert_allclose(mixed["layer.0"], averaged["layer.0"], rtol=1e-5, atol=1e-5)
    bad = [
        (stereo.T, {}, "looks like \\(n_channels, n_samples\\)"),
        (np.zeros(0), {}, "is empty"),
        (mono[:40], {}, "shorter than one frame"),
        ((mono * 32767).astype(np.int16), {}, "dtype int16"),
        (np.r_[mono, np.nan], {}, "NaN"),
        (mono, {"layers": ["layer.9"]}, r"Unknown layer name\(s\) \['layer.9'\]; valid layers are \['embeddings'"),
    ]
    for audio, kwargs, message in bad:
        with pytest.raises(BrainalignInputError, match=message):
            extract_audio_features(audio, SR, net, feature_extractor=extractor, device="cpu", **kwargs)
    with pytest.raises(BrainalignInputError, match="needs feature_extractor="):
        extract_audio_features(mono, SR, net)


def test_whisper_encoder_window_padding_and_chunks(whisper, speech):
    net, extractor = whisper
    short = extract_audio_features(speech[: int(1.3 * SR)], SR, net, feature_extractor=extractor,
                                   chunk_seconds=2.0, overlap_seconds=0.5, device="cpu")
    assert short.layer_names == ["embeddings", "layer.0", "layer.1"]
    # 1.3 s at one frame per 20 ms: 65 real frames, not the 100 of the padded window.
    assert short["layer.1"].shape == (65, 32)
    np.testing.assert_allclose(short.times, np.arange(65) * 0.02)
    feats = extractor(speech[: int(1.3 * SR)].astype(np.float32), sampling_rate=SR, return_tensors="pt")
    with torch.no_grad():
        hidden = net.get_encoder()(feats.input_features, output_hidden_states=True).hidden_states
    np.testing.assert_allclose(short["layer.1"], hidden[2][0, :65].numpy(), rtol=1e-4, atol=1e-4)
    long = extract_audio_features(speech, SR, net, feature_extractor=extractor, chunk_seconds=2.0,
                                  overlap_seconds=0.5, device="cpu")
    assert long.metadata["n_chunks"] == 2 and long.n_events == 150
    np.testing.assert_allclose(long.times, np.arange(150) * 0.02)
    with pytest.raises(BrainalignInputError, match="exceeds the Whisper encoder's window of 2 s"):
        extract_audio_features(speech, SR, net, feature_extractor=extractor, device="cpu")
    from transformers import WhisperFeatureExtractor

    with pytest.raises(BrainalignInputError, match="build the extractor with chunk_length"):
        extract_audio_features(speech, SR, net, feature_extractor=WhisperFeatureExtractor(), device="cpu")


def test_audio_cache_hit(wav2vec, speech, tmp_path):
    net, extractor = wav2vec
    kwargs = dict(feature_extractor=extractor, layers="layer.1", frame_rate=20.0, cache_dir=tmp_path, device="cpu")
    first = extract_audio_features(speech[:SR], SR, net, **kwargs)
    again = extract_audio_features(speech[:SR], SR, net, **kwargs)
    assert again.metadata.get("cache_hit") is True and "cache_hit" not in first.metadata
    np.testing.assert_array_equal(first["layer.1"], again["layer.1"])
    np.testing.assert_array_equal(first.times, again.times)
    changed = extract_audio_features(speech[:SR] * 0.5 + 0.01, SR, net, **kwargs)
    assert "cache_hit" not in changed.metadata


def test_audio_cache_resumes_after_interruption(wav2vec, speech, tmp_path, monkeypatch):
    from brainalign.features import _audio

    net, extractor = wav2vec
    kwargs = dict(feature_extractor=extractor, chunk_seconds=1.0, overlap_seconds=0.3, layers="embeddings",
                  device="cpu")
    reference = extract_audio_features(speech, SR, net, **kwargs)
    assert reference.metadata["n_chunks"] == 4
    real = _audio._SpeechModel.hidden_states
    calls = []

    def crash_on_third_chunk(self, segment, device, dtype):
        calls.append(segment.size)
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated crash")
        return real(self, segment, device, dtype)

    monkeypatch.setattr(_audio._SpeechModel, "hidden_states", crash_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        extract_audio_features(speech, SR, net, cache_dir=tmp_path, **kwargs)
    calls.clear()
    resumed = extract_audio_features(speech, SR, net, cache_dir=tmp_path, **kwargs)
    assert len(calls) == 2  # chunks 0 and 1 were already stored
    np.testing.assert_allclose(resumed["embeddings"], reference["embeddings"], rtol=1e-6, atol=1e-6)
    calls.clear()
    hit = extract_audio_features(speech, SR, net, cache_dir=tmp_path, frame_rate=25.0, **kwargs)
    assert calls == [] and hit.metadata["cache_hit"] is True and hit.n_events == 75


def test_models_load_from_local_folders(vit, whisper, pixels, speech, tmp_path):
    net, processor = vit
    folder = tmp_path / "tiny-vit"
    net.save_pretrained(folder)
    processor.save_pretrained(folder)
    loaded = extract_image_features(pixels, str(folder), layers="layer.1", device="cpu")
    direct = extract_image_features(pixels, net, processor=processor, layers="layer.1", device="cpu")
    assert loaded.metadata["model_id"] == str(folder)
    np.testing.assert_allclose(loaded["layer.1"], direct["layer.1"], rtol=1e-5, atol=1e-5)
    whisper_net, extractor = whisper
    folder = tmp_path / "tiny-whisper"
    whisper_net.save_pretrained(folder)
    extractor.save_pretrained(folder)
    audio = speech[:SR]
    loaded = extract_audio_features(audio, SR, folder, chunk_seconds=2.0, overlap_seconds=0.5, device="cpu")
    direct = extract_audio_features(audio, SR, whisper_net, feature_extractor=extractor, chunk_seconds=2.0,
                                    overlap_seconds=0.5, device="cpu")
    assert loaded.layer_names == direct.layer_names and loaded.n_events == 50
    np.testing.assert_allclose(loaded["layer.1"], direct["layer.1"], rtol=1e-5, atol=1e-5)
    with pytest.raises(BrainalignInputError, match="Could not load image model"):
        extract_image_features(pixels, str(tmp_path / "missing"), device="cpu")


def test_auto_device_bfloat16_and_wrong_model_kinds(pixels, speech, wav2vec):
    from transformers import BertConfig, BertModel, ViTConfig, ViTImageProcessor, ViTModel

    config = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=SIZE, patch_size=PATCH)
    processor = ViTImageProcessor(size={"height": SIZE, "width": SIZE}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    full = extract_image_features(pixels, _seeded(lambda: ViTModel(config)), processor=processor, device="cpu")
    half = extract_image_features(pixels, _seeded(lambda: ViTModel(config)), processor=processor, dtype="bfloat16")
    assert half.metadata["dtype"] == "bfloat16" and half["layer.1"].dtype == np.float32
    assert np.corrcoef(half["layer.1"].ravel(), full["layer.1"].ravel())[0, 1] > 0.99
    with pytest.raises(BrainalignInputError, match="Unknown dtype 'float8'"):
        extract_image_features(pixels, ViTModel(config), processor=processor, dtype="float8")
    bert = BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                vocab_size=50))
    with pytest.raises(BrainalignInputError, match="does not take images"):
        extract_image_features(pixels, bert, processor=processor, device="cpu")
    _, extractor = wav2vec
    with pytest.raises(BrainalignInputError, match="Unsupported speech model BertModel"):
        extract_audio_features(speech[:SR], SR, bert, feature_extractor=extractor, device="cpu")
