"""Sphinx helpers for the brainalign docs.

* ``.. brainalign-cli::`` renders the ``--help`` text of every command of the
  ``brainalign`` program (from its argparse parsers, so it never goes stale).
* At build start, every public name of every subpackage (its ``__all__``) must
  appear in ``api.rst``; a missing one is a warning, an error under ``-W``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

SUBPACKAGES = [
    "brainalign",
    "brainalign.core",
    "brainalign.stimuli",
    "brainalign.features",
    "brainalign.recordings",
    "brainalign.alignment",
    "brainalign.simulation",
    "brainalign.encoding",
    "brainalign.similarity",
    "brainalign.localize",
    "brainalign.datasets",
    "brainalign.plotting",
    "brainalign.pipeline",
]


def _indent(text: str, prefix: str = "   ") -> list[str]:
    return [prefix + line if line.strip() else "" for line in text.rstrip().splitlines()]


class BrainalignCLI(Directive):
    """Insert one section per ``brainalign`` command with its argparse help."""

    has_content = False

    def run(self):
        # argparse wraps help to the terminal width; fix it to fit the page
        previous = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "82"
        try:
            return self._run()
        finally:
            if previous is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = previous

    def _run(self):
        from brainalign.cli import COMMANDS, build_parser

        try:
            parser = build_parser()
        except Exception as err:  # reported as a docs build warning (an error under -W)
            logger.warning("CLI reference: the parser could not be built: %s", err)
            return []
        lines = ["Main program", "------------", "", ".. code-block:: text", ""]
        lines += _indent(parser.format_help()) + [""]
        commands = _subcommands(parser)
        for name, (_, help_text) in COMMANDS.items():
            title = f"brainalign {name}"
            lines += [title, "-" * len(title), "", help_text[:1].upper() + help_text[1:] + ".", ""]
            command = commands[name]
            lines += [".. code-block:: text", ""] + _indent(command.format_help()) + [""]
            for sub_name, sub in _subcommands(command).items():
                sub_title = f"{title} {sub_name}"
                lines += [sub_title, "^" * len(sub_title), "", ".. code-block:: text", ""]
                lines += _indent(sub.format_help()) + [""]
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="brainalign-cli"), node)
        return node.children


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _documented_names(api_text: str) -> dict[str, set[str]]:
    """Names listed in api.rst, per ``.. currentmodule::``."""
    documented: dict[str, set[str]] = {}
    current = None
    for line in api_text.splitlines():
        match = re.match(r"^\.\. currentmodule:: (\S+)", line)
        if match:
            current = match.group(1)
            documented.setdefault(current, set())
            continue
        entry = re.match(r"^\s{3,}([A-Za-z_][\w.]*)\s*$", line)
        if entry and current is not None:
            documented[current].add(entry.group(1))
    return documented


def _check_api_coverage(app) -> None:
    documented = _documented_names((Path(app.srcdir) / "api.rst").read_text(encoding="utf-8"))
    for package in SUBPACKAGES:
        try:
            module = importlib.import_module(package)
        except Exception as err:
            logger.warning("API reference: %s cannot be imported: %s", package, err)
            continue
        listed = documented.get(package, set())
        for name in getattr(module, "__all__", []):
            if name.startswith("__"):
                continue
            # core's classes are documented once, under the top-level package
            if name not in listed and not (package == "brainalign.core" and name in documented.get("brainalign", ())):
                logger.warning("API reference: %s.%s is public (in __all__) but not listed in api.rst", package, name)


def setup(app):
    app.add_directive("brainalign-cli", BrainalignCLI)
    app.connect("builder-inited", _check_api_coverage)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
