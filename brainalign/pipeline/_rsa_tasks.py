"""RSA in a study: brain RDMs per recording, layer-vs-ROI comparisons per model and recording, noise ceilings.

Kinds (planned by :func:`plan_rsa`, after the designs they share with the encoding fits):

``rdm``      (recording)              conditions of the recording's rows and one brain RDM per ROI
``rsa``      (model x recording)      every layer's RDM (from its design, on the recording grid) vs every ROI:
                                      score, bootstrap CI over conditions (whole runs together), one-sided
                                      bootstrap p, BH-FDR across layers x ROIs of the recording
``rsa_subjects`` (model x stimulus)   with ``bootstrap = "subjects"`` / ``"both"``: the subjects who share a
                                      stimulus together (``recording = "all-subjects"``), interval over subjects
``ceiling``  (stimulus)               the noise ceiling of the subjects who share a stimulus: leave-one-subject-out
                                      (>= 2 subjects) or split-half over odd / even runs (one subject, events)

The model RDMs are built from the *designs* (features after the encoding
alignment, e.g. HRF-convolved, on the recording's sample grid), so model and
brain RDMs describe the same rows; a study asking for encoding and RSA
computes each feature and design task once.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, atomic_write_text, load_arrays, save_arrays
from ._work import fresh_folder, load_design, load_recording, load_subject_parts, read_marker

logger = logging.getLogger("brainalign.pipeline")

RSA_COLUMNS = ["model", "layer", "layer_index", "depth", "recording", "kind", "roi", "score", "ci_low", "ci_high",
               "p", "p_fdr", "ceiling_low", "ceiling_high"]
#: what the rdm task depends on (the comparison options only touch the rsa and ceiling tasks)
_RDM_KEYS = ("conditions", "segment_s", "event_delay_s", "rdm_method", "rois")


# ------------------------------------------------------------------------------- planning
def plan_rsa(config, task_factory, *, tasks: list, rec_tasks: dict, recordings: list[str], subjects: list[str],
             stim_of: dict, grid_of: dict, designs_of: dict, layers_of: dict, work: Path, out: Path) -> dict:
    """Add the rdm, rsa and ceiling tasks of a study to ``tasks``; returns what the study task needs.

    ``task_factory`` is the plan's ``_task`` (content keys from kind, parameters and inputs).
    """
    opts = config.rsa_options()
    rdm_params = {k: opts[k] for k in _RDM_KEYS}
    q = opts.pop("q")  # the level marked in the report: it changes no score (BH-adjusted p are level-free)
    rdm_tasks = {}
    for r in recordings:
        t = task_factory("rdm", {"recording": r, **rdm_params}, [rec_tasks[r]], work / "rdms", f"brain RDMs {r}")
        rdm_tasks[r] = t
        tasks.append(t)
    rsa_tasks = []
    for model in config.models:
        label = model.label
        for r in recordings:
            layers = layers_of[label]
            designs = [designs_of[label][(grid_of[r], layer)] for layer in layers]
            t = task_factory("rsa", {"model": label, "recording": r, "layers": layers, "options": opts},
                             [rdm_tasks[r], *designs], out / "rsa" / label / r, f"rsa {label} {r}", keyed=False)
            rsa_tasks.append(t)
            tasks.append(t)
    # subjects who heard / saw the same stimulus share conditions (checked by the task): one ceiling per set
    sets: dict[str, list[str]] = {}
    for s in subjects:
        if s in recordings:
            sets.setdefault(stim_of[s], []).append(s)
    if opts["bootstrap"] in ("subjects", "both"):
        by_cell = {(t.params["model"], t.params["recording"]): t for t in rsa_tasks}
        for model in config.models:
            for stim, members in sets.items():
                if len(members) < 2:
                    logger.warning("[rsa] bootstrap = %r: only subject %s heard/saw stimulus %s; no all-subjects "
                                   "rows for it", opts["bootstrap"], members[0], stim)
                    continue
                t = task_factory("rsa_subjects", {"model": model.label, "subjects": members, "stimulus": stim,
                                                  "options": opts},
                                 [*(by_cell[(model.label, s)] for s in members), *(rdm_tasks[s] for s in members)],
                                 work / "rsa-subjects", f"rsa {model.label} all subjects of {stim}")
                rsa_tasks.append(t)
                tasks.append(t)
    ceiling_tasks = []
    for stim, members in sets.items():
        t = task_factory("ceiling", {"subjects": members, "stimulus": stim, "comparison": opts["comparison"]},
                         [rdm_tasks[s] for s in members], work / "ceilings", f"noise ceiling {stim}")
        ceiling_tasks.append(t)
        tasks.append(t)
    return {"tasks": rsa_tasks + ceiling_tasks, "params": {"cells": [[t.params["model"], t.params["recording"]]
                                                                     for t in rsa_tasks if t.kind == "rsa"],
                                                           "q": q}}


# ------------------------------------------------------------------------------- conditions
def row_conditions(recording, parts: dict, options: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Condition of every recording row (-1: unused), and each condition's label and bootstrap group.

    ``segments``: consecutive non-overlapping ``segment_s`` windows within each
    run (a last window shorter than half a segment is dropped), grouped by run.
    ``events``: the event label of each row: of its trial when the recording
    has one row per trial, else of the event (block) whose interval, shifted
    by ``event_delay_s``, holds the row's time (rows outside every event are
    unused); each condition its own group.
    """
    runs = np.asarray(recording.runs).astype(str)
    n = runs.shape[0]
    if options["conditions"] == "segments":
        seg = float(options["segment_s"] or 20.0)
        per_segment = seg / float(recording.sampling_period)
        if per_segment < 1:
            raise BrainalignInputError(f"config [rsa] segment_s = {seg} is shorter than one sample "
                                       f"({recording.sampling_period} s); give a longer segment.")
        row_cond = np.full(n, -1)
        labels, groups = [], []
        for run in dict.fromkeys(runs):
            rows = np.flatnonzero(runs == run)
            index = np.floor(np.arange(rows.size) / per_segment).astype(int)
            for k in np.unique(index):
                members = rows[index == k]
                if members.size < per_segment / 2:
                    continue
                row_cond[members] = len(labels)
                labels.append(f"{run}:{k}")
                groups.append(run)
        if len(set(groups)) < 4:
            # too few runs to resample them: each segment is its own bootstrap unit (adjacent segments of
            # segment_s >> the haemodynamic lag share little of their response)
            groups = list(labels)
        if len(labels) < 3:
            raise BrainalignInputError(
                f"config [rsa] segment_s = {seg} leaves {len(labels)} segment(s) in recording "
                f"{recording.subject!r}; an RDM needs at least 3: give a shorter segment_s.")
        return row_cond, np.asarray(labels), np.asarray(groups)
    if parts["epochs"] is not None and parts["epochs"].n_events == n:  # one row per trial
        tokens = np.asarray([str(t) for t in parts["epochs"].tokens])
    else:  # blocks on a continuous recording: the rows inside each event, shifted by the response delay
        tokens = _rows_in_events(recording, parts["timeline"], _event_delay(options))
    labels = np.asarray(sorted(set(tokens) - {""}))
    if labels.size < 3:
        raise BrainalignInputError(f"config [rsa] conditions = 'events': recording {recording.subject!r} has "
                                   f"{labels.size} event label(s) {list(labels)} on its rows; an RDM needs at "
                                   "least 3 (use conditions = 'segments' for word-by-word stimuli).")
    row_cond = np.where(tokens == "", -1, np.searchsorted(labels, tokens))
    return row_cond, labels, labels.copy()


