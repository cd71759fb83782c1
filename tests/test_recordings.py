"""Recordings: NIfTI through maskers, GIfTI, ROI tables, M/EEG through MNE, and their checks."""

from __future__ import annotations


import mne
import nibabel as nib
import numpy as np
import pytest

from brainalign.core import BrainalignInputError, DesignMatrix, Recording, Timeline
from brainalign.recordings import (
    SurfaceSpace,
    check_timeline_fits,
    epochs_recording,
    events_timeline,
    header_tr,
    load_bids_meg_eeg,
    load_fmri,
    load_meg_eeg,
    load_roi_timecourses,
    load_surface,
)

HAXBY = "haxby2001_subset"
EEGLAB = "eeglab_tutorial/test_raw.set"


def _img(data, tr=2.0, units="sec"):
    img = nib.Nifti1Image(np.asarray(data, dtype=np.float32), np.eye(4))
    img.header.set_zooms((1.0, 1.0, 1.0, tr))
    img.header.set_xyzt_units("mm", units)
    return img


# ------------------------------------------------------------------ fMRI volumes
def test_haxby_masker_round_trip_and_header_tr(shared_data):
    bold = shared_data / HAXBY / "bold.nii.gz"
    mask = shared_data / HAXBY / "mask.nii.gz"
    rec = load_fmri(bold, mask_img=mask, detrend=False, standardize=False)
    assert rec.sampling_period == 2.5 and rec.kind == "fmri"
    assert rec.n_samples == 1452 and rec.n_targets == 530
    mask_data = nib.load(mask).get_fdata() > 0
    raw = nib.load(bold).get_fdata()
    np.testing.assert_allclose(rec.data, raw[mask_data].T)
    back = rec.to_image(rec.data)
    np.testing.assert_allclose(back.get_fdata()[mask_data], raw[mask_data])
    assert rec.metadata["file_sha256"][str(bold)] == (
        "cbbd4d07803caaa9f77381af24e790cf77058664a128bd514a4c1668eefb92d7"
    )
    with pytest.raises(BrainalignInputError, match=r"tr=2.0 s contradicts the header of .*bold.nii.gz.*2.5"):
        load_fmri(bold, mask_img=mask, tr=2.0)


def test_haxby_runs_with_motion_confounds(shared_data):
    base = shared_data / HAXBY / "haxby2001/sub001"
    runs = [base / f"BOLD/task001_run00{i}/bold_25mm.nii.gz" for i in (1, 2)]
    motion = [base / f"BOLD/task001_run00{i}/bold_moest.txt" for i in (1, 2)]
    rec = load_fmri(runs, mask_img=base / "masks/25mm/brain.nii.gz", confounds=motion, high_pass=0.01,
                    runs=["a", "b"])
    assert rec.run_lengths() == {"a": 121, "b": 121}
    assert rec.metadata["cleaning"]["confounds"]
    np.testing.assert_allclose(rec.data[rec.runs == "a"].mean(axis=0), 0, atol=1e-4)
    with pytest.raises(BrainalignInputError, match="one per run"):
        load_fmri(runs, mask_img=base / "masks/25mm/brain.nii.gz", confounds=motion[:1])


def test_truncated_nifti_names_the_file(tmp_path, shared_data):
    src = shared_data / HAXBY / "haxby2001/sub001/BOLD/task001_run001/bold_25mm.nii.gz"
    cut = tmp_path / "cut_bold.nii.gz"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(BrainalignInputError, match=r"cut_bold\.nii\.gz.*truncated or corrupt"):
        load_fmri(cut)


def test_confounds_are_regressed_out(rng):
    n_t = 80
    confound = rng.normal(size=n_t)
    data = rng.normal(size=(3, 3, 3, n_t)) + 5.0 * confound
    mask = nib.Nifti1Image(np.ones((3, 3, 3), dtype=np.uint8), np.eye(4))
    raw = load_fmri(_img(data), mask_img=mask)
    clean = load_fmri(_img(data), mask_img=mask, confounds=confound[:, None])
    r_raw = np.corrcoef(raw.data[:, 0], confound)[0, 1]
    r_clean = np.corrcoef(clean.data[:, 0], confound)[0, 1]
    assert r_raw > 0.9 and abs(r_clean) < 1e-3
    with pytest.raises(BrainalignInputError, match="has 79 rows but the run has 80 samples"):
        load_fmri(_img(data), mask_img=mask, confounds=confound[:-1, None])


