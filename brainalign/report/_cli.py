"""``brainalign report RESULTS_DIR``: parse and call :func:`brainalign.report.write_report`."""

from __future__ import annotations

import argparse
import logging

from ._folder import write_report

logger = logging.getLogger("brainalign.report")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="a results or study folder")
    parser.add_argument("-o", "--output", metavar="OUT.html", default=None,
                        help="where to write the page (default: RESULTS_DIR/report.html)")
    parser.add_argument("--title", default=None, help="page title (default: the folder name)")


def main(args: argparse.Namespace) -> int:
    path = write_report(args.results_dir, args.output, title=args.title)
    logger.info("Open %s in a browser.", path.resolve())
    return 0
