"""Study benchmark: the 2-model x 13-subject Alice study, sequential vs Dask, and the planner at 100 subjects.

Prints, each against a named baseline:

1. wall time, tasks/s and peak memory (resident set of this process and all
   its children, sampled every 50 ms) of the whole study run sequentially vs
   on a ``LocalCluster`` of 2 single-threaded workers, each from an empty
   output and feature cache (feature extraction included);
2. the overhead of the Dask path per task: the study's fit tasks called
   directly (``run_task`` in a loop) vs the same tasks submitted to a
   1-worker, 1-thread cluster, with the worker settings of distributed,
   of brainalign 0.x and of now, and the part spent inside the worker;
   goal < 5 % of the task time;
3. the ``--dry-run`` planner on a simulated 100-subject x 7-layer study
   (goal < 2 s), and its speed-up over re-planning it per subject.

4. a study of tiny ROI fits on 2 workers: one submission per task vs batches of small fits.

    python benchmarks/bench_study.py            # 13 subjects, all 7 MiniLM layers + random GPT-2
    python benchmarks/bench_study.py --fast     # 4 subjects, 3 + 3 layers
    python benchmarks/bench_study.py --fast --part overhead --keep /tmp/bench   # one part, folders reused
    python benchmarks/bench_study.py --whole-brain [--quick] [--alphas 7] [--executors dask,sequential]
                                                # simulated whole-brain study (issue #22)
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

    folder.mkdir(parents=True, exist_ok=True)  # a kept folder (--keep) is resumed: its tasks are done
    config = parse_config(raw, base_dir=folder)
    with PeakMemory() as mem:
        start = time.perf_counter()
        run = run_study(config, **options)
        wall = time.perf_counter() - start
    return run, wall, mem.peak


def _timed_run_task(task: dict, context: dict) -> float:
    """``run_task`` timed where it runs (inside the worker): the task's own compute time."""
    from brainalign.pipeline._tasks import run_task

    start = time.perf_counter()
    run_task(task, context)
    return time.perf_counter() - start


def _forget(tasks) -> None:
    for t in tasks:
        (Path(t.folder) / "task.json").unlink(missing_ok=True)


class _Worker:
    """A 1-worker, 1-thread LocalCluster started with some Dask settings (and the study plugin or not)."""

    def __init__(self, settings: dict, context: dict, *, plugin: bool):
        import dask
        from distributed import Client, LocalCluster

        from brainalign.pipeline._execute import attach_study_workers

        self.context = context
        with dask.config.set(settings):  # read when the worker process is spawned
            self.cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
        self.client = Client(self.cluster)
        if plugin:  # thread pools set once per worker, as run_study does, not per task
            attach_study_workers(self.client, threads=context["threads"])
            self.context = dict(context, threads=None)

    def run(self, tasks, by_key) -> tuple[float, float]:
        """Seconds for ``tasks`` submitted at once: (client wall, compute inside the worker)."""
        from distributed import wait

        from brainalign.pipeline._execute import payload

        start = time.perf_counter()
        futures = [self.client.submit(_timed_run_task, payload(t, by_key), self.context, pure=False) for t in tasks]
        wait(futures)
        inside = sum(f.result() for f in futures)
        return time.perf_counter() - start, inside

    def close(self):
        self.client.close()
        self.cluster.close()


def _direct(tasks, by_key, context, pool=None) -> tuple[float, float]:
    from brainalign.pipeline._execute import payload

    start = time.perf_counter()
    for t in tasks:
        if pool is not None:
            pool.submit(_timed_run_task, payload(t, by_key), context).result()
        else:
            _timed_run_task(payload(t, by_key), context)
    wall = time.perf_counter() - start
    return wall, wall


