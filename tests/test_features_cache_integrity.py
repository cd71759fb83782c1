"""Feature cache integrity: damaged entries are named, moved aside and recomputed; verify / clean."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
import torch

from brainalign.cli import main as cli_main
from brainalign.core import BrainalignInputError, FeatureSet, Timeline
from brainalign.features import FeatureStore, TextModel, extract_text_features, load_features

STORY = ("Once upon a time there was a cafe owner who sang every morning about the sea and the wind . "
         "One day a stranger came in , ordered tea and told her a story she would never forget .").split()


@pytest.fixture(scope="module")
def tiny_gpt2():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([" ".join(STORY)] * 3, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", pad_token="<pad>",
                                        eos_token="<pad>")
    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=len(tokenizer), n_positions=64,
                     bos_token_id=0, eos_token_id=1)
    return TextModel(GPT2Model(cfg), tokenizer, "tiny-gpt2-integrity")


@pytest.fixture()
def timeline():
    return Timeline(STORY, np.arange(len(STORY)) * 0.3)


def _extract(tm, timeline, cache):
    return extract_text_features(timeline, tm, context_tokens=8, chunk_words=10, cache_dir=cache,
                                 device="cpu")


def _copy(fs: FeatureSet) -> dict[str, np.ndarray]:
    return {name: np.array(fs[name]) for name in fs.layer_names}


def _entry(cache, fs):
    return cache / fs.metadata["store_key"]


def _layer_file(entry):
    side = json.loads((entry / "features.json").read_text())
    return entry / "layers" / side["layer_files"]["layer.1"]


def _assert_recomputed(tm, timeline, cache, reference, caplog, entry, what):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="brainalign.features"):
        again = _extract(tm, timeline, cache)
    damaged = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert len(damaged) == 1 and str(entry) in damaged[0] and what in damaged[0], damaged
    for name, arr in reference.items():
        np.testing.assert_array_equal(np.asarray(again[name]), arr)
    # the damaged entry was moved aside whole (nothing lost), the new one is sound
    aside = list((cache / ".damaged").iterdir())
    assert len(aside) == 1 and aside[0].name.startswith(entry.name + "-")
    assert (aside[0] / "features.json").exists()
    assert FeatureStore(cache).verify_entry(entry.name) is None
    assert not (entry / "partial").exists()
    return aside[0]


def test_truncated_layer_file_is_moved_aside_and_recomputed(tiny_gpt2, timeline, tmp_path, caplog):
    fs = _extract(tiny_gpt2, timeline, tmp_path)
    reference, entry = _copy(fs), _entry(tmp_path, fs)
    del fs
    layer = _layer_file(entry)
    with open(layer, "r+b") as fh:
        fh.truncate(layer.stat().st_size - 100)
    # without the check this was "ValueError: mmap length is greater than file size", again and again
    aside = _assert_recomputed(tiny_gpt2, timeline, tmp_path, reference, caplog, entry,
                               f"layers/{layer.name} has")
    assert (aside / "layers" / layer.name).stat().st_size == layer.stat().st_size - 100


def test_corrupted_sidecar_is_moved_aside_and_recomputed(tiny_gpt2, timeline, tmp_path, caplog):
    fs = _extract(tiny_gpt2, timeline, tmp_path)
    reference, entry = _copy(fs), _entry(tmp_path, fs)
    del fs
    text = (entry / "features.json").read_text()
    (entry / "features.json").write_text(text[: len(text) // 2])  # a torn write by another tool
    with pytest.raises(BrainalignInputError, match=rf"{entry}.*features.json.*not a valid JSON"):
        load_features(entry)  # a user-given folder is reported, not moved
    _assert_recomputed(tiny_gpt2, timeline, tmp_path, reference, caplog, entry, "features.json is not valid JSON")


@pytest.mark.parametrize("victim", ["layer", "timeline.npz"])
def test_missing_file_is_moved_aside_and_recomputed(tiny_gpt2, timeline, tmp_path, caplog, victim):
    fs = _extract(tiny_gpt2, timeline, tmp_path)
    reference, entry = _copy(fs), _entry(tmp_path, fs)
    del fs
    path = _layer_file(entry) if victim == "layer" else entry / "timeline.npz"
    path.unlink()
    rel = path.relative_to(entry).as_posix()
    with pytest.raises(BrainalignInputError, match=rf"{entry} is damaged: {rel} is missing"):
        load_features(entry)
    _assert_recomputed(tiny_gpt2, timeline, tmp_path, reference, caplog, entry, f"{rel} is missing")


def _toy_entry(root, n=40, dim=6, seed=0):
    tl = Timeline([f"w{i}" for i in range(n)], np.arange(n) * 0.5)
    data = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    key = FeatureStore.make_key(model_id="toy", revision=None, stimulus_hash=tl.content_hash,
                                params={"seed": seed})
    FeatureStore(root).put(key, FeatureSet({"layer.0": data}, tl, {"model_id": "toy"}))
    return key, data


def test_flipped_bytes_are_found_by_checksum_not_by_size(tmp_path, caplog):
    key, data = _toy_entry(tmp_path)
    entry = tmp_path / key
    side = json.loads((entry / "features.json").read_text())
    assert set(side["files"]) == {"timeline.npz", "layers/000-layer.0.safetensors"}
    layer = entry / "layers" / "000-layer.0.safetensors"
    assert side["files"]["layers/000-layer.0.safetensors"]["size"] == layer.stat().st_size
    raw = bytearray(layer.read_bytes())
    raw[-4:] = b"\x00\x00\x80\x3f"  # last value becomes 1.0, same size
    layer.write_bytes(bytes(raw))
    store = FeatureStore(tmp_path)
    # the cheap check on open (sizes and headers) cannot see it; the full checksum does
    assert store.verify_entry(key, checksum=False) is None
    assert store.verify_entry(key) == "layers/000-layer.0.safetensors does not match its SHA-256 checksum " \
                                      "(its bytes changed)"
    assert store.get(key)["layer.0"][-1, -1] == 1.0
    with caplog.at_level(logging.WARNING, logger="brainalign.features"):
        assert FeatureStore(tmp_path, verify="checksum").get(key) is None
    assert "does not match its SHA-256" in caplog.text and key not in store
    with pytest.raises(BrainalignInputError, match=r"verify must be one of \['size', 'checksum'\]"):
        FeatureStore(tmp_path, verify="full")


def test_entries_without_recorded_sizes_are_checked_by_their_headers(tmp_path, caplog):
    # entries written before sizes and checksums were recorded keep working
    key, data = _toy_entry(tmp_path)
    entry = tmp_path / key
    side = json.loads((entry / "features.json").read_text())
    del side["files"]
    (entry / "features.json").write_text(json.dumps(side))
    store = FeatureStore(tmp_path)
    np.testing.assert_array_equal(store.get(key)["layer.0"], data)
    layer = entry / "layers" / "000-layer.0.safetensors"
    with open(layer, "r+b") as fh:
        fh.truncate(layer.stat().st_size - 8)
    assert "its header needs" in store.verify_entry(key)
    with caplog.at_level(logging.WARNING, logger="brainalign.features"):
        assert store.get(key) is None
    assert "truncated" in caplog.text


def test_damaged_chunk_of_an_interrupted_extraction_is_recomputed(tmp_path, caplog):
    n = 30
    tl = Timeline([f"w{i}" for i in range(n)], np.arange(n) * 0.5)
    data = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    store = FeatureStore(tmp_path)
    parts = np.array_split(np.arange(n), 3)
    with store.writer("k", tl, n_chunks=3) as writer:
        for k in (0, 1):
            writer.write_chunk(k, parts[k], {"layer.0": data[parts[k]]})
        chunk = writer.partial / "chunk-000001.safetensors"
    with open(chunk, "r+b") as fh:
        fh.truncate(chunk.stat().st_size // 2)
    (writer.partial / ".chunk-000002.safetensors.abc.tmp").write_bytes(b"half a chunk")  # a killed write
    with caplog.at_level(logging.WARNING, logger="brainalign.features"):
        resumed = store.writer("k", tl, n_chunks=3)
    assert f"Discarding damaged chunk {chunk}" in caplog.text
    assert resumed.completed_chunks() == {0}
    assert not list(resumed.partial.glob(".*.tmp"))
    for k in (1, 2):
        resumed.write_chunk(k, parts[k], {"layer.0": data[parts[k]]})
    np.testing.assert_array_equal(resumed.finalize()["layer.0"], data)


def test_cli_verify_and_clean(tmp_path, capsys):
    good, _ = _toy_entry(tmp_path, seed=0)
    bad, _ = _toy_entry(tmp_path, seed=1)
    assert cli_main(["cache", "verify", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == sorted([f"ok       {good}", f"ok       {bad}"]) + [
        f"{tmp_path}: 2 ok"]
    layer = tmp_path / bad / "layers" / "000-layer.0.safetensors"
    with open(layer, "r+b") as fh:
        fh.seek(-1, os.SEEK_END)
        fh.write(b"\x01")
    # an interrupted extraction and a stray temporary file of a complete entry
    tl = Timeline(["a", "b"], [0.0, 1.0])
    with FeatureStore(tmp_path).writer("interrupted", tl, n_chunks=2) as writer:
        writer.write_chunk(0, [0], {"layer.0": np.ones((1, 2))})
    (tmp_path / good / "layers" / ".000-layer.0.safetensors.xyz.tmp").write_bytes(b"x")
    (tmp_path / "foreign").mkdir()  # someone's FeatureSet.save folder: reported, never removed
    (tmp_path / "foreign" / "features.json").write_text('{"format": "something-else"}')

    assert cli_main(["cache", "verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"ok       {good}" in out
    assert f"damaged  {bad}: layers/000-layer.0.safetensors does not match its SHA-256 checksum" in out
    assert "partial  interrupted: 1 chunk(s) of an interrupted extraction" in out
    assert "1 damaged" in out and "other    foreign: " in out
    assert cli_main(["cache", "verify", str(tmp_path / good)]) == 0  # one entry folder works too

    assert cli_main(["cache", "clean", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would remove" in out and str(tmp_path / bad) in out and str(tmp_path / "interrupted") in out
    assert (tmp_path / bad).exists() and (tmp_path / "interrupted").exists()

    assert cli_main(["cache", "clean", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert not (tmp_path / bad).exists() and not (tmp_path / "interrupted").exists()
    assert not list((tmp_path / good / "layers").glob(".*.tmp"))
    assert FeatureStore(tmp_path).all_keys() == sorted([good, "foreign"])
    assert cli_main(["cache", "verify", str(tmp_path)]) == 0
    assert cli_main(["cache", "verify", str(tmp_path / "nowhere")]) == 2
    assert f"Feature cache folder {tmp_path / 'nowhere'} does not exist." in capsys.readouterr().err


def test_failed_extraction_releases_its_lock_and_the_retry_resumes(tiny_gpt2, timeline, tmp_path):
    import threading

    seen = []

    def fail_after_two(k, n):
        seen.append(k)
        if len(seen) == 2 and n > 2:
            raise KeyboardInterrupt  # the user stops a long extraction

    with pytest.raises(KeyboardInterrupt):
        extract_text_features(timeline, tiny_gpt2, context_tokens=8, stride=4, chunk_words=4, cache_dir=tmp_path,
                              device="cpu", on_chunk=fail_after_two)
    store = FeatureStore(tmp_path)
    (key,) = store.all_keys()
    # another thread (like another process) can take the key at once: the lock was released
    locked = []
    thread = threading.Thread(target=lambda: locked.append(store._is_locked_elsewhere(key)))
    thread.start()
    thread.join()
    assert locked == [False]
    assert store.status(key) == ("partial", "2 chunk(s) of an interrupted extraction")
    resumed = []
    fs = extract_text_features(timeline, tiny_gpt2, context_tokens=8, stride=4, chunk_words=4, cache_dir=tmp_path,
                               device="cpu", on_chunk=lambda k, n: resumed.append(k))
    assert len(seen) == 2 and resumed and not set(resumed) & set(seen)  # the two finished chunks were reused
    reference = extract_text_features(timeline, tiny_gpt2, context_tokens=8, stride=4, chunk_words=4, device="cpu")
    for name in reference.layer_names:
        np.testing.assert_array_equal(np.asarray(fs[name]), reference[name])