def _event_delay(options: dict) -> float:
    delay = options.get("event_delay_s")
    return 5.0 if delay is None else float(delay)  # about the BOLD response's peak


def _rows_in_events(recording, timeline, delay: float) -> np.ndarray:
    """Event label of every row whose time lies in ``[onset + delay, offset + delay)`` of one event ('' if none)."""
    runs = np.asarray(recording.runs).astype(str)
    tokens = np.full(runs.shape[0], "", dtype=object)
    t_runs = np.asarray(timeline.runs).astype(str)
    for run in dict.fromkeys(runs):
        rows = np.flatnonzero(runs == run)
        times = np.arange(rows.size) * float(recording.sampling_period)
        for e in np.flatnonzero(t_runs == run):
            inside = (times >= timeline.onsets[e] + delay) & (times < timeline.offsets[e] + delay)
            tokens[rows[inside]] = str(timeline.tokens[e])
    return tokens.astype(str)


def _rois(recording, spec: dict | None = None) -> dict[str, np.ndarray]:
    """``[rsa] rois``, else the dataset's (``metadata["rois"]``), else all targets as one ROI ``"all"``.

    A region lists target names or column indices.
    """
    where = "config [rsa] rois" if spec else f"recording {recording.subject!r} metadata rois"
    rois = spec or (recording.metadata or {}).get("rois")
    n = recording.data.shape[1]
    if not rois:
        return {"all": np.arange(n)}
    names = {str(t): i for i, t in enumerate(recording.target_names)}
    out = {}
    for roi, members in rois.items():
        idx = []
        for m in members:
            if isinstance(m, (int, np.integer)) and not isinstance(m, bool) and 0 <= m < n:
                idx.append(int(m))
            elif str(m) in names:
                idx.append(names[str(m)])
            else:
                raise BrainalignInputError(
                    f"{where}: region {roi!r} lists {m!r}, which is neither a target of recording "
                    f"{recording.subject!r} (e.g. {list(names)[:6]}) nor a column index below {n}.")
        out[str(roi)] = np.asarray(idx, dtype=int)
    return out


