"""Instruction-conditioned features: the task prompt is part of the model's input (Oota et al. 2025).

An instruction-tuned model's representation of a stimulus depends on what it
was asked to do with it.  :func:`extract_instruction_features` feeds every
stimulus segment (one event of a :class:`~brainalign.Timeline`: a sentence, a
clip's transcript, a TR's words) inside one or more *instruction templates*
(``"Describe the emotions in: {stimulus}"``), optionally through the
tokenizer's chat template or a multimodal model's processor (an image per
event, e.g. LLaVA), and pools the block outputs over an **explicit
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
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from ..core import BrainalignInputError, FeatureSet, Options, Timeline, best_level

logger = logging.getLogger("brainalign.features")

__all__ = ["POOLS", "InstructionOptions", "best_per_target", "check_instructions", "extract_instruction_features",
           "feature_key", "parse_feature_key"]

POOLS = ("stimulus", "instruction", "generated", "last")


class InstructionOptions(Options):
    """How instruction features are pooled and prompted (the keywords of :func:`extract_instruction_features`).

    A study model's ``instruction_options`` table; its ``instructions`` table
    gives the templates.
    """

    pools: list[Literal["stimulus", "instruction", "generated", "last"]] = Field(
        ["stimulus"], min_length=1, description="token sets to pool: stimulus, instruction, generated, last")
    chat: bool = Field(False, description="wrap each prompt in the tokenizer's chat template")
    max_new_tokens: int = Field(0, ge=0, description="tokens generated greedily for the 'generated' pool")

    @field_validator("pools", mode="before")
    @classmethod
    def _one_name_is_a_list(cls, value):
        return [value] if isinstance(value, str) else value


def check_instructions(instructions: Mapping[str, str], where: str = "instructions") -> dict[str, str]:
    """Names and templates of an instruction table, checked: non-empty names, one ``{stimulus}`` each.

    Examples
    --------
    >>> check_instructions({"count": "Count the objects: {stimulus}"})
    {'count': 'Count the objects: {stimulus}'}
    """
    out = {}
    for name, template in dict(instructions).items():
        name = str(name)
        if not name.strip():
            raise BrainalignInputError(f"{where}: an instruction has an empty name; give each template a name, "
                                       "e.g. describe = 'Describe: {stimulus}'.")
        if any(c in name for c in "|=/\\"):
            raise BrainalignInputError(f"{where}: instruction name {name!r} must not contain '|', '=', '/' or '\\'.")
        if not isinstance(template, str) or not template.strip():
            raise BrainalignInputError(f"{where}: instruction {name!r} has an empty template {template!r}; give the "
                                       "prompt with one {stimulus} placeholder, e.g. 'Describe: {stimulus}'.")
        _split_template(f"{where}.{name}", template)
        out[name] = template
    return out


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


def _render(tokenizer, prefix: str, stimulus: str, suffix: str, chat: bool, n_images: int = 0,
            templater=None) -> tuple[str, tuple[int, int], list[tuple[int, int]]]:
    """Prompt text, the stimulus character span and the instruction character spans."""
    content = prefix + stimulus + suffix
    if chat:
        templater = templater if templater is not None else tokenizer
        if not getattr(templater, "chat_template", None):
            raise BrainalignInputError("chat=True needs a tokenizer (or processor) with a chat_template.")
        message = ([{"type": "image"}] * n_images + [{"type": "text", "text": content}]) if n_images else content
        text = templater.apply_chat_template([{"role": "user", "content": message}], tokenize=False,
                                             add_generation_prompt=True)
        start = text.find(content)
        if start < 0:
            raise BrainalignInputError("The chat template changed the user message; cannot locate the stimulus in it.")
    else:
        text, start = content, 0
    stim = (start + len(prefix), start + len(prefix) + len(stimulus))
    instr = [(start, start + len(prefix)), (stim[1], stim[1] + len(suffix))]
    return text, stim, instr


def _processor_offsets(tokenizer, text: str, ids: np.ndarray, image_token_id: int) -> np.ndarray:
    """Character offsets of the processor's tokens: each image placeholder expands to a run of image tokens.

    The text is tokenized with and without special tokens; the variant whose
    image placeholders, expanded to the runs the processor wrote, reproduce
    its ids exactly gives the offsets (image tokens get the empty span (0, 0)).
    """
    for special in (True, False):
        enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=special)
        tok_ids, offsets = list(enc["input_ids"]), list(enc["offset_mapping"])
        out, j = [], 0
        for tid, off in zip(tok_ids, offsets):
            if tid == image_token_id:
                run = 0
                while j + run < len(ids) and ids[j + run] == image_token_id:
                    run += 1
                if run == 0:
                    break
                out.extend([(0, 0)] * run)
                j += run
            elif j < len(ids) and ids[j] == tid:
                out.append(tuple(off))
                j += 1
            else:
                break
        else:
            if j == len(ids):
                return np.asarray(out, dtype=int).reshape(-1, 2)
    raise BrainalignInputError("Cannot align the processor's input ids with the tokenizer's offsets of the prompt.")


def _language_blocks(model, multimodal: bool):
    """Blocks of the language model (for a multimodal model: its decoder, not the vision tower)."""
    from ._hooks import find_blocks

    if multimodal and hasattr(model, "get_decoder"):
        decoder = model.get_decoder()
        if decoder is not None and decoder is not model:
            return find_blocks(decoder)
    return find_blocks(model)


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
    processor=None,
    images: Sequence[Any] | None = None,
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
    processor : transformers processor, optional
        For image + text chat models (e.g. LLaVA): the processor renders the
        chat template (``chat`` is implied), tokenizes and prepares the images;
        hooks go on the language model's blocks.
    images : sequence, optional
        With ``processor``: one image (array, PIL image or path) per stimulus
        event, or ``None`` for a text-only event.

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

    from ._hooks import capture
    from ._text import TextModel

    if isinstance(model, TextModel):
        tokenizer, model = model.tokenizer, model.model
    multimodal = processor is not None
    if multimodal:
        tokenizer, chat = getattr(processor, "tokenizer", None), True
        image_token = getattr(processor, "image_token", None)
        image_token_id = tokenizer.convert_tokens_to_ids(image_token) if image_token and tokenizer is not None else None
        if image_token_id is None:
            raise BrainalignInputError(f"The processor {type(processor).__name__} has no image_token; is it a multimodal processor?")
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        raise BrainalignInputError("extract_instruction_features needs tokenizer= (a fast tokenizer: offsets locate the stimulus).")
    if isinstance(stimuli, Timeline):
        timeline = stimuli
    else:
        if isinstance(stimuli, str) or not len(stimuli):
            raise BrainalignInputError("stimuli must be a Timeline or a non-empty list of texts.")
        timeline = Timeline(list(stimuli), np.arange(len(stimuli), dtype=float))
    if images is not None and not multimodal:
        raise BrainalignInputError("images= needs processor= (the multimodal model's processor).")
    images = list(images) if images is not None else [None] * timeline.n_events
    if len(images) != timeline.n_events:
        raise BrainalignInputError(f"Got {len(images)} images for {timeline.n_events} stimulus events; give one (or None) per event.")
    if not instructions:
        raise BrainalignInputError("instructions is empty: give at least one {name: template}, e.g. {'plain': '{stimulus}'}.")
    instructions = check_instructions(instructions)
    templates = {name: _split_template(name, t) for name, t in instructions.items()}
    pools = tuple(pools)
    bad = [p for p in pools if p not in POOLS]
    if bad or not pools:
        raise BrainalignInputError(f"pools must be a non-empty subset of {POOLS}, got {list(pools)}.")
    if "generated" in pools and int(max_new_tokens) < 1:
        raise BrainalignInputError("The 'generated' pool needs max_new_tokens >= 1.")
    if "generated" in pools and not hasattr(model, "generate"):
        raise BrainalignInputError(f"The 'generated' pool needs a causal LM with generate(); {type(model).__name__} has none.")
    blocks = _language_blocks(model, multimodal)
    layers = list(range(len(blocks))) if layers is None else [int(i) % len(blocks) for i in layers]
    device = device or next(model.parameters()).device
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out: dict[str, list[np.ndarray]] = {}

    def encode(text, image):
        if not multimodal:
            enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=not chat, return_tensors="pt")
            return dict(enc), enc.pop("offset_mapping")[0].numpy()
        enc = dict(processor(images=image, text=text, return_tensors="pt") if image is not None
                   else processor(text=text, return_tensors="pt"))
        return enc, _processor_offsets(tokenizer, text, enc["input_ids"][0].numpy(), image_token_id)

    with torch.inference_mode():
        for name, (prefix, suffix) in templates.items():
            for text_stim, image in zip(timeline.tokens, images):
                text, stim_span, instr_spans = _render(tokenizer, prefix, str(text_stim), suffix, chat,
                                                       n_images=int(image is not None), templater=processor)
                enc, offsets = encode(text, image)
                # token_type_ids are left out: GPT-2 would add a token-type embedding the model never trained with
                inputs = {k: v.to(device) for k, v in enc.items() if k not in ("offset_mapping", "token_type_ids")}
                ids = inputs.pop("input_ids")
                inputs.pop("attention_mask", None)
                n_prompt = ids.shape[1]
                stim_mask = _overlaps(offsets, [stim_span])
                instr_mask = _overlaps(offsets, instr_spans) & ~stim_mask
                if "stimulus" in pools and not stim_mask.any():
                    raise BrainalignInputError(f"Stimulus {text_stim!r} produced no tokens under instruction {name!r}.")
                if "instruction" in pools and not instr_mask.any():
                    raise BrainalignInputError(f"Instruction {name!r} has no text of its own for the 'instruction' pool.")
                if "generated" in pools:
                    ids = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=int(max_new_tokens),
                                         do_sample=False, pad_token_id=pad, **inputs)
                with capture(model, [blocks[i] for i in layers]) as records:
                    model(input_ids=ids, attention_mask=torch.ones_like(ids), **inputs)
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
                                "max_new_tokens": int(max_new_tokens), "multimodal": multimodal,
                                "feature_axes": ["layer", "instruction", "pool"]}
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
    # levels as rows, (within..., target) combinations as columns: the argmax every best-level map uses
    matrix = table.groupby([*keys, axis], sort=False)[value].mean().unstack(axis)
    levels = [level for level in dict.fromkeys(table[axis]) if level in matrix.columns]
    matrix = matrix[levels]
    best = best_level(matrix.to_numpy().T)
    names = np.asarray(levels + [None], dtype=object)  # index -1 (all NaN / one level) -> None
    out = matrix.index.to_frame(index=False)
    out["best"], out["score"] = names[best.index], best.score
    out["runner_up"], out["margin"] = names[best.runner_up], best.margin
    return out.reset_index(drop=True)
