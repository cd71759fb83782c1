"""Movies end to end on real container files written in the test (PyAV): decoding, timestamps, soundtrack,
corrupt and truncated files, frame features, kill -9 resumption and the ``extract --video`` CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
av = pytest.importorskip("av")

from brainalign.core import BrainalignInputError  # noqa: E402
from brainalign.features import (  # noqa: E402
    VideoReader,
    extract_audio_features,
    extract_image_features,
    extract_video_features,
    load_features,
    model_fingerprint,
    probe_video,
    read_audio_track,
)
from brainalign.stimuli import write_synthetic_movie  # noqa: E402

SIZE = 32
TINY_VIT = textwrap.dedent("""
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel
    torch.manual_seed(0)
    NET = ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                             image_size=32, patch_size=8), add_pooling_layer=False).eval()
    PROC = ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
""")


@pytest.fixture(scope="module")
def vit():
    scope: dict = {}
    exec(TINY_VIT, scope)  # the same construction runs in the kill -9 child process
    return scope["NET"], scope["PROC"]


@pytest.fixture(scope="module")
def wav2vec2():
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    return Wav2Vec2Model(Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                        intermediate_size=32, conv_dim=(8, 8), conv_stride=(5, 4),
                                        conv_kernel=(10, 4), num_conv_pos_embeddings=8,
                                        num_conv_pos_embedding_groups=2)).eval()


@pytest.fixture(scope="module")
def movies(tmp_path_factory):
    root = tmp_path_factory.mktemp("movies")
    out = {}
    for ext in ("mp4", "mkv"):
        path = root / f"movie.{ext}"
        out[ext] = (path, write_synthetic_movie(path, duration=3.0, fps=25, size=(64, 64), sfreq=16000, seed=1))
    return out


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_movie_decodes_back_with_frame_count_timestamps_and_audio_length(movies, ext):
    path, transcript = movies[ext]
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.has_audio, info.audio_sfreq) == (64, 64, 25.0, True, 16000.0)
    assert info.duration == pytest.approx(3.0, abs=0.04)
    with VideoReader(path) as reader:
        times = reader.frame_times()
        assert times.size == 75
        np.testing.assert_allclose(times, np.arange(75) / 25, atol=1e-6)
        shown = list(reader.frames_at([0.0, 0.019, 0.04, 0.5, 1.01, 2.999]))
    # the frame on screen at t is the last one whose timestamp is <= t
    np.testing.assert_allclose([t for t, _ in shown], [0.0, 0.0, 0.04, 0.48, 1.0, 2.96], atol=1e-6)
    assert all(rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8 for _, rgb in shown)
    assert not np.array_equal(shown[0][1], shown[-1][1])  # the scene changes
    # reads in consecutive pieces (decoding on, no seek) give the same frames as one read, and so does
    # a read that jumps back (a seek)
    every = np.arange(75) / 25
    with VideoReader(path) as reader:
        whole = [rgb for _, rgb in reader.frames_at(every)]
        pieces = [rgb for part in np.array_split(every, 7) for _, rgb in reader.frames_at(part)]
        back = [rgb for _, rgb in reader.frames_at(every[10:12])]
    assert all(np.array_equal(a, b) for a, b in zip(whole, pieces)) and len(pieces) == 75
    assert np.array_equal(back[0], whole[10]) and np.array_equal(back[1], whole[11])
    samples, sfreq = read_audio_track(path, 16000)
    # FLAC is sample exact; AAC adds up to one frame of encoder priming / padding
    assert sfreq == 16000.0 and abs(samples.size - 48000) <= (0 if ext == "mkv" else 2048)
    # the speech-like bursts are where the transcript says the words are
    envelope = np.abs(samples[:48000]).reshape(-1, 160).mean(1)  # 10 ms bins
    inside = np.zeros(300, bool)
    for on, off in zip(transcript.onsets, transcript.offsets):
        inside[int(on * 100) + 3:int(off * 100) - 3] = True
    assert envelope[inside].mean() > 4 * envelope[~inside].mean()


def test_variable_frame_rate_uses_reported_timestamps(tmp_path, vit):
    net, proc = vit
    path = tmp_path / "vfr.mkv"
    stamps = [0.0, 0.04, 0.08, 0.5, 0.54, 1.2]
    write_synthetic_movie(path, frame_times=stamps, duration=1.5, fps=25, audio=False)
    with VideoReader(path) as reader:
        np.testing.assert_allclose(reader.frame_times(), stamps, atol=1e-6)
    fs = extract_video_features(path, net, times=[0.0, 0.3, 0.51, 1.0, 1.22], processor=proc, device="cpu")
    np.testing.assert_allclose(fs.metadata["frame_times"], [0.0, 0.08, 0.5, 0.54, 1.2], atol=1e-6)
    every = extract_video_features(path, net, processor=proc, device="cpu")
    np.testing.assert_allclose(every.times, stamps, atol=1e-6)


def test_file_features_equal_features_of_decoded_frames(movies, vit):
    net, proc = vit
    path, _ = movies["mp4"]
    times = np.arange(0, 3.0, 0.25)
    fs = extract_video_features(path, net, sample_fps=4, chunk_frames=5, batch_size=3, processor=proc, device="cpu")
    np.testing.assert_allclose(fs.times, times)
    with VideoReader(path) as reader:
        frames = np.stack([rgb for _, rgb in reader.frames_at(times)])
    direct = extract_image_features(frames, net, processor=proc, device="cpu")
    for name in ("embeddings", "layer.1"):
        np.testing.assert_allclose(fs[name], direct[name], rtol=1e-4, atol=1e-5)
    assert fs.metadata["modality"] == "video" and fs.metadata["source"] == "movie.mp4"
    assert fs.metadata["chunks_computed"] == 3
    with pytest.raises(BrainalignInputError, match="outside the video"):
        extract_video_features(path, net, times=[1.0, 3.5], processor=proc, device="cpu")
    with pytest.raises(BrainalignInputError, match="pass sample_fps"):
        extract_video_features(path, net, fps=25.0, processor=proc, device="cpu")


def test_corrupt_and_truncated_files_name_the_file_and_where_decoding_failed(movies, tmp_path, vit):
    net, proc = vit
    for ext in ("mp4", "mkv"):
        data = movies[ext][0].read_bytes()
        (tmp_path / f"cut.{ext}").write_bytes(data[:len(data) // 2])
        garbled = bytearray(data)
        garbled[len(data) // 3:len(data) // 3 + 2000] = np.random.default_rng(0).integers(0, 256, 2000, np.uint8).tobytes()
        (tmp_path / f"garbled.{ext}").write_bytes(bytes(garbled))
    # an mp4 cut in half has lost its index (moov at the end): it cannot even be opened
    with pytest.raises(BrainalignInputError, match=r"Cannot open .*cut\.mp4 .*truncated"):
        extract_video_features(tmp_path / "cut.mp4", net, sample_fps=2, processor=proc, device="cpu")
    # a Matroska file cut in half opens, and decoding stops before the duration its header gives
    with pytest.raises(BrainalignInputError, match=r"Decoding .*cut\.mkv stopped at the frame at t=1\.\d+ s "
                                                   r"\(about frame \d+\).*truncated"):
        extract_video_features(tmp_path / "cut.mkv", net, sample_fps=2, processor=proc, device="cpu")
    for ext in ("mp4", "mkv"):
        with pytest.raises(BrainalignInputError, match=rf"garbled\.{ext} .*t=\d\.\d+ s.*(corrupt|truncated)"):
            extract_video_features(tmp_path / f"garbled.{ext}", net, sample_fps=25, processor=proc, device="cpu")
    (tmp_path / "noise.mkv").write_bytes(np.random.default_rng(1).integers(0, 256, 4000, np.uint8).tobytes())
    with pytest.raises(BrainalignInputError, match=r"noise\.mkv"):
        probe_video(tmp_path / "noise.mkv")


def test_kill_9_mid_video_resumes_without_recomputing_finished_chunks(movies, vit, tmp_path):
    net, proc = vit
    path, _ = movies["mkv"]
    cache = tmp_path / "cache"
    child = TINY_VIT + textwrap.dedent(f"""
        import sys, time
        from brainalign.features import extract_video_features

        def on_chunk(k, n):
            if k == 1:
                print("TWO CHUNKS STORED", flush=True)
                time.sleep(600)

        extract_video_features({str(path)!r}, NET, sample_fps=10, chunk_frames=5, processor=PROC,
                               cache_dir={str(cache)!r}, device="cpu", on_chunk=on_chunk)
    """)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc_ = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert proc_.stdout.readline().strip() == "TWO CHUNKS STORED"
    finally:
        proc_.send_signal(signal.SIGKILL)
        proc_.wait(timeout=60)
    assert proc_.returncode == -signal.SIGKILL
    stored = sorted(p.name for p in cache.glob("*/partial/chunk-*.safetensors"))
    assert stored == ["chunk-000000.safetensors", "chunk-000001.safetensors"]

    computed = []
    resumed = extract_video_features(path, net, sample_fps=10, chunk_frames=5, processor=proc, cache_dir=cache,
                                     device="cpu", on_chunk=lambda k, n: computed.append(k))
    assert computed == [2, 3, 4, 5] and resumed.metadata["chunks_computed"] == 4  # 30 times, 6 chunks
    fresh = extract_video_features(path, net, sample_fps=10, chunk_frames=5, processor=proc, device="cpu")
    for name in fresh.layer_names:
        np.testing.assert_allclose(resumed[name], fresh[name], rtol=1e-5, atol=1e-6)
    again = extract_video_features(path, net, sample_fps=10, chunk_frames=5, processor=proc, cache_dir=cache,
                                   device="cpu")
    assert again.metadata["cache_hit"] is True
    # the timestamps of the frames shown are stored with the features (30 times at 10/s on a 25 fps movie)
    expected = np.floor(np.arange(30) / 10 * 25 + 1e-9) / 25
    np.testing.assert_allclose(again.metadata["frame_times"], expected, atol=1e-6)
    np.testing.assert_allclose(resumed.metadata["frame_times"], expected, atol=1e-6)


def test_soundtrack_of_a_movie_through_a_speech_model(movies, wav2vec2):
    from transformers import Wav2Vec2FeatureExtractor

    extractor = Wav2Vec2FeatureExtractor(sampling_rate=16000)
    path, _ = movies["mkv"]
    fs = extract_audio_features(path, None, wav2vec2, feature_extractor=extractor, frame_rate=10.0, device="cpu")
    assert fs.metadata["source"] == "movie.mkv" and fs.metadata["input_sfreq"] == 16000.0
    assert fs.metadata["duration"] == pytest.approx(3.0) and fs["layer.0"].shape == (30, 16)
    samples, _ = read_audio_track(path, 16000)
    direct = extract_audio_features(samples.astype(np.float64), 16000, wav2vec2, feature_extractor=extractor,
                                    frame_rate=10.0, device="cpu")
    np.testing.assert_allclose(fs["layer.0"], direct["layer.0"], rtol=1e-5, atol=1e-6)
    with pytest.raises(BrainalignInputError, match="pass sfreq=None"):
        extract_audio_features(path, 16000, wav2vec2, feature_extractor=extractor, device="cpu")


def test_cli_extract_video_from_a_saved_model(movies, vit, tmp_path, capsys):
    from brainalign.cli import main

    net, proc = vit
    model_dir = tmp_path / "tiny-vit"
    net.save_pretrained(model_dir)
    proc.save_pretrained(model_dir)
    path, _ = movies["mp4"]
    out = tmp_path / "store"
    assert main(["extract", "video", str(path), "--model", str(model_dir), "--sample-fps", "2",
                 "--device", "cpu", "-o", str(out)]) == 0
    entry = capsys.readouterr().out.strip().splitlines()[-1]  # the command prints <output>/<key>
    assert entry.startswith(str(out))
    fs = load_features(entry)
    assert fs.layer_names == ["embeddings", "layer.0", "layer.1"] and fs["layer.1"].shape == (6, 32)
    assert fs.metadata["model_class"] == "ViTModel"
    assert fs.metadata["engine_version"] == 2
    assert main(["extract", "video", str(tmp_path / "missing.mp4"), "--model", str(model_dir)]) == 2


def test_one_fingerprint_sees_any_weight_change():
    import copy

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Linear(64, 4))
    other = copy.deepcopy(net)
    assert model_fingerprint(other) == model_fingerprint(net)
    with torch.no_grad():
        other[0].weight[5, 7] += 1e-3  # flat index 327: between the strided sample's positions (every 16th)
    assert model_fingerprint(other) != model_fingerprint(net)


def test_all_modalities_of_two_movie_runs_in_one_call(movies, vit, wav2vec2):
    from transformers import Wav2Vec2FeatureExtractor

    from brainalign.alignment import SampleGrid, multimodal_designs
    from brainalign.core import Timeline
    from brainalign.features import bundled_model_dir, extract_movie_features

    net, proc = vit
    runs = {"run-a": movies["mp4"][0], "run-b": movies["mkv"][0]}
    words = movies["mp4"][1]
    transcript = Timeline.concatenate([Timeline(words.tokens, words.onsets, words.offsets, runs=run) for run in runs])
    feats = extract_movie_features(runs, video_model=net, processor=proc, sample_fps=4, audio_model=wav2vec2,
                                   feature_extractor=Wav2Vec2FeatureExtractor(sampling_rate=16000),
                                   audio_frame_rate=10.0, text_model=bundled_model_dir(), transcript=transcript,
                                   text_layers=["layer.5"], context_tokens=8, device="cpu")
    assert list(feats) == ["video", "audio", "text"]
    assert feats["video"].timeline.run_ids == ["run-a", "run-b"] and feats["video"].n_events == 24
    # 3 s at 10 frames/s: FLAC is sample exact, AAC's padding may add one 100 ms step
    audio_runs = np.asarray(feats["audio"].timeline.runs)
    assert (audio_runs == "run-b").sum() == 30 and (audio_runs == "run-a").sum() in (30, 31)
    assert feats["text"].layer_names == ["layer.5"]
    bands = multimodal_designs(feats, SampleGrid({"run-a": 3, "run-b": 3}, 1.0), tolerance_s=1.0)
    assert "text:layer.5" in bands and bands["video:layer.1"].n_samples == 6
    with pytest.raises(BrainalignInputError, match="transcript's runs"):
        extract_movie_features(runs, text_model=bundled_model_dir(), transcript=words)


def test_every_modality_records_the_same_metadata_schema(movies, vit, wav2vec2):
    from transformers import Wav2Vec2FeatureExtractor

    from brainalign.core import Timeline
    from brainalign.features import bundled_model_dir, extract_text_features, load_text_model

    net, proc = vit
    path, words = movies["mkv"]
    text_model = load_text_model(bundled_model_dir(), device="cpu")
    results = {
        "video": extract_video_features(path, net, processor=proc, sample_fps=2, device="cpu"),
        "image": extract_image_features(np.zeros((2, 40, 40, 3), np.uint8), net, processor=proc, device="cpu"),
        "audio": extract_audio_features(path, None, wav2vec2, feature_extractor=Wav2Vec2FeatureExtractor(),
                                        device="cpu"),
        "text": extract_text_features(Timeline(words.tokens, words.onsets), text_model, layers=["layer.5"],
                                      context_tokens=8),
    }
    fingerprints = {"video": model_fingerprint(net), "image": model_fingerprint(net),
                    "audio": model_fingerprint(wav2vec2), "text": model_fingerprint(text_model.model)}
    for modality, fs in results.items():
        md = fs.metadata
        assert md["modality"] == modality and md["engine_version"] == 2 and md["device"] == "cpu"
        assert md["model_fingerprint"] == fingerprints[modality] and md["dtype"] == "float32"
        assert {"model_id", "revision", "model_class", "chunks_computed"} <= set(md)
