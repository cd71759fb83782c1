"""The study config: one TOML/JSON file validated against a pydantic schema.

Every section forbids unknown keys; an error names the section, the key, the
closest valid spelling and the valid keys, and every problem of a file is
reported at once.  The option sections are the option models of the stages
they configure: ``[features]`` / ``options`` (``brainalign.features``, per
modality), ``[alignment]`` (``brainalign.alignment``, one model per method: an
option of another method is refused), ``[stimulus]`` / ``[recording]``
(``StimulusFiles``, ``RecordingFiles``), ``[encoding]`` (the keyword options of
``sweep_layers`` and ``cross_validate``) and ``[execution.jobqueue]`` (the
dask-jobqueue cluster class's own parameters).  ``brainalign``'s flags are
generated from the same models.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator,
                      model_validator)

from ..core import BrainalignInputError, closest_key, format_validation_error
from ..features import BUNDLED  # one spelling of the bundled model
from ._jobqueue import parse_duration, validate_jobqueue_options

__all__ = ["StudyConfig", "ModelSpec", "ComparisonSpec", "load_config", "parse_config", "ConfigError"]


class ConfigError(BrainalignInputError):
    """A config file that cannot be read or does not fit the schema (one line per problem)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


# ----------------------------------------------------------------- option sections
def option_model(section: str) -> type[BaseModel]:
    """The pydantic model of an option section (``features:text``, ``features:video``, ``encoding``...).

    ``encoding`` is the options every estimator shares; each estimator's own
    are in :func:`~brainalign.encoding.encoding_option_models`.
    """
    from ..encoding import common_encoding_options
    from ..features import FEATURE_OPTIONS

    if section.startswith("features"):
        return FEATURE_OPTIONS[section.partition(":")[2] or "text"]
    if section == "encoding":
        return common_encoding_options()
    raise KeyError(section)


# ------------------------------------------------------------------------------ jobqueue
def jobqueue_problems(section: dict) -> list[str]:
    """Problems of an ``[execution.jobqueue]`` table, checked when the config is read (one line each).

    The keys are checked against the dask-jobqueue cluster class's own
    parameters by :func:`~brainalign.pipeline.validate_jobqueue_options`,
    which keeps this process's Ctrl-C handler while importing dask-jobqueue.
    """
    if threading.current_thread() is not threading.main_thread():
        # a task re-reading the study's config in a worker thread: the table was checked where the study
        # was planned, and the check imports dask-jobqueue, whose import sets a SIGINT handler, which
        # Python allows on the main thread only
        return []
    return [f"config {line}" for line in validate_jobqueue_options(section.get("kind"), section)]


# ------------------------------------------------------------------------------ study sections
class DatasetSection(_Section):
    """Which recordings: a registered dataset (``name``) or your own files (``name = "files"``)."""

    name: str = Field(description="registered dataset adapter, see `brainalign datasets list`")
    adapter: Optional[str] = Field(None, description="your own adapter class, 'package.module:ClassName', "
                                                     "importable on every worker")
    path: Optional[str] = None
    subjects: Union[Literal["all"], list[str]] = "all"
    exclude: list[str] = Field(default_factory=list)
    per_subject: bool = True
    group_average: bool = False
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("subjects", mode="before")
    @classmethod
    def _subjects_as_str(cls, value):
        if isinstance(value, list):
            return [str(v) for v in value]
        return value

    @model_validator(mode="after")
    def _something_to_fit(self):
        if not (self.per_subject or self.group_average):
            raise ValueError("per_subject and group_average are both false: nothing would be fitted")
        return self


class RandomModel(_Section):
    """A random-weight model built here (an untrained-network baseline; offline tests)."""

    architecture: Literal["gpt2", "llama"] = "gpt2"
    n_layers: int = Field(2, ge=1)
    hidden_size: int = Field(64, ge=8)
    n_heads: int = Field(4, ge=1)
    max_positions: int = Field(512, ge=16)
    vocab_size: int = Field(500, ge=300)
    seed: int = 0


