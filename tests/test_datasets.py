"""Dataset registry, cards, local lookup, offline fetchers, loaders and the CLI."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from brainalign.cli import main as cli_main
from brainalign.core import BrainalignInputError
from brainalign.datasets import (
    REGISTRY,
    DataUnavailableError,
    check_dataset,
    fetch,
    fetch_narratives,
    find_dataset_dir,
    get_data_home,
    list_subjects_alice,
    load_alice,
    load_eeglab_tutorial,
    load_haxby_subset,
)
from brainalign.datasets._fetch import _can_connect

REPO = Path(__file__).resolve().parents[1]
REQUIRED = ["narratives", "lebel2023", "pereira2018", "alice_brennan2016", "meg_masc", "broderick2018"]


def test_registry_entries_and_cards():
    assert set(REQUIRED) <= set(REGISTRY)
    index = (REPO / "datasets" / "README.md").read_text(encoding="utf-8")
    for name, info in REGISTRY.items():
        assert info.landing_url.startswith("http") and info.licence and info.citation
        assert (info.tr is None) != (info.sfreq is None) or info.modality == "fmri-betas"
        card = REPO / info.card
        assert card.is_file(), f"missing card {card}"
        text = card.read_text(encoding="utf-8")
        assert info.landing_url in text, f"{card} does not give the source URL"
        assert "Licence" in text and "Citation" in text
        for f in info.files:
            if f.sha256:
                assert len(f.sha256) == 64 and f.sha256 in text, f"{card} lacks the checksum of {f.path}"
        assert f"{name}.md" in index
        # the card and the index state the sampling the module holds (its one source)
        sampling = f"TR = {info.tr} s" if info.tr else (f"{info.sfreq:g} Hz" if info.sfreq else "no time series")
        assert sampling in text, f"{card} does not state {sampling!r}"
        row = next(line for line in index.splitlines() if f"[{name}.md]" in line)
        assert (f"TR {info.tr} s" if info.tr else f"{info.sfreq:g} Hz" if info.sfreq else "—") in row, row
        assert f"brainalign.datasets.{name}" in text and "SubjectData" in text


def test_one_module_per_dataset_holds_facts_loader_and_adapter():
    import importlib

    from brainalign.datasets import SubjectData, get_dataset, registered_datasets

    assert set(REGISTRY) == set(registered_datasets())
    for name, info in REGISTRY.items():
        module = importlib.import_module(f"brainalign.datasets.{name}")
        adapter = get_dataset(name)
        assert module.INFO is info is adapter.info and type(adapter).__module__ == module.__name__
        loaders = [v for k, v in vars(module).items()
                   if k.startswith("load_") and callable(v) and v.__module__ == module.__name__]
        assert len(loaders) == 1, name
        assert all(fn.__annotations__.get("return") in ("SubjectData", SubjectData) for fn in loaders), name
    # a TR the adapter's options default to is the card's (LeBel's once said 2.0 against 2.0045)
    lebel = get_dataset("lebel2023")
    assert lebel.options({"stories": "a"}).tr == REGISTRY["lebel2023"].tr == 2.0045
    assert get_dataset("alice_brennan2016").shape_hint("s18", None) == (362, 6)
    with pytest.raises(BrainalignInputError, match=r"unknown dataset 'lebel2032' \(did you mean 'lebel2023'"):
        get_dataset("lebel2032")
    with pytest.raises(BrainalignInputError, match=r"unknown key 'resolutoin' \(did you mean 'resolution'"):
        get_dataset("alice_brennan2016").options({"resolutoin": "6mm"})


def test_subject_data_baselines_and_checks():
    from brainalign.core import DesignMatrix, Recording, Timeline
    from brainalign.datasets import SubjectData

    rec = Recording(np.random.default_rng(0).normal(size=(10, 2)), 2.0, subject="p1")
    rate, power = np.arange(10.0), np.ones(10) * 2
    data = SubjectData(Timeline(["a"], [1.0]), rec, {"rate": rate, "power": power}, confounds=np.zeros((10, 3)))
    design = data.baseline_design
    assert data.subject == "p1" and design.feature_names == ["rate", "power"] and design.sampling_period == 2.0
    np.testing.assert_array_equal(design.X, np.column_stack([rate, power]))
    given = DesignMatrix(np.ones((10, 1)), rec.runs, 2.0, "mine", ["x"])
    assert SubjectData(None, rec, given).baseline_design is given  # a design passed as it is stays itself
    assert SubjectData(None, rec).baseline_design is None
    with pytest.raises(BrainalignInputError, match="baseline 'rate' has 9 rows; the recording has 10"):
        SubjectData(None, rec, {"rate": np.zeros(9)})
    with pytest.raises(BrainalignInputError, match="confounds have 4 rows"):
        SubjectData(None, rec, confounds=np.zeros((4, 2)))


def test_data_home_env(monkeypatch, tmp_path):
    monkeypatch.setenv("BRAINALIGN_DATA", str(tmp_path / "data"))
    assert get_data_home() == tmp_path / "data"
    assert get_data_home(tmp_path / "other") == tmp_path / "other"
    monkeypatch.delenv("BRAINALIGN_DATA")
    assert get_data_home() == Path("~/brainalign_data").expanduser()


def test_fetch_offline_fails_fast_with_url_and_folder(monkeypatch, tmp_path):
    # This machine has no route to the dataset hosts: the fetch must fail at once, and say where
    # the files go.  (Where the network is open the download may succeed: that is fine too.)
    monkeypatch.setenv("BRAINALIGN_DATA", str(tmp_path))
    try:
        fetch_narratives(timeout=2.0)
    except DataUnavailableError as exc:
        message = str(exc)
        assert "https://s3.amazonaws.com/openneuro.org/ds002345/" in message
        assert str(tmp_path / "narratives") in message and "BRAINALIGN_DATA" in message
    with pytest.raises(DataUnavailableError, match=r"sites\.lsa\.umich\.edu.*place the files under .*alice_brennan2016"):
        fetch("alice_brennan2016", tmp_path)
    with pytest.raises(KeyError, match="known datasets are"):
        fetch("alice2016", tmp_path)


def test_connectivity_check_is_bounded():
    # A server that accepts connections and never answers: the check gives up with a reason.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        reason = _can_connect(f"http://127.0.0.1:{port}/file.tsv", timeout=0.5)
    assert reason is not None and ("Timeout" in reason or "no answer" in reason)


def test_dataset_lookup_order(monkeypatch, tmp_path, shared_data):
    monkeypatch.setenv("BRAINALIGN_DATA", str(tmp_path / "home"))
    monkeypatch.setenv("BRAINALIGN_SHARED_DATA", str(shared_data))
    assert find_dataset_dir("alice_brennan2016") == shared_data / "alice_brennan2016"
    (tmp_path / "home" / "alice_brennan2016").mkdir(parents=True)
    assert find_dataset_dir("alice_brennan2016") == tmp_path / "home" / "alice_brennan2016"
    monkeypatch.setenv("BRAINALIGN_SHARED_DATA", str(tmp_path / "no_shared"))
    with pytest.raises(DataUnavailableError, match=r"looked in .*home/meg_masc.*osf\.io/ag3kj.*BRAINALIGN_DATA"):
        find_dataset_dir("meg_masc")


def test_local_copy_checksums(tmp_path, shared_data):
    assert set(check_dataset("alice_brennan2016").values()) == {"ok"}
    copy = tmp_path / "alice"
    shutil.copytree(shared_data / "alice_brennan2016" / "stimuli", copy / "stimuli")
    (copy / "s18-rate.txt").write_text("0\n")
    status = check_dataset("alice_brennan2016", copy)
    assert status["stimuli/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid"] == "ok"
    assert status["s18-rate.txt"] == "sha256 mismatch"
    assert status["6mm/s18-timecourses.txt"] == "missing"
    with pytest.raises(DataUnavailableError, match="does not exist"):
        find_dataset_dir("alice_brennan2016", tmp_path / "nowhere")


def test_load_alice(shared_data):
    subjects = list_subjects_alice()
    assert len(subjects) == 14 and subjects[0] == "s18"
    data = load_alice(subject=18)
    timeline, recording = data.timeline, data.recording
    assert timeline.n_events == 2127
    np.testing.assert_allclose(timeline.onsets[0], 20.05891632653599 - 20.0)
    assert recording.data.shape == (362, 6) and recording.sampling_period == 2.0
    assert recording.target_names == ["LATL", "RATL", "LPTL", "LIPL", "LPreM", "LIFG"]
    assert recording.subject == "s18"
    np.testing.assert_allclose(recording.data.mean(axis=0), 0, atol=1e-5)  # detrended + z-scored
    assert data.baselines["rate"].shape == (362,) and data.baselines["sndpwr"].shape == (362,)
    data.baseline_design.check_matches(recording)
    assert data.baseline_design.feature_names == ["rate", "sndpwr"] and data.subject == "s18"
    np.testing.assert_array_equal(data.baseline_design.X[:, 0], data.baselines["rate"])
    predictors = data.extra["predictors"]
    assert data.confounds.shape == (362, 6) and predictors.shape == (362, 12)
    # The generic predictors' word rate (first 10 rows dropped) is the same signal as s18-rate.
    assert np.corrcoef(predictors["rate_conv"], data.baselines["rate"])[0, 1] > 0.9
    # not a tuple: the old six-field unpacking fails with a message saying what to read instead
    with pytest.raises(TypeError, match="data.timeline, data.recording, data.baselines"):
        timeline, recording, baselines = data
    raw = load_alice(subject="s18", resolution="10mm", detrend=False, standardize=False)
    assert raw.recording.data[0, 0] != 0 and raw.recording.metadata["resolution"] == "10mm"


def test_alice_bad_subjects(shared_data):
    with pytest.raises(BrainalignInputError, match=r"subject 's33'.*constant"):
        load_alice(subject="s33")
    with pytest.raises(BrainalignInputError, match=r"No time courses for subject 's99'.*'s18'"):
        load_alice(subject=99)
    with pytest.raises(BrainalignInputError, match="resolution"):
        load_alice(subject=18, resolution="8mm")


def test_load_haxby_subset(shared_data):
    data = load_haxby_subset(runs=[1, 3])
    assert data.recording.sampling_period == 2.5
    assert data.recording.run_lengths() == {"run-01": 121, "run-03": 121}
    assert data.timeline.run_ids == ["run-01", "run-03"] and data.timeline.n_events == 16
    with pytest.raises(BrainalignInputError, match="No run 13"):
        load_haxby_subset(runs=[13])


def test_load_eeglab_tutorial(shared_data):
    data = load_eeglab_tutorial()
    assert data.recording.n_targets == 32 and data.recording.sfreq == 128.0
    assert int(np.sum(data.timeline.tokens == "square")) == 80
    assert int(np.sum(data.timeline.tokens == "rt")) == 74
    assert data.extra["raw"].info["sfreq"] == 128.0 and data.subject == "eeglab"


def test_cli(capsys, shared_data, tmp_path, monkeypatch):
    assert cli_main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in REQUIRED)
    assert cli_main(["datasets", "info", "lebel2023"]) == 0
    assert "ds003020" in capsys.readouterr().out
    assert cli_main(["datasets", "check", "alice_brennan2016"]) == 0
    assert "ok" in capsys.readouterr().out
    assert cli_main(["datasets", "check", "alice_brennan2016", "--path", str(tmp_path)]) == 1
    assert "missing" in capsys.readouterr().out
    assert cli_main(["datasets", "info", "nope"]) == 2
    assert "known datasets" in capsys.readouterr().err
    monkeypatch.setenv("BRAINALIGN_DATA", str(tmp_path))
    assert cli_main(["datasets", "fetch", "meg_masc"]) == 2
    assert "osf.io/ag3kj" in capsys.readouterr().err
