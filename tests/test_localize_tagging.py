"""Frequency tagging: isochronous streams, model units with planted structure, simulated M/EEG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from brainalign.core import BrainalignInputError
from brainalign.localize import UnitMask, ablate_units
from brainalign.localize import permutation_null, tag_frequencies, tag_units, unit_spectra
from brainalign.stimuli import isochronous_streams, load_isochronous_corpus

from _tiny_lm import corpus_word_tokenizer

HIDDEN, INNER = 32, 64
SENTENCE_UNIT, PHRASE_UNIT = 5, 9  # planted MLP units of block 0
D_SENT, D_PHRASE = 0, 1  # residual dimensions that carry the planted word features


# ----------------------------------------------------------------- stimuli
def test_streams_are_isochronous_and_controls_keep_the_words():
    streams = isochronous_streams(n_streams=3, sentences_per_stream=12, word_rate=4.0, seed=1)
    exp, ctrl = streams.experiment, streams.control
    assert streams.rates == {"sentence": 1.0, "phrase": 2.0}
    assert exp.run_ids == ctrl.run_ids == ["stream-01", "stream-02", "stream-03"]
    first = exp.runs == "stream-01"
    np.testing.assert_allclose(np.diff(exp.onsets[first]), 0.25)
    corpus = load_isochronous_corpus()
    for s in range(3):
        rows = np.flatnonzero(exp.runs == f"stream-{s + 1:02d}")
        words_e, words_c = exp.tokens[rows].reshape(-1, 4), ctrl.tokens[rows].reshape(-1, 4)
        for i, sentence in enumerate(streams.sentence_order[s]):
            assert tuple(words_e[i]) == corpus[sentence]
            assert sorted(words_c[i]) == sorted(words_e[i]) and tuple(words_c[i]) != tuple(words_e[i])
        assert len(set(streams.sentence_order[s])) == 12  # no sentence twice in a stream


def test_stream_builder_rejects_bad_input(tmp_path):
    with pytest.raises(BrainalignInputError, match="same length"):
        isochronous_streams([("a", "b", "c", "d"), ("a", "b", "c")])
    with pytest.raises(BrainalignInputError, match="positive divisor"):
        isochronous_streams(levels={"odd": 3})
    with pytest.raises(BrainalignInputError, match="sentences_per_stream"):
        isochronous_streams(sentences_per_stream=1000)
    bad = tmp_path / "corpus.txt"
    bad.write_text("old dogs chase balls\nthree word line\n")
    with pytest.raises(BrainalignInputError, match="line 2"):
        load_isochronous_corpus(bad)


# ------------------------------------------------------ spectra and null
def test_vectorised_null_equals_a_plain_fft_of_permuted_series():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 32, 7)).astype(np.float32)
    null = permutation_null(x, [8, 16], n_permutations=5, seed=3)
    positions = np.argsort(np.random.default_rng(3).random((5, 32)), axis=1)
    for p in range(5):
        permuted = np.empty_like(x)
        permuted[:, positions[p], :] = x  # word j moves to position positions[p, j]
        _, amp = unit_spectra(permuted, word_rate=4.0)
        np.testing.assert_allclose(null[p], amp[[8, 16]], rtol=1e-4, atol=1e-5)


def test_rates_off_the_frequency_grid_are_rejected():
    x = np.zeros((1, 30, 3), dtype=np.float32)
    with pytest.raises(BrainalignInputError, match="between frequency bins"):
        tag_frequencies({"layer.0": x}, {"layer.0": x}, word_rate=4.0, rates={"sentence": 1.0})
    with pytest.raises(BrainalignInputError, match="differ in shape"):
        tag_frequencies({"layer.0": np.zeros((1, 32, 3))}, {"layer.0": np.zeros((1, 32, 4))}, word_rate=4.0,
                        rates={"sentence": 1.0})


# ------------------------------------------------------------ tiny models
@pytest.fixture(scope="module")
def corpus_tokenizer():
    """One token per word of the corpus, so word classes map to token ids exactly."""
    return corpus_word_tokenizer()


def make_gpt2(tokenizer, seed=0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(n_layer=2, n_embd=HIDDEN, n_inner=INNER, n_head=2, n_positions=512,
                        vocab_size=len(tokenizer), bos_token_id=0, eos_token_id=1)
    return GPT2LMHeadModel(config).eval()


def plant_structure_units(model, tokenizer, value=1.0):
    """Block-0 MLP unit SENTENCE_UNIT is on for the subject phrase [Adj N] and off for [V N];
    PHRASE_UNIT is on for the first word of each phrase (Adj, V) and off for nouns.

    The corpus's four word classes never share a word, so a word's class tells
    its position in an intact sentence: the two units follow the sentence
    (period 4 words) and phrase (period 2) structure of the experiment stream,
    and only that of the *intact* order (the control moves the classes).  Two
    residual dimensions carry the class codes; no other unit reads them.
    """
    corpus = load_isochronous_corpus()
    vocab = tokenizer.get_vocab()
    code = {}
    for sentence in corpus:
        for position, word in enumerate(sentence):
            code[vocab[word]] = ((1.0 if position < 2 else -1.0), (1.0 if position % 2 == 0 else -1.0))
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        emb[:, [D_SENT, D_PHRASE]] = 0
        for token, (sent, phrase) in code.items():
            emb[token, D_SENT], emb[token, D_PHRASE] = value * sent, value * phrase
        model.transformer.wpe.weight[:, [D_SENT, D_PHRASE]] = 0
        for block in model.transformer.h:
            block.mlp.c_fc.weight[[D_SENT, D_PHRASE], :] = 0  # Conv1D: (in, out)
        fc = model.transformer.h[0].mlp.c_fc
        fc.weight[:, [SENTENCE_UNIT, PHRASE_UNIT]] = 0
        fc.bias[[SENTENCE_UNIT, PHRASE_UNIT]] = 0
        fc.weight[D_SENT, SENTENCE_UNIT] = 1.0
        fc.weight[D_PHRASE, PHRASE_UNIT] = 1.0
    return model


@pytest.fixture(scope="module")
def streams():
    return isochronous_streams(n_streams=2, sentences_per_stream=32, seed=0)


@pytest.fixture(scope="module")
def planted_tags(corpus_tokenizer, streams):
    model = plant_structure_units(make_gpt2(corpus_tokenizer), corpus_tokenizer)
    return model, tag_units(model, streams, tokenizer=corpus_tokenizer, n_permutations=500, seed=0)


def test_planted_sentence_unit_tags_1hz_and_phrase_unit_2hz(planted_tags):
    model, tags = planted_tags
    mlp = tags["mlp"]
    labels = mlp.labels()
    assert mlp.layers == ["layer.0", "layer.1"]
    assert labels["sentence"]["layer.0"][SENTENCE_UNIT] and not labels["phrase"]["layer.0"][SENTENCE_UNIT]
    assert labels["phrase"]["layer.0"][PHRASE_UNIT] and not labels["sentence"]["layer.0"][PHRASE_UNIT]
    assert mlp.p_values["sentence"]["layer.0"][SENTENCE_UNIT] <= 1 / 501 + 1e-12
    k1 = int(np.argmin(np.abs(mlp.freqs - 1.0)))
    assert mlp.freqs[np.argmax(mlp.spectra["layer.0"][1:, SENTENCE_UNIT]) + 1] == pytest.approx(1.0)
    assert mlp.spectra["layer.0"][k1, SENTENCE_UNIT] > 5 * mlp.control_spectra["layer.0"][k1, SENTENCE_UNIT]
    # the residual dimensions that carry the codes tag the same rates
    res = tags["residual"].labels()
    assert res["sentence"]["layer.0"][D_SENT] and res["phrase"]["layer.0"][D_PHRASE]
    # planted units are (nearly) all that is tagged
    n_tagged = sum(int(m.sum()) for lab in labels.values() for m in lab.values())
    assert n_tagged <= 0.05 * 2 * INNER + 2


def test_tagging_masks_drive_ablation(planted_tags, corpus_tokenizer, streams, tmp_path):
    model, tags = planted_tags
    tags["mlp"].save(tmp_path)
    mask = UnitMask.load(tmp_path / "masks" / "sentence")  # a saved mask drives ablation like a fresh one
    units = pd.read_csv(tmp_path / "tables" / "tagging_units.tsv", sep="\t")
    tagged = units[(units.level == "sentence") & units.tagged]
    assert SENTENCE_UNIT in tagged[tagged.layer == "layer.0"].unit.tolist()
    assert mask.params["unit_type"] == "mlp" and mask.params["label"] == "sentence"
    assert mask.mask["layer.0"][SENTENCE_UNIT]
    from brainalign.localize._units import capture_units, unit_sites

    ids = corpus_tokenizer(" ".join(streams.experiment.tokens[:16]), return_tensors="pt")["input_ids"]
    sites = unit_sites(model, "mlp")
    with ablate_units(model, mask), capture_units(model, sites[:1]) as records, torch.no_grad():
        model(ids)
    assert torch.all(records[0][0][..., SENTENCE_UNIT] == 0)


def test_random_init_model_tags_almost_nothing(corpus_tokenizer, streams):
    tags = tag_units(make_gpt2(corpus_tokenizer, seed=1), streams, tokenizer=corpus_tokenizer, unit_types=("mlp",),
                     n_permutations=500, seed=0)["mlp"]
    summary = tags.summary()
    rate = summary.n_tagged.sum() / (2 * INNER)  # each unit has one label at most
    # The z rule is relative to the population: it passes the upper tail of any model. Over random-init
    # seeds 1-5 it tagged 4.7-8.6% of MLP units (6.1% overall), against the 2/128 planted units above.
    assert rate < 0.10, summary


# --------------------------------------------------------- simulated M/EEG
def simulated_tagging_epochs(n_epochs=20, sfreq=100.0, seconds=8.0, seed=0):
    """Six EEG channels: 1 Hz in ch0, 2 Hz in ch1, both in ch2, noise only in ch3-5; 4 Hz words everywhere.

    Responses are phase-locked to the stream onset (the same phase in every
    epoch) and small against the noise (amplitude 0.4 vs noise SD 1).
    """
    import mne

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sfreq)) / sfreq
    data = rng.standard_normal((n_epochs, 6, t.size))
    one, two = 0.4 * np.cos(2 * np.pi * 1.0 * t + 0.3), 0.4 * np.cos(2 * np.pi * 2.0 * t - 1.0)
    data[:, 0] += one
    data[:, 1] += two
    data[:, 2] += one + two
    data += 0.4 * np.cos(2 * np.pi * 4.0 * t)
    info = mne.create_info([f"EEG{i}" for i in range(6)], sfreq, "eeg")
    return mne.EpochsArray(data * 1e-6, info, verbose=False)


@pytest.mark.parametrize("measure", ["itpc", "evoked"])
def test_planted_1hz_and_2hz_brain_responses_are_recovered(measure):
    from brainalign.recordings import tag_channels

    table = tag_channels(simulated_tagging_epochs(), {"sentence": 1.0, "phrase": 2.0, "word": 4.0}, measure=measure,
                         n_permutations=1000)
    significant = {level: set(table[(table.level == level) & table.significant].channel) for level in table.level.unique()}
    assert significant == {"sentence": {0, 2}, "phrase": {1, 2}, "word": set(range(6))}
    hits = table[table.significant]
    assert (hits.snr > 2).all() and (hits.p <= 2 / 1001).all()
    assert table.attrs["measure"] == measure and list(table.ch_name[:2]) == ["EEG0", "EEG1"]


def test_brain_tagging_rejects_rates_off_the_grid_and_single_epochs():
    from brainalign.recordings import itpc_spectrum, tag_channels

    epochs = simulated_tagging_epochs(n_epochs=4, seconds=2.5)
    with pytest.raises(BrainalignInputError, match="not on the frequency grid"):
        tag_channels(epochs, {"sentence": 1.0, "third": 1.3})
    with pytest.raises(BrainalignInputError, match="at least 2 epochs"):
        itpc_spectrum(epochs[:1])
    with pytest.raises(BrainalignInputError, match="MNE Epochs"):
        tag_channels(np.zeros((2, 3, 100)), {"sentence": 1.0})


def test_spectra_rsa_finds_a_brain_that_mixes_the_model_units():
    from brainalign.localize import spectra_rsa

    rng = np.random.default_rng(0)
    freqs = np.arange(0, 2.001, 0.125)
    model = rng.gamma(2.0, size=(freqs.size, 40))  # (freqs, units)
    mixing = rng.standard_normal((40, 16))  # every channel is a random mix of units, plus noise
    brain = (model @ mixing).T + 0.5 * rng.standard_normal((16, freqs.size))
    table = spectra_rsa({"layer.0": model, "layer.1": rng.gamma(2.0, size=model.shape)}, freqs, brain, freqs,
                        n_permutations=500)
    matched, unrelated = table.set_index("layer").loc["layer.0"], table.set_index("layer").loc["layer.1"]
    assert matched.rho > 0.3 and matched.p < 0.01  # 0.46 here
    assert abs(unrelated.rho) < 0.3 and unrelated.p > 0.05
    with pytest.raises(BrainalignInputError, match="RSA needs >= 4"):
        spectra_rsa({"layer.0": model}, freqs, brain, freqs, fmin=1.9)


def test_tagging_masks_select_the_brain_alignment_features(planted_tags, corpus_tokenizer, streams):
    from brainalign.features import TextModel, extract_text_features
    from brainalign.localize._alignment import restrict_features

    model, tags = planted_tags
    mask = tags["mlp"].masks()["sentence"]
    features = extract_text_features(streams.experiment, TextModel(model, corpus_tokenizer, "planted"), layers=[0, 1],
                                     units="mlp")
    restricted = restrict_features(features, mask)
    assert restricted["localized"].shape == (streams.experiment.n_events, mask.n_selected)
    column = list(np.flatnonzero(mask.mask["layer.0"])).index(SENTENCE_UNIT)
    # the planted unit's feature column is on for [Adj N] and off for [V N]
    pattern = restricted["localized"][:, column].reshape(-1, 4)
    assert np.all(pattern[:, :2] > 1.0) and np.all(np.abs(pattern[:, 2:]) < 0.2)


def test_masked_lm_planted_sentence_unit_tags_1hz(corpus_tokenizer, streams):
    """The same planted code in a random-init BERT (post-norm encoder, MLP = act(intermediate)).

    The code is written twice with opposite signs (dims D_SENT and MIRROR): BERT normalises the
    embeddings themselves, and a code with a non-zero mean over dimensions would move every
    other dimension with the sentence structure through the LayerNorm's mean.
    """
    MIRROR = 1
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(corpus_tokenizer), hidden_size=HIDDEN, num_hidden_layers=2,
                                 num_attention_heads=2, intermediate_size=INNER, max_position_embeddings=512)).eval()
    vocab = corpus_tokenizer.get_vocab()
    with torch.no_grad():
        emb = model.embeddings
        emb.word_embeddings.weight[:, [D_SENT, MIRROR]] = 0
        for sentence in load_isochronous_corpus():
            for position, word in enumerate(sentence):
                code = 1.0 if position < 2 else -1.0
                emb.word_embeddings.weight[vocab[word], D_SENT] = code
                emb.word_embeddings.weight[vocab[word], MIRROR] = -code
        emb.position_embeddings.weight[:, [D_SENT, MIRROR]] = 0
        emb.token_type_embeddings.weight[:, [D_SENT, MIRROR]] = 0
        for layer in model.encoder.layer:
            layer.intermediate.dense.weight[:, [D_SENT, MIRROR]] = 0  # Linear: (out, in)
        dense = model.encoder.layer[0].intermediate.dense
        dense.weight[SENTENCE_UNIT] = 0
        dense.weight[SENTENCE_UNIT, D_SENT] = 4.0
        dense.bias[SENTENCE_UNIT] = 0
    tags = tag_units(model, streams, tokenizer=corpus_tokenizer, unit_types=("mlp",), n_permutations=300)["mlp"]
    labels = tags.labels()
    assert labels["sentence"]["layer.0"][SENTENCE_UNIT]
    assert not labels["phrase"]["layer.0"][SENTENCE_UNIT]