def dask_overhead(run, repeats: int = 5) -> dict[str, float]:
    """Seconds per fit task, direct vs inside a 1-worker Dask cluster, and where the difference goes.

    Rows (each the best of ``repeats`` rounds; the rows alternate within each round, so that load from
    other processes on the machine hits them alike; all with 1 BLAS / torch thread):

    - ``direct``: ``run_task`` in a loop in this process (the baseline);
    - ``direct, worker thread``: the same from a thread pool (Dask runs tasks in a thread, whose glibc
      malloc arena differs from the main thread's);
    - ``dask, distributed defaults``: heap trimmed after every freed 64 KiB (``MALLOC_TRIM_THRESHOLD_`` =
      65536, which also fixes glibc's mmap threshold at 128 KiB: every larger numpy temporary is a fresh
      ``mmap`` whose pages fault in again), profiler on, thread pools limited per task;
    - ``dask, brainalign 0.x``: profiler off, trim threshold 256 MiB (mmap threshold still fixed),
      thread pools limited per task;
    - ``dask, brainalign``: :data:`WORKER_SETTINGS` now (also the mmap threshold at glibc's maximum,
      32 MiB, so temporaries reuse the heap as in a plain process) + thread pools set once per worker
      by :class:`StudyWorkerPlugin`.

    For the Dask rows the compute time measured inside the worker is printed too: the rest of the wall
    time is scheduling, (de)serialisation and the result's round trip.
    """
    from concurrent.futures import ThreadPoolExecutor

    from brainalign.pipeline._execute import WORKER_SETTINGS

    plan = run.plan
    by_key = plan.by_key()
    fits = [t for t in plan.tasks if t.kind == "fit"]
    context = dict(plan.context, threads=1)
    env = "distributed.nanny.pre-spawn-environ."
    old = {k: v for k, v in WORKER_SETTINGS.items() if not k.startswith(env)}
    old[env + "MALLOC_TRIM_THRESHOLD_"] = WORKER_SETTINGS[env + "MALLOC_TRIM_THRESHOLD_"]
    pool = ThreadPoolExecutor(1)
    workers = {"dask, distributed defaults": _Worker({}, context, plugin=False),
               "dask, brainalign 0.x": _Worker(old, context, plugin=False),
               "dask, brainalign": _Worker(WORKER_SETTINGS, context, plugin=True)}
    rows = {"direct": lambda: _direct(fits[1:], by_key, context),
            "direct, worker thread": lambda: _direct(fits[1:], by_key, context, pool),
            **{name: (lambda w=w: w.run(fits[1:], by_key)) for name, w in workers.items()}}
    best: dict[str, tuple[float, float]] = {}
    try:
        # the first fit of a process pays for importing torch, himalaya ...: warm-up, not timed
        _forget(fits[:1])
        _direct(fits[:1], by_key, context)
        for w in workers.values():
            _forget(fits[:1])
            w.run(fits[:1], by_key)
        for _ in range(repeats):
            for name, measure in rows.items():
                _forget(fits[1:])
                wall, inside = measure()
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, inside)
    finally:
        pool.shutdown()
        for w in workers.values():
            w.close()
    n = len(fits) - 1
    base = best["direct"][0] / n
    print(f"per fit task ({n} tasks, 1 thread, best of {repeats} interleaved rounds; baseline: direct call):")
    for name, (wall, inside) in best.items():
        wall, inside = wall / n, inside / n
        extra = "" if name.startswith("direct") else \
            f"  (inside the worker {inside * 1000:6.1f} ms, scheduling + transfer {(wall - inside) * 1000:+5.1f} ms)"
        print(f"  {name:<28s} {wall * 1000:7.1f} ms  {100 * (wall - base) / base:+6.1f} %{extra}")
    return {name: wall / n for name, (wall, _) in best.items()}