def test_unknown_header_tr_needs_argument(rng):
    mask = nib.Nifti1Image(np.ones((2, 2, 2), dtype=np.uint8), np.eye(4))
    img = _img(rng.normal(size=(2, 2, 2, 20)), tr=1.0, units="unknown")
    assert header_tr(img) is None
    with pytest.raises(BrainalignInputError, match="pass tr="):
        load_fmri(img, mask_img=mask)
    assert load_fmri(img, mask_img=mask, tr=0.8).sampling_period == 0.8
    assert header_tr(_img(np.zeros((1, 1, 1, 2)), tr=1500.0, units="msec")) == 1.5


def test_labels_and_spheres_maskers(rng):
    data = rng.normal(size=(4, 4, 4, 30))
    labels = np.zeros((4, 4, 4), dtype=np.int16)
    labels[:2] = 1
    labels[2:] = 2
    rec = load_fmri(_img(data), labels_img=nib.Nifti1Image(labels, np.eye(4)), roi_names=["front", "back"],
                    detrend=False, standardize=False)
    assert rec.kind == "roi" and rec.target_names == ["front", "back"]
    np.testing.assert_allclose(rec.data[:, 0], data[:2].reshape(-1, 30).mean(axis=0), rtol=1e-5)
    img = rec.to_image(np.array([1.0, 2.0]))
    np.testing.assert_allclose(img.get_fdata()[0, 0, 0], 1.0)
    spheres = load_fmri(_img(data), spheres=[(1, 1, 1), (2, 2, 2)], sphere_radius=0.5,
                        detrend=False, standardize=False)
    np.testing.assert_allclose(spheres.data[:, 0], data[1, 1, 1], rtol=1e-5)
    assert spheres.target_names == ["sphere(1,1,1)", "sphere(2,2,2)"]
    with pytest.raises(BrainalignInputError, match="only one of"):
        load_fmri(_img(data), mask_img="mni152", spheres=[(0, 0, 0)])


# ------------------------------------------------------------ surfaces, tables
def _gifti(path, data, timestep_ms=None):
    darrays = [nib.gifti.GiftiDataArray(row.astype(np.float32)) for row in data]
    img = nib.gifti.GiftiImage(darrays=darrays)
    if timestep_ms is not None:
        img.meta["TimeStep"] = str(timestep_ms)
    nib.save(img, path)


def test_load_surface(tmp_path, rng):
    left, right = rng.normal(size=(25, 10)), rng.normal(size=(25, 7))
    _gifti(tmp_path / "lh.func.gii", left, 1500)
    _gifti(tmp_path / "rh.func.gii", right)
    rec = load_surface([(tmp_path / "lh.func.gii", tmp_path / "rh.func.gii")], tr=1.5,
                       detrend=False, standardize=False)
    assert rec.n_targets == 17 and rec.sampling_period == 1.5
    np.testing.assert_allclose(rec.data[:, :10], left)
    assert isinstance(rec.space, SurfaceSpace)
    lh, rh = rec.to_image(np.arange(17.0))
    assert isinstance(lh, nib.gifti.GiftiImage)
    np.testing.assert_allclose(rh.darrays[0].data, np.arange(10.0, 17.0))
    flat = left.copy()
    flat[:, 3] = 0.0  # a medial-wall vertex
    _gifti(tmp_path / "flat.func.gii", flat)
    with pytest.raises(BrainalignInputError, match=r"constant within a run: '3'"):
        load_surface(tmp_path / "flat.func.gii", tr=1.5)
    kept = load_surface(tmp_path / "flat.func.gii", tr=1.5, on_bad_targets="drop")
    assert kept.n_targets == 9
    surface_map = kept.to_image(np.ones(9)).darrays[0].data
    assert surface_map[3] == 0.0 and surface_map.sum() == 9.0
    with pytest.raises(BrainalignInputError, match="contradicts the TimeStep"):
        load_surface(tmp_path / "lh.func.gii", tr=2.0)


