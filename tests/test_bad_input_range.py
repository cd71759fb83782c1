"""Values out of range (non-positive periods, NaN, fold counts above the sample count, p-values > 1) are named.

One family of the input audit (issue #13).
"""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.alignment import (
    SampleGrid,
    fir_design,
    hrf_design,
    hrf_kernels,
    lagged_design,
    lanczos_design,
    lanczos_kernel,
    trim_edges,
)
from brainalign.core import BrainalignInputError, DesignMatrix, FeatureSet, Recording, Timeline
from brainalign.encoding import (
    BandedRidgeEncoder,
    ContiguousBlockCV,
    RidgeEncoder,
    ShuffledKFold,
    autocorrelation_baseline,
    bootstrap_best_layer_ci,
    cross_validate,
    fdr,
    normalize_scores,
)
from brainalign.recordings import check_timeline_fits, load_roi_timecourses
from brainalign.stimuli import concatenate, image_stimulus_list, synthetic_speech_timeline

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*chosen alpha is the:UserWarning"),
    pytest.mark.filterwarnings("ignore:Shuffled K-fold:UserWarning"),
]

rng = np.random.default_rng(0)
TL = Timeline(["a", "b", "c"], [1.0, 3.0, 5.0])
FS = FeatureSet({"layer": rng.normal(size=(3, 2))}, TL)
GRID = SampleGrid({"run-1": 20}, 2.0)
REC = Recording(rng.normal(size=(40, 3)), 2.0)
DESIGN = DesignMatrix(rng.normal(size=(40, 2)), None, 2.0, "d")
X, Y = rng.normal(size=(20, 2)), rng.normal(size=20)

