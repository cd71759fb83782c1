"""``brainalign report RESULTS_DIR``: one self-contained HTML page of a results folder."""

from __future__ import annotations

import argparse
import logging

from . import add_output

logger = logging.getLogger("brainalign.report")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="a results or study folder")
    add_output(parser, help="where to write the page (default: RESULTS_DIR/report.html)", metavar="OUT.html")
    parser.add_argument("--title", default=None, help="page title (default: the folder name)")


def run(args: argparse.Namespace) -> int:
    from ..report import write_report

    path = write_report(args.results_dir, args.output, title=args.title)
    logger.info("Open %s in a browser.", path.resolve())
    return 0
