"""``brainalign tag`` and ``brainalign steer`` on tiny random-init models with planted units and directions."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
import torch
from _tiny_lm import corpus_word_tokenizer
from test_localize_tagging import PHRASE_UNIT, SENTENCE_UNIT, make_gpt2, plant_structure_units

from brainalign.cli import main
from brainalign.localize import TaggingOptions, UnitMask, tag_units

TARGET_WORDS = ["apples", "bread", "seeds", "trees", "cars", "towels"]
PROMPTS = ["old farmers sell", "young sailors fix", "tired doctors wash", "clever girls paint", "hungry dogs chase"]


@pytest.fixture(scope="module")
def planted_folder(tmp_path_factory):
    """The tagging tests' planted model (sentence and phrase units in block 0), saved as a model folder."""
    tokenizer = corpus_word_tokenizer()
    folder = tmp_path_factory.mktemp("models") / "planted"
    plant_structure_units(make_gpt2(tokenizer), tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_tag_writes_units_masks_and_both_counts(planted_folder, tmp_path, capsys):
    out = tmp_path / "tags"
    code = main(["tag", "--model", str(planted_folder), "-o", str(out), "--n-streams", "2",
                 "--sentences-per-stream", "32", "--n-permutations", "500", "--unit-types", "mlp",
                 "--random-control", "--device", "cpu"])
    assert code == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0].startswith(f"{planted_folder}: mlp: sentence ") and "of 128 units" in printed[0]
    assert printed[1].startswith("random-init twin: mlp: sentence ")
    units = pd.read_csv(out / "mlp" / "tables" / "tagging_units.tsv", sep="\t")
    layer0 = units[units.layer == "layer.0"].set_index(["level", "unit"])
    assert layer0.loc[("sentence", SENTENCE_UNIT), "tagged"] and layer0.loc[("phrase", PHRASE_UNIT), "tagged"]
    assert not layer0.loc[("sentence", PHRASE_UNIT), "tagged"]
    mask = UnitMask.load(out / "mlp" / "masks" / "sentence")
    assert mask.mask["layer.0"][SENTENCE_UNIT] and mask.params["unit_type"] == "mlp"
    # the twin has the architecture but not the planted weights: its sentence unit is not tagged
    twin = pd.read_csv(out / "random-init" / "mlp" / "tables" / "tagging_units.tsv", sep="\t")
    assert len(twin) == len(units)
    assert not twin[(twin.layer == "layer.0") & (twin.level == "sentence") & (twin.unit == SENTENCE_UNIT)].tagged.any()


def test_tag_errors_name_the_flag(planted_folder, tmp_path, capsys):
    assert main(["tag", "--model", str(planted_folder), "-o", str(tmp_path), "--corpus", str(tmp_path / "no.txt")]) == 2
    error = capsys.readouterr().err
    assert "--corpus" in error and "does not exist" in error
    assert main(["tag", "--model", str(planted_folder), "-o", str(tmp_path), "--percentile", "150"]) == 2
    assert "--percentile" in capsys.readouterr().err


def test_tagging_options_are_tag_units_keywords():
    params = {k: v.default for k, v in inspect.signature(tag_units).parameters.items()
              if k not in ("model", "streams", "tokenizer")}
    fields = {k: f.default for k, f in TaggingOptions.model_fields.items()}
    assert {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()} == fields


