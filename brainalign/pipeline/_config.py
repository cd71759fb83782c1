"""The study config: one TOML/JSON file validated against a pydantic schema.

Every section forbids unknown keys; an error names the section, the key, the
closest valid spelling and the valid keys.  Option sections that are passed on
to a stage function (``[features]``, ``[alignment]``, ``[encoding]``) are
validated against that function's own signature, so the schema cannot drift
from the code it configures.
"""

from __future__ import annotations

import difflib
import inspect
import json
import typing
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, create_model, field_validator,
                      model_validator)

from ..core import BrainalignInputError

__all__ = ["StudyConfig", "ModelSpec", "load_config", "parse_config", "ConfigError"]


BUNDLED = "bundled:all-MiniLM-L6-v2"


class ConfigError(BrainalignInputError):
    """A config file that cannot be read or does not fit the schema (one line per problem)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


# ----------------------------------------------------------------- option sections from signatures
_SKIP_PARAMS = {"self", "timeline", "model", "features", "recording", "features_or_design", "design",
                "cache_dir", "on_chunk", "layers", "return_predictions", "epochs", "name_prefix", "units",
                "baseline", "results_dir"}


def _signature_model(name: str, functions, *, skip=(), extra_fields: dict | None = None) -> type[BaseModel]:
    """A pydantic model whose fields are the keyword parameters of ``functions`` (first wins)."""
    fields: dict[str, Any] = {}
    for func in functions:
        try:
            hints = typing.get_type_hints(func)
        except Exception:  # annotations naming optional packages: validate the key, not its type
            hints = {}
        for pname, param in inspect.signature(func).parameters.items():
            if pname in _SKIP_PARAMS or pname in skip or pname in fields:
                continue
            if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            annotation = hints.get(pname, Any)
            if "Callable" in str(annotation) or "TextModel" in str(annotation):
                annotation = Any
            default = None if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (Optional[annotation] if default is None else annotation, default)
    fields.update(extra_fields or {})
    return create_model(name, __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True), **fields)


def _text_options_model():
    from ..features import extract_text_features

    return _signature_model("TextFeatureOptions", [extract_text_features], extra_fields={
        "layers": (Optional[Union[Literal["all"], list[Union[str, int]]]], None),
        "units": (Optional[Union[str, list[str]]], None),
    })


def _alignment_model():
    from ..alignment import fir_design, hrf_design, lagged_design, lanczos_design
    from ..alignment._epochs import epoch_design

    return _signature_model(
        "AlignmentOptions", [hrf_design, lanczos_design, fir_design, lagged_design, epoch_design],
        extra_fields={"method": (Literal["hrf", "lanczos", "fir", "lagged", "epochs", "auto"], "auto")})


def _encoding_model():
    from ..encoding import cross_validate, estimator_options_model, list_estimators, sweep_layers

    # sweep_layers' own options (autocorrelation, gain_bootstraps), every cross_validate option and the
    # options of every registered estimator (the chosen estimator refuses those of another one)
    extra: dict[str, Any] = {}
    for name in list_estimators():
        for key, field in estimator_options_model(name).model_fields.items():
            extra.setdefault(key, (Optional[field.annotation], None))
    extra.pop("cv", None)  # cross_validate's outer cv, not an estimator's older name of inner_cv
    extra.pop("standardize", None)
    extra["alphas"] = (Optional[Union[str, list[float]]], None)
    extra["estimator"] = (Optional[str], None)
    return _signature_model("EncodingOptions", [sweep_layers, cross_validate], skip={"model", "designs"},
                            extra_fields=extra)


def _video_options_model():
    from ..features import extract_video_features

    return _signature_model("VideoFeatureOptions", [extract_video_features],
                            skip={"video", "fps", "times", "run", "processor"},
                            extra_fields={"layers": (Optional[Union[Literal["all"], list[Union[str, int]]]], None)})


def _audio_options_model():
    from ..features import extract_audio_features

    return _signature_model("AudioFeatureOptions", [extract_audio_features],
                            skip={"audio", "sfreq", "times", "run", "feature_extractor"},
                            extra_fields={"layers": (Optional[Union[Literal["all"], list[Union[str, int]]]], None)})


_LAZY_MODELS: dict[str, type[BaseModel]] = {}


def option_model(section: str) -> type[BaseModel]:
    """The pydantic model of an option section (``features``, ``alignment``, ``encoding``, ``features:video``...)."""
    key = section
    if section == "encoding":  # an estimator registered later brings its options
        from ..encoding import list_estimators

        key = (section, tuple(list_estimators()))
    if key not in _LAZY_MODELS:
        _LAZY_MODELS[key] = {"features": _text_options_model, "features:text": _text_options_model,
                             "features:video": _video_options_model, "features:audio": _audio_options_model,
                             "alignment": _alignment_model, "encoding": _encoding_model}[section]()
    return _LAZY_MODELS[key]


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
    random: Optional[RandomModel] = Field(None, description="build a random-weight model with these settings")
    modality: Literal["text", "video", "audio"] = Field(
        "text", description="text: the timeline's words; video: frames of the stimulus media; audio: its soundtrack")
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self):
        if sum(x is not None for x in (self.model, self.path, self.random)) != 1:
            raise ValueError("give exactly one of 'model' (hub id or local folder), 'path' (saved features) "
                             "or 'random' (a random-weight model)")
        if self.model is not None and self.model.startswith("bundled:") and self.model != BUNDLED:
            raise ValueError(f"the bundled model is {BUNDLED!r}, got {self.model!r}")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.random is not None:
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


class BaselineSection(_Section):
    """Regressors every layer must beat: the dataset's own, a word rate, or files."""

    dataset: bool = True
    word_rate: bool = False
    files: list[str] = Field(default_factory=list)


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

    @field_validator("jobqueue")
    @classmethod
    def _jobqueue_kind(cls, value):
        if value is not None and str(value.get("kind", "")).lower() not in ("slurm", "pbs", "sge", "lsf", "htcondor"):
            raise ValueError("jobqueue.kind must be one of 'slurm', 'pbs', 'sge', 'lsf', 'htcondor'")
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
    maps: bool = True
    # the single-recording form of 0.1.0: your own stimulus and recording files
    stimulus: Optional[dict[str, Any]] = None
    recording: Optional[dict[str, Any]] = None
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

    @model_validator(mode="after")
    def _complete(self):
        if not self.models:
            raise ValueError("no model: add [[models]] entries (or model = ... in [features])")
        if self.dataset is None:
            raise ValueError("no recordings: add a [dataset] section (or [stimulus] + [recording] files)")
        labels = [m.label for m in self.models]
        reserved = sorted({"joint", "features", ".work"} & set(labels))
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
        return self

    # ---------------------------------------------------------------- validated options
    def feature_options(self, model: ModelSpec) -> dict[str, Any]:
        """Shared ``[features]`` options (text models) overridden by the model's own, validated."""
        index = self.models.index(model) if model in self.models else "?"
        own = _validated(f"models[{index}].options", f"features:{model.modality}", model.options)
        if model.modality != "text":
            return own
        return {**_validated("features", "features", self.features), **own}

    def alignment_options(self) -> dict[str, Any]:
        return _validated("alignment", "alignment", self.alignment)

    def encoding_options(self) -> dict[str, Any]:
        return _validated("encoding", "encoding", self.encoding)

    def validate_options(self) -> None:
        """Check every option section now (not when the first task runs)."""
        for model in self.models:
            if model.path is None:
                self.feature_options(model)
        self.alignment_options()
        self.encoding_options()