def _rdm_vector(X: np.ndarray, row_cond: np.ndarray, runs: np.ndarray, method: str, name: str) -> np.ndarray:
    from ..similarity import compute_rdm

    used = row_cond >= 0
    X = np.asarray(X, dtype=np.float64)[used]
    # a constant column carries no pattern and makes correlation distances undefined
    keep = X.std(axis=0) > 0
    if not keep.any():
        raise BrainalignInputError(f"{name}: every column is constant over the RSA conditions; nothing to compare.")
    if method == "correlation" and keep.sum() < 2:
        raise BrainalignInputError(f"{name}: a correlation distance needs at least 2 varying columns, got "
                                   f"{int(keep.sum())}; give the region more targets or rdm_method = 'euclidean'.")
    # zero-padded text labels: they sort as the condition numbers do, and rsatoolbox fills integer labels with NaN
    labels = np.char.zfill(row_cond[used].astype(str), 6)
    rdm = compute_rdm(X[:, keep], labels, method=method, runs=runs[used] if method == "crossnobis" else None,
                      name=name)
    return rdm.get_vectors()[0]


# ------------------------------------------------------------------------------- tasks
def _rdm_task(task, config, context):
    p = task["params"]
    rec_folder = Path(next(i["folder"] for i in task["inputs"] if i["kind"] in ("recording", "group")))
    recording = load_recording(rec_folder)
    parts = load_subject_parts(rec_folder)
    row_cond, labels, groups = row_conditions(recording, parts, p)
    runs = np.asarray(recording.runs).astype(str)
    arrays = {"row_condition": row_cond, "labels": labels, "groups": groups}
    rois = _rois(recording, p.get("rois"))
    halves = _split_halves(row_cond, runs) if p["conditions"] == "events" else None
    for roi, cols in rois.items():
        X = np.asarray(recording.data)[:, cols]
        arrays[f"rdm:{roi}"] = _rdm_vector(X, row_cond, runs, p["rdm_method"], f"recording {p['recording']} ROI {roi}")
        if halves is not None:
            try:
                for h, mask in zip("ab", halves):
                    cond = np.where(mask, row_cond, -1)
                    arrays[f"half_{h}:{roi}"] = _rdm_vector(X, cond, runs, p["rdm_method"], f"{roi} half {h}")
            except BrainalignInputError as err:  # e.g. crossnobis with one run per half
                logger.info("No split-half RDMs for %s ROI %s: %s", p["recording"], roi, err)
                arrays.pop("half_a:" + roi, None)
    folder = fresh_folder(Path(task["folder"]))
    save_arrays(folder / "rdms.npz", arrays)
    return {"recording": p["recording"], "rois": list(rois), "n_conditions": int(labels.size),
            "split_half": halves is not None}


