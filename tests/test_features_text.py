"""Text features: word alignment, strided == naive context, caching, units, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brainalign.core import BrainalignInputError, Timeline
from brainalign.features import (
    FeatureStore,
    TextModel,
    align_words,
    extract_text_features,
    load_text_model,
    plan_windows,
)
from brainalign.features._text import _BatchRunner, _is_oom_error

TRICKY = "Don't stop-believing, naïve café 北京 🙂 ... «Quoted» words — and (brackets)!"
STORY = (
    "Once upon a time there was a naive cafe owner in Beijing who never stopped believing . "
    "Every morning she opened the shop , made coffee and sang a song about the sea . "
    "One day a stranger came in , ordered tea and told her a story she would never forget ."
)
TRAINING_TEXT = [STORY, TRICKY, "The quick brown fox jumps over the lazy dog."] * 3


def _byte_level_tokenizer(bos: bool):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "<pad>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TRAINING_TEXT, trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", pad_token="<pad>", eos_token="<pad>")


@pytest.fixture(scope="module")
def gpt2_model():
    from transformers import GPT2Config, GPT2Model

    tok = _byte_level_tokenizer(bos=False)
    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=3, n_embd=32, n_head=4, vocab_size=len(tok), n_positions=128,
                     bos_token_id=0, eos_token_id=1)
    return TextModel(GPT2Model(cfg), tok, "tiny-gpt2")


@pytest.fixture(scope="module")
def llama_model():
    from transformers import LlamaConfig, LlamaModel

    tok = _byte_level_tokenizer(bos=True)
    torch.manual_seed(1)
    cfg = LlamaConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=len(tok), max_position_embeddings=256,
                      bos_token_id=0, eos_token_id=1, pad_token_id=1)
    return TextModel(LlamaModel(cfg), tok, "tiny-llama")


@pytest.fixture(scope="module")
def bert_model(minilm_dir):
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_file=str(minilm_dir / "tokenizer.json"), pad_token="[PAD]",
                                  cls_token="[CLS]", sep_token="[SEP]", unk_token="[UNK]")
    torch.manual_seed(2)
    cfg = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                     vocab_size=len(tok), max_position_embeddings=64)
    return TextModel(BertModel(cfg), tok, "tiny-bert")


def _timeline(text: str, runs=None) -> Timeline:
    words = text.split(" ")
    onsets = np.arange(len(words)) * 0.3
    return Timeline(words, onsets, onsets + 0.25, runs)


def _hidden_at(tm: TextModel, ids: list[int], position: int) -> list[np.ndarray]:
    """Reference: embeddings + block outputs at one position, via output_hidden_states.

    The last hidden state of HF decoders has the final norm applied, so the
    last block is read from ``blocks[-1]`` directly.
    """
    from brainalign.features import capture, find_blocks

    blocks = find_blocks(tm.model)
    with torch.no_grad(), capture(tm.model, [blocks[-1]]) as rec:
        out = tm.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    states = [h[0, position].numpy() for h in out.hidden_states[:-1]]
    return states + [rec[0][0][0, position].numpy()]


# ------------------------------------------------------------------ alignment
def test_alignment_bert_tokenizer_tricky_text(minilm_dir):
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_file=str(minilm_dir / "tokenizer.json"))
    words = TRICKY.split(" ") + ["", "end"]
    al = align_words(words, tok)
    pieces = [tok.convert_ids_to_tokens(al.token_ids[f:l + 1].tolist()) for f, l in zip(al.first, al.last)]
    got = dict(zip(words, pieces))
    assert got["Don't"] == ["don", "'", "t"]
    assert got["stop-believing,"] == ["stop", "-", "believing", ","]
    assert got["naïve"] == ["naive"] and got["café"] == ["cafe"]  # accents stripped, offsets kept
    assert got["北京"] == ["北", "京"]
    assert got["🙂"] == ["[UNK]"]
    assert got["..."] == [".", ".", "."]
    # the empty word has no token of its own: it borrows the previous one ("!")
    assert al.status[words.index("")] == "previous"
    assert pieces[words.index("")] == ["!"]
    assert (np.diff(al.last) >= 0).all() and (al.first <= al.last).all()


def test_alignment_byte_level_reconstructs_every_word(gpt2_model):
    tok = gpt2_model.tokenizer
    words = TRICKY.split(" ")
    al = align_words(words, tok)
    assert (al.status == "own").all()
    for word, f, l in zip(words, al.first, al.last):
        # byte-level pieces of multi-byte characters (é, 北, 🙂) decode back exactly
        assert tok.decode(al.token_ids[f:l + 1].tolist()).strip() == word


def test_alignment_word_without_token_at_run_start_uses_next(minilm_dir):
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_file=str(minilm_dir / "tokenizer.json"))
    al = align_words(["", "hello", "world"], tok)
    assert al.status.tolist() == ["next", "own", "own"]
    assert al.first[0] == al.first[1]


def test_alignment_tokens_spanning_several_words():
    from tokenizers import Tokenizer, models, trainers
    from transformers import PreTrainedTokenizerFast

    # no pre-tokenizer: BPE merges across spaces ("in the en" | "d of the day")
    tok = Tokenizer(models.BPE())
    tok.train_from_iterator(["in the end of the day of the week"] * 20,
                            trainers.BpeTrainer(vocab_size=60, show_progress=False))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok)
    al = align_words("in the end of the day".split(), fast)
    assert fast.convert_ids_to_tokens(al.token_ids.tolist()) == ["in the en", "d of the day"]
    assert al.first.tolist() == [0, 0, 0, 1, 1, 1] and al.last.tolist() == [0, 0, 1, 1, 1, 1]
    assert (al.status == "shared").all()


def test_plan_windows_give_every_word_its_context():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 4, size=200)
    last = np.cumsum(lengths) - 1
    first = last - lengths + 1
    n_tokens = int(last[-1]) + 1
    context, stride = 20, 7
    windows = plan_windows(first, last, n_tokens, context_tokens=context, stride=stride)
    covered = np.concatenate([w.words for w in windows])
    assert covered.tolist() == list(range(200))  # each word exactly once, in order
    for w in windows:
        assert w.stop - w.start <= context + stride
        assert (first[w.words] - w.start >= np.minimum(first[w.words], context)).all()
        assert (last[w.words] < w.stop).all()
    # a word straddling a window end starts the next window: the effective stride
    # shrinks by at most (longest word in tokens - 1)
    effective = stride - (lengths.max() - 1)
    processed = sum(w.stop - w.start for w in windows)
    assert processed <= (1 + context / effective) * n_tokens + context + stride


# ------------------------------------------------------------------ features
def test_gpt2_shapes_metadata_and_causality(gpt2_model):
    tl = _timeline(STORY)
    fs = extract_text_features(tl, gpt2_model, context_tokens=16)
    assert fs.layer_names == ["embeddings", "layer.0", "layer.1", "layer.2"]
    assert all(fs[n].shape == (tl.n_events, 32) for n in fs.layer_names)
    assert all(fs[n].dtype == np.float32 for n in fs.layer_names)
    md = fs.metadata
    assert md["is_causal"] and md["strategy"] == "strided" and md["stride"] == 112  # 128 positions - 16
    assert md["model_id"] == "tiny-gpt2" and md["pooling"] == "last" and md["context_tokens"] == 16
    assert "context_tokens" in md["context_rule"]
    assert not np.allclose(fs["layer.1"], fs["layer.2"])


@pytest.mark.parametrize("fixture, pooling", [("gpt2_model", "last"), ("llama_model", "mean")])
def test_strided_windows_equal_naive_per_word_inputs(request, fixture, pooling):
    tm = request.getfixturevalue(fixture)
    tl = _timeline(STORY)
    context, stride = 12, 5
    fs = extract_text_features(tl, tm, context_tokens=context, stride=stride, pooling=pooling, batch_size=3)
    al = align_words(list(tl.tokens), tm.tokenizer)
    prefix = [tm.tokenizer.bos_token_id] if fixture == "llama_model" else []
    windows = plan_windows(al.first, al.last, al.token_ids.size, context_tokens=context, stride=stride)
    assert len(windows) > 5  # the text really is split into many windows
    for w in windows:
        for word in w.words:
            f, l = al.first[word], al.last[word]
            assert f - w.start >= min(f, context)
            ids = prefix + al.token_ids[w.start:l + 1].tolist()
            per_token = [_hidden_at(tm, ids, len(prefix) + t - w.start) for t in range(f, l + 1)]
            for j, name in enumerate(fs.layer_names):
                stack = np.stack([p[j] for p in per_token])
                expected = stack[-1] if pooling == "last" else stack.mean(axis=0)
                np.testing.assert_allclose(fs[name][word], expected, atol=2e-5, rtol=1e-4)


def test_strided_equals_per_word_when_context_covers_the_run(gpt2_model):
    tl = _timeline(STORY)
    n_tokens = align_words(list(tl.tokens), gpt2_model.tokenizer).token_ids.size
    strided = extract_text_features(tl, gpt2_model, context_tokens=n_tokens, stride=8)
    naive = extract_text_features(tl, gpt2_model, context_tokens=n_tokens, strategy="per_word", batch_size=16)
    assert naive.metadata["strategy"] == "per_word"
    assert naive.metadata["tokens_processed"] > 5 * strided.metadata["tokens_processed"]
    for name in strided.layer_names:
        np.testing.assert_allclose(strided[name], naive[name], atol=2e-5, rtol=1e-4)


def test_runs_never_share_context_and_batch_size_does_not_matter(llama_model):
    words = STORY.split(" ")
    runs = ["a"] * 20 + ["b"] * (len(words) - 20)
    tl = Timeline(words, np.r_[np.arange(20), np.arange(len(words) - 20)] * 0.3, None, runs)
    both = extract_text_features(tl, llama_model, context_tokens=10, batch_size=1)
    only_b = extract_text_features(tl.select(np.arange(20, len(words))), llama_model, context_tokens=10,
                                   batch_size=7)
    for name in both.layer_names:
        np.testing.assert_allclose(both[name][20:], only_b[name], atol=2e-5, rtol=1e-4)


def test_bidirectional_default_has_no_future_leak(bert_model):
    words = STORY.split(" ")[:30]
    changed = words[:15] + ["zebra"] * 15
    kw = dict(context_tokens=8, layers=["layer.1"])
    a = extract_text_features(_timeline(" ".join(words)), bert_model, **kw)
    b = extract_text_features(_timeline(" ".join(changed)), bert_model, **kw)
    assert a.metadata["strategy"] == "per_word" and not a.metadata["is_causal"]
    np.testing.assert_allclose(a["layer.1"][:15], b["layer.1"][:15], atol=1e-5)
    # opting into shared windows is faster but lets following words leak in
    a2 = extract_text_features(_timeline(" ".join(words)), bert_model, future_context=True, **kw)
    b2 = extract_text_features(_timeline(" ".join(changed)), bert_model, future_context=True, **kw)
    assert a2.metadata["future_context"] and a2.metadata["strategy"] == "strided"
    assert not np.allclose(a2["layer.1"][:15], b2["layer.1"][:15], atol=1e-3)
    with pytest.raises(BrainalignInputError, match="future_context=True"):
        extract_text_features(_timeline(" ".join(words)), bert_model, strategy="strided", **kw)


def test_context_is_clipped_to_the_model_limit(bert_model):
    fs = extract_text_features(_timeline("a short text"), bert_model, context_tokens=1000, layers=[-1])
    # 64 positions minus [CLS] and [SEP] = 62, minus room for the word itself (min(16, 62 // 4) = 15)
    assert fs.metadata["context_tokens"] == 47 and fs.metadata["context_tokens_requested"] == 1000
    # strided windows also keep room for a stride (min(128, 62 // 2) = 31)
    fs = extract_text_features(_timeline("a short text"), bert_model, context_tokens=1000, layers=[-1],
                               future_context=True)
    assert fs.metadata["context_tokens"] == 31
    assert fs.layer_names == ["layer.1"]


def test_real_minilm_tricky_text(minilm_dir):
    tl = _timeline(TRICKY + " end ")  # trailing empty word
    fs = extract_text_features(tl, minilm_dir, layers=["embeddings", "layer.5"], context_tokens=16,
                               pooling="mean")
    assert fs["layer.5"].shape == (tl.n_events, 384)
    assert np.isfinite(fs["layer.5"]).all()
    assert fs.metadata["words_without_own_token"] == [
        {"index": tl.n_events - 1, "word": "", "uses": "previous token"}
    ]
    # the borrowed word gets exactly the features of the token it borrows ("end")
    single = extract_text_features(tl, minilm_dir, layers=["layer.5"], context_tokens=16, pooling="last")
    np.testing.assert_allclose(single["layer.5"][-1], single["layer.5"][-2], atol=1e-5)


def test_units_shapes_and_values(llama_model, gpt2_model):
    tl = _timeline(STORY)
    fs = extract_text_features(tl, llama_model, layers=["layer.1"], units=("mlp", "attn_heads"),
                               context_tokens=8)
    assert fs.layer_names == ["layer.1", "mlp.1", "attn.1"]
    assert fs["mlp.1"].shape == (tl.n_events, 48) and fs["attn.1"].shape == (tl.n_events, 32)
    # the captured MLP units, pushed through the down-projection, give the MLP's output:
    # block output = block input + attention + down_proj(units)
    block = llama_model.model.layers[1]
    more = extract_text_features(tl, llama_model, layers=["layer.0", "layer.1", "attn.1", "mlp.1"],
                                 context_tokens=8)
    with torch.no_grad():
        attn_out = block.self_attn.o_proj(torch.from_numpy(more["attn.1"]))
        mlp_out = block.mlp.down_proj(torch.from_numpy(more["mlp.1"]))
    recon = more["layer.0"] + attn_out.numpy() + mlp_out.numpy()
    np.testing.assert_allclose(recon, more["layer.1"], atol=1e-4)
    g = extract_text_features(tl, gpt2_model, layers=["mlp.0", "attn.2"], context_tokens=8)
    assert g["mlp.0"].shape == (tl.n_events, 128) and g["attn.2"].shape == (tl.n_events, 32)


def test_early_layers_only_match_full_extraction(gpt2_model):
    tl = _timeline(STORY)
    full = extract_text_features(tl, gpt2_model, context_tokens=8)
    first = extract_text_features(tl, gpt2_model, layers=[0, "embeddings"], context_tokens=8)
    assert first.layer_names == ["layer.0", "embeddings"]
    np.testing.assert_allclose(first["layer.0"], full["layer.0"], atol=1e-6)


def test_bad_inputs_give_clear_errors(gpt2_model):
    tl = _timeline(STORY)
    with pytest.raises(BrainalignInputError, match=r"valid layer names are \['embeddings', 'layer.0'"):
        extract_text_features(tl, gpt2_model, layers=["layer.7"])
    with pytest.raises(BrainalignInputError, match="empty"):
        extract_text_features(Timeline([], []), gpt2_model)
    with pytest.raises(BrainalignInputError, match="pooling"):
        extract_text_features(tl, gpt2_model, pooling="max")
    with pytest.raises(BrainalignInputError, match="unit kind"):
        extract_text_features(tl, gpt2_model, units=["neurons"])
    with pytest.raises(BrainalignInputError, match="selects none"):
        extract_text_features(tl, gpt2_model, layers=["embeddings"], units=["mlp"])
    with pytest.raises(BrainalignInputError, match="token of its own"):
        extract_text_features(_timeline("  "), gpt2_model)
    with pytest.raises(BrainalignInputError, match="Could not load model"):
        load_text_model("/nonexistent/model/dir")


# ------------------------------------------------------------------ cache / resume
def test_cache_hit_and_resume_after_interruption(gpt2_model, tmp_path):
    tl = _timeline(STORY)
    kw = dict(context_tokens=8, stride=6, chunk_words=10, cache_dir=tmp_path)
    reference = extract_text_features(tl, gpt2_model, context_tokens=8, stride=6)

    def crash_after_two(k, n):
        if k == 1:
            raise KeyboardInterrupt("simulated crash")

    with pytest.raises(KeyboardInterrupt):
        extract_text_features(tl, gpt2_model, on_chunk=crash_after_two, **kw)
    store = FeatureStore(tmp_path)
    assert store.keys() == []  # nothing complete is visible
    computed = []
    resumed = extract_text_features(tl, gpt2_model, on_chunk=lambda k, n: computed.append((k, n)), **kw)
    n_chunks = computed[0][1]
    assert n_chunks >= 4 and [k for k, _ in computed] == list(range(2, n_chunks))
    for name in reference.layer_names:
        np.testing.assert_allclose(resumed[name], reference[name], atol=1e-6)
    again = []
    hit = extract_text_features(tl, gpt2_model, on_chunk=lambda k, n: again.append(k), **kw)
    assert again == [] and store.keys() == [hit.metadata["store_key"]]
    np.testing.assert_array_equal(hit["layer.2"], resumed["layer.2"])
    # any parameter change is a different entry
    half = extract_text_features(tl, gpt2_model, storage_dtype="float16", **kw)
    assert half["layer.2"].dtype == np.float16 and len(store.keys()) == 2
    np.testing.assert_allclose(half["layer.2"], reference["layer.2"], rtol=2e-3, atol=2e-3)


# ------------------------------------------------------------------ OOM back-off
def test_batch_runner_halves_batch_size_on_out_of_memory():
    seen = []

    def forward(batch):
        if len(batch) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        seen.append(list(batch))
        return [x * 10 for x in batch]

    runner = _BatchRunner(8)
    results = [r for _, r in runner.run(list(range(7)), forward)]
    assert runner.batch_size == 2
    assert sum(results, []) == [x * 10 for x in range(7)]
    assert seen == [[0, 1], [2, 3], [4, 5], [6]]

    def always_oom(batch):
        raise RuntimeError("CUDA error: out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        list(_BatchRunner(4).run([1, 2, 3], always_oom))

    def other_error(batch):
        raise ValueError("shape mismatch")

    runner = _BatchRunner(4)
    with pytest.raises(ValueError):
        list(runner.run([1, 2, 3], other_error))
    assert runner.batch_size == 4
    assert _is_oom_error(torch.OutOfMemoryError("x")) and not _is_oom_error(ValueError("out of memory"))


# ------------------------------------------------------------------ CLI
def test_cli_extract_tsv_and_txt(minilm_dir, tmp_path):
    from brainalign.cli import main
    from brainalign.features import load_features, read_stimulus_file

    tsv = tmp_path / "words.tsv"
    tsv.write_text("token\tonset\toffset\trun\nHello\t0.0\t0.4\tr1\nworld\t0.5\t0.9\tr1\nagain\t0.0\t0.3\tr2\n")
    txt = tmp_path / "story.txt"
    txt.write_text("Once upon a time,\nthere was a café.\n")
    out = tmp_path / "out"
    common = ["--layers", "embeddings", "layer.1", "--context-tokens", "8", "--dtype", "float32", "--batch-size", "2"]
    assert main(["-q", "extract", "text", str(tsv), "--model", str(minilm_dir), "-o", str(out)] + common) == 0
    assert main(["-q", "extract", "text", str(txt), "--model", str(minilm_dir), "-o", str(out)] + common) == 0
    store = FeatureStore(out)
    entries = [store.get(k) for k in store.keys()]
    assert sorted(e.n_events for e in entries) == [3, 8]
    table = next(e for e in entries if e.n_events == 3)
    assert table.timeline.run_ids == ["r1", "r2"] and table.layer_names == ["embeddings", "layer.1"]
    story = load_features(out / next(k for k in store.keys() if store.get(k).n_events == 8))
    assert story.timeline.tokens.tolist()[-2:] == ["a", "café."]
    bad = tmp_path / "bad.csv"
    bad.write_text("word,time\nhi,0\n")
    assert main(["-q", "extract", "text", str(bad), "--model", str(minilm_dir), "-o", str(out)]) == 2
    with pytest.raises(BrainalignInputError, match=r"bad.csv has no onset column.*found \['word', 'time'\]"):
        read_stimulus_file(bad)


# ------------------------------------------------------------------ hooks
def test_module_discovery_across_architectures(gpt2_model, llama_model, minilm_dir):
    from transformers import AutoModel

    from brainalign.features import (
        find_attention_output_modules,
        find_blocks,
        find_embedding_module,
        find_mlp_activation_modules,
        find_mlp_output_projections,
    )

    bert = AutoModel.from_pretrained(minilm_dir)
    expected = {
        "gpt2": (gpt2_model.model, 3, "wte", "h.0.mlp.act", "h.0.mlp.c_proj", "h.0.attn.c_proj"),
        "llama": (llama_model.model, 2, "embed_tokens", "layers.0.mlp.act_fn", "layers.0.mlp.down_proj",
                  "layers.0.self_attn.o_proj"),
        "bert": (bert, 6, "embeddings.word_embeddings", "encoder.layer.0.intermediate.intermediate_act_fn",
                 "encoder.layer.0.output.dense", "encoder.layer.0.attention.output.dense"),
    }
    for model, n_blocks, emb, act, down, attn in expected.values():
        names = {id(m): n for n, m in model.named_modules()}
        assert len(find_blocks(model)) == n_blocks
        assert names[id(find_embedding_module(model))] == emb
        assert names[id(find_mlp_activation_modules(model)[0])] == act
        assert names[id(find_mlp_output_projections(model)[0])] == down
        assert names[id(find_attention_output_modules(model)[0])] == attn
        assert len(find_attention_output_modules(model)) == n_blocks


def test_capture_records_and_always_removes_hooks(llama_model):
    from brainalign.features import capture, find_mlp_activation_modules, find_mlp_output_projections

    model = llama_model.model
    mlp = model.layers[1].mlp
    act, down = find_mlp_activation_modules(model)[1], find_mlp_output_projections(model)[1]
    ids = torch.tensor([[3, 4, 5, 6]])
    with torch.no_grad(), capture(model, [act, mlp.up_proj, down], ["output", "output", "input"]) as rec:
        model(input_ids=ids)
    gate, up, units = (r[0] for r in rec)
    torch.testing.assert_close(gate * up, units)  # gated MLP: units = act(gate_proj x) * up_proj x
    with pytest.raises(RuntimeError, match="boom"):
        with capture(model, [down], "input"):
            raise RuntimeError("boom")
    assert not down._forward_hooks and not act._forward_hooks
    with pytest.raises(ValueError, match="kind must be"):
        with capture(model, [down], "weights"):
            pass


def test_cache_key_changes_when_the_weights_change(tmp_path):
    """Same model id, same text, different weights: the store must not serve the old features."""
    from transformers import GPT2Config, GPT2Model

    tok = _byte_level_tokenizer(bos=False)
    cfg = GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=len(tok), n_positions=128,
                     bos_token_id=0, eos_token_id=1)
    torch.manual_seed(0)
    first = TextModel(GPT2Model(cfg), tok, "same-id")
    tl = _timeline(STORY)
    a = extract_text_features(tl, first, context_tokens=8, cache_dir=tmp_path)
    torch.manual_seed(1)
    second = TextModel(GPT2Model(cfg), tok, "same-id")
    b = extract_text_features(tl, second, context_tokens=8, cache_dir=tmp_path)
    assert a.metadata["store_key"] != b.metadata["store_key"]
    assert not b.metadata.get("cache_hit", False)
    assert not np.allclose(a["layer.1"], b["layer.1"])
    assert first.fingerprint() == TextModel(first.model, tok, "same-id").fingerprint()
