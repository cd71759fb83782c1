"""Figures: each plot function draws the artists its data calls for."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from brainalign.core import BrainalignInputError, EncodingResult, Recording
from brainalign.plotting import (
    best_layer,
    layer_profile_table,
    plot_best_layer_map,
    plot_deficit,
    plot_layer_profile,
    plot_localizer_tvalues,
    plot_prediction,
    plot_score_map,
    plot_score_vs_baseline,
    plot_sensor_topomap,
    plot_surface_map,
    plot_units_per_layer,
    sensor_info,
)

LAYERS = ["embeddings", "layer.0", "layer.1", "layer.2"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def mni_recording():
    """A coarse (10 mm) whole-brain MNI recording with a fitted masker as its space."""
    from nilearn import datasets, image
    from nilearn.maskers import NiftiMasker

    mask = datasets.load_mni152_brain_mask(resolution=2)
    mask = image.resample_img(mask, target_affine=np.diag([10.0, 10.0, 10.0]), interpolation="nearest",
                              force_resample=True, copy_header=True)
    masker = NiftiMasker(mask).fit()
    n_voxels = int(mask.get_fdata().sum())
    data = np.random.default_rng(1).normal(size=(20, n_voxels))
    return Recording(data, 2.0, kind="fmri", space=masker)


def _layer_scores(recording, rng):
    """Scores whose best layer follows the y (posterior -> anterior) coordinate of each voxel."""
    masker = recording.space
    coords = np.argwhere(masker.mask_img_.get_fdata() > 0)
    y = (coords[:, 1] - coords[:, 1].min()) / np.ptp(coords[:, 1])
    truth = np.minimum((y * len(LAYERS)).astype(int), len(LAYERS) - 1)
    scores = 0.05 + 0.02 * rng.random((len(LAYERS), recording.n_targets))
    scores[truth, np.arange(recording.n_targets)] = 0.4
    return {name: row for name, row in zip(LAYERS, scores)}, truth


def test_best_layer_recovers_argmax_and_threshold():
    best, names = best_layer({"a": [0.1, 0.5, np.nan], "b": [0.3, 0.2, np.nan]}, threshold=0.25)
    assert names == ["a", "b"]
    assert best.tolist() == [1, 0, -1]
    best, _ = best_layer(np.array([[0.1, 0.05], [0.2, 0.01]]), ["x", "y"], threshold=0.06)
    assert best.tolist() == [1, -1]
    with pytest.raises(BrainalignInputError, match="Unknown layer"):
        best_layer({"a": [0.1]}, ["nope"])


def test_best_layer_map_is_drawn_on_axial_slices_with_one_colour_per_layer(mni_recording, rng):
    scores, truth = _layer_scores(mni_recording, rng)
    best, _ = best_layer(scores)
    np.testing.assert_array_equal(best, truth)
    display = plot_best_layer_map(scores, mni_recording, threshold=0.1, title="best layer")
    fig = display.frame_axes.figure
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == LAYERS
    colours = {tuple(np.round(h.get_facecolor(), 3)) for h in legend.legend_handles}
    assert len(colours) == len(LAYERS)
    # axial cuts (one axes per z), the label overlay in a discrete map with one colour per layer
    assert len(display.axes) > 1 and {getattr(ax, "direction", "z") for ax in display.axes.values()} == {"z"}
    overlays = [img.cmap for ax in display.axes.values() for img in ax.ax.images if img.cmap.name.endswith("layers")]
    assert overlays and all(cmap.N == len(LAYERS) for cmap in overlays)
    # a categorical map as a maximum projection shows the highest label along each line: refused
    with pytest.raises(BrainalignInputError, match="maximum projection"):
        plot_best_layer_map(scores, mni_recording, kind="glass")


def test_best_layer_slices_and_surface(mni_recording, rng, tmp_path):
    scores, _ = _layer_scores(mni_recording, rng)
    frame = pd.concat(
        [pd.DataFrame({"layer": name, "target": np.arange(len(v)).astype(str), "r": v}) for name, v in scores.items()]
    )
    display = plot_best_layer_map(frame, mni_recording, kind="slices")
    assert len(display.frame_axes.figure.legends[0].get_texts()) == len(LAYERS)
    out = tmp_path / "surf.png"
    fig = plot_best_layer_map(scores, mni_recording, kind="surface", hemi="left", output_file=out)
    assert out.stat().st_size > 1000
    assert sum(ax.name == "3d" for ax in fig.axes) == 1
    assert len(fig.legends[0].get_texts()) == len(LAYERS)
    with pytest.raises(BrainalignInputError, match="kind"):
        plot_best_layer_map(scores, mni_recording, kind="flat")


def test_score_map_glass_and_surface(mni_recording, tmp_path):
    values = np.linspace(-0.2, 0.6, mni_recording.n_targets)
    display = plot_score_map((mni_recording, values), threshold=0.1, output_file=tmp_path / "glass.png")
    assert (tmp_path / "glass.png").stat().st_size > 1000
    assert len(display.axes) == 4  # l, z, r, y projections
    fig = plot_surface_map(values, mni_recording, hemi="both", threshold=0.05)
    assert sum(ax.name == "3d" for ax in fig.axes) == 2
    assert len(fig.axes) == 3  # two hemispheres + colour bar
    with pytest.raises(BrainalignInputError, match="space"):
        plot_score_map(values)
    with pytest.raises(BrainalignInputError, match="hemi"):
        plot_surface_map(values, mni_recording, hemi="top")


def _sweep_results(rng, n_subjects=3, n_folds=4):
    rois = ["LATL", "LIFG", "LPTL"]
    peak = {"LATL": 1, "LIFG": 3, "LPTL": 2}
    results = []
    for s in range(n_subjects):
        for i, layer in enumerate(LAYERS):
            mean = np.array([0.3 - 0.1 * abs(i - peak[roi]) for roi in rois])
            r = mean + 0.02 * rng.normal(size=(n_folds, len(rois)))
            results.append(EncodingResult(r, r**2, np.ones_like(r), rois, layer, f"sub-{s:02d}", "toy"))
    return results, rois, peak


def test_layer_profile_lines_errorbars_and_peaks(rng):
    results, rois, peak = _sweep_results(rng)
    table = layer_profile_table(results)
    assert set(table["n"]) == {3}  # error across the three subjects
    for roi in rois:
        sub = table[table["group"] == roi]
        assert sub.loc[sub["mean"].idxmax(), "layer"] == LAYERS[peak[roi]]
    frame = pd.concat([r.to_frame() for r in results])
    one = frame[(frame["target"] == "LIFG") & (frame["layer"] == "layer.0")]
    per_subject = one.groupby("subject")["r"].mean()
    row = table[(table["group"] == "LIFG") & (table["layer"] == "layer.0")].iloc[0]
    assert row["mean"] == pytest.approx(per_subject.mean())
    assert row["error"] == pytest.approx(per_subject.std(ddof=1) / np.sqrt(3))

    fig = plot_layer_profile(results, ceiling={"LIFG": 0.5}, baseline=0.05, error="ci")
    ax = fig.axes[0]
    assert len(ax.containers) == len(rois)
    for container in ax.containers:
        assert len(container.lines[0].get_xdata()) == len(LAYERS)
    assert [t.get_text() for t in ax.get_xticklabels()] == LAYERS
    assert [t.get_text() for t in ax.get_legend().get_texts()] == rois

    pooled = plot_layer_profile({name: rng.random(50) for name in LAYERS})
    assert len(pooled.axes[0].containers) == 1
    with pytest.raises(BrainalignInputError, match="too many lines"):
        plot_layer_profile(frame.assign(target=np.arange(len(frame)).astype(str)))
    with pytest.raises(BrainalignInputError, match="lacks column"):
        plot_layer_profile(frame.drop(columns="r"))


def test_units_per_layer_one_coloured_bar_per_layer(rng):
    mask = rng.random((len(LAYERS), 200)) > 0.9
    fig = plot_units_per_layer(mask, LAYERS)
    bars = fig.axes[0].patches
    assert len(bars) == len(LAYERS)
    assert [b.get_height() for b in bars] == mask.sum(axis=1).tolist()
    assert len({b.get_facecolor() for b in bars}) == len(LAYERS)
    frac = plot_units_per_layer(mask, LAYERS, fraction=True)
    assert frac.axes[0].patches[0].get_height() == pytest.approx(mask[0].mean())
    with pytest.raises(BrainalignInputError, match="layer names"):
        plot_units_per_layer([1, 2, 3], LAYERS)


def test_localizer_tvalue_histogram(rng):
    t = rng.normal(size=(len(LAYERS), 300))
    t[1, :20] += 6
    selected = t > 3
    fig = plot_localizer_tvalues(t, selected, threshold=3)
    ax = fig.axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[1] == f"selected (n = {selected.sum()})"
    assert any(line.get_xdata()[0] == 3 for line in ax.lines)
    with pytest.raises(BrainalignInputError, match="shape"):
        plot_localizer_tvalues(t, selected[:2])


def test_deficit_bars_intervals_and_p(rng):
    random = {"sentences": rng.normal(0.1, 0.05, 500), "nonwords": rng.normal(0.1, 0.05, 500)}
    fig = plot_deficit({"sentences": 0.9, "nonwords": 0.12}, random)
    ax = fig.axes[0]
    assert len(ax.patches) == 4
    texts = [t.get_text() for t in ax.texts]
    assert texts[0] == f"p = {1 / 501:.3g}"  # no random draw reaches 0.9
    random_bar = ax.patches[2]
    assert random_bar.get_height() == pytest.approx(random["sentences"].mean())
    frame = pd.DataFrame({"condition": ["localized"] + ["random"] * 50, "deficit": [0.5] + list(rng.random(50) * 0.1)})
    assert len(plot_deficit(frame).axes[0].patches) == 2
    with pytest.raises(BrainalignInputError, match="random"):
        plot_deficit(0.5)


def test_sensor_topomap_on_template_montages(rng):
    import mne

    names = mne.channels.make_standard_montage("biosemi32").ch_names
    info = sensor_info(names, "biosemi32")
    values = rng.normal(size=32)
    fig = plot_sensor_topomap(values, info, title="r per channel")
    ax = fig.axes[0]
    assert len(ax.images) == 1
    assert len(fig.axes) == 2  # map + colour bar
    assert ax.images[0].get_clim() == pytest.approx((-np.abs(values).max(), np.abs(values).max()))
    recording = Recording(rng.normal(size=(50, 32)), 0.01, kind="eeg", space=info)
    assert plot_sensor_topomap(values, recording).axes[0].images
    ten_twenty = ["Fp1", "Fp2", "F3", "F4", "Fz", "C3", "C4", "Cz", "P3", "P4", "Pz", "O1", "O2"]
    assert plot_sensor_topomap(rng.normal(size=13), ch_names=ten_twenty).axes[0].images
    with pytest.raises(BrainalignInputError, match="not in montage"):
        sensor_info(["Fz", "EOG1"])
    with pytest.raises(BrainalignInputError, match="channels"):
        plot_sensor_topomap(values[:5], info)


def test_sensor_topomap_refuses_real_recording_without_positions(shared_data):
    import mne

    raw = mne.io.read_raw_eeglab(shared_data / "eeglab_tutorial" / "test_raw.set", preload=False, verbose="error")
    with pytest.raises(BrainalignInputError, match="no positions"):
        plot_sensor_topomap(np.zeros(len(raw.ch_names)), raw)


def test_score_vs_baseline_and_prediction(rng):
    model, base = np.array([0.3, 0.2, 0.1, 0.4]), np.array([0.1, 0.25, 0.05, 0.2])
    fig = plot_score_vs_baseline(model, base, target_names=list("abcd"), ceiling=[0.5, 0.4, 0.3, 0.6])
    ax = fig.axes[0]
    assert ax.collections[0].get_offsets().shape == (4, 2)
    assert "3 of 4 targets above baseline" in [t.get_text() for t in ax.texts]
    with pytest.raises(BrainalignInputError, match="targets"):
        plot_score_vs_baseline(model, base[:2])

    y = rng.normal(size=200)
    y_hat = y + rng.normal(size=200)
    runs = np.repeat(["run-1", "run-2"], 100)
    fig = plot_prediction(y, y_hat, sampling_period=2.0, runs=runs, label="LIFG")
    ax = fig.axes[0]
    assert ax.get_legend().get_texts()[1].get_text() == f"predicted (r = {np.corrcoef(y, y_hat)[0, 1]:.2f})"
    assert ax.lines[0].get_xdata()[-1] == pytest.approx(398.0)
    assert any(line.get_xdata()[0] == pytest.approx(200.0) for line in ax.lines[2:])
    folds = [np.arange(100), np.arange(100, 200)]
    fold_r = np.mean([np.corrcoef(y[f], y_hat[f])[0, 1] for f in folds])
    fig = plot_prediction(y, y_hat, folds=folds)
    assert fig.axes[0].get_legend().get_texts()[1].get_text() == f"predicted (fold-mean r = {fold_r:.2f})"


def test_deficit_separate_panels_per_task(rng):
    frame = pd.DataFrame({
        "task": ["loss"] * 11 + ["accuracy"] * 11,
        "condition": (["localized"] + ["random"] * 10) * 2,
        "deficit": np.r_[2.0, rng.normal(0.1, 0.05, 10), 0.3, rng.normal(0.0, 0.02, 10)],
    })
    fig = plot_deficit(frame, separate=True, tasks=["accuracy", "loss"])
    assert len(fig.axes) == 2
    assert [ax.get_xticklabels()[0].get_text() for ax in fig.axes] == ["accuracy", "loss"]
    assert all(len(ax.patches) == 2 for ax in fig.axes)
    with pytest.raises(BrainalignInputError, match="Unknown task"):
        plot_deficit(frame, tasks=["perplexity"])


def test_layer_profile_leaves_out_baseline_rows(rng):
    results, rois, _ = _sweep_results(rng, n_subjects=1)
    frame = pd.concat([r.to_frame() for r in results]).assign(kind="layer")
    baseline = results[0].to_frame().assign(layer="baseline", kind="baseline")
    table = layer_profile_table(pd.concat([frame, baseline]))
    assert list(dict.fromkeys(table["layer"])) == LAYERS
    best, names = best_layer(pd.concat([frame, baseline]))
    assert names == LAYERS


def _study_table(rng, n_subjects=6):
    rows = []
    for model, slope in (("a", 0.02), ("b", 0.0)):
        for i, layer in enumerate(["embeddings", "layer.0", "layer.1"]):
            for subject in [f"s{k}" for k in range(n_subjects)] + ["group"]:
                gain = 0.5 if subject == "group" else slope * i + 0.005 * rng.normal()
                rows.append({"model": model, "layer": layer, "layer_index": i, "depth": i / 2, "subject": subject,
                             "kind": "group" if subject == "group" else "subject", "target": "ROI",
                             "r": 0.3 + gain, "r_baseline": 0.3 if subject != "group" else 0.6, "gain": gain,
                             "ci_low": gain - 0.01, "ci_high": gain + 0.01})
    return pd.DataFrame(rows)


def test_study_profiles_draw_the_baseline_and_keep_the_group_apart(rng):
    from brainalign.plotting import model_profiles, plot_gain_profile, plot_model_profiles

    table = _study_table(rng)
    profiles = model_profiles(table)
    assert set(profiles["n"]) == {6}  # subjects only: the group average is not a seventh subject
    assert profiles["mean"].max() < 0.4 and (profiles["baseline"] == 0.3).all()
    assert (profiles["ci_low"] < profiles["mean"]).all() and (profiles["mean"] < profiles["ci_high"]).all()
    group = model_profiles(table, recordings="group")
    assert set(group["n"]) == {1} and np.allclose(group["mean"], 0.8)

    ax = plot_model_profiles(table, ceiling=0.45).axes[0]
    dotted = [line for line in ax.lines if line.get_linestyle() == ":"]
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dotted) == 1 and dotted[0].get_ydata()[0] == pytest.approx(0.3)  # one baseline shared by both
    assert len(dashed) == 1 and dashed[0].get_ydata()[0] == pytest.approx(0.45)
    assert ax.get_ylim()[0] > 0.2  # fitted to the data, not stretched down to 0

    fig = plot_gain_profile(table)
    subjects_ax, group_ax = fig.axes
    assert "6 subject(s)" in subjects_ax.get_title() and "group average" in group_ax.get_title()
    top = max(max(line.get_ydata()) for line in subjects_ax.lines if line.get_marker() == "o")
    assert top == pytest.approx(0.04, abs=0.01)  # model a's planted gain at the last layer, without the group
    assert any(line.get_ydata()[0] == 0 for line in subjects_ax.lines)  # the 0 line: above it = adds to baseline
    with pytest.raises(BrainalignInputError, match="no gain column"):
        plot_gain_profile(table.drop(columns="gain"))
    with pytest.raises(BrainalignInputError, match="recordings"):
        model_profiles(table, recordings="both")