def _split_halves(row_cond: np.ndarray, runs: np.ndarray):
    """Rows of odd and even runs, when every condition appears in both (else no split-half ceiling)."""
    names = list(dict.fromkeys(runs))
    if len(names) < 2:
        return None
    odd = np.isin(runs, names[1::2])
    used = row_cond >= 0
    all_conds = set(row_cond[used])
    if set(row_cond[used & odd]) != all_conds or set(row_cond[used & ~odd]) != all_conds:
        return None
    return odd, ~odd


def _rdms(vectors, names, key):
    from rsatoolbox.rdm import RDMs

    return RDMs(np.vstack(vectors), rdm_descriptors={key: list(names)})


def _rsa_task(task, config, context):
    """Every layer of one model against every ROI of one recording, with CIs, p and BH-FDR."""
    p = task["params"]
    opts = p["options"]
    rdm_folder = next(Path(i["folder"]) for i in task["inputs"] if i["kind"] == "rdm")
    design_folders = [Path(i["folder"]) for i in task["inputs"] if i["kind"] == "design"]
    brain = load_arrays(rdm_folder / "rdms.npz")
    row_cond = brain["row_condition"]
    groups = brain["groups"]
    vectors = []
    for layer, folder in zip(p["layers"], design_folders):
        design = load_design(folder / "design")
        if design.X.shape[0] != row_cond.shape[0]:
            raise BrainalignInputError(f"design of {p['model']} {layer} has {design.X.shape[0]} rows, the recording "
                                       f"{p['recording']} {row_cond.shape[0]}; they must share the sample grid.")
        vectors.append(_rdm_vector(design.X, row_cond, np.asarray(design.runs).astype(str),
                                   "euclidean" if opts["rdm_method"] == "crossnobis" else opts["rdm_method"],
                                   f"model {p['model']} layer {layer}"))
    rois = [k.split(":", 1)[1] for k in brain if k.startswith("rdm:")]
    data = {roi: [brain[f"rdm:{roi}"]] for roi in rois}
    kind = "group" if p["recording"] == "group" else "subject"
    out = _score_layers(p["model"], p["layers"], vectors, data, groups, opts, "pattern", p["recording"], kind)
    folder = fresh_folder(Path(task["folder"]))
    atomic_write_text(folder / "rsa.tsv", out.to_csv(sep="\t", index=False))
    save_arrays(folder / "model_rdms.npz", {"layers": np.asarray(p["layers"]), "rdms": np.vstack(vectors)})
    best = out.loc[out["score"].idxmax()]
    return {"model": p["model"], "recording": p["recording"], "best_layer": str(best["layer"]),
            "best_roi": str(best["roi"]), "best_score": float(best["score"])}


