"""Model comparison per target: calibration on a null simulation, power on a planted difference, criteria."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from brainalign.core import BrainalignInputError, Recording
from brainalign.encoding import (
    compare_models,
    composite_sites,
    cross_validate,
    cross_validate_models,
    winners_per_region,
)


def _two_model_sim(n_null=200, n_planted=0, n=600, seed=0):
    """Targets driven equally by features A and B (null: neither model better), plus targets where A adds."""
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(n, 4)), rng.normal(size=(n, 4))
    n_t = n_null + n_planted

    def unit(w):  # equal explained variance from A and B in every target: the per-target null holds exactly
        return w / np.linalg.norm(w, axis=0)

    Y = 0.5 * A @ unit(rng.normal(size=(4, n_t))) + 0.5 * B @ unit(rng.normal(size=(4, n_t)))
    Y += rng.normal(size=(n, n_t))
    Y[:, n_null:] += 1.2 * A @ unit(rng.normal(size=(4, n_planted)))
    rec = Recording(Y, sampling_period=0.1, target_names=[f"t{i}" for i in range(n_t)])
    return A, B, rec


@pytest.fixture(scope="module")
def null_and_planted():
    A, B, rec = _two_model_sim(n_null=200, n_planted=40)
    results = cross_validate_models({"a": A, "b": B}, rec, backend="numpy")
    return rec, results, compare_models(results, rec, [("a", "b")], n_bootstraps=500, seed=1)


def test_false_positive_rate_is_nominal_on_null_targets(null_and_planted):
    # targets of one simulation share the model features, so their tests are correlated: pool 5 independent
    # simulations (1000 null targets); benchmarks/model_comparison_calibration.py measures 2000
    n_fp, n_fdr = 0, 0
    for seed in range(5):
        A, B, rec = _two_model_sim(n_null=200, seed=seed)
        results = cross_validate_models({"a": A, "b": B}, rec, backend="numpy")
        table = compare_models(results, rec, [("a", "b")], n_bootstraps=500, seed=1)
        n_fp += int((table["p"] < 0.05).sum())
        n_fdr += int((table["p_fdr"] < 0.05).sum())
    # compatible with 0.05: two-sided binomial test at 1 %
    assert binomtest(n_fp, 1000, 0.05).pvalue > 0.01, f"null false-positive rate {n_fp / 1000:.3f}"
    # after FDR almost nothing survives among null targets
    assert n_fdr <= 10


def test_power_on_planted_difference(null_and_planted):
    _, _, table = null_and_planted
    planted = table.iloc[200:]
    assert (planted["p_fdr"] < 0.05).mean() >= 0.9
    assert (planted["ci_low"] > 0).mean() >= 0.9
    # the report's reading of the table: a wins the planted targets, b wins none
    from brainalign.report import model_comparison_summary

    summary = model_comparison_summary(table).iloc[0]
    assert summary["A wins"] >= 36 and summary["B wins"] <= 2  # b wins only FDR false positives
    # the point estimate sits inside its percentile interval
    assert ((table["ci_low"] <= table["difference"]) & (table["difference"] <= table["ci_high"])).all()


def test_reversed_comparison_and_one_sided_alternative(null_and_planted):
    rec, results, table = null_and_planted
    reverse = compare_models(results, rec, [("b", "a")], n_bootstraps=500, seed=1)
    # the same resamples: the reversed table mirrors the first one, and b wins nowhere
    assert np.allclose(reverse["difference"], -table["difference"])
    assert np.allclose(reverse["p"], table["p"])
    assert ((reverse["ci_high"] < 0) == (table["ci_low"] > 0)).all()
    b_sites = composite_sites(reverse, winner="b", against=["a"])["site"]
    assert b_sites.sum() <= 2 and not b_sites.iloc[200:].any()  # FDR false positives among null targets at most
    # one-sided "b beats a" finds nothing where a is better
    greater = compare_models(results, rec, [("b", "a")], n_bootstraps=200, seed=1, alternative="greater")
    assert (greater.iloc[200:]["p_fdr"] < 0.05).sum() == 0


def test_integration_criterion_finds_interaction_targets_only():
    """Targets driven by an image x text interaction need the multimodal features; additive ones do not."""
    rng = np.random.default_rng(3)
    n = 800
    img, txt = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    inter = img * txt  # what a multimodal model sees and no linear mixture of the unimodal features gives
    multi = np.hstack([img, txt, inter])
    Y = np.empty((n, 30))
    Y[:, :10] = inter @ rng.normal(size=(3, 10)) + img @ rng.normal(size=(3, 10)) * 0.3  # integration sites
    Y[:, 10:20] = img @ rng.normal(size=(3, 10))  # visual only
    Y[:, 20:] = img @ rng.normal(size=(3, 10)) + txt @ rng.normal(size=(3, 10))  # additive: vit+bert suffices
    Y += 1.5 * rng.normal(size=Y.shape)
    rec = Recording(Y, sampling_period=0.1, target_names=[f"e{i}" for i in range(30)])
    results = cross_validate_models({"clip": multi, "vit": img, "bert": txt}, rec,
                                    combinations={"vit+bert": ["vit", "bert"]}, backend="numpy")
    crit = {"integration": {"multimodal": "clip", "against": ["vit", "bert", "vit+bert"]}}
    table = compare_models(results, rec, criteria=crit, n_bootstraps=300)
    sites = composite_sites(table, "integration")
    assert sites["site"].iloc[:10].sum() >= 9
    assert sites["site"].iloc[10:].sum() <= 1
    regions = {f"e{i}": ("planted" if i < 10 else "other") for i in range(30)}
    counts = winners_per_region(table, regions, sites=sites).set_index(["region", "comparison"])
    assert counts.loc[("planted", "criterion"), "n_significant"] >= 9
    # the additive targets are won by clip over vit and bert but not over their combination
    additive = table[(table["target"].isin([f"e{i}" for i in range(20, 30)]))]
    assert (additive[additive["model_b"] == "vit"]["p_fdr"] < 0.05).mean() >= 0.8
    vs_combination = additive[additive["model_b"] == "vit+bert"]
    assert ((vs_combination["p_fdr"] < 0.05) & (vs_combination["difference"] > 0)).sum() <= 1


def test_bad_inputs_name_the_problem():
    A, B, rec = _two_model_sim(n_null=5, n=300)
    res = cross_validate_models({"a": A, "b": B}, rec, backend="numpy")
    with pytest.raises(BrainalignInputError, match="not among the models"):
        compare_models(res, rec, [("a", "c")])
    with pytest.raises(BrainalignInputError, match="at least two models"):
        compare_models({"a": res["a"]}, rec)
    plain = cross_validate(A, rec, backend="numpy")
    with pytest.raises(BrainalignInputError, match="return_predictions=True"):
        compare_models({"a": res["a"], "p": plain}, rec, [("a", "p")])
    other = cross_validate(B, rec, backend="numpy", cv=3, return_predictions=True)
    with pytest.raises(BrainalignInputError, match="different folds"):
        compare_models({"a": res["a"], "o": other}, rec, [("a", "o")])
    with pytest.raises(BrainalignInputError, match="against"):
        compare_models(res, rec, criteria={"x": {"multimodal": "a"}})
    with pytest.raises(BrainalignInputError, match="not among the designs"):
        cross_validate_models({"a": A, "b": B}, rec, combinations={"a+z": ["a", "z"]})
    with pytest.raises(BrainalignInputError, match="no label"):
        winners_per_region(pd.DataFrame({"model_a": "a", "model_b": "b", "target": ["t0"], "p_fdr": [0.1]}), {})


def test_per_fold_scores_mode_is_calibrated_and_detects_a_planted_difference():
    n_fp = 0
    for seed in range(3):
        A, B, rec = _two_model_sim(n_null=200, n_planted=40, n=720, seed=seed)
        rec = Recording(rec.data, 0.1, np.repeat([f"run-{i:02d}" for i in range(12)], 60), rec.target_names)
        # plain per-fold scores, as read back from a results folder: no predictions
        results = {name: cross_validate(X, rec, backend="numpy") for name, X in (("a", A), ("b", B))}
        table = compare_models(results, rec, [("a", "b")], resample="folds")
        n_fp += int((table["p"].iloc[:200] < 0.05).sum())
        assert (table["p_fdr"].iloc[200:] < 0.05).mean() >= 0.9
        # the t interval and the two-sided p agree
        assert (((table["ci_low"] > 0) | (table["ci_high"] < 0)) == (table["p"] < 0.05)).all()
    assert binomtest(n_fp, 600, 0.05).pvalue > 0.01, f"null false-positive rate {n_fp / 600:.3f}"
    with pytest.raises(BrainalignInputError, match="'rows'"):
        compare_models(results, rec, [("a", "b")], resample="blocks")


def test_saved_comparison_is_read_back_by_the_report(tmp_path, null_and_planted):
    from brainalign.encoding import save_comparison
    from brainalign.report import comparison_html

    _, _, table = null_and_planted
    path = save_comparison(table, tmp_path, "ab")
    assert path.name == "model_comparison_ab.tsv"
    back = pd.read_csv(path, sep="\t")
    assert np.allclose(back["p_fdr"], table["p_fdr"]) and list(back["target"]) == list(table["target"])
    assert "a minus b" in comparison_html(back)
    with pytest.raises(BrainalignInputError, match="missing"):
        save_comparison(table.drop(columns=["p_fdr"]), tmp_path)


def test_target_batches_share_the_resamples(monkeypatch, null_and_planted):
    import brainalign.encoding._compare as compare_module

    rec, results, table = null_and_planted
    monkeypatch.setattr(compare_module, "_BATCH_BYTES", 8 * 500 * 8 * 7)  # 7 targets per batch
    batched = compare_models(results, rec, [("a", "b")], n_bootstraps=500, seed=1)
    for column in ("p", "ci_low", "ci_high", "p_fdr"):
        assert np.array_equal(batched[column], table[column])
