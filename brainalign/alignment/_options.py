"""Alignment options, one model per method (``method`` is the tag that picks it).

Each model is made from its design function's own signature and docstring,
so a study's ``[alignment]`` table, ``brainalign encode``'s flags and the
function cannot disagree.  An option of another method is refused, naming the
method it belongs to (``tmin`` with ``method = "hrf"``).
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field

from ..core import BrainalignInputError
from ..core import Options, closest_key, format_validation_error, options_from_signature
from ._api import METHODS

__all__ = ["ALIGNMENT_OPTIONS", "AlignmentOptions", "alignment_options"]

_EVENTS_AS = Optional[Literal["impulse", "boxcar"]]
_NOT_OPTIONS = {"layers", "name_prefix", "recording", "epochs"}
_OVERRIDES = {
    "hrf": {"hrf_model": (Optional[str], Field("glover", description=(
        "'glover' or 'spm', optionally with ' + derivative' (+ ' + dispersion')")))},
    "fir": {}, "lanczos": {}, "lagged": {},
    "epochs": {"pool": (Literal["mean", "sum", "first", "last"],
                        Field("mean", description="how the events inside an epoch are combined"))},
}


def _model(method: str):
    fields = {"method": (Literal[method], Field(method, description="how features become a design"))}
    if method != "epochs":
        fields["events_as"] = (Literal["impulse", "boxcar"], Field("impulse", description=(
            "unit-area impulse at each onset, or the value spread over [onset, offset)")))
    fields.update(_OVERRIDES[method])
    return options_from_signature(f"{method.capitalize()}AlignmentOptions", METHODS[method], skip=_NOT_OPTIONS,
                                  fields=fields)


#: method -> its option model (``auto``: the dataset's default method, no method-specific options)
ALIGNMENT_OPTIONS = {m: _model(m) for m in METHODS}
ALIGNMENT_OPTIONS["auto"] = type("AutoAlignmentOptions", (Options,), {
    "__annotations__": {"method": Literal["auto"]},
    "method": Field("auto", description="the dataset's default method (hrf for fMRI, lagged for M/EEG)"),
    "__doc__": "The dataset's default alignment; give a method to set its options."})

#: the options of any method, told apart by ``method``
AlignmentOptions = Union[tuple(ALIGNMENT_OPTIONS.values())]


def alignment_options(values: dict, *, where: str = "alignment", default_method: str = "hrf"):
    """Validate ``{method: ..., option: value}`` against that method's options.

    Raises
    ------
    BrainalignInputError
        One line per problem; an option of another method names that method.

    Examples
    --------
    >>> alignment_options({"method": "lagged", "tmin": -0.2}).tmax
    0.5
    >>> alignment_options({"method": "hrf", "tmin": -0.2})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    brainalign.core._validation.BrainalignInputError: config [alignment]: key 'tmin' does not apply to method 'hrf' (it is an option of lagged); ...
    """
    values = dict(values)
    method = values.get("method", default_method)
    if method not in ALIGNMENT_OPTIONS:
        close = closest_key(str(method), ALIGNMENT_OPTIONS)
        hint = f" (did you mean {close!r}?)" if close else ""
        raise BrainalignInputError(f"config [{where}]: key 'method' = {method!r} is not a method{hint}; "
                                   f"choose one of {', '.join(ALIGNMENT_OPTIONS)}")
    model = ALIGNMENT_OPTIONS[method]
    problems = []
    for key in [k for k in values if k not in model.model_fields]:
        owners = [m for m, other in ALIGNMENT_OPTIONS.items() if key in other.model_fields]
        if owners:
            problems.append(f"config [{where}]: key {key!r} does not apply to method {method!r} (it is an option "
                            f"of {', '.join(owners)}); options of {method}: {', '.join(sorted(model.model_fields))}")
            values.pop(key)
    try:
        parsed = model(**{**values, "method": method})
    except Exception as err:  # pydantic's ValidationError: every problem, one line each
        if not hasattr(err, "errors"):
            raise
        problems += format_validation_error(err, where, model)
        parsed = None
    if problems:
        raise BrainalignInputError("\n".join(problems))
    return parsed
