"""Instruction-conditioned features: the task prompt is part of the model's input (Oota et al. 2025).

An instruction-tuned model's representation of a stimulus depends on what it
was asked to do with it.  :func:`extract_instruction_features` feeds every
stimulus segment (one event of a :class:`~brainalign.Timeline`: a sentence, a
clip's transcript, a TR's words) inside one or more *instruction templates*
(``"Describe the emotions in: {stimulus}"``), optionally through the
tokenizer's chat template, and pools the block outputs over an **explicit
token set**, because the choice changes the result:

* ``"stimulus"``: mean over the tokens of the stimulus text;
* ``"instruction"``: mean over the tokens of the instruction text (chat
  markup and special tokens excluded);
* ``"generated"``: mean over ``max_new_tokens`` greedily generated tokens
  (the model's answer, re-read in one forward pass);
* ``"last"``: the last token of the prompt (what the model answers from).

Instructions and token sets are a **feature-key axis**: layer names are
``"layer.3|instruction=emotion|pool=stimulus"`` (see :func:`parse_feature_key`),
so every encoding sweep over layers sweeps them too, and
:func:`best_per_target` generalises "best layer per target" to any
categorical axis of those keys (best instruction per voxel).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, FeatureSet, Timeline

logger = logging.getLogger("brainalign.features")

__all__ = ["POOLS", "best_per_target", "extract_instruction_features", "feature_key", "parse_feature_key"]

POOLS = ("stimulus", "instruction", "generated", "last")


def feature_key(layer: str, **axes: str) -> str:
    """Layer name with extra categorical axes: ``feature_key("layer.3", instruction="emotion")``.

    Examples
    --------
    >>> feature_key("layer.3", instruction="emotion", pool="stimulus")
    'layer.3|instruction=emotion|pool=stimulus'
    """
    for name, value in axes.items():
        if any(c in str(value) for c in "|="):
            raise BrainalignInputError(f"The {name} name {value!r} must not contain '|' or '='.")
    return "|".join([layer] + [f"{k}={v}" for k, v in axes.items()])


def parse_feature_key(key: str) -> dict[str, str]:
    """Inverse of :func:`feature_key`: ``{"layer": "layer.3", "instruction": "emotion", ...}``.

    Examples
    --------
    >>> parse_feature_key("layer.3|instruction=emotion|pool=last")
    {'layer': 'layer.3', 'instruction': 'emotion', 'pool': 'last'}
    """
    layer, *rest = str(key).split("|")
    out = {"layer": layer}
    for part in rest:
        name, sep, value = part.partition("=")
        if not sep:
            raise BrainalignInputError(f"Feature key {key!r}: part {part!r} is not 'axis=value'.")
        out[name] = value
    return out


def _split_template(name: str, template: str) -> tuple[str, str]:
    if not isinstance(template, str) or template.count("{stimulus}") != 1:
        raise BrainalignInputError(
            f"Instruction {name!r} must be a string with exactly one '{{stimulus}}' placeholder, got {template!r}."
        )
    prefix, suffix = template.split("{stimulus}")
    return prefix, suffix


def _render(tokenizer, prefix: str, stimulus: str, suffix: str, chat: bool) -> tuple[str, tuple[int, int], list[tuple[int, int]]]:
    """Prompt text, the stimulus character span and the instruction character spans."""
    content = prefix + stimulus + suffix
    if chat:
        if not getattr(tokenizer, "chat_template", None):
            raise BrainalignInputError("chat=True needs a tokenizer (or processor) with a chat_template.")
        text = tokenizer.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                             add_generation_prompt=True)
        start = text.find(content)
        if start < 0:
            raise BrainalignInputError("The chat template changed the user message; cannot locate the stimulus in it.")
    else:
        text, start = content, 0
    stim = (start + len(prefix), start + len(prefix) + len(stimulus))
    instr = [(start, start + len(prefix)), (stim[1], stim[1] + len(suffix))]
    return text, stim, instr


def _overlaps(offsets: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    hit = np.zeros(len(offsets), dtype=bool)
    for a, b in spans:
        if b > a:
            hit |= (offsets[:, 0] < b) & (offsets[:, 1] > a) & (offsets[:, 1] > offsets[:, 0])
    return hit


def extract_instruction_features(
    stimuli: Timeline | Sequence[str],
    model,
    *,
    instructions: Mapping[str, str],
    tokenizer=None,
    layers: Sequence[int] | None = None,
    pools: Sequence[str] = ("stimulus",),
    chat: bool = False,
    max_new_tokens: int = 0,
    device: str | None = None,
) -> FeatureSet:
    """Pooled block outputs of every stimulus segment under every instruction.

    Parameters
    ----------
    stimuli : Timeline or sequence of str
        One segment per event (its ``tokens`` are the texts); a plain list
        gets onsets 0, 1, 2, ... s.
    model : transformers model or TextModel
        A text model (decoder or encoder); ``"generated"`` needs a causal LM
        with ``generate``.
    instructions : mapping of name to template
        Each template holds ``{stimulus}`` once, e.g.
        ``{"plain": "{stimulus}", "emotion": "What emotion does this convey? {stimulus}"}``.
    tokenizer : fast tokenizer, optional
        Needed with a bare transformers model (offsets locate the stimulus).
    layers : sequence of int, optional
        Block indices; default all.
    pools : sequence of {"stimulus", "instruction", "generated", "last"}
    chat : bool
        Wrap each prompt in the tokenizer's chat template (user turn +
        generation prompt), for instruction-tuned chat models.
    max_new_tokens : int
        Tokens generated greedily for the ``"generated"`` pool.

    Returns
    -------
    FeatureSet
        Layers ``"layer.i|instruction=NAME|pool=POOL"``; metadata records the
        templates, pools and whether the chat template was used.

    Examples
    --------
    >>> fs = extract_instruction_features(["old dogs chase balls"], model, tokenizer=tok,
    ...                                   instructions={"plain": "{stimulus}"})  # doctest: +SKIP
    >>> fs.layer_names[:1]  # doctest: +SKIP
    ['layer.0|instruction=plain|pool=stimulus']
    """
    import torch

    from ._hooks import capture, find_blocks
    from ._text import TextModel

    if isinstance(model, TextModel):
        tokenizer, model = model.tokenizer, model.model
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise BrainalignInputError("extract_instruction_features needs tokenizer= (a fast tokenizer: offsets locate the stimulus).")
    if isinstance(stimuli, Timeline):
        timeline = stimuli
    else:
        if isinstance(stimuli, str) or not len(stimuli):
            raise BrainalignInputError("stimuli must be a Timeline or a non-empty list of texts.")
        timeline = Timeline(list(stimuli), np.arange(len(stimuli), dtype=float))
    if not instructions:
        raise BrainalignInputError("instructions is empty: give at least one {name: template}, e.g. {'plain': '{stimulus}'}.")
    templates = {str(name): _split_template(str(name), t) for name, t in instructions.items()}
    pools = tuple(pools)
    bad = [p for p in pools if p not in POOLS]
    if bad or not pools:
        raise BrainalignInputError(f"pools must be a non-empty subset of {POOLS}, got {list(pools)}.")
    if "generated" in pools and int(max_new_tokens) < 1:
        raise BrainalignInputError("The 'generated' pool needs max_new_tokens >= 1.")
    if "generated" in pools and not hasattr(model, "generate"):
        raise BrainalignInputError(f"The 'generated' pool needs a causal LM with generate(); {type(model).__name__} has none.")
    blocks = find_blocks(model)
    layers = list(range(len(blocks))) if layers is None else [int(i) % len(blocks) for i in layers]
    device = device or next(model.parameters()).device
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out: dict[str, list[np.ndarray]] = {}
    with torch.inference_mode():
        for name, (prefix, suffix) in templates.items():
            for text_stim in timeline.tokens:
                text, stim_span, instr_spans = _render(tokenizer, prefix, str(text_stim), suffix, chat)
                enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=not chat, return_tensors="pt")
                offsets = enc.pop("offset_mapping")[0].numpy()
                ids = enc["input_ids"].to(device)
                n_prompt = ids.shape[1]
                stim_mask = _overlaps(offsets, [stim_span])
                instr_mask = _overlaps(offsets, instr_spans) & ~stim_mask
                if "stimulus" in pools and not stim_mask.any():
                    raise BrainalignInputError(f"Stimulus {text_stim!r} produced no tokens under instruction {name!r}.")
                if "instruction" in pools and not instr_mask.any():
                    raise BrainalignInputError(f"Instruction {name!r} has no text of its own for the 'instruction' pool.")
                if "generated" in pools:
                    ids = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=int(max_new_tokens),
                                         do_sample=False, pad_token_id=pad)
                with capture(model, [blocks[i] for i in layers]) as records:
                    model(input_ids=ids, attention_mask=torch.ones_like(ids))
                hidden = [r[-1][0].float().cpu().numpy() for r in records]  # (T, H) per layer
                sets = {"stimulus": np.flatnonzero(stim_mask), "instruction": np.flatnonzero(instr_mask),
                        "generated": np.arange(n_prompt, ids.shape[1]), "last": np.array([n_prompt - 1])}
                for pool in pools:
                    if sets[pool].size == 0:
                        raise BrainalignInputError(f"Pool {pool!r} is empty for {text_stim!r} under {name!r}.")
                    for i, h in zip(layers, hidden):
                        out.setdefault(feature_key(f"layer.{i}", instruction=name, pool=pool), []).append(
                            h[sets[pool]].mean(axis=0))
    layers_out = {key: np.stack(rows).astype(np.float32) for key, rows in out.items()}
    metadata: dict[str, Any] = {"instructions": dict(instructions), "pools": list(pools), "chat": bool(chat),
                                "max_new_tokens": int(max_new_tokens), "feature_axes": ["layer", "instruction", "pool"]}
    return FeatureSet(layers_out, timeline, metadata)


def best_per_target(table: pd.DataFrame, axis: str, *, value: str = "r", target: str = "target",
                    within: Sequence[str] = ()) -> pd.DataFrame:
    """Best level of a categorical ``axis`` (layer, instruction, pool, model ...) per target.

    Parameters
    ----------
    table : DataFrame
        One row per (level, target, ...) with a score column ``value``.  A
        ``key``/``layer`` column of :func:`feature_key` strings is expanded
        into one column per axis when ``axis`` is not already a column.
    axis : str
        The categorical axis to choose over (e.g. ``"instruction"``).
    value : str
        Score to maximise (``"r"``, ``"gain"``, ``"r2"`` ...).
    target : str
        Column naming the target (voxel, ROI, channel).
    within : sequence of str
        Columns to keep separate (e.g. ``("model", "layer")``): one best level
        per target and combination.  Scores of other columns are averaged first.

    Returns
    -------
    DataFrame
        ``within...``, ``target``, ``best`` (level), ``score``, ``runner_up``,
        ``margin`` (best minus runner-up; NaN with a single level).

    Examples
    --------
    >>> t = pd.DataFrame({"instruction": ["a", "b", "a", "b"], "target": ["v1", "v1", "v2", "v2"],
    ...                   "r": [0.1, 0.3, 0.5, 0.2]})
    >>> best_per_target(t, "instruction")[["target", "best"]].values.tolist()
    [['v1', 'b'], ['v2', 'a']]
    """
    table = pd.DataFrame(table).copy()
    if axis not in table.columns:
        source = next((c for c in ("key", "layer") if c in table.columns), None)
        if source is None:
            raise BrainalignInputError(f"The table has no column {axis!r} and no 'key'/'layer' column to parse it from.")
        parsed = pd.DataFrame([parse_feature_key(k) for k in table[source]], index=table.index)
        if axis not in parsed.columns:
            raise BrainalignInputError(f"The feature keys in {source!r} have no axis {axis!r}; they have {list(parsed.columns)}.")
        for column in parsed.columns:
            if column not in table.columns or column == "layer":
                table[column] = parsed[column]
    missing = [c for c in (value, target, *within) if c not in table.columns]
    if missing:
        raise BrainalignInputError(f"best_per_target: the table lacks column(s) {missing}; it has {list(table.columns)}.")
    keys = [*within, target]
    mean = table.groupby([*keys, axis], sort=False)[value].mean().reset_index()
    rows = []
    for group, frame in mean.groupby(keys, sort=False):
        frame = frame.sort_values(value, ascending=False, kind="stable")
        best, score = frame.iloc[0][axis], float(frame.iloc[0][value])
        runner = frame.iloc[1] if len(frame) > 1 else None
        group = group if isinstance(group, tuple) else (group,)
        rows.append({**dict(zip(keys, group)), "best": best, "score": score,
                     "runner_up": None if runner is None else runner[axis],
                     "margin": np.nan if runner is None else score - float(runner[value])})
    return pd.DataFrame(rows)
