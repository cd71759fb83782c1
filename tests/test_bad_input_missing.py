"""Missing inputs (None, absent files) give errors that name the missing thing.

One family of the input audit (issue #13): every public entry point of core,
stimuli, alignment, recordings and encoding.  Absent files raise
``FileNotFoundError`` naming the path; everything else a ``BrainalignInputError``.
"""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.alignment import (
    SampleGrid,
    epoch_design,
    event_rate_design,
    fir_delays,
    fir_design,
    hrf_design,
    hrf_kernels,
    lagged_design,
    lanczos_design,
    trim_edges,
)
from brainalign.core import BrainalignInputError, DesignMatrix, FeatureSet, Recording, Timeline
from brainalign.encoding import (
    BandedRidgeEncoder,
    RidgeEncoder,
    autocorrelation_baseline,
    bootstrap_best_layer_ci,
    correlation_score,
    cross_validate,
    default_gap_s,
    explainable_variance,
    fdr,
    intersubject_ceiling,
    normalize_scores,
    permutation_pvalues,
    sweep_layers,
)
from brainalign.recordings import check_timeline_fits, load_fmri, load_meg_eeg, load_roi_timecourses, load_surface
from brainalign.stimuli import (
    concatenate,
    image_stimulus_list,
    read_events_tsv,
    read_textgrid,
    read_word_table,
    synthetic_speech_timeline,
    with_run,
)

rng = np.random.default_rng(0)
TL = Timeline(["a", "b", "c"], [1.0, 3.0, 5.0])
FS = FeatureSet({"layer": rng.normal(size=(3, 2))}, TL)
GRID = SampleGrid({"run-1": 20}, 2.0)
REC = Recording(rng.normal(size=(40, 3)), 2.0)
DESIGN = DesignMatrix(rng.normal(size=(40, 2)), None, 2.0, "d")

