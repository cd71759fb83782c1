"""A one-token-per-word tokenizer over the isochronous corpus, for tiny random-init models."""

from __future__ import annotations

from brainalign.stimuli import load_isochronous_corpus


def corpus_word_tokenizer():
    """Fast tokenizer whose vocabulary is ``<s> <pad> <unk>`` and every corpus word (one token each)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for s in load_isochronous_corpus() for w in s})
    vocab = {"<s>": 0, "<pad>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(words)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", pad_token="<pad>", unk_token="<unk>",
                                   eos_token="<pad>")