CASES = [
    ("Recording-sampling_period-0", lambda: Recording(np.ones((10, 2)), 0.0),
     r"sampling_period must be a positive number of seconds, got 0.0"),
    ("Recording-sampling_period-inf", lambda: Recording(np.ones((10, 2)), np.inf), r"got inf"),
    ("Recording-1-sample", lambda: Recording(np.ones((1, 2)), 2.0), r"too small: shape \(1, 2\)"),
    ("Recording-NaN", lambda: Recording(np.full((10, 2), np.nan), 2.0), r"2 target\(s\) contain NaN/inf"),
    ("Timeline-NaN-onset", lambda: Timeline(["a"], [np.nan]), r"onsets contains 1 non-finite value"),
    ("Timeline-offset-before-onset", lambda: Timeline(["a"], [2.0], [1.0]), r"Event 0 \('a'\) ends before it starts"),
    ("Timeline-unsorted", lambda: Timeline(["a", "b"], [2.0, 1.0]), r"Onsets are not sorted in run 'run-1'"),
    ("DesignMatrix-NaN", lambda: DesignMatrix(np.array([[np.nan], [1.0]]), None, 2.0), r"contains NaN or inf in 1 column"),
    ("FeatureSet-inf", lambda: FeatureSet({"l": np.full((3, 1), np.inf)}, TL), r"layer 'l' contains NaN or inf"),
    ("SampleGrid-0-samples", lambda: SampleGrid({"r": 0}, 2.0), r"at least one sample; got \{'r': 0\}"),
    ("SampleGrid-fractional-length", lambda: SampleGrid({"r": 5.5}, 2.0), r"must be a whole number, got 5.5"),
    ("hrf_design-oversampling-0", lambda: hrf_design(FS, GRID, oversampling=0), r"oversampling must be a positive integer"),
    ("hrf_design-layer-index", lambda: hrf_design(FS, GRID, layers=5), r"Layer index 5 is out of range for 1 layers"),
    ("hrf_design-layer-name", lambda: hrf_design(FS, GRID, layers="nope"), r"Unknown layer 'nope'"),
    ("hrf_design-tolerance", lambda: hrf_design(FS, GRID, tolerance_s=-1), r"tolerance_s must be a number of seconds >= 0"),
    ("hrf_kernels-oversampling-0", lambda: hrf_kernels("glover", 2.0, 0), r"oversampling must be a positive integer"),
    ("lanczos_design-window-0", lambda: lanczos_design(FS, GRID, window=0), r"window must be a positive integer"),
    ("lanczos_design-cutoff_mult-0", lambda: lanczos_design(FS, GRID, cutoff_mult=0), r"cutoff_mult must be a positive"),
    ("lanczos_kernel-cutoff", lambda: lanczos_kernel(np.arange(3.0), -1.0), r"cutoff must be a positive number of Hz"),
    ("fir_design-delay-not-multiple", lambda: fir_design(FS, GRID, delays_s=[1.0]),
     r"delays_s \[1.0\] are not multiples of the sampling period 2 s"),
    ("fir_design-delays-repeat", lambda: fir_design(FS, GRID, delays_s=[2.0, 2.0]), r"Delays repeat"),
    ("fir_design-fractional-delay", lambda: fir_design(FS, GRID, delays=[1.5]), r"must be a non-empty list of integers"),
    ("fir_design-delay-beyond-run", lambda: fir_design(FS, GRID, delays=[100]),
     r"Delays of \[100\] samples are as long as or longer than the longest run \(20 samples"),
    ("lagged_design-tmin-after-tmax", lambda: lagged_design(DESIGN, tmin=1.0, tmax=0.0), r"tmin \(1.0\) must not exceed"),
    ("lagged_design-NaN-tmax", lambda: lagged_design(DESIGN, tmin=0.0, tmax=np.nan), r"tmax must be a finite number"),
    ("trim_edges-negative", lambda: trim_edges(DESIGN, REC, -1), r"n must be a number of samples >= 0"),
    ("trim_edges-too-long", lambda: trim_edges(DESIGN, REC, 100), r"Cannot trim 100 samples"),
    ("cross_validate-gap-negative", lambda: cross_validate(DESIGN, REC, gap_s=-1), r"gap_s must be a number of seconds >= 0"),
    ("cross_validate-gap-NaN", lambda: cross_validate(DESIGN, REC, gap_s=np.nan), r"gap_s .* got nan"),
    ("cross_validate-cv-1", lambda: cross_validate(DESIGN, REC, cv=1), r"n_splits must be an int >= 2, got 1"),
    ("cross_validate-cv-above-samples", lambda: cross_validate(DESIGN, REC, cv=100),
     r"40 samples are too few for n_splits=100"),
    ("cross_validate-inner_cv-1", lambda: cross_validate(DESIGN, REC, inner_cv=1), r"inner_cv must be an int >= 2"),
    ("cross_validate-inner_cv-above-samples", lambda: cross_validate(DESIGN, REC, inner_cv=100, gap_s=0),
     r"inner_cv=100 inner folds need at least 100 training samples, got n=32"),
    ("cross_validate-negative-alpha", lambda: cross_validate(DESIGN, REC, alphas=[-1.0, 1.0]),
     r"alphas must be positive finite numbers"),
    ("cross_validate-n_permutations", lambda: cross_validate(DESIGN, REC, n_permutations=-1), r"n_permutations must be >= 0"),
    ("cross_validate-pca-0", lambda: cross_validate(DESIGN, REC, pca=0), r"pca must be a positive number"),
    ("cross_validate-huge-gap", lambda: cross_validate(DESIGN, REC, gap_s=1000), r"no training data is left"),
    ("RidgeEncoder-alpha-0", lambda: RidgeEncoder(alphas=[0.0]).fit(X, Y), r"alphas must be positive finite numbers"),
    ("RidgeEncoder-alpha-NaN", lambda: RidgeEncoder(alphas=[np.nan]).fit(X, Y), r"alphas must be positive finite"),
    ("RidgeEncoder-cv-1", lambda: RidgeEncoder(cv=1).fit(X, Y), r"cv=1 inner folds; at least 2"),
    ("RidgeEncoder-cv-above-samples", lambda: RidgeEncoder(cv=30).fit(X, Y),
     r"cv=30 inner folds need at least 30 samples, got n_samples=20"),
    ("RidgeEncoder-NaN-X", lambda: RidgeEncoder().fit(np.full((20, 2), np.nan), Y), r"Input X contains NaN"),
    ("RidgeEncoder-NaN-target", lambda: RidgeEncoder().fit(X, np.column_stack([Y, np.full(20, np.nan)])),
     r"y contains NaN or inf in 1 target\(s\) \(first: \[1\]\)"),
    ("RidgeEncoder-gap", lambda: RidgeEncoder().fit(X, Y, gap=-1), r"gap must be >= 0 samples"),
    ("RidgeEncoder-n_targets_batch-0", lambda: RidgeEncoder(n_targets_batch=0, backend="numpy").fit(X, Y),
     r"n_targets_batch must be a positive integer, got 0"),
    ("BandedRidgeEncoder-n_iter-0", lambda: BandedRidgeEncoder(n_iter=0).fit(X, Y), r"n_iter must be a positive int"),
    ("ContiguousBlockCV-n_splits-1", lambda: list(ContiguousBlockCV(1).split(20)), r"n_splits must be an int >= 2"),
    ("ContiguousBlockCV-gap", lambda: list(ContiguousBlockCV(2, -1).split(20)), r"gap must be an int >= 0"),
    ("ShuffledKFold-above-samples", lambda: list(ShuffledKFold(30).split(20)), r"20 samples are too few for n_splits=30"),
    ("fdr-p-out-of-range", lambda: fdr(np.array([1.5, -0.1])), r"p-values must be finite numbers in \[0, 1\]"),
    ("fdr-alpha", lambda: fdr(np.array([0.1]), alpha=2.0), r"alpha \(the false discovery rate\) must be in \(0, 1\)"),
    ("bootstrap-confidence", lambda: bootstrap_best_layer_ci(np.ones((3, 4)), confidence=2.0),
     r"confidence must be in \(0, 1\)"),
    ("bootstrap-n_bootstraps", lambda: bootstrap_best_layer_ci(np.ones((3, 4)), n_bootstraps=0),
     r"n_bootstraps must be a positive int"),
    ("normalize_scores-min_ceiling", lambda: normalize_scores(np.ones(3), np.ones(3), min_ceiling=-1),
     r"min_ceiling must be a positive number"),
    ("autocorrelation_baseline-max_components", lambda: autocorrelation_baseline(REC, max_components=0),
     r"max_components must be a positive integer"),
    ("autocorrelation_baseline-min_period", lambda: autocorrelation_baseline(REC, min_period_s=-1),
     r"min_period_s must be a positive number of seconds"),
    ("synthetic_speech-rate", lambda: synthetic_speech_timeline("hello world", seconds_per_syllable=-1),
     r"seconds_per_syllable must be a positive number of seconds"),
    ("synthetic_speech-pause", lambda: synthetic_speech_timeline("hello world", comma_pause=-1),
     r"comma_pause must be a number of seconds >= 0"),
    ("image_stimulus_list-duration", lambda: image_stimulus_list(["a.png"], [0.0], -1.0, check_exists=False),
     r"durations must be >= 0"),
    ("image_stimulus_list-NaN-onset", lambda: image_stimulus_list(["a.png"], [np.nan], check_exists=False),
     r"onsets contains 1 non-finite"),
    ("concatenate-repeated-run", lambda: concatenate([TL, TL]), r"Timelines 0 and 1 both hold run 'run-1'"),
    ("load_roi_timecourses-skip_rows", lambda: load_roi_timecourses(rng.normal(size=(10, 2)), 2.0, skip_rows=-1),
     r"skip_rows must be an int >= 0"),
    ("load_roi_timecourses-tr-0", lambda: load_roi_timecourses(rng.normal(size=(10, 2)), 0.0),
     r"sampling_period must be a positive number of seconds"),
    ("load_roi_timecourses-high_pass", lambda: load_roi_timecourses(rng.normal(size=(10, 2)), 2.0, high_pass=10.0),
     r"high_pass=10.0 Hz is outside \(0, 0.25\) Hz"),
    ("load_roi_timecourses-band", lambda: load_roi_timecourses(rng.normal(size=(50, 2)), 2.0, high_pass=0.2, low_pass=0.1),
     r"high_pass=0.2 Hz must be below low_pass=0.1 Hz"),
    ("check_timeline_fits-tolerance", lambda: check_timeline_fits(TL, REC, tolerance=-1),
     r"tolerance must be a number of seconds >= 0"),
]