def tiny_fits_benchmark(work: Path, n_subjects: int = 8, repeats: int = 3) -> None:
    """A study of tiny ROI fits (3 targets) on a 2-worker LocalCluster: one task per submission vs batches.

    Baseline: the same fits submitted one by one (``batch_size=1``); both from the same finished
    recordings, designs and baselines, so only the fits (and sweeps, study table) are timed.
    """
    import dask
    import numpy as np
    import pandas as pd
    from distributed import Client, LocalCluster

    from brainalign.features import make_random_text_model
    from brainalign.pipeline import load_config, plan_study, run_study
    from brainalign.pipeline._execute import WORKER_SETTINGS, attach_study_workers, batches, run_dask

    root = work / "tiny"
    root.mkdir(parents=True, exist_ok=True)
    model = make_random_text_model(root / "gpt2", n_layers=6, hidden_size=16)
    rng = np.random.default_rng(0)
    words = "the cat sat on the mat and then the dog ran after a bird in the garden".split() * 6
    onsets = np.arange(len(words)) * 1.3 + 2.0
    pd.DataFrame({"token": words, "onset": onsets, "offset": onsets + 0.4}).to_csv(root / "words.tsv", sep="\t",
                                                                                  index=False)
    n = int(np.ceil((onsets[-1] + 16) / 2.0))
    files = []
    for i in range(n_subjects):
        np.savetxt(root / f"s{i}.txt", rng.normal(size=(n, 3)))
        files.append(f'"sub-{i}" = ["s{i}.txt"]')
    (root / "study.toml").write_text(
        f'output = "out"\n[stimulus]\nwords = "words.tsv"\n[recording]\nfiles = {{ {", ".join(files)} }}\n'
        f'tr = 2.0\nclean = "zscore"\n[features]\nmodel = "{model}"\ncontext_tokens = 8\n[baseline]\n'
        f'word_rate = true\n[encoding]\nbackend = "numpy"\nalphas = "0,4,5"\ngap_s = 6.0\ngain_bootstraps = 0\n'
        f'autocorrelation = false\n[execution]\nthreads_per_worker = 1\n')
    config = load_config(root / "study.toml")
    run_study(config)  # everything once; then only the fits, sweeps and table are recomputed
    plan = plan_study(config)
    redo = [t for t in plan.tasks if t.kind in ("fit", "sweep", "study")]
    for t in plan.tasks:  # ROI-sized: tell the batcher what the adapter does not know
        if t.kind == "fit":
            t.memory_bytes = 8 * n * (6 * 3 + 4 * 1024)
    context = dict(plan.context, threads=None)
    times: dict[int, list[float]] = {1: [], 16: []}
    with dask.config.set(WORKER_SETTINGS), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        attach_study_workers(client, threads=1)
        for _ in range(repeats):
            for size in times:
                _forget(redo)
                plan.refresh()
                start = time.perf_counter()
                run_dask(plan, context, client, batch_size=size)
                times[size].append(time.perf_counter() - start)
    n_fits = sum(t.kind == "fit" for t in redo)
    units = len(batches([t for t in redo], 16))
    one, batched = min(times[1]), min(times[16])
    print(f"tiny fits ({n_fits} ROI fits of 3 targets + {len(redo) - n_fits} sweeps/table, LocalCluster(2), "
          f"best of {repeats}): one task per submission {one:.2f} s ({1000 * one / len(redo):.1f} ms/task), "
          f"batched ({units} submissions) {batched:.2f} s ({1000 * batched / len(redo):.1f} ms/task): "
          f"{one / batched:.2f}x")


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


# ---------------------------------------------------------------------------------- --whole-brain
# Simulated participants on the MNI152 brain mask (issue #22): every voxel follows one known layer
# of MiniLM; the study runs both models x all layers x 4 subjects through ``run_study``.
WHOLE_BRAIN_SIZES = {
    # voxel size (mm) of the resampled MNI152 mask, scans per run, runs, subjects
    "full": dict(voxel_mm=3.0, scans=750, runs=4, subjects=4, tr=1.0),  # 69 804 voxels, 3 000 samples
    "quick": dict(voxel_mm=8.0, scans=150, runs=4, subjects=4, tr=1.0),  # 3 666 voxels, 600 samples
}
WHOLE_BRAIN_GPT2 = {"architecture": "gpt2", "n_layers": 4, "hidden_size": 64, "n_heads": 4}


