"""Inputs of the wrong shape (lengths that disagree, 1-D for 2-D, designs not on the recording) are named.

One family of the input audit (issue #13).
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from brainalign.alignment import lagged_design, trim_edges
from brainalign.core import BrainalignInputError, DesignMatrix, EncodingResult, FeatureSet, Recording, Timeline
from brainalign.encoding import (
    BandedRidgeEncoder,
    RidgeEncoder,
    bootstrap_best_layer_ci,
    correlation_score,
    cross_validate,
    explainable_variance,
    intersubject_ceiling,
    normalize_scores,
    permutation_pvalues,
    r2_score,
)
from brainalign.recordings import KeptTargetsSpace, SurfaceSpace, load_fmri, load_roi_timecourses

# fitting noise to noise puts the alphas at the top of the grid, which warns (not under test here)
pytestmark = pytest.mark.filterwarnings("ignore:.*chosen alpha is the:UserWarning")

rng = np.random.default_rng(0)
TL = Timeline(["a", "b", "c"], [1.0, 3.0, 5.0])
REC = Recording(rng.normal(size=(40, 3)), 2.0)
X, Y = rng.normal(size=(20, 2)), rng.normal(size=20)


def _fitted(n_targets=1):
    y = rng.normal(size=(20, n_targets)) if n_targets > 1 else Y
    return RidgeEncoder(backend="numpy").fit(X, y)


def _bold():
    img = nib.Nifti1Image(rng.normal(size=(4, 4, 4, 30)).astype("float32"), np.eye(4))
    img.header.set_zooms((1, 1, 1, 2.0))
    return img


CASES = [
    ("Recording-1-D", lambda: Recording(np.ones(10), 2.0), r"Recording data must be 2-D .*1-D array of length 10"),
    ("Recording-3-D", lambda: Recording(np.ones((10, 2, 2)), 2.0), r"must be 2-D, got shape \(10, 2, 2\)"),
    ("Recording-runs", lambda: Recording(rng.normal(size=(10, 2)), 2.0, runs=["a"] * 5),
     r"runs has 5 entries but the data has 10"),
    ("Recording-target_names", lambda: Recording(rng.normal(size=(10, 2)), 2.0, target_names=["a"]),
     r"target_names has 1 entries but data columns has 2"),
    ("Recording-interleaved-runs", lambda: Recording(rng.normal(size=(4, 2)), 2.0, runs=["a", "b", "a", "b"]),
     r"rows of run 'a' are not contiguous"),
    ("Timeline-tokens-onsets", lambda: Timeline(["a", "b"], [1.0]), r"tokens has 2 entries but onsets has 1"),
    ("Timeline-2-D-onsets", lambda: Timeline(["a", "b"], [[1.0, 2.0]]), r"onsets must be 1-D, got shape \(1, 2\)"),
    ("Timeline-offsets", lambda: Timeline(["a", "b"], [1.0, 2.0], [1.5]), r"onsets has 2 entries but offsets has 1"),
    ("DesignMatrix-runs", lambda: DesignMatrix(np.ones((4, 1)), ["a"], 2.0), r"design runs has 1 entries"),
    ("DesignMatrix-feature_names", lambda: DesignMatrix(np.ones((4, 2)), None, 2.0, feature_names=["a"]),
     r"feature_names has 1 entries but design columns has 2"),
    ("FeatureSet-rows", lambda: FeatureSet({"l": np.ones((2, 1))}, TL), r"layer 'l' has 2 entries but timeline events has 3"),
    ("FeatureSet-1-D", lambda: FeatureSet({"l": np.ones(3)}, TL), r"layer 'l' must be 2-D"),
    ("cross_validate-design-rows", lambda: cross_validate(DesignMatrix(np.ones((30, 1)), None, 2.0), REC),
     r"design 'features' has 30 rows but the recording has 40 samples"),
    ("cross_validate-array-rows", lambda: cross_validate(np.ones((30, 1)), REC), r"design has shape \(30, 1\)"),
    ("cross_validate-design-runs", lambda: cross_validate(
        DesignMatrix(rng.normal(size=(40, 1)), ["a"] * 20 + ["b"] * 20, 2.0), REC),
     r"has runs \['a', 'b'\] but the recording has \['run-1'\]"),
    ("trim_edges-design-rows", lambda: trim_edges(DesignMatrix(np.ones((30, 1)), None, 2.0), REC, 2),
     r"has 30 rows but the recording has 40"),
    ("lagged_design-design-rows", lambda: lagged_design(DesignMatrix(np.ones((30, 1)), None, 2.0), REC),
     r"has 30 rows but the recording has 40"),
    ("RidgeEncoder-X-y-length", lambda: RidgeEncoder().fit(X, Y[:19]), r"X has 20 samples but y has 19"),
    ("RidgeEncoder-3-D-X", lambda: RidgeEncoder().fit(rng.normal(size=(20, 2, 2)), Y), r"dim 3"),
    ("RidgeEncoder-1-D-X", lambda: RidgeEncoder().fit(Y, Y), r"Reshape your data"),
    ("RidgeEncoder-predict-width", lambda: _fitted().predict(np.ones((3, 3))),
     r"X has 3 features, but RidgeEncoder is expecting 2"),
    ("RidgeEncoder-score-targets", lambda: _fitted(2).score_targets(np.ones((3, 2)), np.ones((3, 3))),
     r"y has 3 target\(s\) but the encoder predicts 2"),
    ("RidgeEncoder-score-rows", lambda: _fitted(2).score(np.ones((3, 2)), np.ones((4, 2))),
     r"y has shape \(4, 2\) but X has 3 samples"),
    ("RidgeEncoder-runs", lambda: RidgeEncoder(backend="numpy").fit(X, Y, runs=["a"] * 10),
     r"runs must give one label per sample \(20\)"),
    ("RidgeEncoder-cv-indices", lambda: RidgeEncoder(cv=[(np.arange(10), np.arange(10, 25))], backend="numpy").fit(X, Y),
     r"inner fold 0 has validation indices outside \[0, 20\)"),
    ("BandedRidgeEncoder-band-rows", lambda: BandedRidgeEncoder().fit([np.ones((20, 2)), np.ones((19, 2))], Y),
     r"all bands must have the same number of samples, got \[20, 19\]"),
    ("correlation_score-shapes", lambda: correlation_score(np.ones((3, 2)), np.ones((3, 1))),
     r"y_true \(3, 2\) vs y_pred \(3, 1\)"),
    ("r2_score-shapes", lambda: r2_score(np.ones((3, 2)), np.ones((4, 2))), r"y_true \(3, 2\) vs y_pred \(4, 2\)"),
    ("permutation_pvalues-shapes", lambda: permutation_pvalues(np.ones(3), np.ones((5, 2))),
     r"null must have shape \(n_permutations, 3\), got \(5, 2\)"),
    ("normalize_scores-shapes", lambda: normalize_scores(np.ones(3), np.ones(4)), r"3 scores per row but 4 ceilings"),
    ("intersubject_ceiling-shapes", lambda: intersubject_ceiling([np.ones((10, 2)), np.ones((9, 2))]),
     r"same shape, got \[\(9, 2\), \(10, 2\)\]"),
    ("explainable_variance-2-D", lambda: explainable_variance(np.ones((10, 2))), r"\(n, n_samples, n_targets\)"),
    ("bootstrap_best_layer_ci-1-D", lambda: bootstrap_best_layer_ci(np.ones(3)), r"\(n_layers, n_targets\)"),
    ("load_roi_timecourses-names", lambda: load_roi_timecourses(rng.normal(size=(10, 2)), 2.0, names=["a"]),
     r"target_names has 1 entries but data columns has 2"),
    ("load_roi_timecourses-runs", lambda: load_roi_timecourses(rng.normal(size=(10, 2)), 2.0, runs=["a"] * 3),
     r"Got 3 run labels for 1 run"),
    ("load_fmri-confound-rows", lambda: load_fmri(_bold(), confounds=np.ones((10, 2))),
     r"confounds of run 'run-1' has 10 rows but the run has 30 samples"),
    ("load_fmri-confound-3-D", lambda: load_fmri(_bold(), confounds=np.ones((30, 2, 2))), r"1-D or 2-D"),
    ("SurfaceSpace-values", lambda: SurfaceSpace([3, 3]).inverse_transform(np.ones(5)), r"Expected 6 values per map"),
    ("KeptTargetsSpace-values", lambda: KeptTargetsSpace(SurfaceSpace([2]), [True, False]).inverse_transform(np.ones(3)),
     r"Got 3 value\(s\) per map but the recording kept 1 of 2 targets"),
    ("EncodingResult-shapes", lambda: EncodingResult(np.ones((2, 3)), np.ones((2, 2)), np.ones((2, 3)), ["a", "b", "c"]),
     r"r, r2 and alphas must have one shape"),
]


@pytest.mark.parametrize("call, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_wrong_shape_is_named(call, match):
    with pytest.raises(BrainalignInputError, match=match):
        call()
