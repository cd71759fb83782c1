"""HTML report: built from a small results folder, checked in a real headless browser."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from brainalign.cli import main as cli_main
from brainalign.core import BrainalignInputError, EncodingResult, save_json
from brainalign.report import write_report

LAYERS = ["embeddings", "layer.0", "layer.1"]
ROIS = ["LATL", "LIFG", "LPTL"]

# Written into a copy of the page by the test only: records, once the page has loaded,
# whether each image decoded (naturalWidth > 0 only for a valid embedded PNG).
_PROBE = """<script>
window.addEventListener('load', function () {
  var out = document.createElement('pre'); out.id = 'probe';
  out.textContent = Array.from(document.images).map(function (img) {
    return img.naturalWidth + 'x' + img.naturalHeight + ':' + img.src.slice(0, 22);
  }).join('\\n');
  document.body.appendChild(out);
});
</script>"""


def _results_folder(root: Path, rng: np.random.Generator, *, with_summary: bool = True) -> Path:
    frames = []
    for i, layer in enumerate(LAYERS):
        r = 0.1 + 0.1 * i + 0.02 * rng.normal(size=(4, len(ROIS)))
        result = EncodingResult(r, r**2, np.full_like(r, 10.0), ROIS, layer, "sub-01", "toy-lm",
                                metadata={"cv": "leave-one-run-out", "warnings": ["toy warning"] if i == 0 else []})
        result.save(root / "layers" / layer)
        frames.append(result.to_frame())
    pd.concat(frames).to_csv(root / "scores.tsv", sep="\t", index=False)
    (root / "tables").mkdir(parents=True)
    pd.DataFrame({"baseline": "word rate + sound power", "target": ROIS, "r": [0.05, 0.25, 0.1]}).to_csv(
        root / "tables" / "baselines.tsv", sep="\t", index=False)
    pd.DataFrame({"target": ROIS, "ceiling": [0.5, 0.6, 0.55]}).to_csv(
        root / "tables" / "ceilings.tsv", sep="\t", index=False)
    (root / "figures").mkdir()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(root / "figures" / "line.png")
    plt.close(fig)
    if with_summary:
        save_json(root / "summary.json", {
            "kind": "encoding", "created": "2026-01-01T00:00:00Z",
            "config": {"model": "toy-lm", "cv": {"scheme": "leave-one-run-out"}, "note": "<b>not bold</b>"},
            "versions": {"brainalign": "0.1.0", "numpy": np.__version__},
            "data_hashes": {"sub-01 bold": "ab" * 32},
            "headline": {"best layer r": 0.31, "best layer": "layer.1"},
        })
    return root


def test_report_content_and_escaping(tmp_path, rng):
    root = _results_folder(tmp_path / "results", rng)
    out = write_report(root)
    assert out == root / "report.html"
    page = out.read_text()
    for expected in ("toy-lm", "leave-one-run-out", "numpy", "ab" * 32, "word rate + sound power r",
                     "noise ceiling", "fraction of ceiling", "toy warning", "best layer r"):
        assert expected in page, expected
    assert "<b>not bold</b>" not in page and "&lt;b&gt;not bold&lt;/b&gt;" in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    # layer profile + baseline scatter + the saved figure
    assert len(images) == 3
    assert all(base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n" for data in images)
    assert "src=\"http" not in page and "href=\"http" not in page  # self-contained
    # the best layer (highest mean r) is the highlighted row of the layer table
    best_row = re.search(r'<tr class="best"><td>([^<]+)</td>', page)
    assert best_row and best_row.group(1) == "layer.1"
    assert "Model: <code>toy-lm</code>" in page


def test_report_tolerates_missing_parts_and_refuses_empty(tmp_path, rng):
    root = _results_folder(tmp_path / "results", rng, with_summary=False)
    shutil.rmtree(root / "tables")
    (root / "scores.tsv").unlink()
    page = write_report(root, tmp_path / "elsewhere" / "r.html").read_text()
    assert "No summary.json" in page
    assert page.count("data:image/png;base64,") == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BrainalignInputError, match="does not look like a brainalign results folder"):
        write_report(empty)
    with pytest.raises(BrainalignInputError, match="does not exist"):
        write_report(tmp_path / "missing")


def test_report_cli(tmp_path, rng):
    root = _results_folder(tmp_path / "results", rng)
    out = tmp_path / "cli.html"
    assert cli_main(["-q", "report", str(root), "-o", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert cli_main(["-q", "report", str(tmp_path / "nope")]) == 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_report_images_decode_in_headless_chromium(tmp_path, rng):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium/google-chrome on PATH (apt-get install chromium) to render the report")
    root = _results_folder(tmp_path / "results", rng)
    page = write_report(root).read_text()
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(page.replace("</body>", _PROBE + "</body>"))
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(flags + ["--dump-dom", probe_page.as_uri()], capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0, dom.stderr[-2000:]
    probe = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert probe, "the page's load handler did not run"
    entries = probe.group(1).strip().splitlines()
    assert len(entries) == 3
    for entry in entries:
        size, src = entry.split(":", 1)
        width, height = (int(v) for v in size.split("x"))
        assert width > 50 and height > 50, entry
        assert src.startswith("data:image/png;base64")
    shot = tmp_path / "report.png"
    subprocess.run(flags + [f"--screenshot={shot}", "--window-size=1200,2400", probe_page.as_uri()],
                   capture_output=True, timeout=90, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_of_a_real_layer_sweep_folder(tmp_path, rng):
    """The folder written by encoding's LayerSweep.save: baseline rows come from scores.tsv."""
    from brainalign.core import DesignMatrix, Recording
    from brainalign.encoding import sweep_layers

    runs = np.repeat(["run-1", "run-2", "run-3"], 60)
    signal = rng.normal(size=(180, 4))
    base = rng.normal(size=(180, 1))
    data = np.column_stack([signal[:, :2] @ [1.0, 0.5], signal[:, 2:] @ [0.5, 1.0], base[:, 0] * 2])
    recording = Recording(data + rng.normal(size=(180, 3)), 2.0, runs, ["ROI-A", "ROI-B", "ROI-C"], "roi")
    designs = {"layer.0": DesignMatrix(signal[:, :2], runs, 2.0, "layer.0"),
               "layer.1": DesignMatrix(signal[:, 2:], runs, 2.0, "layer.1")}
    sweep = sweep_layers(designs, recording, baseline=DesignMatrix(base, runs, 2.0, "word rate"),
                         alphas=np.logspace(-2, 3, 6), gap_s=0.0, autocorrelation=False)
    root = sweep.save(tmp_path / "sweep")
    page = write_report(root).read_text()
    assert "Scores vs baselines and noise ceilings" in page
    assert "baseline r" in page  # the fitted baseline's per-target column
    assert "baselines/baseline" in page  # its saved result is listed
    assert page.count("data:image/png;base64,") == 2  # layer profile + a scatter for the one baseline


