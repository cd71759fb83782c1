"""Shorthand names of encoders ("ridge", "pcr", ...) for TOML files, the CLI and keyword arguments.

A new encoder is one class following the protocol (see the developer guide,
"Writing an estimator") and one :func:`register_estimator` line; every entry
point that takes ``estimator=`` (:func:`cross_validate`, :func:`sweep_layers`,
studies, ``brainalign encode``) then accepts its name and its options.
"""

from __future__ import annotations

import inspect
from typing import Any, Union

from sklearn.base import clone

from ..core import BrainalignInputError
from ._banded import BandedRidgeEncoder
from ._pcr import GatedPCREncoder
from ._sklearn_api import RidgeEncoder
from ._stacked import StackedEncoder

_REGISTRY: dict[str, type] = {}

#: how a layer is combined with a baseline unless the caller says otherwise (cross_validate with
#: baseline=, sweep_layers, the gain test, studies, ``brainalign encode``); the evidence is in
#: benchmarks/alice_gains_investigation.py
DEFAULT_BASELINE_ESTIMATOR = "pcr"
#: the estimator of a design used alone (a baseline, a layer without baseline)
DEFAULT_ESTIMATOR = "ridge"


def register_estimator(name: str, cls: type, *, replace: bool = False) -> type:
    """Make ``cls`` available as ``estimator=name`` everywhere an estimator is chosen by name.

    Parameters
    ----------
    name : str
        The shorthand (lower case, no spaces), e.g. ``"pcr"``.
    cls : type
        A scikit-learn style estimator class following the protocol: keyword
        options stored verbatim by ``__init__``, ``fit(X, Y, *, bands=None,
        groups=None, gap=0)``, ``predict(X)`` and ``fit_info_`` after fit.
    replace : bool
        Allow replacing a registered name (otherwise an error: two packages
        registering one name should not silently override each other).

    Returns
    -------
    type
        ``cls``, so that it can be used as a class decorator through ``functools.partial``.

    Examples
    --------
    >>> from brainalign.encoding import RidgeEncoder, make_estimator, register_estimator
    >>> class MyRidge(RidgeEncoder):
    ...     pass
    >>> _ = register_estimator("my-ridge", MyRidge)
    >>> type(make_estimator("my-ridge", alphas=[1.0, 10.0])).__name__
    'MyRidge'
    """
    if not isinstance(name, str) or not name or name != name.strip() or " " in name:
        raise BrainalignInputError(f"An estimator name must be a non-empty word, got {name!r}.")
    if not isinstance(cls, type) or not all(callable(getattr(cls, m, None)) for m in ("fit", "predict", "get_params")):
        raise BrainalignInputError(
            f"register_estimator({name!r}, ...) needs a class with fit, predict and get_params "
            f"(derive from sklearn.base.BaseEstimator), got {cls!r}.")
    if name in _REGISTRY and _REGISTRY[name] is not cls and not replace:
        raise BrainalignInputError(f"Estimator name {name!r} is already registered for {_REGISTRY[name].__name__}; "
                                   "pass replace=True to override it.")
    _REGISTRY[name] = cls
    return cls


def list_estimators() -> list[str]:
    """Registered estimator names."""
    return list(_REGISTRY)


def estimator_class(name: str) -> type:
    """The class registered as ``name`` (clear error naming the registered ones)."""
    if not isinstance(name, str) or name not in _REGISTRY:
        import difflib

        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise BrainalignInputError(
            f"estimator must be one of {', '.join(map(repr, _REGISTRY))} or an estimator object, got {name!r}{hint}.")
    return _REGISTRY[name]


def estimator_options(name: str) -> dict[str, Any]:
    """Option names of the estimator registered as ``name`` with their defaults (from its ``__init__``)."""
    cls = estimator_class(name)
    return {p.name: p.default for p in _init_parameters(cls)}