class WholeBrainAdapter:
    """Dataset adapter over the simulated participants written by :func:`simulate_whole_brain`.

    Imported by name (``adapter = "bench_study:WholeBrainAdapter"``) in every
    process, Dask workers included; the data are read from ``[dataset] path``.
    """

    def __new__(cls, *args, **kwargs):
        from brainalign.pipeline import DatasetAdapter

        # the base class is imported lazily so that importing this script stays cheap
        concrete = type("WholeBrainAdapterImpl", (DatasetAdapter,), {
            "name": "bench_whole_brain",
            "list_subjects": lambda self, root, options: sorted(p.name for p in Path(root).glob("sub-*")),
            "grid_id": lambda self, subject, options: "shared",
            "load": _load_simulated_subject,
        })
        return concrete()


def _load_simulated_subject(self, subject, root, options):
    import json

    import numpy as np
    from nilearn.maskers import NiftiMasker

    from brainalign.core import Recording, Timeline
    from brainalign.pipeline import SubjectData

    root = Path(root)
    side = json.loads((root / "timeline.json").read_text())
    timeline = Timeline(side["tokens"], side["onsets"], side["offsets"], side["runs"])
    info = json.loads((root / subject / "recording.json").read_text())
    data = np.load(root / subject / "data.npy", mmap_mode="r")
    masker = NiftiMasker(str(root / "mask.nii.gz")).fit()
    return SubjectData(timeline, Recording(data, info["tr"], np.asarray(info["runs"]), None, "fmri", masker, subject))


def whole_brain_timeline(scans: int, runs: int, tr: float):
    """The demo's two stories read aloud over and over, cut to ``runs`` runs of ``scans * tr`` seconds."""
    from importlib import resources

    from brainalign.core import Timeline
    from brainalign.demo import STORIES
    from brainalign.stimuli import synthetic_speech_timeline

    texts = [resources.files("brainalign").joinpath("data", f"story_{s}.txt").read_text(encoding="utf-8")
             for s in STORIES]
    duration = scans * tr - 16.0  # leave the HRF's tail inside the run
    parts = []
    for k in range(runs):
        text = "\n\n".join(texts[(k + i) % len(texts)] for i in range(40))
        tl = synthetic_speech_timeline(text, run=f"run-{k + 1}", start=2.0, seed=k)
        parts.append(tl.select(tl.offsets < duration))
    return Timeline.concatenate(parts)


def simulate_whole_brain(root: Path, size: dict, context_tokens: int) -> dict:
    """Write the mask, the timeline and ``size['subjects']`` simulated participants under ``root``."""
    import json

    import numpy as np

    from brainalign.demo import demo_brain_mask
    from brainalign.features import bundled_model_dir, extract_text_features
    from brainalign.simulation import simulate_fmri

    root.mkdir(parents=True, exist_ok=True)
    mask = demo_brain_mask(size["voxel_mm"])
    mask.to_filename(str(root / "mask.nii.gz"))
    timeline = whole_brain_timeline(size["scans"], size["runs"], size["tr"])
    (root / "timeline.json").write_text(json.dumps({
        "tokens": [str(t) for t in timeline.tokens], "onsets": timeline.onsets.tolist(),
        "offsets": timeline.offsets.tolist(), "runs": [str(r) for r in timeline.runs]}))
    features = extract_text_features(timeline, bundled_model_dir(), context_tokens=context_tokens,
                                     future_context=True)
    n_scans = {f"run-{k + 1}": size["scans"] for k in range(size["runs"])}
    planted = {}
    for s in range(size["subjects"]):
        subject = f"sub-{s + 1:02d}"
        rec, truth = simulate_fmri(features, mask_img=mask, layer_of_target="gradient", tr=size["tr"],
                                   n_scans=n_scans, snr=0.5, noise_fraction=0.1, seed=s, subject=subject)
        (root / subject).mkdir(exist_ok=True)
        np.save(root / subject / "data.npy", np.asarray(rec.data, dtype=np.float32))
        (root / subject / "recording.json").write_text(json.dumps({"tr": size["tr"], "runs": [str(r) for r in rec.runs]}))
        planted[subject] = np.asarray(truth.layer_of_target, dtype=object)
        del rec, truth
    return {"planted": planted, "n_voxels": int(planted[subject].size), "n_words": int(timeline.n_events),
            "layers": list(features.layer_names)}


