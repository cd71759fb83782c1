"""FeatureStore: content keys, atomic chunked writes, resume, streaming memory, formats."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from safetensors.numpy import load_file

from brainalign.core import BrainalignInputError, FeatureSet, Timeline
from brainalign.features import FeatureStore, load_features
from brainalign.features._store import read_safetensors_mmap, write_safetensors_mmap


def _timeline(n: int, runs=None) -> Timeline:
    return Timeline([f"w{i}" for i in range(n)], np.arange(n) * 0.5, None, runs)


def _key(tl: Timeline, **params) -> str:
    return FeatureStore.make_key(model_id="toy", revision="abc", stimulus_hash=tl.content_hash, params=params)


def _write_all(store, key, tl, layers, n_chunks, **kw):
    writer = store.writer(key, tl, n_chunks=n_chunks, metadata={"model_id": "toy"}, **kw)
    for k, rows in enumerate(np.array_split(np.arange(tl.n_events), n_chunks)):
        writer.write_chunk(k, rows, {n: a[rows] for n, a in layers.items()})
    return writer


def test_keys_depend_on_every_input():
    tl = _timeline(5)
    base = _key(tl, layers=["layer.0"], context=8)
    assert base == _key(tl, context=8, layers=["layer.0"])  # order of parameters is irrelevant
    assert base != _key(tl, layers=["layer.0"], context=9)
    assert base != _key(_timeline(6), layers=["layer.0"], context=8)
    other_rev = FeatureStore.make_key(model_id="toy", revision="def", stimulus_hash=tl.content_hash,
                                      params={"layers": ["layer.0"], "context": 8})
    assert base != other_rev


def test_roundtrip_chunks_out_of_order_and_formats(tmp_path, rng):
    tl = _timeline(23, ["a"] * 10 + ["b"] * 13)
    layers = {"embeddings": rng.standard_normal((23, 4)), "layer.0": rng.standard_normal((23, 7))}
    store = FeatureStore(tmp_path)
    key = _key(tl)
    writer = store.writer(key, tl, n_chunks=3, metadata={"model_id": "toy", "pooling": "last"})
    parts = np.array_split(np.arange(23), 3)
    for k in (2, 0, 1):  # any order; rows need not be sorted within a chunk either
        rows = parts[k][::-1]
        writer.write_chunk(k, rows, {n: a[rows] for n, a in layers.items()})
    fs = writer.finalize()
    assert fs.layer_names == ["embeddings", "layer.0"]
    for name, arr in layers.items():
        np.testing.assert_allclose(fs[name], arr.astype(np.float32))
        assert not fs[name].flags.writeable  # memory-mapped read-only
    assert fs.timeline.run_ids == ["a", "b"] and fs.timeline.tokens.tolist() == tl.tokens.tolist()
    assert fs.metadata["pooling"] == "last" and fs.metadata["store_key"] == key
    entry = tmp_path / key
    assert not (entry / "partial").exists()
    # layer files are standard safetensors; the sidecar is plain JSON; nothing is pickled
    side = json.loads((entry / "features.json").read_text())
    for name, file in side["layer_files"].items():
        np.testing.assert_allclose(load_file(entry / "layers" / file)["features"], layers[name].astype(np.float32))
    with np.load(entry / "timeline.npz", allow_pickle=False) as data:
        assert data["tokens"].dtype.kind == "U"
    again = load_features(entry, mmap=False)
    assert again["layer.0"].flags.writeable
    np.testing.assert_array_equal(again["layer.0"], fs["layer.0"])
    assert store.get(key, layers="layer.0").layer_names == ["layer.0"]
    with pytest.raises(BrainalignInputError, match=r"Unknown layer name\(s\) \['layer.9'\]"):
        store.get(key, layers=["layer.9"])


def test_float16_storage_and_put(tmp_path, rng):
    tl = _timeline(12)
    fs = FeatureSet({"layer.0": rng.standard_normal((12, 5))}, tl, {"model_id": "toy"})
    store = FeatureStore(tmp_path)
    stored = store.put(_key(tl, half=True), fs, storage_dtype="float16")
    assert stored["layer.0"].dtype == np.float16
    np.testing.assert_allclose(stored["layer.0"], fs["layer.0"], rtol=1e-3, atol=1e-3)
    assert stored.metadata["storage_dtype"] == "float16"
    with pytest.raises(BrainalignInputError, match="storage_dtype"):
        store.put(_key(tl, x=1), fs, storage_dtype="int8")


def test_partial_entries_are_invisible_and_resume(tmp_path, rng):
    tl = _timeline(30)
    layers = {"layer.0": rng.standard_normal((30, 3))}
    store = FeatureStore(tmp_path)
    key = _key(tl)
    parts = np.array_split(np.arange(30), 5)
    writer = store.writer(key, tl, n_chunks=5)
    for k in (0, 1):
        writer.write_chunk(k, parts[k], {"layer.0": layers["layer.0"][parts[k]]})
    assert store.get(key) is None and key not in store and store.keys() == []
    chunk = load_file(writer.partial / "chunk-000001.safetensors")  # chunks are plain safetensors too
    np.testing.assert_array_equal(chunk["__rows__"], parts[1])
    np.testing.assert_allclose(chunk["layer0"], layers["layer.0"][parts[1]].astype(np.float32))
    with pytest.raises(BrainalignInputError, match=r"chunk\(s\) \[2, 3, 4\] are missing"):
        writer.finalize()
    # a new process opening the same key sees the finished chunks and only writes the rest
    resumed = store.writer(key, tl, n_chunks=5)
    assert resumed.completed_chunks() == {0, 1}
    for k in (2, 3, 4):
        resumed.write_chunk(k, parts[k], {"layer.0": layers["layer.0"][parts[k]]})
    fs = resumed.finalize()
    np.testing.assert_allclose(fs["layer.0"], layers["layer.0"].astype(np.float32))
    assert key in store
    # chunks planned differently are discarded rather than mixed in
    other = store.writer(_key(tl, v=2), tl, n_chunks=5)
    other.write_chunk(0, parts[0], {"layer.0": layers["layer.0"][parts[0]]})
    replanned = store.writer(_key(tl, v=2), tl, n_chunks=3)
    assert replanned.completed_chunks() == set()


def test_bad_chunks_are_refused_and_leave_no_files(tmp_path):
    tl = _timeline(6)
    store = FeatureStore(tmp_path)
    writer = store.writer(_key(tl), tl, n_chunks=2, layer_names=["layer.0"])
    with pytest.raises(BrainalignInputError, match=r"expected shape \(3, n_dims\)"):
        writer.write_chunk(0, [0, 1, 2], {"layer.0": np.zeros((2, 4))})
    with pytest.raises(BrainalignInputError, match=r"lacks layer\(s\) \['layer.0'\]"):
        writer.write_chunk(0, [0, 1, 2], {"layer.1": np.zeros((3, 4))})
    with pytest.raises(BrainalignInputError, match="outside 0..1"):
        writer.write_chunk(2, [0], {"layer.0": np.zeros((1, 4))})
    assert writer.completed_chunks() == set()
    assert [p.name for p in writer.partial.iterdir()] == ["plan.json"]  # no temporary leftovers
    # chunks that leave rows uncovered cannot be finalized
    writer.write_chunk(0, [0, 1, 2], {"layer.0": np.zeros((3, 4))})
    writer.write_chunk(1, [3, 4], {"layer.0": np.zeros((2, 4))})
    with pytest.raises(BrainalignInputError, match="1 timeline rows without features"):
        writer.finalize()
    assert store.keys() == []
    with pytest.raises(BrainalignInputError, match="Invalid store key"):
        store.get("../escape")


def test_finalize_streams_one_layer_at_a_time(tmp_path, rng):
    n_events, dim, n_layers, n_chunks = 2_000, 1024, 4, 10
    tl = _timeline(n_events)
    store = FeatureStore(tmp_path)
    writer = store.writer(_key(tl), tl, n_chunks=n_chunks, layer_names=[f"layer.{i}" for i in range(n_layers)])
    block = rng.standard_normal((n_events // n_chunks, dim)).astype(np.float32)
    for k, rows in enumerate(np.array_split(np.arange(n_events), n_chunks)):
        writer.write_chunk(k, rows, {f"layer.{i}": block + i for i in range(n_layers)})
    layer_bytes = n_events * dim * 4
    tracemalloc.start()
    try:
        fs = writer.finalize()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * layer_bytes  # assembled through memory maps, never a whole layer in RAM
    np.testing.assert_allclose(fs["layer.3"][:n_events // n_chunks], block + 3)


def test_safetensors_mmap_helpers(tmp_path):
    path = tmp_path / "x.safetensors"
    out = write_safetensors_mmap(path, "features", (3, 2), np.float32)
    out[:] = np.arange(6).reshape(3, 2)
    out.flush()
    del out
    np.testing.assert_array_equal(load_file(path)["features"], np.arange(6).reshape(3, 2))
    np.testing.assert_array_equal(read_safetensors_mmap(path), np.arange(6).reshape(3, 2))
    with pytest.raises(KeyError, match="holds"):
        read_safetensors_mmap(path, "other")


def test_random_models_are_rebuilt_bit_identical_and_their_features_shared(tmp_path):
    """Two studies (two output folders) building the same random model share its cached features;
    `cache clean` leaves the models alone, and a deleted model is rebuilt bit for bit from its settings."""
    import shutil

    from brainalign.features import extract_text_features, make_random_text_model
    from brainalign.features._random import random_model_id

    settings = {"n_layers": 1, "hidden_size": 16, "n_heads": 2, "max_positions": 64, "vocab_size": 300, "seed": 3}
    cache = tmp_path / "cache"
    first = make_random_text_model(cache / "random-models" / "a", **settings)
    second = make_random_text_model(tmp_path / "study-2" / "model", **settings)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir()) and "model.safetensors" in names
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    other_seed = make_random_text_model(tmp_path / "seed-4", **{**settings, "seed": 4})
    assert (other_seed / "model.safetensors").read_bytes() != (first / "model.safetensors").read_bytes()

    tl = Timeline("the keeper climbed the stairs of the lighthouse".split(), np.arange(8) * 0.4)
    a = extract_text_features(tl, first, cache_dir=cache, device="cpu")
    b = extract_text_features(tl, second, cache_dir=cache, device="cpu")
    assert a.metadata["model_id"] == random_model_id({"architecture": "gpt2", **settings,
                                                      "training_text": None})
    assert a.metadata["model_id"].startswith("random:gpt2-L1-H16-seed3-")
    assert b.metadata["store_key"] == a.metadata["store_key"] and b.metadata.get("cache_hit")

    store = FeatureStore(cache)
    assert store.clean() == [] and (first / "model.safetensors").is_file()
    weights = (first / "model.safetensors").read_bytes()
    shutil.rmtree(cache / "random-models")  # even an unprotected clean-up loses nothing
    rebuilt = make_random_text_model(cache / "random-models" / "a", **settings)
    assert (rebuilt / "model.safetensors").read_bytes() == weights
    c = extract_text_features(tl, rebuilt, cache_dir=cache, device="cpu")
    assert c.metadata["store_key"] == a.metadata["store_key"] and c.metadata.get("cache_hit")
