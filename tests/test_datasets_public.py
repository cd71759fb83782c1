"""Loaders of the public datasets' local layouts, on miniature copies built here and on real Pereira sentences."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _layouts import broderick_copy, lebel_copy, meg_masc_copy, narratives_copy

from brainalign.core import BrainalignInputError
from brainalign.datasets import (
    DataUnavailableError,
    load_broderick2018,
    load_lebel2023,
    load_meg_masc,
    load_narratives,
    load_pereira2018,
)


# ----------------------------------------------------------------------------- Narratives
def test_load_narratives_volume_and_surface(tmp_path, rng):
    root = narratives_copy(tmp_path / "narratives", rng)
    data = load_narratives(1, "slumlord", root)
    assert data.metadata["story"] == "slumlord" and data.metadata["n_unaligned"] == 1
    assert list(data.timeline.tokens) == ["So", "I", "there"]
    # The audio file starts at the first event's onset (4.5 s): words move onto the scan clock.
    np.testing.assert_allclose(data.timeline.onsets, [12.5, 12.9, 13.5])
    np.testing.assert_allclose(data.timeline.offsets, [12.8, 13.0, 13.9])
    assert data.timeline.run_ids == ["task-slumlord"] == data.recording.run_ids
    assert data.recording.sampling_period == 1.5
    assert data.recording.data.shape == (40, 8)  # the release's task mask keeps 2 x 2 x 2 voxels
    assert list(data.events["trial_type"].tokens) == ["music", "story"]
    assert data.recording.subject == "sub-001"

    surf = load_narratives("sub-001", "slumlord", root, space="fsaverage6")
    assert surf.recording.data.shape == (40, 12)
    assert surf.recording.space.n_vertices == [7, 5]
    assert surf.recording.sampling_period == 1.5


def test_load_narratives_missing_files(tmp_path, rng):
    root = narratives_copy(tmp_path / "narratives", rng)
    with pytest.raises(DataUnavailableError, match="sub-002_task-slumlord_events.tsv.*ds002345"):
        load_narratives(2, "slumlord", root)
    (root / "stimuli" / "gentle" / "slumlord" / "align.csv").unlink()
    with pytest.raises(DataUnavailableError, match="gentle/slumlord/align.csv"):
        load_narratives(1, "slumlord", root)
    with pytest.raises(BrainalignInputError, match="space must be"):
        load_narratives(1, "slumlord", root, space="MNI305")
    (root / "stimuli" / "gentle" / "slumlord" / "align.csv").write_text("So,so,8.0,8.3\nI,i,7.0,7.5\n")
    with pytest.raises(BrainalignInputError, match=r"Gentle alignment .*align\.csv.*not sorted"):
        load_narratives(1, "slumlord", root)
    func = root / "sub-001" / "func"
    (func / "sub-001_task-slumlord_events.tsv").rename(func / "sub-001_task-slumlord_run-1_events.tsv")
    with pytest.raises(BrainalignInputError, match="scanned in runs.*run-1_events.tsv.*pass run="):
        load_narratives(1, "slumlord", root)


# ----------------------------------------------------------------------------- LeBel 2023
def test_load_lebel2023(tmp_path, rng):
    root = lebel_copy(tmp_path / "lebel", rng)
    data = load_lebel2023("UTS01", ["storya", "storyb"], root)
    rec, tl = data.recording, data.timeline
    assert rec.sampling_period == pytest.approx(2.0045)
    assert rec.run_ids == ["storya", "storyb"] == tl.run_ids
    assert rec.run_lengths() == {"storya": 30, "storyb": 25}
    assert rec.data.shape == (55, 6) and rec.kind == "fmri" and rec.subject == "UTS01"
    # Noise / marker labels skipped; sound onset 10 s after the first volume, 10 volumes trimmed.
    assert list(tl.tokens) == ["hello", "world", "again"]
    np.testing.assert_allclose(tl.onsets, np.array([5.0, 20.0, 12.0]) + 10.0 - 10 * 2.0045)
    # "late" starts at 75 - 10.045 s, after the 30 x 2.0045 s trimmed run: dropped and counted.
    assert data.metadata["n_dropped_words"] == {"storya": 1, "storyb": 0}
    assert rec.metadata["n_dropped_words"]["storya"] == 1
    # The released responses are used as they are (no cleaning by default).
    import h5py
    with h5py.File(root / "derivative" / "preprocessed_data" / "UTS01" / "storyb.hf5") as fh:
        np.testing.assert_allclose(rec.data[30:], fh["data"][...], rtol=1e-6)


def test_load_lebel2023_missing(tmp_path, rng, caplog):
    root = lebel_copy(tmp_path / "lebel", rng)
    (root / "derivative" / "respdict.json").write_text(json.dumps({"storya": 50}))
    with caplog.at_level("WARNING", logger="brainalign.datasets"):
        load_lebel2023(1, "storya", root)
    assert "respdict.json says 50" in caplog.text
    with pytest.raises(DataUnavailableError, match="preprocessed_data/UTS02/storya.hf5.*datalad get"):
        load_lebel2023(2, "storya", root)
    with pytest.raises(DataUnavailableError, match="TextGrids/storyc.TextGrid"):
        (root / "derivative" / "preprocessed_data" / "UTS01" / "storyc.hf5").write_bytes(
            (root / "derivative" / "preprocessed_data" / "UTS01" / "storyb.hf5").read_bytes())
        load_lebel2023(1, "storyc", root)


# ----------------------------------------------------------------------------- Pereira 2018
def test_pereira_real_sentences(shared_data):
    folder = shared_data / "pereira2018_sentences"
    exp2 = load_pereira2018(experiment=2, path=folder)
    exp3 = load_pereira2018(experiment=3, path=folder)
    assert len(exp2.extra["sentences"]) == 384 and len(exp3.extra["sentences"]) == 243
    assert exp3.extra["sentences"][0] == "Beekeeping encourages the conservation of local habitats."
    assert exp2.extra["sentences"][0].startswith("An accordion is a portable musical instrument")
    assert exp2.recording is None and exp2.extra["passages"] is None and exp2.epochs is exp2.timeline
    assert exp2.timeline.n_events == 384 and exp2.timeline.run_ids == ["experiment-2"]
    assert exp2.timeline.onsets[:3].tolist() == [0.0, 1.0, 2.0]


def test_pereira_betas_from_mat(tmp_path, rng):
    from scipy.io import savemat

    root = tmp_path / "pereira"
    (root / "M02").mkdir(parents=True)
    n, n_vox = 243, 9
    sentences = np.empty((n, 1), dtype=object)
    for i in range(n):
        sentences[i, 0] = f"Sentence number {i}."
    betas = rng.normal(size=(n, n_vox))
    coords = np.arange(1, 3 * n_vox + 1).reshape(n_vox, 3)
    savemat(root / "M02" / "data_243sentences.mat", {
        "examples_passagesentences": betas, "keySentences": sentences,
        "labelsPassageForEachSentence": (np.arange(n) // 3 + 1)[:, None], "meta": {"colToCoord": coords},
    })
    data = load_pereira2018("M02", experiment=3, path=root)
    sentences = data.extra["sentences"]
    assert sentences[:2] == ["Sentence number 0.", "Sentence number 1."] and len(sentences) == n
    assert data.recording.data.shape == (n, n_vox) and data.recording.kind == "fmri"
    np.testing.assert_allclose(data.recording.data, betas, rtol=1e-6)
    passages = data.extra["passages"]
    assert passages[:4].tolist() == [1, 1, 1, 2] and passages.max() == 81
    np.testing.assert_array_equal(data.extra["voxel_coords"], coords - 1)
    assert data.recording.run_ids == data.timeline.run_ids == ["experiment-3"]

    with pytest.raises(DataUnavailableError, match="M03/data_243sentences.mat.*osf.io/crwz7"):
        load_pereira2018("M03", experiment=3, path=root)
    with pytest.raises(DataUnavailableError, match="stimuli_384sentences.txt"):
        load_pereira2018(experiment=2, path=root)
    with pytest.raises(BrainalignInputError, match="experiment must be 2"):
        load_pereira2018(experiment=1, path=root)


# ----------------------------------------------------------------------------- MEG-MASC
def test_load_meg_masc(tmp_path, rng):
    root = meg_masc_copy(tmp_path / "meg_masc", rng)
    data = load_meg_masc(1, 0, 0, root, sfreq=50.0)
    assert list(data.timeline.tokens) == ["Tara", "stood", "didn't"]
    np.testing.assert_allclose(data.timeline.onsets, [1.0, 1.6, 12.25], atol=0.011)
    np.testing.assert_allclose(data.timeline.durations, [0.4, 0.3, 0.2], atol=0.011)
    assert list(data.events["phonemes"].tokens) == ["t_B"]
    assert data.recording.kind == "meg" and data.recording.sampling_period == pytest.approx(0.02)
    assert data.recording.data.shape == (1000, 3)
    assert data.recording.run_ids == data.timeline.run_ids == ["ses-0_task-0"]
    assert data.recording.subject == "sub-01"

    with pytest.raises(DataUnavailableError, match="sub-01_ses-1_task-0_meg.con.*osf.io/ag3kj"):
        load_meg_masc(1, 1, 0, root)


# ----------------------------------------------------------------------------- Broderick 2018
def test_load_broderick2018(tmp_path, rng):
    root, eeg = broderick_copy(tmp_path / "broderick", rng)
    data = load_broderick2018(1, runs=[1, 2], path=root)
    rec, tl = data.recording, data.timeline
    assert rec.data.shape == (512, 128) and rec.kind == "eeg"
    assert rec.sampling_period == pytest.approx(1 / 128)
    assert rec.run_ids == tl.run_ids == ["run-01", "run-02"]
    assert rec.target_names[:2] == ["A1", "A2"] and rec.subject == "Subject1"
    assert list(tl.tokens) == ["The", "old", "man", "and", "the", "sea", "again"]
    np.testing.assert_allclose(tl.onsets[:3], [0.3, 0.75, 1.2])
    # Mastoid reference, microvolts -> volts.
    expected = (eeg[2]["eegData"] - eeg[2]["mastoids"].mean(axis=1, keepdims=True)) * 1e-6
    np.testing.assert_allclose(rec.data[256:], expected, rtol=1e-5, atol=1e-12)
    assert rec.space["sfreq"] == 128.0

    down = load_broderick2018("Subject1", runs=1, path=root, reference=None, sfreq=64.0)
    assert down.recording.data.shape == (128, 128) and down.recording.run_ids == ["run-01"]

    with pytest.raises(DataUnavailableError, match="Subject2_Run1.mat.*dryad"):
        load_broderick2018(2, runs=1, path=root)
    with pytest.raises(BrainalignInputError, match="runs must be"):
        load_broderick2018(1, runs=[0], path=root)
