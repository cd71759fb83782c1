"""Word-level features of language models, aligned exactly to a timeline.

The extraction has four steps:

1. **Word alignment** -- the words of each run are joined with single spaces
   into running text, tokenized once with a *fast* tokenizer, and each word's
   character span is matched to the tokens overlapping it (offset mapping).
2. **Window plan** -- tokens are grouped into model inputs ("windows") that
   give every word at least ``context_tokens`` preceding tokens of its own run
   (fewer only at the start of the run).  Windows never cross runs.
3. **Forward passes** -- batched, one pass per window, block outputs captured
   by forward hooks (and optionally MLP / attention units).
4. **Pooling** -- a word's tokens are pooled (last token by default).

See :func:`extract_text_features` for the exact rules.
"""

from __future__ import annotations

import inspect
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..core import BrainalignInputError, FeatureSet, Timeline
from ._hooks import (
    capture,
    find_attention_output_modules,
    find_blocks,
    find_embedding_module,
    find_mlp_output_projections,
)
from ._loading import bundled_model_dir, from_pretrained, resolve_model_name, resolve_device, resolve_dtype  # noqa: F401 (re-export)
from ._loading import check_weights, randomly_initialised, weights_key
from ._engine import BatchRunner, extraction_metadata, is_oom_error, model_fingerprint, open_cache, run_chunks
from ._store import _storage_dtype
from ._random import stamped_model_id

logger = logging.getLogger("brainalign.features")

__all__ = [
    "TextModel",
    "WordAlignment",
    "align_words",
    "bundled_model_dir",
    "extract_text_features",
    "load_text_model",
    "plan_windows",
]

_CODE_VERSION = "text-features-1"
_MIN_DEFAULT_STRIDE = 128  # short contexts should not mean many tiny forward passes
_POOLINGS = ("last", "mean", "first")
_UNIT_KINDS = {"mlp": "mlp", "attn_heads": "attn", "attn": "attn"}

CONTEXT_RULE = (
    "Words of one run are joined with single spaces and tokenized once. Each word is computed in "
    "a window of consecutive tokens of its own run that starts at least context_tokens tokens "
    "before the word's first token (or at the run start when fewer precede it); windows never "
    "cross runs. Strided windows have length context_tokens + stride, so a word sees between "
    "context_tokens and context_tokens + stride - 1 preceding tokens; per-word windows end at the "
    "word's last token and start exactly context_tokens tokens before its first token. Special "
    "tokens of the tokenizer (e.g. [CLS]/[SEP], <s>) wrap every window."
)
LAYER_RULE = (
    "'embeddings' is the input of the first transformer block; 'layer.i' is the output of block i "
    "(residual stream, before any final norm); 'mlp.i' is the input of block i's MLP "
    "down-projection (the intermediate neurons); 'attn.i' is the input of block i's attention "
    "output projection (concatenated head outputs, head h in columns h*head_dim:(h+1)*head_dim)."
)
ALIGNMENT_RULE = (
    "A word's tokens are those whose character span overlaps the word's. A token overlapping two "
    "words (merged by the tokenizer) belongs to both. A word overlapping no token (e.g. characters "
    "the tokenizer drops, or an empty string) gets the features of the previous token of its run, "
    "or of the next token when it comes before any token of the run."
)


# ============================================================== model loading
def _resolve_device(device) -> torch.device:
    """``"auto"``/``None``: CUDA when available, else CPU (text models are not sent to MPS)."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return resolve_device(device)


def _resolve_dtype(dtype, device: torch.device) -> torch.dtype:
    """``None``/"auto": bf16 (fp16 if bf16 is unsupported) on CUDA, fp32 elsewhere."""
    if dtype is None or str(dtype) == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return resolve_dtype(dtype, none_means="bfloat16 on CUDA, float32 elsewhere; 'auto' is the same")


def _max_positions(model: nn.Module) -> int | None:
    config = getattr(model, "config", None)
    for sub in (config, getattr(config, "text_config", None)):
        for name in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
            value = getattr(sub, name, None) if sub is not None else None
            if isinstance(value, int) and value > 0:
                return value
    return None


def _forward_accepts(model: nn.Module, name: str) -> bool:
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
    return name in params


def _detect_causal(model: nn.Module) -> bool:
    """Empirically: does changing the last token leave earlier positions' outputs unchanged?"""
    vocab = int(find_embedding_module(model).weight.shape[0])
    device = next(model.parameters()).device
    ids = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 5]], device=device) % vocab
    block = find_blocks(model)[0]
    with torch.no_grad(), capture(model, [block]) as records:
        model(input_ids=ids, attention_mask=torch.ones_like(ids))
    out = records[0][0].float()
    diff = (out[0, :3] - out[1, :3]).abs().max().item()
    scale = out[:, :3].abs().max().item() + 1e-12
    return diff <= 1e-3 * scale


