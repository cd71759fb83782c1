"""Instructions as a study axis: one feature set per (model, instruction), the best instruction per target.

A ``[[models]]`` entry with an ``instructions`` table (name -> prompt
template) is swept once per instruction: its features are extracted by
:func:`~brainalign.features.extract_instruction_features` (every stimulus
event inside the template, pooled over one token set), then designed, fitted
and assembled like any model, in ``<output>/<model>/instruction-<name>/<recording>``.
The study table gets an ``instruction`` column and the study folder
``best_instruction.tsv`` (per recording and target), ``best_instruction_counts.tsv``
(per target: how many subjects prefer each instruction; the group average
apart) and, for image data, ``<model>/maps/best_instruction_<recording>.nii.gz``
with ``best_instruction_legend.tsv``.

How the best instruction is chosen: each instruction at the layer the study
reports as its best (largest mean r over the subjects' recordings and targets;
the group average's own when the study has no subjects), then per recording
and target the instruction with the largest held-out r at that layer.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import BrainalignInputError, atomic_write_text

logger = logging.getLogger("brainalign.pipeline")

#: the column a study table gains when a model lists instructions
INSTRUCTION = "instruction"


def variants(model) -> list[tuple[str | None, str | None]]:
    """``(name, template)`` per instruction of a model spec; ``[(None, None)]`` for a model without."""
    return list(model.instructions.items()) if model.instructions else [(None, None)]


def sweep_folder(output: Path, model: str, instruction: str | None, recording: str) -> Path:
    """Folder of one sweep: ``<model>/<recording>``, or ``<model>/instruction-<name>/<recording>``."""
    if instruction is None:
        return output / model / recording
    return output / model / f"instruction-{instruction}" / recording


def block_indices(layers: list[str], label: str) -> list[int]:
    """Block indices of ``layer.i`` names (instruction features are block outputs: no embeddings)."""
    out = []
    for name in layers:
        head, _, index = name.partition(".")
        if head != "layer" or not index.isdigit():
            raise BrainalignInputError(f"Model {label!r}: instruction features are block outputs 'layer.i'; layer "
                                       f"{name!r} cannot be extracted under an instruction (drop it from layers).")
        out.append(int(index))
    if not out:
        raise BrainalignInputError(f"Model {label!r}: no block layers to extract under its instructions; instruction "
                                   "features are block outputs 'layer.i' (embeddings are not extracted).")
    return out


def extract(params: dict, timeline):
    """The feature set of one (model, instruction) task, keys renamed from feature keys to ``layer.i``.

    Stored with its task, whose content key holds the template's text: a changed template is a new task.
    """
    from ..core import FeatureSet
    from ..features import extract_instruction_features, load_text_model, parse_feature_key

    options = params["options"]
    model = load_text_model(params["source"], device=options.get("device", "auto"), dtype=options.get("dtype"),
                            revision=options.get("revision"),
                            trust_remote_code=bool(options.get("trust_remote_code", False)))
    logger.info("Instruction %r of %s: %d stimulus events", params["instruction"], params["model"], timeline.n_events)
    features = extract_instruction_features(timeline, model, instructions={params["instruction"]: params["template"]},
                                            layers=params["blocks"], **params["instruction_options"])
    renamed = {parse_feature_key(key)["layer"]: features[key] for key in features.layer_names}
    metadata = {**features.metadata, "model_id": model.model_id, "model_fingerprint": model.fingerprint(),
                "feature_keys": features.layer_names}
    return FeatureSet(renamed, features.timeline, metadata)


def chosen_layers(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    """The layer each (model, instruction) is compared at: its largest mean r over subjects and targets."""
    rows = table[table[INSTRUCTION].fillna("") != ""]
    ranked = rows[rows.kind == "subject"] if (rows.kind == "subject").any() else rows
    profile = ranked.groupby(["model", INSTRUCTION, "layer"], sort=False)["r"].mean()
    return {(m, i): str(frame.droplevel([0, 1]).idxmax())
            for (m, i), frame in profile.groupby(level=[0, 1], sort=False)}


def best_instructions(table: pd.DataFrame) -> pd.DataFrame:
    """Per model, recording and target: the best instruction at its chosen layer, runner-up and margin."""
    from ..features import best_per_target

    layers = chosen_layers(table)
    if not layers:
        return pd.DataFrame(columns=["model", "subject", "kind", "target", "layers", "best", "score", "runner_up",
                                     "margin"])
    picked = table[[layers.get((m, i)) == layer for m, i, layer in
                    zip(table["model"], table[INSTRUCTION].fillna(""), table["layer"])]]
    best = best_per_target(picked, INSTRUCTION, value="r", within=("model", "subject", "kind"))
    chosen = {m: ", ".join(f"{i}: {layer}" for (mm, i), layer in layers.items() if mm == m) for m, _ in layers}
    best.insert(4, "layers", best["model"].map(chosen))  # the layer each instruction is compared at
    return best


def instruction_counts(best: pd.DataFrame, order: dict[str, list[str]]) -> pd.DataFrame:
    """How many recordings prefer each instruction, per model, kind (subject / group) and target."""
    rows = []
    for (model, kind, target), frame in best.groupby(["model", "kind", "target"], sort=False):
        counts = frame["best"].value_counts()
        for name in order.get(model, []):
            rows.append({"model": model, "kind": kind, "target": target, INSTRUCTION: name,
                         "recordings": int(counts.get(name, 0)), "of": int(len(frame))})
    return pd.DataFrame(rows, columns=["model", "kind", "target", INSTRUCTION, "recordings", "of"])


def write_outputs(output: Path, table: pd.DataFrame, order: dict[str, list[str]],
                  recording_folders: dict[str, Path]) -> dict:
    """``best_instruction.tsv``, ``best_instruction_counts.tsv`` and, for image data, the maps + legend."""
    best = best_instructions(table)
    atomic_write_text(output / "best_instruction.tsv", best.to_csv(sep="\t", index=False))
    atomic_write_text(output / "best_instruction_counts.tsv",
                      instruction_counts(best, order).to_csv(sep="\t", index=False))
    maps = []
    for model, names in order.items():
        legend = pd.DataFrame({"value": range(len(names) + 1), INSTRUCTION: ["(none: r <= 0)", *names]})
        for rec, folder in recording_folders.items():
            frame = best[(best.model == model) & (best.subject == rec)]
            if frame.empty:
                continue
            maps += _write_map(output / model / "maps", f"best_instruction_{rec}", frame, names, folder)
        if any(str(p).startswith(str(output / model)) for p in maps):
            atomic_write_text(output / model / "maps" / "best_instruction_legend.tsv",
                              legend.to_csv(sep="\t", index=False))
    return {"tables": ["best_instruction.tsv", "best_instruction_counts.tsv"], "maps": maps}


def _write_map(directory: Path, stem: str, frame: pd.DataFrame, names: list[str], rec_folder: Path) -> list[str]:
    """Volume 0: 1-based instruction index (0 where no instruction has r > 0); volume 1: its r."""
    import nibabel as nib

    from ..core import atomic_suffixed_path
    from ._work import load_recording

    recording = load_recording(rec_folder, space=True)
    if recording.space is None or not hasattr(recording.space, "inverse_transform"):
        return []
    scores = frame.set_index("target")["score"].reindex([str(t) for t in recording.target_names])
    index = frame.set_index("target")["best"].map({n: i for i, n in enumerate(names)})
    index = index.reindex(scores.index).fillna(-1).to_numpy(int)
    values = np.stack([np.where(scores.to_numpy() > 0, index + 1, 0), np.nan_to_num(scores.to_numpy())])
    images = recording.to_image(values.astype(np.float32))
    images = images if isinstance(images, tuple) else (images,)
    written = []
    for i, image in enumerate(images):
        suffix = ".func.gii" if isinstance(image, nib.gifti.GiftiImage) else ".nii.gz"
        path = directory / f"{stem}{f'_{i}' if len(images) > 1 else ''}{suffix}"
        with atomic_suffixed_path(path, suffix) as named:  # nibabel picks the format from the name
            nib.save(image, str(named))
        written.append(str(path))
    return written


def check_plan(config) -> None:
    """Instruction models cannot be bands of a joint fit nor take part in combinations, comparisons or RSA
    (their layers are per instruction)."""
    from ._config import study_comparisons

    with_instructions = {m.label for m in config.models if m.instructions}
    if not with_instructions:
        return
    named: dict[str, set] = {"[joint] layers": set(config.joint.layers) if config.joint is not None else set(),
                             "[combinations]": {label for parts in config.combinations.values() for label in parts},
                             "[comparisons]": {ref.partition(":")[0] for spec in study_comparisons(config).values()
                                               for ref in [spec.model, *spec.against]}}
    if "rsa" in config.analysis.kinds:
        named["[analysis] kinds 'rsa'"] = set(with_instructions)  # RSA compares one RDM per model layer
    for section, labels in named.items():
        bad = sorted(labels & with_instructions)
        if bad:
            raise BrainalignInputError(f"config {section}: model(s) {bad} list instructions; {section} takes "
                                       "models without instructions (the best-instruction tables compare the "
                                       "instructions of one model).")


def headline(frame: pd.DataFrame) -> dict:
    """A model's headline over (instruction, layer): the best pair by mean r."""
    profile = frame.groupby([INSTRUCTION, "layer"], sort=False)["r"].mean()
    (instruction, layer) = profile.idxmax()
    best = frame[(frame[INSTRUCTION] == instruction) & (frame.layer == layer)]
    gain = best["gain"].mean()
    return {"best_instruction": str(instruction), "best_layer": str(layer), "best_layer_mean_r": float(profile.max()),
            "best_layer_depth": float(best["depth"].iloc[0]),
            "mean_gain_over_baseline": None if np.isnan(gain) else float(gain)}


def recording_folders_of(task: dict) -> dict[str, Path]:
    """Recording folders among a study task's inputs, by subject (``group`` for the average)."""
    from ._work import read_marker

    return {str(read_marker(Path(i["folder"]))["subject"]): Path(i["folder"])
            for i in task["inputs"] if i["kind"] in ("recording", "group")}
