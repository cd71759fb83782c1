"""Intracranial recordings: re-referencing, high gamma, event-locked targets, coordinates, BIDS, integration sites."""

import mne
import nibabel as nib
import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from brainalign.alignment import lagged_design
from brainalign.core import BrainalignInputError, DesignMatrix, Timeline
from brainalign.encoding import compare_models, composite_sites, cross_validate, cross_validate_models, default_gap_s
from brainalign.recordings import (
    atlas_labels,
    coordinate_atlas_labels,
    electrode_table,
    event_locked_targets,
    load_bids_ieeg,
    load_ieeg,
    region_summary,
    rereference_ieeg,
    shaft_contacts,
)
from brainalign.simulation import event_drives, simulate_ieeg

SFREQ = 400.0


def _slow(rng, n, cutoff=1.0):
    x = sosfiltfilt(butter(2, cutoff, fs=SFREQ, output="sos"), rng.normal(size=n))
    return x / x.std()


def _encode(rec, feature_400hz, step):
    f = feature_400hz[::step][: rec.n_samples]
    d = DesignMatrix(f[:, None], rec.runs, rec.sampling_period, "feature")
    return cross_validate(lagged_design(d, tmin=0.0, tmax=0.3)["feature"], rec, backend="numpy").r.mean(0)


def test_high_gamma_modulation_recovered_only_after_rereferencing():
    rng = np.random.default_rng(11)
    n = int(120 * SFREQ)
    feature, distractor = _slow(rng, n), _slow(rng, n)
    lag = int(0.1 * SFREQ)  # the response follows the feature by 100 ms
    drive = np.concatenate([np.zeros(lag), feature[:-lag]])[:, None]
    raw, truth = simulate_ieeg(drive, {"LA3": 0, "RH5": 0}, sfreq=SFREQ, common_drive=distractor, seed=2)
    planted = set(truth["bipolar"])
    assert planted == {"LA2-LA3", "LA3-LA4", "RH4-RH5", "RH5-RH6"}

    mono, _ = load_ieeg(raw, reference=None, line_freq=50.0, high_gamma=True, sfreq=20.0)
    # the reference electrode's high gamma is in every monopolar channel
    assert (_encode(mono, distractor, 20) > 0.3).all()

    rec, _ = load_ieeg(raw, reference="bipolar", line_freq=50.0, high_gamma=True, sfreq=20.0)
    r = dict(zip(rec.target_names, _encode(rec, feature, 20)))
    assert all(r[ch] > 0.4 for ch in planted), r
    assert all(abs(v) < 0.15 for ch, v in r.items() if ch not in planted), r
    assert (np.abs(_encode(rec, distractor, 20)) < 0.15).all()
    assert rec.metadata["ieeg"]["reference"] == "bipolar"

    # the broadband signal without the envelope does not carry the modulation
    plain, _ = load_ieeg(raw, reference="bipolar", line_freq=50.0, sfreq=100.0)
    assert np.abs(_encode(plain, feature, 4)).max() < 0.15


def test_integration_criterion_finds_image_text_interaction_electrodes():
    rng = np.random.default_rng(5)
    n_ev = 300
    img, txt = rng.normal(size=(n_ev, 3)), rng.normal(size=(n_ev, 3))
    onsets = 1.0 + np.arange(n_ev)
    n = int((onsets[-1] + 2) * SFREQ)
    values = np.column_stack([(img * txt) @ rng.normal(size=3) + 0.3 * img @ rng.normal(size=3),
                              img @ rng.normal(size=3), txt @ rng.normal(size=3)])
    raw, truth = simulate_ieeg(event_drives(onsets, values, n, SFREQ), {"LA3": 0, "RH3": 1, "RH7": 2},
                               sfreq=SFREQ, seed=1)
    rec, _ = load_ieeg(raw, reference="bipolar", line_freq=50.0, high_gamma=True, sfreq=100.0)
    events = Timeline([f"pair{i}" for i in range(n_ev)], onsets, None, [rec.run_ids[0]] * n_ev)
    targets = event_locked_targets(rec, events, window_ms=100, lags_ms=[100, 200, 300])
    assert targets.data.shape == (n_ev, 14 * 3)
    # an intracranial kind: the default CV gap is the M/EEG one (1 s = one event here), not fMRI's 20 s
    assert rec.kind == targets.kind == "ieeg"
    assert default_gap_s(DesignMatrix(img, targets.runs, 1.0), targets) == 1.0
    results = cross_validate_models({"clip": np.hstack([img, txt, img * txt]), "vit": img, "bert": txt}, targets,
                                    combinations={"vit+bert": ["vit", "bert"]}, backend="numpy")
    table = compare_models(results, targets, n_bootstraps=300,
                           criteria={"integration": {"multimodal": "clip", "against": ["vit", "bert", "vit+bert"]}})
    sites = composite_sites(table, "integration")
    found = {t.split("@")[0] for t in sites.loc[sites["site"], "target"]}
    integration = {ch for ch, col in truth["bipolar"].items() if col == 0}
    assert found == integration
    # every lag of the integration electrodes is a site
    assert sites["site"].sum() == 3 * len(integration)


