"""Option models: every user-facing option declared once, as a pydantic model next to the code it configures.

A study TOML nests these models and the command line generates its flags
from them (``brainalign.cli``), so an option has one name, one default and
one help text everywhere.  Stage functions whose keyword arguments *are* the
options (the alignment methods) get their model from their own signature and
numpy docstring (:func:`options_from_signature`), so the two cannot drift.
"""

from __future__ import annotations

import difflib
import inspect
import re
import typing
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ._validation import BrainalignInputError

__all__ = ["Options", "options_from_signature", "closest_key", "format_validation_error", "validate_options"]


class Options(BaseModel):
    """Base class of option models: unknown keys are errors (with the closest spelling)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


def docstring_parameters(func) -> dict[str, str]:
    """``{name: first sentence}`` of a numpy docstring's Parameters section."""
    doc = inspect.getdoc(func) or ""
    match = re.search(r"^Parameters\n-+\n(.*?)(?:\n\n[A-Z][a-z]+\n-+\n|\Z)", doc, flags=re.S | re.M)
    if not match:
        return {}
    out: dict[str, str] = {}
    names: list[str] = []
    for line in match.group(1).splitlines():
        if line and not line.startswith(" "):
            names = [n.strip() for n in line.split(":")[0].split(",") if n.strip()]
            for n in names:
                out[n] = ""
        elif names and line.strip():
            for n in names:
                out[n] = (out[n] + " " + line.strip()).strip()
    # one sentence is enough for a --help line
    return {k: re.split(r"(?<=\.)\s", v, maxsplit=1)[0] for k, v in out.items()}


def options_from_signature(name: str, func, *, skip=(), fields: dict | None = None,
                           base: type[BaseModel] = Options, doc: str | None = None) -> type[BaseModel]:
    """A pydantic model of ``func``'s keyword options (defaults and help from its signature and docstring).

    ``fields`` adds or overrides fields (``{name: (annotation, FieldInfo or default)}``),
    e.g. a ``Literal`` for an option the signature types as ``str``.

    Examples
    --------
    >>> def smooth(x, *, width: int = 3, mode: str = "same"):
    ...     '''Parameters
    ...     ----------
    ...     width : int
    ...         Samples per window.  Odd.
    ...     '''
    >>> Model = options_from_signature("SmoothOptions", smooth, skip={"x"})
    >>> Model().width, Model.model_fields["width"].description
    (3, 'Samples per window.')
    """
    from pydantic import Field

    helps = docstring_parameters(func)
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # annotations naming optional packages: the key is checked, not its type
        hints = {}
    out: dict[str, Any] = {}
    for pname, param in inspect.signature(func).parameters.items():
        if pname in skip or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        if param.default is inspect.Parameter.empty:
            continue  # the data a function works on, not an option
        annotation = hints.get(pname, Any)
        if "Callable" in str(annotation):
            annotation = Any
        default = param.default
        if isinstance(default, tuple):
            default = list(default)
        if default is None and annotation is not Any:
            annotation = Optional[annotation]
        out[pname] = (annotation, Field(default, description=helps.get(pname) or None))
    out.update(fields or {})
    return create_model(name, __base__=base, __doc__=doc or f"Options of :func:`{func.__name__}`.", **out)


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


def _models_in(annotation) -> list[type[BaseModel]]:
    args = typing.get_args(annotation)
    if not args:
        return [annotation] if inspect.isclass(annotation) and issubclass(annotation, BaseModel) else []
    return [m for a in args for m in _models_in(a)]


def _owner(root, loc: tuple):
    """The pydantic model that owns the key at ``loc`` (None when it is not one model)."""
    current = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if current is None or part not in current.model_fields:
            return None
        models = _models_in(current.model_fields[part].annotation)
        current = models[0] if len(models) == 1 else None
    return current


def _field_loc(schema, loc: tuple) -> tuple:
    """``loc`` cut after the last part that names a field (pydantic appends union members: ``int``, ``literal[...]``)."""
    current, out = schema, []
    for part in loc:
        if isinstance(part, int):
            out.append(part)
            continue
        if current is None or part not in getattr(current, "model_fields", {}):
            break
        out.append(part)
        models = _models_in(current.model_fields[part].annotation)
        current = models[0] if len(models) == 1 else None
    return tuple(out) if out else loc


def format_validation_error(err: ValidationError, where: str, schema=None) -> list[str]:
    """One line per problem of a pydantic error: section, key, value, what is wrong, the closest spelling."""
    grouped: dict[tuple, list[dict]] = {}
    for e in err.errors():
        loc = tuple(e["loc"])
        if schema is not None and e["type"] != "extra_forbidden":
            loc = _field_loc(schema, loc)
        grouped.setdefault(loc, []).append(e)
    lines = []
    for loc, errors in grouped.items():
        e = errors[0]
        owner = _owner(schema, loc) if schema is not None else None
        key = str(loc[-1]) if loc else ""
        parts = [where] if where else []
        parts += [str(p) if not isinstance(p, int) else f"[{p}]" for p in loc[:-1]]
        section = ".".join(parts).replace(".[", "[")
        section = f"[{section}]" if section else "top level"
        msg = "; or ".join(dict.fromkeys(x["msg"].removeprefix("Value error, ") for x in errors))
        if msg.startswith("config ["):  # a validator that names the table itself
            lines.append(msg)
        elif e["type"] == "extra_forbidden":
            valid = sorted(owner.model_fields) if owner is not None else []
            close = closest_key(key, valid)
            hint = f" (did you mean {close!r}?)" if close else ""
            lines.append(f"config {section}: unknown key {key!r}{hint}; valid keys: {', '.join(valid)}")
        elif e["type"] == "missing":
            lines.append(f"config {section}: missing required key {key!r}")
        elif e["type"] in ("value_error", "assertion_error") and not loc:
            lines.append(f"config{' ' + section if where else ''}: {msg}")
        else:
            got = e.get("input")
            shown = repr(got) if not isinstance(got, dict) else "a table"
            lines.append(f"config {section}: key {key!r} = {shown}: {msg}")
    return lines


def validate_options(model, values: dict, where: str, error: type[Exception] = BrainalignInputError):
    """``model(**values)``, with every problem on its own line in one ``error``."""
    try:
        return model(**values)
    except ValidationError as err:
        raise error("\n".join(format_validation_error(err, where, model))) from None
