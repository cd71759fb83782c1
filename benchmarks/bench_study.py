"""Study benchmark: the 2-model x 13-subject Alice study, sequential vs Dask, and the planner at 100 subjects.

Prints, each against a named baseline:

1. wall time, tasks/s and peak memory (resident set of this process and all
   its children, sampled every 50 ms) of the whole study run sequentially vs
   on a ``LocalCluster`` of 2 single-threaded workers, each from an empty
   output and feature cache (feature extraction included);
2. the overhead of the Dask path per task: the study's fit tasks called
   directly (``run_task`` in a loop) vs the same tasks submitted to a
   1-worker, 1-thread cluster; goal < 5 % of the task time;
3. the ``--dry-run`` planner on a simulated 100-subject x 7-layer study
   (goal < 2 s), and its speed-up over re-planning it per subject.

    python benchmarks/bench_study.py            # 13 subjects, all 7 MiniLM layers + random GPT-2
    python benchmarks/bench_study.py --fast     # 4 subjects, 3 + 3 layers
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))


class PeakMemory:
    """Peak resident memory of this process and its children (Dask workers), sampled in a thread."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    def _sample(self):
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def alice_config(work: Path, fast: bool) -> dict:
    from brainalign.datasets import list_subjects_alice
    from brainalign.features import bundled_model_dir, make_random_text_model

    subjects = [s for s in list_subjects_alice() if s != "s33"]
    gpt2 = make_random_text_model(work / "random-gpt2", n_layers=2, hidden_size=64)
    minilm = {"name": "minilm", "model": str(bundled_model_dir()), "options": {"future_context": True}}
    if fast:
        subjects = subjects[:4]
        minilm["options"]["layers"] = ["embeddings", "layer.2", "layer.5"]
    return {"name": "alice-bench", "output": "out", "cache_dir": "features",
            "dataset": {"name": "alice_brennan2016", "subjects": subjects},
            "features": {"context_tokens": 32 if fast else 128},
            "models": [minilm, {"name": "random-gpt2", "model": str(gpt2)}],
            "encoding": {"backend": "numpy", "gain_bootstraps": 1000},
            "execution": {"threads_per_worker": 1}}


def timed_study(raw: dict, folder: Path, **options):
    from brainalign.pipeline import parse_config, run_study

    folder.mkdir(parents=True)
    config = parse_config(raw, base_dir=folder)
    with PeakMemory() as mem:
        start = time.perf_counter()
        run = run_study(config, **options)
        wall = time.perf_counter() - start
    return run, wall, mem.peak


def dask_overhead(run, repeats: int = 3) -> tuple[float, float, int]:
    """Seconds per fit task: called directly vs through a 1-worker, 1-thread Dask cluster (best of ``repeats``)."""
    import dask
    from distributed import Client, LocalCluster, wait

    from brainalign.pipeline._execute import WORKER_SETTINGS, payload
    from brainalign.pipeline._tasks import run_task

    plan = run.plan
    by_key = plan.by_key()
    fits = [t for t in plan.tasks if t.kind == "fit"]
    context = dict(plan.context, threads=1)

    def forget(tasks):
        for t in tasks:
            (Path(t.folder) / "task.json").unlink(missing_ok=True)

    # the first fit of a process pays for importing torch, himalaya ...: warm-up, not timed
    warm, fits = fits[0], fits[1:]
    direct, through = [], []
    with dask.config.set(WORKER_SETTINGS), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        forget([warm])
        client.submit(run_task, payload(warm, by_key), context, key="bench-warm-up", pure=False).result()
        for rep in range(repeats):  # alternated, so that load from other processes hits both alike
            forget(fits)
            start = time.perf_counter()
            for t in fits:
                run_task(payload(t, by_key), context)
            direct.append(time.perf_counter() - start)
            forget(fits)
            start = time.perf_counter()
            futures = [client.submit(run_task, payload(t, by_key), context, key=f"bench-{rep}-{t.key}", pure=False)
                       for t in fits]
            wait(futures)
            for f in futures:
                f.result()
            through.append(time.perf_counter() - start)
    return min(direct) / len(fits), min(through) / len(fits), len(fits)