def _init_parameters(cls: type) -> list[inspect.Parameter]:
    params = inspect.signature(cls.__init__).parameters.values()
    return [p for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _option_type(cls: type, param: inspect.Parameter):
    declared = getattr(cls, "_option_types", {}).get(param.name)
    if declared is not None:
        return declared
    if param.annotation is not inspect.Parameter.empty and not isinstance(param.annotation, str):
        return param.annotation
    default = param.default
    if isinstance(default, bool):
        return bool
    if isinstance(default, float):
        return float
    if isinstance(default, int):
        return int
    return Any


def estimator_options_model(name: str):
    """A pydantic model of the options of the estimator registered as ``name`` (extra keys refused).

    Field names, defaults and types come from the class's ``__init__``
    (a class may refine the types with an ``_option_types`` dict); the CLI and
    the TOML schema are generated from these models.

    Examples
    --------
    >>> model = estimator_options_model("pcr")
    >>> model.model_fields["gate_se"].default, model(gate_se=2).gate_se
    (1.0, 2.0)
    """
    import pydantic

    cls = estimator_class(name)
    fields = {p.name: (_option_type(cls, p), p.default) for p in _init_parameters(cls)}
    return pydantic.create_model(f"{cls.__name__}Options", __config__=pydantic.ConfigDict(
        extra="forbid", arbitrary_types_allowed=True), **fields)


def _refuse_unknown(name: str, cls: type, options: dict) -> None:
    own = {p.name for p in _init_parameters(cls)}
    for key in options:
        if key in own:
            continue
        owners = [n for n, c in _REGISTRY.items() if key in {p.name for p in _init_parameters(c)}]
        belongs = f"; it belongs to {', '.join(map(repr, owners))}" if owners else ""
        raise BrainalignInputError(
            f"Option {key!r} does not apply to estimator {name!r}{belongs}. Options of {name!r}: "
            f"{', '.join(sorted(own))}.")


def make_estimator(estimator, **options):
    """An estimator object from a registered name and options, or a copy of an object with options set.

    Parameters
    ----------
    estimator : str or estimator object
        A registered name (:func:`list_estimators`) or an object following the protocol.
    **options
        Constructor options; one that the estimator does not take is refused
        with a message naming the estimator(s) it belongs to.

    Examples
    --------
    >>> make_estimator("stacked", one_se=0.5).one_se
    0.5
    >>> make_estimator("pcr", one_se=0.5)
    Traceback (most recent call last):
    ...
    brainalign.core._validation.BrainalignInputError: Option 'one_se' does not apply to estimator 'pcr'; it belongs to 'stacked'. Options of 'pcr': alphas, backend, gate_se, inner_cv, n_components, n_targets_batch.
    """
    if isinstance(estimator, str):
        cls = estimator_class(estimator)
        _refuse_unknown(estimator, cls, options)
        return cls(**options)
    if not all(callable(getattr(estimator, m, None)) for m in ("fit", "predict", "get_params")):
        raise BrainalignInputError(
            f"estimator must be a registered name ({', '.join(map(repr, _REGISTRY))}) or an object with fit, "
            f"predict and get_params, got {estimator!r}.")
    est = clone(estimator)
    if options:
        _refuse_unknown(estimator_name(est), type(est), options)
        est.set_params(**options)
    return est


def estimator_name(estimator) -> str:
    """The registered name of an estimator object's class, else its class name."""
    cls = estimator if isinstance(estimator, type) else type(estimator)
    for name, registered in _REGISTRY.items():
        if registered is cls:
            return name
    return cls.__name__


def min_bands(estimator) -> int:
    """Bands the estimator needs (2 for the "layer given baseline" encoders)."""
    return int(getattr(estimator, "_min_bands", 1))


register_estimator("ridge", RidgeEncoder)
register_estimator("banded", BandedRidgeEncoder)
register_estimator("stacked", StackedEncoder)
register_estimator("pcr", GatedPCREncoder)

# option types the __init__ defaults cannot tell (None / "auto" defaults, ints that also accept folds), for the
# options models the TOML schema and CLI flags are generated from
GatedPCREncoder._option_types = {"n_components": Union[str, list[int]], "inner_cv": int}
StackedEncoder._option_types = {"inner_cv": int}
RidgeEncoder._option_types = {"inner_cv": int, "cv": Union[int, None]}
BandedRidgeEncoder._option_types = {"inner_cv": int, "cv": Union[int, None], "band_sizes": Union[list[int], None]}