def _three_contacts(names=("LA1", "LA2", "LA3")):
    info = mne.create_info(list(names), 100.0, "seeg")
    data = np.array([[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]])[: len(names)]
    return mne.io.RawArray(np.repeat(data, 50, axis=1), info, verbose="error")


def test_rereferencing_values():
    raw = _three_contacts()
    bip = rereference_ieeg(raw, "bipolar")
    assert bip.ch_names == ["LA1-LA2", "LA2-LA3"]
    assert np.allclose(bip.get_data()[:, 0], [1 - 10, 10 - 100])
    lap = rereference_ieeg(raw, "laplacian").get_data()[:, 0]
    assert np.allclose(lap, [1 - 10, 10 - (1 + 100) / 2, 100 - 10])
    raw.set_annotations(mne.Annotations([0.1], [0.2], ["picture"]))
    avg_raw = rereference_ieeg(raw, "average")
    assert np.allclose(avg_raw.get_data().mean(0), 0)
    assert list(avg_raw.annotations.description) == ["picture"]  # events survive re-referencing
    # a missing contact breaks the chain: no LA1-LA3 pair
    assert rereference_ieeg(_three_contacts(("LA1", "LA3", "LA4")), "bipolar").ch_names == ["LA3-LA4"]
    assert shaft_contacts(["LA10", "LA9", "X"]) == {"LA": [(9, "LA9"), (10, "LA10")]}


def test_coordinates_atlas_labels_and_region_summary():
    z = np.random.default_rng(0).normal(size=(800, 1))
    raw, truth = simulate_ieeg(z, {"LA3": 0}, line_freq=None)
    table = electrode_table(raw)
    # MNE stores a fiducial-free MNI montage unchanged (as "head" coordinates): the values stay MNI mm
    assert np.allclose(table.set_index("name").loc["LA3", ["x", "y", "z"]].to_numpy(float),
                       truth["positions_mm"]["LA3"], atol=1e-3)
    # bipolar channels sit between their contacts
    bip = electrode_table(rereference_ieeg(raw, "bipolar")).set_index("name")
    mid = (np.array(truth["positions_mm"]["LA1"]) + np.array(truth["positions_mm"]["LA2"])) / 2
    assert np.allclose(bip.loc["LA1-LA2", ["x", "y", "z"]].to_numpy(float), mid, atol=1e-3)
    # a synthetic atlas: left hemisphere label 1, right label 2, 2 mm voxels centred on MNI 0
    data = np.zeros((91, 109, 91), dtype=np.int16)
    data[:45], data[46:] = 1, 2
    affine = np.array([[2.0, 0, 0, -90], [0, 2.0, 0, -126], [0, 0, 2.0, -72], [0, 0, 0, 1]])
    labels = atlas_labels(table[["x", "y", "z"]], nib.Nifti1Image(data, affine), {1: "left", 2: "right"})
    assert labels == ["left"] * 8 + ["right"] * 8
    summary = region_summary(np.arange(16.0), labels).set_index("region")
    assert summary.loc["left", "n"] == 8 and summary.loc["right", "mean"] == pytest.approx(11.5)
    assert coordinate_atlas_labels([[0.0, 0.0, 500.0]]) == ["unknown"]
    with pytest.raises(BrainalignInputError, match="3-D label image"):
        atlas_labels([[0, 0, 0]], nib.Nifti1Image(np.zeros((2, 2, 2, 2)), np.eye(4)), ["a"])