@dataclass
class TextModel:
    """A language model with its fast tokenizer, ready for feature extraction.

    Attributes
    ----------
    model : torch.nn.Module
        The model in eval mode (a Hugging Face base model or one with a head).
    tokenizer : transformers.PreTrainedTokenizerFast
        Must be a *fast* tokenizer (offset mapping is needed for alignment).
    model_id : str
        Hub id or local path, recorded in metadata and cache keys.
    revision : str or None
        Hub revision (commit hash when known).
    is_causal : bool or None
        Whether attention is causal; ``None`` detects it empirically (changing
        a later token must leave earlier positions unchanged).
    """

    model: nn.Module
    tokenizer: Any
    model_id: str
    revision: str | None = None
    is_causal: bool | None = None
    _blocks: list = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not getattr(self.tokenizer, "is_fast", False):
            raise BrainalignInputError(
                f"The tokenizer of {self.model_id!r} ({type(self.tokenizer).__name__}) is not a fast "
                "tokenizer; exact word alignment needs offset mappings (use_fast=True)."
            )
        self.model.eval()
        self._blocks = find_blocks(self.model)
        if self.is_causal is None:
            self.is_causal = _detect_causal(self.model)

    @property
    def n_blocks(self) -> int:
        return len(self._blocks)

    @property
    def layer_names(self) -> list[str]:
        """``["embeddings", "layer.0", ..., "layer.{n-1}"]``."""
        return ["embeddings"] + [f"layer.{i}" for i in range(self.n_blocks)]

    @property
    def unit_layer_names(self) -> list[str]:
        """Names of unit-level layers: ``"mlp.i"`` and ``"attn.i"`` per block."""
        return [f"{kind}.{i}" for kind in ("mlp", "attn") for i in range(self.n_blocks)]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def max_positions(self) -> int | None:
        """Longest input (with special tokens): the config's limit, or the tokenizer's if smaller.

        The tokenizer's ``model_max_length`` matters for models whose position
        table has offsets (RoBERTa: 514 embeddings but 512 usable positions).
        """
        limits = [_max_positions(self.model)]
        tok_limit = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_limit, int) and 0 < tok_limit < 1_000_000:
            limits.append(tok_limit)
        limits = [x for x in limits if x is not None]
        return min(limits) if limits else None

    def fingerprint(self) -> str:
        """Identity of the weights for cache keys (the engine's :func:`model_fingerprint`)."""
        return model_fingerprint(self.model)

    def __repr__(self) -> str:
        return (f"TextModel({self.model_id!r}, blocks={self.n_blocks}, causal={self.is_causal}, "
                f"device={self.device}, dtype={self.dtype})")


def load_text_model(
    name_or_path: str | Path,
    *,
    revision: str | None = None,
    device="auto",
    dtype=None,
    trust_remote_code: bool = False,
    weights: str = "pretrained",
    init_seed: int = 0,
) -> TextModel:
    """Load a Hugging Face model (hub id or local directory) and its fast tokenizer.

    Parameters
    ----------
    name_or_path : str or Path
        Hub id (e.g. ``"gpt2"``) or a local model directory.
    revision : str, optional
        Hub branch, tag or commit.
    device : str or torch.device
        ``"auto"`` picks CUDA when available, else CPU.
    dtype : str or torch.dtype, optional
        Default: bfloat16 on CUDA (float16 where bf16 is unsupported), float32 on CPU.
    trust_remote_code : bool
        Passed to ``from_pretrained``.
    weights : {"pretrained", "random"}
        ``"random"``: the same architecture, built from the folder's config
        with weights drawn under ``torch.manual_seed(init_seed)`` (the
        untrained control); the tokenizer is the folder's either way.
    init_seed : int
        Seed of the random weights.

    Examples
    --------
    >>> tm = load_text_model(bundled_model_dir(), device="cpu")
    >>> tm.layer_names[:3], tm.is_causal, tm.max_positions
    (['embeddings', 'layer.0', 'layer.1'], False, 512)
    """
    device = _resolve_device(device)
    torch_dtype = _resolve_dtype(dtype, device)
    name_or_path = resolve_model_name(name_or_path)  # bundled:all-MiniLM-L6-v2 -> its folder
    path = Path(name_or_path)
    # a random model made here is named by its settings, so its cached features outlive its folder
    model_id = (stamped_model_id(path) or str(path.resolve())) if path.is_dir() else str(name_or_path)
    model, tokenizer = from_pretrained(
        str(name_or_path), processor_class="AutoTokenizer", kind="model", revision=revision, dtype=torch_dtype,
        processor_kwargs={"use_fast": True}, trust_remote_code=trust_remote_code, weights=weights,
        init_seed=init_seed,
    )
    model.to(device)
    commit = getattr(model.config, "_commit_hash", None)
    return TextModel(model, tokenizer, model_id, revision=commit or revision)


