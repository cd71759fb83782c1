"""Localizer stimuli, minimal pairs and the unit-selection statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from brainalign.core import BrainalignInputError
from brainalign.localize import (
    LocalizerStimuli,
    MinimalPair,
    UnitMask,
    builtin_minimal_pairs,
    language_localizer,
    load_blimp_jsonl,
    load_fedorenko2010,
    multiple_demand_localizer,
    n_to_select,
    theory_of_mind_localizer,
)
from brainalign.localize._mask import select_units, welch_t
from brainalign.localize._stimuli import FEDORENKO2010_FILES, LEXICON


def test_fedorenko2010_real_files(shared_data):
    stim = load_fedorenko2010(shared_data / "fedorenko2010_langloc")
    assert stim.n_per_condition == 240 and stim.labels == ("sentences", "non-words")
    assert stim.condition_a[0] == "just the barest suggestion of a heel is found on teenage pumps"
    assert all(len(s.split()) == 12 for s in stim.texts)
    assert set(stim.metadata["sha256"]) == set(FEDORENKO2010_FILES)
    original = load_fedorenko2010(shared_data / "fedorenko2010_langloc", case="original")
    assert original.condition_b[0].isupper()
    assert language_localizer(shared_data / "fedorenko2010_langloc").content_hash == stim.content_hash


def test_fedorenko2010_bad_files(shared_data, tmp_path):
    src = shared_data / "fedorenko2010_langloc" / "langloc_fmri_run1_stim_set1.csv"
    (tmp_path / src.name).write_text(src.read_text().replace("HEEL", "HEAL"))
    with pytest.raises(BrainalignInputError, match="SHA-256"):
        load_fedorenko2010(tmp_path)
    assert load_fedorenko2010(tmp_path, check_hashes=False).n_per_condition == 24
    (tmp_path / src.name).unlink()
    (tmp_path / "langloc_fmri_run9_stim_set1.csv").write_text("stim1,stim2\n1,HELLO\n")
    with pytest.raises(BrainalignInputError, match="stim14"):
        load_fedorenko2010(tmp_path)
    with pytest.raises(BrainalignInputError, match="does not exist"):
        load_fedorenko2010(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BrainalignInputError, match="No langloc"):
        load_fedorenko2010(tmp_path / "empty")


def test_builtin_language_localizer_is_seeded():
    a, b = language_localizer(seed=0, n=30), language_localizer(seed=0, n=30)
    assert a.texts == b.texts and a.content_hash == b.content_hash
    assert language_localizer(seed=1, n=30).texts != a.texts
    assert all(len(s.split()) == 12 for s in a.texts)
    nonwords = {w for s in a.condition_b for w in s.split()}
    assert not nonwords & set(LEXICON)
    assert {w for s in a.condition_a for w in s.split()} <= set(LEXICON)


def test_condition_errors(tmp_path):
    with pytest.raises(BrainalignInputError, match="same number"):
        LocalizerStimuli("x", ["a b", "c d"], ["e f"])
    with pytest.raises(BrainalignInputError, match="empty"):
        LocalizerStimuli("x", [], [])
    with pytest.raises(BrainalignInputError, match="empty string"):
        LocalizerStimuli("x", ["a", "  "], ["b", "c"])
    with pytest.raises(BrainalignInputError, match="single string"):
        LocalizerStimuli("x", "abc", ["b"])


def test_multiple_demand_and_theory_of_mind(tmp_path):
    md = multiple_demand_localizer(seed=3, n=20)
    assert md.labels == ("hard", "easy") and md.n_per_condition == 20
    assert md.texts == multiple_demand_localizer(seed=3, n=20).texts
    assert all(len(s.split()) == 6 and s.endswith("=") for s in md.texts)
    hard = [int(x) for s in md.condition_a for x in s.split()[::2][:3]]
    assert min(hard) >= 11
    belief, photo = tmp_path / "belief.txt", tmp_path / "photo.txt"
    belief.write_text("Sally puts the ball in the basket.\nShe leaves.\n\n\nAnne moves the ball.\n")
    photo.write_text("A photo shows the ball in the basket.\n\nThe map shows a road.\n")
    tom = theory_of_mind_localizer(belief, photo)
    assert tom.condition_a == ["Sally puts the ball in the basket. She leaves.", "Anne moves the ball."]
    photo.write_text("Only one story.\n")
    with pytest.raises(BrainalignInputError, match="same number"):
        theory_of_mind_localizer(belief, photo)
    photo.write_text("\n\n")
    with pytest.raises(BrainalignInputError, match="no stories"):
        theory_of_mind_localizer(belief, photo)


def test_minimal_pairs(tmp_path):
    pairs = builtin_minimal_pairs(5, seed=0)
    assert len(pairs) == 15 and all(p.good != p.bad for p in pairs)
    assert all(len(p.good.split()) == len(p.bad.split()) for p in pairs)
    path = tmp_path / "blimp.jsonl"
    lines = [{"sentence_good": "The cats sleep.", "sentence_bad": "The cats sleeps.", "UID": "sva"}] * 3
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    loaded = load_blimp_jsonl(path)
    assert loaded == [MinimalPair("The cats sleep.", "The cats sleeps.", "sva")] * 3
    assert len(load_blimp_jsonl(path, limit=2)) == 2
    path.write_text('{"sentence_good": "A."}\n')
    with pytest.raises(BrainalignInputError, match="sentence_bad"):
        load_blimp_jsonl(path)


def test_welch_t_matches_scipy_and_degenerate_units(rng):
    a, b = rng.normal(1, 1, size=(30, 5)), rng.normal(0, 2, size=(30, 5))
    t, p = welch_t(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    np.testing.assert_allclose(t, ref.statistic)
    np.testing.assert_allclose(p, ref.pvalue)
    const_a, const_b = np.ones((10, 3)), np.zeros((10, 3))
    const_b[:, 2] = 1
    t, p = welch_t(const_a, const_b)
    assert np.isposinf(t[0]) and p[0] == 0 and np.isnan(t[2]) and p[2] == 1


def test_selection_counts_and_rounding():
    assert n_to_select(0.01, 6 * 384) == 23 and n_to_select(0.01, 10) == 1 and n_to_select(0.5, 5) == 3
    t = {"layer.0": np.array([5.0, 1.0, np.nan, 2.0]), "layer.1": np.array([4.0, 3.0, -1.0, 0.0])}
    p = {k: stats.t.sf(np.nan_to_num(v), 10) for k, v in t.items()}
    sel = select_units(t, p, fraction=0.25)
    assert sel["layer.0"].tolist() == [True, False, False, False] and sel["layer.1"].tolist() == [True] + [False] * 3
    per = select_units(t, p, fraction=0.5, scope="per_layer")
    assert per["layer.0"].tolist() == [True, False, False, True] and per["layer.1"].sum() == 2
    fdr = select_units(t, p, fraction=1.0, fdr_alpha=0.05)
    assert fdr["layer.0"][0] and not fdr["layer.0"][2] and not fdr["layer.1"][2]
    with pytest.raises(BrainalignInputError, match="scope"):
        select_units(t, p, scope="layer")
    with pytest.raises(BrainalignInputError, match="has 3 units"):
        UnitMask({"layer.0": np.ones(4, bool)}, {"layer.0": np.ones(3)}, {"layer.0": np.ones(4)})


def test_fetch_fedorenko2010_keeps_verified_local_copy(shared_data, tmp_path):
    import shutil

    from brainalign.localize import fetch_fedorenko2010

    target = tmp_path / "fedorenko2010_langloc"
    shutil.copytree(shared_data / "fedorenko2010_langloc", target)
    before = {p.name: p.stat().st_mtime_ns for p in target.iterdir()}
    # every file is present with its published hash, so nothing is downloaded (this runs offline)
    assert fetch_fedorenko2010(tmp_path, base_url="http://invalid.invalid/") == target
    assert {p.name: p.stat().st_mtime_ns for p in target.iterdir()} == before