def test_roi_timecourses(tmp_path, shared_data, rng):
    names = ["LATL", "RATL", "LPTL", "LIPL", "LPreM", "LIFG"]
    rec = load_roi_timecourses(shared_data / "alice_brennan2016/6mm/s18-timecourses.txt", tr=2.0, names=names)
    assert rec.data.shape == (362, 6) and rec.target_names == names
    np.testing.assert_allclose(rec.data[0, 0], 80.890972, rtol=1e-6)  # raw numbers by default

    with_header = tmp_path / "roi.csv"
    with_header.write_text("A,B\n" + "\n".join(f"{a},{b}" for a, b in rng.normal(size=(20, 2))))
    assert load_roi_timecourses(with_header, tr=1.0).target_names == ["A", "B"]
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("1 2 3\n4 5 6\n7 8\n")
    with pytest.raises(BrainalignInputError, match="ragged.txt"):
        load_roi_timecourses(ragged, tr=1.0)

    bad = rng.normal(size=(30, 3))
    bad[5, 1] = np.nan
    bad[:, 2] = 4.0
    with pytest.raises(BrainalignInputError, match=r"'s7'.*NaN/inf: 'B'.*constant within a run: 'C'"):
        load_roi_timecourses(bad, tr=2.0, names=["A", "B", "C"], subject="s7")

    two_runs = [rng.normal(size=(30, 2)), rng.normal(size=(30, 2))]
    with pytest.raises(BrainalignInputError, match="one per run"):
        load_roi_timecourses(two_runs, tr=2.0, confounds=[rng.normal(size=(30, 1))])
    with pytest.raises(BrainalignInputError, match="one entry per run"):
        load_roi_timecourses(two_runs, tr=2.0, confounds=rng.normal(size=(30, 1)))


# ----------------------------------------------------------------------- M/EEG
def test_eeglab_through_mne(shared_data):
    rec, raw = load_meg_eeg(shared_data / EEGLAB)
    assert rec.kind == "eeg" and rec.n_targets == 32 and rec.sfreq == 128.0
    assert rec.space["nchan"] == 32 and rec.target_names == raw.ch_names
    square = events_timeline(raw, "square")
    assert square.n_events == 80 and set(square.tokens) == {"square"}
    assert events_timeline(raw).n_events == 154
    check_timeline_fits(square, rec)
    with pytest.raises(BrainalignInputError, match=r"No annotation called \['target'\].*'rt', 'square'"):
        events_timeline(raw, "target")
    with pytest.raises(BrainalignInputError, match="sampled at 128.0 Hz, not the expected 256"):
        load_meg_eeg(shared_data / EEGLAB, expected_sfreq=256.0)
    evoked = rec.to_evoked(np.ones(32))
    assert evoked.data.shape == (32, 1)


def test_resample_filter_and_annotation_clock(rng):
    info = mne.create_info(["Cz", "Pz", "Oz"], 200.0, "eeg")
    raw = mne.io.RawArray(rng.normal(size=(3, 2000)) * 1e-6, info, first_samp=400, verbose="error")
    raw.set_meas_date(0)
    raw.set_annotations(mne.Annotations([raw.first_time + 1.0, raw.first_time + 3.0], [0.5, 0.0],
                                        ["word", "word"], orig_time=raw.info["meas_date"]))
    rec, processed = load_meg_eeg(raw, sfreq=100.0, l_freq=1.0, h_freq=30.0)
    assert rec.n_samples == 1000 and rec.sampling_period == 0.01
    assert raw.info["sfreq"] == 200.0  # the caller's raw is untouched
    words = events_timeline(processed, "word")
    np.testing.assert_allclose(words.onsets, [1.0, 3.0])  # seconds from the first sample
    np.testing.assert_allclose(words.offsets, [1.5, 3.0])


def test_epochs_recording(shared_data):
    _, raw = load_meg_eeg(shared_data / EEGLAB)
    events, event_id = mne.events_from_annotations(raw, event_id={"square": 1}, verbose="error")
    epochs = mne.Epochs(raw, events, event_id, tmin=-0.1, tmax=0.5, baseline=None, preload=True,
                        verbose="error")
    rec, tl = epochs_recording(epochs)
    n_times = len(epochs.times)
    assert len(rec.run_ids) == len(epochs) == tl.n_events
    assert rec.run_lengths()[rec.run_ids[0]] == n_times
    np.testing.assert_allclose(tl.onsets, -epochs.tmin)  # the trigger, tmin rounded to a sample
    assert abs(epochs.tmin + 0.1) < 1 / 128
    np.testing.assert_allclose(rec.data[:n_times], epochs.get_data()[0].T, rtol=1e-5)
    check_timeline_fits(tl, rec)

    # One row per epoch: the window mean, events on the raw's clock for alignment.epoch_design.
    rows, trials = epochs_recording(epochs, window=(0.2, 0.4), first_samp=raw.first_samp)
    assert rows.data.shape == (len(epochs), 32) and trials.n_events == len(epochs)
    in_window = (epochs.times >= 0.2) & (epochs.times <= 0.4)
    np.testing.assert_allclose(rows.data[0], epochs.get_data()[0][:, in_window].mean(axis=1), rtol=1e-5)
    square = events_timeline(raw, "square")
    np.testing.assert_allclose(trials.onsets, square.onsets, atol=1 / 128)
    with pytest.raises(BrainalignInputError, match="holds no sample"):
        epochs_recording(epochs, window=(1.0, 2.0))