@pytest.fixture(scope="module")
def steering_folder(tmp_path_factory):
    """A random-init GPT-2 whose planted direction (the target words' tied embeddings) favours those words."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = corpus_word_tokenizer()
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=128, vocab_size=len(tokenizer),
                        bos_token_id=0, eos_token_id=1)
    model = GPT2LMHeadModel(config).eval()
    vocab = tokenizer.get_vocab()
    direction = model.get_input_embeddings().weight[[vocab[w] for w in TARGET_WORDS]].detach().mean(0).numpy()
    folder = tmp_path_factory.mktemp("models") / "steer"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    np.save(folder / "direction.npy", direction)
    (folder / "targets.txt").write_text("\n".join(TARGET_WORDS) + "\n")
    (folder / "prompts.txt").write_text("\n".join(PROMPTS) + "\n")
    return folder


def test_steer_along_a_planted_direction_beats_random_directions(steering_folder, tmp_path, capsys):
    out = tmp_path / "steer"
    code = main(["steer", "--model", str(steering_folder), "--direction", str(steering_folder / "direction.npy"),
                 "--layer", "0", "--strength", "30", "--prompts", str(steering_folder / "prompts.txt"),
                 "--words", str(steering_folder / "targets.txt"), "--n-random", "9", "--max-new-tokens", "8",
                 "--device", "cpu", "-o", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "random:" in printed and "random_ppl_matched:" in printed
    summary = pd.read_csv(out / "tables" / "steering_summary.tsv", sep="\t").set_index("control")
    assert (summary.effect > 0.5).all() and (summary.p <= 0.1 + 1e-12).all() and (summary.z > 2).all()
    texts = pd.read_csv(out / "tables" / "steering_texts.tsv", sep="\t")
    steered = texts[texts.condition == "direction"]
    assert len(steered) == len(PROMPTS) and steered.readout.mean() > 0.5
    assert texts[texts.condition == "random"].readout.mean() < 0.2


def test_steer_without_a_readout_writes_texts_and_fits_axes_from_files(steering_folder, tmp_path, capsys):
    out = tmp_path / "texts"
    assert main(["steer", "--model", str(steering_folder), "--direction", str(steering_folder / "direction.npy"),
                 "--layer", "layer.0", "--strength", "30", "--prompt", PROMPTS[0], "--prompt", PROMPTS[1],
                 "--max-new-tokens", "6", "--device", "cpu", "-o", str(out)]) == 0
    texts = pd.read_csv(out / "tables" / "steering_texts.tsv", sep="\t", keep_default_na=False)
    assert list(texts.condition) == ["intact", "intact", "direction", "direction"]
    steered = " ".join(texts[texts.condition == "direction"].text).split()
    assert np.mean([w in TARGET_WORDS for w in steered]) > 0.5
    # brain axes from files: a planted two-axis latent is read back from held-out words
    rng = np.random.default_rng(0)
    hidden = rng.standard_normal((400, 32))
    latent = hidden @ rng.standard_normal((32, 2))
    states = latent @ rng.standard_normal((2, 30)) + 0.3 * rng.standard_normal((400, 30))
    np.save(tmp_path / "hidden.npy", hidden)
    np.save(tmp_path / "states.npy", states)
    axes_out = tmp_path / "axes"
    capsys.readouterr()
    assert main(["steer", "--states", str(tmp_path / "states.npy"), "--hidden", str(tmp_path / "hidden.npy"),
                 "--n-components", "2", "-o", str(axes_out)]) == 0
    assert capsys.readouterr().out.startswith("held-out r per axis: axis.0 +")
    held_out = pd.read_csv(axes_out / "tables" / "axes_held_out.tsv", sep="\t")
    assert (held_out.r > 0.9).all()
    assert np.load(axes_out / "axes" / "directions.npy").shape == (2, 32)


def test_steer_errors_name_what_is_missing(steering_folder, tmp_path, capsys):
    direction = ["--direction", str(steering_folder / "direction.npy")]
    cases = [
        (["--model", str(steering_folder)], "--model needs --direction"),
        (["--model", str(steering_folder), *direction], "Steering needs --layer, --strength, --prompt or --prompts"),
        (["--model", str(steering_folder), *direction, "--axis", "3", "--layer", "0", "--strength", "1",
          "--prompt", "x"], "--axis 3 is out of range"),
        (["--states", str(tmp_path / "none.npy"), "--hidden", str(tmp_path / "none.npy")], "--states"),
        ([], "Nothing to do"),
    ]
    for argv, message in cases:
        assert main(["steer", *argv, "-o", str(tmp_path)]) == 2
        assert message in capsys.readouterr().err