@pytest.mark.parametrize("call, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_out_of_range_value_is_named(call, match):
    with pytest.raises(BrainalignInputError, match=match):
        call()


def test_fmri_loader_ranges():
    import nibabel as nib

    from brainalign.recordings import load_fmri

    img = nib.Nifti1Image(rng.normal(size=(4, 4, 4, 30)).astype("float32"), np.eye(4))
    img.header.set_zooms((1, 1, 1, 2.0))
    with pytest.raises(BrainalignInputError, match=r"tr=3.0 s contradicts the header"):
        load_fmri(img, tr=3.0)
    with pytest.raises(BrainalignInputError, match=r"sphere_radius must be a positive number of mm, got -1"):
        load_fmri(img, spheres=[(0, 0, 0)], sphere_radius=-1)
    with pytest.raises(BrainalignInputError, match=r"smoothing_fwhm must be a number of mm >= 0, got -1"):
        load_fmri(img, smoothing_fwhm=-1)
    with pytest.raises(BrainalignInputError, match=r"standardize must be 'zscore_sample'.*got 'minmax'"):
        load_fmri(img, standardize="minmax")


def test_meg_eeg_loader_ranges():
    import mne

    from brainalign.recordings import load_meg_eeg

    info = mne.create_info(3, 100.0, "eeg")
    raw = mne.io.RawArray(rng.normal(size=(3, 1000)), info, verbose="error")
    with pytest.raises(BrainalignInputError, match=r"h_freq=60 Hz is outside \(0, 50\) Hz"):
        load_meg_eeg(raw, h_freq=60)
    with pytest.raises(BrainalignInputError, match=r"l_freq=20 Hz must be below h_freq=10 Hz"):
        load_meg_eeg(raw, l_freq=20, h_freq=10)
    with pytest.raises(BrainalignInputError, match=r"sfreq must be a positive number of Hz, got -1"):
        load_meg_eeg(raw, sfreq=-1)
