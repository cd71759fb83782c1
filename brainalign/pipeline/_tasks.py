"""The task functions of a study: each a pure function of its parameters and the tasks it reads.

:func:`run_task` is what an executor calls (in this process or on a Dask
worker).  It takes small JSON-able descriptions only and returns the task's
small marker dict: big arrays travel through disk (memory-mapped ``.npy``
files and the feature store), never through the scheduler.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    BrainalignInputError,
    DesignMatrix,
    EncodingResult,
    Recording,
    atomic_write_text,
    canonical_json,
    hash_array,
    load_json,
    save_json,
)
from ..encoding import (
    BaselineFits,
    LayerSweep,
    alphas_from_text,
    assemble_sweep,
    fit_baselines,
    fit_layer,
    layer_dirname,
    with_baseline,
)
from ..encoding.cell import sweep_config
from ._config import StudyConfig, parse_config, resolve_path
from ._electrodes import write_electrode_outputs
from ._instructions import INSTRUCTION, recording_folders_of, sweep_folder
from ._instructions import extract as instruction_features
from ._instructions import headline as instruction_headline
from ._instructions import write_outputs as write_instruction_outputs
from ._rsa_tasks import RUNNERS as RSA_RUNNERS
from ._task_io import band_designs, one_input, study_flags, task_inputs
from ._work import (
    fresh_folder,
    load_design,
    load_recording,
    load_subject_parts,
    load_timeline,
    read_marker,
    run_in_task_folder,
    save_design,
    save_recording,
)

logger = logging.getLogger("brainalign.pipeline")


# ------------------------------------------------------------------------------- context
@functools.lru_cache(maxsize=8)
def _config_from(raw_json: str, base: str) -> StudyConfig:
    import json

    return parse_config(json.loads(raw_json), base_dir=base)


def config_of(context: dict) -> StudyConfig:
    return _config_from(canonical_json(context["config"]), context["base_dir"])


def adapter_for(config: StudyConfig):
    """The dataset adapter of a config (``adapter = "module:Class"`` imports a user's own)."""
    from ._adapters import FilesAdapter, get_adapter

    ds = config.dataset
    spec = ds.adapter
    if spec:
        import importlib

        module, _, cls = spec.partition(":")
        try:
            adapter = getattr(importlib.import_module(module), cls)()
        except (ImportError, AttributeError) as err:
            raise BrainalignInputError(f"config [dataset]: adapter {spec!r} cannot be imported: {err}") from None
        return adapter
    adapter = get_adapter(ds.name)
    if isinstance(adapter, FilesAdapter):
        from ._config import base_dir

        adapter = adapter.bind(config.stimulus or {}, config.recording or {}, base_dir(config))
    return adapter


def _cv_options(config: StudyConfig) -> dict[str, Any]:
    enc = config.encoding_options()
    for key in ("autocorrelation", "gain_bootstraps"):
        enc.pop(key, None)
    if isinstance(enc.get("alphas"), str):
        enc["alphas"] = alphas_from_text(enc["alphas"])
    return enc


# ------------------------------------------------------------------------------- entry point
def run_task(task: dict, context: dict, *upstream: Any) -> dict:
    """Run one task unless its output is already there; returns its marker (a small dict).

    ``upstream`` only orders the task after the ones it reads (Dask passes their
    markers); inputs are read from the folders named in ``task["inputs"]``.
    """
    config = config_of(context)
    runner = _RUNNERS[task["kind"]]
    return run_in_task_folder(task, lambda t: _with_threads(runner, t, config, context),
                              study_folder=Path(context["output"]))


def _with_threads(runner, task: dict, config: StudyConfig, context: dict) -> dict | None:
    threads = context.get("threads")
    if not threads:
        return runner(task, config, context)
    # equal thread counts give bit-identical results on every executor
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        with threadpool_limits(int(threads)):
            return runner(task, config, context)
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------------------------- recordings
def _recording_task(task, config, context):
    from ._adapters import dataset_options

    p = task["params"]
    adapter = adapter_for(config)
    ds = config.dataset
    root = resolve_path(config, ds.path) if ds.path else None
    data = adapter.load(p["subject"], root, dataset_options(adapter, ds.options))
    folder = fresh_folder(Path(task["folder"]))
    extra = dict(data.metadata)
    if data.media:
        extra.update(media=dict(data.media), media_shift_s=float(data.media_shift_s))
    info = save_recording(folder, data.recording, data.timeline, data.baseline, data.epochs, extra)
    return {"subject": p["subject"], "recording_hash": hash_array(data.recording.data),
            "timeline_hash": info["timeline_hash"], "shape": list(data.recording.data.shape)}


def _group_task(task, config, context):
    folders = task_inputs(task, "recording")
    recordings = [load_recording(f, space=True) for f in folders]
    parts = [load_subject_parts(f) for f in folders]
    first = recordings[0]
    for rec in recordings[1:]:
        if rec.target_names != first.target_names or rec.data.shape != first.data.shape:
            raise BrainalignInputError(
                f"Subject {rec.subject!r} does not have the shape/targets of {first.subject!r} "
                f"({rec.data.shape} vs {first.data.shape}); a group average needs both equal.")
    data = np.mean([np.asarray(rec.data, dtype=np.float64) for rec in recordings], axis=0)
    group = Recording(data, first.sampling_period, first.runs, first.target_names, first.kind, first.space, "group",
                      {"subjects": [rec.subject for rec in recordings], "averaged": True})
    baseline = None
    if all(pt["baseline"] is not None for pt in parts):
        b0 = parts[0]["baseline"]
        X = np.mean([np.asarray(pt["baseline"].X, dtype=np.float64) for pt in parts], axis=0)
        baseline = DesignMatrix(X, b0.runs, b0.sampling_period, "baseline", b0.feature_names,
                                {**b0.metadata, "subject": "group-average"})
    folder = fresh_folder(Path(task["folder"]))
    info = save_recording(folder, group, parts[0]["timeline"], baseline, parts[0]["epochs"],
                          {k: v for k, v in parts[0]["info"]["extra"].items() if k in ("media", "media_shift_s")})
    return {"subject": "group", "recording_hash": hash_array(group.data), "timeline_hash": info["timeline_hash"],
            "subjects": [rec.subject for rec in recordings], "shape": list(data.shape)}


# ------------------------------------------------------------------------------- features
def _features_task(task, config, context):
    p = task["params"]
    rec_folder = one_input(task, "recording")
    timeline = load_timeline(rec_folder / "timeline.npz")
    if p["kind"] == "path":
        from ..features import load_features

        features = load_features(p["source"])
        if features.n_events != timeline.n_events:
            raise BrainalignInputError(
                f"Saved features {p['source']} have {features.n_events} rows; the stimulus of this study has "
                f"{timeline.n_events} events.")
        return {"path": p["source"], "layer_names": features.layer_names, "timeline_hash": timeline.content_hash}
    options = dict(p["options"])
    if options.get("layers") == "all":
        options.pop("layers")
    if p.get("modality", "text") != "text":
        return _media_features(task, rec_folder, options, context)
    if p.get("instruction") is not None:  # one feature set per (model, instruction), stored with its task
        features = instruction_features(p, timeline)
        folder = fresh_folder(Path(task["folder"]))
        features.save(folder / "features")
        return {"path": str(folder / "features"), "layer_names": features.layer_names,
                "timeline_hash": timeline.content_hash, "instruction": p["instruction"],
                "provenance": {k: features.metadata.get(k) for k in (
                    "model_id", "model_fingerprint", "instructions", "pools", "chat", "max_new_tokens")}}
    from ..features import extract_text_features

    features = extract_text_features(timeline, p["source"], cache_dir=context["cache_dir"], **options)
    return {"store_key": features.metadata["store_key"], "layer_names": features.layer_names,
            "timeline_hash": timeline.content_hash,
            "provenance": {k: features.metadata.get(k) for k in (
                "model_id", "revision", "pooling", "context_tokens", "strategy", "store_key", "model_fingerprint")}}


def _media_features(task: dict, rec_folder: Path, options: dict, context: dict) -> dict:
    """Video or audio features of the stimulus media, one file per run, stored with the task."""
    from ..core import FeatureSet, Timeline
    from ..features import extract_audio_features, extract_video_features

    p = task["params"]
    media = load_json(rec_folder / "recording.json")["extra"].get("media")
    if not media:
        raise BrainalignInputError(f"Model {p['model']!r} is a {p['modality']} model, but the dataset gives no "
                                   "media files: add [stimulus] media = 'movie.mp4' (or a table run = file).")
    parts = []
    for run, path in media.items():
        if p["modality"] == "video":
            parts.append(extract_video_features(path, p["source"], run=run, cache_dir=context["cache_dir"], **options))
        else:
            parts.append(extract_audio_features(path, None, p["source"], run=run, cache_dir=context["cache_dir"],
                                                **options))
    names = parts[0].layer_names
    features = parts[0] if len(parts) == 1 else FeatureSet(
        {n: np.concatenate([np.asarray(f[n]) for f in parts]) for n in names},
        Timeline.concatenate([f.timeline for f in parts]), parts[0].metadata)
    folder = fresh_folder(Path(task["folder"]))
    features.save(folder / "features")
    return {"path": str(folder / "features"), "layer_names": names, "modality": p["modality"],
            "provenance": {k: features.metadata.get(k) for k in (
                "model_id", "revision", "pooling", "sample_fps", "frame_rate", "model_fingerprint")}}


def _feature_layer(features_folder: Path, layer: str, context: dict):
    marker = read_marker(features_folder)
    if "store_key" in marker:
        from ..features import FeatureStore

        fs = FeatureStore(context["cache_dir"]).get(marker["store_key"], layers=[layer])
        if fs is None:
            raise BrainalignInputError(
                f"Features {marker['store_key']} are no longer in the cache {context['cache_dir']}; "
                f"delete {features_folder} to extract them again.")
        return fs
    from ..features import load_features

    return load_features(marker["path"]).select_layers([layer])


# ------------------------------------------------------------------------------- designs
def _design_task(task, config, context):
    from ..alignment import make_designs
    from ..core import FeatureSet

    p = task["params"]
    rec_folder = one_input(task, "recording", "group")
    features = _feature_layer(one_input(task, "features"), p["layer"], context)
    parts = load_subject_parts(rec_folder)
    if p.get("modality", "text") == "text":
        timeline = parts["timeline"]
        if list(features.timeline.tokens) != list(timeline.tokens):
            raise BrainalignInputError(
                f"Recording {parts['info']['subject']!r} was given other words than the stimulus its features were "
                "extracted from; give it its own stimulus id in the dataset adapter.")
    else:  # frames / audio frames on the media clock, shifted like the transcript
        shift = float(parts["info"]["extra"].get("media_shift_s", 0.0))
        timeline = features.timeline.shift(shift) if shift else features.timeline
    features = FeatureSet({p["layer"]: features[p["layer"]]}, timeline, features.metadata)
    recording = load_recording(rec_folder)
    kwargs = dict(p["alignment"])
    if p["method"] == "epochs":
        if parts["epochs"] is None:
            raise BrainalignInputError("alignment method 'epochs' needs a dataset with one row per trial (epochs).")
        kwargs["epochs"] = parts["epochs"]
    design = make_designs(features, recording, p["method"], **kwargs)[p["layer"]]
    folder = fresh_folder(Path(task["folder"]))
    save_design(folder / "design", design)
    return {"design_hash": hash_array(design.X), "shape": list(design.X.shape)}


# ------------------------------------------------------------------------------- baselines
def _baseline_design(config: StudyConfig, parts: dict, recording: Recording) -> DesignMatrix | None:
    from ..alignment import event_rate_design
    from ..recordings import baseline_from_files

    section = config.baseline
    pieces = []
    if section.dataset and parts["baseline"] is not None:
        pieces.append(parts["baseline"])
    if section.word_rate:
        pieces.append(event_rate_design(parts["timeline"], recording))
    if section.files:
        pieces.append(baseline_from_files([resolve_path(config, f) for f in section.files], recording))
    if not pieces:
        return None
    base = DesignMatrix.stack(pieces, name="baseline") if len(pieces) > 1 else pieces[0]
    return base.as_one_band("baseline")


def _baseline_task(task, config, context):
    """The cell's first step: the baselines, fitted once for every layer of the model and recording."""
    rec_folder = one_input(task, "recording", "group")
    recording = load_recording(rec_folder)
    parts = load_subject_parts(rec_folder)
    first_design = load_design(one_input(task, "design") / "design")
    base = _baseline_design(config, parts, recording)
    flags = study_flags(config)
    fits = fit_baselines(recording, baseline=base, designs=[first_design], autocorrelation=flags["autocorrelation"],
                         gain_test=flags["gain_test"], **_cv_options(config))
    folder = fresh_folder(Path(task["folder"]))
    fits.save(folder)
    info: dict[str, Any] = {"gap_s": fits.options["gap_s"], "has_baseline": base is not None,
                            "baselines": list(fits.results)}
    if base is not None:
        info["baseline_hash"] = fits.data_hashes["baseline"]
    return info


# ------------------------------------------------------------------------------- fits
def _fit_task(task, config, context):
    """The cell's second step: one layer given the baselines, with its gain test."""
    p = task["params"]
    rec_folder = one_input(task, "recording", "group")
    recording = load_recording(rec_folder)
    design = load_design(one_input(task, "design") / "design")
    flags = study_flags(config)
    fits = BaselineFits.load(one_input(task, "baseline"), predictions=flags["gain_test"])
    result = fit_layer(design, recording, fits, name=p["layer"], model=p["model"],
                       gain_bootstraps=flags["n_bootstraps"] if flags["gain_test"] else 0,
                       keep_predictions=bool(p.get("predictions")))
    result.metadata.update(config_key=task["key"], study_task="fit", layer_index=p["index"],
                           n_layers=p["n_layers"], depth=p["index"] / max(1, p["n_layers"] - 1))
    if p.get("instruction") is not None:
        result.metadata["instruction"] = p["instruction"]
    folder = fresh_folder(Path(task["folder"]))
    result.save(folder)
    if p.get("predictions"):  # a study with [comparisons]: the paired bootstrap needs them
        from ._compare_tasks import save_predictions

        save_predictions(folder, result)
    fitted = design if fits.design is None else with_baseline(design, fits.design)
    return {"design_hash": hash_array(np.asarray(fitted.X)), "mean_r": float(result.r.mean())}


# ------------------------------------------------------------------------------- sweeps
def _sweep_task(task, config, context):
    """The cell's last step: the per-layer results and the baselines assembled into a sweep folder."""
    p = task["params"]
    fits = task_inputs(task, "fit")
    base_folder = one_input(task, "baseline")
    rec_folder = one_input(task, "recording", "group")
    results = {layer: EncodingResult.load(f) for layer, f in zip(p["layers"], fits)}
    baseline_fits = BaselineFits.load(base_folder, predictions=False)
    folder = Path(task["folder"])
    for name, res in baseline_fits.results.items():
        res.save(folder / "baselines" / layer_dirname(name))
    rec_marker = read_marker(rec_folder)
    data_hashes = {"recording": rec_marker["recording_hash"], "timeline": rec_marker["timeline_hash"]}
    for layer, f in zip(p["layers"], fits):
        data_hashes[f"design:{layer}"] = read_marker(f)["design_hash"]
    recording = load_recording(rec_folder, space=bool(p["maps"]))
    config_out = sweep_config(baseline_fits, p["layers"], recording, gain_bootstraps=study_flags(config)["n_bootstraps"],
                              subject=p["recording"], model=p["model"], study=config.name,
                              gain_test=study_flags(config))
    if p.get("instruction") is not None:
        config_out["instruction"] = p["instruction"]
    sweep = assemble_sweep(results, baseline_fits, config=config_out, data_hashes=data_hashes)
    sweep.save(folder, write_results=False)
    maps = []
    if p["maps"]:
        maps = sweep.write_maps(recording, folder)
        if recording.kind in ("eeg", "meg") and recording.space is not None:
            evoked = sweep.to_evoked(recording)
            (folder / "maps").mkdir(parents=True, exist_ok=True)
            evoked.save(folder / "maps" / "layer_scores-ave.fif", overwrite=True, verbose="error")
            maps.append(str(folder / "maps" / "layer_scores-ave.fif"))
        elif recording.kind == "ieeg":  # glass-brain markers and a table, never scalp topomaps
            maps += write_electrode_outputs(sweep, recording, folder)
    return {"headline": sweep.headline(), "maps": maps}


# ------------------------------------------------------------------------------- joint fits
def _joint_task(task, config, context):
    """The chosen layers of several models fitted together; variance partitioned between the models."""
    from ..encoding import fit_multimodal

    p = task["params"]
    recording = load_recording(one_input(task, "recording", "group"))
    bands = band_designs(task)
    modality_of_band = {band: band.split(":", 1)[0] for band in bands}
    cv = _cv_options(config)
    allowed = ("alphas", "cv", "gap_s", "inner_cv", "backend", "seed")
    result = fit_multimodal(bands, recording, modality_of_band=modality_of_band, partition=p["partition"],
                            n_iter=p["n_iter"], **{k: v for k, v in cv.items() if k in allowed})
    folder = fresh_folder(Path(task["folder"]))
    result.save(folder)
    summary = result.summary()["mean_r2"]
    return {"recording": p["recording"], "mean": {k: float(v) for k, v in summary.items()}}


# ------------------------------------------------------------------------------- study
def joint_table(output: Path, recordings: list[str]) -> pd.DataFrame:
    """One row per recording and target: joint R², unique R² per model, shared R², best model."""
    from ..encoding import MultimodalResult

    frames = []
    for rec in recordings:
        result = MultimodalResult.load(output / "joint" / rec)
        frame = result.scores.reset_index()
        frame.insert(0, "subject", rec)
        frame["best_model"] = result.best_modality()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


STUDY_COLUMNS = ["model", "layer", "layer_index", "depth", "subject", "kind", "target", "r", "r2", "r_baseline",
                 "gain", "ci_low", "ci_high", "p", "p_fdr"]


def _study_table_chunks(output: Path, models: list[str], recordings: list[str], instructions: dict):
    """The study table one sweep (model, instruction, recording) at a time, columns in a fixed order."""
    # models without instructions get one sweep (instruction None) and, in a study with some, an empty name
    columns = STUDY_COLUMNS[:1] + ([INSTRUCTION] if instructions else []) + STUDY_COLUMNS[1:]
    for model, instruction in [(m, i) for m in models for i in instructions.get(m) or [None]]:
        for rec in recordings:
            sweep = LayerSweep.load(sweep_folder(output, model, instruction, rec))
            r, r2 = sweep.score_matrix("r"), sweep.score_matrix("r2")
            n = len(sweep.layer_names)
            base = sweep.baseline_scores() if "baseline" in sweep.baselines else np.full(r.shape[1], np.nan)
            frame = pd.concat([pd.DataFrame({
                "model": model, **({INSTRUCTION: instruction or ""} if instructions else {}),
                "layer": layer, "layer_index": i, "depth": i / max(1, n - 1),
                "subject": rec, "kind": "group" if rec == "group" else "subject",
                "target": sweep.target_names, "r": r[i], "r2": r2[i], "r_baseline": base,
                "gain": r[i] - base}) for i, layer in enumerate(sweep.layer_names)], ignore_index=True)
            gains = sweep.gain_table()
            if len(gains):
                frame = frame.merge(gains[["layer", "target", "ci_low", "ci_high", "p", "p_fdr"]],
                                    on=["layer", "target"], how="left")
            yield frame.reindex(columns=columns).astype({c: float for c in ("ci_low", "ci_high", "p", "p_fdr")})


def study_table(output: Path, models: list[str], recordings: list[str],
                instructions: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """Tidy table of a study: one row per model, layer, recording and target.

    With ``instructions`` (model -> instruction names) the rows are per
    instruction too, in an ``instruction`` column after ``model`` (empty for
    models without instructions); without, the table has no such column.
    The study task itself streams it to disk (:func:`write_study_table`).
    """
    return pd.concat(list(_study_table_chunks(output, models, recordings, instructions or {})), ignore_index=True)


def write_study_table(output: Path, chunks, recordings: list[str]) -> dict:
    """Write ``study_scores.tsv`` (and ``.parquet`` with pyarrow) chunk by chunk; return rows, headline, tables.

    ``chunks`` are row sets of the table in order (the study task streams one
    sweep at a time, :func:`_study_table_chunks`), so memory is one sweep's
    rows whatever the number of subjects and models: a whole-brain study of
    100 subjects would otherwise hold billions of rows in the study task.
    The headline (best layer per model on the subjects' rows, or on the
    group's when there are no subjects) is accumulated on the way.
    """
    from ..core import atomic_path

    try:
        import pyarrow
        import pyarrow.parquet as pq
    except ImportError:
        pyarrow = None
        logger.info("pyarrow is not installed: study table written as TSV only")
    ranked_kind = "subject" if any(rec != "group" for rec in recordings) else "group"
    sums: dict[str, dict[str, list]] = {}  # model -> layer -> [sum r, n r, sum gain, n gain, depth]
    n_rows = 0
    from contextlib import ExitStack

    with ExitStack() as stack:
        tsv_tmp = stack.enter_context(atomic_path(output / "study_scores.tsv"))
        pq_tmp = stack.enter_context(atomic_path(output / "study_scores.parquet")) if pyarrow is not None else None
        writer = None
        with open(tsv_tmp, "w", newline="") as tsv:
            for frame in chunks:
                frame.to_csv(tsv, sep="\t", index=False, header=n_rows == 0)
                if pyarrow is not None:
                    arrow = pyarrow.Table.from_pandas(frame, preserve_index=False)
                    writer = writer or pq.ParquetWriter(pq_tmp, arrow.schema)
                    writer.write_table(arrow)
                n_rows += len(frame)
                ranked = frame[frame.kind == ranked_kind]
                for (model, layer), rows in ranked.groupby(["model", "layer"], sort=False):
                    acc = sums.setdefault(str(model), {}).setdefault(
                        str(layer), [0.0, 0, 0.0, 0, float(rows["depth"].iloc[0])])
                    r, gain = rows["r"].to_numpy(float), rows["gain"].to_numpy(float)
                    acc[0] += float(np.nansum(r))
                    acc[1] += int(np.isfinite(r).sum())
                    acc[2] += float(np.nansum(gain))
                    acc[3] += int(np.isfinite(gain).sum())
        if writer is not None:
            writer.close()
        elif pq_tmp is not None:  # no rows at all: an empty table with the TSV's columns
            pd.DataFrame(columns=STUDY_COLUMNS).to_parquet(pq_tmp, index=False)
    if pyarrow is None:
        (output / "study_scores.parquet").unlink(missing_ok=True)
    headline = {}
    for model, layers in sums.items():
        means = {layer: (acc[0] / acc[1] if acc[1] else np.nan) for layer, acc in layers.items()}
        best = max(means, key=lambda k: -np.inf if np.isnan(means[k]) else means[k])
        acc = layers[best]
        headline[model] = {"best_layer": best, "best_layer_mean_r": float(means[best]),
                           "best_layer_depth": acc[4],
                           "mean_gain_over_baseline": float(acc[2] / acc[3]) if acc[3] else None}
    tables = ["study_scores.tsv"] + (["study_scores.parquet"] if pyarrow is not None else [])
    return {"n_rows": n_rows, "headline": headline, "tables": tables}


def _study_task(task, config, context):
    from ..core import package_versions

    p = task["params"]
    output = Path(task["folder"])
    joint = None
    if p.get("joint"):
        joint = joint_table(output, p["joint"])
        atomic_write_text(output / "joint_scores.tsv", joint.to_csv(sep="\t", index=False))
    rsa_extra = _write_rsa_table(task, output)
    if not p["recordings"]:  # joint fits or RSA only
        summary = {"kind": "study", "name": p["name"], "config": context["config"], "models": p["models"],
                   "recordings": [], "joint_recordings": p["joint"], "headline": {},
                   "joint_headline": _joint_headline(joint),
                   "tables": ["joint_scores.tsv"] if joint is not None else [],
                   "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        summary.update(rsa_extra, tables=summary["tables"] + rsa_extra.get("tables", []))
        save_json(output / "summary.json", summary)
        atomic_write_text(output / "study_scores.tsv", pd.DataFrame(columns=STUDY_COLUMNS).to_csv(sep="\t", index=False))
        return {"n_rows": 0}
    instructions = p.get("instructions") or {}
    if instructions:  # instruction studies are small (one model's prompts): the table is kept for their outputs
        table = study_table(output, p["models"], p["recordings"], instructions)
        written = write_study_table(output, [table], p["recordings"])
        # an instruction model's best (instruction, layer), on the same rows as the other models' headline
        ranked = table[table.kind == "subject"] if (table.kind == "subject").any() else table
        written["headline"].update({model: instruction_headline(frame) for model, frame
                                    in ranked.groupby("model", sort=False) if model in instructions})
    else:  # streamed sweep by sweep: the study task's memory does not grow with subjects x models
        table = None
        written = write_study_table(output, _study_table_chunks(output, p["models"], p["recordings"], {}),
                                    p["recordings"])
    headline, n_rows = written["headline"], written["n_rows"]
    rec_hashes = {}
    for i in task["inputs"]:
        if i["kind"] == "sweep":
            summary = load_json(Path(i["folder"]) / "summary.json")
            cell = f"{summary['config']['model']}/{summary['config']['subject']}"
            if summary["config"].get("instruction") is not None:
                cell += f" [{summary['config']['instruction']}]"
            rec_hashes[cell] = summary["data_hashes"]
    extra_tables = []
    if instructions:
        extra_tables = write_instruction_outputs(output, table, instructions, recording_folders_of(task))["tables"]
    summary = {
        "kind": "study", "name": p["name"], "config": context["config"], "models": p["models"],
        "recordings": p["recordings"], "headline": headline,
        **({"instructions": instructions} if instructions else {}),
        "versions": package_versions(("brainalign", "numpy", "scipy", "himalaya", "scikit-learn", "torch",
                                      "transformers", "nilearn", "mne", "dask", "distributed", "pydantic")),
        "data_hashes": rec_hashes, "tables": written["tables"]
        + (["joint_scores.tsv"] if joint is not None else []) + extra_tables,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if joint is not None:
        summary.update(joint_recordings=p["joint"], joint_headline=_joint_headline(joint))
    if p.get("comparisons"):
        from ._compare_tasks import comparison_summary, study_comparison_tables

        summary["tables"] += study_comparison_tables(output, p["comparisons"])
        summary.update(comparison_recordings=p["comparisons"], comparison_headline=comparison_summary(output))
    summary.update(rsa_extra, tables=summary["tables"] + rsa_extra.get("tables", []))
    save_json(output / "summary.json", summary)
    return {"n_rows": int(n_rows)}


def _write_rsa_table(task: dict, output: Path) -> dict:
    """``rsa_scores.tsv`` from the study's rsa and ceiling tasks; the summary's RSA entries (empty without RSA)."""
    rsa = task["params"].get("rsa")
    if not rsa:
        return {}
    from ._rsa_tasks import rsa_headline, rsa_study_table

    table = rsa_study_table(task["inputs"])
    atomic_write_text(output / "rsa_scores.tsv", table.to_csv(sep="\t", index=False))
    return {"tables": ["rsa_scores.tsv"], "rsa_headline": rsa_headline(table), "rsa_q": rsa["q"],
            "rsa_recordings": list(dict.fromkeys(r for _, r in rsa["cells"]))}


def _joint_headline(joint: pd.DataFrame | None) -> dict:
    if joint is None:
        return {}
    cols = [c for c in joint.columns if c == "joint" or c.startswith("unique:") or c == "shared"]
    out = {c: float(joint[c].mean()) for c in cols}
    out.update({f"best:{m}": float(v) for m, v in joint["best_model"].value_counts(normalize=True).items()})
    return out


def _deferred(name: str):
    """A task function of ``_compare_tasks``, imported when it runs (that module imports this one's helpers)."""
    def runner(task, config, context):
        from . import _compare_tasks

        return getattr(_compare_tasks, name)(task, config, context)
    return runner


_RUNNERS = {"recording": _recording_task, "group": _group_task, "features": _features_task,
            "design": _design_task, "baseline": _baseline_task, "fit": _fit_task, "sweep": _sweep_task,
            "joint": _joint_task, "combination": _deferred("combination_task"),
            "compare": _deferred("compare_task"), "study": _study_task}
_RUNNERS.update(RSA_RUNNERS)
