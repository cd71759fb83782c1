"""Miniature copies of public datasets' local layouts, shared by the loader and study tests."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np


def textgrid(path, tiers, xmax):
    """Write a long-format Praat TextGrid: ``tiers`` maps tier name -> [(xmin, xmax, text), ...]."""
    lines = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0", f"xmax = {xmax}",
             "tiers? <exists>", f"size = {len(tiers)}", "item []:"]
    for i, (name, items) in enumerate(tiers.items(), 1):
        lines += [f"    item [{i}]:", '        class = "IntervalTier"', f'        name = "{name}"',
                  "        xmin = 0", f"        xmax = {xmax}", f"        intervals: size = {len(items)}"]
        for j, (a, b, text) in enumerate(items, 1):
            lines += [f"        intervals [{j}]:", f"            xmin = {a}", f"            xmax = {b}",
                      f'            text = "{text}"']
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def narratives_copy(root, rng, n_vols=40):
    func = root / "sub-001" / "func"
    func.mkdir(parents=True)
    (func / "sub-001_task-slumlord_events.tsv").write_text(
        "onset\tduration\ttrial_type\tstim_file\n"
        "4.5\t6.0\tmusic\tslumlord_audio.wav\n"
        "12.0\t40.0\tstory\tslumlord_audio.wav\n"
    )
    gentle = root / "stimuli" / "gentle" / "slumlord"
    gentle.mkdir(parents=True)
    # Gentle: no header; 'was' could not be aligned (empty onset / offset).
    (gentle / "align.csv").write_text("So,so,8.0,8.3\nI,i,8.4,8.5\nwas,,,\nthere,there,9.0,9.4\n")
    deriv = root / "derivatives" / "afni-nosmooth"
    img = nib.Nifti1Image(rng.normal(size=(3, 3, 3, n_vols)).astype("float32"), np.eye(4))
    img.header.set_zooms((1.0, 1.0, 1.0, 1.5))
    img.header.set_xyzt_units("mm", "sec")
    (deriv / "sub-001" / "func").mkdir(parents=True)
    nib.save(img, deriv / "sub-001" / "func"
             / "sub-001_task-slumlord_space-MNI152NLin2009cAsym_res-native_desc-clean_bold.nii.gz")
    mask = np.zeros((3, 3, 3), dtype="uint8")
    mask[1:, 1:, 1:] = 1
    (deriv / "tpl-MNI152NLin2009cAsym").mkdir()
    nib.save(nib.Nifti1Image(mask, np.eye(4)),
             deriv / "tpl-MNI152NLin2009cAsym" / "tpl-MNI152NLin2009cAsym_res-slumlord_desc-brain_mask.nii.gz")
    for hemi, n_vert in (("L", 7), ("R", 5)):
        arrays = [nib.gifti.GiftiDataArray(rng.normal(size=n_vert).astype("float32")) for _ in range(n_vols)]
        nib.save(nib.gifti.GiftiImage(darrays=arrays),
                 deriv / "sub-001" / "func" / f"sub-001_task-slumlord_space-fsaverage6_hemi-{hemi}_desc-clean.func.gii")
    return root


def lebel_copy(root, rng):
    import h5py

    deriv = root / "derivative"
    (deriv / "preprocessed_data" / "UTS01").mkdir(parents=True)
    for story, n in (("storya", 30), ("storyb", 25)):
        with h5py.File(deriv / "preprocessed_data" / "UTS01" / f"{story}.hf5", "w") as fh:
            fh.create_dataset("data", data=rng.normal(size=(n, 6)).astype("float32"))
    (deriv / "respdict.json").write_text(json.dumps({"storya": 45, "storyb": 40}))
    textgrid(deriv / "TextGrids" / "storya.TextGrid", {
        "phone": [(0, 5.0, "sp"), (5.0, 5.3, "HH"), (5.3, 80, "sp")],
        "word": [(0, 4.0, "sentence_start"), (4.0, 5.0, "{NS}"), (5.0, 5.5, "hello"), (5.5, 20.0, "sp"),
                 (20.0, 20.4, "world"), (20.4, 75.0, ""), (75.0, 75.5, "late"), (75.5, 80, "sp")],
    }, 80)
    textgrid(deriv / "TextGrids" / "storyb.TextGrid", {"word": [(0, 12.0, "sp"), (12.0, 12.5, "again")]}, 20)
    return root


def broderick_copy(root, rng, n=256):
    from scipy.io import savemat

    base = root / "Natural Speech"
    (base / "EEG" / "Subject1").mkdir(parents=True)
    (base / "Stimuli" / "Text").mkdir(parents=True)
    eeg = {}
    for r, words in ((1, ["The", "old", "man"]), (2, ["and", "the", "sea", "again"])):
        eeg[r] = {"eegData": rng.normal(size=(n, 128)) * 10, "mastoids": rng.normal(size=(n, 2)) * 10,
                  "fs": np.array([[128]])}
        savemat(base / "EEG" / "Subject1" / f"Subject1_Run{r}.mat", eeg[r])
        cell = np.empty((len(words), 1), dtype=object)
        for i, w in enumerate(words):
            cell[i, 0] = w
        onsets = 0.3 + 0.45 * np.arange(len(words))
        savemat(base / "Stimuli" / "Text" / f"Run{r}.mat", {
            "wordVec": cell, "onset_time": onsets[:, None], "offset_time": (onsets + 0.3)[:, None],
            "sentence_boundaries": np.array([[1.0]]),
        })
    return root, eeg


def meg_masc_copy(root, rng, n_samples=2000, subjects=("01",)):
    """A BIDS MEG-MASC layout: one KIT-like FIF recording per subject with dict-literal word annotations."""
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    info = mne.create_info(["MEG 001", "MEG 002", "MEG 003"], 100.0, "mag")
    raw = mne.io.RawArray(rng.normal(size=(3, n_samples)) * 1e-12, info, verbose="error")
    raw.set_meas_date(1_600_000_000)
    raw.info["line_freq"] = 60.0
    descriptions = [
        "{'story': 'lw1', 'kind': 'sound', 'sound': 'lw1_0.wav'}",
        "{'story': 'lw1', 'kind': 'word', 'word': 'Tara', 'sequence_id': 0}",
        "{'story': 'lw1', 'kind': 'phoneme', 'phoneme': 't_B', 'word': 'Tara'}",
        "{'story': 'lw1', 'kind': 'word', 'word': 'stood', 'sequence_id': 0}",
        "{'story': 'lw1', 'kind': 'word', 'word': \"didn't\", 'sequence_id': 1}",
    ]
    raw.set_annotations(mne.Annotations([0.5, 1.0, 1.0, 1.6, 12.25], [15.0, 0.4, 0.1, 0.3, 0.2], descriptions))
    for subject in subjects:
        write_raw_bids(raw, BIDSPath(subject=subject, session="0", task="0", datatype="meg", root=root),
                       format="FIF", allow_preload=True, overwrite=True, verbose=False)
    return root
