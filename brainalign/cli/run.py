"""``brainalign run STUDY.toml``: a study (models x layers x subjects) from one config, resumable, on Dask.

The ``[execution]`` flags are generated from the config's own execution
options and override them; ``--dry-run`` checks everything that can be
checked without computing (every option, paths, models available offline,
the output folder writable), lists every problem at once, and prints the plan.
"""

from __future__ import annotations

import argparse
import logging
import time

from . import add_output
from ._options import add_options, given

logger = logging.getLogger("brainalign.pipeline")
DESCRIPTION = __doc__


def _execution_model():
    from ..pipeline import StudyConfig

    return StudyConfig.model_fields["execution"].annotation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="study config (.toml or .json)")
    add_output(parser, help="results folder (overrides the config's output)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the whole study (every problem at once), print the plan and stop")
    add_options(parser, _execution_model(), skip={"jobqueue"}, title="execution (overrides [execution])")


def run(args: argparse.Namespace) -> int:
    from ..pipeline import check_study, load_config, plan_study, run_study

    # option sections are checked by check_study below, with every other problem, in one message
    config = load_config(args.config, check_options=False)
    overrides = given(args, _execution_model().model_fields)
    if overrides:  # validated like the file's own [execution]; the recorded config stays the file's
        from ..core import validate_options

        config.execution = validate_options(_execution_model(), {**config.execution.model_dump(exclude_unset=True),
                                                                 **overrides}, "execution")
    start = time.perf_counter()
    check_study(config, output=args.output)  # every problem found without computing, at once
    if args.dry_run:
        plan = plan_study(config, output=args.output)
        print(plan.describe())
        print(f"checked and planned in {time.perf_counter() - start:.2f} s")
        return 0
    # also passed as run_study's own overrides, which the executor reports on (e.g. workers vs jobs)
    passed = {k: v for k, v in overrides.items() if k in ("executor", "n_workers", "threads_per_worker", "scheduler")}
    run_ = run_study(config, output=args.output, **passed)
    results = run_.results()
    for line in results.verdicts():  # the best layer with its interval, or "no layer beats the baseline"
        logger.info("%s", line)
    joint = results.summary.get("joint_headline")
    if joint:
        logger.info("models fitted together: %s", ", ".join(f"{k} {v:.3f}" for k, v in joint.items()))
    logger.info("results in %s (study_scores.tsv; `brainalign report %s`)", run_.output, run_.output)
    return 0
