"""A study as a plan of content-addressed tasks.

Kinds, in dependency order:

``recording``  (subject)                 load + clean one subject, stored memory-mappable
``group``      (subjects)                the group-average recording
``features``   (model x stimulus)        every layer of a model, once per distinct stimulus
``design``     (model x layer x grid)    one layer on one recording grid (HRF / FIR / lags ...)
``baseline``   (recording)               the baselines alone, with held-out predictions
``fit``        (model x layer x recording) cross-validated layer + baseline, gain test
``sweep``      (model x recording)       the LayerSweep folder (scores, summary, maps)
``joint``      (recording)               chosen layers of several models fitted together
``combination`` (name x recording)       a [combinations] entry fitted as one banded design
``compare``    (recording)               every [comparisons] entry, one shared bootstrap
``rdm`` / ``rsa`` / ``ceiling``          RSA (``[analysis] kinds`` with ``"rsa"``), see ``_rsa_tasks``
``study``      (1)                       the study table, summary and model comparison

A task's key is the content key of its kind, parameters and the keys of the
tasks it reads, so a change anywhere upstream changes every key downstream and
nothing finished is ever recomputed.  Planning reads no data: it lists subjects
and asks the adapter which of them share a stimulus or a grid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import BrainalignInputError, content_key
from ._config import RandomModel, StudyConfig, base_dir, raw_config, resolve_path
from ._instructions import block_indices, sweep_folder
from ._instructions import check_plan as check_instructions_plan
from ._instructions import variants as instruction_variants
from ._work import is_done

logger = logging.getLogger("brainalign.pipeline")

KINDS = ("recording", "group", "features", "design", "baseline", "fit", "sweep", "joint", "combination", "compare",
         "rdm", "rsa", "rsa_subjects", "ceiling", "study")
GROUP = "group"


@dataclass
class Task:
    """One unit of work: ``kind``, its ``params``, the keys of the tasks it reads and its output folder."""

    kind: str
    key: str
    params: dict[str, Any]
    deps: tuple[str, ...]
    folder: str
    label: str
    memory_bytes: int | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.key}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "key": self.key, "params": self.params, "deps": list(self.deps),
                "folder": self.folder, "label": self.label, "memory_bytes": self.memory_bytes}


@dataclass
class StudyPlan:
    """Tasks in dependency order, with the study context every task needs to run."""

    config: StudyConfig
    tasks: list[Task]
    context: dict[str, Any]
    subjects: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    done: set[str] = field(default_factory=set)

    def by_key(self) -> dict[str, Task]:
        return {t.key: t for t in self.tasks}

    def refresh(self) -> "StudyPlan":
        """Look again which tasks are finished on disk."""
        self.done = {t.key for t in self.tasks if is_done(Path(t.folder), t.key)}
        return self

    def counts(self) -> dict[str, dict[str, int]]:
        out = {k: {"tasks": 0, "done": 0} for k in KINDS}
        for t in self.tasks:
            out[t.kind]["tasks"] += 1
            out[t.kind]["done"] += t.key in self.done
        return {k: v for k, v in out.items() if v["tasks"]}

    def describe(self) -> str:
        """The ``--dry-run`` table: tasks per kind, done, to do, memory per task."""
        lines = [f"study {self.config.name!r}: {len(self.config.models)} model(s) x "
                 f"{len(self.subjects)} subject(s) of {self.config.dataset.name!r}"
                 + (" + group average" if self.config.dataset.group_average else "")
                 + f" -> {self.context['output']}",
                 f"{'kind':<11s} {'tasks':>7s} {'done':>7s} {'to do':>7s}  {'memory/task':>12s}"]
        mem: dict[str, list[int]] = {}
        for t in self.tasks:
            if t.memory_bytes:
                mem.setdefault(t.kind, []).append(t.memory_bytes)
        for kind, c in self.counts().items():
            m = mem.get(kind)
            lines.append(f"{kind:<11s} {c['tasks']:>7d} {c['done']:>7d} {c['tasks'] - c['done']:>7d}  "
                         f"{_human(max(m)) if m else '?':>12s}")
        total = len(self.tasks)
        lines.append(f"{'total':<11s} {total:>7d} {len(self.done):>7d} {total - len(self.done):>7d}")
        return "\n".join(lines)


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"~{n:.0f} {unit}" if unit == "B" else f"~{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _task(kind: str, params: dict, deps: list[Task], folder: Path, label: str, memory: int | None = None,
          *, keyed: bool = True) -> Task:
    """A task whose key hashes its kind, parameters and inputs; ``keyed`` folders are named by the key."""
    key = content_key({"kind": kind, "params": params, "deps": [d.key for d in deps]})
    return Task(kind, key, params, tuple(d.key for d in deps), str(folder / key if keyed else folder), label, memory)


def _model_shape(model) -> tuple[int, int] | None:
    """(hidden size, number of layers incl. embeddings) from a local config.json, without loading weights."""
    import json

    source = Path(str(model.model)).expanduser() if model.model else None
    if source is None or not (source / "config.json").is_file():
        return None
    try:
        cfg = json.loads((source / "config.json").read_text())
    except (OSError, ValueError):
        return None
    hidden = cfg.get("hidden_size") or cfg.get("n_embd") or cfg.get("d_model")
    layers = cfg.get("num_hidden_layers") or cfg.get("n_layer") or cfg.get("num_layers")
    return (int(hidden), int(layers) + 1) if hidden and layers else None


def model_source(model, config: StudyConfig, cache: Path) -> str:
    """What ``from_pretrained`` loads for a model spec: a local folder, a hub id, or a folder made here."""
    from ._config import BUNDLED

    if isinstance(model.random, RandomModel):
        from ..features import make_random_text_model

        settings = model.random.model_dump()
        folder = cache / "random-models" / content_key(settings)
        return str(make_random_text_model(folder, **settings))
    if model.model == BUNDLED:
        from ..features import resolve_model_name

        return resolve_model_name(model.model)
    local = resolve_path(config, model.model)
    return str(local) if local.exists() else model.model


def _layer_names(model, options: dict, shape) -> list[str]:
    """Layer names as :func:`extract_text_features` names them, from the options and the model config."""
    requested = options.get("layers")
    if requested not in (None, "all"):
        n_blocks = shape[1] - 1 if shape else None
        names = []
        for layer in requested:
            if isinstance(layer, int):
                if n_blocks is None:
                    raise BrainalignInputError(f"Model {model.label!r}: integer layers need a local model folder "
                                               "with config.json (or give names such as 'layer.3').")
                names.append(f"layer.{layer % n_blocks}")
            else:
                names.append(str(layer))
        return names
    if shape is None and model.model and not model.model.startswith("bundled:"):
        from ..features import model_problem

        name = model.model
        path_like = name.startswith(("/", "./", "../", "~")) or name.count("/") > 1  # not an org/name hub id
        problem = model_problem(name) if path_like else None
        if problem:  # a folder that does not exist says so, rather than "cannot list its layers"
            raise BrainalignInputError(f"Model {model.label!r}: {problem}")
    if shape is None:
        raise BrainalignInputError(
            f"Model {model.label!r}: cannot list its layers without loading it (no local config.json); "
            "give [features] layers = [...] or a local model folder.")
    return ["embeddings"] + [f"layer.{i}" for i in range(shape[1] - 1)]


def _saved_layers(path: Path) -> list[str]:
    from ..core import load_json

    for side in (path / "features.json", path / "meta.json"):
        if side.is_file():
            data = load_json(side)
            if "layer_names" in data:
                return list(data["layer_names"])
    raise BrainalignInputError(f"{path} is not a saved FeatureSet folder (no features.json with layer_names).")


def plan_study(config: StudyConfig, *, output: str | Path | None = None) -> StudyPlan:
    """Every task of a study, keyed by content, in dependency order (no data is read).

    Parameters
    ----------
    config : StudyConfig
        From :func:`load_config` or :func:`parse_config`.
    output : path, optional
        Overrides ``config.output``.

    Returns
    -------
    StudyPlan
        ``plan.describe()`` is what ``brainalign run --dry-run`` prints.
    """
    from ._adapters import FilesAdapter, dataset_options
    from ._tasks import adapter_for

    out = Path(output) if output is not None else resolve_path(config, config.output)
    out = out.resolve()
    work = out / ".work"
    cache = resolve_path(config, config.cache_dir) if config.cache_dir else out / "features"
    ds = config.dataset
    adapter = adapter_for(config)
    opts = dataset_options(adapter, ds.options)
    root = resolve_path(config, ds.path) if ds.path else None
    context = {"config": raw_config(config), "base_dir": str(base_dir(config)), "output": str(out),
               "work": str(work), "cache_dir": str(cache.resolve())}

    if ds.subjects == "all":
        subjects = adapter.list_subjects(root, opts)
        dropped = [s for s in subjects if s in adapter.excluded_by_default() or s in ds.exclude]
        subjects = [s for s in subjects if s not in dropped]
        if dropped:
            logger.info("Leaving out subject(s) %s", dropped)
    else:
        subjects = [adapter.canonical_subject(s) for s in ds.subjects]
        subjects = [s for s in subjects if s not in ds.exclude]
        available = adapter.list_subjects(root, opts)
        unknown = [s for s in subjects if s not in available]
        if unknown:
            raise BrainalignInputError(f"config [dataset] subjects: {unknown} not found in {ds.name!r}"
                                       + (f" at {root}" if root else "") + f"; subjects there are {available}.")
    if not subjects:
        raise BrainalignInputError(f"No subjects to fit in dataset {ds.name!r}"
                                   + (f" at {root}" if root else "") + ".")
    if len(set(subjects)) != len(subjects):
        raise BrainalignInputError(f"Subjects are listed twice: {subjects}.")
    if isinstance(adapter, FilesAdapter) or ds.name == "files":
        dataset_id = {"stimulus": config.stimulus, "recording": config.recording}
    else:
        dataset_id = {"path": str(root) if root else None}
    # "auto" is the dataset's method: its options are checked against that method's now
    align = config.alignment_options(default_method=adapter.default_alignment)
    method = align.pop("method", "auto")
    method = adapter.default_alignment if method == "auto" else method
    enc = config.encoding_options()
    baseline = config.baseline.model_dump()

    tasks: list[Task] = []
    rec_tasks: dict[str, Task] = {}
    for s in subjects:
        hint = adapter.shape_hint(s, opts)
        t = _task("recording", {"dataset": ds.name, "subject": s, "options": opts.model_dump(), **dataset_id},
                  [], work / "recordings", f"recording {s}", hint and 3 * 8 * hint[0] * hint[1])
        rec_tasks[s] = t
        tasks.append(t)
    stim_of = {s: adapter.stimulus_id(s, opts) for s in subjects}
    grid_of = {s: adapter.grid_id(s, opts) or f"subject-{s}" for s in subjects}
    recordings = list(subjects) if ds.per_subject else []
    if ds.group_average:
        if len(subjects) < 2:
            raise BrainalignInputError("group_average needs at least two subjects.")
        if len(set(stim_of.values())) > 1:
            raise BrainalignInputError("group_average needs subjects who were given the same stimulus; "
                                       f"these differ: {sorted(set(stim_of.values()))}.")
        rec_tasks[GROUP] = _task("group", {"subjects": subjects}, [rec_tasks[s] for s in subjects],
                                 work / "groups", "group average", rec_tasks[subjects[0]].memory_bytes)
        tasks.append(rec_tasks[GROUP])
        stim_of[GROUP], grid_of[GROUP] = stim_of[subjects[0]], grid_of[subjects[0]]
        recordings.append(GROUP)
    # one representative recording per stimulus (its timeline) and per grid (its clock and sample grid)
    stim_rep = {}
    for s in subjects:
        stim_rep.setdefault(stim_of[s], s)
    grid_rep = {}
    for r in recordings:
        grid_rep.setdefault(grid_of[r], r)

    n_samples = (adapter.shape_hint(subjects[0], opts) or (None, None))[0]
    n_targets = (adapter.shape_hint(subjects[0], opts) or (None, None))[1]
    layers_of: dict[str, list[str]] = {}
    # designs per (model, instruction): instruction None for a model without instructions
    designs_of: dict[tuple[str, str | None], dict[tuple[str, str], Task]] = {}
    check_instructions_plan(config)
    for model in config.models:
        if model.path is None:
            fopts = config.feature_options(model)
            source = model_source(model, config, cache)
            shape = _model_shape(model.model_copy(update={"model": source, "random": None}))
            layers = _layer_names(model, fopts, shape)
        else:
            fopts, shape = {}, None
            source = str(resolve_path(config, model.path))
            layers = [str(x) for x in fopts.get("layers") or _saved_layers(Path(source))]
        fopts_key = {k: v for k, v in fopts.items()}
        if model.instructions:  # instruction features are block outputs only
            layers = [name for name in layers if name != "embeddings"]
        for instruction, template in instruction_variants(model):
            tag = "" if instruction is None else f" [{instruction}]"
            feat = {}
            for stim, s in stim_rep.items():
                mem = None
                if shape:
                    mem = 4 * shape[0] * shape[1] * 20_000 + 4 * 12 * shape[0] ** 2 * shape[1]
                params = {"model": model.label, "source": source, "kind": "path" if model.path else "model",
                          "random": model.random.model_dump() if isinstance(model.random, RandomModel) else None,
                          "options": fopts_key, "stimulus": stim}
                if model.modality != "text":
                    params["modality"] = model.modality
                if instruction is not None:  # the template's text is part of the key
                    params.update(instruction=instruction, template=template, blocks=block_indices(layers, model.label),
                                  instruction_options=dict(model.instruction_options))
                t = _task("features", params, [rec_tasks[s]], work / "features",
                          f"features {model.label}{tag} {stim}", mem)
                feat[stim] = t
                tasks.append(t)
            designs: dict[tuple[str, str], Task] = {}
            for grid, r in grid_rep.items():
                for layer in layers:
                    mem = 2 * 8 * n_samples * shape[0] * 4 if (shape and n_samples) else None
                    params = {"model": model.label, "layer": layer, "grid": grid, "method": method, "alignment": align}
                    if model.modality != "text":
                        params["modality"] = model.modality
                    if instruction is not None:
                        params["instruction"] = instruction
                    t = _task("design", params, [feat[stim_of[r]], rec_tasks[r]],
                              work / "designs", f"design {model.label}{tag} {layer} {grid}", mem)
                    designs[(grid, layer)] = t
                    tasks.append(t)
            designs_of[(model.label, instruction)] = designs
        layers_of[model.label] = layers

    joint_tasks = []
    if config.joint is not None:
        for label, wanted in config.joint.layers.items():
            wanted = [wanted] if isinstance(wanted, str) else list(wanted)
            missing = [w for w in wanted if w not in layers_of[label]]
            if missing:
                raise BrainalignInputError(f"config [joint] layers: model {label!r} has no layer(s) {missing}; its "
                                           f"layers are {layers_of[label]}.")
        bands = [(label, layer) for label, wanted in config.joint.layers.items()
                 for layer in ([wanted] if isinstance(wanted, str) else wanted)]
        for r in recordings:
            designs = [designs_of[(label, None)][(grid_of[r], layer)] for label, layer in bands]
            t = _task("joint", {"recording": r, "bands": [f"{label}:{layer}" for label, layer in bands],
                                "partition": config.joint.partition, "n_iter": config.joint.n_iter, "encoding": enc,
                                "method": method}, [*designs, rec_tasks[r]], out / "joint" / r,
                      f"joint fit {r}", keyed=False)
            joint_tasks.append(t)
            tasks.append(t)
    kinds = config.analysis.kinds
    sweep_recordings = recordings if ("encoding" in kinds and (config.joint is None or config.joint.sweeps)) else []

    # baselines per recording: fitted once and shared by every model
    base_tasks = {}
    first = config.models[0]
    for r in sweep_recordings:
        first_variant = instruction_variants(first)[0][0]
        first_design = designs_of[(first.label, first_variant)][(grid_of[r], layers_of[first.label][0])]
        mem = 8 * 10 * n_samples * n_targets if (n_samples and n_targets) else None
        t = _task("baseline", {"recording": r, "baseline": baseline, "encoding": enc, "method": method},
                  [rec_tasks[r], first_design], work / "baselines", f"baselines {r}", mem)
        base_tasks[r] = t
        tasks.append(t)

    # fits a comparison reads keep their held-out predictions (only then: whole-brain studies pay nothing)
    from ._compare_tasks import comparison_tasks, prediction_needs

    keep = prediction_needs(config, layers_of, len([r for r in sweep_recordings if r in subjects]))
    fit_tasks: dict[tuple[str, str, str], Task] = {}
    sweeps = []
    for model, (instruction, _) in [(m, v) for m in config.models for v in instruction_variants(m)]:
        extra = {} if instruction is None else {"instruction": instruction}
        tag = "" if instruction is None else f" [{instruction}]"
        for r in sweep_recordings:
            folder = sweep_folder(out, model.label, instruction, r)
            fits = []
            for depth, layer in enumerate(layers_of[model.label]):
                design = designs_of[(model.label, instruction)][(grid_of[r], layer)]
                t = _task("fit", {"model": model.label, "layer": layer, "recording": r, "encoding": enc,
                                  "baseline": baseline, "method": method, "index": depth,
                                  "n_layers": len(layers_of[model.label]), **extra,
                                  **({"predictions": True} if (model.label, layer) in keep else {})},
                          [design, rec_tasks[r], base_tasks[r]], folder / "layers" / _safe(layer),
                          f"fit {model.label}{tag} {layer} {r}", None, keyed=False)
                if n_samples and n_targets:
                    t.memory_bytes = 8 * n_samples * (6 * n_targets + 4 * 1024) + 8 * 1024 ** 2
                fits.append(t)
                if instruction is None:
                    fit_tasks[(model.label, layer, r)] = t
                tasks.append(t)
            sweep = _task("sweep", {"model": model.label, "recording": r, "layers": layers_of[model.label],
                                    "maps": config.maps, **extra},
                          [*fits, base_tasks[r], rec_tasks[r]], folder, f"sweep {model.label}{tag} {r}",
                          keyed=False)
            sweeps.append(sweep)
            tasks.append(sweep)
    # comparisons and combinations take models without instructions (check_instructions_plan says so)
    plain_designs = {label: d for (label, instruction), d in designs_of.items() if instruction is None}
    compares = comparison_tasks(config, _task, out=out, layers_of=layers_of, designs_of=plain_designs,
                                grid_of=grid_of, rec_tasks=rec_tasks, base_tasks=base_tasks, fit_tasks=fit_tasks,
                                recordings=sweep_recordings, subjects=subjects, enc=enc, method=method)
    tasks += compares
    compared = [t.params["recording"] for t in compares if t.kind == "compare"]
    rsa = {"tasks": [], "params": None}
    if "rsa" in kinds:
        from ._rsa_tasks import plan_rsa

        rsa = plan_rsa(config, _task, tasks=tasks, rec_tasks=rec_tasks, recordings=recordings, subjects=subjects,
                       stim_of=stim_of, grid_of=grid_of, designs_of=plain_designs, layers_of=layers_of, work=work,
                       out=out)
    study_params = {"name": config.name, "models": [m.label for m in config.models], "recordings": sweep_recordings,
                    "joint": [t.params["recording"] for t in joint_tasks],
                    **({"comparisons": compared} if compared else {})}
    if rsa["params"] is not None:  # absent otherwise: encoding-only studies keep their keys
        study_params["rsa"] = rsa["params"]
    instructions = {m.label: list(m.instructions) for m in config.models if m.instructions}
    if instructions:  # a study without instructions keeps its key (nothing finished is redone)
        study_params["instructions"] = instructions
    study = _task("study", study_params, [*sweeps, *joint_tasks, *[t for t in compares if t.kind == "compare"],
                                          *rsa["tasks"],
                                          *([rec_tasks[r] for r in sweep_recordings] if instructions else [])],
                  out, "study table", keyed=False)
    tasks.append(study)
    plan = StudyPlan(config, tasks, context, subjects, recordings)
    return plan.refresh()


def _safe(name: str) -> str:
    from ..encoding import layer_dirname as _safe_dirname

    return _safe_dirname(name)
