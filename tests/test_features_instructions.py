"""Instruction-conditioned features on tiny random-init models: token sets, chat templates, best instruction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from brainalign.core import BrainalignInputError, Timeline
from brainalign.features import best_per_target, extract_instruction_features, parse_feature_key

STIMULI = ["old dogs chase balls", "young girls paint doors", "tired sailors pull ropes"]
INSTRUCTIONS = {
    "after": "{stimulus} . what animal is it ?",  # instruction after the stimulus
    "before": "what emotion is felt here ? {stimulus}",  # instruction before the stimulus
}
CHAT = ("{% for m in messages %}<|{{ m.role }}|> {{ m.content }} {% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}")


@pytest.fixture(scope="module")
def lm(minilm_dir):
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(minilm_dir / "tokenizer.json"), pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]")
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=128, vocab_size=len(tokenizer),
                        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
    return GPT2LMHeadModel(config).eval(), tokenizer


def test_token_sets_follow_causal_attention(lm):
    model, tok = lm
    fs = extract_instruction_features(STIMULI, model, tokenizer=tok, instructions=INSTRUCTIONS,
                                      pools=("stimulus", "instruction", "last"))
    assert fs.layer_names[0] == "layer.0|instruction=after|pool=stimulus"
    assert len(fs.layer_names) == 2 * 3 * 2 and fs["layer.1|instruction=after|pool=last"].shape == (3, 32)
    # a causal model reads the stimulus before an instruction that follows it: identical stimulus features
    plain = extract_instruction_features(STIMULI, model, tokenizer=tok, instructions={"plain": "{stimulus}"})
    np.testing.assert_allclose(fs["layer.1|instruction=after|pool=stimulus"], plain["layer.1|instruction=plain|pool=stimulus"],
                               atol=1e-5)
    # ... but not one that precedes it
    assert not np.allclose(fs["layer.1|instruction=before|pool=stimulus"], plain["layer.1|instruction=plain|pool=stimulus"],
                           atol=1e-3)
    # instruction tokens before the stimulus cannot see it: the same for every stimulus
    before = fs["layer.1|instruction=before|pool=instruction"]
    np.testing.assert_allclose(before, np.broadcast_to(before[0], before.shape), atol=1e-5)
    assert not np.allclose(fs["layer.1|instruction=after|pool=instruction"][0],
                           fs["layer.1|instruction=after|pool=instruction"][1], atol=1e-3)
    assert fs.metadata["instructions"] == INSTRUCTIONS


def test_generated_tokens_and_chat_template(lm):
    model, tok = lm
    tok.chat_template = CHAT
    timeline = Timeline(STIMULI, [0.0, 2.0, 4.0])
    fs = extract_instruction_features(timeline, model, tokenizer=tok, instructions={"ask": "summarise : {stimulus}"},
                                      pools=("stimulus", "instruction", "generated", "last"), chat=True, max_new_tokens=3)
    assert fs.timeline is timeline and fs.metadata["chat"] is True
    chat_stim = fs["layer.0|instruction=ask|pool=stimulus"]
    # the chat markup precedes the stimulus, so its features differ from the bare prompt's
    bare = extract_instruction_features(timeline, model, tokenizer=tok, instructions={"ask": "summarise : {stimulus}"})
    assert not np.allclose(chat_stim, bare["layer.0|instruction=ask|pool=stimulus"], atol=1e-3)
    assert np.all(np.isfinite(fs["layer.1|instruction=ask|pool=generated"]))


def test_bad_instruction_input_is_reported(lm):
    model, tok = lm
    with pytest.raises(BrainalignInputError, match="exactly one"):
        extract_instruction_features(STIMULI, model, tokenizer=tok, instructions={"x": "no placeholder"})
    with pytest.raises(BrainalignInputError, match="max_new_tokens"):
        extract_instruction_features(STIMULI, model, tokenizer=tok, instructions={"x": "{stimulus}"}, pools=("generated",))
    with pytest.raises(BrainalignInputError, match="no text of its own"):
        extract_instruction_features(STIMULI, model, tokenizer=tok, instructions={"x": "{stimulus}"}, pools=("instruction",))
    with pytest.raises(BrainalignInputError, match="pools"):
        extract_instruction_features(STIMULI, model, tokenizer=tok, instructions={"x": "{stimulus}"}, pools=("mean",))


def test_best_instruction_per_target_from_feature_keys():
    rng = np.random.default_rng(0)
    truth = {"v0": "emotion", "v1": "plain", "v2": "animal"}
    rows = []
    for target, best in truth.items():
        for instruction in ("plain", "emotion", "animal"):
            for layer in range(3):
                r = (0.4 if instruction == best else 0.1) + 0.02 * rng.standard_normal()
                rows.append({"layer": f"layer.{layer}|instruction={instruction}|pool=stimulus", "target": target, "r": r})
    table = pd.DataFrame(rows)
    best = best_per_target(table, "instruction").set_index("target")
    assert best["best"].to_dict() == truth
    assert (best["margin"] > 0.2).all()
    per_layer = best_per_target(table, "instruction", within=("layer",))
    assert len(per_layer) == 9 and set(per_layer.layer) == {"layer.0", "layer.1", "layer.2"}
    assert parse_feature_key("layer.2|pool=last") == {"layer": "layer.2", "pool": "last"}
    with pytest.raises(BrainalignInputError, match="no axis 'model'"):
        best_per_target(table, "model")


LLAVA_CHAT = ("{% for m in messages %}<|{{ m.role }}|> {% for c in m.content %}{% if c.type == 'image' %}<image>"
              "{% else %}{{ c.text }}{% endif %}{% endfor %} {% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")


@pytest.fixture(scope="module")
def tiny_llava(minilm_dir):
    """LLaVA-style model from configs: a 2-layer CLIP vision tower, a 2-layer Llama, a processor with a chat template."""
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast)

    tok = PreTrainedTokenizerFast(tokenizer_file=str(minilm_dir / "tokenizer.json"), pad_token="[PAD]",
                                  cls_token="[CLS]", sep_token="[SEP]")
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    image_id = tok.convert_tokens_to_ids("<image>")
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, patch_size=8)
    text = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                       num_key_value_heads=2, vocab_size=len(tok), max_position_embeddings=256)
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_id,
                                                      vision_feature_layer=-1)).eval()
    processor = LlavaProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                  crop_size={"height": 32, "width": 32}),
                               tokenizer=tok, patch_size=8, vision_feature_select_strategy="full",
                               chat_template=LLAVA_CHAT, image_token="<image>")
    return model, processor


def test_multimodal_chat_model_features_depend_on_the_image(tiny_llava):
    model, processor = tiny_llava
    rng = np.random.default_rng(0)
    images = [(rng.random((32, 32, 3)) * 255).astype("uint8") for _ in STIMULI]
    fs = extract_instruction_features(STIMULI, model, processor=processor, images=images,
                                      instructions={"describe": "describe : {stimulus}"},
                                      pools=("stimulus", "instruction", "generated", "last"), max_new_tokens=2)
    assert fs.metadata["multimodal"] is True and fs.metadata["chat"] is True
    assert fs["layer.1|instruction=describe|pool=stimulus"].shape == (3, 32)  # the Llama blocks, not CLIP's
    # the image precedes the text in the chat turn, so another image changes the stimulus features
    other = extract_instruction_features(STIMULI, model, processor=processor, images=images[::-1],
                                         instructions={"describe": "describe : {stimulus}"})
    stim = fs["layer.1|instruction=describe|pool=stimulus"]
    assert not np.allclose(stim, other["layer.1|instruction=describe|pool=stimulus"], atol=1e-4)
    np.testing.assert_allclose(stim[1], other["layer.1|instruction=describe|pool=stimulus"][1], atol=1e-5)  # same image
    with pytest.raises(BrainalignInputError, match="one \\(or None\\) per event"):
        extract_instruction_features(STIMULI, model, processor=processor, images=images[:1], instructions={"d": "{stimulus}"})