def test_bids_meg_eeg(tmp_path, rng):
    from mne_bids import BIDSPath, write_raw_bids

    info = mne.create_info(["MEG 001", "MEG 002", "EEG 001"], 100.0, ["mag", "mag", "eeg"])
    raw = mne.io.RawArray(rng.normal(size=(3, 3000)) * 1e-12, info, verbose="error")
    raw.set_meas_date(0)
    raw.info["line_freq"] = 50
    raw.set_annotations(mne.Annotations([2.0, 5.0, 9.0], [0.3, 0.3, 0.3], ["the", "old", "man"]))
    fif = tmp_path / "src_raw.fif"
    raw.save(fif, verbose="error")
    path = BIDSPath(subject="01", task="story", run="1", datatype="meg", root=tmp_path / "bids")
    write_raw_bids(mne.io.read_raw_fif(fif, verbose="error"), path, verbose="error")
    rec, bids_raw = load_bids_meg_eeg(tmp_path / "bids", "01", "story", run="1", picks="meg")
    assert rec.kind == "meg" and rec.subject == "sub-01" and rec.run_ids == ["run-1"]
    assert rec.n_targets == 2
    words = events_timeline(bids_raw, run="run-1")
    assert list(words.tokens) == ["the", "old", "man"]
    np.testing.assert_allclose(words.onsets, [2.0, 5.0, 9.0], atol=0.01)
    with pytest.raises(BrainalignInputError, match="No meg recording for sub-02"):
        load_bids_meg_eeg(tmp_path / "bids", "02", "story")


# --------------------------------------------------------------- bad inputs
def test_check_timeline_fits(rng):
    rec = Recording(rng.normal(size=(20, 2)), 2.0, runs=["a"] * 10 + ["b"] * 10)
    check_timeline_fits(Timeline(["x", "y"], [0.0, 19.9], runs=["a", "b"]), rec)
    with pytest.raises(BrainalignInputError, match=r"run\(s\) \['c'\].*runs are \['a', 'b'\]"):
        check_timeline_fits(Timeline(["x"], [1.0], runs=["c"]), rec)
    with pytest.raises(BrainalignInputError, match=r"Run 'b'.*'late'\) starts at 20.000 s.*end of the recording run"):
        check_timeline_fits(Timeline(["late"], [20.0], runs=["b"]), rec)
    with pytest.raises(BrainalignInputError, match="before the first sample"):
        check_timeline_fits(Timeline(["early"], [-1.0], runs=["a"]), rec)
    check_timeline_fits(Timeline(["early"], [-1.0], runs=["a"]), rec, allow_before_start=True)


def test_design_run_lengths_must_match_recording(rng):
    rec = Recording(rng.normal(size=(20, 2)), 2.0, runs=["a"] * 10 + ["b"] * 10)
    design = DesignMatrix(rng.normal(size=(20, 3)), ["a"] * 12 + ["b"] * 8, 2.0, "layer.0")
    with pytest.raises(BrainalignInputError, match="Run 'a': design 'layer.0' has 12 rows but the recording has 10"):
        design.check_matches(rec)


def test_corrupt_meeg_files(tmp_path, shared_data):
    bad = tmp_path / "broken_raw.fif"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(BrainalignInputError, match="broken_raw.fif"):
        load_meg_eeg(bad)
    src = shared_data / "eeglab_tutorial"
    (tmp_path / "test_raw.set").write_bytes((src / "test_raw.set").read_bytes())
    (tmp_path / "test_raw.fdt").write_bytes((src / "test_raw.fdt").read_bytes()[:1_000_000])
    with pytest.raises(BrainalignInputError, match=r"test_raw\.set.*truncated or corrupt"):
        load_meg_eeg(tmp_path / "test_raw.set")