# ============================================================== word alignment
@dataclass
class WordAlignment:
    """Tokens of one run's running text and the token range of every word.

    Attributes
    ----------
    text : str
        The words joined with single spaces.
    token_ids : ndarray of int64, shape (n_tokens,)
    token_offsets : ndarray of int64, shape (n_tokens, 2)
        Character span of each token in ``text``.
    first, last : ndarray of int64, shape (n_words,)
        Token index range (inclusive) of each word.
    status : ndarray of str, shape (n_words,)
        ``"own"`` (tokens of its own), ``"shared"`` (a token also covers a
        neighbouring word), ``"previous"`` / ``"next"`` (no token: borrowed).
    """

    text: str
    token_ids: np.ndarray
    token_offsets: np.ndarray
    first: np.ndarray
    last: np.ndarray
    status: np.ndarray


def align_words(words: Sequence[str], tokenizer, *, run: str = "run-1") -> WordAlignment:
    """Tokenize the running text of ``words`` and map each word to its tokens.

    Examples
    --------
    >>> from transformers import PreTrainedTokenizerFast
    >>> tok = PreTrainedTokenizerFast(tokenizer_file=str(bundled_model_dir() / "tokenizer.json"))
    >>> al = align_words(["Don't", "stop", "café"], tok)
    >>> [tok.convert_ids_to_tokens(al.token_ids[f:l + 1].tolist()) for f, l in zip(al.first, al.last)]
    [['don', "'", 't'], ['stop'], ['cafe']]
    """
    words = [str(w) for w in words]
    if not words:
        raise BrainalignInputError(f"Run {run!r} has no words.")
    starts = np.empty(len(words), dtype=np.int64)
    pos = 0
    for i, word in enumerate(words):
        starts[i] = pos
        pos += len(word) + 1
    ends = starts + np.array([len(w) for w in words], dtype=np.int64)
    text = " ".join(words)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    ids = np.asarray(enc["input_ids"], dtype=np.int64).reshape(-1)
    offsets = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)
    keep = offsets[:, 1] > offsets[:, 0]  # zero-width tokens carry no characters of any word
    ids, offsets = ids[keep], offsets[keep]
    if ids.size == 0:
        raise BrainalignInputError(
            f"Run {run!r} produces no tokens with this tokenizer (text starts {text[:60]!r})."
        )
    # offsets are non-decreasing in both ends (byte-level pieces of one character share a span)
    tok_start = np.maximum.accumulate(offsets[:, 0])
    tok_end = np.maximum.accumulate(offsets[:, 1])
    first = np.searchsorted(tok_end, starts, side="right")  # first token ending after word start
    last = np.searchsorted(tok_start, ends, side="left") - 1  # last token starting before word end
    covered = (first <= last) & (ends > starts)
    if not covered.any():
        raise BrainalignInputError(
            f"No word of run {run!r} produces a token of its own with this tokenizer "
            f"(text starts {text[:60]!r})."
        )
    status = np.where(covered, "own", "").astype(object)
    shared = np.zeros(len(words), dtype=bool)
    both = covered[:-1] & covered[1:]
    touch = both & (last[:-1] >= first[1:])
    shared[:-1] |= touch
    shared[1:] |= touch
    status[shared] = "shared"
    for i in np.flatnonzero(~covered):
        previous = int(first[i]) - 1  # the last token ending at or before the word's start
        if previous >= 0:
            first[i] = last[i] = previous
            status[i] = "previous"
        else:
            first[i] = last[i] = 0
            status[i] = "next"
    return WordAlignment(text, ids, offsets, first.astype(np.int64), last.astype(np.int64), status)


# ============================================================== window plan
@dataclass
class Window:
    """Tokens ``[start, stop)`` of one run, computing the words ``words`` (run-local indices)."""

    run_index: int
    start: int
    stop: int
    words: np.ndarray