def _score_layers(model: str, layer_names: list, vectors: list, data: dict, groups, opts: dict, bootstrap: str,
                  recording: str, kind: str) -> pd.DataFrame:
    """Every layer RDM vs every ROI's data RDMs (``data``: ROI -> list of vectors), with BH-FDR over all rows."""
    from ..encoding import fdr
    from ..similarity import evaluate_models

    layers = _rdms(vectors, layer_names, "layer")
    n_layers = len(layer_names)
    frames = []
    for roi, rdm_vectors in data.items():
        with warnings.catch_warnings():
            # rsatoolbox's note about tau-a ceilings: the ceiling task computes the ceiling
            warnings.filterwarnings("ignore", message="Noise ceiling for tau based on averaged ranks")
            table = evaluate_models(layers, _rdms(rdm_vectors, range(len(rdm_vectors)), "index"),
                                    method=opts["comparison"], bootstrap=bootstrap if opts["n_bootstraps"] else "none",
                                    n_bootstraps=max(1, opts["n_bootstraps"]), ci=opts["ci"],
                                    pattern_groups=list(groups), seed=opts["seed"])
        frames.append(pd.DataFrame({
            "model": model, "layer": table["model"], "layer_index": np.arange(n_layers),
            "depth": np.arange(n_layers) / max(1, n_layers - 1), "recording": recording, "kind": kind, "roi": roi,
            "score": table["score"], "ci_low": table["ci_low"], "ci_high": table["ci_high"], "p": table["p_zero"],
            "ceiling_low": table["noise_ceiling_low"], "ceiling_high": table["noise_ceiling_high"]}))
    out = pd.concat(frames, ignore_index=True)
    finite = np.isfinite(out["p"].to_numpy(dtype=float))
    out["p_fdr"] = np.nan
    if finite.any():  # BH across the layers x ROIs of this row set
        out.loc[finite, "p_fdr"] = fdr(out.loc[finite, "p"].to_numpy(dtype=float))
    if kind in ("subject", "group"):  # one data RDM: the ceiling comes from the study's ceiling task
        out = out.drop(columns=["ceiling_low", "ceiling_high"])
    return out


def _rsa_subjects_task(task, config, context):
    """The subjects who share a stimulus together: mean similarity over their RDMs, interval over subjects."""
    p = task["params"]
    opts = p["options"]
    models = [load_arrays(Path(i["folder"]) / "model_rdms.npz") for i in task["inputs"] if i["kind"] == "rsa"]
    brains = [load_arrays(Path(i["folder"]) / "rdms.npz") for i in task["inputs"] if i["kind"] == "rdm"]
    first = models[0]["rdms"]
    if any(m["rdms"].shape != first.shape or not np.allclose(m["rdms"], first, rtol=1e-6, atol=1e-9)
           for m in models[1:]) or any(not np.array_equal(b["labels"], brains[0]["labels"]) for b in brains[1:]):
        raise BrainalignInputError(
            f"config [rsa] bootstrap = {opts['bootstrap']!r}: subjects {p['subjects']} do not share one model RDM "
            "per layer (other sample grids or run lengths); use bootstrap = 'stimuli' (per subject).")
    rois = [k.split(":", 1)[1] for k in brains[0] if k.startswith("rdm:")]
    data = {roi: [b[f"rdm:{roi}"] for b in brains] for roi in rois}
    boot = "rdm" if opts["bootstrap"] == "subjects" else "both"
    out = _score_layers(p["model"], [str(x) for x in models[0]["layers"]], list(first), data, brains[0]["groups"],
                        opts, boot, "all-subjects", "all-subjects")
    folder = fresh_folder(Path(task["folder"]))
    atomic_write_text(folder / "rsa.tsv", out.to_csv(sep="\t", index=False))
    return {"model": p["model"], "subjects": p["subjects"], "n_rows": int(len(out))}


