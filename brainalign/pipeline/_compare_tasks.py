"""Model comparisons per target in a study: ``[combinations]``, ``[comparisons]`` and their tasks.

Planning (:func:`prediction_needs`, :func:`comparison_tasks`) and the task
functions (``combination``, ``compare``) of a study whose config asks "where
does model A beat model B?".

How a name of ``[comparisons]`` is read:

- a ``[combinations]`` name: those layers of several models fitted as one
  banded design (one band per model layer, after the baseline, with the
  study's estimator), on the folds of every layer fit of the recording;
- ``model:layer``: that layer's fit;
- a bare model label: per recording, the layer with the best score on the
  *other* subjects of the study (the mean over those subjects of each one's
  median over targets of the held-out r), so the recording's own data never
  choose the layer it is tested with.  The group-average recording takes the
  layer best on the subjects (which it is averaged from: give ``model:layer``
  for a choice independent of it).  A bare name needs at least two subjects
  fitted on their own; otherwise the config must name the layer.

A ``compare`` task per recording reads the held-out predictions every name
needs (fit tasks write them, float32, only in studies with comparisons) and
runs :func:`~brainalign.encoding.compare_models` once for all the study's
comparisons (once per distinct ``n_bootstraps`` / ``block_s`` /
``alternative``), so the bootstrap resamples are shared by every model.  It
writes ``comparisons.tsv`` (one row per comparison, pair and target),
``composite_sites.tsv`` (the criterion "model beats each of against" per
target) and, when the recording labels its targets with regions,
``regions.tsv`` (:func:`~brainalign.encoding.winners_per_region`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, DesignMatrix, EncodingResult, atomic_write_text, save_json
from ._config import ConfigError, StudyConfig, study_comparisons
from ._task_io import band_designs, one_input, study_flags
from ._work import fresh_folder, load_npy, load_recording, save_npy

logger = logging.getLogger("brainalign.pipeline")

#: columns of a compare task's table (and, with ``subject`` and ``kind``, of the study's comparisons.tsv)
COLUMNS = ["comparison", "model_a", "model_b", "layer_a", "layer_b", "target", "r_a", "r_b", "difference",
           "ci_low", "ci_high", "p", "p_fdr", "q", "wins"]
PREDICTIONS = "predictions.npy"
FOLDS = "test_folds.npz"


# ------------------------------------------------------------------------------- names
def planned_comparisons(config: StudyConfig, n_subject_fits: int) -> dict:
    """The study's comparisons; the implicit trained-vs-random ones only where bare names can choose a layer."""
    explicit = config.comparisons
    out = {}
    for name, spec in study_comparisons(config).items():
        if name not in explicit and n_subject_fits < 2:
            # not written by the user: an error about it would puzzle; a warning says what to add
            logger.warning("Comparison %r left out: a bare model name needs two subjects fitted on their own to "
                           "choose its layer; add [comparisons] with '%s:<layer>' against '%s:<layer>'.", name,
                           spec.model, spec.against[0])
            continue
        out[name] = spec
    return out


def resolve_names(config: StudyConfig, layers_of: dict[str, list[str]], n_subject_fits: int) -> dict[str, dict]:
    """Every name the comparisons use -> ``{"kind": "combination" | "layer" | "select", "model", "layer"}``.

    Raises :class:`ConfigError` naming the comparison and key for a layer a
    model does not have, or a bare model name that cannot choose its layer.
    """
    for name, parts in config.combinations.items():
        for label, layer in parts.items():
            if layer not in layers_of[label]:
                raise ConfigError(f"config [combinations] {name!r}: model {label!r} has no layer {layer!r}; its "
                                  f"layers are {layers_of[label]}.")
    refs: dict[str, dict] = {}
    for name, spec in planned_comparisons(config, n_subject_fits).items():
        for key, ref in [("model", spec.model)] + [("against", a) for a in spec.against]:
            if ref in refs:
                continue
            if ref in config.combinations:
                refs[ref] = {"kind": "combination", "model": ref, "layer": ""}
            elif ref in layers_of:
                if n_subject_fits < 2:
                    raise ConfigError(
                        f"config [comparisons] {name!r} {key}: {ref!r} needs a layer ('{ref}:<layer>', layers "
                        f"{layers_of[ref]}): a bare model name takes the layer best on the other subjects, and "
                        "this study fits fewer than two subjects on their own.")
                refs[ref] = {"kind": "select", "model": ref, "layer": ""}
            else:
                label, _, layer = ref.partition(":")
                if label not in layers_of:
                    raise ConfigError(f"config [comparisons] {name!r} {key}: {ref!r} is not a model, 'model:layer' "
                                      f"or combination; the models are {sorted(layers_of)}.")
                if layer not in layers_of[label]:
                    raise ConfigError(f"config [comparisons] {name!r} {key}: model {label!r} has no layer {layer!r}; "
                                      f"its layers are {layers_of[label]}.")
                refs[ref] = {"kind": "layer", "model": label, "layer": layer}
    return refs