def planner_benchmark(work: Path) -> None:
    import numpy as np

    from brainalign.core import Recording, Timeline
    from brainalign.features import make_random_text_model
    from brainalign.pipeline import DatasetAdapter, SubjectData, parse_config, plan_study, register_adapter

    class Simulated100(DatasetAdapter):
        name = "bench_simulated_100"

        def list_subjects(self, root, options):
            return [f"sim{i:03d}" for i in range(100)]

        def grid_id(self, subject, options):
            return "grid"

        def shape_hint(self, subject, options):
            return (1000, 80_000)

        def load(self, subject, root, options):  # never called by the planner
            return SubjectData(Timeline(["a"], [1.0]), Recording(np.zeros((10, 2)), 2.0))

    register_adapter(Simulated100(), replace=True)
    model = make_random_text_model(work / "gpt2-6", n_layers=6, hidden_size=64)
    raw = {"output": str(work / "planned"), "dataset": {"name": "bench_simulated_100", "group_average": True},
           "models": [{"model": str(model)}]}
    config = parse_config(raw, base_dir=work)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        plan = plan_study(config)
        plan.describe()
        times.append(time.perf_counter() - start)
    one = parse_config({**raw, "dataset": {"name": "bench_simulated_100", "subjects": ["sim000"]}}, base_dir=work)
    start = time.perf_counter()
    plan_study(one)
    single = time.perf_counter() - start
    counts = plan.counts()
    print(f"planner (--dry-run) on 100 subjects + group x 7 layers: {len(plan.tasks)} tasks "
          f"({counts['fit']['tasks']} fits) in {min(times):.3f} s (best of 3; goal < 2 s) "
          f"vs 100 one-subject plans {100 * single:.3f} s: {100 * single / min(times):.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="4 subjects, fewer layers")
    parser.add_argument("--keep", default=None, help="keep the study folders here")
    args = parser.parse_args()
    fast = args.fast or os.environ.get("BRAINALIGN_FAST") == "1"
    from brainalign._logging import configure_logging

    configure_logging(-1)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-study-"))
    try:
        planner_benchmark(work)
        raw = alice_config(work, fast)
        n_sub = len(raw["dataset"]["subjects"])
        print(f"Alice study: 2 models x {n_sub} subjects, {os.cpu_count()} CPU cores")
        seq, seq_wall, seq_mem = timed_study(raw, work / "sequential")
        n = sum(seq.ran.values())
        print(f"  sequential            {seq_wall:7.1f} s  {n / seq_wall:5.2f} tasks/s  peak {seq_mem / 2**30:5.2f} GiB"
              f"  ({n} tasks: {seq.ran})")
        dsk, dsk_wall, dsk_mem = timed_study(raw, work / "dask", executor="dask", n_workers=2)
        n = sum(dsk.ran.values())
        print(f"  dask LocalCluster(2)  {dsk_wall:7.1f} s  {n / dsk_wall:5.2f} tasks/s  peak {dsk_mem / 2**30:5.2f} GiB"
              f"  -> {seq_wall / dsk_wall:.2f}x the sequential speed, {dsk_mem / seq_mem:.2f}x its memory")
        import pandas as pd

        a = pd.read_csv(seq.output / "study_scores.tsv", sep="\t").sort_values(["model", "subject", "layer", "target"])
        b = pd.read_csv(dsk.output / "study_scores.tsv", sep="\t").sort_values(["model", "subject", "layer", "target"])
        print(f"  identical scores: {bool((a.r.to_numpy() == b.r.to_numpy()).all())}")
        direct, through, n_fits = dask_overhead(seq)
        print(f"per fit task ({n_fits} tasks, best of 3): direct {direct * 1000:.1f} ms, through Dask (1 worker) "
              f"{through * 1000:.1f} ms: overhead {(through - direct) * 1000:+.1f} ms = "
              f"{100 * (through - direct) / direct:+.1f} % of the task time (goal < 5 %)")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