class ModelSpec(_Section):
    """One model of the study: a hub id, a local folder, ``bundled:all-MiniLM-L6-v2``, or a random model."""

    name: Optional[str] = None
    model: Optional[str] = Field(None, description="hub id, local folder, or 'bundled:all-MiniLM-L6-v2'")
    path: Optional[str] = Field(None, description="a saved FeatureSet folder instead of a model")
    random: Optional[Union[bool, RandomModel]] = Field(None, description=(
        "true beside 'model': also fit the same architecture with untrained (re-initialised) weights, "
        "as '<name>-random' (options.weights = 'random' for the untrained model alone); a table: build a "
        "small random-weight GPT-2/Llama with these settings"))
    modality: Literal["text", "video", "audio"] = Field(
        "text", description="text: the timeline's words; video: frames of the stimulus media; audio: its soundtrack")
    options: dict[str, Any] = Field(default_factory=dict)
    instructions: dict[str, str] = Field(default_factory=dict, description=(
        "instruction name -> prompt template with one {stimulus}: one feature set per instruction"))
    instruction_options: dict[str, Any] = Field(default_factory=dict, description=(
        "pools (one token set), chat, max_new_tokens: brainalign.features.InstructionOptions"))

    @model_validator(mode="after")
    def _instructions_valid(self):
        if not self.instructions:
            if self.instruction_options:
                raise ValueError("instruction_options needs an instructions table (name -> template)")
            return self
        from ..features import InstructionOptions, check_instructions

        if self.modality != "text" or self.path is not None:
            raise ValueError("instructions need a text model given by 'model' or 'random' (not saved features)")
        try:
            check_instructions(self.instructions, "instructions")
            opts = InstructionOptions(**self.instruction_options)
        except BrainalignInputError as err:
            raise ValueError(str(err)) from None
        except ValidationError as err:
            lines = format_validation_error(err, "instruction_options", InstructionOptions)
            raise ValueError("\n".join(lines)) from None
        if "generated" in opts.pools and opts.max_new_tokens < 1:
            raise ValueError("instruction_options: the 'generated' pool needs max_new_tokens >= 1")
        if len(opts.pools) != 1:
            raise ValueError(f"instruction_options pools: a study model pools one token set, got {opts.pools}; "
                             "list the model twice (with its own name) to compare token sets")
        return self

    @model_validator(mode="after")
    def _one_source(self):
        if self.random is False:
            self.random = None
        table = self.random if isinstance(self.random, RandomModel) else None
        if sum(x is not None for x in (self.model, self.path, table)) != 1:
            raise ValueError("give exactly one of 'model' (hub id or local folder), 'path' (saved features) "
                             "or 'random' (a random-weight model)")
        if self.model is not None and self.model.startswith("bundled:") and self.model != BUNDLED:
            raise ValueError(f"the bundled model is {BUNDLED!r}, got {self.model!r}")
        if self.random is True and self.model is None:
            raise ValueError("random = true adds an untrained twin of a model: it needs model = '...' (a hub id or "
                             "local folder), not 'path' (saved features)")
        if self.random is True and self.options.get("weights") == "random":
            raise ValueError("random = true adds an untrained twin of a trained model; with options.weights = "
                             "'random' the model itself is untrained: give one of them")
        if self.random is True and getattr(self, "instructions", None):
            raise ValueError("random = true is not available for models with instructions yet; declare the "
                             "untrained model as its own entry")
        return self

    def random_twin(self) -> "ModelSpec":
        """The untrained control of a ``random = true`` model: same architecture and inputs, new weights.

        The twin extracts with the feature option ``weights = "random"`` (seeded
        by the model's ``options.init_seed``, default 0), so nothing is copied to
        disk and its cache keys differ from the trained model's.
        """
        return self.model_copy(update={"name": f"{self.label}-random", "random": None,
                                       "options": {**self.options, "weights": "random"}})

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if isinstance(self.random, RandomModel):
            return f"random-{self.random.architecture}-{self.random.n_layers}x{self.random.hidden_size}"
        if self.model == BUNDLED:
            return "all-MiniLM-L6-v2"
        source = Path(str(self.model or self.path).rstrip("/"))
        # hub ids keep their last part (gpt2, Llama-3.2-1B); generic folder names take their parent's
        if source.name.lower() in ("model", "models", "weights", "checkpoint", "features") and source.parent.name:
            return source.parent.name
        return source.name or str(source)


class JointSection(_Section):
    """Fit chosen layers of several models together (banded ridge, one band per model layer).

    Each model is a modality of the variance partition (unique and shared
    variance per target), e.g. frames, soundtrack and transcript of a movie.
    """

    layers: dict[str, Union[str, list[str]]] = Field(description="model name -> layer or layers")
    partition: bool = True
    n_iter: int = Field(20, ge=1)
    sweeps: bool = Field(True, description="also fit every layer of every model on its own (per-layer sweeps)")


