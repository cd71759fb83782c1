"""Loading models from local folders: a folder that is not a model is named, with what it lacks."""

from __future__ import annotations

import shutil

import pytest

from brainalign.cli import main as cli_main
from brainalign.core import BrainalignInputError
from brainalign.features import load_text_model
from brainalign.features._loading import check_model_folder, from_pretrained


def test_folder_without_config_is_not_a_model_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    # transformers itself fails with "Couldn't instantiate the backend tokenizer ..."
    with pytest.raises(BrainalignInputError,
                       match=rf"^{tmp_path} is not a Hugging Face model folder: no config.json "
                             r"\(it holds \['notes.txt'\]\)\.$"):
        load_text_model(tmp_path, device="cpu")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BrainalignInputError, match=r"image model folder: no config.json \(it is empty\)"):
        from_pretrained(str(empty), processor_class="AutoImageProcessor", kind="image model")


def test_folder_lacking_weights_or_tokenizer(tmp_path, minilm_dir):
    shutil.copy(minilm_dir / "config.json", tmp_path / "config.json")
    with pytest.raises(BrainalignInputError, match=rf"^{tmp_path} is not a complete Hugging Face model folder: "
                                                   r"no weights \(model.safetensors or pytorch_model.bin\)"):
        load_text_model(tmp_path, device="cpu")
    weights = next(p for p in minilm_dir.iterdir() if p.name in ("model.safetensors", "pytorch_model.bin"))
    (tmp_path / weights.name).symlink_to(weights)
    with pytest.raises(BrainalignInputError, match=rf"^{tmp_path} has no tokenizer files \(tokenizer.json, "):
        load_text_model(tmp_path, device="cpu")
    check_model_folder(tmp_path)  # enough for a model whose processor is passed separately
    check_model_folder(minilm_dir, tokenizer=True)  # the real model folder passes


def test_files_and_missing_paths_are_not_hub_ids(tmp_path):
    story = tmp_path / "story.txt"
    story.write_text("a b c")
    with pytest.raises(BrainalignInputError, match=rf"^Could not load model '{story}': {story} is a file, "
                                                   r"not a Hugging Face model folder or hub id\.$"):
        load_text_model(story, device="cpu")
    # transformers said "Repo id must be in the form 'repo_name' or 'namespace/repo_name'"
    with pytest.raises(BrainalignInputError, match=rf"^Could not load model '{tmp_path}/nowhere': {tmp_path}/nowhere "
                                                   r"does not exist, and a path is not a hub id\.$"):
        load_text_model(tmp_path / "nowhere", device="cpu")
    check_model_folder("openai-community/gpt2")  # a hub id is left to the hub


def test_extract_command_reports_the_folder(tmp_path, capsys):
    story = tmp_path / "story.txt"
    story.write_text("Once upon a time there was a story.")
    folder = tmp_path / "model"
    folder.mkdir()
    assert cli_main(["extract", "text", str(story), "--model", str(folder), "-o", str(tmp_path / "features")]) == 2
    assert f"{folder} is not a Hugging Face model folder: no config.json (it is empty)" in capsys.readouterr().err