def prediction_needs(config: StudyConfig, layers_of: dict[str, list[str]], n_subject_fits: int) -> set[tuple[str, str]]:
    """The (model, layer) fits that must keep their held-out predictions (empty without comparisons)."""
    needs = set()
    for ref in resolve_names(config, layers_of, n_subject_fits).values():
        if ref["kind"] == "layer":
            needs.add((ref["model"], ref["layer"]))
        elif ref["kind"] == "select":
            needs.update((ref["model"], layer) for layer in layers_of[ref["model"]])
    return needs


# ------------------------------------------------------------------------------- planning
def comparison_tasks(config: StudyConfig, make_task, *, out: Path, layers_of: dict, designs_of: dict, grid_of: dict,
                     rec_tasks: dict, base_tasks: dict, fit_tasks: dict, recordings: list[str], subjects: list[str],
                     enc: dict, method: str) -> list:
    """The ``combination`` and ``compare`` tasks of a study (none without comparisons).

    ``fit_tasks`` maps (model, layer, recording) to its fit task; ``make_task``
    is the planner's task factory (content keys of kind, params and inputs).
    """
    from ..encoding import layer_dirname

    fitted_subjects = [r for r in recordings if r in subjects]
    comparisons = planned_comparisons(config, len(fitted_subjects))
    if not comparisons:
        return []
    if not recordings:
        raise ConfigError("config [comparisons] need the per-layer fits: set [joint] sweeps = true.")
    refs = resolve_names(config, layers_of, len(fitted_subjects))
    tasks, combos = [], {}
    for name in dict.fromkeys(r["model"] for r in refs.values() if r["kind"] == "combination"):
        bands = list(config.combinations[name].items())
        for r in recordings:
            designs = [designs_of[label][(grid_of[r], layer)] for label, layer in bands]
            t = make_task("combination", {"name": name, "recording": r,
                                          "bands": [f"{label}:{layer}" for label, layer in bands],
                                          "encoding": enc, "method": method},
                          [*designs, rec_tasks[r], base_tasks[r]], out / "combinations" / layer_dirname(name) / r,
                          f"combination {name} {r}", keyed=False)
            combos[(name, r)] = t
            tasks.append(t)
    settings = {name: spec.model_dump() for name, spec in comparisons.items()}
    for r in recordings:
        deps, inputs = [rec_tasks[r]], {}
        others = [s for s in fitted_subjects if s != r]
        for ref, info in refs.items():
            if info["kind"] == "combination":
                t = combos[(info["model"], r)]
                deps.append(t)
                inputs[ref] = {"kind": "combination", "folder": _rel(t, out)}
            elif info["kind"] == "layer":
                t = fit_tasks[(info["model"], info["layer"], r)]
                deps.append(t)
                inputs[ref] = {"kind": "layer", "layer": info["layer"], "folder": _rel(t, out)}
            else:
                candidates = {}
                for layer in layers_of[info["model"]]:
                    own = fit_tasks[(info["model"], layer, r)]
                    chooser = [fit_tasks[(info["model"], layer, s)] for s in others]
                    deps += [own, *chooser]
                    candidates[layer] = {"folder": _rel(own, out), "others": [_rel(t, out) for t in chooser]}
                inputs[ref] = {"kind": "select", "candidates": candidates, "chosen_on": others}
        deps = list({t.key: t for t in deps}.values())
        tasks.append(make_task("compare", {"recording": r, "comparisons": settings, "inputs": inputs,
                                           "seed": int(enc.get("seed", 0))},
                               deps, out / "comparisons" / r, f"model comparisons {r}", keyed=False))
    return tasks