class ComparisonSpec(_Section):
    """A composite criterion: ``model`` beats every model of ``against`` (a ``[comparisons]`` entry).

    Names are model labels (the layer is chosen per recording on the other
    subjects), ``model:layer`` or ``[combinations]`` names; see
    :mod:`brainalign.pipeline._compare_tasks`.  The options are those of
    :func:`~brainalign.encoding.compare_models`; ``q`` is the FDR level at
    which a target counts as won.
    """

    model: str
    against: list[str] = Field(min_length=1)
    alternative: Literal["two-sided", "greater"] = "two-sided"
    q: float = Field(0.05, gt=0, lt=1, description="FDR level of a win (Benjamini-Hochberg per comparison)")
    n_bootstraps: int = Field(1000, ge=1)
    block_s: Optional[float] = Field(None, gt=0, description="bootstrap block in seconds (default: the CV gap)")


class BaselineSection(_Section):
    """Regressors every layer must beat: the dataset's own, a word rate, or files."""

    dataset: bool = True
    word_rate: bool = False
    files: list[str] = Field(default_factory=list)


class AnalysisSection(_Section):
    """Which analyses a study runs on its models and recordings: encoding fits, RSA, or both."""

    kinds: list[Literal["encoding", "rsa"]] = Field(
        default_factory=lambda: ["encoding"], min_length=1,
        description="encoding: cross-validated fits per layer; rsa: RDM comparisons per layer and ROI ([rsa] options)")


class ExecutionSection(_Section):
    """Where tasks run: in this process, or on Dask (local cluster, a scheduler, SLURM/PBS)."""

    executor: Literal["sequential", "dask"] = "sequential"
    n_workers: int = Field(2, ge=1)
    threads_per_worker: int = Field(1, ge=1)
    memory_limit: str = "auto"
    scheduler: Optional[str] = None
    jobqueue: Optional[dict[str, Any]] = Field(
        None, description="dask-jobqueue cluster: {kind = 'slurm'|'pbs'|'sge'|'lsf', jobs = N, ...cluster options}")
    allowed_failures: int = Field(3, ge=0)
    lock_timeout: Union[float, str] = Field(
        "0", description="wait this long for another run's lock on the study folder, then refuse naming it "
                       "(seconds or a duration such as '10 min'; 0 refuses at once)")
    no_workers_timeout: Union[float, str] = Field(
        "10 min", description="a Dask run with no worker for this long ends with one line and exit code 2 "
                              "(seconds or a duration; 0 waits forever)")

    @field_validator("lock_timeout", "no_workers_timeout")
    @classmethod
    def _duration(cls, value):
        parse_duration(value)  # raises ValueError naming the value and the accepted forms
        return value

    @field_validator("jobqueue")
    @classmethod
    def _jobqueue_keys(cls, value):
        problems = jobqueue_problems(value) if value is not None else []
        if problems:
            raise ValueError("\n".join(problems))  # each line names the table already
        return value