def _validated(where: str, section: str, values: dict) -> dict[str, Any]:
    schema = option_model(section)
    try:
        parsed = schema(**values)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, where, schema)) from None
    # keep only what the user set: defaults stay those of the stage function
    return {k: getattr(parsed, k) for k in values}


# ------------------------------------------------------------------------------ errors
def _valid_keys(model: type[BaseModel]) -> list[str]:
    return sorted(model.model_fields)


def _schema_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the key at ``loc`` (None when it is not a model)."""
    current: Any = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (inspect.isclass(current) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return None
        annotation = current.model_fields[part].annotation
        current = next((a for a in _flatten(annotation) if inspect.isclass(a) and issubclass(a, BaseModel)), None)
    return current if inspect.isclass(current) and issubclass(current, BaseModel) else None


def _flatten(annotation) -> list:
    args = typing.get_args(annotation)
    if not args:
        return [annotation]
    out = []
    for a in args:
        out.extend(_flatten(a))
    return out


def closest_key(key: str, valid) -> str | None:
    """The valid key a typo most likely meant: a close spelling, else one that starts with it."""
    valid = list(valid)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    if close:
        return close[0]
    if len(key) >= 3:
        prefixed = [v for v in valid if v.startswith(key) or key.startswith(v)]
        if prefixed:
            return min(prefixed, key=len)
    return None


def _section_name(where: str, loc: tuple) -> str:
    parts = [where] if where else []
    parts += [str(p) if not isinstance(p, int) else f"[{p}]" for p in loc[:-1]]
    text = ".".join(parts).replace(".[", "[")
    return f"[{text}]" if text else "top level"


def _format_errors(err: ValidationError, where: str, schema: type[BaseModel]) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        key = str(loc[-1]) if loc else ""
        section = _section_name(where, loc)
        if e["type"] == "extra_forbidden":
            owner = _schema_at(schema, loc)
            valid = _valid_keys(owner) if owner is not None else []
            close = closest_key(key, valid)
            hint = f" (did you mean {close!r}?)" if close else ""
            lines.append(f"config {section}: unknown key {key!r}{hint}; valid keys: {', '.join(valid)}")
        elif e["type"] == "missing":
            lines.append(f"config {section}: missing required key {key!r}")
        elif e["type"] in ("value_error", "assertion_error") and not loc:
            lines.append(f"config: {e['msg'].removeprefix('Value error, ')}")
        else:
            got = e.get("input")
            shown = repr(got) if not isinstance(got, dict) else "a table"
            msg = e["msg"].removeprefix("Value error, ")
            lines.append(f"config {section}: key {key!r} = {shown}: {msg}")
    return "\n".join(lines)


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


def parse_config(data: dict, *, base_dir: str | Path = ".") -> StudyConfig:
    """Validate a config mapping; ``base_dir`` anchors its relative paths."""
    try:
        config = StudyConfig(**data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, "", StudyConfig)) from None
    except TypeError as err:
        raise ConfigError(f"config: {err}") from None
    config.validate_options()
    config._base_dir = Path(base_dir).resolve()
    config._raw = data
    return config


def load_config(path: str | Path) -> StudyConfig:
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
    return parse_config(_read_file(path), base_dir=path.resolve().parent)


def base_dir(config: StudyConfig) -> Path:
    return config._base_dir


def raw_config(config: StudyConfig) -> dict:
    return config._raw if config._raw is not None else config.model_dump(exclude_defaults=True)


def resolve_path(config: StudyConfig, value: str | Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base_dir(config) / p