def whole_brain_config(root: Path, context_tokens: int, backend: str = "numpy", n_alphas: int | None = None) -> dict:
    """The study config; ``n_alphas``: a coarser grid over the default range (1e-1 .. 1e7) instead of its 17."""
    from brainalign.features import bundled_model_dir

    encoding = {"backend": backend, "gain_bootstraps": 0, "autocorrelation": False}
    if n_alphas is not None:
        import numpy as np

        encoding["alphas"] = np.logspace(-1, 7, n_alphas).tolist()
    return {"name": "whole-brain-bench", "output": "out", "cache_dir": "features",
            "dataset": {"name": "bench_whole_brain", "adapter": "bench_study:WholeBrainAdapter", "path": str(root)},
            "features": {"context_tokens": context_tokens},
            "models": [{"name": "minilm", "model": str(bundled_model_dir()), "options": {"future_context": True}},
                       {"name": "random-gpt2", "random": WHOLE_BRAIN_GPT2}],
            "baseline": {"dataset": False, "word_rate": False},
            "encoding": encoding,
            "execution": {"threads_per_worker": 1}}


class PeakPerProcess(PeakMemory):
    """Peak resident memory of each process (this one and every child, e.g. Dask workers), sampled in a thread.

    ``peaks``: resident set (RSS); ``anon``: RSS less its file-backed and shared pages.  The
    recordings are memory-mapped: the pages of ``data.npy`` a fit has read count in its RSS
    until the kernel reclaims them (page cache, dropped under memory pressure), so the RSS of
    a worker grows towards the file's size while its own (anonymous) memory does not.
    """

    def __init__(self, interval: float = 0.05):
        super().__init__(interval)
        self.peaks = {}
        self.anon = {}

    def _sample(self):
        me = psutil.Process()
        while not self._stop.is_set():
            for p in [me, *me.children(recursive=True)]:
                try:
                    info = p.memory_info()
                    name = " ".join(p.cmdline()[-2:]) if p.pid != me.pid else "main"
                except psutil.Error:
                    continue
                key = (p.pid, name)
                self.peaks[key] = max(self.peaks.get(key, 0), info.rss)
                self.anon[key] = max(self.anon.get(key, 0), info.rss - info.shared)
            time.sleep(self.interval)


#: documented memory budget of one single-threaded worker (anonymous memory: RSS less the pages of the
#: memory-mapped recordings), at any voxel count with the default batch budgets: ~0.6 GiB of imports
#: (torch, transformers, nilearn) and feature extraction, cross_validate's target batch
#: (TARGETS_BATCH_BYTES, 256 MiB) and the ridge solver's working set (~128 MiB), plus headroom
WORKER_BUDGET_MIB = 1536


