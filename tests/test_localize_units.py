"""Localizer on small random-init models with planted language-selective units."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.core import BrainalignInputError
from brainalign.features import find_attention_output_modules, find_mlp_output_projections
from brainalign.localize import (
    UnitMask,
    ablate_units,
    builtin_heldout_texts,
    builtin_minimal_pairs,
    language_localizer,
    localize_units,
    measure_deficit,
    n_to_select,
    random_unit_mask,
    save_localize_results,
)
from brainalign.localize._stimuli import LEXICON

PLANTED = np.array([3, 7, 11, 19])
HIDDEN = 32


@pytest.fixture(scope="module")
def tokenizer(minilm_dir):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_file=str(minilm_dir / "tokenizer.json"), mask_token="[MASK]",
                                   pad_token="[PAD]")


def _zero_rows_into(module, dims):
    """Stop a projection from writing into residual ``dims`` (Linear: out x in; Conv1D: in x out)."""
    with torch.no_grad():
        if isinstance(module, torch.nn.Linear):
            module.weight[dims, :] = 0
        else:
            module.weight[:, dims] = 0
        if getattr(module, "bias", None) is not None:
            module.bias[dims] = 0


def plant_language_units(model, tokenizer, dims=PLANTED, value=4.0):
    """Residual ``dims`` carry 'is a real word' from the embeddings through every block.

    Real-word tokens (the generator's lexicon) get ``value`` in those embedding
    coordinates, every other token 0; attention and MLP outputs no longer
    write into them, so each block's output keeps the embedding value.
    """
    vocab = tokenizer.get_vocab()
    real = [vocab[w] for w in LEXICON if w in vocab]
    assert len(real) > 50
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        emb[:, dims] = 0
        emb[torch.tensor(real)[:, None], torch.tensor(dims)[None, :]] = value
        for name, param in model.named_parameters():
            if "wpe" in name:  # GPT-2 position embeddings
                param[:, dims] = 0
    for module in find_attention_output_modules(model) + find_mlp_output_projections(model):
        _zero_rows_into(module, dims)
    return model


def make_gpt2(tokenizer, seed=0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(n_layer=2, n_embd=HIDDEN, n_head=2, n_positions=128, vocab_size=len(tokenizer),
                        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
    return GPT2LMHeadModel(config).eval()


def make_llama(tokenizer, seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(num_hidden_layers=2, hidden_size=HIDDEN, intermediate_size=64, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=128,
                         bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def stimuli():
    return language_localizer(seed=0, n=40)


@pytest.mark.parametrize("make", [make_gpt2, make_llama], ids=["gpt2", "llama"])
def test_planted_units_are_recovered_and_matter(make, tokenizer, stimuli):
    model = plant_language_units(make(tokenizer), tokenizer)
    fraction = 2 * len(PLANTED) / (2 * HIDDEN)  # exactly the planted units of both layers
    mask = localize_units(model, stimuli, tokenizer=tokenizer, fraction=fraction)
    assert mask.layers == ["layer.0", "layer.1"]
    for layer in mask.layers:
        np.testing.assert_array_equal(mask.indices[layer], PLANTED)
    assert mask.params["token_budget"] >= 1 and mask.params["unit_type"] == "residual"
    assert np.nanmin(mask.t_values["layer.1"][PLANTED]) > np.nanmax(np.delete(mask.t_values["layer.1"], PLANTED))

    texts = builtin_heldout_texts(12)
    report = measure_deficit(model, mask, texts, builtin_minimal_pairs(3), tokenizer=tokenizer, n_random_seeds=3,
                             n_bootstrap=100)
    loss = report.deficits[report.deficits.task == "loss"]
    localized = loss[loss.condition == "localized"].deficit.abs().iloc[0]
    random = loss[loss.condition == "random"].deficit.abs()
    assert localized > random.max()
    assert set(report.summary.task) == {"loss", "perplexity", "minimal_pair_accuracy", "representation_shift"}
    shift = report.deficits[report.deficits.task == "representation_shift"]
    assert shift[shift.condition == "localized"].deficit.iloc[0] > shift[shift.condition == "random"].deficit.max()
    row = report.summary.set_index("task").loc["loss"]
    assert row.random_ci_low <= row.random_deficit_mean <= row.random_ci_high


def test_mask_depends_on_fraction_and_is_deterministic(tokenizer, stimuli, tmp_path):
    model = make_gpt2(tokenizer, seed=1)
    a = localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.05, cache_dir=tmp_path)
    b = localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.05)
    c = localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.2, cache_dir=tmp_path)
    assert a.key == b.key and a.key != c.key
    for layer in a.layers:
        np.testing.assert_array_equal(a.mask[layer], b.mask[layer])
        np.testing.assert_allclose(a.t_values[layer], c.t_values[layer])
    assert a.n_selected == n_to_select(0.05, 64) == 3 and c.n_selected == 13
    assert not np.array_equal(a.flat_mask(), c.flat_mask())
    # the cache: one activation entry reused, one mask entry per fraction, loaded back identically
    assert len(list((tmp_path / "activations").iterdir())) == 1
    assert len(list((tmp_path / "masks").iterdir())) == 2
    again = localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.05, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.flat_mask(), a.flat_mask())
    per_layer = localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.1, scope="per_layer")
    assert per_layer.n_selected_per_layer == {"layer.0": 3, "layer.1": 3}
    assert per_layer.key != localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.1).key


def test_unit_types_and_ablation_hooks(tokenizer, stimuli):
    model = make_llama(tokenizer)
    mlp = localize_units(model, stimuli, tokenizer=tokenizer, unit_type="mlp", fraction=0.05, pooling="mean")
    heads = localize_units(model, stimuli, tokenizer=tokenizer, unit_type="attn_heads", fraction=0.05)
    assert [m.size for m in mlp.mask.values()] == [64, 64]
    assert [m.size for m in heads.mask.values()] == [HIDDEN, HIDDEN]
    assert mlp.params["token_budget"] is None and heads.params["token_budget"] >= 1
    ids = torch.tensor([tokenizer("the dog saw the cat")["input_ids"]])
    with torch.no_grad():
        base = model(ids).logits
        for m in (mlp, heads):
            for mode in ("zero", "mean"):
                with ablate_units(model, m, mode=mode):
                    changed = model(ids).logits
                assert not torch.allclose(base, changed)
        assert torch.allclose(base, model(ids).logits)  # hooks removed
    with pytest.raises(BrainalignInputError, match="units but the model has"):
        with ablate_units(make_gpt2(tokenizer), mlp):
            pass


def test_multiple_demand_localizer_reads_the_equals_sign(tokenizer):
    from brainalign.localize import multiple_demand_localizer

    stim = multiple_demand_localizer(seed=0, n=20)
    mask = localize_units(make_gpt2(tokenizer), stim, tokenizer=tokenizer, fraction=0.05)
    assert mask.params["token_budget"] == 6 and mask.params["localizer"] == "multiple_demand"
    assert mask.params["labels"] == ["hard", "easy"] and mask.n_selected == 3


def test_random_mask_avoids_selected_units(tokenizer, stimuli):
    model = make_gpt2(tokenizer)
    mask = localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.1)
    for match in ("per_layer", "total"):
        ctrl = random_unit_mask(mask, seed=3, match=match)
        assert ctrl.n_selected == mask.n_selected
        assert not (ctrl.flat_mask() & mask.flat_mask()).any()
        assert np.array_equal(ctrl.flat_mask(), random_unit_mask(mask, seed=3, match=match).flat_mask())
    assert random_unit_mask(mask, 0).n_selected_per_layer == mask.n_selected_per_layer
    assert not np.array_equal(random_unit_mask(mask, 0).flat_mask(), random_unit_mask(mask, 1).flat_mask())


def test_fdr_signed_and_results_folder(tokenizer, stimuli, tmp_path):
    model = plant_language_units(make_gpt2(tokenizer), tokenizer)
    strict = localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.5, fdr_alpha=1e-6)
    loose = localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.5)
    assert strict.n_selected < loose.n_selected == 32
    assert set(np.flatnonzero(strict.mask["layer.0"])) >= set(PLANTED)
    unsigned = localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.5, signed=False)
    assert unsigned.key != loose.key
    out = save_localize_results(tmp_path / "res", strict, config={"model": "planted-gpt2"})
    back = UnitMask.load(out / "mask")
    np.testing.assert_array_equal(back.flat_mask(), strict.flat_mask())
    assert back.key == strict.key and back.params == strict.params
    for name in ("summary.json", "tables/units_per_layer.tsv", "figures/units_per_layer.png", "figures/tvalues.png"):
        assert (out / name).is_file(), name


def test_bad_inputs(tokenizer, stimuli):
    model = make_gpt2(tokenizer)
    with pytest.raises(BrainalignInputError, match="tokenizer="):
        localize_units(model, stimuli)
    with pytest.raises(BrainalignInputError, match="fraction"):
        localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.0)
    with pytest.raises(BrainalignInputError, match="unit_type"):
        localize_units(model, stimuli, tokenizer=tokenizer, unit_type="neurons")
    with pytest.raises(BrainalignInputError, match="LocalizerStimuli"):
        localize_units(model, ["a", "b"], tokenizer=tokenizer)
    from brainalign.localize import LocalizerStimuli

    long = LocalizerStimuli("long", ["the dog saw the cat " * 40] * 2, ["blick fep " * 100] * 2)
    with pytest.raises(BrainalignInputError, match="at most 128 positions"):
        localize_units(model, long, tokenizer=tokenizer, pooling="mean")
    assert localize_units(model, long, tokenizer=tokenizer, pooling="mean", token_budget=100).n_selected == 1


def test_cli_localize_then_ablate(tokenizer, tmp_path, capsys):
    import json

    from brainalign.cli import main

    model_dir = tmp_path / "planted-gpt2"
    plant_language_units(make_gpt2(tokenizer), tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    out = tmp_path / "results"
    assert main(["-q", "localize", "--model", str(model_dir), "--output", str(out), "--n", "30",
                 "--fraction", "0.125"]) == 0
    mask = UnitMask.load(out / "mask")
    assert all(np.array_equal(idx, PLANTED) for idx in mask.indices.values())
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(builtin_heldout_texts(6)) + "\n")
    blimp = tmp_path / "pairs.jsonl"
    blimp.write_text("\n".join(json.dumps({"sentence_good": p.good, "sentence_bad": p.bad})
                               for p in builtin_minimal_pairs(2)))
    assert main(["-q", "ablate", "--model", str(model_dir), "--results", str(out), "--n-random-seeds", "2",
                 "--texts", str(texts), "--blimp", str(blimp)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "localize" and summary["headline"]["n_selected"] == 8
    assert summary["headline"]["loss_localized_deficit"] > summary["headline"]["loss_random_deficit"]
    assert "ablation" in summary["config"] and (out / "figures" / "deficits.png").is_file()
    printed = capsys.readouterr().out
    assert "minimal_pair_accuracy" in printed and "p_random cannot go below 1/(2+1) = 0.333" in printed
    from brainalign.localize import DeficitReport

    report = DeficitReport.load(out)
    assert report.params["n_random_seeds"] == 2 and report.params["scoring"] == "causal"
    assert set(report.deficits.condition) == {"localized", "random"}


def test_localized_units_encode_a_word_driven_brain_signal(tokenizer, stimuli, rng):
    """A simulated ROI driven by 'a real word was heard' is best encoded by the planted units."""
    from brainalign.alignment import hrf_design
    from brainalign.core import FeatureSet, Recording, Timeline
    from brainalign.localize import unit_brain_alignment
    from brainalign.localize._stimuli import generate_nonword_lists

    model = plant_language_units(make_gpt2(tokenizer), tokenizer)
    mask = localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.125)
    real = list(LEXICON)
    nonwords = generate_nonword_lists(60, seed=5)[0].split() * 5 + generate_nonword_lists(60, seed=6)[0].split() * 5
    words = [real[i % len(real)] if rng.random() < 0.5 else nonwords[i % len(nonwords)] for i in range(500)]
    # blocks of words vs non-words give the slow signal fMRI can see
    words = [w if (i // 20) % 2 else nonwords[i % len(nonwords)] for i, w in enumerate(words)]
    timeline = Timeline(words, np.arange(500) * 0.6)
    is_real = np.array([[float(w in set(real))] for w in words])
    grid = Recording(np.zeros((160, 2)) + rng.normal(size=(160, 2)), 2.0)
    signal = hrf_design(FeatureSet({"word": is_real}, timeline), grid)["word"].X
    recording = Recording(np.hstack([signal, -signal]) + 0.3 * rng.normal(size=(160, 2)) * signal.std(), 2.0,
                          target_names=["roi_a", "roi_b"], kind="roi")
    result = unit_brain_alignment(model, mask, recording, timeline=timeline, tokenizer=tokenizer, n_random_seeds=2,
                                  feature_kwargs={"context_tokens": 16},
                                  encoding_kwargs={"backend": "numpy", "alphas": np.logspace(-2, 4, 7)})
    summary = result.summary.set_index("target")
    assert (summary.localized_r > 0.6).all()
    random_r = np.vstack([res.mean_r for name, res in result.results.items() if name != "localized"])
    assert (summary.localized_r.to_numpy() > random_r.max(axis=0) + 0.1).all()
    assert set(result.results) == {"localized", "random-0", "random-1"}
    assert set(result.to_frame().layer) == set(result.results)


def test_masked_lm_localize_and_pseudo_likelihood_deficit(tokenizer, stimuli):
    from transformers import BertConfig, BertForMaskedLM

    from brainalign.localize import lm_scoring_method

    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(num_hidden_layers=2, hidden_size=HIDDEN, num_attention_heads=2,
                                       intermediate_size=64, vocab_size=len(tokenizer),
                                       max_position_embeddings=64)).eval()
    assert lm_scoring_method(model) == "pseudo_log_likelihood"
    assert lm_scoring_method(model.bert) == "pll_tied_readout"
    mask = localize_units(model, stimuli, tokenizer=tokenizer, fraction=0.1, unit_type="mlp")
    assert mask.n_selected == n_to_select(0.1, 2 * 64)
    report = measure_deficit(model, mask, builtin_heldout_texts(3), builtin_minimal_pairs(1), tokenizer=tokenizer,
                             n_random_seeds=2, n_bootstrap=20)
    assert report.params["scoring"] == "pseudo_log_likelihood"
    assert np.isfinite(report.values.value).all()
    # a random-init masked LM is near uniform: loss close to log(vocabulary size)
    intact = report.values.query("condition == 'intact' and task == 'loss'").value.iloc[0]
    assert abs(intact - np.log(len(tokenizer))) < 1.0


def test_lm_metrics_of_a_headless_model_are_flagged_or_refused(tokenizer, stimuli):
    """A bare GPT2Model scores text through a tied readout: warned, flagged per row, refused on request."""
    from brainalign.localize import has_lm_head

    model = plant_language_units(make_gpt2(tokenizer), tokenizer)
    mask = localize_units(model, stimuli, tokenizer=tokenizer, fraction=2 * len(PLANTED) / (2 * HIDDEN))
    texts = builtin_heldout_texts(4)
    bare = model.transformer
    assert has_lm_head(model) and not has_lm_head(bare)

    headed = measure_deficit(model, mask, texts, tokenizer=tokenizer, n_random_seeds=4, n_bootstrap=20)
    assert headed.summary.lm_head.all() and headed.params["lm_head"] is True
    assert not any("language-model head" in note for note in headed.notes())

    with pytest.warns(UserWarning, match="no language-model head"):
        report = measure_deficit(bare, mask, texts, tokenizer=tokenizer, n_random_seeds=4, n_bootstrap=20)
    flags = report.summary.set_index("task").lm_head
    assert not flags["loss"] and not flags["perplexity"] and flags["representation_shift"]
    assert report.params["lm_head"] is False and report.params["scoring"] == "causal_tied_readout"
    # the random-unit control cannot give p below 1/(seeds+1), and the table says so
    np.testing.assert_allclose(report.summary.p_random_min, 1 / 5)
    assert (report.summary.p_random >= report.summary.p_random_min).all()
    text = report.describe()
    assert "1/(4+1) = 0.2" in text and "at least 19 random seeds" in text and "no language-model head" in text

    with pytest.raises(BrainalignInputError, match="no language-model head.*on_no_lm_head"):
        measure_deficit(bare, mask, texts, tokenizer=tokenizer, n_random_seeds=2, on_no_lm_head="raise")
    # the head-free metric alone needs no warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shift = measure_deficit(bare, mask, texts, tokenizer=tokenizer, n_random_seeds=2, n_bootstrap=10,
                                metrics=["representation_shift"])
    assert shift.summary.lm_head.all()
