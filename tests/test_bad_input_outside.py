"""Events far outside the recording, and data on another grid than expected, are refused or warned about.

One family of the input audit (issue #13): before, events that all fell far
before the first scan gave an all-zero design without a word, and a mask on
another voxel grid than the images was resampled silently.
"""

from __future__ import annotations

import logging

import nibabel as nib
import numpy as np
import pytest

from brainalign.alignment import (
    SampleGrid,
    epoch_design,
    event_rate_design,
    fir_design,
    hrf_design,
    lagged_design,
    lanczos_design,
    resample_to_samples,
)
from brainalign.core import BrainalignInputError, FeatureSet, Recording, Timeline
from brainalign.recordings import check_timeline_fits, load_fmri

GRID = SampleGrid({"run-1": 20}, 2.0)  # samples cover 0-40 s
REC = Recording(np.random.default_rng(0).normal(size=(40, 3)), 2.0)


def _features(onsets):
    return FeatureSet({"layer": np.ones((len(onsets), 1))}, Timeline(["w"] * len(onsets), onsets))


BEFORE = _features([-500.0, -400.0])  # far beyond the reach of any response
AFTER = _features([400.0, 500.0])
NONE_REACH = r"Run 'run-1': none of its 2 features events reaches a sample of the run in the {} design"

DESIGNS = {
    "hrf": (hrf_design, "hrf"),
    "lanczos": (lanczos_design, "lanczos"),
    "fir": (fir_design, "sample-grid"),
    "lagged": (lagged_design, "sample-grid"),
    "resample_to_samples": (resample_to_samples, "sample-grid"),
}


@pytest.mark.parametrize("method", sorted(DESIGNS))
def test_events_all_far_before_the_first_scan_are_refused(method):
    build, label = DESIGNS[method]
    with pytest.raises(BrainalignInputError, match=NONE_REACH.format(label) + r".*onsets -500.000 to -400.000 s"):
        build(BEFORE, GRID)


@pytest.mark.parametrize("method", sorted(DESIGNS))
def test_events_all_far_after_the_last_scan_are_refused(method):
    build, _ = DESIGNS[method]
    with pytest.raises(BrainalignInputError, match=r"starts at 400.000 s, after the end of the recording run"):
        build(AFTER, GRID)


def test_event_rate_baseline_with_events_before_the_run_is_refused():
    with pytest.raises(BrainalignInputError, match=NONE_REACH.format("hrf")):
        event_rate_design(BEFORE.timeline, GRID)


def test_some_events_out_of_reach_are_logged_and_the_rest_kept(caplog):
    fs = _features([-500.0, 10.0])
    with caplog.at_level(logging.WARNING, logger="brainalign"):
        X = hrf_design(fs, GRID)["layer"].X[:, 0]
    assert "1 of 2 features events (onsets [-500.0] s) lie too far" in caplog.text
    # the event at 10 s still drives the design: its HRF peaks about 5 s later
    assert int(np.argmax(X)) in (7, 8)


def test_events_just_before_the_run_still_reach_it():
    # an HRF lasts ~30 s: an event 10 s before the first scan shapes the first samples (its undershoot)
    X = hrf_design(_features([-10.0]), GRID)["layer"].X[:, 0]
    assert X[:5].min() < -0.05


def test_timeline_outside_the_recording():
    with pytest.raises(BrainalignInputError, match=r"starts at -5.000 s, before the first sample"):
        check_timeline_fits(Timeline(["a"], [-5.0]), REC)
    with pytest.raises(BrainalignInputError, match=r"starts at 500.000 s, at or after the end of the recording run"):
        check_timeline_fits(Timeline(["a"], [500.0]), REC)
    with pytest.raises(BrainalignInputError, match=r"run\(s\) \['run-9'\] that the recording does not have"):
        hrf_design(FeatureSet({"l": np.ones((1, 1))}, Timeline(["a"], [1.0], runs=["run-9"])), GRID)


def test_epochs_outside_the_features():
    fs = _features([1.0, 3.0, 5.0])
    with pytest.raises(BrainalignInputError, match=r"Epoch 0 \('e', run 'run-1', 100.000-102.000 s\) contains no feature"):
        epoch_design(fs, Timeline(["e"], [100.0], [102.0]))


def _bold(shape=(4, 4, 4), affine=np.eye(4)):
    img = nib.Nifti1Image(np.random.default_rng(1).normal(size=shape + (30,)).astype("float32"), affine)
    img.header.set_zooms((1, 1, 1, 2.0))
    return img


def test_mask_on_another_grid_warns_with_both_shapes():
    mask = nib.Nifti1Image(np.ones((8, 8, 8), dtype="uint8"), np.diag([0.5, 0.5, 0.5, 1.0]))
    with pytest.warns(UserWarning, match=r"mask image \(shape \(8, 8, 8\)\) and image #1 .*\(shape \(4, 4, 4\)\) are on "
                                         r"different voxel grids \(their shape and affine differ\)"):
        load_fmri(_bold(), mask_img=mask, on_bad_targets="drop")


def test_atlas_with_another_affine_warns():
    labels = nib.Nifti1Image(np.repeat(np.arange(1, 3), 32).reshape(4, 4, 4).astype("int16"), np.diag([1, 1, 1.01, 1]))
    with pytest.warns(UserWarning, match=r"labels image .* \(their affine differs\)"):
        load_fmri(_bold(), labels_img=labels)


def test_mask_on_the_images_grid_does_not_warn(recwarn):
    load_fmri(_bold(), mask_img=nib.Nifti1Image(np.ones((4, 4, 4), dtype="uint8"), np.eye(4)))
    assert not [w for w in recwarn if "different voxel grids" in str(w.message)]
