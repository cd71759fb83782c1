"""The estimator protocol, its registry, bands on designs, scikit-learn splitters and the encoding cell (issue #17)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.model_selection import GroupKFold

from brainalign.core import Band, BrainalignInputError, DesignMatrix, Recording, seconds_to_samples
from brainalign.encoding import (
    GatedPCREncoder,
    LayerSweep,
    cross_validate,
    default_gap_s,
    estimator_options,
    estimator_options_model,
    gain_test,
    make_estimator,
    register_estimator,
    sweep_layers,
)


class FixedRidge(BaseEstimator):
    """A toy estimator written against the protocol only: ridge with one fixed penalty, no inner CV."""

    def __init__(self, *, lam=1.0):
        self.lam = lam

    def fit(self, X, Y, *, bands=None, groups=None, gap=0):
        X, Y = np.asarray(X, float), np.asarray(Y, float)
        self.x_mean_, self.y_mean_ = X.mean(0), Y.mean(0)
        Xc = X - self.x_mean_
        self.coef_ = np.linalg.solve(Xc.T @ Xc + self.lam * np.eye(X.shape[1]), Xc.T @ (Y - self.y_mean_))
        self.fit_info_ = {"alphas": np.full(Y.shape[1], float(self.lam)), "n_bands": np.full(Y.shape[1], len(bands))}
        return self

    def predict(self, X):
        return (np.asarray(X, float) - self.x_mean_) @ self.coef_ + self.y_mean_


register_estimator("toy-ridge", FixedRidge)  # the one line a new estimator needs


def _problem(seed=0, n=240, runs=None):
    rng = np.random.default_rng(seed)
    signal, noise, rate = rng.normal(size=(n, 5)), rng.normal(size=(n, 5)), rng.normal(size=(n, 1))
    Y = signal @ rng.normal(size=(5, 4)) + rate + rng.normal(size=(n, 4))
    rec = Recording(Y, 2.0, runs, target_names=["LATL", "RATL", "LPTL", "LIFG"], kind="roi")
    return signal, noise, rate, rec


def test_toy_estimator_runs_through_cross_validate_and_sweep_layers():
    signal, noise, rate, rec = _problem()
    res = cross_validate(signal, rec, estimator="toy-ridge", lam=10.0)
    assert (res.mean_r > 0.4).all() and (res.alphas == 10.0).all()
    assert res.config["estimator"] == "toy-ridge" and res.config["lam"] == 10.0
    assert res.metadata["estimator"]["params"] == {"lam": 10.0}
    assert res.metadata["n_bands"] == [[1.0] * 4] * 5  # fit_info_ recorded per fold
    # the object itself works the same, and an option of another estimator is refused by name
    same = cross_validate(signal, rec, estimator=FixedRidge(lam=10.0))
    np.testing.assert_array_equal(same.r, res.r)
    with pytest.raises(BrainalignInputError, match="'one_se' does not apply to estimator 'toy-ridge'; it belongs "
                                                   "to 'stacked'"):
        cross_validate(signal, rec, estimator="toy-ridge", one_se=1.0)
    sweep = sweep_layers({"noise": noise, "signal": signal}, rec, baseline=rate, estimator="toy-ridge", lam=10.0,
                         gain_bootstraps=100)
    assert sweep.best_layer().tolist() == ["signal"] * 4
    gains = sweep.gain_table()
    assert (gains[gains.layer == "signal"]["ci_low"] > 0.1).all()
    assert sweep.config["baseline_combination"] == "toy-ridge"
    assert sweep.results["signal"].metadata["n_bands"][0] == [2.0] * 4  # baseline + layer
    # an estimator object goes through the sweep as its registered name does
    by_object = sweep_layers({"noise": noise, "signal": signal}, rec, baseline=rate, estimator=FixedRidge(lam=10.0),
                             gain_bootstraps=100)
    pd.testing.assert_frame_equal(by_object.gain_table(), gains)


def test_toy_estimator_runs_through_encode_and_a_study(tmp_path, minilm_dir):
    from brainalign.cli import main as cli_main

    signal, noise, rate, rec = _problem()
    np.save(tmp_path / "signal.npy", signal)
    np.save(tmp_path / "noise.npy", noise)
    np.savetxt(tmp_path / "rate.txt", rate)
    pd.DataFrame(rec.data, columns=rec.target_names).to_csv(tmp_path / "rois.tsv", sep="\t", index=False)
    out = tmp_path / "encode"
    assert cli_main(["-q", "encode", "--designs", str(tmp_path / "noise.npy"), str(tmp_path / "signal.npy"),
                     "--recording", str(tmp_path / "rois.tsv"), "--tr", "2", "--clean", "none", "--baseline",
                     str(tmp_path / "rate.txt"), "--estimator", "toy-ridge", "-o", str(out)]) == 0
    sweep = LayerSweep.load(out)
    assert sweep.best_layer().tolist() == ["signal"] * 4
    assert sweep.results["signal"].config["estimator"] == "toy-ridge"

    words = "the cat sat on the mat and then the dog ran after a bird in the garden".split() * 4
    onsets = np.arange(len(words)) * 1.3 + 2.0
    pd.DataFrame({"token": words, "onset": onsets, "offset": onsets + 0.4}).to_csv(
        tmp_path / "words.tsv", sep="\t", index=False)
    n = int(np.ceil((onsets[-1] + 16) / 2.0))
    np.savetxt(tmp_path / "bold.txt", np.random.default_rng(1).normal(size=(n, 3)))
    config = {"output": "study", "stimulus": {"words": "words.tsv"},
              "recording": {"files": ["bold.txt"], "tr": 2.0, "clean": "zscore"},
              "features": {"model": str(minilm_dir), "layers": ["embeddings"], "context_tokens": 8},
              "baseline": {"word_rate": True},
              "encoding": {"estimator": "toy-ridge", "lam": 100.0, "gap_s": 6.0, "gain_bootstraps": 50,
                           # any scikit-learn splitter, named in the TOML / JSON
                           "cv": {"splitter": "sklearn.model_selection:KFold", "n_splits": 3}}}
    (tmp_path / "study.json").write_text(json.dumps(config))
    assert cli_main(["-q", "run", str(tmp_path / "study.json")]) == 0
    cell = LayerSweep.load(next((tmp_path / "study").glob("*/sub-01")))
    result = cell.results["embeddings"]
    assert result.config["estimator"] == "toy-ridge" and (result.alphas == 100.0).all()
    assert result.config["cv"].startswith("KFold(n_splits=3") and result.r.shape == (3, 3)
    assert len(cell.gain_table()) == 3


def test_registry_options_models_and_refusals():
    assert {"ridge", "banded", "stacked", "pcr", "toy-ridge"} <= set(estimator_options("pcr")) | {
        "ridge", "banded", "stacked", "pcr", "toy-ridge"}
    assert estimator_options("pcr") == {"alphas": None, "inner_cv": 5, "n_components": "auto", "gate_se": 1.0,
                                        "n_targets_batch": None, "backend": "auto"}
    model = estimator_options_model("stacked")
    assert model(one_se=2).one_se == 2.0
    with pytest.raises(Exception, match="gate_se"):
        model(gate_se=1.0)  # an option of pcr, not of stacked
    with pytest.raises(BrainalignInputError, match="did you mean 'pcr'"):
        make_estimator("pca")
    with pytest.raises(BrainalignInputError, match="already registered"):
        register_estimator("pcr", FixedRidge)
    enc = make_estimator(GatedPCREncoder(gate_se=2.0), n_components=[2])
    assert (enc.gate_se, enc.n_components) == (2.0, [2])


def test_bands_keep_their_delays_through_stacking_and_give_the_gap():
    runs = None
    a = DesignMatrix(np.ones((50, 2)), runs, 0.01, "rate")
    b = DesignMatrix(np.ones((50, 3)), runs, 0.01, "layer", metadata={"lags_samples": [0, 10, 30]})
    stacked = DesignMatrix.stack([a, b])
    assert [(x.name, x.n_features, x.delays_s) for x in stacked.bands] == [("rate", 2, ()), ("layer", 3, (0.0, 0.1, 0.3))]
    rng = np.random.default_rng(0)
    meg = Recording(rng.normal(size=(50, 2)), 0.01, kind="meg")
    # M/EEG: the largest history of the bands (1 s for a band without lags), unchanged by stacking
    assert default_gap_s(stacked, meg) == max(default_gap_s(a, meg), default_gap_s(b, meg)) == 1.0
    assert default_gap_s(b, meg) == pytest.approx(0.3)
    fmri = Recording(rng.normal(size=(50, 2)), 2.0, kind="fmri")
    long = DesignMatrix(np.ones((50, 2)), runs, 2.0, "fir", metadata={"delays_s": [2.0, 30.0]})
    assert default_gap_s(DesignMatrix.stack([DesignMatrix(np.ones((50, 1)), runs, 2.0, "x"), long]), fmri) == 32.0
    assert seconds_to_samples(20.0, 2.0) == 10 and seconds_to_samples(20.5, 2.0) == 11
    assert stacked.as_one_band("baseline").bands == (Band("baseline", 5, (0.0, 0.1, 0.3)),)
    with pytest.raises(BrainalignInputError, match=r"bands have \[2\] columns"):
        DesignMatrix(np.ones((5, 3)), None, 1.0, "x", bands=(Band("x", 2),))


def test_any_scikit_learn_splitter_is_accepted():
    signal, noise, rate, rec = _problem(n=240, runs=np.repeat(["r1", "r2", "r3", "r4"], 60))
    res = cross_validate(signal, rec, cv=GroupKFold(n_splits=2), backend="numpy", return_predictions=True)
    assert len(res.folds) == 2
    for test in res.folds:  # GroupKFold keeps runs whole: every test fold is two complete runs
        assert len(set(rec.runs[test])) == 2 and test.size == 120
    sweep = sweep_layers({"signal": signal}, rec, baseline=rate, cv=GroupKFold(n_splits=2), backend="numpy",
                         gain_bootstraps=50)
    assert sweep.results["signal"].r.shape == (2, 4) and (sweep.gain_table()["gain"] > 0.2).all()


def test_the_short_fold_rule_of_the_gain_test():
    """The default block (the CV gap) is shrunk to half the shortest test fold; a block the caller
    chose is never changed, a fold too short for it is an error."""
    signal, noise, rate, rec = _problem(n=120)
    # 12 blocks of 10 scans with a 20 s (10-scan) gap: default blocks of 10 scans do not fit twice
    sweep = sweep_layers({"signal": signal}, rec, baseline=rate, cv=12, backend="numpy", gain_bootstraps=50,
                         autocorrelation=False)
    test = sweep.results["signal"].metadata["gain_test"]
    assert test["block_shrunk"] and test["block_samples"] == 5 and test["block_s"] == 20.0
    result = cross_validate(signal, rec, baseline=rate, cv=12, backend="numpy", return_predictions=True)
    base = cross_validate(rate, rec, cv=12, backend="numpy", return_predictions=True)
    assert gain_test(result, base, rec, n_bootstraps=50)["block_samples"] == 5
    with pytest.raises(BrainalignInputError, match="Test fold 0 has 10 samples, fewer than two bootstrap blocks"):
        gain_test(result, base, rec, n_bootstraps=50, block_s=12.0)
    # the same layer scores the same through cross_validate(baseline=) and sweep_layers
    np.testing.assert_array_equal(result.r, sweep.results["signal"].r)


def test_the_old_positional_runs_argument_is_refused_not_ignored():
    from brainalign.encoding import ContiguousBlockCV

    runs = np.repeat(["a", "b"], 10)
    with pytest.raises(BrainalignInputError, match="run labels go in groups="):
        list(ContiguousBlockCV(2, gap=1).split(20, runs))
    folds = list(ContiguousBlockCV(2, gap=1).split(np.zeros((20, 1)), groups=runs))
    assert [te.tolist() for _, te in folds] == [list(range(10)), list(range(10, 20))]