def plan_windows(
    first: np.ndarray,
    last: np.ndarray,
    n_tokens: int,
    *,
    context_tokens: int,
    stride: int | None,
    max_tokens: int | None = None,
    run_index: int = 0,
) -> list[Window]:
    """Group one run's words into model inputs.

    ``stride=None`` gives one window per word, ``[max(0, first - context), last + 1)``.
    Otherwise windows are greedy: a window starts ``context_tokens`` before the
    first token of the first word not yet computed (or at 0), spans
    ``context_tokens + stride`` tokens, and computes every word that ends inside
    it.  Total tokens processed is about ``(1 + context_tokens / stride) * n_tokens``
    (a word straddling a window end starts the next window, so the effective
    stride is at least ``stride - (longest word in tokens - 1)``).

    Examples
    --------
    >>> w = plan_windows(np.arange(10), np.arange(10), 10, context_tokens=4, stride=2)
    >>> [(x.start, x.stop, x.words.tolist()) for x in w]
    [(0, 6, [0, 1, 2, 3, 4, 5]), (2, 8, [6, 7]), (4, 10, [8, 9])]
    """
    first = np.asarray(first, dtype=np.int64)
    last = np.asarray(last, dtype=np.int64)
    windows: list[Window] = []
    n_words = first.size
    i = 0
    while i < n_words:
        start = max(0, int(first[i]) - context_tokens)
        if stride is None:
            j = i + 1
            stop = int(last[i]) + 1
        else:
            stop = min(n_tokens, start + context_tokens + stride)
            j = int(np.searchsorted(last, stop, side="left"))  # words ending before `stop`
            j = max(j, i + 1)
            stop = max(stop, int(last[i]) + 1)  # a word longer than the stride gets a longer window
        if max_tokens is not None and stop - start > max_tokens:
            raise BrainalignInputError(
                f"Word {i} of run {run_index} needs a window of {stop - start} tokens, more than the "
                f"model's {max_tokens}; lower context_tokens."
            )
        windows.append(Window(run_index, start, stop, np.arange(i, j)))
        i = j
    return windows


# ============================================================== batching with OOM back-off
# The engine's runner; the old names stay importable from here.
_is_oom_error = is_oom_error
_BatchRunner = BatchRunner


# ============================================================== extraction
class _StopForward(Exception):
    """Raised by a hook once the last needed block has run (skips the rest of the model)."""


def _raise_stop(module, args, output):
    raise _StopForward


def _special_affixes(tokenizer, enabled: bool) -> tuple[list[int], list[int]]:
    if not enabled:
        return [], []
    probe = "hello"
    plain = list(tokenizer(probe, add_special_tokens=False)["input_ids"])
    full = list(tokenizer(probe, add_special_tokens=True)["input_ids"])
    for k in range(len(full) - len(plain) + 1):
        if full[k:k + len(plain)] == plain:
            return full[:k], full[k + len(plain):]
    logger.warning("Could not locate the special tokens the tokenizer adds; windows get none.")
    return [], []


def _parse_layers(text_model: TextModel, layers, units) -> list[str]:
    n = text_model.n_blocks
    valid = text_model.layer_names + text_model.unit_layer_names
    if layers is None:
        selected = list(text_model.layer_names)
    else:
        selected = [layers] if isinstance(layers, str) else list(layers)
        if not selected:
            raise BrainalignInputError(f"layers is empty; valid layer names are {valid}.")
        selected = [f"layer.{x % n}" if isinstance(x, (int, np.integer)) else str(x) for x in selected]
    unknown = [x for x in selected if x not in valid]
    if unknown:
        raise BrainalignInputError(f"Unknown layer name(s) {unknown}; valid layer names are {valid}.")
    if units:
        kinds = [units] if isinstance(units, str) else list(units)
        bad = [u for u in kinds if u not in _UNIT_KINDS]
        if bad:
            raise BrainalignInputError(f"Unknown unit kind(s) {bad}; use {sorted(_UNIT_KINDS)}.")
        blocks = [int(x.split(".")[1]) for x in selected if x.startswith("layer.")]
        if layers is None:
            blocks = list(range(n))
        if not blocks:
            raise BrainalignInputError(
                f"units={kinds} adds unit layers for the selected blocks ('layer.i'), but layers={selected} "
                "selects none; name unit layers directly (e.g. 'mlp.3') or add 'layer.i'."
            )
        for kind in kinds:
            selected += [f"{_UNIT_KINDS[kind]}.{b}" for b in blocks]
    return list(dict.fromkeys(selected))


@dataclass
class _RunData:
    label: str
    rows: np.ndarray  # timeline row of each word
    alignment: WordAlignment


def _chunk_windows(windows: list[Window], chunk_words: int) -> list[list[Window]]:
    """Consecutive windows holding at most ``chunk_words`` words (or a single larger window)."""
    chunks: list[list[Window]] = [[]]
    count = 0
    for w in windows:
        if chunks[-1] and count + w.words.size > chunk_words:
            chunks.append([])
            count = 0
        chunks[-1].append(w)
        count += w.words.size
    return chunks


