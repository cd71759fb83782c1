"""The shared data model rejects inconsistent inputs and round-trips through disk."""

import numpy as np
import pytest

from brainalign import BrainalignInputError, DesignMatrix, EncodingResult, FeatureSet, Recording, Timeline
from brainalign.core import atomic_path, content_key, load_arrays, save_arrays
from brainalign.stimuli import synthetic_speech_timeline


def test_timeline_rejects_length_mismatch():
    with pytest.raises(BrainalignInputError, match="tokens has 3 entries but onsets has 2"):
        Timeline(["a", "b", "c"], [0.0, 1.0])


def test_timeline_rejects_unsorted_onsets_naming_the_events():
    with pytest.raises(BrainalignInputError, match=r"not sorted in run 'run-1'.*'b'"):
        Timeline(["a", "b"], [1.0, 0.5])


def test_timeline_allows_each_run_to_restart_its_clock():
    tl = Timeline(["a", "b", "c", "d"], [0.0, 1.0, 0.0, 1.0], runs=["r1", "r1", "r2", "r2"])
    assert tl.run_ids == ["r1", "r2"]
    assert tl.split_by_run()["r2"].tokens.tolist() == ["c", "d"]


def test_timeline_rejects_interleaved_runs_and_negative_durations():
    with pytest.raises(BrainalignInputError, match="not contiguous"):
        Timeline(["a", "b", "c"], [0.0, 1.0, 2.0], runs=["r1", "r2", "r1"])
    with pytest.raises(BrainalignInputError, match="ends before it starts"):
        Timeline(["a"], [1.0], [0.5])
    with pytest.raises(BrainalignInputError, match="non-finite"):
        Timeline(["a"], [np.nan])


def test_timeline_shift_per_run_and_unknown_run():
    tl = Timeline(["a", "b"], [20.0, 21.0], runs="story")
    assert tl.shift(-20.0).onsets.tolist() == [0.0, 1.0]
    assert tl.shift({"story": -10.0}).onsets.tolist() == [10.0, 11.0]
    with pytest.raises(BrainalignInputError, match="unknown run"):
        tl.shift({"other": 1.0})


def test_timeline_hash_changes_with_content():
    a = Timeline(["a", "b"], [0.0, 1.0])
    b = Timeline(["a", "b"], [0.0, 1.5])
    assert a.content_hash == Timeline(["a", "b"], [0.0, 1.0]).content_hash
    assert a.content_hash != b.content_hash


def test_featureset_checks_rows_and_lists_layers(tmp_path, rng):
    tl = Timeline(["a", "b", "c"], [0.0, 1.0, 2.0])
    with pytest.raises(BrainalignInputError, match="layer 'x' has 2 entries but timeline events has 3"):
        FeatureSet({"x": rng.normal(size=(2, 4))}, tl)
    fs = FeatureSet({"embeddings": rng.normal(size=(3, 4)), "layer.0": rng.normal(size=(3, 5))}, tl,
                    {"model_id": "toy"})
    with pytest.raises(BrainalignInputError, match=r"valid layers are \['embeddings', 'layer.0'\]"):
        fs.select_layers(["layer.7"])
    back = FeatureSet.load(fs.save(tmp_path / "fs"))
    assert back.layer_names == fs.layer_names
    np.testing.assert_array_equal(back["layer.0"], fs["layer.0"])
    assert back.timeline.content_hash == tl.content_hash
    assert back.metadata == {"model_id": "toy"}


def test_recording_reports_nan_and_constant_targets_by_name(rng):
    data = rng.normal(size=(50, 4))
    data[3, 1] = np.nan
    data[:, 2] = 7.0
    with pytest.raises(BrainalignInputError) as err:
        Recording(data, 2.0, target_names=["A", "B", "C", "D"], subject="s01")
    assert "'B'" in str(err.value) and "'C'" in str(err.value) and "s01" in str(err.value)
    rec = Recording(data, 2.0, target_names=["A", "B", "C", "D"], on_bad_targets="drop")
    assert rec.target_names == ["A", "D"]
    assert rec.metadata["dropped_targets"] == ["B", "C"]


def test_recording_rejects_all_zero_subject():
    with pytest.raises(BrainalignInputError, match="all-zero or flat"):
        Recording(np.zeros((30, 6)), 2.0, subject="s33")


def test_recording_constant_within_one_run_only_is_flagged(rng):
    data = rng.normal(size=(40, 2))
    data[:20, 0] = 1.0
    with pytest.raises(BrainalignInputError, match="constant within a run: '0'"):
        Recording(data, 1.0, runs=["a"] * 20 + ["b"] * 20)


