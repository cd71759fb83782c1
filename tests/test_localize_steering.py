"""Brain-derived axes (leak-free decomposition + adapters) and steering with random-direction controls."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.core import BrainalignInputError
from brainalign.localize import evaluate_steering, fit_brain_axes, generate_steered, steer
from brainalign.recordings import phase_locking_states

from _tiny_lm import corpus_word_tokenizer

TARGET_WORDS = ["apples", "bread", "seeds", "trees", "cars", "towels"]


# --------------------------------------------------------------------- axes
def simulated_words(n_words=400, hidden_size=24, n_features=40, seed=0):
    """Two latent axes are linear in the hidden states and mixed into the brain states."""
    rng = np.random.default_rng(seed)
    hidden = rng.standard_normal((n_words, hidden_size))
    latent = hidden @ rng.standard_normal((hidden_size, 2))
    latent[:, 1] *= 0.5  # unequal variance: PCA orders them
    states = latent @ rng.standard_normal((2, n_features)) + 0.3 * rng.standard_normal((n_words, n_features))
    return hidden, states, latent


@pytest.mark.parametrize("method", ["pca", "ica"])
def test_planted_axes_are_read_from_held_out_words(method):
    hidden, states, latent = simulated_words()
    axes = fit_brain_axes(states, hidden, train=np.arange(300), method=method, n_components=2)
    assert list(axes.test) == list(range(300, 400))
    assert (axes.held_out.r > 0.9).all(), axes.held_out
    # the axes span the planted latent space (each axis is a mix of the two latents)
    for k in range(2):
        fit = np.linalg.lstsq(latent[axes.test], axes.scores[axes.test, k], rcond=None)[1]
        assert fit[0] / np.sum((axes.scores[axes.test, k] - axes.scores[axes.test, k].mean()) ** 2) < 0.1
    # moving along an axis direction raises that axis's predicted score
    moved = axes.predict(hidden[:5] + 3.0 * axes.directions[0]) - axes.predict(hidden[:5])
    assert np.all(moved[:, 0] > 0)


def test_axes_never_see_the_test_words_and_shuffled_hidden_states_read_nothing():
    hidden, states, _ = simulated_words()
    axes = fit_brain_axes(states, hidden, train=np.arange(300), n_components=2)
    changed = states.copy()
    changed[300:] = 1e3 * np.random.default_rng(1).standard_normal(changed[300:].shape)
    again = fit_brain_axes(changed, hidden, train=np.arange(300), n_components=2)
    np.testing.assert_allclose(again.scores[:300], axes.scores[:300])
    shuffled = hidden[np.random.default_rng(2).permutation(len(hidden))]
    null = fit_brain_axes(states, shuffled, train=np.arange(300), n_components=2)
    assert (null.held_out.r.abs() < 0.3).all(), null.held_out


def test_axes_reject_leaky_or_malformed_input():
    hidden, states, _ = simulated_words()
    with pytest.raises(BrainalignInputError, match="overlap"):
        fit_brain_axes(states, hidden, train=np.arange(300), test=np.arange(250, 400))
    with pytest.raises(BrainalignInputError, match="one row per word"):
        fit_brain_axes(states[:-1], hidden, train=np.arange(300))
    with pytest.raises(BrainalignInputError, match="'pca' or 'ica'"):
        fit_brain_axes(states, hidden, train=np.arange(300), method="nmf")


def test_phase_locking_states_separate_locked_and_unlocked_words():
    sfreq = 250.0
    rng = np.random.default_rng(0)
    t = np.arange(int(20 * sfreq)) / sfreq
    a = np.sin(2 * np.pi * 6 * t)
    # channel b follows a with a fixed lag in the first 10 s, with a random walk of phase afterwards
    drift = np.where(t < 10, 0.7, 0.7 + np.cumsum(rng.standard_normal(t.size)) * 0.5)
    b = np.sin(2 * np.pi * 6 * t + drift)
    states = phase_locking_states(np.stack([a, b, rng.standard_normal(t.size)]), sfreq,
                                  np.arange(1.0, 19.0, 0.5), band=(4, 8), window=0.5)
    assert states.shape == (36, 3)
    locked, drifting = states[np.arange(1.0, 19.0, 0.5) < 9.0, 0], states[np.arange(1.0, 19.0, 0.5) > 11.0, 0]
    assert locked.min() > 0.95 and drifting.mean() < locked.mean() - 0.2
    with pytest.raises(BrainalignInputError, match="inside"):
        phase_locking_states(np.stack([a, b]), sfreq, np.array([19.9]), window=0.5)


# ----------------------------------------------------------------- steering
@pytest.fixture(scope="module")
def lm():
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = corpus_word_tokenizer()
    vocab = tokenizer.get_vocab()
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=128, vocab_size=len(tokenizer),
                        bos_token_id=0, eos_token_id=1)
    model = GPT2LMHeadModel(config).eval()
    # planted axis: the (tied) embeddings of the target words, so the readout head favours them along it
    ids = [vocab[w] for w in TARGET_WORDS]
    direction = model.get_input_embeddings().weight[ids].detach().mean(0).numpy()
    return model, tokenizer, direction


def share_of_targets(texts):
    return [np.mean([w in TARGET_WORDS for w in text.split()]) if text.split() else 0.0 for text in texts]


PROMPTS = ["old farmers sell", "young sailors fix", "tired doctors wash", "clever girls paint", "hungry dogs chase"]


def test_steering_hook_is_removed_and_zero_strength_is_intact(lm):
    model, tokenizer, direction = lm
    intact = generate_steered(model, tokenizer, PROMPTS[:2], max_new_tokens=6)
    assert generate_steered(model, tokenizer, PROMPTS[:2], direction, layer=0, strength=0.0, max_new_tokens=6) == intact
    steered = generate_steered(model, tokenizer, PROMPTS[:2], direction, layer=0, strength=30.0, max_new_tokens=6)
    assert steered != intact
    assert generate_steered(model, tokenizer, PROMPTS[:2], max_new_tokens=6) == intact  # no hook left behind
    with pytest.raises(BrainalignInputError, match="residual stream has 32"):
        with steer(model, np.ones(5), layer=0):
            pass
    with pytest.raises(BrainalignInputError, match="out of range"):
        with steer(model, direction, layer=7):
            pass


def test_planted_direction_shifts_the_readout_and_random_directions_do_not(lm, tmp_path):
    model, tokenizer, direction = lm
    report = evaluate_steering(model, tokenizer, PROMPTS, direction, layer=0, strength=30.0, readout=share_of_targets,
                               n_random=9, max_new_tokens=8, seed=0)
    report.save(tmp_path)
    assert (tmp_path / "tables" / "steering_summary.tsv").is_file() and (tmp_path / "steering.json").is_file()
    summary = report.summary.set_index("control")
    assert set(summary.index) == {"random", "random_ppl_matched"}
    for family in summary.index:
        row = summary.loc[family]
        assert row.effect > 0.5, report.summary  # most generated words become target words
        assert abs(row.control_mean) < 0.2 and row.p <= 0.1 + 1e-12 and row.z > 2
    random_rows = report.per_prompt[report.per_prompt.condition == "random"]
    assert random_rows.readout.mean() < 0.2
    assert summary.loc["random", "loss_direction"] > summary.loc["random", "loss_intact"]
    # perplexity-matched controls run at the strength that costs the direction's loss
    matched = report.per_prompt[report.per_prompt.condition == "random_ppl_matched"]
    assert matched.strength.nunique() > 1
