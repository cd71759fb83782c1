"""Command-line interface: ``brainalign <command> [options]``, one module per command.

Every command module exposes ``add_arguments(parser)`` and ``run(args) ->
int``, parses its flags (generated from the option models of the stage it
drives, see :mod:`brainalign.cli._options`) and calls public library
functions.  :func:`main` is the one error boundary: a user error (bad input,
bad config, missing file) is printed without a traceback and exits with 2;
``--debug`` shows the traceback.  Building the parser imports no torch, so
``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .._logging import configure_logging

__all__ = ["main", "build_parser", "COMMANDS"]

#: command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("brainalign.cli.demo", "simulated participant end to end: features -> design -> ridge -> layer map"),
    "extract": ("brainalign.cli.extract", "extract layerwise model features of a transcript, a movie or a soundtrack"),
    "encode": ("brainalign.cli.encode", "fit cross-validated encoding models for every layer"),
    "run": ("brainalign.cli.run", "run a study (models x layers x subjects) from a TOML/JSON config"),
    "localize": ("brainalign.cli.localize", "localize language-selective (or MD / ToM) units in an LLM"),
    "ablate": ("brainalign.cli.ablate", "ablate localized units and measure the deficit"),
    "tag": ("brainalign.cli.tag", "frequency-tag a model's units on isochronous sentence streams (HFTP)"),
    "steer": ("brainalign.cli.steer", "fit brain axes from files; steer a model along a direction vs random ones"),
    "report": ("brainalign.cli.report", "write a self-contained HTML report of a results folder"),
    "datasets": ("brainalign.cli.datasets", "list dataset cards, check or fetch local copies"),
    "cache": ("brainalign.cli.cache", "verify a feature cache (exit 1 if damaged) or clean it up"),
}

logger = logging.getLogger("brainalign")


def shared_flags() -> argparse.ArgumentParser:
    """``-v``, ``-q``, ``--debug``: accepted before or after the command (``brainalign run -v x.toml``)."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("output and logging")
    group.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                       help="more log output (-vv: debug); tracebacks of errors are logged too")
    group.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="warnings only, no progress bars")
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="raise errors with their traceback")
    return common


def add_output(parser: argparse.ArgumentParser, default=None, help: str = "results folder", **kwargs) -> None:
    """The shared ``-o/--output`` flag (every command that writes names its folder or file this way)."""
    shown = f" (default: {default})" if default is not None and not kwargs.get("required") else ""
    parser.add_argument("-o", "--output", default=default, help=help + shown, **kwargs)


def build_parser(commands=None) -> argparse.ArgumentParser:
    """The command line, every command with its flags (or only ``commands``); imports no torch or transformers.

    The other commands are listed with their one-line help only, so that
    ``brainalign extract --help`` does not import what ``encode`` configures.
    """
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="brainalign", parents=[shared_flags()],
        description="How brain-like is this model, and where? Encoding models from stimuli to cortex.")
    parser.set_defaults(verbose=0, quiet=False, debug=False)
    parser.add_argument("--version", action="version", version=f"brainalign {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if commands is not None and name not in commands:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=help_text, description=getattr(module, "DESCRIPTION", help_text),
                                 parents=[shared_flags()], formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
        command.set_defaults(command_function=module.run)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    from ..core import BrainalignInputError

    errors: list[type[BaseException]] = [BrainalignInputError, FileNotFoundError, NotADirectoryError,
                                         IsADirectoryError, PermissionError]
    try:
        from ..datasets import DataUnavailableError

        errors.append(DataUnavailableError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    """Run ``brainalign`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(commands=[next((a for a in argv if a in COMMANDS), None)])
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    configure_logging(-1 if args.quiet else args.verbose)
    try:
        return int(args.command_function(args) or 0)
    except _user_errors() as err:
        if args.debug:
            raise
        # a user error is its message on stderr and exit code 2; -v also logs where it came from
        text = str(err) if not isinstance(err, OSError) or not err.filename else f"{err.strerror}: {err.filename}"
        lines = text.strip().splitlines() or [type(err).__name__]
        if len(lines) > 1:
            text = f"{len(lines)} problems:\n" + "\n".join(f"  - {line}" for line in lines)
        logger.error("%s", text, exc_info=args.verbose > 0)
        return 2
    except KeyboardInterrupt as err:  # Ctrl-C (a study says what it cancelled): 128 + SIGINT, never success
        logger.error("%s", str(err) or "interrupted; run the same command again to resume")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