def test_recording_sample_times_per_run(rng):
    rec = Recording(rng.normal(size=(5, 1)), 2.0, runs=["a", "a", "a", "b", "b"])
    np.testing.assert_allclose(rec.sample_times("a"), [0.0, 2.0, 4.0])
    np.testing.assert_allclose(rec.sample_times(), [0.0, 2.0, 4.0, 0.0, 2.0])
    with pytest.raises(BrainalignInputError, match="Unknown run 'c'"):
        rec.sample_times("c")


def test_design_must_match_recording_run_by_run(rng):
    rec = Recording(rng.normal(size=(10, 2)), 2.0, runs=["a"] * 6 + ["b"] * 4)
    good = DesignMatrix(rng.normal(size=(10, 3)), rec.runs, 2.0, name="layer.0")
    good.check_matches(rec)
    bad = DesignMatrix(rng.normal(size=(10, 3)), ["a"] * 5 + ["b"] * 5, 2.0, name="layer.0")
    with pytest.raises(BrainalignInputError, match="Run 'a': design 'layer.0' has 5 rows but the recording has 6"):
        bad.check_matches(rec)
    with pytest.raises(BrainalignInputError, match="sampling period"):
        DesignMatrix(good.X, good.runs, 1.0).check_matches(rec)
    with pytest.raises(BrainalignInputError, match="NaN or inf"):
        DesignMatrix(np.full((10, 1), np.nan), rec.runs, 2.0)


def test_encoding_result_round_trip_and_tidy_table(tmp_path):
    r = np.array([[0.1, 0.2], [0.3, 0.4]])
    res = EncodingResult(r, r ** 2, np.ones_like(r), ["v1", "v2"], name="layer.3", p_values=[0.01, 0.5],
                         config={"cv": "loro"})
    back = EncodingResult.load(res.save(tmp_path / "res"))
    np.testing.assert_allclose(back.mean_r, [0.2, 0.3])
    frame = back.to_frame()
    assert list(frame.columns) == ["subject", "model", "layer", "target", "fold", "r", "r2", "alpha", "p"]
    assert len(frame) == 4 and back.config == {"cv": "loro"}
    with pytest.raises(BrainalignInputError, match="target names"):
        EncodingResult(r, r, r, ["only-one"])


def test_content_key_is_order_independent_and_sensitive():
    assert content_key({"a": 1, "b": [1, 2]}) == content_key({"b": [1, 2], "a": 1})
    assert content_key({"a": 1}) != content_key({"a": 2})
    assert content_key({"x": np.arange(3)}) != content_key({"x": np.arange(4)})


def test_atomic_write_keeps_previous_file_on_failure(tmp_path):
    target = tmp_path / "arrays.npz"
    save_arrays(target, {"x": np.arange(3)})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half-written")
            raise RuntimeError("crash mid-write")
    np.testing.assert_array_equal(load_arrays(target)["x"], np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["arrays.npz"]


def test_load_arrays_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        load_arrays(path)


def test_synthetic_speech_timeline_pace_and_pauses():
    tl = synthetic_speech_timeline("One two three, four. Five six.\n\nSeven eight.", seed=1)
    assert tl.tokens.tolist()[2] == "three,"
    gaps = tl.onsets[1:] - tl.offsets[:-1]
    assert gaps[2] > gaps[0] and gaps[3] > gaps[2]  # comma < sentence end
    assert gaps[5] >= 0.5  # paragraph break
    assert synthetic_speech_timeline("a b c", seed=3).content_hash == synthetic_speech_timeline("a b c", seed=3).content_hash
    with pytest.raises(BrainalignInputError, match="empty text"):
        synthetic_speech_timeline("  \n ")


def test_atomic_writes_get_ordinary_file_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        save_arrays(tmp_path / "a.npz", {"x": np.arange(2)})
    finally:
        os.umask(umask)
    assert (tmp_path / "a.npz").stat().st_mode & 0o777 == 0o644


def test_atomic_suffixed_path_names_the_temporary_file_and_leaves_nothing_on_failure(tmp_path):
    from brainalign.core import atomic_suffixed_path

    target = tmp_path / "map.nii.gz"
    with atomic_suffixed_path(target, ".nii.gz") as named:
        assert named.name.endswith(".nii.gz") and named.parent == tmp_path
        named.write_bytes(b"image")
    assert target.read_bytes() == b"image"
    with pytest.raises(RuntimeError, match="writer failed"):
        with atomic_suffixed_path(target, ".nii.gz") as named:
            named.write_bytes(b"half")
            raise RuntimeError("writer failed")
    assert target.read_bytes() == b"image" and sorted(p.name for p in tmp_path.iterdir()) == ["map.nii.gz"]