class StudyConfig(_Section):
    """A study: models x layers x subjects of one dataset, with alignment, encoding and execution."""

    name: str = "study"
    output: str = Field(description="study results folder")
    cache_dir: Optional[str] = Field(None, description="feature cache (default: <output>/features)")
    dataset: Optional[DatasetSection] = None
    models: list[ModelSpec] = Field(default_factory=list)
    features: dict[str, Any] = Field(default_factory=dict)
    alignment: dict[str, Any] = Field(default_factory=dict)
    baseline: BaselineSection = Field(default_factory=BaselineSection)
    encoding: dict[str, Any] = Field(default_factory=dict)
    execution: ExecutionSection = Field(default_factory=ExecutionSection)
    joint: Optional[JointSection] = None
    combinations: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="name -> {model = layer}: layers of several models fitted as one design")
    comparisons: dict[str, ComparisonSpec] = Field(
        default_factory=dict, description="name -> {model, against}: where does model beat each of against?")
    analysis: AnalysisSection = Field(default_factory=AnalysisSection)
    rsa: dict[str, Any] = Field(default_factory=dict, description="RSA options (brainalign.similarity.RSAOptions)")
    maps: bool = True
    # the single-recording form of 0.1.0: your own stimulus and recording files
    stimulus: Optional[dict[str, Any]] = Field(None, description="your own stimulus files (StimulusFiles)")
    recording: Optional[dict[str, Any]] = Field(None, description="your own recording files (RecordingFiles)")
    _base_dir: Path = PrivateAttr(default_factory=lambda: Path(".").resolve())
    _raw: Optional[dict] = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _single_model_shorthand(cls, data):
        """``[features] model = ...`` (0.1.0) is a study with one model."""
        if isinstance(data, dict) and isinstance(data.get("features"), dict):
            features = dict(data["features"])
            if "cache_dir" in features:  # 0.1.0 kept the cache folder among the feature options
                if data.get("cache_dir") not in (None, features["cache_dir"]):
                    raise ValueError("cache_dir is given both at the top level and in [features]")
                data = {**data, "cache_dir": features.pop("cache_dir")}
            source = {k: features.pop(k) for k in ("model", "path") if k in features}
            if source:
                if data.get("models"):
                    raise ValueError("give the model either in [features] (one model) or in [[models]], not both")
                data = {**data, "features": features, "models": [source]}
        if isinstance(data, dict) and "dataset" not in data and ("stimulus" in data or "recording" in data):
            data = {**data, "dataset": {"name": "files"}}
        return data

    @field_validator("stimulus", "recording")
    @classmethod
    def _typed_files(cls, value, info):
        from ..recordings import RecordingFiles
        from ..stimuli import StimulusFiles

        if value is not None:
            model = StimulusFiles if info.field_name == "stimulus" else RecordingFiles
            try:
                model(**value)  # unknown keys and wrong values are errors; the table itself is kept as written
            except ValidationError as err:
                raise ValueError("\n".join(format_validation_error(err, info.field_name, model))) from None
        return value

    @model_validator(mode="after")
    def _complete(self):
        if not self.models:
            raise ValueError("no model: add [[models]] entries (or model = ... in [features])")
        if self.dataset is None:
            raise ValueError("no recordings: add a [dataset] section (or [stimulus] + [recording] files)")
        # random = true: each such model is followed by its untrained twin, an ordinary model from here on
        # (a config validated again from its own dump already lists the twins)
        present = {m.label for m in self.models}
        self.models = [x for m in self.models
                       for x in ([m, m.random_twin()] if m.random is True and f"{m.label}-random" not in present
                                 else [m])]
        labels = [m.label for m in self.models]
        reserved = sorted({"joint", "features", ".work", "combinations", "comparisons", "rsa"} & set(labels))
        if reserved:
            raise ValueError(f"model name(s) {reserved} are reserved for study folders; set another name = ...")
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"models need distinct names; {dupes} appear more than once (set name = ...)")
        if self.dataset.name == "files" and (self.stimulus is None or self.recording is None):
            raise ValueError("dataset 'files' needs a [stimulus] and a [recording] section")
        if self.joint is not None:
            unknown = sorted(set(self.joint.layers) - set(labels))
            if unknown:
                raise ValueError(f"[joint] layers names model(s) {unknown}; the models are {labels}")
            if len(self.joint.layers) < 2 and self.joint.partition:
                raise ValueError("[joint] needs layers of at least two models to partition variance between them")
        problems = comparison_problems(self.combinations, self.comparisons, labels)
        if problems:
            raise ValueError("\n".join(problems))
        if self.rsa and "rsa" not in self.analysis.kinds:
            raise ValueError("[rsa] options are given but [analysis] kinds has no 'rsa'; add it or remove [rsa]")
        return self

    # ---------------------------------------------------------------- validated options
    def feature_options(self, model: ModelSpec) -> dict[str, Any]:
        """Shared ``[features]`` options (text models) overridden by the model's own, validated."""
        index = self.models.index(model) if model in self.models else "?"
        own = _validated(f"models[{index}].options", f"features:{model.modality}", model.options)
        if model.modality != "text":
            return own
        return {**_validated("features", "features", self.features), **own}

    def alignment_options(self, default_method: str | None = None) -> dict[str, Any]:
        """``[alignment]`` checked against its method's options (``auto``: ``default_method``'s, when known)."""
        from ..alignment import ALIGNMENT_OPTIONS, alignment_options

        values = dict(self.alignment)
        method = values.get("method", "auto")
        if method == "auto" and default_method is not None:
            values["method"] = default_method
        elif method == "auto" and set(values) - {"method"}:
            # the dataset decides the method at plan time; until then any method's option may be meant
            known = set().union(*(m.model_fields for m in ALIGNMENT_OPTIONS.values()))
            unknown = sorted(set(values) - known)
            if unknown:
                close = closest_key(unknown[0], sorted(known))
                hint = f" (did you mean {close!r}?)" if close else ""
                raise ConfigError(f"config [alignment]: unknown key {unknown[0]!r}{hint}; valid keys: "
                                  f"{', '.join(sorted(known))}")
            return dict(self.alignment)
        try:
            alignment_options(values)
        except BrainalignInputError as err:
            raise ConfigError(str(err)) from None
        return {**dict(self.alignment), **({"method": values["method"]} if "method" in values else {})}

    def encoding_options(self) -> dict[str, Any]:
        """``[encoding]`` checked against its estimator's options (an option of another estimator is refused)."""
        from ..encoding import encoding_options

        try:
            parsed = encoding_options(self.encoding)
        except BrainalignInputError as err:
            raise ConfigError(str(err)) from None
        # keep only what the user set: defaults stay those of the stage functions
        return {k: getattr(parsed, k) for k in self.encoding}

    def rsa_options(self) -> dict[str, Any]:
        """``[rsa]`` checked against :class:`~brainalign.similarity.RSAOptions`, with every default filled in."""
        from ..similarity import RSAOptions

        try:
            return RSAOptions(**self.rsa).model_dump()
        except ValidationError as err:
            raise ConfigError(_format_errors(err, "rsa", RSAOptions)) from None

    def option_problems(self) -> list[str]:
        """Every problem of the option sections, one line each (empty when all are valid)."""
        problems: list[str] = []
        checks = [lambda: _validated("features", "features", self.features)]
        checks += [lambda i=i, m=m: _validated(f"models[{i}].options", f"features:{m.modality}", m.options)
                   for i, m in enumerate(self.models) if m.path is None]
        checks += [self.alignment_options, self.encoding_options, self.rsa_options]
        for check in checks:
            try:
                check()
            except BrainalignInputError as err:
                problems += [line for line in str(err).splitlines() if line not in problems]
        return problems

    def validate_options(self) -> None:
        """Check every option section now (not when the first task runs); all problems in one error."""
        problems = self.option_problems()
        if problems:
            raise ConfigError("\n".join(problems))