def _rel(task, out: Path) -> str:
    return str(Path(task.folder).relative_to(out))


# ------------------------------------------------------------------------------- fit outputs
def save_predictions(folder: Path, result: EncodingResult) -> None:
    """A fit's held-out predictions (float32) and its outer test folds, for the paired bootstrap."""
    save_npy(folder / PREDICTIONS, np.asarray(result.predictions, dtype=np.float32))
    from ..core import save_arrays

    save_arrays(folder / FOLDS, {f"fold_{k}": np.asarray(t, dtype=np.int64) for k, t in enumerate(result.folds)})


def load_with_predictions(folder: Path) -> EncodingResult:
    """An EncodingResult with the ``predictions`` (memory-mapped) and ``folds`` its fit saved."""
    from ..core import load_arrays

    if not (folder / PREDICTIONS).is_file():
        raise BrainalignInputError(f"{folder} has no {PREDICTIONS}: it was fitted by a study without comparisons; "
                                   f"delete {folder} (or the study folder) to fit it again.")
    result = EncodingResult.load(folder)
    result.predictions = load_npy(folder / PREDICTIONS)
    folds = load_arrays(folder / FOLDS)
    result.folds = [folds[f"fold_{k}"] for k in range(len(folds))]
    return result


# ------------------------------------------------------------------------------- tasks
def combination_task(task: dict, config: StudyConfig, context: dict) -> dict:
    """Layers of several models fitted as one banded design, after the baseline, keeping its predictions."""
    from ..encoding import BaselineFits, fit_layer

    p = task["params"]
    recording = load_recording(one_input(task, "recording", "group"))
    # one band per model layer, named model:layer (two models' "layer.5" bands would share a name)
    designs = [d.as_one_band(band) for band, d in band_designs(task).items()]
    stacked = DesignMatrix.stack(designs, name=p["name"])
    flags = study_flags(config)
    fits = BaselineFits.load(one_input(task, "baseline"), predictions=flags["gain_test"])
    result = fit_layer(stacked, recording, fits, name=p["name"], model=p["name"], keep_predictions=True,
                       gain_bootstraps=flags["n_bootstraps"] if flags["gain_test"] else 0)
    result.metadata.update(config_key=task["key"], study_task="combination", bands=p["bands"])
    folder = fresh_folder(Path(task["folder"]))
    result.save(folder)
    save_predictions(folder, result)
    return {"name": p["name"], "recording": p["recording"], "mean_r": float(result.r.mean())}


def _choose_layer(candidates: dict, output: Path) -> tuple[str, dict[str, float]]:
    """The layer with the best mean over the other subjects of their median held-out r over targets."""
    scores = {}
    for layer, c in candidates.items():
        medians = [float(np.median(EncodingResult.load(output / f).r.mean(0))) for f in c["others"]]
        scores[layer] = float(np.mean(medians))
    return max(scores, key=scores.get), scores


def recording_regions(recording) -> pd.Series | None:
    """Region label per target: ``metadata["regions"]`` (a list or a target -> region mapping), or None."""
    regions = recording.metadata.get("regions")
    if regions is None:
        return None
    if isinstance(regions, dict):
        return pd.Series({str(k): str(v) for k, v in regions.items()})
    if len(regions) != recording.n_targets:
        raise BrainalignInputError(f"recording {recording.subject!r}: metadata['regions'] has {len(regions)} labels "
                                   f"for {recording.n_targets} targets; give one region per target.")
    return pd.Series(list(map(str, regions)), index=recording.target_names)