def whole_brain(work: Path, quick: bool, backend: str = "numpy", n_alphas: int | None = None,
                executors: tuple[str, ...] = ("sequential", "dask")) -> int:
    """Sequential vs LocalCluster(2) on the simulated whole-brain study; memory per process; maps; recovery."""
    import json

    import numpy as np

    from brainalign.pipeline import StudyResults, parse_config, run_study

    size = WHOLE_BRAIN_SIZES["quick" if quick else "full"]
    context_tokens = 32
    # Dask workers import the adapter by module name: this folder must be on their path too
    here = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    start = time.perf_counter()
    sim_file = work / "data" / "planted.json"
    if sim_file.is_file():  # --keep: the simulated participants of an earlier run of the same size
        sim = json.loads(sim_file.read_text())
        sim["planted"] = {s: np.asarray(v, dtype=object) for s, v in sim["planted"].items()}
    else:
        sim = simulate_whole_brain(work / "data", size, context_tokens)
        sim_file.write_text(json.dumps({**sim, "planted": {s: v.tolist() for s, v in sim["planted"].items()}}))
    n_samples = size["scans"] * size["runs"]
    data_mib = n_samples * sim["n_voxels"] * 4 / 2**20
    grid = "17 default alphas" if n_alphas is None else f"{n_alphas} alphas over the default range"
    print(f"whole-brain study ({'quick' if quick else 'full'}): {sim['n_voxels']} voxels (MNI152 mask at "
          f"{size['voxel_mm']:g} mm), {n_samples} samples in {size['runs']} runs (TR {size['tr']:g} s, "
          f"{sim['n_words']} words), {size['subjects']} subjects, models MiniLM ({len(sim['layers'])} layers) + "
          f"random GPT-2 ({WHOLE_BRAIN_GPT2['n_layers'] + 1} layers), {grid}; {data_mib:.0f} MiB of float32 data "
          f"per subject; simulated in {time.perf_counter() - start:.0f} s; {os.cpu_count()} CPU cores, load average "
          f"{os.getloadavg()[0]:.1f}; encoding on {backend}", flush=True)
    raw = whole_brain_config(work / "data", context_tokens, backend, n_alphas)
    runs = {}
    options_of = {"sequential": {}, "dask": {"executor": "dask", "n_workers": 2}}
    for label in executors:
        folder = work / label
        folder.mkdir(parents=True, exist_ok=True)
        config = parse_config(raw, base_dir=folder)
        with PeakPerProcess() as mem:
            t0 = time.perf_counter()
            run = run_study(config, **options_of[label])
            wall = time.perf_counter() - t0
        main_key = next(k for k in mem.peaks if k[1] == "main")
        workers = [k for k in mem.peaks if k[1] != "main" and mem.anon[k] > 200 * 2**20]  # not the nanny/helpers
        # sequential: the fits run in this process, which is then the one "worker"
        fitters = workers or [main_key]
        worst_anon = max(mem.anon[k] for k in fitters)
        runs[label] = (run, wall)
        n_fit = run.ran.get("fit", 0)
        print(f"  {label:<11s} {wall:7.1f} s  ({n_fit} fit tasks, {wall / max(n_fit, 1):.1f} s per fit incl. "
              f"features; load average {os.getloadavg()[0]:.1f})", flush=True)
        for key in [main_key, *workers]:
            print(f"      {'main process' if key == main_key else f'worker pid {key[0]}':<18s} peak RSS "
                  f"{mem.peaks[key] / 2**20:6.0f} MiB, of which anonymous (not the mapped recordings) "
                  f"{mem.anon[key] / 2**20:6.0f} MiB", flush=True)
        print(f"      per-worker budget {WORKER_BUDGET_MIB} MiB anonymous: "
              f"{'held' if worst_anon <= WORKER_BUDGET_MIB * 2**20 else 'EXCEEDED'} "
              f"(largest {worst_anon / 2**20:.0f} MiB; one subject's data {data_mib:.0f} MiB)", flush=True)
    if "sequential" in runs and "dask" in runs:
        print(f"  LocalCluster(2) vs sequential: {runs['sequential'][1] / runs['dask'][1]:.2f}x")
    label, (run, wall) = next(iter(runs.items()))
    output = run.output
    results = StudyResults.load(output)
    maps = sorted(output.glob("**/maps/*.nii*"))
    print(f"  NIfTI maps written: {len(maps)} (e.g. {maps[0].relative_to(output) if maps else 'none'})")
    hits = []
    for subject, planted in sim["planted"].items():
        best = np.asarray(results.sweep("minilm", subject).best_layer(), dtype=object)
        driven = np.array([p is not None for p in planted])
        hits.append(float(np.mean(best[driven] == planted[driven])))
    chance = 1.0 / len(sim["layers"])
    print(f"  planted best layer recovered (MiniLM, driven voxels): "
          + ", ".join(f"{h:.0%}" for h in hits) + f" per subject (chance {chance:.0%})")
    # 100 subjects x 8 models on SLURM: fits scale with subjects x models x layers; each fit task is
    # independent, so the wall time divides by the number of single-core workers
    cores = 1 if label == "sequential" else 2
    per_fit = wall * cores / max(run.ran.get("fit", 1), 1)
    layers_per_model = (len(sim["layers"]) + WHOLE_BRAIN_GPT2["n_layers"] + 1) / 2
    fits = 100 * 8 * layers_per_model
    print(f"  extrapolation to 100 subjects x 8 models (~{layers_per_model:.0f} layers each), from the {label} run's "
          f"{per_fit:.1f} core-s per fit: {fits:.0f} fit tasks = {fits * per_fit / 3600:.1f} core-hours at this size; "
          f"on a SLURM allocation of 64 single-core workers ~{fits * per_fit / 64 / 3600:.2f} h "
          f"(plus feature extraction once per model; {WORKER_BUDGET_MIB} MiB per worker)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="4 subjects, fewer layers")
    parser.add_argument("--keep", default=None, help="keep the study folders here (and reuse them when run again)")
    parser.add_argument("--part", choices=["all", "planner", "study", "overhead", "tiny"], default="all",
                        help="only one part: the planner, the study sequential vs Dask, the Dask per-task "
                             "overhead, or the batching of tiny fits")
    parser.add_argument("--whole-brain", action="store_true", help="simulated whole-brain study (issue #22)")
    parser.add_argument("--quick", action="store_true", help="with --whole-brain: small mask, short runs")
    parser.add_argument("--backend", default="numpy", help="with --whole-brain: encoding backend (numpy, torch_cuda)")
    parser.add_argument("--alphas", type=int, default=None,
                        help="with --whole-brain: this many alphas over the default range instead of 17")
    parser.add_argument("--executors", default="sequential,dask",
                        help="with --whole-brain: which runs, in this order (sequential, dask)")
    args = parser.parse_args()
    fast = args.fast or os.environ.get("BRAINALIGN_FAST") == "1"
    from brainalign._logging import configure_logging

    configure_logging(-1)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-study-"))
    if args.whole_brain:
        try:
            return whole_brain(work, args.quick, args.backend, args.alphas, tuple(args.executors.split(",")))
        finally:
            if args.keep is None:
                shutil.rmtree(work, ignore_errors=True)
    part = args.part
    try:
        if part in ("all", "planner"):
            planner_benchmark(work)
        if part in ("all", "study", "overhead"):
            raw = alice_config(work, fast)
            n_sub = len(raw["dataset"]["subjects"])
            print(f"Alice study: 2 models x {n_sub} subjects, {os.cpu_count()} CPU cores")
            seq, seq_wall, seq_mem = timed_study(raw, work / "sequential")
            n = sum(seq.ran.values())
            print(f"  sequential            {seq_wall:7.1f} s  {n / seq_wall:5.2f} tasks/s  peak "
                  f"{seq_mem / 2**30:5.2f} GiB  ({n} tasks: {seq.ran})")
        if part in ("all", "study"):
            dsk, dsk_wall, dsk_mem = timed_study(raw, work / "dask", executor="dask", n_workers=2)
            n = sum(dsk.ran.values())
            print(f"  dask LocalCluster(2)  {dsk_wall:7.1f} s  {n / dsk_wall:5.2f} tasks/s  peak "
                  f"{dsk_mem / 2**30:5.2f} GiB  -> {seq_wall / dsk_wall:.2f}x the sequential speed, "
                  f"{dsk_mem / seq_mem:.2f}x its memory")
            import pandas as pd

            order = ["model", "subject", "layer", "target"]
            a = pd.read_csv(seq.output / "study_scores.tsv", sep="\t").sort_values(order)
            b = pd.read_csv(dsk.output / "study_scores.tsv", sep="\t").sort_values(order)
            print(f"  identical scores: {bool((a.r.to_numpy() == b.r.to_numpy()).all())}")
        if part in ("all", "overhead"):
            rows = dask_overhead(seq)
            print(f"Dask per-task overhead: {100 * (rows['dask, brainalign'] / rows['direct'] - 1):+.1f} % "
                  "of the task time (goal < 5 %)")
        if part in ("all", "tiny"):
            tiny_fits_benchmark(work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
