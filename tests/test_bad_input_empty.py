"""Empty inputs (no rows, no columns, no events, no files) are refused with a message saying what is empty.

One family of the input audit (issue #13).  An empty Timeline is allowed on
its own (filtering can leave a run without events), but nothing can be
aligned from it.
"""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.alignment import (
    SampleGrid,
    event_rate_design,
    fir_delays,
    fir_design,
    hrf_design,
    lagged_design,
    lanczos_design,
)
from brainalign.core import BrainalignInputError, DesignMatrix, FeatureSet, Recording, Timeline
from brainalign.encoding import (
    BandedRidgeEncoder,
    ContiguousBlockCV,
    LayerSweep,
    RidgeEncoder,
    bootstrap_best_layer_ci,
    correlation_score,
    cross_validate,
    explainable_variance,
    intersubject_ceiling,
    permutation_pvalues,
    sweep_layers,
    variance_partitioning,
)
from brainalign.recordings import load_fmri, load_roi_timecourses, load_surface
from brainalign.stimuli import (
    audio_stimulus_list,
    concatenate,
    image_stimulus_list,
    read_events_tsv,
    read_textgrid,
    synthetic_speech_timeline,
)

rng = np.random.default_rng(0)
GRID = SampleGrid({"run-1": 20}, 2.0)
REC = Recording(rng.normal(size=(40, 3)), 2.0)
DESIGN = DesignMatrix(rng.normal(size=(40, 2)), None, 2.0, "d")
NO_EVENTS = FeatureSet({"layer": np.zeros((0, 2))}, Timeline([], []))
NO_EVENTS_MSG = r"timeline has no events, so there is nothing to place"

CASES = [
    ("Recording-rows", lambda: Recording(np.zeros((0, 3)), 2.0), r"too small: shape \(0, 3\)"),
    ("Recording-targets", lambda: Recording(np.zeros((10, 0)), 2.0), r"too small: shape \(10, 0\)"),
    ("DesignMatrix-rows", lambda: DesignMatrix(np.zeros((0, 2)), None, 2.0), r"is empty: shape \(0, 2\)"),
    ("DesignMatrix-columns", lambda: DesignMatrix(np.zeros((10, 0)), None, 2.0), r"is empty: shape \(10, 0\)"),
    ("FeatureSet-layers", lambda: FeatureSet({}, Timeline(["a"], [0.0])), r"needs at least one layer"),
    ("FeatureSet-dimensions", lambda: FeatureSet({"l": np.zeros((1, 0))}, Timeline(["a"], [0.0])),
     r"layer 'l' has 0 feature dimensions"),
    ("SampleGrid-runs", lambda: SampleGrid({}, 2.0), r"needs at least one run"),
    ("hrf_design-timeline", lambda: hrf_design(NO_EVENTS, GRID), NO_EVENTS_MSG),
    ("lanczos_design-timeline", lambda: lanczos_design(NO_EVENTS, GRID), NO_EVENTS_MSG),
    ("fir_design-timeline", lambda: fir_design(NO_EVENTS, GRID), NO_EVENTS_MSG),
    ("lagged_design-timeline", lambda: lagged_design(NO_EVENTS, GRID), NO_EVENTS_MSG),
    ("event_rate_design-timeline", lambda: event_rate_design(Timeline([], []), GRID), NO_EVENTS_MSG),
    ("fir_delays-delays", lambda: fir_delays(DESIGN, []), r"delays_s must be a non-empty"),
    ("lagged_design-designs", lambda: lagged_design({}, None), r"empty dict of designs"),
    ("concatenate-timelines", lambda: concatenate([]), r"empty list of timelines"),
    ("image_stimulus_list-paths", lambda: image_stimulus_list([], []), r"empty list of image files"),
    ("audio_stimulus_list-paths", lambda: audio_stimulus_list([], []), r"empty list of sound files"),
    ("synthetic_speech_timeline-text", lambda: synthetic_speech_timeline("  \n "), r"from empty text"),
    ("load_fmri-imgs", lambda: load_fmri([]), r"No images given"),
    ("load_surface-files", lambda: load_surface([], tr=2.0), r"No GIfTI files given"),
    ("load_roi_timecourses-array", lambda: load_roi_timecourses(np.zeros((0, 2)), 2.0), r"too small: shape \(0, 2\)"),
    ("RidgeEncoder-X", lambda: RidgeEncoder().fit(np.zeros((0, 2)), np.zeros(0)), r"0 sample\(s\)"),
    ("RidgeEncoder-alphas", lambda: RidgeEncoder(alphas=[]).fit(rng.normal(size=(20, 2)), rng.normal(size=20)),
     r"alphas must be positive finite numbers, got \[\]"),
    ("BandedRidgeEncoder-bands", lambda: BandedRidgeEncoder().fit([], np.zeros(3)), r"empty list of bands"),
    ("BandedRidgeEncoder-band-columns", lambda: BandedRidgeEncoder().fit([np.zeros((5, 0)), np.ones((5, 2))], np.ones(5)),
     r"band 0 has 0 columns"),
    ("cross_validate-alphas", lambda: cross_validate(DESIGN, REC, alphas=[]), r"alphas must be positive finite"),
    ("sweep_layers-designs", lambda: sweep_layers({}, REC), r"needs at least one design"),
    ("variance_partitioning-bands", lambda: variance_partitioning({}, REC), r"needs at least two bands"),
    ("LayerSweep-results", lambda: LayerSweep({}), r"needs at least one layer result"),
    ("correlation_score-rows", lambda: correlation_score(np.zeros((0, 2)), np.zeros((0, 2))),
     r"at least 2 samples, got shape \(0, 2\)"),
    ("permutation_pvalues-null", lambda: permutation_pvalues(np.ones(3), np.zeros((0, 3))), r"null has no permutations"),
    ("intersubject_ceiling-recordings", lambda: intersubject_ceiling([]), r"recordings must all have the same shape"),
    ("explainable_variance-repeats", lambda: explainable_variance([]), r"repeats must all have the same shape"),
    ("bootstrap_best_layer_ci-scores", lambda: bootstrap_best_layer_ci(np.zeros((0, 3))), r"shape \(0, 3\)"),
    ("ContiguousBlockCV-samples", lambda: list(ContiguousBlockCV().split(0)), r"0 samples are too few for n_splits=5"),
]


@pytest.mark.parametrize("call, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_empty_input_is_refused(call, match):
    with pytest.raises(BrainalignInputError, match=match):
        call()


def test_empty_files_are_refused(tmp_path):
    (tmp_path / "empty.tsv").write_text("")
    (tmp_path / "header.tsv").write_text("onset\tduration\ttrial_type\n")
    (tmp_path / "empty.TextGrid").write_text("")
    with pytest.raises(BrainalignInputError, match=r"Cannot read table .*empty\.tsv"):
        read_events_tsv(tmp_path / "empty.tsv")
    with pytest.raises(BrainalignInputError, match=r"header\.tsv has no rows"):
        read_events_tsv(tmp_path / "header.tsv")
    with pytest.raises(BrainalignInputError, match=r"empty\.TextGrid ends early"):
        read_textgrid(tmp_path / "empty.TextGrid")
    (tmp_path / "roi.txt").write_text("")
    with pytest.raises(BrainalignInputError, match=r"roi\.txt has no data rows"):
        load_roi_timecourses(tmp_path / "roi.txt", 2.0)


def test_an_empty_timeline_is_allowed_on_its_own():
    # filtering a run can leave no events; only aligning nothing is an error
    assert Timeline([], []).n_events == 0
