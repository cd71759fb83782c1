"""Command-line interface: ``brainalign <command> [options]``.

Each command lives next to the code it drives; this module only dispatches,
importing a command's module when it is used (so ``--help`` stays fast).
A command module exposes ``add_arguments(parser)`` and ``main(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ._logging import configure_logging

#: command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("brainalign.demo", "simulated participant end to end: features -> design -> ridge -> layer map"),
    "extract": ("brainalign.features._cli", "extract layerwise model features for a stimulus file"),
    "encode": ("brainalign.encoding._cli_encode", "fit cross-validated encoding models for every layer"),
    "run": ("brainalign.pipeline._cli_run", "run a study (models x layers x subjects) from a TOML/JSON config"),
    "localize": ("brainalign.localize._cli", "localize language-selective (or MD / ToM) units in an LLM"),
    "ablate": ("brainalign.localize._cli_ablate", "ablate localized units and measure the deficit"),
    "report": ("brainalign.report._cli", "write a self-contained HTML report of a results folder"),
    "datasets": ("brainalign.datasets._cli", "list dataset cards, check or fetch local copies"),
    "cache": ("brainalign.features._cli_cache", "verify a feature cache (exit 1 if damaged) or clean it up"),
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="brainalign",
        description="How brain-like is this model, and where? Encoding models from stimuli to cortex.",
    )
    parser.add_argument("--version", action="version", version=f"brainalign {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="count", default=0, help="more log output (debug)")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="warnings only, no progress bars")
    parser.add_argument("--debug", action="store_true", help="show the traceback of user errors too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    configure_logging(-1 if args.quiet else args.verbose)
    module = importlib.import_module(COMMANDS[args.command][0])
    sub_parser = argparse.ArgumentParser(prog=f"brainalign {args.command}", description=COMMANDS[args.command][1])
    module.add_arguments(sub_parser)
    sub_args = sub_parser.parse_args(rest)
    try:
        return int(module.main(sub_args) or 0)
    except _user_errors() as err:
        # a user error is one line on stderr and exit code 2; --debug shows where it came from
        if args.debug:
            raise
        logging.getLogger("brainalign").error("%s", err)
        return 2


def _user_errors() -> tuple[type[BaseException], ...]:
    from .core import BrainalignInputError

    errors: list[type[BaseException]] = [BrainalignInputError, FileNotFoundError, NotADirectoryError,
                                         IsADirectoryError, PermissionError]
    try:
        from .datasets import DataUnavailableError

        errors.append(DataUnavailableError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
