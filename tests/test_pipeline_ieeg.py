"""A BIDS iEEG study: simulated sEEG with a planted high-gamma response to a word feature, through the study path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.core import FeatureSet, Timeline, load_json
from brainalign.pipeline import ConfigError, StudyResults, parse_config, plan_study, run_study
from brainalign.simulation import event_drives, simulate_ieeg

SFREQ, N_WORDS, TASK = 400.0, 160, "listen"
PLANTED = {"LA2-LA3", "LA3-LA4"}  # the bipolar pairs around the planted contact LA3


def _write_bids_study(root) -> dict:
    pytest.importorskip("eeglabio")  # mne-bids writes iEEG as EEGLAB .set
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    rng = np.random.default_rng(3)
    onsets = 1.0 + 0.9 * np.arange(N_WORDS)
    words = [f"w{i % 40}" for i in range(N_WORDS)]
    layers = {"layer.0": rng.normal(size=(N_WORDS, 4)), "layer.1": rng.normal(size=(N_WORDS, 4))}
    n = int((onsets[-1] + 2.0) * SFREQ)
    for sub, seed in (("01", 1), ("02", 2)):
        # only layer.1 drives the high gamma of LA3, through a per-subject mixing of its 4 dimensions
        value = layers["layer.1"] @ np.random.default_rng(seed).normal(size=4)
        raw, truth = simulate_ieeg(event_drives(onsets, value[:, None], n, SFREQ), {"LA3": 0}, sfreq=SFREQ,
                                   seed=seed)
        assert set(truth["bipolar"]) == PLANTED
        raw.info["line_freq"] = 50.0
        raw.set_annotations(mne.Annotations(onsets, 0.3, words))
        path = BIDSPath(subject=sub, task=TASK, run="1", datatype="ieeg", space="MNI152NLin2009bAsym",
                        root=root / "bids")
        write_raw_bids(raw, path, format="EEGLAB", allow_preload=True, verbose="error")
    timeline = Timeline(words, onsets, onsets + 0.3, ["run-1"] * N_WORDS)
    FeatureSet(layers, timeline, {"model_id": "planted"}).save(root / "features")
    return {
        "name": "ieeg-sim", "output": str(root / "out"),
        "dataset": {"name": "bids_ieeg", "path": str(root / "bids"),
                    "options": {"task": TASK, "run": "1", "reference": "bipolar", "high_gamma": True,
                                "sfreq": 20.0}},
        "models": [{"name": "planted", "path": str(root / "features")}],
        "alignment": {"method": "auto", "tmin": 0.0, "tmax": 0.4},
        "encoding": {"backend": "numpy", "alphas": [1.0, 100.0, 10000.0], "gain_bootstraps": 0, "cv": 4},
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("ieeg_study")
    config = _write_bids_study(root)
    return config, run_study(parse_config(config, base_dir=root))


def test_planted_contacts_lead_the_electrode_table(study):
    config, run = study
    results = StudyResults.load(run.output)
    assert results.recordings == ["sub-01", "sub-02"]
    design = run.plan.tasks[[t.kind for t in run.plan.tasks].index("design")]
    assert design.params["method"] == "lagged"  # the iEEG dataset's default
    for sub in ("sub-01", "sub-02"):
        rec = run.output / "planted" / sub
        table = pd.read_csv(rec / "maps" / "electrodes.tsv", sep="\t")
        assert list(table.columns) == ["channel", "x", "y", "z", "best_layer", "best_r", "region"]
        assert table.channel.str.contains("-").all()  # bipolar pairs, at their midpoints
        assert np.isfinite(table[["x", "y", "z"]].to_numpy(float)).all()
        top = table.sort_values("best_r", ascending=False)
        assert set(top.channel[:2]) == PLANTED, top.head()
        assert (top.best_layer[:2] == "layer.1").all()
        assert top.best_r.iloc[1] > 0.3 > top.best_r.iloc[2:].max() + 0.1
        assert (rec / "maps" / "electrodes_best_r.png").stat().st_size > 1000
        assert not (rec / "maps" / "layer_scores-ave.fif").exists()  # no scalp topomap for depth contacts
    assert set(results.table.kind) == {"subject"}
    kinds = [load_json(f) for f in sorted((run.output / ".work" / "recordings").glob("*/recording.json"))]
    assert [(k["kind"], k["space"]) for k in kinds] == [("ieeg", "mne_info")] * 2
    assert {k["metadata"]["ieeg"]["reference"] for k in kinds} == {"bipolar"}


def test_study_report_shows_the_electrode_maps(study):
    from brainalign.report import study_report

    _, run = study
    html = study_report(run.output).read_text()
    assert "planted/sub-01/maps/electrodes_best_r.png" in html
    assert "planted/sub-02/maps/electrodes_best_r.png" in html


def test_bad_option_names_the_key(tmp_path):
    config = {"name": "bad", "output": str(tmp_path / "out"),
              "dataset": {"name": "bids_ieeg", "path": str(tmp_path),
                          "options": {"task": TASK, "referense": "bipolar"}},
              "models": [{"name": "planted", "path": str(tmp_path)}]}
    with pytest.raises(ConfigError, match=r"\[dataset.options\]: unknown key 'referense' \(did you mean 'reference'"):
        plan_study(parse_config(config, base_dir=tmp_path))
    config["dataset"]["options"] = {"task": TASK, "reference": "monopolar"}
    with pytest.raises(ConfigError, match=r"\[dataset.options\] reference: .*'monopolar'"):
        plan_study(parse_config(config, base_dir=tmp_path))


def test_adapter_events_filter_and_word_table(study, tmp_path):
    from brainalign.core import BrainalignInputError
    from brainalign.pipeline import get_adapter

    config, _ = study
    adapter = get_adapter("bids_ieeg")
    root = config["dataset"]["path"]
    assert adapter.list_subjects(root, adapter.options({"task": TASK})) == ["sub-01", "sub-02"]
    data = adapter.load("sub-02", root, adapter.options({"task": TASK, "events": "w1", "sfreq": 20.0,
                                                         "high_gamma": False, "reference": "average"}))
    assert set(data.timeline.tokens) == {"w1"} and data.timeline.n_events == N_WORDS // 40
    assert data.recording.kind == "ieeg" and data.recording.metadata["ieeg"]["reference"] == "average"
    assert data.recording.target_names[0] == "LA1"  # common average keeps the contacts
    with pytest.raises(BrainalignInputError, match=r"events='nope' matches none"):
        adapter.load("sub-01", root, adapter.options({"task": TASK, "events": "nope", "sfreq": 20.0}))
    with pytest.raises(BrainalignInputError, match=r"options\] words: no file"):
        adapter.load("sub-01", root, adapter.options({"task": TASK, "words": "missing.tsv", "sfreq": 20.0}))
