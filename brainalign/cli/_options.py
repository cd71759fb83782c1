"""Command-line flags generated from option models: one name, one default, one help text per option.

A field ``n_permutations`` of a pydantic option model (or a dataclass) is the
flag ``--n-permutations``; its description is the help text and its default
is shown there.  Flags left out on the command line are left out of the
values (argparse ``SUPPRESS``), so the model's own default applies.
"""

from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import typing
from typing import Any, Literal, Union

from ..core import BrainalignInputError, format_validation_error

__all__ = ["add_options", "options_from_args", "flag_name", "model_fields"]


def flag_name(field: str, prefix: str = "") -> str:
    """``n_permutations`` -> ``--n-permutations`` (``prefix="encoding"``: ``--encoding-n-permutations``)."""
    return "--" + (f"{prefix}_{field}" if prefix else field).replace("_", "-")


def dest_name(field: str, prefix: str = "") -> str:
    return f"{prefix}_{field}" if prefix else field


def model_fields(model) -> dict[str, tuple[Any, Any, str | None]]:
    """``{name: (annotation, default, help)}`` of a pydantic model or a dataclass."""
    if dataclasses.is_dataclass(model):
        hints = typing.get_type_hints(model)
        return {f.name: (hints.get(f.name, Any), f.default, (f.metadata or {}).get("help"))
                for f in dataclasses.fields(model)}
    out = {}
    for name, f in model.model_fields.items():
        default = f.get_default(call_default_factory=True) if not f.is_required() else dataclasses.MISSING
        out[name] = (f.annotation, default, f.description)
    return out


def _strip_optional(annotation):
    if typing.get_origin(annotation) is Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else Union[tuple(args)]
    return annotation


def _leaves(annotation) -> list:
    if typing.get_origin(annotation) is Union:
        return [x for a in typing.get_args(annotation) for x in _leaves(a)]
    return [annotation]


def _argparse_kwargs(annotation) -> dict:
    """How argparse reads a value of ``annotation`` (pydantic converts and checks it afterwards)."""
    annotation = _strip_optional(annotation)
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    leaves = [a for a in _leaves(annotation) if a is not type(None)]
    if str in leaves:  # a text form wins (alphas "low,high,n")
        return {"type": str}
    sequences = (list, tuple, collections.abc.Sequence)
    if any(typing.get_origin(a) in sequences for a in leaves):
        item = next(typing.get_args(a)[0] for a in leaves if typing.get_origin(a) in sequences)
        kwargs: dict = {"nargs": "+"}
        item = _strip_optional(item)
        words = [v for a in leaves if typing.get_origin(a) is Literal for v in typing.get_args(a)]
        if len(leaves) > 1 and (words or any(a in (int, float) for a in leaves)):
            # one value or several ("auto", 3, or 2 4 8): a single value is stored as itself
            numbers = tuple(a for a in leaves if a in (int, float))
            kwargs.update(action=_one_or_many(words, numbers),
                          type=_number_or(words, item if item in (int, float) else int))
        elif item in (int, float):
            kwargs["type"] = item
        elif typing.get_origin(item) is Literal:
            kwargs["choices"] = list(typing.get_args(item))
        return kwargs
    if typing.get_origin(annotation) is Literal:
        values = list(typing.get_args(annotation))
        return {"choices": values, "type": type(values[0])}
    if annotation in (int, float, str):
        return {"type": annotation}
    literals = [v for a in leaves if typing.get_origin(a) is Literal for v in typing.get_args(a)]
    scalars = [a for a in leaves if a in (int, float)]
    if literals and scalars:  # e.g. "auto" or a number
        return {"type": _number_or(literals, scalars[0]), "metavar": "|".join(map(str, literals)) + f"|{scalars[0].__name__}"}
    return {"type": _number_or([], int)}


def _one_or_many(words, numbers):
    """An argparse action storing one value as itself where the option takes a scalar, else a list."""

    class OneOrMany(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            one = len(values) == 1 and (values[0] in words or (numbers and isinstance(values[0], numbers)))
            setattr(namespace, self.dest, values[0] if one else list(values))

    return OneOrMany


def _number_or(words, number_type):
    def convert(text: str):
        if text in words:
            return text
        try:
            return int(text)
        except ValueError:
            try:
                return float(text) if number_type is float or "." in text or "e" in text.lower() else text
            except ValueError:
                return text
    convert.__name__ = "value"
    return convert


def _shown(default) -> str:
    if isinstance(default, (list, tuple)):
        return " ".join(map(str, default)) or "none"
    return str(default)


def add_options(parser, model, *, skip=(), only=None, aliases: dict | None = None, required=(),
                title: str | None = None, show_defaults: bool = True, prefix: str = "") -> list[str]:
    """Add one flag per field of ``model`` to ``parser`` (or a new argument group ``title``); returns the fields.

    ``aliases`` maps a field to extra flags (``{"runs": ["--run"]}``).  ``prefix``
    (e.g. ``"encoding"``) names the table of an option whose name another
    table of the same command also uses: ``--encoding-window``.
    """
    target = parser.add_argument_group(title) if title else parser
    added = []
    for name, (annotation, default, help_text) in model_fields(model).items():
        if name in skip or (only is not None and name not in only):
            continue
        kwargs = _argparse_kwargs(annotation)
        text = (help_text or "").rstrip(".")
        if show_defaults and default is not dataclasses.MISSING and default is not None \
                and kwargs.get("action") is not argparse.BooleanOptionalAction:
            text += f" (default: {_shown(default)})"
        text = text.replace("%", "%%")
        flags = [flag_name(name, prefix), *(aliases or {}).get(name, [])]
        target.add_argument(*flags, dest=dest_name(name, prefix), default=argparse.SUPPRESS, help=text or None,
                            required=name in required, **kwargs)
        added.append(name)
    return added


def given(args: argparse.Namespace, fields, prefix: str = "") -> dict:
    """The options among ``fields`` that were given on the command line (under ``prefix``)."""
    return {name: getattr(args, dest_name(name, prefix)) for name in fields if hasattr(args, dest_name(name, prefix))}


def options_from_args(args: argparse.Namespace, model, fields=None, *, extra: dict | None = None):
    """The model built from the flags given (and ``extra``); a bad value names its flag."""
    fields = list(model_fields(model)) if fields is None else fields
    values = {**given(args, fields), **(extra or {})}
    if dataclasses.is_dataclass(model):
        return model(**values)
    try:
        return model(**values)
    except Exception as err:
        if not hasattr(err, "errors"):
            raise
        lines = format_validation_error(err, "", model)
        # "config top level: key 'n_permutations' = ..." -> "--n-permutations ..."
        out = []
        for e, line in zip(err.errors(), lines):
            loc = e["loc"]
            flag = flag_name(str(loc[0])) if loc else "options"
            out.append(f"{flag}: {e['msg'].removeprefix('Value error, ')} (got {e.get('input')!r})")
        raise BrainalignInputError("\n".join(out)) from None
