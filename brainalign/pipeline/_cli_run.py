"""``brainalign run STUDY.toml``: a study (models x layers x subjects) from one config, resumable, on Dask.

A study config (TOML or JSON; relative paths from the config's folder)::

    name = "alice-two-models"
    output = "results/alice-study"          # one LayerSweep folder per model and subject
    cache_dir = "features"                  # shared, content-addressed feature cache

    [dataset]
    name = "alice_brennan2016"              # any registered dataset, or "files" (+ [stimulus], [recording])
    subjects = "all"                        # or ["s18", "s22"]; exclude = ["s33"]
    per_subject = true
    group_average = true
    [dataset.options]                       # the dataset loader's options
    resolution = "6mm"

    [features]                              # feature options shared by every model
    context_tokens = 128

    [[models]]
    name = "minilm"
    model = "path/or/hub-id"
    [[models]]
    name = "gpt2"
    model = "gpt2"
    options = { context_tokens = 512, layers = ["layer.3", "layer.6"] }

    [alignment]
    method = "auto"                         # the dataset's default: hrf / lagged / epochs
    [baseline]
    dataset = true                          # the dataset's own regressors (Alice: word rate, sound power)
    word_rate = false
    [encoding]                              # cross_validate options + gain_test, n_bootstraps, autocorrelation
    estimator = "banded"
    [execution]
    executor = "dask"                       # or "sequential"
    n_workers = 4

Every key is checked; a typo is named with the closest valid spelling.  The
0.1.0 form (``[features] model = ...`` with ``[stimulus]`` + ``[recording]``
files) still works: it is a study with one model and one subject.
"""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger("brainalign.pipeline")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="study config (.toml or .json)")
    parser.add_argument("-o", "--output", default=None, help="results folder (overrides the config's output)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (tasks per kind, already done, memory per task) and stop")
    parser.add_argument("--executor", choices=["sequential", "dask"], default=None,
                        help="overrides [execution] executor")
    parser.add_argument("--workers", type=int, default=None, help="Dask local-cluster workers")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (BLAS / torch)")
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (tcp://...)")


def main(args: argparse.Namespace) -> int:
    from ._config import load_config
    from ._execute import run_study
    from ._plan import plan_study

    config = load_config(args.config)
    if args.dry_run:
        import time

        start = time.perf_counter()
        plan = plan_study(config, output=args.output)
        print(plan.describe())
        print(f"planned in {time.perf_counter() - start:.2f} s")
        return 0
    from ._execute import StudyInterrupted

    try:
        run = run_study(config, output=args.output, executor=args.executor, n_workers=args.workers,
                        threads_per_worker=args.threads, scheduler=args.scheduler)
    except StudyInterrupted as err:
        # a batch script must not read an interrupted study as a success (128 + SIGINT)
        logger.error("%s", err)
        return 130
    results = run.results()
    for line in results.verdicts():  # the best layer with its interval, or "no layer beats the baseline"
        logger.info("%s", line)
    joint = results.summary.get("joint_headline")
    if joint:
        logger.info("models fitted together: %s", ", ".join(f"{k} {v:.3f}" for k, v in joint.items()))
    logger.info("results in %s (study_scores.tsv; `brainalign report %s`)", run.output, run.output)
    return 0
