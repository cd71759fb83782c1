"""Encoding options: one model per registered estimator (``estimator`` is the tag that picks it).

A study's ``[encoding]`` table and ``brainalign encode``'s flags are the
options of :func:`sweep_layers` / :func:`cross_validate` plus those of the
chosen estimator (from its ``__init__``, see :func:`estimator_options_model`).
An option of another estimator is refused, naming the key and the
estimator(s) it belongs to (``one_se`` with ``estimator = "pcr"``).  The
models are built from the registry when asked for, so an estimator
registered later (one class + one :func:`register_estimator` line) brings
its options to studies and the command line with no other edit.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, Field, create_model

from ..core import BrainalignInputError, Options, closest_key, format_validation_error, options_from_signature
from ._crossval import cross_validate
from ._registry import (DEFAULT_BASELINE_ESTIMATOR, DEFAULT_ESTIMATOR, estimator_class, estimator_options_model,
                        list_estimators)
from ._sweep import sweep_layers

__all__ = ["encoding_options", "encoding_option_models", "common_encoding_options"]

# options of cross_validate / sweep_layers that are data or set by the caller, not by a user
_NOT_OPTIONS = {"design", "designs", "recording", "baseline", "results_dir", "return_predictions", "model"}
# typed by meaning, whatever estimator takes them: a wrong value fails when the config is read
_TYPES = {
    "alphas": (Optional[Union[str, list[float]]], "penalty grid: 'low,high,n' exponents of 10, or a list"),
    "backend": (Literal["auto", "cpu", "numpy", "torch", "torch_cuda"], "where the linear algebra runs"),
    "solver": (Literal["auto", "primal", "kernel", "himalaya"], "ridge solver"),
    "n_components": (Union[Literal["auto"], int, list[int]], "principal components of the layer ('auto': inner CV)"),
    "cv": (Union[Literal["auto"], int, dict[str, Any]], (
        "outer folds: 'auto' (leave-one-run-out or 5 blocks), a number of blocks, or (config) a scikit-learn "
        "splitter table {splitter = 'module:Class', ...its options}")),
}


_CACHE: dict = {}


def common_encoding_options():
    """The options every estimator shares: :func:`sweep_layers`' and :func:`cross_validate`'s own."""
    key = ("common", tuple(list_estimators()))  # the estimator's help lists the registered ones
    if key not in _CACHE:
        _CACHE[key] = _common_model()
    return _CACHE[key]


def _common_model():
    fields = {"estimator": (Optional[str], Field(None, description=(
        f"how a layer is fitted: {', '.join(list_estimators())} (default: {DEFAULT_BASELINE_ESTIMATOR} with a "
        f"baseline, {DEFAULT_ESTIMATOR} alone)")))}
    fields["cv"] = (_TYPES["cv"][0], Field("auto", description=_TYPES["cv"][1]))
    # the two signatures' fields, merged into one model below
    sweep = options_from_signature("SweepOptions", sweep_layers, skip=_NOT_OPTIONS, base=BaseModel)
    cv = options_from_signature("CrossValidateOptions", cross_validate, skip=_NOT_OPTIONS | {"estimator", "cv"},
                                fields=fields, base=BaseModel)
    return create_model("EncodingOptions", __base__=Options, __doc__="Options shared by every estimator.",
                        **{n: (f.annotation, f) for m in (sweep, cv) for n, f in m.model_fields.items()})


def encoding_option_models() -> dict:
    """``{estimator name: option model}`` of every registered estimator (common options + its own)."""
    key = tuple((name, estimator_class(name)) for name in list_estimators())
    if key in _CACHE:
        return _CACHE[key]
    common = common_encoding_options()
    models = {}
    for name in list_estimators():
        own = estimator_options_model(name)
        fields = {n: (f.annotation, f) for n, f in common.model_fields.items()}
        fields["estimator"] = (Literal[name], Field(name, description=common.model_fields["estimator"].description))
        for opt, f in own.model_fields.items():
            if opt in fields:  # the outer cv and standardize of cross_validate win over an estimator's
                continue
            annotation, help_text = _TYPES.get(opt, (f.annotation, None))
            default = None if f.default is inspect.Parameter.empty else f.default
            fields[opt] = (annotation if default is not None or opt in _TYPES else Optional[annotation],
                           Field(default, description=help_text or f"option of the {name!r} estimator"))
        models[name] = create_model(f"{name.title().replace('-', '')}EncodingOptions",
                                    __base__=Options, __doc__=f"Encoding options with estimator {name!r}.",
                                    **fields)
    _CACHE[key] = models
    return models


def encoding_options(values: dict, *, where: str = "encoding"):
    """Validate ``{estimator: ..., option: value}`` against that estimator's options.

    Without ``estimator``, the options of the estimators a study uses by
    default (``pcr`` for a layer with a baseline, ``ridge`` alone) apply.

    Raises
    ------
    BrainalignInputError
        One line per problem; an option of another estimator names it.

    Examples
    --------
    >>> encoding_options({"estimator": "stacked", "one_se": 0.5}).one_se
    0.5
    >>> encoding_options({"estimator": "pcr", "one_se": 0.5})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    brainalign.core._validation.BrainalignInputError: config [encoding]: key 'one_se' does not apply to estimator 'pcr' (it is an option of stacked); ...
    """
    models = encoding_option_models()
    values = dict(values)
    chosen = values.get("estimator")
    problems = []
    if chosen is not None and chosen not in models:
        close = closest_key(str(chosen), models)
        hint = f" (did you mean {close!r}?)" if close else ""
        problems.append(f"config [{where}]: key 'estimator' = {chosen!r} is not a registered estimator{hint}; "
                        f"choose one of {', '.join(models)}")
        chosen = values.pop("estimator")  # the other options are still checked, against the defaults
        chosen = None
    names = [chosen] if chosen is not None else [DEFAULT_BASELINE_ESTIMATOR, DEFAULT_ESTIMATOR]
    known = set().union(*(m.model_fields for m in models.values()))
    for key in [k for k in values if k in known and not any(k in models[n].model_fields for n in names)]:
        owners = [n for n, m in models.items() if key in m.model_fields]
        which = f"estimator {chosen!r}" if chosen else f"the default estimators ({', '.join(names)})"
        problems.append(f"config [{where}]: key {key!r} does not apply to {which} (it is an option of "
                        f"{', '.join(owners)}); set estimator = {owners[0]!r} or leave {key!r} out")
        values.pop(key)
    parsed = None
    for i, name in enumerate(names):
        model = models[name]
        # unknown keys (a typo) are reported once, by the first model, with the closest spelling
        own = {k: v for k, v in values.items() if k in model.model_fields or (i == 0 and k not in known)}
        try:
            result = model(**{**own, "estimator": name})
        except Exception as err:  # pydantic's ValidationError: every problem, one line each
            if not hasattr(err, "errors"):
                raise
            problems += [p for p in format_validation_error(err, where, model) if p not in problems]
            continue
        parsed = parsed or result
    if problems:
        raise BrainalignInputError("\n".join(problems))
    return parsed