def _window_rule(text_model: TextModel, n_special: int, requested: int, stride, strategy: str,
                 future_context: bool) -> tuple[int, int | None, str, int | None]:
    """Context, stride, strategy and window capacity (tokens) within the model's position limit."""
    limit = text_model.max_positions
    capacity = None if limit is None else limit - n_special
    if strategy == "auto":
        strategy = "strided" if (text_model.is_causal or future_context) else "per_word"
        if strategy == "per_word":
            # one forward pass per word: exact, but often 10-20x slower than shared windows
            logger.warning("%s is bidirectional: every word gets its own forward pass so that it never sees the "
                           "following words (slow on long stimuli). future_context=True (extract text "
                           "--future-context) shares windows at the cost of some look-ahead.",
                           text_model.model_id)
    if strategy == "strided" and not text_model.is_causal and not future_context:
        raise BrainalignInputError(
            "strategy='strided' on a bidirectional model lets words see following tokens; "
            "pass future_context=True to accept that, or use strategy='per_word'."
        )
    context = requested
    if capacity is not None:
        # a clipped context must leave room in the window: for the word itself (several tokens
        # for a long or non-ASCII word) and, with strided windows, for a useful stride
        room = min(_MIN_DEFAULT_STRIDE, capacity // 2) if strategy == "strided" else min(16, capacity // 4)
        if context > capacity - 1:
            context = max(0, capacity - max(room, 1))
            logger.warning("context_tokens=%d does not fit %s (at most %d positions with special tokens "
                           "and room for the words themselves); using %d.",
                           requested, text_model.model_id, limit, context)
    if strategy != "strided":
        return context, None, strategy, capacity
    if stride is None:
        stride = max(context, _MIN_DEFAULT_STRIDE)
        stride = max(1, stride if capacity is None else min(stride, capacity - context))
    elif int(stride) < 1:
        raise BrainalignInputError(f"stride must be >= 1, got {stride}.")
    stride = int(stride)
    if capacity is not None and context + stride > capacity:
        raise BrainalignInputError(
            f"context_tokens + stride = {context + stride} exceeds the {capacity} positions "
            f"{text_model.model_id} allows; lower stride or context_tokens."
        )
    return context, stride, strategy, capacity


def extract_text_features(
    timeline: Timeline,
    model,
    *,
    layers=None,
    context_tokens: int = 512,
    pooling: str = "last",
    batch_size: int = 8,
    device="auto",
    dtype=None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    units=None,
    cache_dir=None,
    storage_dtype: str = "float32",
    stride: int | None = None,
    future_context: bool = False,
    strategy: str = "auto",
    special_tokens: bool = True,
    chunk_words: int | None = None,
    weights: str = "pretrained",
    init_seed: int = 0,
    on_chunk: Callable[[int, int], None] | None = None,
) -> FeatureSet:
    """Layerwise features of a language model for every word of a timeline.

    Parameters
    ----------
    timeline : Timeline
        One event per word; runs are processed independently.
    model : str, Path or TextModel
        Hub id, local directory, or a model from :func:`load_text_model`.
    layers : list of str or int, optional
        ``"embeddings"``, ``"layer.i"`` (block outputs), ``"mlp.i"``,
        ``"attn.i"``; ints mean ``"layer.i"`` (negative counts from the end).
        Default: embeddings and every block.  All come from one forward pass
        per window (forward hooks; blocks after the last needed one are skipped).
    context_tokens : int
        Minimum number of preceding tokens of the same run each word sees
        (fewer only near the start of a run).  Clipped, with a warning, to what
        the model's position limit allows (see metadata
        ``context_tokens_requested``).
    pooling : {"last", "mean", "first"}
        How the tokens of a multi-token word are combined.
    batch_size : int
        Windows per forward pass; halved automatically on CUDA out-of-memory.
    device, dtype
        ``"auto"``: CUDA if available; bfloat16 (or float16) on CUDA, float32 on CPU.
        For a :class:`TextModel`, ``device="auto"``/``dtype=None`` keep it as is.
    revision, trust_remote_code
        Used when ``model`` is loaded here.
    units : {"mlp", "attn_heads"} or sequence of them, optional
        Add unit-level layers ``"mlp.i"`` / ``"attn.i"`` for every selected block.
    cache_dir : str or Path, optional
        A :class:`FeatureStore` root: a finished extraction is loaded instead of
        recomputed, an interrupted one resumes at its first missing chunk, and
        the returned layers are memory-mapped from disk.
    storage_dtype : {"float32", "float16"}
        dtype of the returned / stored arrays.
    stride : int, optional
        Tokens computed per strided window.  Default
        ``min(max(context_tokens, 128), max_positions - context_tokens)``, so the
        work is ``(1 + context_tokens / stride)`` times one pass over the text:
        at most 2x whenever the model holds ``2 * context_tokens`` positions.
    future_context : bool
        Only matters for bidirectional (non-causal) models.  ``False`` (default):
        every word is the *last* token of its own input, so no later word leaks
        into its features (one forward pass per word: cost ~``context_tokens``
        tokens per word).  ``True``: shared strided windows, ~2 passes over the
        text, but a word may see up to ``stride - 1`` *following* tokens, which
        correlates its features with stimulus that the brain has not yet
        received.  The safe choice is the default because a leak silently
        inflates encoding scores; opt in for speed when that is acceptable.
        Causal models never see future tokens, so they always use strided windows.
    strategy : {"auto", "strided", "per_word"}
        Override the window plan ("per_word" is the naive reference: one input
        per word with exactly ``context_tokens`` preceding tokens).
    special_tokens : bool
        Wrap each window in the tokenizer's special tokens (BOS, [CLS]/[SEP]).
    chunk_words : int, optional
        Words per chunk (the unit of resumption and of buffering).  Default:
        ``max(256, ceil(n_words / n_layers))``, so that a chunk of all layers
        holds about as much as one layer's array; with ``cache_dir`` the peak
        memory then stays near one layer's array (layers are streamed to disk).
    weights : {"pretrained", "random"}
        ``"random"`` extracts from the randomly initialised twin of the model
        (same architecture and tokenizer, seeded random weights: the untrained
        control; a :class:`TextModel` given is re-initialised, not changed).
        Recorded in ``metadata["weights"]`` (and ``["init_seed"]``) and in the cache key.
    init_seed : int
        Seed of the random weights (``weights="random"``).
    on_chunk : callable, optional
        Called as ``on_chunk(chunk_index, n_chunks)`` after each chunk is computed
        (and stored, with ``cache_dir``).

    Returns
    -------
    FeatureSet
        One row per timeline event.  ``metadata`` holds ``model_id``,
        ``revision``, ``pooling``, ``context_tokens``, ``stride``, ``strategy``,
        ``dtype``, ``layer_names``, ``context_rule``, ``layer_rule``,
        ``alignment_rule`` and the words without a token of their own.

    Notes
    -----
    *Context rule.*  Strided windows: a window starts ``context_tokens`` tokens
    before the first token of the first word it computes (or at the run start)
    and spans ``context_tokens + stride`` tokens; it computes every word that
    ends inside it.  So every word sees between ``context_tokens`` and
    ``context_tokens + stride - 1`` preceding tokens of its run.  For a causal
    model the features of a token depend only on the tokens of its window up
    to itself, so they equal those of a per-word input starting at the same
    window start.  Total tokens processed: ``(1 + context_tokens / stride) * n``.
    A ``context_tokens`` that does not fit the model's positions (minus special
    tokens) is clipped, with a warning and ``context_tokens_requested`` in the
    metadata, so that room is left for the word itself (``min(16, capacity //
    4)`` tokens) and, for strided windows, for a stride (``min(128, capacity //
    2)`` tokens).

    *Alignment.*  Words are joined with single spaces per run; each word gets
    the tokens overlapping its characters (fast-tokenizer offsets).  A token
    shared by two words belongs to both; a word with no token of its own gets
    the previous token's features (the next token's at a run start); such words
    are listed in ``metadata["words_without_own_token"]``.

    Examples
    --------
    >>> tl = Timeline(["The", "cat", "sat", "down."], [0.0, 0.3, 0.6, 0.9])
    >>> fs = extract_text_features(tl, bundled_model_dir(), layers=["layer.2"], context_tokens=8)
    >>> fs["layer.2"].shape
    (4, 384)
    """
    if not isinstance(timeline, Timeline):
        raise BrainalignInputError(f"timeline must be a Timeline, got {type(timeline).__name__}.")
    if timeline.n_events == 0:
        raise BrainalignInputError("The timeline is empty: there are no words to extract features for.")
    if pooling not in _POOLINGS:
        raise BrainalignInputError(f"pooling must be one of {_POOLINGS}, got {pooling!r}.")
    if strategy not in ("auto", "strided", "per_word"):
        raise BrainalignInputError(f"strategy must be 'auto', 'strided' or 'per_word', got {strategy!r}.")
    if int(context_tokens) < 0:
        raise BrainalignInputError(f"context_tokens must be >= 0, got {context_tokens}.")
    if chunk_words is not None and int(chunk_words) < 1:
        raise BrainalignInputError(f"chunk_words must be >= 1, got {chunk_words}.")
    np_storage = _storage_dtype(storage_dtype)  # validated before the model is loaded

    text_model = _as_text_model(model, revision=revision, device=device, dtype=dtype,
                                trust_remote_code=trust_remote_code, weights=weights, init_seed=init_seed)
    names = _parse_layers(text_model, layers, units)
    tokenizer = text_model.tokenizer
    prefix, suffix = _special_affixes(tokenizer, special_tokens)

    context, stride, strategy, capacity = _window_rule(
        text_model, len(prefix) + len(suffix), int(context_tokens), stride, strategy, future_context
    )
    requested = int(context_tokens)

    # ---- alignment and plan (cheap, always recomputed)
    runs: list[_RunData] = []
    windows: list[Window] = []
    for r, label in enumerate(timeline.run_ids):
        sl = timeline.run_slice(label)
        al = align_words(timeline.tokens[sl], tokenizer, run=label)
        runs.append(_RunData(label, np.arange(sl.start, sl.stop), al))
        windows += plan_windows(al.first, al.last, al.token_ids.size, context_tokens=context,
                                stride=stride, max_tokens=capacity, run_index=r)
    n_tokens = sum(r.alignment.token_ids.size for r in runs)
    processed = sum(w.stop - w.start for w in windows)
    if chunk_words is None:
        chunk_words = max(256, math.ceil(timeline.n_events / len(names)))
    chunks = _chunk_windows(windows, int(chunk_words))
    compute_dtype = text_model.dtype

    borrowed = []
    for rd in runs:
        for i in np.flatnonzero(np.isin(rd.alignment.status, ["previous", "next"])):
            row = int(rd.rows[i])
            borrowed.append({"index": row, "word": str(timeline.tokens[row]),
                             "uses": str(rd.alignment.status[i]) + " token"})
    fingerprint = text_model.fingerprint()
    metadata = extraction_metadata(
        modality="text", model_id=text_model.model_id, revision=text_model.revision,
        model_class=type(text_model.model).__name__, model_fingerprint=fingerprint, device=text_model.device, dtype=compute_dtype,
        pooling=pooling,
        context_tokens=context,
        context_tokens_requested=requested,
        stride=stride,
        strategy=strategy,
        future_context=bool(future_context) and not text_model.is_causal and strategy == "strided",
        is_causal=bool(text_model.is_causal),
        storage_dtype=str(storage_dtype),
        layer_names=names,
        special_tokens={"prefix": prefix, "suffix": suffix},
        context_rule=CONTEXT_RULE,
        layer_rule=LAYER_RULE,
        alignment_rule=ALIGNMENT_RULE,
        words_without_own_token=borrowed,
        n_words_sharing_tokens=int(sum((r.alignment.status == "shared").sum() for r in runs)),
        n_tokens=int(n_tokens),
        tokens_processed=int(processed),
        **{"weights": weights, **weights_key(weights, init_seed)},
    )

    # ---- cache
    store, key, cached = open_cache(
        cache_dir, modality="text", model_id=text_model.model_id, revision=text_model.revision,
        stimulus_hash=timeline.content_hash,
        params=lambda: {"code": _CODE_VERSION, "fingerprint": fingerprint, "layers": names,
                        "pooling": pooling, "context_tokens": context, "stride": stride, "strategy": strategy,
                        "future_context": metadata["future_context"], "dtype": metadata["dtype"],
                        "special_tokens": bool(special_tokens), "chunk_words": int(chunk_words),
                        "storage_dtype": str(storage_dtype), **weights_key(weights, init_seed)},
    )
    if cached is not None:
        return cached

    logger.info("Extracting %d layer(s) of %s for %d words (%d tokens, %d processed, %s windows).",
                len(names), text_model.model_id, timeline.n_events, n_tokens, processed, strategy)
    engine = _Engine(text_model, names, pooling, prefix, suffix, runs, int(batch_size))
    return run_chunks(
        lambda k: engine.compute(chunks[k], np_storage), n_chunks=len(chunks), timeline=timeline,
        metadata=metadata, store=store, key=key, layer_names=names, storage_dtype=str(storage_dtype),
        desc="text features", unit="window", weights=[len(c) for c in chunks], on_chunk=on_chunk,
    )


def _as_text_model(model, *, revision, device, dtype, trust_remote_code, weights="pretrained",
                   init_seed=0) -> TextModel:
    check_weights(weights, init_seed)
    if isinstance(model, TextModel) and weights == "random":
        model = TextModel(randomly_initialised(model.model, init_seed).to(model.device), model.tokenizer,
                          model.model_id, revision=model.revision, is_causal=model.is_causal)
    if isinstance(model, TextModel):
        if device is not None and str(device) != "auto":
            model.model.to(_resolve_device(device))
        if dtype is not None and str(dtype) != "auto":
            model.model.to(_resolve_dtype(dtype, model.device))
        return model
    if isinstance(model, (str, Path)):
        return load_text_model(model, revision=revision, device=device, dtype=dtype,
                               trust_remote_code=trust_remote_code, weights=weights, init_seed=init_seed)
    raise BrainalignInputError(
        f"model must be a hub id, a local directory or a TextModel, got {type(model).__name__}."
    )


class _Engine:
    """Forward passes over windows and pooling of the captured activations."""

    def __init__(self, tm: TextModel, names: list[str], pooling: str, prefix: list[int],
                 suffix: list[int], runs: list[_RunData], batch_size: int) -> None:
        self.tm = tm
        self.names = names
        self.pooling = pooling
        self.prefix = prefix
        self.suffix = suffix
        self.runs = runs
        self.n_events = sum(r.rows.size for r in runs)
        self.runner = BatchRunner(batch_size, what="windows")
        blocks = tm._blocks
        sources = {  # family -> (modules per block, what to record), found lazily
            "layer": lambda: (blocks, "output"),
            "mlp": lambda: (find_mlp_output_projections(tm.model), "input"),
            "attn": lambda: (find_attention_output_modules(tm.model), "input"),
        }
        found: dict[str, tuple[list, str]] = {}
        mods, kinds, needed = [], [], []
        for name in names:
            family, _, idx = name.partition(".")
            if family == "embeddings":  # the residual stream entering the first block
                block_index, module, kind = 0, blocks[0], "input"
            else:
                if family not in found:
                    found[family] = sources[family]()
                block_index = int(idx)
                module, kind = found[family][0][block_index], found[family][1]
            mods.append(module)
            kinds.append(kind)
            needed.append(block_index)
        self.modules, self.kinds = mods, kinds
        self.stop_block = blocks[max(needed)] if max(needed) < len(blocks) - 1 else None
        tokenizer = tm.tokenizer
        pad = tokenizer.pad_token_id
        if pad is None:
            pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        self.pad_id = int(pad)
        self.accepts_use_cache = _forward_accepts(tm.model, "use_cache")

    def _forward(self, batch: Sequence[Window]) -> list[np.ndarray]:
        device = self.tm.device
        seqs = []
        for w in batch:
            ids = self.runs[w.run_index].alignment.token_ids[w.start:w.stop]
            seqs.append(self.prefix + ids.tolist() + self.suffix)
        length = max(len(s) for s in seqs)
        input_ids = torch.full((len(seqs), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), length), dtype=torch.long)
        for b, s in enumerate(seqs):
            input_ids[b, :len(s)] = torch.tensor(s)
            mask[b, :len(s)] = 1
        # token positions of each word: (window in batch, first pos, last pos)
        bi, fp, lp = [], [], []
        off = len(self.prefix)
        for b, w in enumerate(batch):
            al = self.runs[w.run_index].alignment
            bi.append(np.full(w.words.size, b))
            fp.append(al.first[w.words] - w.start + off)
            lp.append(al.last[w.words] - w.start + off)
        bi_t = torch.from_numpy(np.concatenate(bi)).to(device)
        fp_t = torch.from_numpy(np.concatenate(fp)).to(device)
        lp_t = torch.from_numpy(np.concatenate(lp)).to(device)
        kwargs = {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}
        if self.accepts_use_cache:
            kwargs["use_cache"] = False
        with torch.inference_mode(), capture(self.tm.model, self.modules, self.kinds) as records:
            # registered after the capture hooks, so the last needed block is recorded first
            handle = None if self.stop_block is None else self.stop_block.register_forward_hook(_raise_stop)
            try:
                self.tm.model(**kwargs)
            except _StopForward:
                pass
            finally:
                if handle is not None:
                    handle.remove()
            return [self._pool(rec[0], bi_t, fp_t, lp_t) for rec in records]

    def _pool(self, hidden: torch.Tensor, bi, fp, lp) -> np.ndarray:
        if self.pooling == "last":
            out = hidden[bi, lp]
        elif self.pooling == "first":
            out = hidden[bi, fp]
        else:
            csum = torch.cumsum(hidden.float(), dim=1)
            total = csum[bi, lp]
            before = torch.where((fp > 0)[:, None], csum[bi, (fp - 1).clamp(min=0)], torch.zeros_like(total))
            out = (total - before) / (lp - fp + 1).to(total.dtype)[:, None]
        return out.float().cpu().numpy()

    def compute(self, windows: list[Window], dtype=np.float32) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Features of every word of ``windows``: (timeline rows, {layer: (n_words, dim)})."""
        n_rows = sum(w.words.size for w in windows)
        rows = np.empty(n_rows, dtype=np.int64)
        arrays: dict[str, np.ndarray] = {}
        filled = 0
        for batch, pooled in self.runner.run(windows, self._forward):
            n = sum(w.words.size for w in batch)
            rows[filled:filled + n] = np.concatenate([self.runs[w.run_index].rows[w.words] for w in batch])
            for name, arr in zip(self.names, pooled):
                if name not in arrays:  # preallocated: a chunk costs one copy of its features
                    arrays[name] = np.empty((n_rows, arr.shape[1]), dtype=dtype)
                arrays[name][filled:filled + n] = arr
            filled += n
        return rows, arrays