def _ceiling_task(task, config, context):
    """Noise ceiling per ROI: leave-one-subject-out with >= 2 subjects, split-half over runs with one."""
    from rsatoolbox.inference import boot_noise_ceiling

    from ..similarity import split_half_ceiling

    p = task["params"]
    folders = [Path(i["folder"]) for i in task["inputs"] if i["kind"] == "rdm"]
    brains = [load_arrays(f / "rdms.npz") for f in folders]
    rois = [k.split(":", 1)[1] for k in brains[0] if k.startswith("rdm:")]
    rows = []
    for roi in rois:
        method, low, high = "none", np.nan, np.nan
        vectors = [b.get(f"rdm:{roi}") for b in brains]
        same = all(v is not None and np.array_equal(b["labels"], brains[0]["labels"]) for v, b in zip(vectors, brains))
        if len(brains) >= 2 and same:
            low, high = boot_noise_ceiling(_rdms(vectors, p["subjects"], "subject"), method=p["comparison"])
            method = "leave-one-subject-out"
        elif len(brains) == 1 and f"half_a:{roi}" in brains[0]:
            half = split_half_ceiling(_rdms([brains[0][f"half_a:{roi}"]], ["a"], "half"),
                                      _rdms([brains[0][f"half_b:{roi}"]], ["b"], "half"), method=p["comparison"])
            # a half's reliability bounds what a perfect model reaches against a half; Spearman-Brown the full data
            low, high, method = half["reliability"], half["ceiling"], "split-half (odd vs even runs)"
        elif len(brains) >= 2:
            logger.warning("No noise ceiling for ROI %s: subjects %s do not share the same RSA conditions (other "
                           "run lengths?)", roi, p["subjects"])
        rows.append({"roi": roi, "ceiling_low": float(low), "ceiling_high": float(high), "method": method,
                     "subjects": ",".join(p["subjects"])})
    folder = fresh_folder(Path(task["folder"]))
    atomic_write_text(folder / "ceiling.tsv", pd.DataFrame(rows).to_csv(sep="\t", index=False))
    return {"subjects": p["subjects"], "methods": sorted({r["method"] for r in rows})}


# ------------------------------------------------------------------------------- study table
def rsa_study_table(inputs: list[dict]) -> pd.DataFrame:
    """The study's RSA table: every rsa task's rows with the ceiling of its subject's stimulus set.

    The group-average recording gets no ceiling (NaN): the leave-one-subject-out
    ceiling bounds single subjects' RDMs, not the average's.
    """
    frames, ceilings, together = [], [], []
    for i in inputs:
        folder = Path(i["folder"])
        if i["kind"] == "rsa":
            frames.append(pd.read_csv(folder / "rsa.tsv", sep="\t", dtype={"recording": str, "roi": str}))
        elif i["kind"] == "rsa_subjects":  # carries its own (leave-one-subject-out) ceiling
            together.append(pd.read_csv(folder / "rsa.tsv", sep="\t", dtype={"recording": str, "roi": str}))
        elif i["kind"] == "ceiling":
            c = pd.read_csv(folder / "ceiling.tsv", sep="\t", dtype={"roi": str, "subjects": str})
            for subject in read_marker(folder)["subjects"]:
                ceilings.append(c.assign(recording=subject)[["recording", "roi", "ceiling_low", "ceiling_high"]])
    if not frames:
        return pd.DataFrame(columns=RSA_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    if ceilings:
        table = table.merge(pd.concat(ceilings, ignore_index=True), on=["recording", "roi"], how="left")
    for col in ("ceiling_low", "ceiling_high"):
        if col not in table:
            table[col] = np.nan
    return pd.concat([table[RSA_COLUMNS], *(t[RSA_COLUMNS] for t in together)], ignore_index=True)


def rsa_headline(table: pd.DataFrame) -> dict:
    """Per model: the layer with the highest mean score over subjects (the group average when alone) and ROIs."""
    if table.empty:
        return {}
    ranked = table[table["kind"] == "subject"] if (table["kind"] == "subject").any() else table
    out = {}
    for model, frame in ranked.groupby("model", sort=False):
        profile = frame.groupby("layer", sort=False)["score"].mean()
        out[model] = {"best_layer": str(profile.idxmax()), "best_layer_mean_score": float(profile.max())}
    return out


RUNNERS = {"rdm": _rdm_task, "rsa": _rsa_task, "rsa_subjects": _rsa_subjects_task, "ceiling": _ceiling_task}
