"""Inputs of the wrong type (text for numbers, arrays for objects, lists for mappings) are named.

One family of the input audit (issue #13): none of these may surface as a raw
numpy / pandas traceback (``could not convert string to float``, ``'list'
object has no attribute 'items'``); each is a ``BrainalignInputError`` that
says which argument and what it should be.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from brainalign.alignment import (
    SampleGrid,
    fir_delays,
    fir_design,
    hrf_design,
    lagged_design,
    lanczos_design,
    make_designs,
    trim_edges,
)
from brainalign.core import BrainalignInputError, DesignMatrix, EncodingResult, FeatureSet, Recording, Timeline, save_arrays
from brainalign.encoding import (
    BandedRidgeEncoder,
    ContiguousBlockCV,
    LayerSweep,
    RidgeEncoder,
    autocorrelation_baseline,
    bootstrap_best_layer_ci,
    correlation_score,
    cross_validate,
    explainable_variance,
    fdr,
    intersubject_ceiling,
    permutation_pvalues,
    sweep_layers,
    variance_partitioning,
)
from brainalign.recordings import events_timeline, load_fmri, load_meg_eeg, load_roi_timecourses
from brainalign.stimuli import (
    concatenate,
    image_stimulus_list,
    read_events_tsv,
    synthetic_speech_timeline,
)

rng = np.random.default_rng(0)
TL = Timeline(["a", "b", "c"], [1.0, 3.0, 5.0])
FS = FeatureSet({"layer": rng.normal(size=(3, 2))}, TL)
GRID = SampleGrid({"run-1": 20}, 2.0)
REC = Recording(rng.normal(size=(40, 3)), 2.0)
DESIGN = DesignMatrix(rng.normal(size=(40, 2)), None, 2.0, "d")
X, Y = rng.normal(size=(20, 2)), rng.normal(size=20)

CASES = [
    ("Recording-text-data", lambda: Recording([["a", "b"], ["c", "d"]], 2.0), r"Recording data must hold numbers, got text"),
    ("Recording-object-data", lambda: Recording(np.array([[{}, 1]] * 5, dtype=object), 2.0),
     r"Recording data must hold numbers"),
    ("Recording-complex-data", lambda: Recording(rng.normal(size=(10, 2)) + 1j, 2.0), r"holds complex numbers"),
    ("Recording-text-sampling_period", lambda: Recording(rng.normal(size=(10, 2)), "2.0s"),
     r"sampling_period must be a positive number of seconds, got '2.0s'"),
    ("Recording-kind", lambda: Recording(rng.normal(size=(10, 2)), 2.0, kind="pet"), r"Unknown recording kind 'pet'"),
    ("Timeline-text-onsets", lambda: Timeline(["a"], ["x"]), r"onsets must hold numbers, got text"),
    ("Timeline-dict-onsets", lambda: Timeline(["a"], {"a": 1}), r"onsets must hold numbers"),
    ("Timeline-int-tokens", lambda: Timeline(5, [1.0]), r"tokens must be a sequence with one label per event, got int"),
    ("DesignMatrix-text", lambda: DesignMatrix([["a"], ["b"]], None, 2.0), r"design 'features' must hold numbers"),
    ("DesignMatrix-sparse", lambda: DesignMatrix(sparse.eye(4).tocsr(), None, 2.0), r"sparse matrix.*toarray"),
    ("FeatureSet-list-layers", lambda: FeatureSet([np.ones((3, 1))], TL), r"layers must be a mapping.*got list"),
    ("FeatureSet-text-layer", lambda: FeatureSet({"l": "abc"}, TL), r"layer 'l' must hold numbers"),
    ("FeatureSet-list-timeline", lambda: FeatureSet({"l": np.ones((3, 1))}, [1, 2, 3]), r"Timeline, got list"),
    ("SampleGrid-list", lambda: SampleGrid([10, 20], 2.0), r"run_lengths must map run labels.*got list"),
    ("SampleGrid-text-length", lambda: SampleGrid({"r": "ten"}, 2.0), r"Run 'r': the number of samples must be a whole"),
    ("hrf_design-array-recording", lambda: hrf_design(FS, np.zeros((10, 2))), r"Recording or SampleGrid, got ndarray"),
    ("hrf_design-dict-features", lambda: hrf_design({"l": np.ones((3, 1))}, GRID), r"FeatureSet, got dict"),
    ("hrf_design-hrf_model", lambda: hrf_design(FS, GRID, hrf_model=5), r"Unknown hrf_model 5"),
    ("hrf_design-oversampling", lambda: hrf_design(FS, GRID, oversampling="ten"), r"oversampling must be a positive integer"),
    ("hrf_design-events_as", lambda: hrf_design(FS, GRID, events_as="step"), r"events_as must be 'impulse' or 'boxcar'"),
    ("hrf_design-layers", lambda: hrf_design(FS, GRID, layers=1.5), r"layers must be a layer name.*got float"),
    ("hrf_design-tolerance_s", lambda: hrf_design(FS, GRID, tolerance_s="x"), r"tolerance_s must be a number of seconds"),
    ("lanczos_design-window", lambda: lanczos_design(FS, GRID, window="3"), r"window must be a positive integer"),
    ("lanczos_design-delays", lambda: lanczos_design(FS, GRID, delays="abc"), r"delays \(in samples\) must be integers"),
    ("fir_design-delays_s", lambda: fir_design(FS, GRID, delays_s="abc"), r"delays_s must be a list of delays in seconds"),
    ("fir_delays-array", lambda: fir_delays(np.ones((3, 1))), r"Expected a DesignMatrix, got ndarray"),
    ("lagged_design-tmin", lambda: lagged_design(DESIGN, tmin="a", tmax=1.0), r"tmin must be a finite number"),
    ("lagged_design-list", lambda: lagged_design([DESIGN]), r"expects a FeatureSet, a DesignMatrix or a dict"),
    ("make_designs-method", lambda: make_designs(FS, GRID, method=3), r"Unknown design method 3"),
    ("trim_edges-n", lambda: trim_edges(DESIGN, REC, "two"), r"n must be a number of samples >= 0, got 'two'"),
    ("trim_edges-array", lambda: trim_edges(np.ones((40, 1)), REC, 2), r"DesignMatrix or a dict of DesignMatrix"),
    ("read_events_tsv-int-path", lambda: read_events_tsv(5), r"table path must be a str or path-like"),
    ("concatenate-strings", lambda: concatenate(["a", "b"]), r"Can only concatenate Timelines, got \['str', 'str'\]"),
    ("image_stimulus_list-onsets", lambda: image_stimulus_list(["a.png"], ["x"], check_exists=False),
     r"onsets must hold numbers"),
    ("image_stimulus_list-durations", lambda: image_stimulus_list(["a.png"], [0.0], "x", check_exists=False),
     r"durations must be seconds"),
    ("synthetic_speech_timeline-text", lambda: synthetic_speech_timeline(5), r"text must be a str.*got int"),
    ("load_fmri-int", lambda: load_fmri(5), r"fMRI image must be a path or a nibabel image, got int"),
    ("load_roi_timecourses-text", lambda: load_roi_timecourses([["a", "b"]] * 3, 2.0), r"must hold numbers"),
    ("load_meg_eeg-int", lambda: load_meg_eeg(5), r"Expected an mne Raw or a file path, got int"),
    ("events_timeline-int", lambda: events_timeline(5), r"needs an mne Raw with annotations, got int"),
    ("cross_validate-cv", lambda: cross_validate(DESIGN, REC, cv="loro"), r"cv must be 'auto', an int or a splitter"),
    ("cross_validate-estimator", lambda: cross_validate(DESIGN, REC, estimator="lasso"), r"estimator must be"),
    ("cross_validate-gap_s", lambda: cross_validate(DESIGN, REC, gap_s="1"), r"gap_s must be a number of seconds"),
    ("cross_validate-n_permutations", lambda: cross_validate(DESIGN, REC, n_permutations="10"),
     r"n_permutations must be an int"),
    ("cross_validate-inner_cv", lambda: cross_validate(DESIGN, REC, inner_cv="5"), r"inner_cv must be an int"),
    ("cross_validate-design-text", lambda: cross_validate("abc", REC), r"design must hold numbers"),
    ("RidgeEncoder-alphas", lambda: RidgeEncoder(alphas="abc").fit(X, Y), r"alphas must be positive finite numbers"),
    ("RidgeEncoder-cv", lambda: RidgeEncoder(cv="abc").fit(X, Y), r"cv must be an int >= 2 or a sequence"),
    ("RidgeEncoder-y-text", lambda: RidgeEncoder().fit(X[:3], ["a", "b", "c"]), r"RidgeEncoder:"),
    ("RidgeEncoder-sparse", lambda: RidgeEncoder().fit(sparse.eye(20).tocsr(), Y), r"[Ss]parse"),
    ("RidgeEncoder-n_targets_batch", lambda: RidgeEncoder(n_targets_batch="x", backend="numpy").fit(X, Y),
     r"n_targets_batch must be a positive integer"),
    ("BandedRidgeEncoder-n_iter", lambda: BandedRidgeEncoder(n_iter="x").fit(X, Y), r"n_iter must be a positive int"),
    ("BandedRidgeEncoder-band_sizes", lambda: BandedRidgeEncoder(band_sizes="ab").fit(X, Y), r"band_sizes must be"),
    ("BandedRidgeEncoder-solver", lambda: BandedRidgeEncoder(solver="svd").fit(X, Y), r"solver must be"),
    ("ContiguousBlockCV-n_splits", lambda: list(ContiguousBlockCV("5").split(20)), r"n_splits must be an int"),
    ("correlation_score-text", lambda: correlation_score("a", "b"), r"y_true must hold numbers"),
    ("fdr-text", lambda: fdr("abc"), r"p_values must hold numbers"),
    ("fdr-alpha", lambda: fdr(np.array([0.1, 0.2]), alpha="x"), r"alpha \(the false discovery rate\)"),
    ("permutation_pvalues-text", lambda: permutation_pvalues("a", "b"), r"observed must hold numbers"),
    ("explainable_variance-text", lambda: explainable_variance("abc"), r"repeats must be a list"),
    ("intersubject_ceiling-item", lambda: intersubject_ceiling([np.ones((10, 2)), "x"]), r"recordings item 1"),
    ("bootstrap_best_layer_ci-text", lambda: bootstrap_best_layer_ci("abc"), r"score_matrix must hold numbers"),
    ("autocorrelation_baseline-array", lambda: autocorrelation_baseline(np.zeros((10, 2))),
     r"must be a brainalign Recording, got ndarray"),
    ("sweep_layers-list", lambda: sweep_layers([DESIGN], REC), r"dict of layer name to design, got list"),
    ("variance_partitioning-list", lambda: variance_partitioning([DESIGN, DESIGN], REC), r"dict of band name"),
    ("LayerSweep-list", lambda: LayerSweep([1, 2]), r"mappings of name to EncodingResult"),
    ("EncodingResult-text", lambda: EncodingResult("a", "b", "c", ["x"]), r"r must hold numbers"),
    ("save_arrays-list", lambda: save_arrays("x.npz", [1, 2]), r"mapping of name to array, got list"),
]


@pytest.mark.parametrize("call, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_wrong_type_is_named(call, match):
    with pytest.raises(BrainalignInputError, match=match):
        call()


def test_sparse_input_to_the_encoders_is_also_a_type_error():
    # scikit-learn's own checks expect TypeError for sparse / object input; ours is both
    with pytest.raises(TypeError, match="dense data is required"):
        RidgeEncoder().fit(sparse.eye(20).tocsr(), Y)


def test_non_numeric_word_table_names_the_row(tmp_path):
    from brainalign.stimuli import read_word_table

    (tmp_path / "words.csv").write_text("word,onset,offset\na,1,2\nb,x,3\n")
    with pytest.raises(BrainalignInputError, match=r"column 'onset' must be numeric \(seconds\); row 2 holds 'x'"):
        read_word_table(tmp_path / "words.csv")


def test_non_image_file_is_named(tmp_path):
    (tmp_path / "words.csv").write_text("word,onset\na,1\n")
    with pytest.raises(BrainalignInputError, match=r"Cannot read fMRI image .*words\.csv"):
        load_fmri(tmp_path / "words.csv")


def test_meg_eeg_arguments_of_the_wrong_type():
    import mne

    from brainalign.recordings import epochs_recording

    info = mne.create_info(3, 100.0, "eeg")
    epochs = mne.EpochsArray(rng.normal(size=(5, 3, 50)), info, verbose="error")
    with pytest.raises(BrainalignInputError, match=r"window must be \(start, stop\) in seconds, got \('a', 1\)"):
        epochs_recording(epochs, window=("a", 1))
    with pytest.raises(BrainalignInputError, match=r"picks='meg' selects no channel of the epochs"):
        epochs_recording(epochs, picks="meg")
    raw = mne.io.RawArray(rng.normal(size=(3, 1000)), info, verbose="error")
    with pytest.raises(BrainalignInputError, match=r"regexp '\[' is not a valid regular expression"):
        events_timeline(raw, regexp="[")