def compare_task(task: dict, config: StudyConfig, context: dict) -> dict:
    """Every comparison of the study on one recording, with shared bootstrap resamples."""
    from ..encoding import compare_models, composite_sites, winners_per_region

    p = task["params"]
    output = Path(context["output"])
    recording = load_recording(one_input(task, "recording", "group"))
    results, layers, chosen = {}, {}, {}
    for ref, info in p["inputs"].items():
        if info["kind"] == "select":
            layer, scores = _choose_layer(info["candidates"], output)
            chosen[ref] = {"layer": layer, "scores_on_others": scores, "others": info["chosen_on"]}
            folder = info["candidates"][layer]["folder"]
        else:
            layer, folder = info.get("layer", ""), info["folder"]
        results[ref], layers[ref] = load_with_predictions(output / folder), layer
    logger.info("Model comparisons on %s: %d model(s), %d comparison(s)%s", p["recording"], len(results),
                len(p["comparisons"]), "".join(f"; {ref} -> {c['layer']} (chosen on {', '.join(c['others'])})"
                                               for ref, c in chosen.items()))
    groups: dict[tuple, list[str]] = {}
    for name, spec in p["comparisons"].items():
        groups.setdefault((spec["n_bootstraps"], spec["block_s"], spec["alternative"]), []).append(name)
    rows, sites, regions_out = [], [], []
    regions = recording_regions(recording)
    for (n_boot, block_s, alternative), names in groups.items():
        pairs = list(dict.fromkeys((p["comparisons"][n]["model"], other) for n in names
                                   for other in p["comparisons"][n]["against"]))
        used = list(dict.fromkeys(m for pair in pairs for m in pair))
        table = compare_models({m: results[m] for m in used}, recording, pairs, n_bootstraps=int(n_boot),
                               block_s=block_s, alternative=alternative, seed=int(p["seed"]))
        for name in names:
            spec = p["comparisons"][name]
            own = table[(table.model_a == spec["model"]) & table.model_b.isin(spec["against"])].copy()
            q = float(spec["q"])
            a_wins = (own.p_fdr < q) & (own.difference > 0)
            b_wins = (own.p_fdr < q) & (own.difference < 0) if alternative == "two-sided" else False
            own["wins"] = np.where(a_wins, own.model_a, np.where(b_wins, own.model_b, ""))
            own.insert(0, "comparison", name)
            own["layer_a"], own["layer_b"] = own.model_a.map(layers), own.model_b.map(layers)
            own["q"] = q
            rows.append(own[COLUMNS])
            crit = composite_sites(table, winner=spec["model"], against=spec["against"], alpha=q)
            sites.append(crit[["target", "site", "n_won"]].assign(comparison=name, model=spec["model"],
                                                                  n_against=len(spec["against"])))
            if regions is not None:
                counts = winners_per_region(own, regions, alpha=q, sites=crit)
                regions_out.append(counts.rename(columns={"comparison": "pair"}).assign(comparison=name))
    folder = fresh_folder(Path(task["folder"]))
    tidy = pd.concat(rows, ignore_index=True)
    atomic_write_text(folder / "comparisons.tsv", tidy.to_csv(sep="\t", index=False))
    site_table = pd.concat(sites, ignore_index=True)[["comparison", "model", "target", "n_won", "n_against", "site"]]
    atomic_write_text(folder / "composite_sites.tsv", site_table.to_csv(sep="\t", index=False))
    if regions_out:
        region_table = pd.concat(regions_out, ignore_index=True)
        atomic_write_text(folder / "regions.tsv", region_table[["comparison", "pair", "region", "n_targets",
                                                                "n_significant", "fraction"]].to_csv(
            sep="\t", index=False))
    maps = write_site_maps(one_input(task, "recording", "group"), site_table, folder) if config.maps else []
    save_json(folder / "comparisons.json", {
        "recording": p["recording"], "comparisons": p["comparisons"], "layers": layers, "chosen": chosen,
        "layer_rule": "bare model names: the layer with the best mean over the other subjects of their median "
                      "held-out r over targets", "seed": p["seed"],
        "method": "paired circular block bootstrap of test rows within each outer fold, resamples shared by all "
                  "models; percentile CI; BH-FDR within each comparison pair; a target is won at p_fdr < q"})
    wins = {name: int((frame.wins == frame.model_a).sum()) for name, frame in tidy.groupby("comparison")}
    return {"recording": p["recording"], "wins": wins, "maps": maps, "sites": {
        name: int(frame.site.sum()) for name, frame in site_table.groupby("comparison")}}


