"""Benchmark: word-level features of every layer with strided windows vs naive per-word inputs.

Both methods give every word at least ``CONTEXT`` preceding tokens.  The naive
method runs one input per word (its ``CONTEXT`` preceding tokens + itself); it
is timed on a random subset of words that all have full context and
extrapolated to the whole text.  Peak memory is measured with tracemalloc
(numpy buffers; torch's CPU allocator is not traced) and, on CUDA, with
``torch.cuda.max_memory_allocated``; the process peak RSS is printed too.

Run:  python benchmarks/bench_features.py      (BRAINALIGN_FAST=1 for a small run)
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from brainalign.core import Timeline
from brainalign.features import TextModel, align_words, extract_text_features, plan_windows
from brainalign.features._text import _Engine, _RunData, _special_affixes

FAST = os.environ.get("BRAINALIGN_FAST", "0") == "1"
CUDA = torch.cuda.is_available()
N_WORDS = 1000 if FAST else 5000
CONTEXT = 512
N_NAIVE = 24 if FAST else (400 if CUDA else 80)
SHARED = Path(os.environ.get("BRAINALIGN_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def load_words(n: int) -> tuple[list[str], str]:
    folder = SHARED / "pereira2018_sentences"
    words: list[str] = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.txt")):
            words += path.read_text(encoding="utf-8").split()
        source = f"{folder} ({len(words)} words available)"
    else:
        source = "generated text"
    rng = np.random.default_rng(0)
    vocab = ["the", "a", "brain", "reads", "stories", "slowly,", "and", "listens", "to", "café", "words."]
    while len(words) < n:
        words += list(rng.choice(vocab, size=n))
    return words[:n], source


def build_model(words: list[str]) -> TextModel:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=4000, special_tokens=["<|endoftext|>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([" ".join(words[i:i + 50]) for i in range(0, len(words), 50)], trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    if CUDA:  # GPT-2-medium-sized
        cfg = GPT2Config(n_layer=24, n_embd=1024, n_head=16, vocab_size=len(tokenizer), n_positions=1024)
    else:
        cfg = GPT2Config(n_layer=4, n_embd=128, n_head=4, vocab_size=len(tokenizer), n_positions=1024)
    torch.manual_seed(0)
    model = GPT2Model(cfg)
    if CUDA:
        model = model.to("cuda", torch.bfloat16)
    return TextModel(model, tokenizer, "random-gpt2-" + ("medium" if CUDA else "small"))


def naive_seconds_per_word(tm: TextModel, timeline: Timeline, batch_size: int) -> tuple[float, int]:
    """Time per-word inputs (exactly CONTEXT preceding tokens) on words with full context."""
    al = align_words(list(timeline.tokens), tm.tokenizer)
    windows = plan_windows(al.first, al.last, al.token_ids.size, context_tokens=CONTEXT, stride=None)
    eligible = [w for w in windows if w.start > 0]
    rng = np.random.default_rng(1)
    subset = [eligible[i] for i in sorted(rng.choice(len(eligible), size=min(N_NAIVE, len(eligible)), replace=False))]
    prefix, suffix = _special_affixes(tm.tokenizer, True)
    engine = _Engine(tm, tm.layer_names, "last", prefix, suffix,
                     [_RunData("run-1", np.arange(timeline.n_events), al)], batch_size)

    engine.compute(subset[:batch_size])  # warm-up
    sync()
    t0 = time.perf_counter()
    engine.compute(subset)
    sync()
    return (time.perf_counter() - t0) / len(subset), len(subset)


def sync() -> None:
    if CUDA:
        torch.cuda.synchronize()


def main() -> int:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    words, source = load_words(N_WORDS)
    timeline = Timeline(words, np.arange(len(words)) * 0.3)
    tm = build_model(words)
    batch_size = 16 if CUDA else 4
    n_layers = len(tm.layer_names)
    dim = tm.model.config.n_embd
    print(f"text: {len(words)} words from {source}")
    print(f"model: {tm.model_id} ({tm.n_blocks} blocks, width {dim}), device {tm.device}, dtype {tm.dtype}, "
          f"torch threads {torch.get_num_threads()}")

    extract_text_features(timeline.select(np.arange(200)), tm, context_tokens=CONTEXT, batch_size=batch_size)  # warm-up
    layer_mb = len(words) * dim * 4 / 2**20

    # --- strided, streamed to a feature store (the memory-bounded path)
    with tempfile.TemporaryDirectory() as cache:
        if CUDA:
            torch.cuda.reset_peak_memory_stats()
        tracemalloc.start()
        sync()
        t0 = time.perf_counter()
        fs = extract_text_features(timeline, tm, context_tokens=CONTEXT, batch_size=batch_size, cache_dir=cache)
        sync()
        strided_s = time.perf_counter() - t0
        _, peak_stream = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if CUDA else None
        md = fs.metadata
        assert fs["layer.0"].shape == (len(words), dim)
        del fs

    # --- strided, in memory (returns all layers: the result itself is n_layers arrays)
    tracemalloc.start()
    t0 = time.perf_counter()
    fs = extract_text_features(timeline, tm, context_tokens=CONTEXT, batch_size=batch_size)
    sync()
    inmem_s = time.perf_counter() - t0
    _, peak_inmem = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del fs

    per_word, n_naive = naive_seconds_per_word(tm, timeline, batch_size)
    naive_total = per_word * len(words)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"context: >= {md['context_tokens']} preceding tokens per word; stride {md['stride']}; "
          f"{md['n_tokens']} tokens, {md['tokens_processed']} processed "
          f"({md['tokens_processed'] / md['n_tokens']:.2f}x one pass); all {n_layers} layers; batch {batch_size}")
    print(f"strided (cache, streamed): {strided_s:8.2f} s  {len(words) / strided_s:10.1f} words/s")
    print(f"strided (in memory)      : {inmem_s:8.2f} s  {len(words) / inmem_s:10.1f} words/s")
    print(f"naive per-word windows   : {naive_total:8.2f} s  {1 / per_word:10.1f} words/s  "
          f"(EXTRAPOLATED from {n_naive} words with full context)")
    print(f"speed-up strided vs naive: {naive_total / strided_s:.1f}x")
    print(f"one layer's array: {layer_mb:.2f} MiB; all layers: {layer_mb * n_layers:.2f} MiB")
    print(f"peak traced (numpy) memory, streamed to store: {peak_stream / 2**20:.2f} MiB "
          f"= {peak_stream / 2**20 / layer_mb:.2f} layer arrays")
    print(f"peak traced (numpy) memory, in memory        : {peak_inmem / 2**20:.2f} MiB "
          f"= {peak_inmem / 2**20 / layer_mb:.2f} layer arrays (result holds {n_layers})")
    if gpu_peak is not None:
        print(f"peak CUDA memory allocated: {gpu_peak:.0f} MiB")
    print(f"process peak RSS (model, torch, everything): {rss_mb:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