# ------------------------------------------------------------------------------ comparisons
def implicit_comparisons(models: list[ModelSpec]) -> dict[str, ComparisonSpec]:
    """``"<label> vs random"`` for every model declared with ``random = true`` (its twin is ``<label>-random``)."""
    return {f"{m.label} vs random": ComparisonSpec(model=m.label, against=[f"{m.label}-random"])
            for m in models if getattr(m, "random", None) is True}


def study_comparisons(config: StudyConfig) -> dict[str, ComparisonSpec]:
    """The ``[comparisons]`` of a study and its implicit trained-vs-random ones."""
    return {**implicit_comparisons(config.models), **config.comparisons}


def comparison_problems(combinations: dict, comparisons: dict, labels: list[str]) -> list[str]:
    """Unknown names in ``[combinations]`` / ``[comparisons]`` (layers are checked when the study is planned)."""
    problems = []
    for name, parts in combinations.items():
        if name in labels:
            problems.append(f"[combinations] {name!r} is also a model name; rename the combination")
        if len(parts) < 2:
            problems.append(f"[combinations] {name!r} needs layers of at least two models, got {parts}")
        unknown = sorted(set(parts) - set(labels))
        if unknown:
            problems.append(f"[combinations] {name!r} names model(s) {unknown}; the models are {labels}")
    for name, spec in comparisons.items():
        for key, ref in [("model", spec.model)] + [("against", a) for a in spec.against]:
            if ref not in combinations and ref.partition(":")[0] not in labels:
                problems.append(f"[comparisons] {name!r} {key}: {ref!r} is not a model, 'model:layer' or "
                                f"combination; the models are {labels}, the combinations {sorted(combinations)}")
        if spec.model in spec.against:
            problems.append(f"[comparisons] {name!r} compares {spec.model!r} with itself")
    return problems


def _validated(where: str, section: str, values: dict) -> dict[str, Any]:
    schema = option_model(section)
    try:
        parsed = schema(**values)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, where, schema)) from None
    # keep only what the user set: defaults stay those of the stage function
    return {k: getattr(parsed, k) for k in values}


