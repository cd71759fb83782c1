"""Instructions as a study axis: a recording planted on instruction A's features in half its voxels and B's in the
other half must come back as the best-instruction map; models without instructions keep their table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.core import BrainalignInputError, Recording, Timeline
from brainalign.pipeline import DatasetAdapter, StudyResults, SubjectData, parse_config, register_adapter, run_study

INSTRUCTIONS = {"plain": "{stimulus}", "count": "Count the animals in this sentence and answer: {stimulus}"}
N_VOXELS = 8  # a 2 x 2 x 2 volume: voxels 0-3 follow 'plain', 4-7 follow 'count'
WORDS = ("the old dog chased a red ball across the green field while two small cats watched from a wall "
         "near the quiet river and every bird sang").split()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from brainalign.features import make_random_text_model

    return make_random_text_model(tmp_path_factory.mktemp("models") / "tiny", n_layers=2, hidden_size=16)


def _unique_part(own: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The part of ``own`` that no linear map of ``other`` predicts (what only this instruction carries)."""
    own, other = own - own.mean(0), other - other.mean(0)
    return own - other @ np.linalg.lstsq(other, own, rcond=None)[0]


class _PlantedInstructions(DatasetAdapter):
    """Two subjects on one word stream; voxels 0-3 follow instruction 'plain', voxels 4-7 'count' (layer.1)."""

    name = "test_instructions"

    def __init__(self, model_dir=None):
        self.model_dir = model_dir

    def list_subjects(self, root, options):
        return ["s1", "s2"]

    def grid_id(self, subject, options):
        return "shared"

    def load(self, subject, root, options):
        import nibabel as nib
        from nilearn.maskers import NiftiMasker

        from brainalign.alignment import SampleGrid, make_designs
        from brainalign.features import extract_instruction_features, load_text_model

        words = list(WORDS) * 12
        onsets = 2.0 + 1.5 * np.arange(len(words))
        timeline = Timeline(words, onsets, onsets + 0.4)
        n_tr = int((onsets[-1] + 20) / 2.0)
        grid = SampleGrid({"run-1": n_tr}, 2.0)
        features = extract_instruction_features(timeline, load_text_model(str(self.model_dir), device="cpu"),
                                                instructions=INSTRUCTIONS, layers=[1])
        designs = make_designs(features, grid, "hrf")
        plain = designs["layer.1|instruction=plain|pool=stimulus"].X
        count = designs["layer.1|instruction=count|pool=stimulus"].X
        rng = np.random.default_rng(int(subject[1:]))
        signal = np.concatenate([_unique_part(plain, count) @ rng.normal(size=(16, N_VOXELS // 2)),
                                 _unique_part(count, plain) @ rng.normal(size=(16, N_VOXELS // 2))], axis=1)
        signal /= signal.std(0)
        data = signal + 0.5 * rng.normal(size=signal.shape)
        mask = nib.Nifti1Image(np.ones((2, 2, 2), dtype=np.uint8), np.eye(4))
        space = NiftiMasker(mask_img=mask).fit()
        return SubjectData(timeline, Recording(data, 2.0, kind="fmri", subject=subject, space=space))


def _config(tmp_path, model_dir, instructions: dict | None = None, **model) -> dict:
    spec = {"name": "tiny", "model": str(model_dir), **model}
    if instructions is not None:
        spec["instructions"] = instructions
    return {"output": str(tmp_path / "out"), "cache_dir": str(tmp_path / "cache"),
            "dataset": {"name": "test_instructions"}, "models": [spec], "features": {"context_tokens": 8},
            "baseline": {"dataset": False}, "encoding": {"backend": "numpy", "alphas": [1.0, 100.0, 1e4],
                                                         "gain_bootstraps": 0, "autocorrelation": False}}


@pytest.fixture(scope="module")
def instruction_study(tiny_model, tmp_path_factory):
    register_adapter(_PlantedInstructions(tiny_model), replace=True)
    folder = tmp_path_factory.mktemp("study")
    config = _config(folder, tiny_model, INSTRUCTIONS)
    config["dataset"]["group_average"] = True
    run = run_study(parse_config(config))
    return run.output


def test_best_instruction_map_recovers_the_planted_halves(instruction_study):
    import nibabel as nib

    results = StudyResults.load(instruction_study)
    table = results.table
    assert list(table.columns[:3]) == ["model", "instruction", "layer"]
    assert set(table.instruction) == {"plain", "count"} and set(table.layer) == {"layer.0", "layer.1"}
    assert results.summary["headline"]["tiny"]["best_instruction"] in INSTRUCTIONS
    best = pd.read_csv(instruction_study / "best_instruction.tsv", sep="\t", dtype={"target": str})
    planted = np.where(best.target.astype(int) < N_VOXELS // 2, "plain", "count")
    assert set(best.subject) == {"s1", "s2", "group"} and set(best.kind) == {"subject", "group"}
    subjects = best.kind == "subject"
    assert (best.best == planted)[subjects].mean() >= 0.85  # chance is 0.5
    assert (best.best == planted)[~subjects].mean() >= 0.85
    counts = pd.read_csv(instruction_study / "best_instruction_counts.tsv", sep="\t")
    assert set(counts.instruction) == {"plain", "count"}
    # subjects are counted together, the group average apart
    assert (counts[counts.kind == "subject"].of == 2).all() and (counts[counts.kind == "group"].of == 1).all()
    legend = pd.read_csv(instruction_study / "tiny" / "maps" / "best_instruction_legend.tsv", sep="\t")
    assert list(legend.instruction[1:]) == list(INSTRUCTIONS)
    for subject in ("s1", "s2", "group"):
        image = nib.load(instruction_study / "tiny" / "maps" / f"best_instruction_{subject}.nii.gz")
        values = np.asarray(image.dataobj)[..., 0].reshape(-1)  # the masker's voxel order is C order
        truth = np.where(np.arange(N_VOXELS) < N_VOXELS // 2, 1, 2)
        assert (values == truth).mean() >= 0.75
    # each instruction is its own sweep folder, reachable from the results
    assert results.sweep("tiny", "s1", instruction="count").layer_names == ["layer.0", "layer.1"]
    with pytest.raises(BrainalignInputError, match="has instructions"):
        results.sweep("tiny", "s1")
    assert sorted(b.model for b in results.best_layers(n_bootstraps=50)) == ["tiny [count]", "tiny [plain]"]
    from brainalign.report import study_report

    page = study_report(instruction_study).read_text()
    assert "Best instruction per target" in page and "tiny [count]" in page


def test_a_model_without_instructions_keeps_its_table(tiny_model, tmp_path):
    register_adapter(_PlantedInstructions(tiny_model), replace=True)
    run = run_study(parse_config(_config(tmp_path, tiny_model)))
    table = StudyResults.load(run.output).table
    assert "instruction" not in table.columns
    assert list(table.columns) == ["model", "layer", "layer_index", "depth", "subject", "kind", "target", "r", "r2",
                                   "r_baseline", "gain", "ci_low", "ci_high", "p", "p_fdr"]
    assert not (run.output / "best_instruction.tsv").exists()


@pytest.mark.parametrize("instructions, message", [
    ({"": "Describe: {stimulus}"}, "empty name"),
    ({"describe": ""}, "empty template"),
    ({"describe": "Describe the scene."}, r"exactly one '\{stimulus\}'"),
])
def test_bad_instructions_are_clear_errors(tiny_model, tmp_path, instructions, message):
    with pytest.raises(BrainalignInputError, match=message):
        parse_config(_config(tmp_path, tiny_model, instructions))


def test_instruction_options_are_checked(tiny_model, tmp_path):
    with pytest.raises(BrainalignInputError, match=r"unknown key 'pool' \(did you mean 'pools'\?\)"):
        parse_config(_config(tmp_path, tiny_model, INSTRUCTIONS, instruction_options={"pool": "last"}))
    with pytest.raises(BrainalignInputError, match="one token set"):
        parse_config(_config(tmp_path, tiny_model, INSTRUCTIONS, instruction_options={"pools": ["last", "stimulus"]}))
    with pytest.raises(BrainalignInputError, match="'generated' pool needs max_new_tokens >= 1"):
        parse_config(_config(tmp_path, tiny_model, INSTRUCTIONS, instruction_options={"pools": "generated"}))
    with pytest.raises(BrainalignInputError, match="instruction_options needs an instructions table"):
        parse_config(_config(tmp_path, tiny_model, instruction_options={"chat": True}))


def test_instruction_models_stay_out_of_joint_fits_and_comparisons(tiny_model, tmp_path):
    from brainalign.pipeline import plan_study

    register_adapter(_PlantedInstructions(tiny_model), replace=True)
    config = _config(tmp_path, tiny_model, INSTRUCTIONS)
    config["models"].append({"name": "plain-model", "model": str(tiny_model)})
    plan = plan_study(parse_config(config))  # both kinds of model in one study
    assert sum(t.kind == "features" for t in plan.tasks) == 3 and sum(t.kind == "sweep" for t in plan.tasks) == 6
    compared = {**config, "comparisons": {"a": {"model": "tiny:layer.0", "against": ["plain-model:layer.0"]}}}
    with pytest.raises(BrainalignInputError, match=r"\[comparisons\]: model\(s\) \['tiny'\] list instructions"):
        plan_study(parse_config(compared))
    joint = {**config, "joint": {"layers": {"tiny": "layer.0", "plain-model": "layer.0"}}}
    with pytest.raises(BrainalignInputError, match=r"\[joint\] layers: model\(s\) \['tiny'\] list instructions"):
        plan_study(parse_config(joint))
    rsa = {**config, "analysis": {"kinds": ["encoding", "rsa"]}}
    with pytest.raises(BrainalignInputError, match=r"\[analysis\] kinds 'rsa': model\(s\) \['tiny'\] list instructions"):
        plan_study(parse_config(rsa))