def test_report_draws_maps_layer_labels_in_layer_colours(tmp_path, rng):
    import nibabel as nib

    root = _results_folder(tmp_path / "results", rng)
    (root / "maps").mkdir()
    affine = np.diag([10.0, 10.0, 10.0, 1.0])
    affine[:3, 3] = [-70, -100, -60]
    labels = np.zeros((15, 20, 13), dtype=np.float32)
    labels[3:12, 4:16, 3:10] = rng.integers(1, len(LAYERS) + 1, size=(9, 12, 7))
    nib.Nifti1Image(labels, affine).to_filename(root / "maps" / "best_layer.nii.gz")
    nib.Nifti1Image(labels * 0.1, affine).to_filename(root / "maps" / "r.nii.gz")
    (root / "maps" / "broken.nii.gz").write_bytes(b"not a nifti")
    page = write_report(root).read_text()
    assert page.count("data:image/png;base64,") == 3 + 2
    assert "maps/best_layer.nii.gz: layer per voxel, one colour per layer" in page
    assert "Could not draw maps/broken.nii.gz" in page


def test_report_of_a_localize_results_folder(tmp_path, rng):
    """The folder written by localize (no scores.tsv): summary, unit tables and figures."""
    from brainalign.localize import UnitMask, save_localize_results

    t_values = {f"layer.{i}": rng.normal(size=40) for i in range(3)}
    mask = UnitMask({name: t > 1.5 for name, t in t_values.items()}, t_values,
                    {name: np.full(40, 0.5) for name in t_values}, {"fraction": 0.05})
    root = save_localize_results(tmp_path / "loc", mask, config={"model": "toy"})
    page = write_report(root).read_text()
    assert "units_per_layer" in page
    n_figures = len(list((root / "figures").glob("*.png")))
    assert page.count("data:image/png;base64,") == n_figures > 0
    assert "Kind: localize" in page