def write_site_maps(rec_folder: Path, sites: pd.DataFrame, folder: Path) -> list[str]:
    """``maps/<comparison>_sites.nii.gz`` per comparison of a volume recording: per voxel, how many of
    ``against`` the model beats (the criterion's sites hold the largest value).  Nothing without a volume space."""
    import nibabel as nib

    from ..core import atomic_suffixed_path
    from ..encoding import layer_dirname

    recording = load_recording(rec_folder, space=True)
    if recording.space is None or not hasattr(recording.space, "inverse_transform"):
        return []
    written = []
    for name, frame in sites.groupby("comparison", sort=False):
        values = frame.set_index("target")["n_won"].reindex(recording.target_names).to_numpy(dtype=np.float32)
        image = recording.to_image(values)
        if not isinstance(image, nib.Nifti1Image):  # surfaces: the tables hold every value
            return []
        path = folder / "maps" / f"{layer_dirname(name)}_sites.nii.gz"
        with atomic_suffixed_path(path, ".nii.gz") as named:  # nibabel picks the format from the name
            nib.save(image, str(named))
        written.append(str(path))
    return written


# ------------------------------------------------------------------------------- study tables
def study_comparison_tables(output: Path, recordings: list[str]) -> list[str]:
    """The study's comparison tables from every recording's compare task; returns the files written.

    ``comparisons.tsv`` (every row, with ``subject`` and ``kind``),
    ``comparison_counts.tsv`` (per comparison, pair and recording: targets won
    by each side, the mean difference with the mean of the per-target CI
    bounds, the smallest p_fdr; a ``criterion`` row counts the composite
    sites), ``composite_sites.tsv`` and, with regions, ``comparison_regions.tsv``.
    Subjects and the group average are rows of their own (``kind``), never pooled.
    """
    tidy, sites, regions = [], [], []
    for rec in recordings:
        folder = output / "comparisons" / rec
        kind = {"subject": rec, "kind": "group" if rec == "group" else "subject"}
        tidy.append(pd.read_csv(folder / "comparisons.tsv", sep="\t", dtype={"target": str},
                                keep_default_na=False, na_values=[""]).assign(**kind))
        sites.append(pd.read_csv(folder / "composite_sites.tsv", sep="\t", dtype={"target": str}).assign(**kind))
        if (folder / "regions.tsv").is_file():
            regions.append(pd.read_csv(folder / "regions.tsv", sep="\t").assign(**kind))
    tidy_t = pd.concat(tidy, ignore_index=True)
    tidy_t["wins"] = tidy_t["wins"].fillna("")
    sites_t = pd.concat(sites, ignore_index=True)
    written = {"comparisons.tsv": tidy_t, "composite_sites.tsv": sites_t,
               "comparison_counts.tsv": comparison_counts(tidy_t, sites_t)}
    if regions:
        written["comparison_regions.tsv"] = pd.concat(regions, ignore_index=True)
    for name, frame in written.items():
        atomic_write_text(output / name, frame.to_csv(sep="\t", index=False))
    return list(written)


def comparison_counts(tidy: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """Per comparison, pair and recording: targets won by A and by B, the mean difference and its CI, min p_fdr."""
    keys = ["comparison", "model_a", "model_b", "subject", "kind"]
    rows = []
    for (name, a, b, rec, kind), frame in tidy.groupby(keys, sort=False):
        rows.append({"comparison": name, "model_a": a, "model_b": b, "subject": rec, "kind": kind,
                     "layer_a": frame.layer_a.iloc[0], "layer_b": frame.layer_b.iloc[0], "n_targets": len(frame),
                     "a_wins": int((frame.wins == a).sum()), "b_wins": int((frame.wins == b).sum()),
                     "difference": float(frame.difference.mean()), "ci_low": float(frame.ci_low.mean()),
                     "ci_high": float(frame.ci_high.mean()), "min_p_fdr": float(frame.p_fdr.min()),
                     "q": float(frame.q.iloc[0])})
    for (name, model, rec, kind), frame in sites.groupby(["comparison", "model", "subject", "kind"], sort=False):
        rows.append({"comparison": name, "model_a": model, "model_b": "criterion: all of against", "subject": rec,
                     "kind": kind, "n_targets": len(frame), "a_wins": int(frame.site.sum())})
    return pd.DataFrame(rows)


def comparison_summary(output: Path) -> dict[str, Any]:
    """Headline of the comparisons for summary.json: composite sites per comparison and recording."""
    sites = pd.read_csv(output / "composite_sites.tsv", sep="\t", dtype={"target": str})
    return {name: {rec: int(f.site.sum()) for rec, f in frame.groupby("subject", sort=False)}
            for name, frame in sites.groupby("comparison", sort=False)}

