"""``brainalign run CONFIG``: stimulus -> features -> designs -> encoding -> maps from one config file.

The config is JSON or TOML; relative paths are taken from the config file's
folder.  Sections (all but ``features`` and ``output`` optional)::

    output = "results/alice-minilm"          # results folder (resumes per layer)

    [dataset]                                # a registered dataset instead of files ...
    name = "alice_brennan2016"
    subjects = ["s18", "s23"]                # several -> group-average recording
    group_average = true

    [stimulus]                               # ... or your own files
    textgrid = "story.TextGrid"              # or: words = "words.tsv"
    tier = "word"
    shift_s = -20.0                          # audio padding before the first scan

    [recording]
    files = ["sub-01_roi.txt"]               # ROI text/.npy or NIfTI, one per run
    tr = 2.0
    clean = "detrend"                        # none | detrend | zscore
    mask = "mask.nii.gz"                     # NIfTI only

    [features]
    model = "gpt2"                           # hub id or local folder; or path = "<saved FeatureSet>"
    layers = ["embeddings", "layer.5"]       # default: all
    context_tokens = 256
    cache_dir = "features"

    [alignment]
    method = "hrf"                           # hrf | lanczos | fir | lagged (+ that method's options)

    [baseline]
    files = ["rate.txt", "sndpwr.txt"]       # or word_rate = true (built from the timeline)

    [encoding]                               # any cross_validate option
    cv = "auto"
    n_permutations = 0

The same runs from Python with :func:`run_pipeline`.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..core import BrainalignInputError, DesignMatrix, Recording

logger = logging.getLogger("brainalign.encoding")

_SECTIONS = {"output", "name", "dataset", "stimulus", "recording", "features", "alignment", "baseline",
             "encoding", "maps"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="pipeline config (.json or .toml)")
    parser.add_argument("-o", "--output", default=None, help="results folder (overrides the config's output)")


def load_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise BrainalignInputError(f"No such config file: {path}")
    if path.suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib

        with open(path, "rb") as fh:
            config = tomllib.load(fh)
    elif path.suffix == ".json":
        config = json.loads(path.read_text())
    else:
        raise BrainalignInputError(f"Config must be .json or .toml, got {path.name!r}.")
    unknown = set(config) - _SECTIONS
    if unknown:
        raise BrainalignInputError(
            f"Unknown config section(s) {sorted(unknown)}; expected some of {sorted(_SECTIONS)}."
        )
    return config


def _path(base: Path, value) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _average_recordings(recordings: list[Recording]) -> Recording:
    first = recordings[0]
    for rec in recordings[1:]:
        if rec.target_names != first.target_names or rec.data.shape != first.data.shape:
            raise BrainalignInputError(f"Subject {rec.subject!r} does not have the shape/targets of {first.subject!r}.")
    data = np.mean([rec.data for rec in recordings], axis=0)
    return Recording(data, first.sampling_period, first.runs, first.target_names, first.kind, first.space,
                     "group", {"subjects": [rec.subject for rec in recordings], "averaged": True})


def _from_dataset(section: dict, base: Path):
    name = section.get("name")
    if name != "alice_brennan2016":
        raise BrainalignInputError(f"dataset.name {name!r} is not supported by `brainalign run` (yet): "
                                   "use 'alice_brennan2016' or give stimulus/recording files.")
    from ..datasets import list_subjects_alice, load_alice

    path = section.get("path")
    root = _path(base, path) if path else None
    subjects = section.get("subjects") or [s for s in list_subjects_alice(root) if s != "s33"]
    loaded = [load_alice(root, subject=s, resolution=section.get("resolution", "6mm")) for s in subjects]
    timeline = loaded[0].timeline
    if len(loaded) > 1 and section.get("group_average", True):
        recording = _average_recordings([d.recording for d in loaded])
        X = np.mean([d.baseline_design.X for d in loaded], axis=0)
        first = loaded[0].baseline_design
        baseline = DesignMatrix(X, first.runs, first.sampling_period, "baseline", first.feature_names,
                                {**first.metadata, "subject": "group-average"})
    else:
        recording, baseline = loaded[0].recording, loaded[0].baseline_design
    return timeline, recording, baseline


def _timeline(section: dict, base: Path):
    if "textgrid" in section:
        from ..stimuli import read_textgrid

        timeline = read_textgrid(_path(base, section["textgrid"]), tier=section.get("tier"), run=section.get("run"))
    elif "words" in section:
        from ..stimuli import read_word_table

        timeline = read_word_table(_path(base, section["words"]), run=section.get("run"))
    else:
        raise BrainalignInputError("stimulus needs 'textgrid' or 'words' (a word table with onsets).")
    shift = float(section.get("shift_s", 0.0))
    return timeline.shift(shift) if shift else timeline


def _recording(section: dict, base: Path) -> Recording:
    from types import SimpleNamespace

    from ._cli_encode import load_recording

    files = section.get("files")
    if not files:
        raise BrainalignInputError("recording needs 'files' (ROI text/.npy or NIfTI, one per run).")
    args = SimpleNamespace(recording=[str(_path(base, f)) for f in files], tr=section.get("tr"),
                           mask=str(_path(base, section["mask"])) if section.get("mask") else None,
                           runs=section.get("runs"), subject=section.get("subject", "sub-01"),
                           skip_rows=int(section.get("skip_rows", 0)), clean=section.get("clean", "detrend"))
    return load_recording(args)


def _features(section: dict, timeline, base: Path):
    if "path" in section:
        from ..features import load_features

        return load_features(_path(base, section["path"]))
    if "model" not in section:
        raise BrainalignInputError("features needs 'model' (hub id or local folder) or 'path' (saved features).")
    from ..features import extract_text_features

    model = section["model"]
    local = _path(base, model)
    options = {k: v for k, v in section.items() if k not in ("model", "cache_dir")}
    cache = section.get("cache_dir")
    return extract_text_features(timeline, str(local) if local.exists() else model,
                                 cache_dir=_path(base, cache) if cache else None, **options)


def run_pipeline(config: dict[str, Any], *, base_dir: str | Path = ".", output: str | Path | None = None):
    """Run extract -> align -> encode -> map as described by ``config`` (see the module docstring).

    Returns
    -------
    LayerSweep
        Also written to the results folder, with ``maps/`` when the
        recording has an image or sensor space.
    """
    from ..alignment import event_rate_design, make_designs
    from ._cli_encode import baseline_design, write_maps
    from ._sweep import sweep_layers

    base = Path(base_dir)
    out = output or config.get("output")
    if not out:
        raise BrainalignInputError("The config needs an 'output' results folder (or pass --output).")
    out = _path(base, out) if output is None else Path(output)
    baseline = None
    if "dataset" in config:
        timeline, recording, baseline = _from_dataset(config["dataset"], base)
    else:
        timeline = _timeline(config.get("stimulus", {}), base)
        recording = _recording(config.get("recording", {}), base)
    if "features" not in config:
        raise BrainalignInputError("The config needs a 'features' section.")
    logger.info("Extracting features for %d events", timeline.n_events)
    features = _features(config["features"], timeline, base)
    alignment = dict(config.get("alignment", {}))
    method = alignment.pop("method", "hrf")
    designs = make_designs(features, recording, method, **alignment)
    base_section = config.get("baseline", {})
    if base_section.get("files"):
        baseline = baseline_design([_path(base, f) for f in base_section["files"]], recording)
    elif base_section.get("word_rate"):
        baseline = event_rate_design(timeline, recording)
    encoding = dict(config.get("encoding", {}))
    if "alphas" in encoding and isinstance(encoding["alphas"], str):
        from ._cli_encode import parse_alphas

        encoding["alphas"] = parse_alphas(encoding["alphas"])
    encoding.setdefault("model", str(config["features"].get("model", features.metadata.get("model_id", ""))))
    sweep = sweep_layers(designs, recording, baseline=baseline, results_dir=out, **encoding)
    # the summary records the whole pipeline, not only the cross-validation options
    sweep.config["pipeline"] = config
    sweep.config["features"] = {k: features.metadata.get(k) for k in (
        "model_id", "revision", "pooling", "context_tokens", "strategy", "store_key")}
    sweep.data_hashes["timeline"] = timeline.content_hash
    sweep.save(out, write_results=False)
    if config.get("maps", True):
        write_maps(sweep, recording, out)
        if recording.kind in ("eeg", "meg") and recording.space is not None:
            evoked = sweep.to_evoked(recording)
            (out / "maps").mkdir(parents=True, exist_ok=True)
            evoked.save(out / "maps" / "layer_scores-ave.fif", overwrite=True)
    return sweep


def main(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        sweep = run_pipeline(config, base_dir=Path(args.config).resolve().parent, output=args.output)
    except (BrainalignInputError, FileNotFoundError) as err:
        logger.error("%s", err)
        return 2
    logger.info("Done: %s", ", ".join(f"{k}={v:.3g}" for k, v in sweep.headline().items()))
    return 0
