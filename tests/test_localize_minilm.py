"""The real all-MiniLM-L6-v2 on the real Fedorenko et al. (2010) localizer."""

from __future__ import annotations

import numpy as np
import pytest

from brainalign.localize import (
    UnitMask,
    builtin_minimal_pairs,
    load_fedorenko2010,
    localize_units,
    measure_deficit,
    sequence_logprobs,
)


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    from transformers import AutoModel, AutoTokenizer

    return AutoModel.from_pretrained(minilm_dir).eval(), AutoTokenizer.from_pretrained(minilm_dir)


def test_minilm_language_localizer_on_fedorenko2010(minilm, shared_data, tmp_path):
    model, tokenizer = minilm
    stimuli = load_fedorenko2010(shared_data / "fedorenko2010_langloc")
    mask = localize_units(model, stimuli, tokenizer=tokenizer, batch_size=48, cache_dir=tmp_path)
    # documented size: round(1% of 6 layers x 384 residual units = 23.04) = 23
    assert mask.n_selected == 23 and mask.n_units == 6 * 384
    assert mask.layers == [f"layer.{i}" for i in range(6)]
    assert mask.params["token_budget"] == 12  # the shortest stimulus is 12 word-piece tokens
    t = np.concatenate(list(mask.t_values.values()))
    assert t[mask.flat_mask()].min() >= t[~mask.flat_mask()].max()
    assert t[mask.flat_mask()].min() > 5  # sentences vs non-words separate strongly in a real model
    assert UnitMask.load(tmp_path / "masks" / mask.key).key == mask.key


def test_minilm_tied_readout_scoring_and_deficit(minilm):
    model, tokenizer = minilm
    good = sequence_logprobs(model, tokenizer, ["the cat sat on the mat"])
    assert good[0].shape == (6,) and np.all(good[0] < 0)
    stimuli_mask = UnitMask(
        {f"layer.{i}": np.isin(np.arange(384), [5, 77]) for i in range(6)},
        {f"layer.{i}": np.zeros(384) for i in range(6)},
        {f"layer.{i}": np.ones(384) for i in range(6)},
        {"unit_type": "residual"},
    )
    with pytest.warns(UserWarning, match="BertModel has no language-model head"):
        report = measure_deficit(model, stimuli_mask, ["the cat sat on the mat", "a dog ran home"],
                                 builtin_minimal_pairs(1), tokenizer=tokenizer, n_random_seeds=2, n_bootstrap=50)
    assert report.params["scoring"] == "pll_tied_readout" and report.params["lm_head"] is False
    flags = report.summary.set_index("task").lm_head
    assert not flags[["loss", "perplexity", "minimal_pair_accuracy"]].any() and flags["representation_shift"]
    assert len(report.deficits) == 4 * 3  # loss, perplexity, pair accuracy, representation shift x 3 ablations
    shift = report.values.query("task == 'representation_shift'").set_index("condition").value
    assert abs(shift["intact"]) < 1e-9 and (shift > -1e-9).all()