CASES = [
    ("Recording-sampling_period", lambda: Recording(np.ones((10, 2)), None), r"sampling_period is missing \(None\)"),
    ("Recording-data", lambda: Recording(None, 2.0), r"Recording data is missing"),
    ("Timeline-onsets", lambda: Timeline(["a"], None), r"onsets is missing"),
    ("Timeline-tokens", lambda: Timeline(None, [1.0]), r"Timeline tokens are missing"),
    ("DesignMatrix-X", lambda: DesignMatrix(None, None, 2.0), r"design 'features' is missing"),
    ("DesignMatrix-sampling_period", lambda: DesignMatrix(np.ones((3, 1)), None, None),
     r"sampling_period is missing \(None\)"),
    ("FeatureSet-layers", lambda: FeatureSet(None, TL), r"layers must be a mapping.*got NoneType"),
    ("FeatureSet-timeline", lambda: FeatureSet({"l": np.ones((3, 1))}, None), r"timeline must be a brainalign Timeline"),
    ("SampleGrid-run_lengths", lambda: SampleGrid(None, 2.0), r"run_lengths must map run labels"),
    ("SampleGrid-sampling_period", lambda: SampleGrid({"r": 10}, None), r"SampleGrid sampling_period is missing"),
    ("hrf_design-recording", lambda: hrf_design(FS, None), r"Recording or SampleGrid, got NoneType"),
    ("hrf_design-features", lambda: hrf_design(None, GRID), r"FeatureSet, got NoneType"),
    ("hrf_kernels-sampling_period", lambda: hrf_kernels("glover", None, 10), r"sampling_period is missing"),
    ("lanczos_design-recording", lambda: lanczos_design(FS, None), r"Recording or SampleGrid, got NoneType"),
    ("fir_design-recording", lambda: fir_design(FS, None), r"Recording or SampleGrid, got NoneType"),
    ("fir_delays-design", lambda: fir_delays(None), r"Expected a DesignMatrix, got NoneType"),
    ("lagged_design-recording", lambda: lagged_design(FS, None), r"needs the recording"),
    ("event_rate_design-timeline", lambda: event_rate_design(None, GRID), r"Timeline, got NoneType"),
    ("epoch_design-epochs", lambda: epoch_design(FS, None), r"epochs must be a brainalign Timeline"),
    ("trim_edges-recording", lambda: trim_edges(DESIGN, None, 2), r"recording must be a brainalign Recording"),
    ("concatenate-timelines", lambda: concatenate(None), r"list \(or dict\) of Timelines, got NoneType"),
    ("with_run-timeline", lambda: with_run(None, "r"), r"with_run expects a brainalign Timeline"),
    ("synthetic_speech_timeline-text", lambda: synthetic_speech_timeline(None), r"text must be a str"),
    ("image_stimulus_list-paths", lambda: image_stimulus_list(None, [0.0]), r"paths must be a list of image files"),
    ("load_fmri-imgs", lambda: load_fmri(None), r"fMRI image must be a path or a nibabel image, got NoneType"),
    ("load_surface-tr", lambda: load_surface(["x.gii"], tr=None), r"tr is missing \(None\)"),
    ("load_roi_timecourses-tr", lambda: load_roi_timecourses(np.ones((10, 2)), None), r"sampling_period is missing"),
    ("check_timeline_fits-timeline", lambda: check_timeline_fits(None, REC), r"needs a Timeline and a Recording"),
    ("cross_validate-recording", lambda: cross_validate(DESIGN, None), r"recording must be a brainalign Recording"),
    ("cross_validate-design", lambda: cross_validate(None, REC), r"design is missing \(None\)"),
    ("sweep_layers-designs", lambda: sweep_layers(None, REC), r"dict of layer name to design"),
    ("RidgeEncoder-y", lambda: RidgeEncoder().fit(np.ones((10, 2)), None), r"requires y to be passed"),
    ("BandedRidgeEncoder-y", lambda: BandedRidgeEncoder().fit(np.ones((10, 2)), None), r"requires y to be passed"),
    ("autocorrelation_baseline-recording", lambda: autocorrelation_baseline(None), r"must be a brainalign Recording"),
    ("default_gap_s-design", lambda: default_gap_s(None, REC), r"needs a DesignMatrix and a Recording"),
    ("explainable_variance-repeats", lambda: explainable_variance(None), r"repeats must be a list"),
    ("intersubject_ceiling-recordings", lambda: intersubject_ceiling(None), r"recordings must be a list"),
    ("normalize_scores-scores", lambda: normalize_scores(None, np.ones(3)), r"scores is missing"),
    ("fdr-p_values", lambda: fdr(None), r"p_values is missing"),
    ("permutation_pvalues-observed", lambda: permutation_pvalues(None, np.ones((5, 3))), r"observed is missing"),
    ("correlation_score-y_true", lambda: correlation_score(None, np.ones((3, 1))), r"y_true is missing"),
    ("bootstrap_best_layer_ci-scores", lambda: bootstrap_best_layer_ci(None), r"score_matrix is missing"),
]


@pytest.mark.parametrize("call, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_missing_input_is_named(call, match):
    with pytest.raises(BrainalignInputError, match=match):
        call()


FILE_READERS = [
    ("read_events_tsv", lambda p: read_events_tsv(p / "events.tsv"), r"Table .*events\.tsv does not exist"),
    ("read_word_table", lambda p: read_word_table(p / "words.csv"), r"Table .*words\.csv does not exist"),
    ("read_textgrid", lambda p: read_textgrid(p / "story.TextGrid"), r"TextGrid file .*story\.TextGrid does not exist"),
    ("load_fmri", lambda p: load_fmri(p / "bold.nii.gz"), r"fMRI image .*bold\.nii\.gz does not exist"),
    ("load_surface", lambda p: load_surface([p / "lh.gii"], tr=2.0), r"GIfTI file .*lh\.gii does not exist"),
    ("load_roi_timecourses", lambda p: load_roi_timecourses(p / "roi.csv", 2.0), r"Time-course file .*roi\.csv"),
    ("load_meg_eeg", lambda p: load_meg_eeg(p / "raw.fif"), r"M/EEG file .*raw\.fif does not exist"),
]


@pytest.mark.parametrize("call, match", [c[1:] for c in FILE_READERS], ids=[c[0] for c in FILE_READERS])
def test_missing_file_is_named(tmp_path, call, match):
    with pytest.raises(FileNotFoundError, match=match):
        call(tmp_path)