# ------------------------------------------------------------------------------ errors
def _format_errors(err: ValidationError, where: str, schema: type[BaseModel]) -> str:
    return "\n".join(_split_lines(format_validation_error(err, where, schema)))


def _split_lines(lines: list[str]) -> list[str]:
    """A validator may report several problems in one message: one line each, under its section's prefix."""
    out = []
    for line in lines:
        first, *more = line.split("\n")
        out.append(first)
        prefix = first.split(": ", 1)[0] if ": " in first else "config"
        out += [f"{prefix.split(' key ')[0]}: {m}" if not m.startswith("config") else m for m in more]
    return out


# ------------------------------------------------------------------------------ reading files
def _read_file(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"No such config file: {path}")
    text = path.read_bytes()
    if path.suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            return tomllib.loads(text.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        except tomllib.TOMLDecodeError as err:
            # tomllib puts "(at line L, column C)" in its message; lineno/colno only from 3.14
            raise ConfigError(f"{path}: TOML syntax error: {err}") from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: JSON syntax error at line {err.lineno}, column {err.colno}: {err.msg}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the config must be a JSON object, got {type(data).__name__}")
        return data
    raise ConfigError(f"Config must be .json or .toml, got {path.name!r}.")


def parse_config(data: dict, *, base_dir: str | Path = ".", check_options: bool = True) -> StudyConfig:
    """Validate a config mapping; ``base_dir`` anchors its relative paths.

    ``check_options=False`` leaves the option sections to
    :func:`~brainalign.pipeline.check_study`, which reports them together
    with every other problem it finds.
    """
    try:
        config = StudyConfig(**data)
    except ValidationError as err:
        problems = _split_lines(format_validation_error(err, "", StudyConfig))
        # the option sections too, so that one run shows every problem of the file
        problems += [p for p in _option_problems_of(data) if p not in problems]
        raise ConfigError("\n".join(problems)) from None
    except TypeError as err:
        raise ConfigError(f"config: {err}") from None
    if check_options:
        config.validate_options()
    config._base_dir = Path(base_dir).resolve()
    config._raw = data
    return config


def _option_problems_of(data) -> list[str]:
    """Problems of the option sections of a config whose other sections did not validate."""
    if not isinstance(data, dict):
        return []
    sections = {k: data.get(k) for k in ("features", "alignment", "encoding", "rsa")}
    if not all(isinstance(v, (dict, type(None))) for v in sections.values()):
        return []
    features = {k: v for k, v in (sections["features"] or {}).items() if k not in ("model", "path", "cache_dir")}
    models = [m for m in data.get("models") or [] if isinstance(m, dict) and isinstance(m.get("options", {}), dict)]
    stub = StudyConfig.model_construct(features=features, alignment=sections["alignment"] or {},
                                       encoding=sections["encoding"] or {}, rsa=sections["rsa"] or {}, models=[])
    problems = stub.option_problems()
    for i, m in enumerate(models):
        modality = m.get("modality", "text")
        if modality in ("text", "video", "audio") and "path" not in m:
            try:
                _validated(f"models[{i}].options", f"features:{modality}", m.get("options") or {})
            except BrainalignInputError as err:
                problems += str(err).splitlines()
    return problems


def load_config(path: str | Path, *, check_options: bool = True) -> StudyConfig:
    """Read and validate a study config (``.toml`` or ``.json``); relative paths are taken from its folder.

    Raises
    ------
    ConfigError
        One line per problem, e.g. ``config [encoding]: unknown key 'alpha'
        (did you mean 'alphas'?); valid keys: ...``, or the file, line and
        column of a syntax error.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "study.toml").write_text('output = "out"\\n[dataset]\\nname = "alice_brennan2016"\\n'
    ...                                       '[[models]]\\nmodel = "gpt2"\\n[encoding]\\nalpha = 1\\n')
    >>> load_config(folder / "study.toml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    brainalign.pipeline._config.ConfigError: config [encoding]: unknown key 'alpha' (did you mean 'alphas'?); ...
    """
    path = Path(path)
    return parse_config(_read_file(path), base_dir=path.resolve().parent, check_options=check_options)


def base_dir(config: StudyConfig) -> Path:
    return config._base_dir


def raw_config(config: StudyConfig) -> dict:
    return config._raw if config._raw is not None else config.model_dump(exclude_defaults=True)


def resolve_path(config: StudyConfig, value: str | Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base_dir(config) / p