def test_bids_ieeg_roundtrip(tmp_path):
    pytest.importorskip("eeglabio")
    from mne_bids import BIDSPath, write_raw_bids

    z = np.random.default_rng(0).normal(size=(2000, 1))
    raw, truth = simulate_ieeg(z, {"LA3": 0}, line_freq=None)
    raw.info["line_freq"] = 50.0
    path = BIDSPath(subject="01", task="pictures", run="1", datatype="ieeg", space="MNI152NLin2009bAsym",
                    root=tmp_path)
    write_raw_bids(raw, path, format="EEGLAB", allow_preload=True, verbose="error")
    rec, back = load_bids_ieeg(tmp_path, "01", "pictures", run="1", reference="bipolar")
    assert set(back.get_channel_types()) == {"seeg"}
    assert rec.subject == "sub-01" and rec.run_ids == ["run-1"]
    assert rec.metadata["ieeg"]["line_freq"] == 50.0
    assert rec.target_names[:2] == ["LA1-LA2", "LA2-LA3"]
    coords = electrode_table(back).set_index("name")
    mid = (np.array(truth["positions_mm"]["LA1"]) + np.array(truth["positions_mm"]["LA2"])) / 2
    assert np.allclose(coords.loc["LA1-LA2", ["x", "y", "z"]].to_numpy(float), mid, atol=0.1)
    with pytest.raises(BrainalignInputError, match="0 iEEG recordings"):
        load_bids_ieeg(tmp_path, "02", "pictures")


def test_bad_inputs():
    eeg = mne.io.RawArray(np.zeros((2, 100)), mne.create_info(["Cz", "Pz"], 100.0, "eeg"), verbose="error")
    with pytest.raises(BrainalignInputError, match="no good sEEG/ECoG channel"):
        load_ieeg(eeg)
    with pytest.raises(BrainalignInputError, match="reference="):
        rereference_ieeg(_three_contacts(), "median")
    with pytest.raises(BrainalignInputError, match="Nyquist"):
        load_ieeg(_three_contacts(), high_gamma=True)  # 100 Hz sampling cannot hold 70-150 Hz
    rec, _ = load_ieeg(_three_contacts(), reference=None, on_bad_targets="drop")
    with pytest.raises(BrainalignInputError, match="runs past the recording"):
        event_locked_targets(rec, Timeline(["a"], [0.9], None, rec.run_ids), lags_ms=[200])


def test_plot_electrodes_on_glass_brain():
    import matplotlib

    matplotlib.use("Agg")
    from brainalign.plotting import plot_electrodes

    raw, _ = simulate_ieeg(np.zeros((800, 1)), {}, line_freq=None)
    table = electrode_table(rereference_ieeg(raw, "bipolar"))
    display = plot_electrodes({"LA2-LA3": 0.6, "LA3-LA4": 0.5, "RH1-RH2": 0.01}, table, threshold=0.1)
    # two markers survive the threshold (the electrodes without a value are not drawn); the axial view shows both
    assert [len(c.get_offsets()) for c in display.axes["z"].ax.collections] == [2]
    display.close()
    with pytest.raises(BrainalignInputError, match="No electrode to draw"):
        plot_electrodes({"LA2-LA3": 0.01}, table, threshold=0.1)
    with pytest.raises(BrainalignInputError, match="values for"):
        plot_electrodes([1.0, 2.0], table)


def test_ieeg_kind_uses_the_meeg_gap_and_lags_without_gap_s():
    """sEEG is kind "ieeg": a lagged design's gap is its longest lag (M/EEG rule), not fMRI's 20 s."""
    rng = np.random.default_rng(3)
    n = int(60 * SFREQ)
    feature = _slow(rng, n)
    lag = int(0.1 * SFREQ)
    drive = np.concatenate([np.zeros(lag), feature[:-lag]])[:, None]
    raw, truth = simulate_ieeg(drive, {"LA3": 0}, sfreq=SFREQ, seed=4)
    rec, _ = load_ieeg(raw, reference="bipolar", line_freq=50.0, high_gamma=True, sfreq=20.0)
    assert rec.kind == "ieeg"
    from brainalign.recordings import load_meg_eeg

    assert load_meg_eeg(raw)[0].kind == "ieeg"  # any MNE recording of seeg channels, not only load_ieeg's
    design = lagged_design(DesignMatrix(feature[::20][: rec.n_samples, None], rec.runs, rec.sampling_period,
                                        "feature"), tmin=0.0, tmax=0.3)["feature"]
    gap = default_gap_s(design, rec)
    assert gap == pytest.approx(max(b.history_s for b in design.bands)) and gap < 1.0
    # no gap_s passed: the planted bipolar channels are recovered, the others are not
    r = dict(zip(rec.target_names, cross_validate(design, rec, backend="numpy").r.mean(0)))
    assert all(r[ch] > 0.3 for ch in truth["bipolar"]), r
    assert all(abs(v) < 0.2 for ch, v in r.items() if ch not in truth["bipolar"]), r
